// nvs.hpp compiled with -fno-exceptions: failing calls return empty results and report through
// nvs::last_error() instead of throwing. A plain program (GoogleTest needs exceptions); it
// prints "N passed, M failed" and exits non-zero on any failure.
#include <nvs/nvs.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#if NVS_HPP_EXCEPTIONS
#error "this test must be compiled without exceptions (-fno-exceptions)"
#endif

static int passed = 0, failed = 0;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (cond) {                                                           \
            ++passed;                                                         \
        } else {                                                              \
            ++failed;                                                         \
            std::fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                     \
    } while (0)

// The last call failed with `status` and a message mentioning `topic`.
static bool failed_with(nvs::Status status, const char* topic) {
    const nvs::Error* e = nvs::last_error();
    return e != nullptr && e->status() == status && e->message().find(topic) != std::string::npos;
}

int main() {
    nvs::Store store(3);
    CHECK(nvs::last_error() == nullptr);
    store.add({1, 0, 0, 0, 1, 0}, {10, 11});
    CHECK(nvs::last_error() == nullptr);
    CHECK(store.size() == 2);

    // A failing add adds nothing and is reported.
    store.add({1, 2});
    CHECK(failed_with(nvs::Status::DimensionMismatch, "whole number"));
    CHECK(store.size() == 2);

    // A good call clears the error.
    std::vector<nvs::Hit> hits = store.search(nvs::Metric::Cosine, {0.9f, 0.1f, 0});
    CHECK(nvs::last_error() == nullptr);
    CHECK(hits.size() == 2 && hits[0].id == 10);

    hits = store.search(nvs::Metric::Cosine, {0, 0, 0});
    CHECK(failed_with(nvs::Status::ZeroNorm, "zero"));
    CHECK(hits.empty());

    nvs::SearchOptions options;
    options.top_k = 0;
    CHECK(store.search_batch(nvs::Metric::Dot, {1, 0, 0, 0, 1, 0}, options).empty());
    CHECK(failed_with(nvs::Status::InvalidArgument, "top_k"));

    nvs::Hit buffer[2];
    const float query[] = {1, 0, 0};
    CHECK(store.search(nvs::Metric::Dot, query, 3, nvs::SearchOptions{}, buffer, 1) == 0);
    CHECK(failed_with(nvs::Status::BufferTooSmall, "hits_capacity"));

    nvs::Row row = store.get(5);
    CHECK(failed_with(nvs::Status::NotFound, "5"));
    CHECK(row.id == 0 && row.vector.empty());
    CHECK(store.get(1).id == 11 && nvs::last_error() == nullptr);

    nvs::Rows rows = store.read_rows(1, 5);
    CHECK(failed_with(nvs::Status::OutOfRange, "outside"));
    CHECK(rows.vectors.empty() && rows.ids.empty());

    // No bound path is not an error for file_path(); save without one is.
    CHECK(!store.file_path().has_value() && nvs::last_error() == nullptr);
    store.save();
    CHECK(failed_with(nvs::Status::NoBoundPath, "bound"));

    // A failed open gives a Store without a handle, whose calls fail too.
    nvs::Store missing = nvs::Store::open("/nonexistent/dir/store.npz");
    CHECK(failed_with(nvs::Status::Io, "nonexistent"));
    CHECK(!missing);
    missing.add({1, 0, 0});
    CHECK(failed_with(nvs::Status::NullArgument, "store"));

    nvs::Store bad(0);
    CHECK(failed_with(nvs::Status::InvalidArgument, "dimensions"));
    CHECK(!bad);

    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
