//! Splitting one search over worker threads: a single query splits the rows, a batch splits
//! the queries. Results are bit-identical for every number of workers.

use std::sync::OnceLock;

use super::request::{Hit, Plan, Query};
use super::scan::BLOCK_ROWS;
use super::topk::TopK;

use crate::kernels::tuning::PARALLEL_MIN_VALUES;

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

/// Run `job(0)`, ..., `job(parts - 1)` and return the results in part order. Part 0 runs on the
/// calling thread; the others on the library's worker pool, which the first parallel search
/// starts (one thread fewer than the CPUs, named `nvs-search-N`) and which then stays, idle
/// and blocked, for the life of the process. A panic in any part is re-raised on the caller.
fn in_parallel<T: Send>(parts: usize, job: &(dyn Fn(usize) -> T + Sync)) -> Vec<T> {
    if parts <= 1 {
        return (0..parts).map(job).collect();
    }
    let mut results: Vec<Option<T>> = (0..parts).map(|_| None).collect();
    let (first, rest) = results.split_first_mut().expect("two parts or more");
    match pool() {
        Some(pool) => pool.in_place_scope(|s| {
            for (i, slot) in rest.iter_mut().enumerate() {
                s.spawn(move |_| *slot = Some(job(i + 1)));
            }
            *first = Some(job(0));
        }),
        // No pool (it could not start, or this is a forked child without its threads).
        None => std::thread::scope(|s| {
            for (i, slot) in rest.iter_mut().enumerate() {
                s.spawn(move || *slot = Some(job(i + 1)));
            }
            *first = Some(job(0));
        }),
    }
    results.into_iter().map(|r| r.expect("every part ran")).collect()
}

/// Worker threads of the pool are named with this prefix (the C boundary keeps their panics
/// quiet, as it does for panics inside entry points).
pub(crate) const WORKER_NAME_PREFIX: &str = "nvs-search-";

fn pool() -> Option<&'static rayon_core::ThreadPool> {
    static POOL: OnceLock<Option<(u32, rayon_core::ThreadPool)>> = OnceLock::new();
    let (pid, pool) = POOL
        .get_or_init(|| {
            rayon_core::ThreadPoolBuilder::new()
                .num_threads(available_threads().saturating_sub(1).max(1))
                .thread_name(|i| format!("{WORKER_NAME_PREFIX}{i}"))
                .build()
                .ok()
                .map(|pool| (std::process::id(), pool))
        })
        .as_ref()?;
    // fork() copies the pool's state but not its threads: a child must not wait for them.
    (*pid == std::process::id()).then_some(pool)
}
