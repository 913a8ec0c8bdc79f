//! Rows and their preparation: the one shape check, the finiteness and zero-norm checks, the
//! cached norms of raw stores and the normalization of normalized ones. `add` and archive
//! loading both go through here, so stored rows are the same bits whichever way they came in,
//! with one rule for loaded rows (see [`UNIT_TOLERANCE`]): a normalize store keeps an archive
//! row that is already unit length as it is, so a saved store opens with its own bits.

use std::mem::MaybeUninit;
use std::sync::{Mutex, OnceLock};

use crate::column::Column;
use crate::error::{fail, Error, Result};
use crate::kernels::tuning::PARALLEL_MIN_VALUES;
use crate::kernels::{f16, Kernel, Op};
use crate::memory::{self, Plain};
use crate::pool::{available_threads, in_parallel};

/// What every row of a store shares: its width, whether rows are kept unit length, and how
/// their values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) dimensions: usize,
    pub(crate) normalize: bool,
    pub(crate) storage: Storage,
}

/// How a store keeps its row values. Queries, normalization and every computed value stay
/// float32 (float64 for raw stores' exact values) whichever is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Storage {
    /// 4 bytes a value, exactly as added (after normalization): the reference's behaviour.
    #[default]
    Float32,
    /// IEEE float16, 2 bytes a value: half the memory and half the bytes a search streams.
    /// Rows are checked and normalized in float32, then rounded to the nearest float16; values
    /// are computed from the rounded rows. A value beyond float16's range (65504) is refused.
    Float16,
}

/// Row values: float32 or float16 (bit patterns), one [`Column`] either way.
#[derive(Debug, Clone)]
pub(crate) enum Values {
    F32(Column<f32>),
    F16(Column<u16>),
}

impl Values {
    fn new(storage: Storage) -> Self {
        match storage {
            Storage::Float32 => Values::F32(Column::default()),
            Storage::Float16 => Values::F16(Column::default()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Values::F32(c) => c.len(),
            Values::F16(c) => c.len(),
        }
    }

    pub(crate) fn is_mapped(&self) -> bool {
        match self {
            Values::F32(c) => c.is_mapped(),
            Values::F16(c) => c.is_mapped(),
        }
    }

    /// Values `start..start + out.len()` as float32 (float16 ones widened, exactly).
    pub(crate) fn copy_to(&self, start: usize, out: &mut [f32]) {
        match self {
            Values::F32(c) => c.copy_to(start, out),
            Values::F16(c) => {
                let mut bits = vec![0u16; out.len()];
                c.copy_to(start, &mut bits);
                f16::widen(&bits, out);
            }
        }
    }
}

/// A kind of stored value the kernels score directly.
pub(crate) trait Elem: Plain {
    fn scores(kernel: Kernel, op: Op, query: &[f32], rows: &[&[Self]], out: &mut [f32]);
    fn scores_tile(kernel: Kernel, op: Op, queries: &[&[f32]], rows: &[&[Self]], out: &mut [f32]);
    /// Point `out` at `rows` as float32: the rows themselves where they are float32, else
    /// their values widened into `scratch`.
    fn as_f32<'a>(rows: &[&'a [Self]], scratch: &'a mut Vec<f32>, out: &mut [&'a [f32]]);
    fn is_finite(self) -> bool;
}

impl Elem for f32 {
    fn scores(kernel: Kernel, op: Op, query: &[f32], rows: &[&[f32]], out: &mut [f32]) {
        kernel.scores(op, query, rows, out)
    }
    fn scores_tile(kernel: Kernel, op: Op, queries: &[&[f32]], rows: &[&[f32]], out: &mut [f32]) {
        kernel.scores_tile(op, queries, rows, out)
    }
    fn as_f32<'a>(rows: &[&'a [f32]], _: &'a mut Vec<f32>, out: &mut [&'a [f32]]) {
        out[..rows.len()].copy_from_slice(rows);
    }
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Elem for u16 {
    fn scores(kernel: Kernel, op: Op, query: &[f32], rows: &[&[u16]], out: &mut [f32]) {
        kernel.scores_f16(op, query, rows, out)
    }
    fn scores_tile(kernel: Kernel, op: Op, queries: &[&[f32]], rows: &[&[u16]], out: &mut [f32]) {
        kernel.scores_tile_f16(op, queries, rows, out)
    }
    fn as_f32<'a>(rows: &[&'a [u16]], scratch: &'a mut Vec<f32>, out: &mut [&'a [f32]]) {
        let d = rows.first().map_or(0, |r| r.len());
        scratch.resize(rows.len() * d, 0.0);
        for (row, dst) in rows.iter().zip(scratch.chunks_exact_mut(d.max(1))) {
            f16::widen(row, dst);
        }
        for (o, src) in out.iter_mut().zip(scratch.chunks_exact(d.max(1))) {
            *o = src;
        }
    }
    fn is_finite(self) -> bool {
        self & 0x7c00 != 0x7c00
    }
}

/// Row storage: row-major values and one id per row, each a [`Column`] (a prefix that may be
/// mapped from an archive, then private memory). Raw stores cache each row's f64 norm for
/// their searches ([`Rows::norms`]).
#[derive(Debug, Clone)]
pub(crate) struct Rows {
    pub(crate) vectors: Values,
    pub(crate) ids: Column<u64>,
    /// Unset only for a mapped raw store until a search needs them: the open does not read
    /// the rows. Normalized stores keep none (an empty, set value).
    norms: OnceLock<Norms>,
}

/// The cached f64 norms of a raw store's rows, and how many are zero.
#[derive(Debug, Default, Clone)]
pub(crate) struct Norms {
    pub(crate) values: Vec<f64>,
    pub(crate) zero_rows: usize,
}

/// Rows validated and prepared for storage but not yet visible.
pub(crate) struct PreparedRows {
    pub(crate) vectors: Vec<f32>,
    pub(crate) norms: Vec<f64>,
    pub(crate) zero_norm_rows: usize,
}

impl Layout {
    /// `dimensions` must be greater than 0 and small enough that row byte sizes stay
    /// representable everywhere (isize::MAX on 32-bit hosts included).
    pub(crate) fn new(dimensions: usize, normalize: bool) -> Result<Self> {
        if dimensions == 0 {
            fail!(InvalidArgument, "dimensions must be greater than 0");
        }
        if dimensions > (i32::MAX as usize) / 4 {
            fail!(InvalidArgument, "dimensions {dimensions} is too large");
        }
        Ok(Layout { dimensions, normalize, storage: Storage::Float32 })
    }

    pub(crate) fn with_storage(self, storage: Storage) -> Self {
        Layout { storage, ..self }
    }

    /// The one shape check of a row batch: `len` values must make whole rows.
    pub(crate) fn check_whole_rows(&self, len: usize, what: &str) -> Result<()> {
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
    /// a normalize store). `what` names the rows in messages ("vectors", "archive vectors").
    /// The caller has checked that `vectors` makes whole rows.
    pub(crate) fn prepare_rows(&self, vectors: &[f32], what: &str) -> Result<PreparedRows> {
        let d = self.dimensions;
        debug_assert!(vectors.len().is_multiple_of(d));
        let mut out = Vec::new();
        out.try_reserve_exact(vectors.len())?;
        memory::advise_huge_pages(&mut out);
        let n = vectors.len() / d;
        let parts = if vectors.len() >= PARALLEL_MIN_VALUES { available_threads().min(n) } else { 1 };
        if parts > 1 {
            return self.prepare_rows_in_parts(vectors, out, parts, what);
        }
        let mut norms = self.norms_for(n)?;
        let mut stats = RowStats::new(self.normalize);
        // One pass: each row is appended (no zero-fill pass over the new buffer) and prepared
        // right away, while it is in L1.
        for (r, row) in vectors.chunks_exact(d).enumerate() {
            let start = out.len();
            out.extend_from_slice(row);
            stats.prepare(r, &mut out[start..], &mut norms, what)?;
        }
        stats.check_zero_rows(what)?;
        Ok(PreparedRows { vectors: out, norms, zero_norm_rows: stats.zero_norm_rows })
    }

    /// [`Self::prepare_rows`] for a large batch, on the worker pool: each part copies and
    /// prepares its own rows into its own span of `out` (page faults, the copy and the norms
    /// all in parallel). Same bits, same verdicts and messages as one pass: the first part
    /// with a non-finite row holds the batch's first one, and zero rows are judged after all.
    fn prepare_rows_in_parts(
        &self,
        vectors: &[f32],
        mut out: Vec<f32>,
        parts: usize,
        what: &str,
    ) -> Result<PreparedRows> {
        let d = self.dimensions;
        let per = (vectors.len() / d).div_ceil(parts) * d;
        let spans: Vec<Mutex<&mut [MaybeUninit<f32>]>> =
            out.spare_capacity_mut()[..vectors.len()].chunks_mut(per).map(Mutex::new).collect();
        let results = in_parallel(spans.len(), &|p| -> Result<(RowStats, Vec<f64>)> {
            let mut span = spans[p].lock().unwrap_or_else(|e| e.into_inner());
            let src = &vectors[p * per..][..span.len()];
            // SAFETY: `span` has room for exactly `src.len()` floats and does not overlap it.
            unsafe {
                std::ptr::copy_nonoverlapping(src.as_ptr(), span.as_mut_ptr().cast::<f32>(), src.len())
            };
            // SAFETY: every element of `span` was initialized just above.
            let rows = unsafe { &mut *(&mut **span as *mut [MaybeUninit<f32>] as *mut [f32]) };
            let mut norms = self.norms_for(rows.len() / d)?;
            let mut stats = RowStats::new(self.normalize);
            for (r, row) in rows.chunks_exact_mut(d).enumerate() {
                stats.prepare(p * per / d + r, row, &mut norms, what)?;
            }
            Ok((stats, norms))
        });
        drop(spans);
        let mut norms = self.norms_for(vectors.len() / d)?;
        let mut all = RowStats::new(self.normalize);
        for result in results {
            let (stats, part_norms) = result?;
            all.zero_norm_rows += stats.zero_norm_rows;
            if all.first_zero_row.is_none() {
                all.first_zero_row = stats.first_zero_row;
            }
            norms.extend_from_slice(&part_norms);
        }
        all.check_zero_rows(what)?;
        // SAFETY: the parts initialized all `vectors.len()` floats of the spare capacity.
        unsafe { out.set_len(vectors.len()) };
        Ok(PreparedRows { vectors: out, norms, zero_norm_rows: all.zero_norm_rows })
    }

    /// Start preparing the rows of an archive in the buffer they are decoded into, a few rows
    /// at a time while they are in cache (see [`Loading`]). `rows` is how many rows to make
    /// room for up front (0 when the count is not trusted yet).
    pub(crate) fn loading(&self, rows: usize, what: &'static str) -> Loading {
        let mut norms = Vec::new();
        let failed = match self.normalize {
            false => norms.try_reserve_exact(rows).err().map(Error::from),
            true => None,
        };
        let stats = RowStats { keep_unit_rows: true, ..RowStats::new(self.normalize) };
        Loading { layout: *self, stats, norms, done: 0, failed, what }
    }

    /// The checks of a loaded archive for rows that stay where they are (a verified mapped
    /// open): finite values, and for a normalize store no zero row. The raw store's norms, or
    /// `None` when a normalize store holds a row that is not unit length within the tolerance
    /// of its storage ([`UNIT_TOLERANCE`], [`F16_UNIT_TOLERANCE`]): it must be normalized, so
    /// it cannot stay in place.
    pub(crate) fn check_in_place(&self, values: &Values, what: &str) -> Result<Option<Norms>> {
        let tolerance = match values {
            Values::F32(_) => UNIT_TOLERANCE,
            Values::F16(_) => F16_UNIT_TOLERANCE,
        };
        let mut stats = RowStats::new(self.normalize);
        let mut norms = Norms { values: self.norms_for(values.len() / self.dimensions)?, zero_rows: 0 };
        let mut unit = true;
        let mut failed = None;
        let mut r = 0;
        for_each_row(values, self.dimensions, |row| {
            if failed.is_some() {
                return;
            }
            match stats.visit(r, row, what) {
                Err(e) => failed = Some(e),
                Ok(norm) if !self.normalize => norms.values.push(norm),
                Ok(norm) => unit &= norm == 0.0 || (norm - 1.0).abs() <= tolerance,
            }
            r += 1;
        });
        if let Some(e) = failed {
            return Err(e);
        }
        stats.check_zero_rows(what)?;
        norms.zero_rows = stats.zero_norm_rows;
        Ok(unit.then_some(norms))
    }

    /// Room for the cached norms of `rows` rows (raw stores only; normalized stores keep none).
    fn norms_for(&self, rows: usize) -> Result<Vec<f64>> {
        let mut norms = Vec::new();
        if !self.normalize {
            norms.try_reserve_exact(rows)?;
        }
        Ok(norms)
    }
}

impl Rows {
    /// No rows, kept as `storage` says.
    pub(crate) fn empty(storage: Storage) -> Self {
        Rows {
            vectors: Values::new(storage),
            ids: Column::default(),
            norms: OnceLock::from(Norms::default()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Copy row `i` of a store `d` wide into `out` (`d` long), as float32.
    pub(crate) fn row_into(&self, i: usize, d: usize, out: &mut [f32]) {
        self.vectors.copy_to(i * d, &mut out[..d]);
    }

    /// All rows at once (open and reload, after the archive was fully validated), kept as
    /// `storage` says (`FORMAT`-free: a float16 store's rows were checked to fit).
    pub(crate) fn from_prepared(prepared: PreparedRows, ids: Vec<u64>) -> Self {
        debug_assert!(prepared.norms.is_empty() || prepared.norms.len() == ids.len());
        Rows {
            vectors: Values::F32(Column::new(prepared.vectors)),
            ids: Column::new(ids),
            norms: OnceLock::from(Norms { values: prepared.norms, zero_rows: prepared.zero_norm_rows }),
        }
    }

    /// Rows left in place in a mapped archive. `norms`: `None` for a raw store whose rows
    /// were not read (computed when a search first needs them); normalized stores keep none.
    pub(crate) fn from_mapped(vectors: Values, ids: Column<u64>, norms: Option<Norms>) -> Self {
        let lock = OnceLock::new();
        if let Some(n) = norms {
            let _ = lock.set(n);
        }
        Rows { vectors, ids, norms: lock }
    }

    /// Whether some rows live in a mapped archive.
    pub(crate) fn is_mapped(&self) -> bool {
        self.vectors.is_mapped()
    }

    /// The cached norms (raw stores; empty for normalized ones), computed over every row on
    /// first use after a mapped open of a raw store. `d`: the store's dimensions.
    pub(crate) fn norms(&self, d: usize) -> &Norms {
        self.norms.get_or_init(|| {
            let mut norms = Norms::default();
            for_each_row(&self.vectors, d, |row| {
                let n = Kernel::active().norm_sq_f64(row).sqrt();
                norms.zero_rows += (n == 0.0) as usize;
                norms.values.push(n);
            });
            norms
        })
    }

    /// Append a small batch, prepared where it will stay: no temporary buffer, no second copy
    /// (what makes one-row adds fast). Runs under the store's write lock, so callers keep it
    /// for batches that prepare in microseconds. On failure, or a panic, the rows are cut back:
    /// nothing is added.
    pub(crate) fn append_in_place(
        &mut self,
        layout: Layout,
        vectors: &[f32],
        ids: Option<&[u64]>,
    ) -> Result<()> {
        let Values::F32(column) = &mut self.vectors else {
            // Float16 rows are rounded from prepared float32 ones.
            let prepared = layout.prepare_rows(vectors, "vectors")?;
            return self.append(layout, prepared, vectors.len() / layout.dimensions, ids);
        };
        let n = vectors.len() / layout.dimensions;
        let start = self.ids.len();
        column.owned_mut().try_reserve(vectors.len())?;
        self.ids.owned_mut().try_reserve(n)?;
        // Norms not computed yet (a mapped raw store) will be computed over every row later.
        let mut unset = Norms::default();
        let norms = self.norms.get_mut().unwrap_or(&mut unset);
        if !layout.normalize {
            norms.values.try_reserve(n)?;
        }
        let owned = column.owned_mut();
        let mut tail = Rollback {
            vectors: owned.len(),
            norms: norms.values.len(),
            owned,
            norm_values: &mut norms.values,
            done: false,
        };
        tail.owned.extend_from_slice(vectors);
        let mut stats = RowStats::new(layout.normalize);
        let from = tail.vectors;
        for (r, row) in tail.owned[from..].chunks_exact_mut(layout.dimensions).enumerate() {
            stats.prepare(r, row, tail.norm_values, "vectors")?;
        }
        stats.check_zero_rows("vectors")?;
        tail.done = true;
        norms.zero_rows += stats.zero_norm_rows;
        match ids {
            Some(ids) => self.ids.owned_mut().extend_from_slice(ids),
            None => self.ids.owned_mut().extend((start..start + n).map(|i| i as u64)),
        }
        Ok(())
    }

    /// Append prepared rows with their ids (`None`: each row's id is its row index). Everything
    /// is reserved first, so an allocation failure leaves the rows untouched; Vec growth is
    /// geometric, so many small appends stay amortized O(1) per row. A float16 store rounds
    /// the rows first (a value beyond float16's range fails the batch).
    pub(crate) fn append(
        &mut self,
        layout: Layout,
        mut prepared: PreparedRows,
        n: usize,
        ids: Option<&[u64]>,
    ) -> Result<()> {
        let start = self.len();
        self.ids.owned_mut().try_reserve(n)?;
        let halves = match &self.vectors {
            Values::F16(_) => Some(narrow(layout, &mut prepared, "vectors")?),
            Values::F32(_) => None,
        };
        if let Some(norms) = self.norms.get_mut() {
            norms.values.try_reserve(prepared.norms.len())?;
        }
        match (&mut self.vectors, halves) {
            (Values::F16(column), Some(halves)) => {
                let owned = column.owned_mut();
                owned.try_reserve(halves.len())?;
                owned.extend_from_slice(&halves);
            }
            (Values::F32(column), _) => {
                let owned = column.owned_mut();
                if owned.is_empty() && owned.capacity() < prepared.vectors.len() {
                    // The first batch into an empty store: take the prepared buffer, no copy.
                    *owned = prepared.vectors;
                } else {
                    owned.try_reserve(prepared.vectors.len())?;
                    owned.extend_from_slice(&prepared.vectors);
                }
            }
            (Values::F16(_), None) => unreachable!("float16 rows are narrowed above"),
        }
        match ids {
            Some(ids) => self.ids.owned_mut().extend_from_slice(ids),
            None => self.ids.owned_mut().extend((start..start + n).map(|i| i as u64)),
        }
        if let Some(norms) = self.norms.get_mut() {
            norms.values.extend_from_slice(&prepared.norms);
            norms.zero_rows += prepared.zero_norm_rows;
        }
        Ok(())
    }

    /// All rows of a float16 archive, checked as loaded float32 rows are (finite values; a
    /// normalize store keeps rows within [`F16_UNIT_TOLERANCE`] of unit length as they are and
    /// normalizes the others, then rounds them again).
    pub(crate) fn from_f16(layout: Layout, mut halves: Vec<u16>, ids: Vec<u64>, what: &str) -> Result<Self> {
        let d = layout.dimensions;
        let mut stats = RowStats::new(layout.normalize);
        let mut norms = layout.norms_for(halves.len() / d)?;
        let mut row = vec![0.0f32; d];
        for (r, bits) in halves.chunks_exact_mut(d).enumerate() {
            f16::widen(bits, &mut row);
            let norm = stats.visit(r, &row, what)?;
            if !layout.normalize {
                norms.push(norm);
            } else if norm != 0.0 && (norm - 1.0).abs() > F16_UNIT_TOLERANCE {
                Kernel::active().scale_f64(&mut row, 1.0 / norm);
                // Unit rows have every value within float16's range.
                let _ = f16::narrow_checked(&row, bits);
            }
        }
        stats.check_zero_rows(what)?;
        Ok(Rows {
            vectors: Values::F16(Column::new(halves)),
            ids: Column::new(ids),
            norms: OnceLock::from(Norms { values: norms, zero_rows: stats.zero_norm_rows }),
        })
    }
}

/// How far from 1 the norm of a float16 row may be for a normalize store to keep it as it is
/// when loading: 2^-9. Rounding each value of a unit row to float16 moves it by at most 2^-11
/// of itself, so the norm by at most that much; 2^-9 leaves room and still catches rows that
/// were never normalized.
pub(crate) const F16_UNIT_TOLERANCE: f64 = 1.0 / (1u64 << 9) as f64;

/// Round prepared rows to float16 for a float16 store. A raw store's norms and zero-row count
/// are recomputed from the rounded rows (values are computed from those).
fn narrow(layout: Layout, prepared: &mut PreparedRows, what: &str) -> Result<Vec<u16>> {
    let mut halves = Vec::new();
    halves.try_reserve_exact(prepared.vectors.len())?;
    halves.resize(prepared.vectors.len(), 0);
    if let Err(i) = f16::narrow_checked(&prepared.vectors, &mut halves) {
        let d = layout.dimensions;
        fail!(
            OutOfRange,
            "{what} row {} column {} holds {}, beyond float16's range (largest 65504)",
            i / d,
            i % d,
            prepared.vectors[i]
        );
    }
    if !layout.normalize {
        let mut row = vec![0.0f32; layout.dimensions];
        prepared.zero_norm_rows = 0;
        for (norm, bits) in prepared.norms.iter_mut().zip(halves.chunks_exact(layout.dimensions)) {
            f16::widen(bits, &mut row);
            *norm = Kernel::active().norm_sq_f64(&row).sqrt();
            prepared.zero_norm_rows += (*norm == 0.0) as usize;
        }
    }
    Ok(halves)
}

/// Call `f` with every row of `values` (`d` wide), as float32.
pub(crate) fn for_each_row(values: &Values, d: usize, mut f: impl FnMut(&[f32])) {
    match values {
        Values::F32(c) => c.parts().iter().for_each(|p| p.chunks_exact(d).for_each(&mut f)),
        Values::F16(c) => {
            let mut row = vec![0.0f32; d];
            for part in c.parts() {
                for bits in part.chunks_exact(d) {
                    f16::widen(bits, &mut row);
                    f(&row);
                }
            }
        }
    }
}

/// Rows an archive holds, checked and prepared in place as they are decoded: the reader hands
/// over each run of whole rows right after decoding it ([`Loading::rows`]), and
/// [`Loading::finish`] takes the finished buffer. The checks and their messages are those of
/// `add`; the first failure is kept and reported by `finish`, so a file with several problems
/// reports its structural ones (read after the rows) first, as when the rows were prepared
/// after reading. A normalize store keeps rows that are already unit length
/// ([`UNIT_TOLERANCE`]) and normalizes the others.
pub(crate) struct Loading {
    layout: Layout,
    stats: RowStats,
    norms: Vec<f64>,
    /// Values (not rows) prepared so far: every row before this offset.
    done: usize,
    failed: Option<Error>,
    what: &'static str,
}

impl Loading {
    /// Prepare `rows` (whole rows), which come right after the ones already prepared.
    pub(crate) fn rows(&mut self, rows: &mut [f32]) {
        let d = self.layout.dimensions;
        debug_assert!(rows.len().is_multiple_of(d));
        let first = self.done / d;
        self.done += rows.len();
        if self.failed.is_some() {
            return;
        }
        if !self.layout.normalize {
            if let Err(e) = self.norms.try_reserve(rows.len() / d) {
                self.failed = Some(e.into());
                return;
            }
        }
        for (r, row) in rows.chunks_exact_mut(d).enumerate() {
            if let Err(e) = self.stats.prepare(first + r, row, &mut self.norms, self.what) {
                self.failed = Some(e);
                return;
            }
        }
    }

    /// The prepared rows, once `vectors` holds them all (rows not handed over yet are
    /// prepared here), or the first failure.
    pub(crate) fn finish(mut self, mut vectors: Vec<f32>) -> Result<PreparedRows> {
        self.layout.check_whole_rows(vectors.len(), self.what)?;
        debug_assert!(self.done <= vectors.len());
        let done = self.done.min(vectors.len());
        self.rows(&mut vectors[done..]);
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.stats.check_zero_rows(self.what)?;
        Ok(PreparedRows { vectors, norms: self.norms, zero_norm_rows: self.stats.zero_norm_rows })
    }
}

/// How far from 1 the f64 norm of an archive row may be for a normalize store to keep the row
/// as it is: 2^-22 (about 2.4e-7). Every row that a normalize store holds (scaled by the f64
/// reciprocal of its norm, each value rounded to f32) is within about 1.1 x 2^-24 of unit
/// length: rounding moves each value by at most 2^-24 of itself, so the norm moves by at most
/// that much, plus the f64 error of the norm (below 2^-27 even at the widest rows allowed). So a
/// saved store opens with exactly the bits it saved, where normalizing again would move about
/// one row in a hundred by an ulp at small dimensions. Rows this close to unit length from other
/// writers (numpy-vector-store's rows are) are kept too: they are as unit length as float32
/// allows.
pub(crate) const UNIT_TOLERANCE: f64 = 1.0 / (1u64 << 22) as f64;

/// A bound on the norm of every row in private memory of a float32 normalize store: each was
/// scaled to unit length (within about 1.1 x 2^-24) or kept within [`UNIT_TOLERANCE`] of it,
/// or is zero. Rows in place in a mapped archive are not covered: the file can change under
/// them.
pub(crate) const UNIT_ROW_NORM_BOUND: f64 = 1.0 + 1.0 / (1u64 << 20) as f64;

/// Cuts rows appended by [`Rows::append_in_place`] back unless it finished (also on unwind).
struct Rollback<'a> {
    owned: &'a mut Vec<f32>,
    norm_values: &'a mut Vec<f64>,
    vectors: usize,
    norms: usize,
    done: bool,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.owned.truncate(self.vectors);
            self.norm_values.truncate(self.norms);
        }
    }
}

/// Per-row checks shared by every way rows come in.
struct RowStats {
    kernel: Kernel,
    normalize: bool,
    /// Loaded rows: keep a row within [`UNIT_TOLERANCE`] of unit length as it is.
    keep_unit_rows: bool,
    zero_norm_rows: usize,
    first_zero_row: Option<usize>,
}

impl RowStats {
    fn new(normalize: bool) -> Self {
        RowStats {
            kernel: Kernel::active(),
            normalize,
            keep_unit_rows: false,
            zero_norm_rows: 0,
            first_zero_row: None,
        }
    }

    /// Check row `r` and, in a normalize store, scale it to unit length in place (each value
    /// times the reciprocal of the f64 norm, rounded to f32). Zero rows stay as they are, and
    /// so do rows already unit length when `keep_unit_rows` is set.
    /// A raw store's row norm is pushed to `norms`.
    fn prepare(&mut self, r: usize, row: &mut [f32], norms: &mut Vec<f64>, what: &str) -> Result<()> {
        let norm = self.visit(r, row, what)?;
        if !self.normalize {
            norms.push(norm);
        } else if norm != 0.0 && !(self.keep_unit_rows && (norm - 1.0).abs() <= UNIT_TOLERANCE) {
            self.kernel.scale_f64(row, 1.0 / norm);
        }
        Ok(())
    }

    /// Check row `r` and return its f64 norm. The f64 squared norm doubles as the finiteness
    /// check (finite f32 squares never overflow f64), so a non-finite value is found without a
    /// separate scan.
    fn visit(&mut self, r: usize, row: &[f32], what: &str) -> Result<f64> {
        let norm_sq = self.kernel.norm_sq_f64(row);
        if !norm_sq.is_finite() {
            let c = row.iter().position(|v| !v.is_finite()).unwrap_or(0);
            fail!(NonFinite, "{what} contain a non-finite value ({}) at row {r}, column {c}", row[c]);
        }
        let norm = norm_sq.sqrt();
        if norm == 0.0 {
            self.first_zero_row.get_or_insert(r);
            self.zero_norm_rows += 1;
        }
        Ok(norm)
    }

    /// Non-finite rows are reported before zero rows, as the reference does, so a zero row in
    /// a normalize store fails the batch only here, at the end.
    fn check_zero_rows(&self, what: &str) -> Result<()> {
        if let (true, Some(r)) = (self.normalize, self.first_zero_row) {
            fail!(ZeroNorm, "{what} row {r} has zero norm and cannot be normalized");
        }
        Ok(())
    }
}

#[cfg(test)]
impl Rows {
    /// Everything the rows hold, to compare (values, ids, norms, zero-norm rows).
    fn snapshot(&self, d: usize) -> (Vec<f32>, Vec<u64>, Vec<f64>, usize) {
        let mut v = vec![0.0; self.vectors.len()];
        self.vectors.copy_to(0, &mut v);
        let mut i = vec![0; self.len()];
        self.ids.copy_to(0, &mut i);
        let n = self.norms(d);
        (v, i, n.values.clone(), n.zero_rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

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

    /// Rows through [`Loading`], handed over in uneven runs of whole rows; `finish` prepares
    /// the rest.
    fn loaded(layout: Layout, data: &[f32], what: &'static str) -> Result<PreparedRows> {
        let d = layout.dimensions;
        let mut vectors = data.to_vec();
        let mut loading = layout.loading(vectors.len() / d, what);
        let (mut at, mut run) = (0, 1);
        while at + run * d <= vectors.len() * 2 / 3 {
            loading.rows(&mut vectors[at..at + run * d]);
            at += run * d;
            run += 2;
        }
        loading.finish(vectors)
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
    fn every_way_in_prepares_the_same_bits_and_fails_the_same_way() {
        for d in [1, 3, 16, 255, 256, 257, 700] {
            for normalize in [false, true] {
                let layout = Layout::new(d, normalize).unwrap();
                // Appending after rows already there: a failure must cut back to exactly them.
                let mut before = Rows::empty(Storage::Float32);
                let first = rows(2, d + 1)[..2 * d].iter().map(|v| v + 1.0).collect::<Vec<_>>();
                before.append_in_place(layout, &first, Some(&[7, 8])).unwrap();
                let appended = |data: &[f32]| {
                    let mut r = before.clone();
                    let result = r.append_in_place(layout, data, None);
                    (result, r)
                };
                // The worker-pool path, forced with small batches (it starts at 16 MiB).
                let in_parts = |data: &[f32], parts: usize| {
                    layout.prepare_rows_in_parts(data, Vec::with_capacity(data.len()), parts, "vectors")
                };
                let check_failure = |data: &[f32], want: &(ErrorKind, String)| {
                    let a = layout.prepare_rows(data, "vectors").err().unwrap();
                    let b = loaded(layout, data, "vectors").err().unwrap();
                    let (c, after) = appended(data);
                    let c = c.err().unwrap();
                    let split = [2, 3, 7].map(|parts| in_parts(data, parts).err().unwrap());
                    for e in [a, b, c].into_iter().chain(split) {
                        assert_eq!(&(e.kind, e.message), want, "d={d} normalize={normalize}");
                    }
                    assert_eq!(after.snapshot(d), before.snapshot(d));
                };
                let mut data = rows(20, d);
                if normalize {
                    // Zero rows fail a normalize store: compare the failure, then drop them.
                    let e = layout.prepare_rows(&data, "vectors").err().unwrap();
                    assert_eq!(e.kind, ErrorKind::ZeroNorm);
                    check_failure(&data, &(e.kind, e.message));
                    data =
                        data.chunks(d).filter(|r| r.iter().any(|&v| v != 0.0)).flatten().copied().collect();
                }
                let copied = prepared(layout.prepare_rows(&data, "v")).unwrap();
                // None of these rows is near unit length, so loading normalizes every one.
                let in_place = prepared(loaded(layout, &data, "v")).unwrap();
                assert_eq!(copied, in_place, "d={d} normalize={normalize}");
                for parts in [2, 3, 7] {
                    assert_eq!(prepared(in_parts(&data, parts)).unwrap(), copied, "{parts} parts");
                }
                let (result, after) = appended(&data);
                result.unwrap();
                let (before, after) = (before.snapshot(d), after.snapshot(d));
                let tail = after.0[before.0.len()..].iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(tail, copied.0);
                let norms: Vec<u64> = after.2[before.2.len()..].iter().map(|v| v.to_bits()).collect();
                assert_eq!(norms, copied.1);
                assert_eq!(after.3 - before.3, copied.2);
                assert_eq!(after.1[2..], (2..2 + data.len() as u64 / d as u64).collect::<Vec<_>>()[..]);
                let mut bad = data.clone();
                bad[d + d / 2] = f32::NAN;
                let e = layout.prepare_rows(&bad, "vectors").err().unwrap();
                assert!(e.message.contains("row 1"), "{}", e.message);
                check_failure(&bad, &(e.kind, e.message));
            }
        }
    }

    /// A normalize store opens what it saved bit for bit: its own rows are within
    /// `UNIT_TOLERANCE` of unit length, at every width and whatever the values' magnitudes, and
    /// loading keeps them, where normalizing them again changes some. Rows further from unit
    /// length are normalized exactly as `add` does.
    #[test]
    fn loading_keeps_unit_rows_and_normalizes_the_others() {
        let mut renormalized_differs = 0;
        for d in [1, 2, 3, 5, 8, 16, 384, 1000] {
            let layout = Layout::new(d, true).unwrap();
            let raw: Vec<f32> =
                rows(4000, d).chunks(d).filter(|r| r.iter().any(|&v| v != 0.0)).flatten().copied().collect();
            let unit = layout.prepare_rows(&raw, "v").unwrap().vectors;
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for row in unit.chunks(d) {
                let norm = Kernel::active().norm_sq_f64(row).sqrt();
                assert!((norm - 1.0).abs() <= UNIT_TOLERANCE / 3.0, "d={d} norm {norm}");
            }
            let back = loaded(layout, &unit, "v").unwrap();
            assert_eq!(bits(&back.vectors), bits(&unit), "d={d}");
            assert!(back.norms.is_empty());
            renormalized_differs +=
                (bits(&layout.prepare_rows(&unit, "v").unwrap().vectors) != bits(&unit)) as usize;
            // Off by more than the tolerance: normalized like `add` would.
            let off: Vec<f32> = unit.iter().map(|v| v * (1.0 + 4.0 * UNIT_TOLERANCE as f32)).collect();
            let want = layout.prepare_rows(&off, "v").unwrap().vectors;
            assert_eq!(bits(&loaded(layout, &off, "v").unwrap().vectors), bits(&want), "d={d}");
            // A raw store keeps every row and caches the same norms as `add`.
            let raw_layout = Layout::new(d, false).unwrap();
            let (a, b) =
                (raw_layout.prepare_rows(&unit, "v").unwrap(), loaded(raw_layout, &unit, "v").unwrap());
            assert_eq!((bits(&a.vectors), &a.norms), (bits(&b.vectors), &b.norms));
        }
        // What the rule is for: at small widths normalizing unit rows again moves some bits.
        assert!(renormalized_differs > 0);
    }

    /// Every row a float32 normalize store holds in private memory has a norm of at most
    /// `UNIT_ROW_NORM_BOUND`, which the batch screen takes as their bound: rows it normalized,
    /// and loaded rows it kept as they are, up to the edge of `UNIT_TOLERANCE`.
    #[test]
    fn stored_rows_of_a_normalize_store_are_within_the_unit_row_bound() {
        let norm = |row: &[f32]| row.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
        for d in [1, 2, 3, 16, 384, 1000] {
            let layout = Layout::new(d, true).unwrap();
            let raw: Vec<f32> =
                rows(2000, d).chunks(d).filter(|r| r.iter().any(|&v| v != 0.0)).flatten().copied().collect();
            let unit = layout.prepare_rows(&raw, "v").unwrap().vectors;
            for scale in [0.5, 0.9, 1.0] {
                let edge: Vec<f32> =
                    unit.iter().map(|&v| v * (1.0 + scale * UNIT_TOLERANCE) as f32).collect();
                let stored = loaded(layout, &edge, "v").unwrap().vectors;
                for row in unit.chunks(d).chain(stored.chunks(d)) {
                    assert!(norm(row) <= UNIT_ROW_NORM_BOUND, "d={d} norm {}", norm(row));
                }
                if scale == 0.5 {
                    assert_eq!(stored, edge, "d={d}: rows within the tolerance are kept as they are");
                }
            }
        }
    }
}
