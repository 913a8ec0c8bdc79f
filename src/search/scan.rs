//! The scans: blocks of rows against one query, tiles of rows against groups of queries (a
//! blocked matrix product), each feeding per-query top-k selections.

use super::request::{Hit, Metric, Plan, Query};
use super::topk::TopK;
use crate::column::Column;
use crate::kernels::Op;
use crate::rows::{Elem, Values};

pub(super) use crate::kernels::tuning::BLOCK_ROWS;
use crate::kernels::tuning::{BATCH_SPAN, QUERY_GROUP_BYTES, TILE_BYTES};

impl<'a> Plan<'a> {
    /// How many rows the search looks at.
    pub(super) fn candidates(&self) -> usize {
        self.within_rows.map_or(self.rows.len(), |w| w.len())
    }

    pub(super) fn op(&self) -> Op {
        match self.metric {
            Metric::Euclidean => Op::L2sq,
            Metric::Dot | Metric::Cosine => Op::Dot,
        }
    }

    /// The store row at candidate position `pos`.
    #[inline]
    pub(super) fn row_at(&self, pos: usize) -> usize {
        match self.within_rows {
            None => pos,
            Some(within) => within[pos],
        }
    }

    /// Point `refs` at the rows of candidates `start..start + refs.len()`, in place (a
    /// prefilter costs only its selected rows: nothing is copied).
    pub(super) fn gather<'r, T: Elem>(&self, column: &'r Column<T>, start: usize, refs: &mut [&'r [T]]) {
        let d = self.dimensions;
        let row = |r: usize| column.chunk(r * d, (r + 1) * d);
        match self.within_rows {
            None => match column.range(start * d, (start + refs.len()) * d) {
                Some(block) => {
                    for (r, row) in refs.iter_mut().zip(block.chunks_exact(d)) {
                        *r = row;
                    }
                }
                // The block spans the end of a mapped archive's rows.
                None => {
                    for (i, r) in refs.iter_mut().enumerate() {
                        *r = row(start + i);
                    }
                }
            },
            Some(within) => {
                for (r, &w) in refs.iter_mut().zip(&within[start..]) {
                    *r = row(w);
                }
            }
        }
    }

    /// Rows per batch tile: about `TILE_BYTES` of rows; a multiple of 12, so of every
    /// micro-kernel's row count (3 and 4).
    pub(super) fn tile_rows(&self) -> usize {
        let rows = TILE_BYTES / (self.dimensions * 4).max(1);
        (rows / 12 * 12).clamp(12, 240)
    }

    /// Queries share each tile of rows while it is in cache (a blocked matrix product); the
    /// top-k of every query is updated tile by tile, so no score matrix is ever materialized.
    pub(super) fn scan_batch(&self, queries: &[Query]) -> Vec<Vec<Hit>> {
        match &self.rows.vectors {
            Values::F32(column) if self.screens(queries.len()) => self.scan_batch_screened(column, queries),
            Values::F32(column) => self.scan_batch_in(column, queries),
            Values::F16(column) => self.scan_batch_in(column, queries),
        }
    }

    fn scan_batch_in<T: Elem>(&self, column: &Column<T>, queries: &[Query]) -> Vec<Vec<Hit>> {
        if queries.is_empty() {
            return Vec::new();
        }
        let op = self.op();
        let mut tops: Vec<TopK> =
            queries.iter().map(|_| TopK::new(self.top_k, self.metric.descending())).collect();
        let qrefs: Vec<&[f32]> = queries.iter().map(Query::values).collect();
        let n = self.candidates();
        let rb = self.tile_rows();
        // A query group's spans (not whole queries) are what must stay in L1: see `BATCH_SPAN`.
        let span = self.dimensions.min(BATCH_SPAN);
        let qb = (QUERY_GROUP_BYTES / (span * 4).max(1) / 4 * 4).clamp(4, 64).min(queries.len());
        let mut refs: Vec<&[T]> = vec![&[]; rb];
        let mut values = vec![0.0f32; qb * rb];
        let mut start = 0;
        while start < n {
            let m = rb.min(n - start);
            self.gather(column, start, &mut refs[..m]);
            for (qs, tops) in qrefs.chunks(qb).zip(tops.chunks_mut(qb)) {
                let values = &mut values[..qs.len() * m];
                T::scores_tile(self.kernel, op, qs, &refs[..m], values);
                for ((q, top), vals) in qs.iter().zip(tops.iter_mut()).zip(values.chunks_exact(m)) {
                    self.offer(q, start, &refs[..m], vals, top);
                }
            }
            start += m;
        }
        tops.into_iter().map(|t| self.hits(t)).collect()
    }

    /// Score candidates `from..to` (positions in the store or in `within_rows`) into `top`.
    pub(super) fn scan(&self, query: &Query, from: usize, to: usize, top: &mut TopK) {
        match &self.rows.vectors {
            Values::F32(column) => self.scan_in(column, query, from, to, top),
            Values::F16(column) => self.scan_in(column, query, from, to, top),
        }
    }

    fn scan_in<T: Elem>(&self, column: &Column<T>, query: &Query, from: usize, to: usize, top: &mut TopK) {
        let q = query.values();
        let op = self.op();
        let mut raw = [0.0f32; BLOCK_ROWS];
        let mut refs: [&[T]; BLOCK_ROWS] = [&[]; BLOCK_ROWS];
        let mut start = from;
        while start < to {
            let m = BLOCK_ROWS.min(to - start);
            self.gather(column, start, &mut refs[..m]);
            T::scores(self.kernel, op, q, &refs[..m], &mut raw[..m]);
            self.offer(q, start, &refs[..m], &raw[..m], top);
            start += m;
        }
    }

    /// Offer the kernel results `raw` of `q` against candidates `start..start + refs.len()`:
    /// their values as they are (normalized stores) or exact ones (raw stores).
    #[inline]
    pub(super) fn offer<T: Elem>(&self, q: &[f32], start: usize, refs: &[&[T]], raw: &[f32], top: &mut TopK) {
        if self.normalized_store {
            self.offer_block(start, raw, top);
        } else {
            self.offer_raw(q, start, refs, raw, top);
        }
    }

    /// Normalized stores: offer kernel results for candidates `start..start + raw.len()`. The
    /// value is monotonic in the kernel result, so when even the block's best result cannot
    /// beat the k-th value the whole block is skipped with one vectorizable min/max; otherwise
    /// rows that rank below it are rejected before the top-k is touched.
    #[inline]
    pub(super) fn offer_block(&self, start: usize, raw: &[f32], top: &mut TopK) {
        let descending = self.metric.descending();
        let value = |r: f32| match self.metric {
            Metric::Euclidean => r.max(0.0).sqrt() as f64,
            _ => r as f64,
        };
        let mut bar = top.worst();
        if let Some(b) = bar {
            if top.strictly_worse(value(block_best(raw, descending)), b) {
                return;
            }
        }
        for (i, &r) in raw.iter().enumerate() {
            // Unit rows always give finite results; a non-finite one comes from a row an
            // unverified mapped open took on trust (NaN or infinity in it): it never matches.
            if !r.is_finite() {
                continue;
            }
            let v = value(r);
            if bar.is_some_and(|b| top.strictly_worse(v, b)) {
                continue;
            }
            self.keep(v, self.row_at(start + i), top);
            bar = top.worst();
        }
    }

    /// Apply the threshold to a metric value and keep it if it ranks in the top-k.
    #[inline]
    pub(super) fn keep(&self, value: f64, row: usize, top: &mut TopK) {
        // Only rows an unverified mapped open took on trust can score NaN: they never match.
        if value.is_nan() {
            return;
        }
        if let Some(t) = self.threshold {
            let passes = if self.metric.descending() { value >= t } else { value <= t };
            if !passes {
                return;
            }
        }
        if top.admits(value, row) {
            top.push(value, row);
        }
    }

    pub(super) fn hits(&self, top: TopK) -> Vec<Hit> {
        top.into_sorted()
            .into_iter()
            .map(|s| Hit { index: s.index, id: self.rows.ids.get(s.index), value: s.value })
            .collect()
    }
}

/// The largest (`descending`) or smallest kernel result of a block, NaN ignored, in 16
/// independent lanes so that it compiles to vector max/min: most blocks of a large store end
/// here, rejected whole.
fn block_best(raw: &[f32], descending: bool) -> f32 {
    let pick = |m: f32, v: f32| if (descending && v > m) || (!descending && v < m) { v } else { m };
    let mut lanes = [if descending { f32::NEG_INFINITY } else { f32::INFINITY }; 16];
    let mut chunks = raw.chunks_exact(16);
    for chunk in &mut chunks {
        for (m, &v) in lanes.iter_mut().zip(chunk) {
            *m = pick(*m, v);
        }
    }
    chunks.remainder().iter().chain(&lanes).fold(lanes[0], |m, &v| pick(m, v))
}

#[cfg(test)]
mod tests {
    use super::block_best;

    #[test]
    fn block_best_is_the_nan_ignoring_fold() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in 0..=70 {
            for _ in 0..20 {
                let raw: Vec<f32> = (0..len)
                    .map(|_| match next() % 8 {
                        0 => f32::NAN,
                        1 => 0.25, // ties
                        _ => (next() % 2001) as f32 / 1000.0 - 1.0,
                    })
                    .collect();
                for descending in [true, false] {
                    let want = raw.iter().fold(
                        if descending { f32::NEG_INFINITY } else { f32::INFINITY },
                        |m, &v| {
                            if descending {
                                m.max(v)
                            } else {
                                m.min(v)
                            }
                        },
                    );
                    assert_eq!(block_best(&raw, descending), want, "{raw:?} descending {descending}");
                }
            }
        }
    }
}
