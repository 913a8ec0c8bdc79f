// Tests for the persistence methods of nvs::Store: open, open_bytes, save (to a path and to
// the bound path), reload and file_path. The .npz codec is the library's; these tests check
// that the wrapper passes paths, flags, bytes and errors through.
#include <nvs/nvs.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nvs::Metric;
using nvs::Status;
using nvs::Store;

// While the archive codec is being written the library answers INTERNAL "... not built yet";
// skip instead of failing until it lands.
#define NVS_SKIP_IF_CODEC_MISSING(statement)                                              \
    try {                                                                                 \
        statement;                                                                        \
    } catch (const nvs::Error& e) {                                                       \
        if (e.status() == Status::Internal && e.message().find("not built yet") != std::string::npos) { \
            GTEST_SKIP() << e.what();                                                     \
        }                                                                                 \
        throw;                                                                            \
    }

// A fresh, empty folder per test.
class Persist : public ::testing::Test {
protected:
    void SetUp() override {
        static std::atomic<int> counter{0};
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::path(::testing::TempDir()) /
               // The C++17 and C++20 builds of this test run side by side: a random part
               // keeps their folders apart.
               ("nvs-cpp-" + std::string(info->name()) + "-" + std::to_string(std::random_device{}()) + "-" +
                std::to_string(counter++));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    fs::path dir_;
};

Store sample() {
    Store store(3);
    store.add(std::vector<float>{1, 0, 0, 0, 2, 0, 0, 0, 3}, std::vector<std::uint64_t>{10, 20, 30});
    return store;
}

void expect_same_rows(const Store& a, const Store& b) {
    EXPECT_EQ(a.dimensions(), b.dimensions());
    EXPECT_EQ(a.normalize(), b.normalize());
    EXPECT_EQ(a.ids(), b.ids());
    EXPECT_EQ(a.vectors(), b.vectors());
}

std::vector<std::uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_F(Persist, NewStoreHasNoPath) {
    Store store(2);
    EXPECT_EQ(store.file_path(), std::nullopt);
}

TEST_F(Persist, SaveWithoutPathNeedsABinding) {
    Store store = sample();
    EXPECT_THROW(
        {
            try {
                store.save();
            } catch (const nvs::Error& e) {
                EXPECT_EQ(e.status(), Status::NoBoundPath) << e.what();
                throw;
            }
        },
        nvs::Error);
    EXPECT_THROW(
        {
            try {
                store.reload();
            } catch (const nvs::Error& e) {
                EXPECT_EQ(e.status(), Status::NoBoundPath) << e.what();
                throw;
            }
        },
        nvs::Error);
    EXPECT_EQ(store.size(), 3u);
}

TEST_F(Persist, SaveBindsAndOpenRoundTrips) {
    Store store = sample();
    const std::string file = path("rows.npz");
    NVS_SKIP_IF_CODEC_MISSING(store.save(file));
    ASSERT_TRUE(store.file_path().has_value());
    EXPECT_EQ(fs::path(*store.file_path()), fs::absolute(file));

    Store opened = Store::open(file);
    expect_same_rows(store, opened);
    EXPECT_EQ(opened.file_path(), store.file_path());
    const auto hits = opened.search(Metric::Cosine, std::vector<float>{0, 0, 1});
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0].id, 30u);
}

TEST_F(Persist, OpenAppendsTheExtension) {
    Store store = sample();
    NVS_SKIP_IF_CODEC_MISSING(store.save(path("noext")));
    expect_same_rows(store, Store::open(path("noext")));
    EXPECT_TRUE(fs::exists(path("noext.npz")));
}

TEST_F(Persist, SaveToBoundPathAndReload) {
    Store store = sample();
    const std::string file = path("bound.npz");
    NVS_SKIP_IF_CODEC_MISSING(store.save(file));

    // A second handle on the same file sees a later save only after reload().
    Store reader = Store::open(file);
    store.add(std::vector<float>{1, 1, 1}, std::vector<std::uint64_t>{40});
    store.save();  // to the bound path
    EXPECT_EQ(reader.size(), 3u);
    reader.reload();
    expect_same_rows(store, reader);
}

TEST_F(Persist, FlagsPassThrough) {
    Store store = sample();
    NVS_SKIP_IF_CODEC_MISSING(store.save(path("plain.npz"), nvs::save_uncompressed));
    store.save(path("pickled.npz"), nvs::save_pickled_metadata);
    // An uncompressed archive is larger than the compressed default.
    store.save(path("packed.npz"));
    EXPECT_GT(fs::file_size(path("plain.npz")), fs::file_size(path("packed.npz")));
    expect_same_rows(store, Store::open(path("plain.npz")));
    expect_same_rows(store, Store::open(path("pickled.npz")));
    expect_same_rows(store, Store::open(path("pickled.npz"), nvs::open_row_index_metadata));
    Store reopened = Store::open(path("packed.npz"));
    reopened.reload(nvs::open_row_index_metadata);
    expect_same_rows(store, reopened);
    // Unknown flag bits are rejected, not ignored.
    EXPECT_THROW(store.save(path("bad.npz"), 0x80000000u), nvs::Error);
    EXPECT_THROW(Store::open(path("packed.npz"), 0x80000000u), nvs::Error);
}

TEST_F(Persist, MappedOpen) {
    Store store = sample();
    NVS_SKIP_IF_CODEC_MISSING(store.save(path("loose.npz"), nvs::save_uncompressed));
    store.save(path("packed.npz"));
    Store mapped = Store::open(path("loose.npz"), nvs::open_map);
    EXPECT_TRUE(mapped.is_mapped());
    expect_same_rows(store, mapped);
    const std::vector<float> query{0.5f, -1.0f, 2.0f};
    nvs::SearchOptions options;
    options.top_k = 3;
    for (nvs::Metric metric : {nvs::Metric::Cosine, nvs::Metric::Dot, nvs::Metric::Euclidean}) {
        const auto want = store.search(metric, query.data(), query.size(), options);
        const auto got = mapped.search(metric, query.data(), query.size(), options);
        ASSERT_EQ(want.size(), got.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
            EXPECT_EQ(want[i].index, got[i].index);
            EXPECT_EQ(want[i].id, got[i].id);
            EXPECT_EQ(want[i].value, got[i].value);
        }
    }
    // Adds go to private memory; a save over the mapped file writes every row.
    mapped.add(std::vector<float>{1, 1, 1}, std::vector<std::uint64_t>{77});
    mapped.save(nvs::save_uncompressed);
    store.add(std::vector<float>{1, 1, 1}, std::vector<std::uint64_t>{77});
    expect_same_rows(store, Store::open(path("loose.npz"), nvs::open_map | nvs::open_verify));
    // A compressed archive opens the ordinary way; reload and clear release the mapping.
    EXPECT_FALSE(Store::open(path("packed.npz"), nvs::open_map).is_mapped());
    mapped.reload();
    EXPECT_FALSE(mapped.is_mapped());
    mapped.reload(nvs::open_map);
    EXPECT_TRUE(mapped.is_mapped());
    mapped.clear();
    EXPECT_FALSE(mapped.is_mapped());
    EXPECT_THROW(Store::open_bytes(read_file(path("loose.npz")), nvs::open_map), nvs::Error);
}

TEST_F(Persist, OpenBytesIsNotBound) {
    Store store = sample();
    const std::string file = path("bytes.npz");
    NVS_SKIP_IF_CODEC_MISSING(store.save(file));
    const std::vector<std::uint8_t> bytes = read_file(file);
    ASSERT_FALSE(bytes.empty());

    Store from_vector = Store::open_bytes(bytes);
    expect_same_rows(store, from_vector);
    EXPECT_EQ(from_vector.file_path(), std::nullopt);
    Store from_pointer = Store::open_bytes(bytes.data(), bytes.size(), 0);
    expect_same_rows(store, from_pointer);
}

TEST_F(Persist, OpenFailures) {
    try {
        Store::open(path("missing.npz"));
        FAIL() << "opening a missing file did not throw";
    } catch (const nvs::Error& e) {
        if (e.status() == Status::Internal && e.message().find("not built yet") != std::string::npos) {
            GTEST_SKIP() << e.what();
        }
        EXPECT_EQ(e.status(), Status::Io) << e.what();
    }
    try {
        const std::vector<std::uint8_t> garbage{'n', 'o', 't', ' ', 'z', 'i', 'p'};
        Store::open_bytes(garbage);
        FAIL() << "opening garbage did not throw";
    } catch (const nvs::Error& e) {
        EXPECT_EQ(e.status(), Status::Format) << e.what();
    }
}

TEST_F(Persist, FailedSaveKeepsTheBinding) {
    Store store = sample();
    const std::string file = path("kept.npz");
    NVS_SKIP_IF_CODEC_MISSING(store.save(file));
    const auto bound = store.file_path();
    EXPECT_THROW(store.save(path("no/such/folder/x.npz")), nvs::Error);
    EXPECT_EQ(store.file_path(), bound);
}

TEST_F(Persist, LongPathsRoundTripThroughFilePath) {
    // Longer than any first guess of a buffer size, to exercise the BUFFER_TOO_SMALL retry.
    std::string name(150, 'n');
    fs::create_directories(dir_ / name);
    const std::string file = (dir_ / name / (name + ".npz")).string();
    Store store = sample();
    NVS_SKIP_IF_CODEC_MISSING(store.save(file));
    ASSERT_TRUE(store.file_path().has_value());
    EXPECT_EQ(*store.file_path(), fs::absolute(file).string());
}

}  // namespace
