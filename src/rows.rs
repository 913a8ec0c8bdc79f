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
        let mut norms = self.norms_for(vectors.len() / d)?;
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

    /// [`Self::prepare_rows`] for rows the store may keep: they are checked and normalized in
    /// place, so loading an archive needs no second row buffer (same values, bit for bit).
    pub(crate) fn prepare_owned_rows(&self, mut vectors: Vec<f32>, what: &str) -> Result<PreparedRows> {
        let d = self.dimensions;
        self.check_whole_rows(vectors.len(), what)?;
        let mut norms = self.norms_for(vectors.len() / d)?;
        let mut stats = RowStats::new(self.normalize);
        for (r, row) in vectors.chunks_exact_mut(d).enumerate() {
            stats.prepare(r, row, &mut norms, what)?;
        }
        stats.check_zero_rows(what)?;
        Ok(PreparedRows { vectors, norms, zero_norm_rows: stats.zero_norm_rows })
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
        let n = vectors.len() / layout.dimensions;
        self.vectors.try_reserve(vectors.len())?;
        self.ids.try_reserve(n)?;
        if !layout.normalize {
            self.norms.try_reserve(n)?;
        }
        let start = self.len();
        let mut tail =
            Rollback { vectors: self.vectors.len(), norms: self.norms.len(), rows: self, done: false };
        tail.rows.vectors.extend_from_slice(vectors);
        let mut stats = RowStats::new(layout.normalize);
        let rows = &mut *tail.rows;
        for (r, row) in rows.vectors[tail.vectors..].chunks_exact_mut(layout.dimensions).enumerate() {
            stats.prepare(r, row, &mut rows.norms, "vectors")?;
        }
        stats.check_zero_rows("vectors")?;
        tail.done = true;
        let rows = &mut *tail.rows;
        match ids {
            Some(ids) => rows.ids.extend_from_slice(ids),
            None => rows.ids.extend((start..start + n).map(|i| i as u64)),
        }
        rows.zero_norm_rows += stats.zero_norm_rows;
        Ok(())
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

/// Cuts rows appended by [`Rows::append_in_place`] back unless it finished (also on unwind).
struct Rollback<'a> {
    rows: &'a mut Rows,
    vectors: usize,
    norms: usize,
    done: bool,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.rows.vectors.truncate(self.vectors);
            self.rows.norms.truncate(self.norms);
        }
    }
}

/// Per-row checks shared by every way rows come in.
struct RowStats {
    kernel: Kernel,
    normalize: bool,
    zero_norm_rows: usize,
    first_zero_row: Option<usize>,
}

impl RowStats {
    fn new(normalize: bool) -> Self {
        RowStats { kernel: Kernel::active(), normalize, zero_norm_rows: 0, first_zero_row: None }
    }

    /// Check row `r` and, in a normalize store, scale it to unit length in place (each value
    /// times the reciprocal of the f64 norm, rounded to f32). Zero rows stay as they are.
    /// A raw store's row norm is pushed to `norms`.
    fn prepare(&mut self, r: usize, row: &mut [f32], norms: &mut Vec<f64>, what: &str) -> Result<()> {
        let norm = self.visit(r, row, what)?;
        if !self.normalize {
            norms.push(norm);
        }
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
                let mut before = Rows::default();
                let first = rows(2, d + 1)[..2 * d].iter().map(|v| v + 1.0).collect::<Vec<_>>();
                before.append_in_place(layout, &first, Some(&[7, 8])).unwrap();
                let appended = |data: &[f32]| {
                    let mut r = before.clone();
                    let result = r.append_in_place(layout, data, None);
                    (result, r)
                };
                let check_failure = |data: &[f32], want: &(ErrorKind, String)| {
                    let a = layout.prepare_rows(data, "vectors").err().unwrap();
                    let b = layout.prepare_owned_rows(data.to_vec(), "vectors").err().unwrap();
                    let (c, after) = appended(data);
                    let c = c.err().unwrap();
                    for e in [a, b, c] {
                        assert_eq!(&(e.kind, e.message), want, "d={d} normalize={normalize}");
                    }
                    assert_eq!(
                        (after.vectors, after.ids, after.norms, after.zero_norm_rows),
                        (
                            before.vectors.clone(),
                            before.ids.clone(),
                            before.norms.clone(),
                            before.zero_norm_rows
                        )
                    );
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
                let in_place = prepared(layout.prepare_owned_rows(data.clone(), "v")).unwrap();
                assert_eq!(copied, in_place, "d={d} normalize={normalize}");
                let (result, after) = appended(&data);
                result.unwrap();
                let tail =
                    |v: &[f32]| v[before.vectors.len()..].iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(tail(&after.vectors), copied.0);
                let norms: Vec<u64> = after.norms[before.norms.len()..].iter().map(|v| v.to_bits()).collect();
                assert_eq!(norms, copied.1);
                assert_eq!(after.zero_norm_rows - before.zero_norm_rows, copied.2);
                assert_eq!(after.ids[2..], (2..2 + data.len() as u64 / d as u64).collect::<Vec<_>>()[..]);
                let mut bad = data.clone();
                bad[d + d / 2] = f32::NAN;
                let e = layout.prepare_rows(&bad, "vectors").err().unwrap();
                assert!(e.message.contains("row 1"), "{}", e.message);
                check_failure(&bad, &(e.kind, e.message));
            }
        }
    }
}
