//! Splitting one search over worker threads: a single query splits the rows, a batch splits
//! the queries. Results are bit-identical for every number of workers.

use super::request::{Hit, Plan, Query};
use super::scan::BLOCK_ROWS;
use super::topk::TopK;
use crate::kernels::tuning::PARALLEL_MIN_VALUES;
use crate::pool::{available_threads, in_parallel};

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
        // Parts are whole blocks, so a row's value never depends on the number of workers.
        let per = n.div_ceil(workers).div_ceil(BLOCK_ROWS) * BLOCK_ROWS;
        let parts = n.div_ceil(per);
        let tops = in_parallel(parts, &|p| {
            let mut top = TopK::new(self.top_k, self.metric.descending());
            self.scan(query, p * per, ((p + 1) * per).min(n), &mut top);
            top
        });
        let mut tops = tops.into_iter();
        let mut top = tops.next().unwrap_or_else(|| TopK::new(self.top_k, self.metric.descending()));
        for t in tops {
            top.merge(t);
        }
        self.hits(top)
    }

    pub(super) fn run_batch(&self, queries: &[Query]) -> Vec<Vec<Hit>> {
        if self.candidates() == 0 || queries.is_empty() {
            return queries.iter().map(|_| Vec::new()).collect();
        }
        // Batches are compute-bound: split the queries, every worker streams all rows.
        let workers = self.worker_count(queries.len());
        let per = queries.len().div_ceil(workers);
        let parts: Vec<&[Query]> = queries.chunks(per).collect();
        in_parallel(parts.len(), &|p| self.scan_batch(parts[p])).into_iter().flatten().collect()
    }
}
