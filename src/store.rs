//! The vector store: rows, ids, validation and locking. Validation happens once, here, before
//! any state changes, so a failed call never leaves a partial change behind.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::{fail, Error, ErrorKind, Result};
use crate::kernels;
use crate::memory;
use crate::npz;
use crate::search;

/// The three exact-search metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Cosine similarity, higher is better. The query is always normalized.
    Cosine,
    /// Dot product, higher is better. Normalized stores normalize the query too.
    Dot,
    /// Euclidean distance, lower is better. Normalized stores normalize the query too.
    Euclidean,
}

impl Metric {
    /// Similarities rank descending, distances ascending.
    pub fn descending(self) -> bool {
        !matches!(self, Metric::Euclidean)
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::Euclidean => "euclidean",
        }
    }
}

/// Search parameters. `threshold` is a minimum for cosine and dot, a maximum for euclidean.
#[derive(Debug, Clone, Copy)]
pub struct SearchOptions<'a> {
    pub top_k: usize,
    pub threshold: Option<f64>,
    /// Restrict the search to these row indexes (unique, in range; empty = no hits).
    pub within_rows: Option<&'a [usize]>,
    /// Worker threads for one search: 0 = automatic, 1 = the calling thread only.
    pub threads: usize,
}

impl Default for SearchOptions<'_> {
    fn default() -> Self {
        SearchOptions { top_k: 10, threshold: None, within_rows: None, threads: 0 }
    }
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Row index (insertion order, 0-based).
    pub index: usize,
    /// The row's metadata id.
    pub id: u64,
    /// Cosine similarity, dot product or euclidean distance.
    pub value: f64,
}

/// Row storage. Rows are contiguous row-major float32; `norms` (raw stores only) caches each
/// row's f64 norm for cosine search.
#[derive(Debug, Default, Clone)]
pub(crate) struct Rows {
    pub(crate) vectors: Vec<f32>,
    pub(crate) ids: Vec<u64>,
    pub(crate) norms: Vec<f64>,
    pub(crate) zero_norm_rows: usize,
}

impl Rows {
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

/// An in-memory exact vector store. All methods take `&self`: the store is internally
/// synchronized (a reader-writer lock), so one store can be shared between threads.
#[derive(Debug)]
pub struct VectorStore {
    dimensions: usize,
    normalize: bool,
    rows: RwLock<Rows>,
    path: Mutex<Option<PathBuf>>,
}

/// Values scaled per kernel call while normalizing (a stack buffer that stays in L1).
const SCALE_CHUNK: usize = 256;

/// Per-row checks shared by the copying and the in-place row preparation.
struct RowStats {
    normalize: bool,
    norms: Vec<f64>,
    zero_norm_rows: usize,
    first_zero_row: Option<usize>,
}

impl RowStats {
    fn new(normalize: bool, rows: usize) -> Result<Self> {
        let mut norms = Vec::new();
        if !normalize {
            norms.try_reserve_exact(rows)?;
        }
        Ok(RowStats { normalize, norms, zero_norm_rows: 0, first_zero_row: None })
    }

    /// Check row `r` and return its f64 norm. The f64 squared norm doubles as the finiteness
    /// check (finite f32 squares never overflow f64), so a non-finite value is found without a
    /// separate scan.
    fn visit(&mut self, r: usize, row: &[f32], what: &str) -> Result<f64> {
        let norm_sq = kernels::norm_sq_f64(row);
        if !norm_sq.is_finite() {
            let c = row.iter().position(|v| !v.is_finite()).unwrap_or(0);
            fail!(NonFinite, "{what} contain a non-finite value ({}) at row {r}, column {c}", row[c]);
        }
        let norm = norm_sq.sqrt();
        if norm == 0.0 {
            self.first_zero_row.get_or_insert(r);
            self.zero_norm_rows += 1;
        }
        if !self.normalize {
            self.norms.push(norm);
        }
        Ok(norm)
    }

    /// Non-finite rows are reported before zero rows, as the reference does, so a zero row in
    /// a normalize store fails the batch only here, at the end.
    fn finish(self, vectors: Vec<f32>, what: &str) -> Result<PreparedRows> {
        if let (true, Some(r)) = (self.normalize, self.first_zero_row) {
            fail!(ZeroNorm, "{what} row {r} has zero norm and cannot be normalized");
        }
        Ok(PreparedRows { vectors, norms: self.norms, zero_norm_rows: self.zero_norm_rows })
    }
}

/// Rows validated and prepared for storage but not yet visible.
pub(crate) struct PreparedRows {
    pub(crate) vectors: Vec<f32>,
    pub(crate) norms: Vec<f64>,
    pub(crate) zero_norm_rows: usize,
}

impl VectorStore {
    /// A new empty store. `dimensions` must be greater than 0.
    pub fn new(dimensions: usize, normalize: bool) -> Result<Self> {
        if dimensions == 0 {
            fail!(InvalidArgument, "dimensions must be greater than 0");
        }
        // Keep row byte sizes representable everywhere (isize::MAX on 32-bit hosts included).
        if dimensions > (i32::MAX as usize) / 4 {
            fail!(InvalidArgument, "dimensions {dimensions} is too large");
        }
        Ok(VectorStore { dimensions, normalize, rows: RwLock::new(Rows::default()), path: Mutex::new(None) })
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    pub fn normalize(&self) -> bool {
        self.normalize
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Rows> {
        // A panic while holding the lock cannot leave Rows half-changed (mutations are
        // single pushes after validation), so a poisoned lock is still safe to use.
        self.rows.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Rows> {
        self.rows.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The one shape check of a row batch: `len` values must make whole rows.
    fn check_whole_rows(&self, len: usize, what: &str) -> Result<()> {
        let d = self.dimensions;
        if !len.is_multiple_of(d) {
            fail!(
                DimensionMismatch,
                "{what} hold {len} values, not a whole number of rows of {d} dimensions"
            );
        }
        Ok(())
    }

    /// Validate a batch of row-major rows and prepare them for storage (normalized copies for
    /// a normalize store). `what` names the rows in messages ("vectors", "loaded vectors").
    /// The caller has checked that `vectors` makes whole rows.
    pub(crate) fn prepare_rows(&self, vectors: &[f32], what: &str) -> Result<PreparedRows> {
        let d = self.dimensions;
        debug_assert!(vectors.len().is_multiple_of(d));
        let mut out = Vec::new();
        out.try_reserve_exact(vectors.len())?;
        memory::advise_huge_pages(&mut out);
        let mut stats = RowStats::new(self.normalize, vectors.len() / d)?;
        // One pass, row by row while the row is in L1. Rows are appended (no zero-fill pass
        // over the new buffer); normalized values go through a small stack buffer.
        let mut scaled = [0.0f32; SCALE_CHUNK];
        for (r, row) in vectors.chunks_exact(d).enumerate() {
            let norm = stats.visit(r, row, what)?;
            if !self.normalize {
                out.extend_from_slice(row);
            } else if norm != 0.0 {
                let inv = 1.0 / norm;
                for part in row.chunks(SCALE_CHUNK) {
                    let dst = &mut scaled[..part.len()];
                    kernels::scale_f64(part, inv, dst);
                    out.extend_from_slice(dst);
                }
            }
        }
        stats.finish(out, what)
    }

    /// [`Self::prepare_rows`] for rows the store may keep: they are checked and normalized in
    /// place, so loading an archive needs no second row buffer (same values, bit for bit).
    pub(crate) fn prepare_owned_rows(&self, mut vectors: Vec<f32>, what: &str) -> Result<PreparedRows> {
        let d = self.dimensions;
        self.check_whole_rows(vectors.len(), what)?;
        let mut stats = RowStats::new(self.normalize, vectors.len() / d)?;
        let mut scaled = [0.0f32; SCALE_CHUNK];
        for (r, row) in vectors.chunks_exact_mut(d).enumerate() {
            let norm = stats.visit(r, row, what)?;
            if self.normalize && norm != 0.0 {
                let inv = 1.0 / norm;
                for part in row.chunks_mut(SCALE_CHUNK) {
                    let dst = &mut scaled[..part.len()];
                    kernels::scale_f64(part, inv, dst);
                    part.copy_from_slice(dst);
                }
            }
        }
        stats.finish(vectors, what)
    }

    /// Append rows with their ids. `vectors` is row-major, `dimensions` wide. With `ids` of
    /// `None`, each row's id is its row index. A failing batch adds nothing.
    pub fn add(&self, vectors: &[f32], ids: Option<&[u64]>) -> Result<()> {
        self.check_whole_rows(vectors.len(), "vectors")?;
        let n = vectors.len() / self.dimensions;
        if let Some(ids) = ids {
            if ids.len() != n {
                fail!(InvalidArgument, "number of vectors ({n}) must match number of ids ({})", ids.len());
            }
        }
        if n == 0 {
            return Ok(());
        }
        let prepared = self.prepare_rows(vectors, "vectors")?;
        let mut rows = self.write();
        let start = rows.len();
        // Reserve everything first so an allocation failure leaves the rows untouched.
        // Vec growth is geometric, so many small adds stay amortized O(1) per row.
        rows.ids.try_reserve(n)?;
        rows.norms.try_reserve(prepared.norms.len())?;
        if rows.vectors.is_empty() && rows.vectors.capacity() < prepared.vectors.len() {
            // The first batch into an empty store: take the prepared buffer, no second copy.
            rows.vectors = prepared.vectors;
        } else {
            rows.vectors.try_reserve(prepared.vectors.len())?;
            rows.vectors.extend_from_slice(&prepared.vectors);
        }
        match ids {
            Some(ids) => rows.ids.extend_from_slice(ids),
            None => rows.ids.extend((start..start + n).map(|i| i as u64)),
        }
        rows.norms.extend_from_slice(&prepared.norms);
        rows.zero_norm_rows += prepared.zero_norm_rows;
        Ok(())
    }

    /// Copy row `index` into `vector` (if given, `dimensions` long) and return its id.
    pub fn get_into(&self, index: usize, vector: Option<&mut [f32]>) -> Result<u64> {
        let rows = self.read();
        if index >= rows.len() {
            fail!(NotFound, "row {index} not found: the store has {} rows", rows.len());
        }
        let d = self.dimensions;
        if let Some(v) = vector {
            if v.len() < d {
                fail!(BufferTooSmall, "vector buffer holds {} floats, a row needs {d}", v.len());
            }
            v[..d].copy_from_slice(&rows.vectors[index * d..(index + 1) * d]);
        }
        Ok(rows.ids[index])
    }

    /// A copy of row `index` and its id, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<(Vec<f32>, u64)> {
        let mut vector = vec![0.0; self.dimensions];
        let id = self.get_into(index, Some(&mut vector)).ok()?;
        Some((vector, id))
    }

    /// Copy rows `start..start + count` into the given buffers (either may be omitted).
    pub fn read_rows(
        &self,
        start: usize,
        count: usize,
        vectors: Option<&mut [f32]>,
        ids: Option<&mut [u64]>,
    ) -> Result<()> {
        let rows = self.read();
        let len = rows.len();
        let end = match start.checked_add(count) {
            Some(end) if end <= len => end,
            _ => fail!(OutOfRange, "rows {start}..{start}+{count} are outside the store ({len} rows)"),
        };
        let d = self.dimensions;
        if let Some(v) = &vectors {
            if v.len() < count * d {
                fail!(
                    BufferTooSmall,
                    "vectors buffer holds {} floats, {count} rows need {}",
                    v.len(),
                    count * d
                );
            }
        }
        if let Some(i) = &ids {
            if i.len() < count {
                fail!(BufferTooSmall, "ids buffer holds {} ids, {count} rows need {count}", i.len());
            }
        }
        if let Some(v) = vectors {
            v[..count * d].copy_from_slice(&rows.vectors[start * d..end * d]);
        }
        if let Some(i) = ids {
            i[..count].copy_from_slice(&rows.ids[start..end]);
        }
        Ok(())
    }

    /// Remove every row and release the memory.
    pub fn clear(&self) {
        *self.write() = Rows::default();
    }

    /// Exact search for one query.
    pub fn search(&self, metric: Metric, query: &[f32], options: &SearchOptions<'_>) -> Result<Vec<Hit>> {
        search::check_query(self.dimensions, query, None)?;
        let rows = self.read();
        let plan = search::Plan::new(self, &rows, metric, options)?;
        let q = plan.prepare_query(query, None)?;
        plan.check_rows()?;
        Ok(plan.run(&q))
    }

    /// Exact search for many queries (row-major, `dimensions` wide) at once. Every query is
    /// validated before any work; results are per query, in query order.
    pub fn search_batch(
        &self,
        metric: Metric,
        queries: &[f32],
        options: &SearchOptions<'_>,
    ) -> Result<Vec<Vec<Hit>>> {
        let d = self.dimensions;
        if !queries.len().is_multiple_of(d) {
            fail!(
                DimensionMismatch,
                "queries hold {} values, not a whole number of queries of {d} dimensions",
                queries.len()
            );
        }
        for (i, q) in queries.chunks_exact(d).enumerate() {
            search::check_query(d, q, Some(i))?;
        }
        let rows = self.read();
        let plan = search::Plan::new(self, &rows, metric, options)?;
        let prepared = queries
            .chunks_exact(d)
            .enumerate()
            .map(|(i, q)| plan.prepare_query(q, Some(i)))
            .collect::<Result<Vec<_>>>()?;
        plan.check_rows()?;
        Ok(plan.run_batch(&prepared))
    }

    /// The bound archive path, if any.
    pub fn file_path(&self) -> Option<PathBuf> {
        self.path.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn bind_path(&self, path: &Path) {
        *self.path.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.to_path_buf());
    }

    /// Replace every row at once (used by open/reload after the archive was fully validated).
    pub(crate) fn replace_rows(&self, prepared: PreparedRows, ids: Vec<u64>) {
        *self.write() = Rows {
            vectors: prepared.vectors,
            ids,
            norms: prepared.norms,
            zero_norm_rows: prepared.zero_norm_rows,
        };
    }
}

/// Persistence: open, save, reload (the archive codec lives in `crate::npz`).
impl VectorStore {
    /// Open an archive file into a new store bound to that path.
    pub fn open(path: impl AsRef<Path>, options: npz::ReadOptions) -> Result<Self> {
        let path = npz::resolve_path(path.as_ref())?;
        let archive = npz::read_file(&path, options)?;
        let store = Self::from_archive(archive)?;
        store.bind_path(&path);
        Ok(store)
    }

    /// Open an archive held in memory (not bound to any path).
    pub fn open_bytes(bytes: &[u8], options: npz::ReadOptions) -> Result<Self> {
        Self::from_archive(npz::read_bytes(bytes, options)?)
    }

    fn from_archive(archive: npz::Archive) -> Result<Self> {
        let store = VectorStore::new(archive.dimensions, archive.normalize)
            .map_err(|e| Error::new(ErrorKind::Format, format!("archive {}", e.message)))?;
        let prepared = store.prepare_loaded(archive.vectors)?;
        store.replace_rows(prepared, archive.ids);
        Ok(store)
    }

    /// Archive rows get the same checks as `add`, in the buffer they were decoded into; a
    /// failure is a format error of the file.
    fn prepare_loaded(&self, vectors: Vec<f32>) -> Result<PreparedRows> {
        self.prepare_owned_rows(vectors, "archive vectors")
            .map_err(|e| Error::new(ErrorKind::Format, e.message))
    }

    /// Save to `path` (and bind it once the write succeeded), or with `None` to the bound path.
    /// The write is atomic: a failure leaves any previous file and the binding unchanged.
    pub fn save(&self, path: Option<&Path>, options: npz::WriteOptions) -> Result<()> {
        let destination = match path {
            Some(p) => npz::resolve_path(p)?,
            None => match self.file_path() {
                Some(p) => p,
                None => fail!(
                    NoBoundPath,
                    "save without a path needs a bound file path (open or save to a path first)"
                ),
            },
        };
        {
            let rows = self.read();
            npz::write_file(
                &destination,
                self.dimensions,
                self.normalize,
                &rows.vectors,
                &rows.ids,
                options,
            )?;
        }
        self.bind_path(&destination);
        Ok(())
    }

    /// Refresh every row from the bound archive. Any failure leaves the store unchanged.
    pub fn reload(&self, options: npz::ReadOptions) -> Result<()> {
        let Some(path) = self.file_path() else {
            fail!(NoBoundPath, "reload needs a bound file path (open or save to a path first)");
        };
        let archive = npz::read_file(&path, options)?;
        if archive.dimensions != self.dimensions {
            fail!(
                DimensionMismatch,
                "archive {} has {} dimensions, store has {}",
                path.display(),
                archive.dimensions,
                self.dimensions
            );
        }
        if archive.normalize != self.normalize {
            fail!(
                InvalidArgument,
                "archive {} has normalize={}, store has normalize={}",
                path.display(),
                archive.normalize,
                self.normalize
            );
        }
        let prepared = self.prepare_loaded(archive.vectors)?;
        self.replace_rows(prepared, archive.ids);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows with wide magnitudes, denormals, -0.0 and a few zero rows, from a fixed LCG.
    fn rows(n: usize, d: usize) -> Vec<f32> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut out = Vec::with_capacity(n * d);
        for r in 0..n {
            for _ in 0..d {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let unit = (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                let scale = [1.0f32, 1e-30, 1e30, 1e-42, 3.0][(x >> 20) as usize % 5];
                out.push(if r % 7 == 3 { 0.0 } else { unit * scale });
            }
        }
        out
    }

    fn prepared(p: Result<PreparedRows>) -> Result<(Vec<u32>, Vec<u64>, usize)> {
        p.map(|p| {
            (
                p.vectors.iter().map(|v| v.to_bits()).collect(),
                p.norms.iter().map(|v| v.to_bits()).collect(),
                p.zero_norm_rows,
            )
        })
    }

    #[test]
    fn in_place_preparation_equals_the_copying_one() {
        for d in [1, 3, 16, 255, 256, 257, 700] {
            for normalize in [false, true] {
                let store = VectorStore::new(d, normalize).unwrap();
                let mut data = rows(20, d);
                if normalize {
                    // Zero rows fail a normalize store: compare the failure, then drop them.
                    let a = store.prepare_rows(&data, "v").err().unwrap();
                    let b = store.prepare_owned_rows(data.clone(), "v").err().unwrap();
                    assert_eq!((a.kind, a.message), (b.kind, b.message));
                    data =
                        data.chunks(d).filter(|r| r.iter().any(|&v| v != 0.0)).flatten().copied().collect();
                }
                let copied = prepared(store.prepare_rows(&data, "v")).unwrap();
                let in_place = prepared(store.prepare_owned_rows(data.clone(), "v")).unwrap();
                assert_eq!(copied, in_place, "d={d} normalize={normalize}");
                let mut bad = data.clone();
                bad[d + d / 2] = f32::NAN;
                let a = store.prepare_rows(&bad, "v").err().unwrap();
                let b = store.prepare_owned_rows(bad, "v").err().unwrap();
                assert_eq!((a.kind, &a.message), (b.kind, &b.message));
                assert!(a.message.contains("row 1"), "{}", a.message);
            }
        }
    }
}
