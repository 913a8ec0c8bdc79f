//! The library's worker threads: a persistent pool that splits one call's work into parts.
//! Searches use it (one query over parts of the rows, a batch over parts of the queries);
//! the caller's thread always takes part 0, so one part means no other thread at all.

use std::sync::OnceLock;

/// The CPUs this process may use (1 when unknown).
pub(crate) fn available_threads() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// Run `job(0)`, ..., `job(parts - 1)` and return the results in part order. Part 0 runs on the
/// calling thread; the others on the library's worker pool, which the first parallel search
/// starts (one thread fewer than the CPUs, named `nvs-search-N`) and which then stays, idle
/// and blocked, for the life of the process. A panic in any part is re-raised on the caller.
pub(crate) fn in_parallel<T: Send>(parts: usize, job: &(dyn Fn(usize) -> T + Sync)) -> Vec<T> {
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
