//! Rows and their preparation: the one shape check, the finiteness and zero-norm checks, the
//! cached norms of raw stores and the normalization of normalized ones. `add` and archive
//! loading both go through here, so stored rows are the same bits whichever way they came in.

use crate::error::{fail, Result};
use crate::kernels::Kernel;
use crate::memory;

/// What every row of a store shares: its width and whether rows are kept unit length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) dimensions: usize,
    pub(crate) normalize: bool,
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
        Ok(Layout { dimensions, normalize })
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
        let mut stats = RowStats::new(self.normalize, vectors.len() / d)?;
        // One pass: each row is appended (no zero-fill pass over the new buffer) and prepared
        // right away, while it is in L1.
        for (r, row) in vectors.chunks_exact(d).enumerate() {
            let start = out.len();
            out.extend_from_slice(row);
            stats.prepare(r, &mut out[start..], what)?;
        }
        stats.finish(out, what)
    }

    /// [`Self::prepare_rows`] for rows the store may keep: they are checked and normalized in
    /// place, so loading an archive needs no second row buffer (same values, bit for bit).
    pub(crate) fn prepare_owned_rows(&self, mut vectors: Vec<f32>, what: &str) -> Result<PreparedRows> {
        let d = self.dimensions;
        self.check_whole_rows(vectors.len(), what)?;
        let mut stats = RowStats::new(self.normalize, vectors.len() / d)?;
        for (r, row) in vectors.chunks_exact_mut(d).enumerate() {
            stats.prepare(r, row, what)?;
        }
        stats.finish(vectors, what)
    }
}

impl Rows {
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// All rows at once (open and reload, after the archive was fully validated).
    pub(crate) fn from_prepared(prepared: PreparedRows, ids: Vec<u64>) -> Self {
        debug_assert!(prepared.norms.is_empty() || prepared.norms.len() == ids.len());
        Rows {
            vectors: prepared.vectors,
            ids,
            norms: prepared.norms,
            zero_norm_rows: prepared.zero_norm_rows,
        }
    }

    /// Append prepared rows with their ids (`None`: each row's id is its row index). Everything
    /// is reserved first, so an allocation failure leaves the rows untouched; Vec growth is
    /// geometric, so many small appends stay amortized O(1) per row.
    pub(crate) fn append(&mut self, prepared: PreparedRows, n: usize, ids: Option<&[u64]>) -> Result<()> {
        let start = self.len();
        self.ids.try_reserve(n)?;
        self.norms.try_reserve(prepared.norms.len())?;
        if self.vectors.is_empty() && self.vectors.capacity() < prepared.vectors.len() {
            // The first batch into an empty store: take the prepared buffer, no second copy.
            self.vectors = prepared.vectors;
        } else {
            self.vectors.try_reserve(prepared.vectors.len())?;
            self.vectors.extend_from_slice(&prepared.vectors);
        }
        match ids {
            Some(ids) => self.ids.extend_from_slice(ids),
            None => self.ids.extend((start..start + n).map(|i| i as u64)),
        }
        self.norms.extend_from_slice(&prepared.norms);
        self.zero_norm_rows += prepared.zero_norm_rows;
        Ok(())
    }
}

/// Per-row checks shared by the copying and the in-place row preparation.
struct RowStats {
    kernel: Kernel,
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
        Ok(RowStats { kernel: Kernel::active(), normalize, norms, zero_norm_rows: 0, first_zero_row: None })
    }

    /// Check row `r` and, in a normalize store, scale it to unit length in place (each value
    /// times the reciprocal of the f64 norm, rounded to f32). Zero rows stay as they are.
    fn prepare(&mut self, r: usize, row: &mut [f32], what: &str) -> Result<()> {
        let norm = self.visit(r, row, what)?;
        if self.normalize && norm != 0.0 {
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
                let store = Layout::new(d, normalize).unwrap();
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
