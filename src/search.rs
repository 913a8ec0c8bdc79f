//! Exact search: validation of a search request, the scan over rows in blocks, and top-k.
//! Values follow the reference (numpy-vector-store 0.7.0): normalized stores compute in f32;
//! raw stores give the exact value correctly rounded to the reference's type (f64 dot and
//! distance, f32 cosine). There the f32 kernel result only screens rows: with a proven bound
//! on its error, rows that cannot enter the top-k or pass the threshold are dropped, and the
//! few others get their exact value (`kernels::Kernel::dots_exact` and friends).

use std::sync::OnceLock;

use crate::error::{fail, Result};
use crate::kernels::{self, Kernel, Op};
use crate::store::{Hit, Metric, Rows, SearchOptions, VectorStore};
use crate::topk::TopK;

/// Rows scanned per kernel call: small enough that the value buffer stays in L1.
const BLOCK_ROWS: usize = 256;
/// Below this many f32 values (rows x dims, 16 MiB: about 10k rows of 384 dimensions) one
/// thread is faster than spawning workers.
const PARALLEL_MIN_VALUES: usize = 4 << 20;
/// Bytes of queries per batch tile pass: small enough that a pass's queries and the few rows
/// a micro-kernel holds stay in L1 (32-48 KiB), so the FMA units are not starved by L2.
const QUERY_GROUP_BYTES: usize = 24 << 10;
/// Unit roundoff of f32 (2^-24).
const U32: f64 = f32::EPSILON as f64 / 2.0;
/// The largest absolute error one f32 operation can make in gradual underflow (2^-150).
const UNDERFLOW: f64 = 7.1e-46;

/// Reject a query of the wrong width or with non-finite values (`which` names a batch query).
pub(crate) fn check_query(dimensions: usize, query: &[f32], which: Option<usize>) -> Result<()> {
    let name = match which {
        Some(i) => format!("query {i}"),
        None => "query".to_string(),
    };
    if query.len() != dimensions {
        fail!(DimensionMismatch, "{name} has {} dimensions, store has {dimensions}", query.len());
    }
    if let Some(pos) = query.iter().position(|v| !v.is_finite()) {
        fail!(NonFinite, "{name} must contain only finite values (value {} at {pos})", query[pos]);
    }
    Ok(())
}

fn available_threads() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// A validated search request over a locked snapshot of the rows.
pub(crate) struct Plan<'a> {
    rows: &'a Rows,
    dimensions: usize,
    normalized_store: bool,
    metric: Metric,
    top_k: usize,
    threshold: Option<f64>,
    within_rows: Option<&'a [usize]>,
    threads: usize,
}

/// A query ready to scan (normalized when the metric and store call for it).
pub(crate) struct Query(Vec<f32>);

impl<'a> Plan<'a> {
    pub(crate) fn new(
        store: &VectorStore,
        rows: &'a Rows,
        metric: Metric,
        options: &SearchOptions<'a>,
    ) -> Result<Self> {
        if options.top_k == 0 {
            fail!(InvalidArgument, "top_k must be greater than 0");
        }
        let threshold = match options.threshold {
            Some(t) if !t.is_finite() => {
                let name = if metric.descending() { "min_value" } else { "max_value" };
                fail!(NonFinite, "{name} must be finite (got {t})");
            }
            // Cosine values are float32 in the reference, and numpy compares them with the
            // threshold rounded to float32; do the same so boundary rows agree.
            Some(t) if metric == Metric::Cosine => Some(t as f32 as f64),
            t => t,
        };
        if let Some(within) = options.within_rows {
            check_within_rows(within, rows.len())?;
        }
        Ok(Plan {
            rows,
            dimensions: store.dimensions(),
            normalized_store: store.normalize(),
            metric,
            top_k: options.top_k,
            threshold,
            within_rows: options.within_rows,
            threads: options.threads,
        })
    }

    /// Normalize the query when the metric asks for it; reject a zero query then.
    pub(crate) fn prepare_query(&self, query: &[f32], which: Option<usize>) -> Result<Query> {
        let normalize = self.metric == Metric::Cosine || self.normalized_store;
        if !normalize {
            return Ok(Query(query.to_vec()));
        }
        // Correctly rounded, so the normalized query is the reference's whenever its norm is.
        let norm = kernels::norm_exact(query);
        if norm == 0.0 {
            match which {
                Some(i) => fail!(ZeroNorm, "cannot search with zero-norm query vector (query {i})"),
                None => fail!(ZeroNorm, "cannot search with zero-norm query vector"),
            }
        }
        Ok(Query(query.iter().map(|&x| (x as f64 / norm) as f32).collect()))
    }

    /// Raw-store cosine divides by each row's norm: a selected zero-norm row is an error.
    pub(crate) fn check_rows(&self) -> Result<()> {
        if self.metric != Metric::Cosine || self.normalized_store || self.rows.zero_norm_rows == 0 {
            return Ok(());
        }
        let zero = match self.within_rows {
            Some(within) => within.iter().copied().find(|&r| self.rows.norms[r] == 0.0),
            None => self.rows.norms.iter().position(|&n| n == 0.0),
        };
        if let Some(r) = zero {
            fail!(ZeroNorm, "cannot cosine search zero-norm stored vectors (row {r})");
        }
        Ok(())
    }

    /// How many rows the search looks at.
    fn candidates(&self) -> usize {
        self.within_rows.map_or(self.rows.len(), |w| w.len())
    }

    fn worker_count(&self, units: usize) -> usize {
        let work = self.candidates().saturating_mul(self.dimensions);
        let wanted = match self.threads {
            0 if work < PARALLEL_MIN_VALUES => 1,
            0 => available_threads(),
            // More workers than a few per core only costs thread starts.
            n => n.min(available_threads() * 4),
        };
        wanted.clamp(1, units.max(1))
    }

    pub(crate) fn run(&self, query: &Query) -> Vec<Hit> {
        let n = self.candidates();
        if n == 0 {
            return Vec::new();
        }
        let kernel = Kernel::active();
        let workers = self.worker_count(n.div_ceil(BLOCK_ROWS));
        let top = if workers <= 1 {
            let mut top = TopK::new(self.top_k, self.metric.descending());
            self.scan(kernel, query, 0, n, &mut top);
            top
        } else {
            let per = n.div_ceil(workers).div_ceil(BLOCK_ROWS) * BLOCK_ROWS;
            let parts: Vec<_> = (0..workers)
                .map(|w| (w * per).min(n)..((w + 1) * per).min(n))
                .filter(|r| !r.is_empty())
                .collect();
            std::thread::scope(|s| {
                // The calling thread scans the first part itself instead of waiting idle.
                let handles: Vec<_> = parts[1..]
                    .iter()
                    .cloned()
                    .map(|r| {
                        s.spawn(move || {
                            let mut top = TopK::new(self.top_k, self.metric.descending());
                            self.scan(kernel, query, r.start, r.end, &mut top);
                            top
                        })
                    })
                    .collect();
                let mut top = TopK::new(self.top_k, self.metric.descending());
                self.scan(kernel, query, parts[0].start, parts[0].end, &mut top);
                for h in handles {
                    // A worker only panics on a bug; re-raise it on this thread so the FFI
                    // boundary turns it into an internal error.
                    top.merge(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
                }
                top
            })
        };
        self.hits(top)
    }

    pub(crate) fn run_batch(&self, queries: &[Query]) -> Vec<Vec<Hit>> {
        if self.candidates() == 0 {
            return queries.iter().map(|_| Vec::new()).collect();
        }
        // Batches are compute-bound: split the queries, every worker streams all rows.
        let workers = self.worker_count(queries.len());
        if workers <= 1 {
            return self.scan_batch(queries);
        }
        let per = queries.len().div_ceil(workers);
        std::thread::scope(|s| {
            let mut parts = queries.chunks(per);
            let first = parts.next().unwrap_or_default();
            let handles: Vec<_> = parts.map(|part| s.spawn(move || self.scan_batch(part))).collect();
            let mut all = self.scan_batch(first);
            for h in handles {
                all.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            all
        })
    }

    fn op(&self) -> Op {
        match self.metric {
            Metric::Euclidean => Op::L2sq,
            Metric::Dot | Metric::Cosine => Op::Dot,
        }
    }

    /// The store row at candidate position `pos`.
    #[inline]
    fn row_at(&self, pos: usize) -> usize {
        match self.within_rows {
            None => pos,
            Some(within) => within[pos],
        }
    }

    /// Point `refs` at the rows of candidates `start..start + refs.len()`, in place (a
    /// prefilter costs only its selected rows: nothing is copied).
    fn gather<'r>(&'r self, start: usize, refs: &mut [&'r [f32]]) {
        let d = self.dimensions;
        let vectors = &self.rows.vectors;
        match self.within_rows {
            None => {
                let block = &vectors[start * d..(start + refs.len()) * d];
                for (r, row) in refs.iter_mut().zip(block.chunks_exact(d)) {
                    *r = row;
                }
            }
            Some(within) => {
                for (r, &row) in refs.iter_mut().zip(&within[start..]) {
                    *r = &vectors[row * d..(row + 1) * d];
                }
            }
        }
    }

    /// Rows per batch tile: about 128 KiB of rows, so a tile read from memory once stays in
    /// L2 while every query group passes over it; a multiple of the 3- and 6-row micro-kernels.
    fn tile_rows(&self) -> usize {
        let rows = (128 << 10) / (self.dimensions * 4).max(1);
        (rows / 12 * 12).clamp(12, 240)
    }

    /// Queries share each tile of rows while it is in cache (a blocked matrix product); the
    /// top-k of every query is updated tile by tile, so no score matrix is ever materialized.
    fn scan_batch(&self, queries: &[Query]) -> Vec<Vec<Hit>> {
        if queries.is_empty() {
            return Vec::new();
        }
        let kernel = Kernel::active();
        let op = self.op();
        let mut tops: Vec<TopK> =
            queries.iter().map(|_| TopK::new(self.top_k, self.metric.descending())).collect();
        let qrefs: Vec<&[f32]> = queries.iter().map(|q| &q.0[..]).collect();
        let n = self.candidates();
        let rb = self.tile_rows();
        let qb = (QUERY_GROUP_BYTES / (self.dimensions * 4).max(1) / 4 * 4).clamp(4, 64).min(queries.len());
        let mut refs: Vec<&[f32]> = vec![&[]; rb];
        let mut values = vec![0.0f32; qb * rb];
        let mut start = 0;
        while start < n {
            let m = rb.min(n - start);
            self.gather(start, &mut refs[..m]);
            for (qs, tops) in qrefs.chunks(qb).zip(tops.chunks_mut(qb)) {
                let values = &mut values[..qs.len() * m];
                kernel.scores_tile(op, qs, &refs[..m], values);
                for ((q, top), vals) in qs.iter().zip(tops.iter_mut()).zip(values.chunks_exact(m)) {
                    if self.normalized_store {
                        self.offer_block(start, vals, top);
                    } else {
                        self.offer_raw(kernel, q, start, &refs[..m], vals, top);
                    }
                }
            }
            start += m;
        }
        tops.into_iter().map(|t| self.hits(t)).collect()
    }

    /// Score candidates `from..to` (positions in the store or in `within_rows`) into `top`.
    fn scan(&self, kernel: Kernel, query: &Query, from: usize, to: usize, top: &mut TopK) {
        let q = &query.0;
        let op = self.op();
        let mut raw = [0.0f32; BLOCK_ROWS];
        let mut refs: [&[f32]; BLOCK_ROWS] = [&[]; BLOCK_ROWS];
        let mut start = from;
        while start < to {
            let m = BLOCK_ROWS.min(to - start);
            self.gather(start, &mut refs[..m]);
            kernel.scores(op, q, &refs[..m], &mut raw[..m]);
            if self.normalized_store {
                self.offer_block(start, &raw[..m], top);
            } else {
                self.offer_raw(kernel, q, start, &refs[..m], &raw[..m], top);
            }
            start += m;
        }
    }

    /// Raw stores: candidates `start..start + refs.len()` with their f32 kernel results in
    /// `raw`. The value is the exact one, correctly rounded: the f64 dot product or distance,
    /// the f32 cosine (the reference's dot over the row norm rounded to f32). A row is dropped
    /// when the f32 result plus its error bound still ranks below the current k-th value or
    /// fails the threshold; only the rest pay for the exact value.
    fn offer_raw(
        &self,
        kernel: Kernel,
        q: &[f32],
        start: usize,
        refs: &[&[f32]],
        raw: &[f32],
        top: &mut TopK,
    ) {
        debug_assert!(refs.len() <= BLOCK_ROWS && raw.len() == refs.len());
        let d = self.dimensions as f64;
        // Rounding: at most d * 2^-24 relative to sum |q_i r_i| (recursive summation; blocking
        // and lane splits only lower it), doubled for margin; plus gradual underflow.
        let relative = (2.0 * d + 8.0) * U32;
        let absolute = (2.0 * d + 2.0) * UNDERFLOW;
        let q_norm = match self.metric {
            Metric::Dot => kernels::norm_sq_f64(q).sqrt(),
            _ => 1.0,
        };
        // Small chunks, so the k-th value set by the first exact values screens the rest of
        // the block (the first block of a scan would otherwise compute every row exactly).
        const CHUNK: usize = 16;
        let mut exact_refs: [&[f32]; CHUNK] = [&[]; CHUNK];
        let mut exact_rows = [0usize; CHUNK];
        let mut values = [0.0f64; CHUNK];
        let mut norms = [0.0f64; CHUNK];
        let mut cosines = [0.0f32; CHUNK];
        for (c, (raw, refs)) in raw.chunks(CHUNK).zip(refs.chunks(CHUNK)).enumerate() {
            // The limit a row's optimistic bound must reach: the k-th value or the threshold.
            let bar = match (top.worst(), self.threshold) {
                (Some(b), Some(t)) => Some(if top.strictly_worse(b, t) { t } else { b }),
                (b, t) => b.or(t),
            };
            let mut n = 0;
            for (i, (&r, &v)) in raw.iter().zip(refs).enumerate() {
                let row = self.row_at(start + c * CHUNK + i);
                // An overflowed (non-finite) f32 result says nothing: always compute exactly.
                if let (true, Some(bar)) = (r.is_finite(), bar) {
                    let r = r as f64;
                    let hopeless = match self.metric {
                        // |q| = 1: dot error <= relative * |r| + absolute; compare dot with bar * |r|.
                        Metric::Cosine => {
                            let norm = self.rows.norms[row];
                            r + relative * norm + absolute < bar * norm
                        }
                        Metric::Dot => r + relative * q_norm * self.rows.norms[row] + absolute < bar,
                        // All terms are non-negative: a relative lower bound on the squared distance.
                        Metric::Euclidean => r * (1.0 - relative) - absolute > bar * bar,
                    };
                    if hopeless {
                        continue;
                    }
                }
                exact_refs[n] = v;
                exact_rows[n] = row;
                n += 1;
            }
            let (refs, rows) = (&exact_refs[..n], &exact_rows[..n]);
            match self.metric {
                Metric::Dot => kernel.dots_exact(q, refs, &mut values[..n]),
                Metric::Euclidean => kernel.distances_exact(q, refs, &mut values[..n]),
                Metric::Cosine => {
                    for (norm, &row) in norms.iter_mut().zip(rows) {
                        *norm = self.rows.norms[row];
                    }
                    kernel.cosines_exact(q, refs, &norms[..n], &mut cosines[..n]);
                    for (v, &c) in values.iter_mut().zip(&cosines[..n]) {
                        *v = c as f64;
                    }
                }
            }
            for (&value, &row) in values[..n].iter().zip(rows) {
                self.keep(value, row, top);
            }
        }
    }

    /// Normalized stores: offer kernel results for candidates `start..start + raw.len()`. The
    /// value is monotonic in the kernel result, so when even the block's best result cannot
    /// beat the k-th value the whole block is skipped with one vectorizable min/max; otherwise
    /// rows that rank below it are rejected before the top-k is touched.
    #[inline]
    fn offer_block(&self, start: usize, raw: &[f32], top: &mut TopK) {
        let descending = self.metric.descending();
        let value = |r: f32| match self.metric {
            Metric::Euclidean => r.max(0.0).sqrt() as f64,
            _ => r as f64,
        };
        if let Some(bar) = top.worst() {
            let best =
                raw.iter().fold(if descending { f32::NEG_INFINITY } else { f32::INFINITY }, |m, &v| {
                    if descending {
                        m.max(v)
                    } else {
                        m.min(v)
                    }
                });
            if top.strictly_worse(value(best), bar) {
                return;
            }
        }
        for (i, &r) in raw.iter().enumerate() {
            let v = value(r);
            if top.worst().is_some_and(|bar| top.strictly_worse(v, bar)) {
                continue;
            }
            self.keep(v, self.row_at(start + i), top);
        }
    }

    /// Apply the threshold to a metric value and keep it if it ranks in the top-k.
    #[inline]
    fn keep(&self, value: f64, row: usize, top: &mut TopK) {
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

    fn hits(&self, top: TopK) -> Vec<Hit> {
        top.into_sorted()
            .into_iter()
            .map(|s| Hit { index: s.index, id: self.rows.ids[s.index], value: s.value })
            .collect()
    }
}

/// `within_rows` must be unique and inside the store. Duplicates are reported before range
/// errors, as the reference does. The cost follows the selection, not the store: a small
/// selection of a big store is checked by sorting a copy instead of marking a bitmap of rows.
fn check_within_rows(within: &[usize], len: usize) -> Result<()> {
    if within.len().saturating_mul(64) < len {
        check_within_rows_sorted(within, len)
    } else {
        check_within_rows_bitmap(within, len)
    }
}

fn check_within_rows_bitmap(within: &[usize], len: usize) -> Result<()> {
    let mut seen = vec![0u64; len.div_ceil(64)];
    let mut outside = Vec::new();
    for &r in within {
        if r < len {
            let (word, bit) = (r / 64, 1u64 << (r % 64));
            if seen[word] & bit != 0 {
                fail!(InvalidArgument, "within_rows must contain unique row indexes (row {r} repeats)");
            }
            seen[word] |= bit;
        } else {
            outside.push(r);
        }
    }
    if let Some(&first) = outside.first() {
        outside.sort_unstable();
        if let Some(w) = outside.windows(2).find(|w| w[0] == w[1]) {
            fail!(InvalidArgument, "within_rows must contain unique row indexes (row {} repeats)", w[0]);
        }
        fail!(OutOfRange, "within_rows contains row index {first} outside the store ({len} rows)");
    }
    Ok(())
}

/// Same verdicts and messages as the bitmap check: the in-range repeat reported is the one
/// whose second occurrence comes first; then the smallest repeated out-of-range index; then
/// the first out-of-range index.
fn check_within_rows_sorted(within: &[usize], len: usize) -> Result<()> {
    let mut sorted: Vec<(usize, usize)> = within.iter().copied().zip(0..).collect();
    sorted.sort_unstable();
    let mut repeat: Option<(usize, usize)> = None; // (second position, row)
    let mut outside_repeat = None;
    let mut first_outside: Option<(usize, usize)> = None; // (position, row)
    for (i, &(row, pos)) in sorted.iter().enumerate() {
        let again = i > 0 && sorted[i - 1].0 == row;
        if row < len {
            let second = again && (i < 2 || sorted[i - 2].0 != row);
            if second && repeat.is_none_or(|(p, _)| pos < p) {
                repeat = Some((pos, row));
            }
        } else {
            if again && outside_repeat.is_none() {
                outside_repeat = Some(row);
            }
            if first_outside.is_none_or(|(p, _)| pos < p) {
                first_outside = Some((pos, row));
            }
        }
    }
    if let Some(r) = repeat.map(|(_, r)| r).or(outside_repeat) {
        fail!(InvalidArgument, "within_rows must contain unique row indexes (row {r} repeats)");
    }
    if let Some((_, first)) = first_outside {
        fail!(OutOfRange, "within_rows contains row index {first} outside the store ({len} rows)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_bitmap_prefilter_checks_agree() {
        let mut x: u64 = 12345;
        let mut next = |m: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 33) % m) as usize
        };
        for _ in 0..20000 {
            let len = next(12);
            let k = next(8);
            let within: Vec<usize> = (0..k).map(|_| next(16)).collect();
            let a = check_within_rows_sorted(&within, len).map_err(|e| (e.kind, e.message));
            let b = check_within_rows_bitmap(&within, len).map_err(|e| (e.kind, e.message));
            assert_eq!(a, b, "within {within:?} len {len}");
        }
    }
}
