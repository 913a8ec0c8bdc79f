//! Splitting one search over worker threads: a single query splits the rows, a batch splits
//! the queries. Results are bit-identical for every number of workers.

use std::sync::OnceLock;

use super::request::{Hit, Plan, Query};
use super::scan::BLOCK_ROWS;
use super::topk::TopK;

/// Below this many f32 values (rows x dims, 16 MiB: about 10k rows of 384 dimensions) one
/// thread is faster than spawning workers.
const PARALLEL_MIN_VALUES: usize = 4 << 20;

fn available_threads() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

impl Plan<'_> {
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

    pub(super) fn run(&self, query: &Query) -> Vec<Hit> {
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
                            self.scan(query, r.start, r.end, &mut top);
                            top
                        })
                    })
                    .collect();
                let mut top = TopK::new(self.top_k, self.metric.descending());
                self.scan(query, parts[0].start, parts[0].end, &mut top);
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

    pub(super) fn run_batch(&self, queries: &[Query]) -> Vec<Vec<Hit>> {
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
}
