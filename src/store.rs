//! The vector store: a lock around the rows, their ids and the bound path. Every call
//! validates first (rows in `rows.rs`, requests in `search/`) and changes state last, so a
//! failed call never leaves a partial change behind. Persistence (open, save, reload) lives
//! beside the codec, in `npz/store.rs`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::{fail, Result};
use crate::rows::{Layout, Rows, Storage};
use crate::search::{self, Hit, Metric, SearchOptions};

/// Batches up to this many values (64 KiB) are prepared under the write lock, in place: a
/// few microseconds of lock time buy one-row adds without a temporary buffer.
const IN_PLACE_ADD_VALUES: usize = 16 << 10;

/// An in-memory exact vector store. All methods take `&self`: the store is internally
/// synchronized (a reader-writer lock), so one store can be shared between threads.
#[derive(Debug)]
pub struct VectorStore {
    layout: Layout,
    rows: RwLock<Rows>,
    path: Mutex<Option<PathBuf>>,
}

impl VectorStore {
    /// A new empty store. `dimensions` must be greater than 0.
    pub fn new(dimensions: usize, normalize: bool) -> Result<Self> {
        Self::with_storage(dimensions, normalize, Storage::Float32)
    }

    /// A new empty store that keeps its rows as `storage` says.
    pub fn with_storage(dimensions: usize, normalize: bool, storage: Storage) -> Result<Self> {
        let layout = Layout::new(dimensions, normalize)?.with_storage(storage);
        Ok(VectorStore { layout, rows: RwLock::new(Rows::empty(storage)), path: Mutex::new(None) })
    }

    /// How the store keeps its rows.
    pub fn storage(&self) -> Storage {
        self.layout.storage
    }

    pub fn dimensions(&self) -> usize {
        self.layout.dimensions
    }

    pub fn normalize(&self) -> bool {
        self.layout.normalize
    }

    pub(crate) fn layout(&self) -> Layout {
        self.layout
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

    /// Append rows with their ids. `vectors` is row-major, `dimensions` wide. With `ids` of
    /// `None`, each row's id is its row index. A failing batch adds nothing.
    pub fn add(&self, vectors: &[f32], ids: Option<&[u64]>) -> Result<()> {
        self.layout.check_whole_rows(vectors.len(), "vectors")?;
        let n = vectors.len() / self.layout.dimensions;
        if let Some(ids) = ids {
            if ids.len() != n {
                fail!(InvalidArgument, "number of vectors ({n}) must match number of ids ({})", ids.len());
            }
        }
        if n == 0 {
            return Ok(());
        }
        if vectors.len() <= IN_PLACE_ADD_VALUES {
            return self.write().append_in_place(self.layout, vectors, ids);
        }
        // Larger batches are prepared before taking the lock, so searches are not held up.
        let prepared = self.layout.prepare_rows(vectors, "vectors")?;
        self.write().append(self.layout, prepared, n, ids)
    }

    /// Copy row `index` into `vector` (if given, `dimensions` long) and return its id.
    pub fn get_into(&self, index: usize, vector: Option<&mut [f32]>) -> Result<u64> {
        let rows = self.read();
        if index >= rows.len() {
            fail!(NotFound, "row {index} not found: the store has {} rows", rows.len());
        }
        let d = self.layout.dimensions;
        if let Some(v) = vector {
            if v.len() < d {
                fail!(BufferTooSmall, "vector buffer holds {} floats, a row needs {d}", v.len());
            }
            rows.row_into(index, d, v);
        }
        Ok(rows.ids.get(index))
    }

    /// A copy of row `index` and its id, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<(Vec<f32>, u64)> {
        let mut vector = vec![0.0; self.layout.dimensions];
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
        match start.checked_add(count) {
            Some(end) if end <= len => {}
            _ => fail!(OutOfRange, "rows {start}..{start}+{count} are outside the store ({len} rows)"),
        };
        let d = self.layout.dimensions;
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
            rows.vectors.copy_to(start * d, &mut v[..count * d]);
        }
        if let Some(i) = ids {
            rows.ids.copy_to(start, &mut i[..count]);
        }
        Ok(())
    }

    /// Remove every row and release the memory.
    pub fn clear(&self) {
        *self.write() = Rows::empty(self.layout.storage);
    }

    /// Exact search for one query.
    pub fn search(&self, metric: Metric, query: &[f32], options: &SearchOptions<'_>) -> Result<Vec<Hit>> {
        search::check_query(self.layout.dimensions, query, None)?;
        search::one(self.layout, &self.read(), metric, query, options)
    }

    /// Exact search for many queries (row-major, `dimensions` wide) at once. Every query is
    /// validated before any work; results are per query, in query order.
    pub fn search_batch(
        &self,
        metric: Metric,
        queries: &[f32],
        options: &SearchOptions<'_>,
    ) -> Result<Vec<Vec<Hit>>> {
        search::check_queries(self.layout.dimensions, queries)?;
        search::many(self.layout, &self.read(), metric, queries, options)
    }

    /// The bound archive path, if any.
    pub fn file_path(&self) -> Option<PathBuf> {
        self.path.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn bind_path(&self, path: &Path) {
        *self.path.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.to_path_buf());
    }

    /// Replace every row at once (open and reload, after the archive was fully validated).
    /// Swap in new rows (a reload); the old ones, and any mapping they held, are released.
    pub(crate) fn replace_all(&self, rows: Rows) {
        let old = std::mem::replace(&mut *self.write(), rows);
        drop(old);
    }
}
