// One Store shared by several threads: readers search (single and batch) and read rows
// while a writer adds. Built three ways: under ASan+UBSan, as C++20, and under
// ThreadSanitizer (nvs_tsan_test), where a data race in the wrapper or the test fails the run.
#include <nvs/nvs.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace {

using nvs::Metric;
using nvs::SearchOptions;
using nvs::Store;

constexpr std::size_t kDims = 4;
constexpr std::uint64_t kIdOffset = 1000;

// Row r is a distinct direction; its id is r + kIdOffset, so every hit can be checked
// against the row it names.
std::vector<float> make_rows(std::size_t first, std::size_t count) {
    std::vector<float> out;
    for (std::size_t r = first; r < first + count; ++r) {
        out.push_back(1.0f);
        out.push_back(static_cast<float>(r % 7));
        out.push_back(static_cast<float>(r % 11) - 5.0f);
        out.push_back(static_cast<float>(r % 13) * 0.5f);
    }
    return out;
}

std::vector<std::uint64_t> make_ids(std::size_t first, std::size_t count) {
    std::vector<std::uint64_t> out;
    for (std::size_t r = first; r < first + count; ++r) out.push_back(r + kIdOffset);
    return out;
}

// What a reader thread found wrong; checked on the main thread after join (GoogleTest
// assertions stay on one thread).
struct ReaderReport {
    std::vector<std::string> problems;
    std::size_t searches = 0;
    std::size_t largest_seen = 0;
};

TEST(Threads, SearchesWhileAdding) {
    constexpr std::size_t kBatches = 60;
    constexpr std::size_t kBatchRows = 25;
    constexpr int kReaders = 4;

    Store store(kDims);
    store.add(make_rows(0, kBatchRows), make_ids(0, kBatchRows));

    std::atomic<bool> done{false};
    std::vector<ReaderReport> reports(kReaders);
    std::vector<std::thread> readers;
    for (int t = 0; t < kReaders; ++t) {
        readers.emplace_back([&store, &done, &report = reports[t], t] {
            SearchOptions options;
            options.top_k = 5;
            options.threads = (t % 2 == 0) ? 1 : 2;
            const std::vector<float> query{1.0f, static_cast<float>(t), -1.0f, 0.5f};
            const std::vector<float> queries{1, 0, 0, 0, 0, 1, 1, 1};
            std::size_t last_size = 0;
            // Keep searching until the writer is finished, then once more.
            for (bool last = false; !last;) {
                last = done.load(std::memory_order_acquire);
                const std::size_t size_before = store.size();
                if (size_before < last_size) report.problems.push_back("size went down");
                last_size = size_before;

                const auto hits = t % 2 == 0 ? store.search(Metric::Cosine, query, options)
                                             : store.search_batch(Metric::Cosine, queries, options).at(0);
                ++report.searches;
                if (hits.size() != options.top_k) report.problems.push_back("wrong hit count");
                for (std::size_t i = 0; i < hits.size(); ++i) {
                    if (hits[i].id != hits[i].index + kIdOffset) report.problems.push_back("id/index mismatch");
                    if (i > 0 && hits[i].value > hits[i - 1].value) report.problems.push_back("hits out of order");
                }
                // A row a search returned stays readable: rows are only appended.
                const auto row = store.get(hits.back().index);
                if (row.id != hits.back().id) report.problems.push_back("get disagrees with search");
                report.largest_seen = store.size();
            }
        });
    }

    for (std::size_t b = 1; b < kBatches; ++b) {
        store.add(make_rows(b * kBatchRows, kBatchRows), make_ids(b * kBatchRows, kBatchRows));
    }
    done.store(true, std::memory_order_release);
    for (auto& r : readers) r.join();

    const std::size_t total = kBatches * kBatchRows;
    EXPECT_EQ(store.size(), total);
    EXPECT_EQ(store.ids(), make_ids(0, total));
    for (int t = 0; t < kReaders; ++t) {
        EXPECT_TRUE(reports[t].problems.empty()) << "reader " << t << ": " << reports[t].problems.front();
        EXPECT_GT(reports[t].searches, 0u);
        // The final search ran after the last add.
        EXPECT_EQ(reports[t].largest_seen, total);
    }
}

TEST(Threads, HugeTopKWhileAdding) {
    // top_k larger than the store: the wrapper sizes its buffer from the row count read just
    // before the call, and rows added after that read must never make the call fail. The
    // writer waits for a few searches after each add, so that adds and searches interleave.
    constexpr std::size_t kBatches = 60;
    constexpr std::size_t kBatchRows = 2;
    constexpr int kReaders = 2;

    Store store(kDims);
    store.add(make_rows(0, kBatchRows), make_ids(0, kBatchRows));

    std::atomic<bool> done{false};
    std::atomic<std::size_t> searches{0};
    std::vector<ReaderReport> reports(kReaders);
    std::vector<std::thread> readers;
    for (int t = 0; t < kReaders; ++t) {
        readers.emplace_back([&store, &done, &searches, &report = reports[t], t] {
            SearchOptions options;
            options.top_k = std::numeric_limits<std::size_t>::max();
            const std::vector<float> query{1.0f, static_cast<float>(t), -1.0f, 0.5f};
            for (bool last = false; !last;) {
                last = done.load(std::memory_order_acquire);
                const std::size_t before = store.size();
                std::vector<nvs::Hit> hits;
                try {
                    hits = t == 0 ? store.search(Metric::Cosine, query, options)
                                  : store.search_batch(Metric::Cosine, query, options).at(0);
                } catch (const nvs::Error& e) {
                    report.problems.push_back(e.what());
                    searches.fetch_add(1);
                    continue;
                }
                const std::size_t after = store.size();
                ++report.searches;
                searches.fetch_add(1);
                // Every row present when the wrapper read the count, at most every row now.
                if (hits.size() < before || hits.size() > after) report.problems.push_back("wrong hit count");
                report.largest_seen = hits.size();
            }
        });
    }

    for (std::size_t b = 1; b < kBatches; ++b) {
        store.add(make_rows(b * kBatchRows, kBatchRows), make_ids(b * kBatchRows, kBatchRows));
        const std::size_t seen = searches.load();
        while (searches.load() < seen + kReaders) std::this_thread::yield();
    }
    done.store(true, std::memory_order_release);
    for (auto& r : readers) r.join();

    for (int t = 0; t < kReaders; ++t) {
        EXPECT_TRUE(reports[t].problems.empty()) << "reader " << t << ": " << reports[t].problems.front();
        EXPECT_GT(reports[t].searches, 0u);
        // The final search ran after the last add and saw every row.
        EXPECT_EQ(reports[t].largest_seen, kBatches * kBatchRows);
    }
}

TEST(Threads, StoreMovedToAnotherThread) {
    Store store(kDims);
    store.add(make_rows(0, 10), make_ids(0, 10));
    std::size_t seen = 0;
    std::thread worker([owned = std::move(store), &seen]() mutable {
        owned.add(make_rows(10, 5), make_ids(10, 5));
        seen = owned.size();
    });
    worker.join();
    EXPECT_EQ(seen, 15u);
}

TEST(Threads, ErrorMessagesArePerThread) {
    // Each thread's failure carries its own message even when failures interleave.
    Store store(kDims);
    std::vector<std::string> messages(2);
    std::thread a([&] {
        for (int i = 0; i < 200; ++i) {
            try {
                store.add(std::vector<float>{1, 2, 3});  // 3 values: dimension mismatch
            } catch (const nvs::Error& e) {
                messages[0] = e.what();
            }
        }
    });
    std::thread b([&] {
        for (int i = 0; i < 200; ++i) {
            try {
                store.get(12345);
            } catch (const nvs::Error& e) {
                messages[1] = e.what();
            }
        }
    });
    a.join();
    b.join();
    EXPECT_EQ(messages[0].rfind("DIMENSION_MISMATCH: ", 0), 0u) << messages[0];
    EXPECT_EQ(messages[1].rfind("NOT_FOUND: ", 0), 0u) << messages[1];
}

}  // namespace
