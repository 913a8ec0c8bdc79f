// Tests for nvs::Store (in-memory methods), nvs::Error and nvs::SearchOptions.
// Built as C++17 (std::vector overloads) and as C++20 (std::span overloads).
#include <nvs/nvs.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using nvs::Metric;
using nvs::SearchOptions;
using nvs::Status;
using nvs::Store;

// Run `f`, expect an nvs::Error with `status`, and return it for further checks.
template <typename F>
nvs::Error expect_error(Status status, F&& f) {
    try {
        f();
    } catch (const nvs::Error& e) {
        EXPECT_EQ(e.status(), status) << e.what();
        return e;
    }
    ADD_FAILURE() << "expected an nvs::Error with status " << nvs::status_name(status);
    return nvs::Error(Status::Ok, "");
}

std::vector<std::size_t> indexes(const std::vector<nvs::Hit>& hits) {
    std::vector<std::size_t> out;
    for (const auto& h : hits) out.push_back(h.index);
    return out;
}

// Four rows in 2-D at known angles; ids 100..103.
Store four_rows(bool normalize = true) {
    Store store(2, normalize);
    store.add(std::vector<float>{1, 0, 1, 1, 0, 1, -1, 0}, std::vector<std::uint64_t>{100, 101, 102, 103});
    return store;
}

TEST(Version, MatchesHeader) {
    EXPECT_STREQ(nvs::version(), NVS_VERSION);
}

TEST(Status, NamesComeFromTheLibrary) {
    EXPECT_STREQ(nvs::status_name(Status::Ok), "OK");
    EXPECT_STREQ(nvs::status_name(Status::DimensionMismatch), "DIMENSION_MISMATCH");
    EXPECT_STREQ(nvs::status_name(Status::Internal), "INTERNAL");
    EXPECT_STREQ(nvs::status_name(static_cast<Status>(999)), "UNKNOWN");
    EXPECT_EQ(static_cast<std::uint32_t>(Status::NoBoundPath), static_cast<std::uint32_t>(NVS_STATUS_NO_BOUND_PATH));
}

TEST(Error, CarriesStatusAndMessage) {
    Store store(3);
    const nvs::Error e = expect_error(Status::DimensionMismatch, [&] { store.add(std::vector<float>{1, 2}); });
    EXPECT_FALSE(e.message().empty());
    EXPECT_EQ(std::string(e.what()), "DIMENSION_MISMATCH: " + e.message());
    // The library names the offending value; the wrapper passes its message through unchanged.
    EXPECT_NE(e.message().find('3'), std::string::npos) << e.message();
    static_assert(std::is_base_of_v<std::runtime_error, nvs::Error>);
}

TEST(Error, CatchableAsRuntimeError) {
    try {
        Store store(0);
        FAIL() << "Store(0) did not throw";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("INVALID_ARGUMENT"), std::string::npos) << e.what();
    }
}

TEST(Error, MessageIsTheCurrentFailure) {
    // Two different failures in a row: each Error holds its own message, not a stale one.
    Store store(2);
    const auto first = expect_error(Status::DimensionMismatch, [&] { store.add(std::vector<float>{1}); });
    const auto second = expect_error(Status::NotFound, [&] { store.get(5); });
    EXPECT_NE(first.message(), second.message());
}

TEST(Store, NewStoreProperties) {
    Store store(3);
    EXPECT_EQ(store.dimensions(), 3u);
    EXPECT_TRUE(store.normalize());
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(store.len(), 0u);
    EXPECT_TRUE(store.empty());
    EXPECT_TRUE(static_cast<bool>(store));
    EXPECT_NE(store.native_handle(), nullptr);

    Store raw(5, false);
    EXPECT_EQ(raw.dimensions(), 5u);
    EXPECT_FALSE(raw.normalize());
}

TEST(Store, Float16RowsAreRounded) {
    Store store(3, false, nvs::Storage::Float16);
    EXPECT_EQ(store.storage(), nvs::Storage::Float16);
    EXPECT_EQ(Store(3).storage(), nvs::Storage::Float32);
    store.add(std::vector<float>{0.1f, 2.0f, -65504.0f}, std::vector<std::uint64_t>{5});
    // 0.1 rounds to the nearest float16, 0.0999755859375.
    const nvs::Row row = store.get(0);
    EXPECT_EQ(row.vector, (std::vector<float>{0.0999755859375f, 2.0f, -65504.0f}));
    expect_error(Status::OutOfRange, [&] { store.add(std::vector<float>{1, 1e5f, 0}); });
    EXPECT_EQ(store.size(), 1u);
    SearchOptions options;
    options.top_k = 1;
    const auto hits = store.search(Metric::Dot, std::vector<float>{0, 1, 0}, options);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].value, 2.0);
}

TEST(Store, ZeroDimensionsThrowInvalidArgument) {
    expect_error(Status::InvalidArgument, [] { Store store(0); });
}

TEST(Store, AddPointerAndRowCountWithIds) {
    Store store(2, false);
    const float rows[] = {1, 2, 3, 4, 5, 6};
    const std::uint64_t ids[] = {7, 8, 9};
    store.add(rows, 3, ids);
    ASSERT_EQ(store.size(), 3u);
    EXPECT_EQ(store.ids(), (std::vector<std::uint64_t>{7, 8, 9}));
    EXPECT_EQ(store.vectors(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Store, AddWithoutIdsUsesRowIndexes) {
    Store store(2, false);
    const float rows[] = {1, 2, 3, 4};
    store.add(rows, 2);
    store.add(std::vector<float>{5, 6});
    EXPECT_EQ(store.ids(), (std::vector<std::uint64_t>{0, 1, 2}));
}

TEST(Store, AddZeroRowsIsANoOp) {
    Store store(2);
    store.add(nullptr, 0);
    store.add(std::vector<float>{});
    EXPECT_EQ(store.size(), 0u);
}

TEST(Store, AddBracedLists) {
    Store store(2, false);
    store.add({1.0f, 2.0f, 3.0f, 4.0f}, {10, 20});
    EXPECT_EQ(store.ids(), (std::vector<std::uint64_t>{10, 20}));
}

#if NVS_HPP_SPAN
TEST(Store, AddSpansOfArrays) {
    Store store(2, false);
    const std::array<float, 4> rows{1, 2, 3, 4};
    const std::array<std::uint64_t, 2> ids{5, 6};
    store.add(std::span<const float>(rows), std::span<const std::uint64_t>(ids));
    store.add(rows);
    EXPECT_EQ(store.ids(), (std::vector<std::uint64_t>{5, 6, 2, 3}));

    const std::array<float, 2> query{0, 1};
    EXPECT_EQ(store.search(Metric::Dot, query).size(), 4u);
    std::array<nvs::Hit, 4> hits{};
    SearchOptions options;
    options.top_k = 4;
    EXPECT_EQ(store.search(Metric::Dot, query, options, std::span<nvs::Hit>(hits)), 4u);
    EXPECT_EQ(hits[0].value, 4.0);
    const std::array<float, 4> queries{1, 0, 0, 1};
    EXPECT_EQ(store.search_batch(Metric::Dot, queries).size(), 2u);
}
#endif

TEST(Store, AddNormalizesRows) {
    Store store(2);
    store.add(std::vector<float>{3, 4});
    const auto row = store.get(0);
    EXPECT_FLOAT_EQ(row.vector[0], 0.6f);
    EXPECT_FLOAT_EQ(row.vector[1], 0.8f);
}

TEST(Store, AddFailuresChangeNothing) {
    Store store(2);
    store.add(std::vector<float>{1, 0});
    const float nan = std::numeric_limits<float>::quiet_NaN();

    expect_error(Status::DimensionMismatch, [&] { store.add(std::vector<float>{1, 2, 3}); });
    expect_error(Status::NonFinite, [&] { store.add(std::vector<float>{1, 0, nan, 1}); });
    expect_error(Status::ZeroNorm, [&] { store.add(std::vector<float>{1, 0, 0, 0}); });
    expect_error(Status::InvalidArgument,
                 [&] { store.add(std::vector<float>{1, 0, 0, 1}, std::vector<std::uint64_t>{1}); });
    // An empty id list is a list of zero ids, not "no ids": two rows need two.
    expect_error(Status::InvalidArgument,
                 [&] { store.add(std::vector<float>{1, 0, 0, 1}, std::vector<std::uint64_t>{}); });

    EXPECT_EQ(store.size(), 1u);
    EXPECT_EQ(store.ids(), (std::vector<std::uint64_t>{0}));
}

TEST(Store, AddWithOverflowingRowCountIsRejected) {
    Store store(4);
    const float row[] = {1, 0, 0, 0};
    // rows * dimensions wraps around size_t; the wrapper must not pass the wrapped length. It
    // passes SIZE_MAX, which is not a whole number of 4-wide rows (widths are checked first).
    expect_error(Status::DimensionMismatch, [&] { store.add(row, std::numeric_limits<std::size_t>::max() / 2); });
    EXPECT_EQ(store.size(), 0u);
}

TEST(Store, ZeroRowAllowedWithoutNormalize) {
    Store store(2, false);
    store.add(std::vector<float>{0, 0});
    EXPECT_EQ(store.size(), 1u);
}

TEST(Store, GetReturnsRowAndId) {
    Store store = four_rows(false);
    const nvs::Row row = store.get(2);
    EXPECT_EQ(row.id, 102u);
    EXPECT_EQ(row.vector, (std::vector<float>{0, 1}));
    expect_error(Status::NotFound, [&] { store.get(4); });
}

TEST(Store, GetIntoBuffer) {
    Store store = four_rows(false);
    float buffer[2] = {9, 9};
    EXPECT_EQ(store.get(1, buffer, 2), 101u);
    EXPECT_EQ(buffer[0], 1.0f);
    EXPECT_EQ(buffer[1], 1.0f);
    EXPECT_EQ(store.get(3, nullptr, 0), 103u);  // id only
    float short_buffer[1];
    expect_error(Status::BufferTooSmall, [&] { store.get(0, short_buffer, 1); });
}

TEST(Store, ReadRows) {
    Store store = four_rows(false);
    const nvs::Rows rows = store.read_rows(1, 2);
    EXPECT_EQ(rows.vectors, (std::vector<float>{1, 1, 0, 1}));
    EXPECT_EQ(rows.ids, (std::vector<std::uint64_t>{101, 102}));
    EXPECT_TRUE(store.read_rows(4, 0).ids.empty());
    expect_error(Status::OutOfRange, [&] { store.read_rows(3, 2); });
}

TEST(Store, ReadRowsIntoBuffers) {
    Store store = four_rows(false);
    float vectors[4];
    std::uint64_t ids[2];
    store.read_rows(2, 2, vectors, 4, ids, 2);
    EXPECT_EQ(vectors[0], 0.0f);
    EXPECT_EQ(vectors[3], 0.0f);
    EXPECT_EQ(vectors[2], -1.0f);
    EXPECT_EQ(ids[1], 103u);
    store.read_rows(0, 2, nullptr, 0, ids, 2);
    EXPECT_EQ(ids[0], 100u);
    expect_error(Status::BufferTooSmall, [&] { store.read_rows(0, 2, vectors, 3, nullptr, 0); });
    expect_error(Status::BufferTooSmall, [&] { store.read_rows(0, 2, nullptr, 0, ids, 1); });
}

TEST(Store, VectorsAndIdsOfAllRows) {
    Store store = four_rows(false);
    EXPECT_EQ(store.vectors(), (std::vector<float>{1, 0, 1, 1, 0, 1, -1, 0}));
    EXPECT_EQ(store.ids(), (std::vector<std::uint64_t>{100, 101, 102, 103}));
    Store empty(3);
    EXPECT_TRUE(empty.vectors().empty());
    EXPECT_TRUE(empty.ids().empty());
}

TEST(Store, ClearKeepsSettings) {
    Store store = four_rows(false);
    store.clear();
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(store.dimensions(), 2u);
    EXPECT_FALSE(store.normalize());
    store.add(std::vector<float>{1, 2});
    EXPECT_EQ(store.ids(), (std::vector<std::uint64_t>{0}));
}

// ---- search -------------------------------------------------------------------------------

TEST(Search, CosineRanksHighestFirst) {
    Store store = four_rows();
    const auto hits = store.search(Metric::Cosine, std::vector<float>{1, 0.1f});
    ASSERT_EQ(hits.size(), 4u);
    EXPECT_EQ(indexes(hits), (std::vector<std::size_t>{0, 1, 2, 3}));
    EXPECT_EQ(hits[0].id, 100u);
    EXPECT_NEAR(hits[0].value, 1 / std::sqrt(1.01), 1e-6);
    EXPECT_NEAR(hits[3].value, -1 / std::sqrt(1.01), 1e-6);
}

TEST(Search, DotAndEuclidean) {
    Store store = four_rows(false);
    const float query[] = {2, 0};
    const auto dot = store.search(Metric::Dot, query, 2);
    EXPECT_EQ(indexes(dot), (std::vector<std::size_t>{0, 1, 2, 3}));
    EXPECT_DOUBLE_EQ(dot[0].value, 2.0);
    EXPECT_DOUBLE_EQ(dot[3].value, -2.0);

    const auto l2 = store.search(Metric::Euclidean, query, 2);
    EXPECT_EQ(indexes(l2), (std::vector<std::size_t>{0, 1, 2, 3}));
    EXPECT_DOUBLE_EQ(l2[0].value, 1.0);
    EXPECT_DOUBLE_EQ(l2[3].value, 3.0);
}

TEST(Search, TopKThresholdWithinRows) {
    Store store = four_rows();
    SearchOptions options;
    options.top_k = 2;
    EXPECT_EQ(indexes(store.search(Metric::Cosine, std::vector<float>{1, 0}, options)),
              (std::vector<std::size_t>{0, 1}));

    options.top_k = 10;
    options.threshold = 0.5;
    EXPECT_EQ(indexes(store.search(Metric::Cosine, std::vector<float>{1, 0}, options)),
              (std::vector<std::size_t>{0, 1}));

    options.threshold.reset();
    options.within_rows = std::vector<std::size_t>{3, 2};
    EXPECT_EQ(indexes(store.search(Metric::Cosine, std::vector<float>{1, 0}, options)),
              (std::vector<std::size_t>{2, 3}));

    options.within_rows = std::vector<std::size_t>{};
    EXPECT_TRUE(store.search(Metric::Cosine, std::vector<float>{1, 0}, options).empty());
}

TEST(Search, DefaultsComeFromTheLibrary) {
    const nvs_search_options c = nvs_search_options_default();
    const SearchOptions options;
    EXPECT_EQ(options.top_k, c.top_k);
    EXPECT_EQ(options.threads, c.threads);
    EXPECT_FALSE(options.threshold.has_value());
    EXPECT_FALSE(options.within_rows.has_value());

    const nvs_search_options converted = options.to_c();
    EXPECT_EQ(converted.size, sizeof(nvs_search_options));
    EXPECT_FALSE(converted.has_threshold);
    EXPECT_FALSE(converted.has_within_rows);
}

TEST(Search, OptionsConvertToC) {
    SearchOptions options;
    options.top_k = 3;
    options.threshold = -0.25;
    options.within_rows = std::vector<std::size_t>{4, 1};
    options.threads = 2;
    const nvs_search_options c = options.to_c();
    EXPECT_EQ(c.top_k, 3u);
    EXPECT_TRUE(c.has_threshold);
    EXPECT_EQ(c.threshold, -0.25);
    EXPECT_TRUE(c.has_within_rows);
    EXPECT_EQ(c.within_rows, options.within_rows->data());
    EXPECT_EQ(c.within_rows_len, 2u);
    EXPECT_EQ(c.threads, 2u);
}

TEST(Search, HugeTopKReturnsEveryRow) {
    Store store = four_rows();
    SearchOptions options;
    options.top_k = std::numeric_limits<std::size_t>::max();
    // The buffer is sized for the four rows that can match, not for top_k hits (which could
    // not be allocated at all).
    const auto hits = store.search(Metric::Dot, std::vector<float>{0, 1}, options);
    EXPECT_EQ(hits.size(), 4u);
    EXPECT_LE(hits.capacity(), 4u);
    const auto batch = store.search_batch(Metric::Dot, std::vector<float>{0, 1, 1, 0}, options);
    ASSERT_EQ(batch.size(), 2u);
    EXPECT_EQ(batch[0].size(), 4u);
    EXPECT_EQ(batch[1].size(), 4u);
    // With a prefilter the buffer holds the prefilter's rows.
    options.within_rows = std::vector<std::size_t>{3, 1};
    EXPECT_EQ(indexes(store.search(Metric::Dot, std::vector<float>{0, 1}, options)), (std::vector<std::size_t>{1, 3}));
    options.within_rows = std::vector<std::size_t>{};
    EXPECT_TRUE(store.search(Metric::Dot, std::vector<float>{0, 1}, options).empty());
}

TEST(Search, EmptyStoreGivesNoHits) {
    Store store(3);
    EXPECT_TRUE(store.search(Metric::Cosine, std::vector<float>{1, 2, 3}).empty());
}

TEST(Search, ThreadCountsAgree) {
    Store store(8, false);
    std::vector<float> rows;
    for (int i = 0; i < 8 * 500; ++i) rows.push_back(static_cast<float>((i * 37) % 101) - 50.0f);
    store.add(rows);
    const std::vector<float> query{1, -2, 3, -4, 5, -6, 7, -8};
    SearchOptions one;
    one.threads = 1;
    one.top_k = 20;
    SearchOptions two = one;
    two.threads = 2;
    const auto a = store.search(Metric::Euclidean, query, one);
    const auto b = store.search(Metric::Euclidean, query, two);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].index, b[i].index);
        EXPECT_EQ(a[i].value, b[i].value);
    }
}

TEST(Search, FailuresTranslateToStatuses) {
    Store store = four_rows();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    SearchOptions options;

    expect_error(Status::DimensionMismatch, [&] { store.search(Metric::Cosine, std::vector<float>{1, 0, 0}); });
    expect_error(Status::NonFinite, [&] { store.search(Metric::Cosine, std::vector<float>{nan, 0}); });
    expect_error(Status::ZeroNorm, [&] { store.search(Metric::Cosine, std::vector<float>{0, 0}); });
    expect_error(Status::InvalidArgument,
                 [&] { store.search(static_cast<Metric>(99), std::vector<float>{1, 0}); });

    options.top_k = 0;
    expect_error(Status::InvalidArgument, [&] { store.search(Metric::Cosine, std::vector<float>{1, 0}, options); });
    options.top_k = 1;
    options.threshold = std::numeric_limits<double>::infinity();
    expect_error(Status::NonFinite, [&] { store.search(Metric::Cosine, std::vector<float>{1, 0}, options); });
    options.threshold.reset();
    options.within_rows = std::vector<std::size_t>{1, 1};
    expect_error(Status::InvalidArgument, [&] { store.search(Metric::Cosine, std::vector<float>{1, 0}, options); });
    options.within_rows = std::vector<std::size_t>{4};
    expect_error(Status::OutOfRange, [&] { store.search(Metric::Cosine, std::vector<float>{1, 0}, options); });
}

TEST(Search, IntoCallerBuffer) {
    Store store = four_rows();
    SearchOptions options;
    options.top_k = 2;
    nvs::Hit hits[2] = {};
    const float query[] = {0, 1};
    const std::size_t n = store.search(Metric::Cosine, query, 2, options, hits, 2);
    ASSERT_EQ(n, 2u);
    EXPECT_EQ(hits[0].index, 2u);
    EXPECT_EQ(hits[0].id, 102u);
    EXPECT_EQ(hits[1].index, 1u);

    std::vector<nvs::Hit> buffer(4);
    options.top_k = 4;
    EXPECT_EQ(store.search(Metric::Cosine, std::vector<float>{0, 1}, options, buffer), 4u);
    // [1,0] and [-1,0] tie at 0 against [0,1]: the lower row index comes first.
    EXPECT_EQ(buffer[2].index, 0u);
    EXPECT_EQ(buffer[3].index, 3u);

    // Three hits do not fit in two slots.
    options.top_k = 3;
    expect_error(Status::BufferTooSmall, [&] { store.search(Metric::Cosine, query, 2, options, hits, 2); });
}

TEST(SearchBatch, MatchesSingleSearches) {
    Store store = four_rows();
    SearchOptions options;
    options.top_k = 3;
    const std::vector<float> queries{1, 0, 0, 1, -1, -1};
    const auto batch = store.search_batch(Metric::Cosine, queries, options);
    ASSERT_EQ(batch.size(), 3u);
    for (std::size_t q = 0; q < 3; ++q) {
        const auto single = store.search(Metric::Cosine, &queries[q * 2], 2, options);
        ASSERT_EQ(batch[q].size(), single.size());
        for (std::size_t i = 0; i < single.size(); ++i) {
            EXPECT_EQ(batch[q][i].index, single[i].index);
            EXPECT_EQ(batch[q][i].id, single[i].id);
            EXPECT_EQ(batch[q][i].value, single[i].value);
        }
    }
}

TEST(SearchBatch, EmptyAndInvalid) {
    Store store = four_rows();
    EXPECT_TRUE(store.search_batch(Metric::Dot, std::vector<float>{}).empty());
    // One bad query fails the whole call.
    expect_error(Status::ZeroNorm, [&] { store.search_batch(Metric::Cosine, std::vector<float>{1, 0, 0, 0}); });
    expect_error(Status::DimensionMismatch, [&] { store.search_batch(Metric::Cosine, std::vector<float>{1, 0, 1}); });
}

TEST(SearchBatch, IntoCallerBuffers) {
    Store store = four_rows();
    SearchOptions options;
    options.top_k = 2;
    const float queries[] = {1, 0, 0, 1};
    nvs::Hit hits[4] = {};
    std::size_t lens[2] = {};
    store.search_batch(Metric::Cosine, queries, 4, options, hits, 4, 2, lens);
    EXPECT_EQ(lens[0], 2u);
    EXPECT_EQ(lens[1], 2u);
    EXPECT_EQ(hits[0].index, 0u);
    EXPECT_EQ(hits[2].index, 2u);
    expect_error(Status::BufferTooSmall, [&] { store.search_batch(Metric::Cosine, queries, 4, options, hits, 4, 1, lens); });
}

// ---- ownership ----------------------------------------------------------------------------

static_assert(!std::is_copy_constructible_v<Store>);
static_assert(!std::is_copy_assignable_v<Store>);
static_assert(std::is_nothrow_move_constructible_v<Store>);
static_assert(std::is_nothrow_move_assignable_v<Store>);

TEST(Move, ConstructorTransfersTheHandle) {
    Store a = four_rows();
    nvs_store* handle = a.native_handle();
    Store b(std::move(a));
    EXPECT_EQ(b.native_handle(), handle);
    EXPECT_EQ(b.size(), 4u);
    EXPECT_EQ(a.native_handle(), nullptr);  // NOLINT(bugprone-use-after-move): the point of the test
    EXPECT_FALSE(static_cast<bool>(a));
}

TEST(Move, AssignmentFreesTheOldHandle) {
    // Under AddressSanitizer a leaked handle fails the run (LeakSanitizer).
    Store a = four_rows();
    Store b(7);
    b = std::move(a);
    EXPECT_EQ(b.dimensions(), 2u);
    EXPECT_EQ(b.size(), 4u);
    Store& self = b;
    b = std::move(self);
    EXPECT_EQ(b.size(), 4u);
}

TEST(Move, MovedFromStoreThrowsNullArgument) {
    Store a(2);
    Store b(std::move(a));
    // NOLINTBEGIN(bugprone-use-after-move)
    EXPECT_EQ(a.size(), 0u);
    EXPECT_EQ(a.dimensions(), 0u);
    EXPECT_FALSE(a.normalize());
    expect_error(Status::NullArgument, [&] { a.add(std::vector<float>{1, 0}); });
    expect_error(Status::NullArgument, [&] { a.search(Metric::Cosine, std::vector<float>{1, 0}); });
    expect_error(Status::NullArgument, [&] { a.search_batch(Metric::Cosine, std::vector<float>{1, 0}); });
    expect_error(Status::NullArgument, [&] { a.get(0); });
    expect_error(Status::NullArgument, [&] { a.clear(); });
    expect_error(Status::NullArgument, [&] { a.vectors(); });
    expect_error(Status::NullArgument, [&] { a.file_path(); });
    // NOLINTEND(bugprone-use-after-move)
}

TEST(Move, ReleaseAndAdopt) {
    Store a = four_rows();
    nvs_store* raw = a.release();
    EXPECT_FALSE(static_cast<bool>(a));
    ASSERT_NE(raw, nullptr);
    EXPECT_EQ(nvs_store_len(raw), 4u);
    Store b = Store::adopt(raw);
    EXPECT_EQ(b.size(), 4u);
}

TEST(Move, StoresLiveInContainers) {
    std::vector<Store> stores;
    for (std::size_t d = 1; d <= 5; ++d) stores.emplace_back(d);
    for (std::size_t d = 1; d <= 5; ++d) EXPECT_EQ(stores[d - 1].dimensions(), d);
}

}  // namespace
