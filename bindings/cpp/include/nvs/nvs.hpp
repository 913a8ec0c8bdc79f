// native-vector-store (nvs) for C++: a header-only RAII wrapper over include/nvs.h.
// SPDX-License-Identifier: MIT OR Apache-2.0
//
//     #include <nvs/nvs.hpp>
//
//     nvs::Store store(3);                       // 3 dimensions, normalized rows
//     store.add({1, 0, 0, 0, 1, 0}, {10, 11});   // two rows, ids 10 and 11
//     nvs::SearchOptions options;
//     options.top_k = 1;
//     for (const nvs::Hit& hit : store.search(nvs::Metric::Cosine, {0.9f, 0.1f, 0}, options))
//         std::cout << hit.id << ' ' << hit.value << '\n';   // 10 0.993884
//
// Requires C++17. Containers go in as std::vector (braced lists work too); compiled as C++20
// there are also std::span overloads, so std::array, C arrays and spans work as well. Every
// failing call throws nvs::Error with the library's status and message; the store is unchanged
// after a failure.
//
// Without exceptions (-fno-exceptions, detected, or NVS_HPP_EXCEPTIONS defined to 0) nothing
// is thrown: a failing call returns an empty result (no hits, no rows, id 0, nullopt, a Store
// without a handle) and nvs::last_error() returns its Error until the next wrapper call that
// can fail on the same thread (nullptr after one that succeeded):
//
//     auto hits = store.search(nvs::Metric::Cosine, query);
//     if (const nvs::Error* e = nvs::last_error()) { /* e->status(), e->message() */ }
//
// The wrapper converts types and errors and nothing else: every rule (dimensions, finiteness,
// zero norms, ids, top_k, thresholds, prefilters, file formats) is checked by the library.
//
// Thread safety is the library's: one Store may be searched, read and added to from many
// threads at once (add, clear and reload take a write lock). Moving, assigning or destroying
// a Store is not synchronized: do not do it while another thread uses the same object.
#ifndef NVS_NVS_HPP
#define NVS_NVS_HPP

#include <nvs.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// std::span overloads when the standard library has std::span (C++20).
#if defined(__has_include)
#if __has_include(<version>)
#include <version>
#endif
#endif
#ifndef NVS_HPP_SPAN
#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
#define NVS_HPP_SPAN 1
#else
#define NVS_HPP_SPAN 0
#endif
#endif
#if NVS_HPP_SPAN
#include <span>
#endif

#ifndef NVS_HPP_EXCEPTIONS
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define NVS_HPP_EXCEPTIONS 1
#else
#define NVS_HPP_EXCEPTIONS 0
#endif
#endif

namespace nvs {

/// The result of a failed call (the C `nvs_status` values without the `NVS_STATUS_` prefix).
enum class Status : std::uint32_t {
    Ok = NVS_STATUS_OK,
    NullArgument = NVS_STATUS_NULL_ARGUMENT,
    InvalidArgument = NVS_STATUS_INVALID_ARGUMENT,
    DimensionMismatch = NVS_STATUS_DIMENSION_MISMATCH,
    NonFinite = NVS_STATUS_NON_FINITE,
    ZeroNorm = NVS_STATUS_ZERO_NORM,
    OutOfRange = NVS_STATUS_OUT_OF_RANGE,
    NotFound = NVS_STATUS_NOT_FOUND,
    BufferTooSmall = NVS_STATUS_BUFFER_TOO_SMALL,
    Io = NVS_STATUS_IO,
    Format = NVS_STATUS_FORMAT,
    NoBoundPath = NVS_STATUS_NO_BOUND_PATH,
    OutOfMemory = NVS_STATUS_OUT_OF_MEMORY,
    Internal = NVS_STATUS_INTERNAL,
};

/// The library's name for a status, e.g. "DIMENSION_MISMATCH" ("UNKNOWN" for other values).
inline const char* status_name(Status status) noexcept {
    return nvs_status_name(static_cast<std::uint32_t>(status));
}

/// Search metric. Cosine and dot rank highest first, euclidean (a distance) lowest first.
enum class Metric : nvs_metric {
    Cosine = NVS_METRIC_COSINE,
    Dot = NVS_METRIC_DOT,
    Euclidean = NVS_METRIC_EUCLIDEAN,
};

/// One search result: row index (insertion order), the row's id, and the cosine similarity,
/// dot product or euclidean distance. The C struct itself, so hit buffers pass straight through.
using Hit = ::nvs_hit;

/// How a store keeps its rows (the C `NVS_STORAGE_*` values).
enum class Storage : nvs_storage {
    /// Rows exactly as added (after normalization): the default.
    Float32 = NVS_STORAGE_FLOAT32,
    /// IEEE float16 rows: half the memory and half the bytes a search reads. Rows are checked
    /// and normalized in float32, then rounded; a value beyond 65504 in magnitude fails the
    /// add (`Status::OutOfRange`). Values are computed from the rounded rows.
    Float16 = NVS_STORAGE_FLOAT16,
};

/// `Store::open` flag: archives whose metadata is not a list of uint64 integers (for example
/// numpy-vector-store archives with dict payloads) get row indexes as ids instead of failing.
inline constexpr std::uint32_t open_row_index_metadata = NVS_OPEN_ROW_INDEX_METADATA;
/// `Store::open` / `Store::reload` flag: map the file and search its rows in place (no read
/// of the rows at open, pages shared between processes) when it was saved uncompressed;
/// otherwise the ordinary open. Rows in place are trusted unless `open_verify` is given too.
/// See `NVS_OPEN_MAP` in nvs.h for the trust model and truncation (SIGBUS).
inline constexpr std::uint32_t open_map = NVS_OPEN_MAP;
/// With `open_map`: check rows left in place as an ordinary open does (reads them once).
inline constexpr std::uint32_t open_verify = NVS_OPEN_VERIFY;
/// `Store::save` flag: store the archive members uncompressed (larger, faster to load).
inline constexpr std::uint32_t save_uncompressed = NVS_SAVE_UNCOMPRESSED;
/// `Store::save` flag: write metadata the way numpy-vector-store 0.7.0's `VectorStore.open` reads it.
inline constexpr std::uint32_t save_pickled_metadata = NVS_SAVE_PICKLED_METADATA;

/// The library version, "MAJOR.MINOR.PATCH" (the header's is NVS_VERSION).
inline const char* version() noexcept { return nvs_version(); }

/// A failed call: the library's status and its message. `what()` is "STATUS: message".
class Error : public std::runtime_error {
public:
    Error(Status status, const std::string& message)
        : std::runtime_error(std::string(status_name(status)) + ": " + message),
          status_(status),
          message_(message) {}

    /// Why the call failed.
    Status status() const noexcept { return status_; }
    /// The library's message alone, without the status name.
    const std::string& message() const noexcept { return message_; }

private:
    Status status_;
    std::string message_;
};

namespace detail {

#if !NVS_HPP_EXCEPTIONS
inline std::optional<Error>& error_slot() noexcept {
    thread_local std::optional<Error> slot;
    return slot;
}
#endif

// True for OK. A failed status throws, or without exceptions is kept for last_error() and
// gives false. The message is thread-local in the library and read right away, before any
// other call on this thread can replace it.
inline bool check(nvs_status status) {
#if NVS_HPP_EXCEPTIONS
    if (status != NVS_STATUS_OK) {
        throw Error(static_cast<Status>(status), nvs_last_error_message());
    }
#else
    if (status != NVS_STATUS_OK) {
        error_slot().emplace(static_cast<Status>(status), nvs_last_error_message());
        return false;
    }
    error_slot().reset();
#endif
    return true;
}

// rows * width without wrapping: an overflowing product becomes SIZE_MAX, which the library
// rejects as too large instead of reading a wrapped-around length.
inline std::size_t saturating_mul(std::size_t rows, std::size_t width) noexcept {
    if (width != 0 && rows > std::numeric_limits<std::size_t>::max() / width) {
        return std::numeric_limits<std::size_t>::max();
    }
    return rows * width;
}

// A non-NULL pointer for an empty id list: NULL ids mean "use row indexes", while an empty
// but present list must reach the library as such (it then checks the count).
inline const std::uint64_t* ids_pointer(const std::uint64_t* ids) noexcept {
    static const std::uint64_t no_ids = 0;
    return ids != nullptr ? ids : &no_ids;
}

}  // namespace detail

#if !NVS_HPP_EXCEPTIONS
/// Without exceptions: the error of the last wrapper call on this thread that could fail, or
/// nullptr when it succeeded. Valid until the next such call on this thread.
inline const Error* last_error() noexcept {
    const std::optional<Error>& slot = detail::error_slot();
    return slot ? &*slot : nullptr;
}
#endif

/// Options for one search. Fields start at the library's defaults.
struct SearchOptions {
    /// Maximum number of hits (> 0).
    std::size_t top_k = nvs_search_options_default().top_k;
    /// Minimum value for cosine and dot, maximum distance for euclidean; none by default.
    std::optional<double> threshold;
    /// Search only these row indexes (unique, inside the store, any order); all rows by
    /// default. An empty list gives no hits.
    std::optional<std::vector<std::size_t>> within_rows;
    /// Worker threads: 0 picks automatically, 1 keeps the search on the calling thread.
    std::size_t threads = nvs_search_options_default().threads;

    /// The C options. The result points into `within_rows`: keep this object alive and
    /// unchanged while the C struct is in use.
    nvs_search_options to_c() const noexcept {
        nvs_search_options options = nvs_search_options_default();
        options.top_k = top_k;
        options.threads = threads;
        if (threshold) {
            options.has_threshold = true;
            options.threshold = *threshold;
        }
        if (within_rows) {
            options.has_within_rows = true;
            options.within_rows = within_rows->data();
            options.within_rows_len = within_rows->size();
        }
        return options;
    }
};

/// One row read back with `Store::get`.
struct Row {
    std::uint64_t id;
    std::vector<float> vector;
};

/// A range of rows read back with `Store::read_rows`: `vectors` is row-major.
struct Rows {
    std::vector<float> vectors;
    std::vector<std::uint64_t> ids;
};

/// An in-memory exact vector store. Owns its handle: move-only, freed on destruction.
/// A moved-from Store holds no handle; its calls throw `Status::NullArgument` (size() and
/// dimensions() return 0).
class Store {
public:
    /// An empty store with `dimensions` (> 0) columns. With `normalize` (the usual choice)
    /// rows and queries are stored and compared as unit vectors.
    explicit Store(std::size_t dimensions, bool normalize = true, Storage storage = Storage::Float32) {
        detail::check(nvs_store_new_with_storage(dimensions, normalize, static_cast<nvs_storage>(storage), &handle_));
    }

    /// Take ownership of a handle from the C API (NULL gives an empty, moved-from-like Store).
    static Store adopt(nvs_store* handle) noexcept { return Store(Adopt{}, handle); }

    /// Open a `.npz` archive (".npz" is appended when missing); the store is bound to its
    /// absolute path. `flags`: `open_row_index_metadata`, `open_map`, `open_verify` or 0.
    static Store open(const std::string& path, std::uint32_t flags = 0) {
        nvs_store* handle = nullptr;
        detail::check(nvs_store_open_with_flags(path.c_str(), flags, &handle));
        return Store(Adopt{}, handle);
    }

    /// Open an archive held in memory (read during the call only). Not bound to a path.
    static Store open_bytes(const std::uint8_t* bytes, std::size_t len, std::uint32_t flags = 0) {
        nvs_store* handle = nullptr;
        detail::check(nvs_store_open_bytes(bytes, len, flags, &handle));
        return Store(Adopt{}, handle);
    }

    static Store open_bytes(const std::vector<std::uint8_t>& bytes, std::uint32_t flags = 0) {
        return open_bytes(bytes.data(), bytes.size(), flags);
    }

    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    Store(Store&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

    Store& operator=(Store&& other) noexcept {
        if (this != &other) {
            nvs_store_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }

    ~Store() { nvs_store_free(handle_); }

    /// The C handle, still owned by this Store (for calls the wrapper does not cover).
    nvs_store* native_handle() const noexcept { return handle_; }

    /// Give up ownership: the caller must `nvs_store_free` the returned handle.
    nvs_store* release() noexcept { return std::exchange(handle_, nullptr); }

    /// Whether this Store holds a handle (false after a move).
    explicit operator bool() const noexcept { return handle_ != nullptr; }

    // ---- Adding rows ---------------------------------------------------------------------

    /// Append `rows` rows from `vectors` (rows * dimensions() floats, row-major). `ids` holds
    /// one id per row, or is NULL to use row indexes. Copied before return; nothing is added
    /// on failure.
    void add(const float* vectors, std::size_t rows, const std::uint64_t* ids = nullptr) {
        detail::check(nvs_store_add(handle_, vectors, detail::saturating_mul(rows, dimensions()),
                                    ids, ids != nullptr ? rows : 0));
    }

    /// Append rows from a flat, row-major vector (a whole number of rows); ids are row indexes.
    void add(const std::vector<float>& vectors) {
        detail::check(nvs_store_add(handle_, vectors.data(), vectors.size(), nullptr, 0));
    }

    /// Append rows with one id per row.
    void add(const std::vector<float>& vectors, const std::vector<std::uint64_t>& ids) {
        detail::check(nvs_store_add(handle_, vectors.data(), vectors.size(),
                                    detail::ids_pointer(ids.data()), ids.size()));
    }

#if NVS_HPP_SPAN
    /// Append rows from a flat, row-major span (a whole number of rows); ids are row indexes.
    void add(std::span<const float> vectors) {
        detail::check(nvs_store_add(handle_, vectors.data(), vectors.size(), nullptr, 0));
    }

    /// Append rows with one id per row.
    void add(std::span<const float> vectors, std::span<const std::uint64_t> ids) {
        detail::check(nvs_store_add(handle_, vectors.data(), vectors.size(),
                                    detail::ids_pointer(ids.data()), ids.size()));
    }
#endif

    // ---- Reading -------------------------------------------------------------------------

    /// Number of rows.
    std::size_t size() const noexcept { return nvs_store_len(handle_); }
    /// Number of rows (the C name).
    std::size_t len() const noexcept { return size(); }
    bool empty() const noexcept { return size() == 0; }
    /// Columns per row.
    std::size_t dimensions() const noexcept { return nvs_store_dimensions(handle_); }
    /// Whether rows and queries are normalized.
    bool normalize() const noexcept { return nvs_store_normalize(handle_); }
    /// How the store keeps its rows.
    Storage storage() const noexcept { return static_cast<Storage>(nvs_store_storage(handle_)); }

    /// Whether some rows are searched in place in a mapped archive (`open_map`).
    bool is_mapped() const noexcept { return nvs_store_is_mapped(handle_); }

    /// Row `index` and its id (`Status::NotFound` past the end).
    Row get(std::size_t index) const {
        Row row{0, std::vector<float>(dimensions())};
        if (!detail::check(nvs_store_get(handle_, index, row.vector.data(), row.vector.size(), &row.id))) {
            return {};
        }
        return row;
    }

    /// Copy row `index` into `vector` (at least dimensions() floats; NULL to skip) and
    /// return its id. No allocation.
    std::uint64_t get(std::size_t index, float* vector, std::size_t vector_len) const {
        std::uint64_t id = 0;
        return detail::check(nvs_store_get(handle_, index, vector, vector_len, &id)) ? id : 0;
    }

    /// Rows `start .. start + count` (vectors row-major, and ids), read under one lock.
    Rows read_rows(std::size_t start, std::size_t count) const {
        Rows rows{std::vector<float>(detail::saturating_mul(count, dimensions())),
                  std::vector<std::uint64_t>(count)};
        if (!detail::check(nvs_store_read_rows(handle_, start, count, rows.vectors.data(), rows.vectors.size(),
                                               rows.ids.data(), rows.ids.size()))) {
            return {};
        }
        return rows;
    }

    /// Copy rows into caller buffers (either may be NULL to skip it). No allocation.
    void read_rows(std::size_t start, std::size_t count, float* vectors, std::size_t vectors_len,
                   std::uint64_t* ids, std::size_t ids_len) const {
        detail::check(nvs_store_read_rows(handle_, start, count, vectors, vectors_len, ids, ids_len));
    }

    /// Every row's vector, row-major (as stored: unit vectors in a normalize store).
    /// With a concurrent clear() this can throw `Status::OutOfRange`.
    std::vector<float> vectors() const {
        const std::size_t count = size();
        std::vector<float> out(detail::saturating_mul(count, dimensions()));
        if (!detail::check(nvs_store_read_rows(handle_, 0, count, out.data(), out.size(), nullptr, 0))) {
            return {};
        }
        return out;
    }

    /// Every row's id, in row order.
    std::vector<std::uint64_t> ids() const {
        const std::size_t count = size();
        std::vector<std::uint64_t> out(count);
        if (!detail::check(nvs_store_read_rows(handle_, 0, count, nullptr, 0, out.data(), out.size()))) {
            return {};
        }
        return out;
    }

    // ---- Changing ------------------------------------------------------------------------

    /// Remove every row. Dimensions, normalize and the bound path stay.
    void clear() { detail::check(nvs_store_clear(handle_)); }

    // ---- Searching -----------------------------------------------------------------------

    /// Exact search for one query of dimensions() floats; hits best first.
    std::vector<Hit> search(Metric metric, const float* query, std::size_t query_len,
                            const SearchOptions& options = {}) const {
        nvs_search_options c = options.to_c();
        c.top_k = sized_top_k(options);
        std::vector<Hit> hits(c.top_k);
        std::size_t found = 0;
        if (!detail::check(nvs_store_search(handle_, static_cast<nvs_metric>(metric), query, query_len, &c,
                                            hits.data(), hits.size(), &found))) {
            return {};
        }
        hits.resize(found);
        return hits;
    }

    /// Search into a caller buffer; returns the number of hits written. No allocation (when
    /// `options.within_rows` is unset or already built). A capacity of `options.top_k` always
    /// suffices; a smaller one that the hits outgrow gives `Status::BufferTooSmall`.
    std::size_t search(Metric metric, const float* query, std::size_t query_len, const SearchOptions& options,
                       Hit* hits, std::size_t hits_capacity) const {
        const nvs_search_options c = options.to_c();
        std::size_t found = 0;
        return detail::check(nvs_store_search(handle_, static_cast<nvs_metric>(metric), query, query_len, &c,
                                              hits, hits_capacity, &found))
                   ? found
                   : 0;
    }

    /// Exact search for many queries (a whole number of queries of dimensions() floats,
    /// row-major) in one call; result i belongs to query i. Every query is validated first.
    std::vector<std::vector<Hit>> search_batch(Metric metric, const float* queries, std::size_t queries_len,
                                               const SearchOptions& options = {}) const {
        nvs_search_options c = options.to_c();
        c.top_k = sized_top_k(options);
        const std::size_t per_query = c.top_k;
        const std::size_t width = dimensions();
        const std::size_t query_count = width != 0 ? queries_len / width : 0;
        std::vector<std::size_t> lens(query_count);
        std::vector<Hit> flat(detail::saturating_mul(query_count, per_query));
        if (!detail::check(nvs_store_search_batch(handle_, static_cast<nvs_metric>(metric), queries, queries_len,
                                                  &c, flat.data(), flat.size(), per_query, lens.data()))) {
            return {};
        }
        std::vector<std::vector<Hit>> out(query_count);
        for (std::size_t i = 0; i < query_count; ++i) {
            const Hit* first = flat.data() + i * per_query;
            out[i].assign(first, first + lens[i]);
        }
        return out;
    }

    /// Batch search into caller buffers: query i's hits go to `hits[i * hits_per_query ..]`
    /// and their number to `hits_lens[i]` (one entry per query). No allocation.
    void search_batch(Metric metric, const float* queries, std::size_t queries_len, const SearchOptions& options,
                      Hit* hits, std::size_t hits_capacity, std::size_t hits_per_query,
                      std::size_t* hits_lens) const {
        const nvs_search_options c = options.to_c();
        detail::check(nvs_store_search_batch(handle_, static_cast<nvs_metric>(metric), queries, queries_len, &c,
                                             hits, hits_capacity, hits_per_query, hits_lens));
    }

    std::vector<Hit> search(Metric metric, const std::vector<float>& query, const SearchOptions& options = {}) const {
        return search(metric, query.data(), query.size(), options);
    }
    std::size_t search(Metric metric, const std::vector<float>& query, const SearchOptions& options,
                       std::vector<Hit>& hits) const {
        return search(metric, query.data(), query.size(), options, hits.data(), hits.size());
    }
    std::vector<std::vector<Hit>> search_batch(Metric metric, const std::vector<float>& queries,
                                               const SearchOptions& options = {}) const {
        return search_batch(metric, queries.data(), queries.size(), options);
    }

#if NVS_HPP_SPAN
    std::vector<Hit> search(Metric metric, std::span<const float> query, const SearchOptions& options = {}) const {
        return search(metric, query.data(), query.size(), options);
    }
    std::size_t search(Metric metric, std::span<const float> query, const SearchOptions& options,
                       std::span<Hit> hits) const {
        return search(metric, query.data(), query.size(), options, hits.data(), hits.size());
    }
    std::vector<std::vector<Hit>> search_batch(Metric metric, std::span<const float> queries,
                                               const SearchOptions& options = {}) const {
        return search_batch(metric, queries.data(), queries.size(), options);
    }
#endif

    // ---- Persistence ---------------------------------------------------------------------

    /// Save as a `.npz` archive at `path` and bind the store to it once the write succeeded
    /// ("Save As"). `flags`: `save_uncompressed`, `save_pickled_metadata`, or 0.
    void save(const std::string& path, std::uint32_t flags = 0) const {
        detail::check(nvs_store_save_with_flags(handle_, path.c_str(), flags));
    }

    /// Save to the bound path (`Status::NoBoundPath` when there is none).
    void save(std::uint32_t flags = 0) const {
        detail::check(nvs_store_save_with_flags(handle_, nullptr, flags));
    }

    /// Replace every row with the bound archive's contents; unchanged on failure.
    void reload(std::uint32_t flags = 0) { detail::check(nvs_store_reload_with_flags(handle_, flags)); }

    /// The bound absolute path, or nullopt when the store is not bound to one.
    std::optional<std::string> file_path() const {
        // NVS_PATH_CAPACITY holds any bound path with its NUL: one call.
        std::string path(NVS_PATH_CAPACITY, '\0');
        std::size_t len = 0;
        const nvs_status status = nvs_store_file_path(handle_, path.data(), path.size(), &len);
        if (status == NVS_STATUS_NO_BOUND_PATH) {
            detail::check(NVS_STATUS_OK);  // not an error: reset last_error()
            return std::nullopt;
        }
        if (!detail::check(status)) {
            return std::nullopt;
        }
        path.resize(len);
        return path;
    }

private:
    // A tag, so that Store(0) means "0 dimensions" and never "this NULL handle".
    struct Adopt {};
    Store(Adopt, nvs_store* handle) noexcept : handle_(handle) {}

    // The top_k and per-query hit capacity of nvs_store_search's sizing rule: top_k, but no
    // more than the rows that can match (within_rows, else the rows present now; at least 1),
    // so a huge top_k allocates no huge buffer and the call never needs more room, even when
    // another thread adds rows meanwhile. A top_k of 0 stays 0 for the library to reject.
    std::size_t sized_top_k(const SearchOptions& options) const noexcept {
        std::size_t candidates = options.within_rows ? options.within_rows->size() : size();
        if (candidates == 0) {
            candidates = 1;
        }
        return options.top_k < candidates ? options.top_k : candidates;
    }

    nvs_store* handle_ = nullptr;
};

}  // namespace nvs

#endif  // NVS_NVS_HPP
