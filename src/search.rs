//! Exact search: validation of a search request, the scan over rows in blocks, and top-k.
//! Values follow the reference (numpy-vector-store 0.7.0): normalized stores compute in f32;
//! raw stores are overflow-safe (f32 fast path, rows whose f32 result is not finite or is
//! tiny enough to have lost precision to underflow are recomputed in f64).

use std::sync::OnceLock;

use crate::error::{fail, Result};
use crate::kernels;
use crate::store::{Hit, Metric, Rows, SearchOptions, VectorStore};
use crate::topk::TopK;

/// Rows scanned per kernel call: small enough that the value buffer stays in L1.
const BLOCK_ROWS: usize = 256;
/// Below this many f32 values (rows x dims) one thread is faster than spawning workers.
const PARALLEL_MIN_VALUES: usize = 4 << 20;
/// f32 results with a magnitude below this may have lost precision to underflow.
const TINY: f32 = 1e-30;

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
        let norm = kernels::norm_sq_f64(query).sqrt();
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
            n => n,
        };
        wanted.clamp(1, units.max(1))
    }

    pub(crate) fn run(&self, query: &Query) -> Vec<Hit> {
        let n = self.candidates();
        if n == 0 {
            return Vec::new();
        }
        let workers = self.worker_count(n.div_ceil(BLOCK_ROWS));
        let top = if workers <= 1 {
            let mut top = TopK::new(self.top_k, self.metric.descending());
            self.scan(query, 0, n, &mut top);
            top
        } else {
            let per = n.div_ceil(workers).div_ceil(BLOCK_ROWS) * BLOCK_ROWS;
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers)
                    .map(|w| (w * per).min(n)..((w + 1) * per).min(n))
                    .filter(|r| !r.is_empty())
                    .map(|r| {
                        s.spawn(move || {
                            let mut top = TopK::new(self.top_k, self.metric.descending());
                            self.scan(query, r.start, r.end, &mut top);
                            top
                        })
                    })
                    .collect();
                let mut top = TopK::new(self.top_k, self.metric.descending());
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
        let workers = self.worker_count(queries.len());
        if workers <= 1 {
            return self.scan_batch(queries);
        }
        let per = queries.len().div_ceil(workers);
        std::thread::scope(|s| {
            let handles: Vec<_> = queries.chunks(per).map(|part| s.spawn(move || self.scan_batch(part))).collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    }

    /// Queries share each block of rows while it is in cache (a blocked matrix product).
    fn scan_batch(&self, queries: &[Query]) -> Vec<Vec<Hit>> {
        let mut tops: Vec<TopK> =
            queries.iter().map(|_| TopK::new(self.top_k, self.metric.descending())).collect();
        let n = self.candidates();
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK_ROWS / 4).min(n);
            for (q, top) in queries.iter().zip(tops.iter_mut()) {
                self.scan(q, start, end, top);
            }
            start = end;
        }
        tops.into_iter().map(|t| self.hits(t)).collect()
    }

    /// Score candidates `from..to` (positions in the store or in `within_rows`) into `top`.
    fn scan(&self, query: &Query, from: usize, to: usize, top: &mut TopK) {
        let d = self.dimensions;
        let q = &query.0;
        let mut raw = [0.0f32; BLOCK_ROWS];
        let mut start = from;
        while start < to {
            let end = (start + BLOCK_ROWS).min(to);
            let out = &mut raw[..end - start];
            match self.within_rows {
                None => {
                    let block = &self.rows.vectors[start * d..end * d];
                    match self.metric {
                        Metric::Euclidean => kernels::l2sq_block(q, block, out),
                        _ => kernels::dot_block(q, block, out),
                    }
                    for (i, &r) in out.iter().enumerate() {
                        self.offer(q, start + i, r, top);
                    }
                }
                Some(within) => {
                    for (o, &row) in out.iter_mut().zip(&within[start..end]) {
                        let v = &self.rows.vectors[row * d..(row + 1) * d];
                        let one = std::slice::from_mut(o);
                        match self.metric {
                            Metric::Euclidean => kernels::l2sq_block(q, v, one),
                            _ => kernels::dot_block(q, v, one),
                        }
                    }
                    for (&r, &row) in out.iter().zip(&within[start..end]) {
                        self.offer(q, row, r, top);
                    }
                }
            }
            start = end;
        }
    }

    /// Turn a kernel result for `row` into the metric value, apply the threshold, keep top-k.
    #[inline]
    fn offer(&self, q: &[f32], row: usize, raw: f32, top: &mut TopK) {
        let value = self.value(q, row, raw);
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

    #[inline]
    fn value(&self, q: &[f32], row: usize, raw: f32) -> f64 {
        let d = self.dimensions;
        let needs_f64 = !self.normalized_store && !(raw.is_finite() && raw.abs() >= TINY);
        let slow = || &self.rows.vectors[row * d..(row + 1) * d];
        match self.metric {
            Metric::Euclidean if self.normalized_store => raw.max(0.0).sqrt() as f64,
            Metric::Euclidean => {
                let sq = if needs_f64 { kernels::l2sq_f64(q, slow()) } else { raw as f64 };
                sq.max(0.0).sqrt()
            }
            Metric::Dot | Metric::Cosine if self.normalized_store => raw as f64,
            Metric::Dot => {
                if needs_f64 {
                    kernels::dot_f64(q, slow())
                } else {
                    raw as f64
                }
            }
            // Raw cosine is rounded to f32 after dividing by the row norm; only an f64 dot keeps
            // parallel rows of different lengths exactly tied there, as in the reference.
            Metric::Cosine => {
                let _ = raw;
                (kernels::dot_f64(q, slow()) / self.rows.norms[row]) as f32 as f64
            }
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
/// errors, as the reference does.
fn check_within_rows(within: &[usize], len: usize) -> Result<()> {
    let mut seen = vec![false; len];
    let mut outside = Vec::new();
    for &r in within {
        if r < len {
            if seen[r] {
                fail!(InvalidArgument, "within_rows must contain unique row indexes (row {r} repeats)");
            }
            seen[r] = true;
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
