//! C entry points for creating, filling, reading and searching a store.

use super::{
    boundary, boundary_value, nvs_status, optional_slice_mut, required, slice, slice_mut, write_optional,
    write_out,
};
use crate::error::{Error, ErrorKind};
use crate::search::{Hit, Metric, SearchOptions};
use crate::store::VectorStore;
use crate::Storage;

/// An opaque store handle. Create with `nvs_store_new` or `nvs_store_open*`, release with
/// `nvs_store_free`. Thread-safe: see the note at the top of this header.
pub struct nvs_store {
    pub(crate) inner: VectorStore,
}

/// Search metric: one of the `NVS_METRIC_*` values. A plain integer type so that any value a
/// caller passes is well defined (unknown values give `INVALID_ARGUMENT`).
pub type nvs_metric = u32;
/// Cosine similarity, highest first. The query is always normalized (zero query rejected).
pub const NVS_METRIC_COSINE: nvs_metric = 0;
/// Dot product, highest first. A normalize store normalizes the query too.
pub const NVS_METRIC_DOT: nvs_metric = 1;
/// Euclidean distance, lowest first. A normalize store normalizes the query too.
pub const NVS_METRIC_EUCLIDEAN: nvs_metric = 2;

/// How a store keeps its rows: one of the `NVS_STORAGE_*` values (a plain integer type, so
/// any value is well defined; unknown values give `INVALID_ARGUMENT`).
pub type nvs_storage = u32;
/// float32 rows, exactly as added (after normalization): the default and the reference's
/// behaviour.
pub const NVS_STORAGE_FLOAT32: nvs_storage = 0;
/// IEEE float16 rows: half the memory and half the bytes a search reads. Rows are checked and
/// normalized in float32, then rounded to the nearest float16 (a value beyond 65504 in
/// magnitude is `OUT_OF_RANGE` and fails the add); queries stay float32 and values are
/// computed in float32 from the rounded rows (raw stores: exactly, from the rounded rows). So
/// values differ from a float32 store's by the rounding of the rows (see the README). Saves
/// write `vectors` as `<f2`; opening such an archive gives a float16 store.
pub const NVS_STORAGE_FLOAT16: nvs_storage = 1;

fn storage_from(storage: nvs_storage) -> Result<Storage, Error> {
    match storage {
        NVS_STORAGE_FLOAT32 => Ok(Storage::Float32),
        NVS_STORAGE_FLOAT16 => Ok(Storage::Float16),
        s => Err(Error::new(ErrorKind::InvalidArgument, format!("unknown storage {s}"))),
    }
}

/// One search result.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct nvs_hit {
    /// Row index (insertion order, 0-based).
    pub index: usize,
    /// The row's metadata id.
    pub id: u64,
    /// Cosine similarity, dot product or euclidean distance.
    pub value: f64,
}

/// Search options. Always start from `nvs_search_options_default()` and then set fields:
/// `size` lets later versions add fields without breaking callers built against this one.
/// A `size` smaller than this struct is `INVALID_ARGUMENT`. A larger one (a caller built
/// against a newer header) is accepted when every byte past the fields this library knows is
/// zero (new fields default to zero), and is `INVALID_ARGUMENT` otherwise, or when `size` is
/// over `NVS_SEARCH_OPTIONS_MAX_SIZE`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nvs_search_options {
    /// `sizeof(nvs_search_options)` as the caller compiled it (set by the default function).
    pub size: usize,
    /// Maximum number of hits, greater than 0. Default 10.
    pub top_k: usize,
    /// Only with `has_threshold`: the minimum value for cosine and dot, the maximum distance
    /// for euclidean. Must be finite.
    pub threshold: f64,
    /// Whether `threshold` applies. Default false.
    pub has_threshold: bool,
    /// Whether to restrict the search to `within_rows`. Default false. With true and a length
    /// of 0 the search returns no hits (after validating the query).
    pub has_within_rows: bool,
    /// Row indexes to search, unique and inside the store, in any order (the result order is
    /// the same). Read during the call only. May be NULL when `within_rows_len` is 0.
    pub within_rows: *const usize,
    /// Number of entries in `within_rows`.
    pub within_rows_len: usize,
    /// Worker threads for this search: 0 (default) picks automatically (one thread for small
    /// stores, all cores for large ones), 1 keeps the work on the calling thread.
    pub threads: usize,
}

/// The largest `nvs_search_options.size` accepted (a bound on how much is read).
pub const NVS_SEARCH_OPTIONS_MAX_SIZE: usize = 1024;

/// The default search options: top_k 10, no threshold, no prefilter, automatic threads.
#[no_mangle]
pub extern "C" fn nvs_search_options_default() -> nvs_search_options {
    nvs_search_options {
        size: std::mem::size_of::<nvs_search_options>(),
        top_k: 10,
        threshold: 0.0,
        has_threshold: false,
        has_within_rows: false,
        within_rows: std::ptr::null(),
        within_rows_len: 0,
        threads: 0,
    }
}

/// Hand a new store to C: `*out` owns it until `nvs_store_free`.
///
/// # Safety
/// `out` must be NULL (an error) or valid for writes.
pub(super) unsafe fn into_handle(store: VectorStore, out: *mut *mut nvs_store) -> Result<(), Error> {
    required(out, "out")?;
    let handle = Box::into_raw(Box::new(nvs_store { inner: store }));
    // SAFETY: non-NULL (checked), writable by contract.
    unsafe { write_out(out, handle, "out") }
}

/// Borrow the store behind a handle.
///
/// # Safety
/// `store` must be NULL or a live handle from this library.
pub(super) unsafe fn from_handle<'a>(store: *const nvs_store) -> Result<&'a VectorStore, Error> {
    // SAFETY: the caller passes NULL or a live handle; NULL is checked by `as_ref`.
    unsafe { store.as_ref() }
        .map(|s| &s.inner)
        .ok_or_else(|| Error::new(ErrorKind::NullArgument, "store must not be NULL"))
}

fn metric_from(metric: nvs_metric) -> Result<Metric, Error> {
    match metric {
        NVS_METRIC_COSINE => Ok(Metric::Cosine),
        NVS_METRIC_DOT => Ok(Metric::Dot),
        NVS_METRIC_EUCLIDEAN => Ok(Metric::Euclidean),
        m => Err(Error::new(ErrorKind::InvalidArgument, format!("unknown metric {m}"))),
    }
}

/// Read the options struct (NULL means the defaults).
///
/// # Safety
/// `options` must be NULL or point to an initialized `nvs_search_options` whose `size` field
/// is no larger than the memory behind it; `within_rows` must point to `within_rows_len` entries.
unsafe fn options_from<'a>(options: *const nvs_search_options) -> Result<SearchOptions<'a>, Error> {
    // SAFETY: caller contract above.
    let Some(o) = (unsafe { options.as_ref() }) else {
        return Ok(SearchOptions::default());
    };
    let known = std::mem::size_of::<nvs_search_options>();
    if o.size < known || o.size > NVS_SEARCH_OPTIONS_MAX_SIZE {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "options.size is {}, expected {known} (at most {NVS_SEARCH_OPTIONS_MAX_SIZE}): initialize options with nvs_search_options_default()",
                o.size
            ),
        ));
    }
    if o.size > known {
        // SAFETY: the caller's `size` says this many bytes are readable behind `options`.
        let tail = unsafe { std::slice::from_raw_parts((options as *const u8).add(known), o.size - known) };
        if let Some(at) = tail.iter().position(|&b| b != 0) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "options.size is {}: byte {} is set, but this library ({}) knows only the first {known} bytes of nvs_search_options",
                    o.size,
                    known + at,
                    crate::VERSION
                ),
            ));
        }
    }
    let within_rows = if o.has_within_rows {
        // SAFETY: caller contract above.
        Some(unsafe { slice(o.within_rows, o.within_rows_len, "options.within_rows") }?)
    } else {
        None
    };
    Ok(SearchOptions {
        top_k: o.top_k,
        threshold: o.has_threshold.then_some(o.threshold),
        within_rows,
        threads: o.threads,
    })
}

/// Create an empty store with `dimensions` (> 0) columns. With `normalize` true (the usual
/// choice) rows and queries are stored and compared as unit vectors. On success `*out` owns a
/// new handle; free it with `nvs_store_free`.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_new(
    dimensions: usize,
    normalize: bool,
    out: *mut *mut nvs_store,
) -> nvs_status {
    boundary(|| {
        required(out, "out")?;
        let store = VectorStore::new(dimensions, normalize)?;
        // SAFETY: `out` is writable by contract.
        unsafe { into_handle(store, out) }
    })
}

/// `nvs_store_new` with the rows kept as `storage` says (`NVS_STORAGE_FLOAT32` or
/// `NVS_STORAGE_FLOAT16`).
#[no_mangle]
pub unsafe extern "C" fn nvs_store_new_with_storage(
    dimensions: usize,
    normalize: bool,
    storage: nvs_storage,
    out: *mut *mut nvs_store,
) -> nvs_status {
    boundary(|| {
        required(out, "out")?;
        let store = VectorStore::with_storage(dimensions, normalize, storage_from(storage)?)?;
        // SAFETY: `out` is writable by contract.
        unsafe { into_handle(store, out) }
    })
}

/// How the store keeps its rows (`NVS_STORAGE_FLOAT32` for NULL).
#[no_mangle]
pub unsafe extern "C" fn nvs_store_storage(store: *const nvs_store) -> nvs_storage {
    // SAFETY: NULL or a live handle.
    boundary_value(NVS_STORAGE_FLOAT32, || match unsafe { from_handle(store) }.map(|s| s.storage()) {
        Ok(Storage::Float16) => NVS_STORAGE_FLOAT16,
        _ => NVS_STORAGE_FLOAT32,
    })
}

/// Free a store. NULL is a no-op. The handle must not be used afterwards, and no other thread
/// may be using it during the call.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_free(store: *mut nvs_store) {
    if !store.is_null() {
        boundary_value((), || {
            // SAFETY: a non-NULL handle came from Box::into_raw in this library.
            drop(unsafe { Box::from_raw(store) })
        });
    }
}

/// Append rows. `vectors` holds `vectors_len` floats, row-major, a whole number of rows of the
/// store's dimensions (else `DIMENSION_MISMATCH`). `ids` holds one id per row (`ids_len` must
/// equal the row count); with `ids` NULL and `ids_len` 0 each row's id is its row index (NULL
/// with `ids_len` > 0 is `NULL_ARGUMENT`). Values must be finite;
/// a normalize store rejects zero-norm rows and stores unit vectors. The data is copied before
/// return. On any failure nothing is added.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_add(
    store: *mut nvs_store,
    vectors: *const f32,
    vectors_len: usize,
    ids: *const u64,
    ids_len: usize,
) -> nvs_status {
    boundary(|| {
        // SAFETY: handle and spans are the caller's contract; NULL/alignment are checked.
        let store = unsafe { from_handle(store) }?;
        check_width(store, vectors_len, "vectors", "rows")?;
        // SAFETY: by contract `vectors` holds `vectors_len` readable floats; `slice` checks the
        // rest.
        let vectors = unsafe { slice(vectors, vectors_len, "vectors") }?;
        let ids = if ids.is_null() && ids_len == 0 {
            None
        } else {
            // SAFETY: by contract `ids` holds `ids_len` readable ids; `slice` checks the rest.
            Some(unsafe { slice(ids, ids_len, "ids") }?)
        };
        store.add(vectors, ids)
    })
}

/// Copy row `index` into `vector` (`vector_len` >= dimensions floats; may be NULL to skip) and
/// its id into `*id` (may be NULL). An index past the end gives `NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_get(
    store: *const nvs_store,
    index: usize,
    vector: *mut f32,
    vector_len: usize,
    id: *mut u64,
) -> nvs_status {
    boundary(|| {
        // SAFETY: caller contract; NULL/alignment checked.
        let store = unsafe { from_handle(store) }?;
        // SAFETY: by contract a non-NULL `vector` holds `vector_len` writable floats that
        // nothing else uses during the call; the helper checks the rest.
        let vector = unsafe { optional_slice_mut(vector, vector_len, "vector") }?;
        let value = store.get_into(index, vector)?;
        // SAFETY: `id` is NULL or writable by contract.
        unsafe { write_optional(id, value) };
        Ok(())
    })
}

/// Number of rows (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn nvs_store_len(store: *const nvs_store) -> usize {
    // SAFETY: NULL or a live handle.
    boundary_value(0, || unsafe { from_handle(store) }.map_or(0, |s| s.len()))
}

/// The store's dimensions (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn nvs_store_dimensions(store: *const nvs_store) -> usize {
    // SAFETY: NULL or a live handle.
    boundary_value(0, || unsafe { from_handle(store) }.map_or(0, |s| s.dimensions()))
}

/// Whether the store normalizes rows and queries (false for NULL).
#[no_mangle]
pub unsafe extern "C" fn nvs_store_normalize(store: *const nvs_store) -> bool {
    // SAFETY: NULL or a live handle.
    boundary_value(false, || unsafe { from_handle(store) }.is_ok_and(|s| s.normalize()))
}

/// Remove every row and release its memory. Dimensions, normalize and the bound path stay.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_clear(store: *mut nvs_store) -> nvs_status {
    boundary(|| {
        // SAFETY: NULL or a live handle.
        unsafe { from_handle(store) }?.clear();
        Ok(())
    })
}

/// Copy rows `start .. start + count` out: their vectors into `vectors` (`vectors_len` >=
/// count * dimensions floats) and their ids into `ids` (`ids_len` >= count). Either buffer may
/// be NULL to skip it. A range past the end gives `OUT_OF_RANGE`; a short buffer
/// `BUFFER_TOO_SMALL`. Nothing is written on failure.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_read_rows(
    store: *const nvs_store,
    start: usize,
    count: usize,
    vectors: *mut f32,
    vectors_len: usize,
    ids: *mut u64,
    ids_len: usize,
) -> nvs_status {
    boundary(|| {
        // SAFETY: caller contract; NULL/alignment checked.
        let store = unsafe { from_handle(store) }?;
        // SAFETY: by contract a non-NULL `vectors` holds `vectors_len` writable floats that
        // nothing else uses during the call; the helper checks the rest.
        let vectors = unsafe { optional_slice_mut(vectors, vectors_len, "vectors") }?;
        // SAFETY: as for `vectors`, with `ids_len` ids.
        let ids = unsafe { optional_slice_mut(ids, ids_len, "ids") }?;
        store.read_rows(start, count, vectors, ids)
    })
}

/// The documented order checks widths first: a length that is not a whole number of rows is
/// `DIMENSION_MISMATCH` before the pointer and span are looked at (so even `SIZE_MAX`).
fn check_width(store: &VectorStore, len: usize, name: &str, unit: &str) -> Result<(), Error> {
    let d = store.dimensions();
    if !len.is_multiple_of(d) {
        return Err(Error::new(
            ErrorKind::DimensionMismatch,
            format!("{name} hold {len} values, not a whole number of {unit} of {d} dimensions"),
        ));
    }
    Ok(())
}

fn write_hits(found: &[Hit], hits: &mut [nvs_hit]) {
    for (dst, h) in hits.iter_mut().zip(found) {
        *dst = nvs_hit { index: h.index, id: h.id, value: h.value };
    }
}

/// Exact search for one query of `query_len` floats (must equal the dimensions). `options` may
/// be NULL for the defaults. At most `top_k` hits are written best first into `hits` and their
/// number into `*hits_len`. If they do not fit in `hits_capacity`, the call returns
/// `BUFFER_TOO_SMALL` and writes the number needed to `*hits_len`.
///
/// Sizing `hits` once: a capacity of `top_k` always suffices. To avoid a huge buffer for a
/// huge `top_k` (such as `SIZE_MAX` for "every row"), compute
/// `k = min(top_k, max(candidates, 1))`, where `candidates` is `within_rows_len` when
/// `has_within_rows` is set and otherwise `nvs_store_len()` read just before the call, and pass
/// `k` both as `options.top_k` and as `hits_capacity`. The call then never needs more room,
/// even while other threads add rows: it returns the best `k` hits of the rows present when
/// the search runs. With a prefilter this is exactly the search asked for. Without one it
/// differs only when `top_k` exceeds the row count read and rows are added between that read
/// and the search: the result is then the first `k` hits of the requested one (the best of
/// all rows present, new ones included), not all of them. A `top_k` of 0 stays 0 and is
/// rejected as usual.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_search(
    store: *const nvs_store,
    metric: nvs_metric,
    query: *const f32,
    query_len: usize,
    options: *const nvs_search_options,
    hits: *mut nvs_hit,
    hits_capacity: usize,
    hits_len: *mut usize,
) -> nvs_status {
    boundary(|| {
        // SAFETY: caller contract; NULL/alignment checked.
        let store = unsafe { from_handle(store) }?;
        required(hits_len, "hits_len")?;
        if query_len != store.dimensions() {
            return Err(Error::new(
                ErrorKind::DimensionMismatch,
                format!("query has {query_len} dimensions, store has {}", store.dimensions()),
            ));
        }
        let metric = metric_from(metric)?;
        // SAFETY: by contract `query` holds `query_len` readable floats; `slice` checks the rest.
        let query = unsafe { slice(query, query_len, "query") }?;
        // SAFETY: by contract `options` is NULL or valid as `options_from` requires.
        let options = unsafe { options_from(options) }?;
        // SAFETY: by contract `hits` holds `hits_capacity` writable entries that nothing else
        // uses during the call; `slice_mut` checks the rest.
        let hits_out = unsafe { slice_mut(hits, hits_capacity, "hits") }?;
        let found = store.search(metric, query, &options)?;
        // SAFETY: hits_len is non-NULL (checked) and writable by contract.
        unsafe { hits_len.write(found.len()) };
        if found.len() > hits_out.len() {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!("{} hits do not fit in hits_capacity {}", found.len(), hits_out.len()),
            ));
        }
        write_hits(&found, hits_out);
        Ok(())
    })
}

/// Exact search for many queries at once: `queries` holds `queries_len` floats, a whole number
/// of queries of the store's dimensions. Query `i`'s hits go to `hits[i * hits_per_query ..]`,
/// best first, and their number to `hits_lens[i]`; `hits` must hold `hits_capacity` >=
/// query_count * hits_per_query entries and `hits_lens` query_count entries. Every query is
/// validated before any search runs; an invalid query fails the whole call (its index is in
/// the message). Each query gets at most `top_k` hits. If `hits_capacity` is short or some
/// query's hits exceed `hits_per_query`, the call returns `BUFFER_TOO_SMALL` with every
/// query's hit count already in `hits_lens`.
///
/// Sizing `hits` once: `hits_per_query` = `top_k` always suffices. For a huge `top_k`, use
/// the `k` of `nvs_store_search` (`min(top_k, max(candidates, 1))`, `candidates` being
/// `within_rows_len` with a prefilter, else `nvs_store_len()` read just before the call) as
/// `options.top_k` and as `hits_per_query`, with `hits_capacity` = query_count * `k`; the
/// call then never needs more room, with the same result as described there.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_search_batch(
    store: *const nvs_store,
    metric: nvs_metric,
    queries: *const f32,
    queries_len: usize,
    options: *const nvs_search_options,
    hits: *mut nvs_hit,
    hits_capacity: usize,
    hits_per_query: usize,
    hits_lens: *mut usize,
) -> nvs_status {
    boundary(|| {
        // SAFETY: caller contract; NULL/alignment checked.
        let store = unsafe { from_handle(store) }?;
        check_width(store, queries_len, "queries", "queries")?;
        let metric = metric_from(metric)?;
        // SAFETY: by contract `queries` holds `queries_len` readable floats; `slice` checks the
        // rest.
        let queries = unsafe { slice(queries, queries_len, "queries") }?;
        // SAFETY: by contract `options` is NULL or valid as `options_from` requires.
        let options = unsafe { options_from(options) }?;
        if !queries.is_empty() {
            required(hits_lens, "hits_lens")?;
        }
        // Validate and search first, so a bad query reports its own status, not the buffer's.
        let found = store.search_batch(metric, queries, &options)?;
        // A hit buffer that is there must be usable before any output is written (a failed
        // call writes nothing); NULL with capacity 0 is a sizing call.
        // SAFETY: by contract `hits` holds `hits_capacity` writable entries that nothing else
        // uses during the call; `slice_mut` checks the rest.
        let hits_out = unsafe { slice_mut(hits, hits_capacity, "hits") }?;
        // SAFETY: by contract `hits_lens` holds one writable entry per query (`found` has one
        // per query), apart from `hits`; `slice_mut` checks the rest.
        let lens_out = unsafe { slice_mut(hits_lens, found.len(), "hits_lens") }?;
        for (len, f) in lens_out.iter_mut().zip(&found) {
            *len = f.len();
        }
        let needed = found.len().saturating_mul(hits_per_query);
        if hits_capacity < needed {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!(
                    "hits_capacity {hits_capacity} is less than {} queries x {hits_per_query} hits_per_query",
                    found.len()
                ),
            ));
        }
        if let Some((i, f)) = found.iter().enumerate().find(|(_, f)| f.len() > hits_per_query) {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!("query {i} has {} hits, more than hits_per_query {hits_per_query}", f.len()),
            ));
        }
        for (i, f) in found.iter().enumerate() {
            write_hits(f, &mut hits_out[i * hits_per_query..]);
        }
        Ok(())
    })
}
