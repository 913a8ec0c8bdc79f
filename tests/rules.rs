//! The store's rules through the Rust API: validation, nothing lost on failure, metrics,
//! normalization, thresholds, within_rows, tie order and extreme values. Expected values follow
//! numpy-vector-store 0.7.0.

use nvs::{ErrorKind, Hit, Metric, SearchOptions, VectorStore};

#[cfg(target_os = "linux")]
#[allow(dead_code)] // this suite only re-runs tests in a child; it captures no output
#[path = "support/child.rs"]
mod child;

fn store(dims: usize, normalize: bool, rows: &[&[f32]]) -> VectorStore {
    let s = VectorStore::new(dims, normalize).unwrap();
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    s.add(&flat, None).unwrap();
    s
}

fn opts(top_k: usize) -> SearchOptions<'static> {
    SearchOptions { top_k, ..Default::default() }
}

fn indexes(hits: &[Hit]) -> Vec<usize> {
    hits.iter().map(|h| h.index).collect()
}

fn kind<T: std::fmt::Debug>(r: nvs::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind
}

#[test]
fn dimensions_must_be_positive() {
    assert_eq!(kind(VectorStore::new(0, true)), ErrorKind::InvalidArgument);
    let s = VectorStore::new(3, false).unwrap();
    assert_eq!((s.dimensions(), s.normalize(), s.len()), (3, false, 0));
}

#[test]
fn failed_adds_add_nothing() {
    let s = store(2, true, &[&[1.0, 0.0]]);
    let before = s.get(0).unwrap();
    assert_eq!(kind(s.add(&[1.0, 2.0, 3.0], None)), ErrorKind::DimensionMismatch);
    assert_eq!(kind(s.add(&[1.0, 2.0, 3.0, 4.0], Some(&[7]))), ErrorKind::InvalidArgument);
    assert_eq!(kind(s.add(&[1.0, 2.0, f32::NAN, 1.0], None)), ErrorKind::NonFinite);
    assert_eq!(kind(s.add(&[1.0, 2.0, f32::INFINITY, 1.0], None)), ErrorKind::NonFinite);
    assert_eq!(kind(s.add(&[1.0, 2.0, 0.0, 0.0], Some(&[5, 6]))), ErrorKind::ZeroNorm);
    // A non-finite value anywhere in the batch is reported before a zero row, as the reference does.
    assert_eq!(kind(s.add(&[0.0, 0.0, 1.0, f32::NAN], None)), ErrorKind::NonFinite);
    assert_eq!(s.len(), 1);
    assert_eq!(s.get(0).unwrap(), before);
    // Messages name the problem.
    let e = s.add(&[1.0, 2.0, 3.0], None).unwrap_err();
    assert!(e.message.contains("3 values") && e.message.contains("2 dimensions"), "{}", e.message);
}

#[test]
fn ids_default_to_row_indexes_and_continue() {
    let s = VectorStore::new(2, false).unwrap();
    s.add(&[1.0, 0.0, 0.0, 1.0], None).unwrap();
    s.add(&[1.0, 1.0], Some(&[u64::MAX])).unwrap();
    s.add(&[2.0, 2.0], None).unwrap();
    let ids: Vec<u64> = (0..4).map(|i| s.get(i).unwrap().1).collect();
    assert_eq!(ids, vec![0, 1, u64::MAX, 3]);
    assert!(s.get(4).is_none());
    assert_eq!(kind(s.get_into(4, None)), ErrorKind::NotFound);
}

#[test]
fn normalize_stores_unit_vectors_even_for_extreme_magnitudes() {
    let s = store(2, true, &[&[3.0, 4.0], &[1e30, 1e30], &[1e-30, 0.0]]);
    assert_eq!(s.get(0).unwrap().0, vec![0.6, 0.8]);
    let big = s.get(1).unwrap().0;
    assert!((big[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-7);
    assert_eq!(s.get(2).unwrap().0, vec![1.0, 0.0]);
    // Raw stores keep values as given, zero rows included.
    let raw = store(2, false, &[&[3.0, 4.0], &[0.0, 0.0]]);
    assert_eq!(raw.get(0).unwrap().0, vec![3.0, 4.0]);
    assert_eq!(raw.get(1).unwrap().0, vec![0.0, 0.0]);
}

#[test]
fn read_rows_copies_ranges() {
    let s = VectorStore::new(2, false).unwrap();
    s.add(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], Some(&[10, 11, 12])).unwrap();
    let mut v = [0.0f32; 4];
    let mut ids = [0u64; 2];
    s.read_rows(1, 2, Some(&mut v), Some(&mut ids)).unwrap();
    assert_eq!((v, ids), ([3.0, 4.0, 5.0, 6.0], [11, 12]));
    assert_eq!(kind(s.read_rows(2, 2, None, None)), ErrorKind::OutOfRange);
    assert_eq!(kind(s.read_rows(usize::MAX, 2, None, None)), ErrorKind::OutOfRange);
    assert_eq!(kind(s.read_rows(0, 2, Some(&mut v[..3]), None)), ErrorKind::BufferTooSmall);
    s.read_rows(3, 0, None, None).unwrap();
}

#[test]
fn clear_removes_everything() {
    let s = store(2, true, &[&[1.0, 0.0], &[0.0, 1.0]]);
    s.clear();
    assert_eq!(s.len(), 0);
    assert!(s.search(Metric::Cosine, &[1.0, 0.0], &opts(3)).unwrap().is_empty());
    s.add(&[1.0, 1.0], None).unwrap();
    assert_eq!(s.get(0).unwrap().1, 0);
}

#[test]
fn quick_start() {
    let s = VectorStore::new(3, true).unwrap();
    s.add(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], Some(&[100, 101, 102])).unwrap();
    let hits = s.search(Metric::Cosine, &[0.9, 0.1, 0.0], &opts(2)).unwrap();
    assert_eq!(indexes(&hits), vec![0, 1]);
    assert_eq!(hits[0].id, 100);
    assert!((hits[0].value - 0.993_883_73).abs() < 1e-6);
    assert!((hits[1].value - 0.110_431_53).abs() < 1e-6);
}

#[test]
fn metric_orders() {
    let s = store(2, false, &[&[1.0, 0.0], &[2.0, 0.0], &[0.0, 3.0], &[-1.0, 0.0]]);
    let q = [1.0, 0.0];
    let dot = s.search(Metric::Dot, &q, &opts(10)).unwrap();
    assert_eq!(indexes(&dot), vec![1, 0, 2, 3]);
    assert_eq!(dot.iter().map(|h| h.value).collect::<Vec<_>>(), vec![2.0, 1.0, 0.0, -1.0]);
    let euc = s.search(Metric::Euclidean, &q, &opts(10)).unwrap();
    assert_eq!(indexes(&euc), vec![0, 1, 3, 2]);
    assert_eq!(euc[2].value, 2.0);
    assert!((euc[3].value - 10f64.sqrt()).abs() < 1e-12);
    // Raw cosine divides by the row norms: rows 0 and 1 tie at 1.0, lower index first.
    let cos = s.search(Metric::Cosine, &q, &opts(10)).unwrap();
    assert_eq!(indexes(&cos), vec![0, 1, 2, 3]);
    assert_eq!(cos[0].value, 1.0);
    assert_eq!(cos[1].value, 1.0);
}

#[test]
fn ties_use_ascending_row_index_at_the_top_k_boundary_and_under_within_rows() {
    let rows: Vec<&[f32]> =
        vec![&[0.0, 1.0], &[1.0, 0.0], &[0.0, 1.0], &[1.0, 0.0], &[1.0, 0.0], &[0.0, 1.0]];
    for normalize in [true, false] {
        let s = store(2, normalize, &rows);
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
            let hits = s.search(metric, &[1.0, 0.0], &opts(2)).unwrap();
            assert_eq!(indexes(&hits), vec![1, 3], "{metric:?} normalize={normalize}");
            let all = s.search(metric, &[1.0, 0.0], &opts(6)).unwrap();
            assert_eq!(indexes(&all), vec![1, 3, 4, 0, 2, 5]);
            for within in [[5usize, 4, 0, 3], [0, 3, 4, 5], [4, 5, 3, 0]] {
                let o = SearchOptions { top_k: 3, within_rows: Some(&within), ..Default::default() };
                assert_eq!(indexes(&s.search(metric, &[1.0, 0.0], &o).unwrap()), vec![3, 4, 0]);
            }
        }
    }
}

#[test]
fn thresholds_are_inclusive_min_for_similarity_and_max_for_distance() {
    let s = store(2, false, &[&[1.0, 0.0], &[2.0, 0.0], &[3.0, 0.0]]);
    let q = [1.0, 0.0];
    let o = SearchOptions { top_k: 10, threshold: Some(2.0), ..Default::default() };
    assert_eq!(indexes(&s.search(Metric::Dot, &q, &o).unwrap()), vec![2, 1]);
    let o = SearchOptions { top_k: 10, threshold: Some(1.0), ..Default::default() };
    assert_eq!(indexes(&s.search(Metric::Euclidean, &q, &o).unwrap()), vec![0, 1]);
    let o = SearchOptions { top_k: 10, threshold: Some(1.5), ..Default::default() };
    assert!(s.search(Metric::Cosine, &q, &o).unwrap().is_empty());
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let o = SearchOptions { top_k: 10, threshold: Some(bad), ..Default::default() };
        assert_eq!(kind(s.search(Metric::Dot, &q, &o)), ErrorKind::NonFinite);
    }
}

#[test]
fn query_validation() {
    let s = store(2, true, &[&[1.0, 0.0]]);
    assert_eq!(kind(s.search(Metric::Cosine, &[1.0], &opts(1))), ErrorKind::DimensionMismatch);
    assert_eq!(kind(s.search(Metric::Cosine, &[f32::NAN, 1.0], &opts(1))), ErrorKind::NonFinite);
    assert_eq!(kind(s.search(Metric::Cosine, &[1.0, 0.0], &opts(0))), ErrorKind::InvalidArgument);
    // Normalized store: every metric normalizes the query, so a zero query is rejected...
    for m in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
        assert_eq!(kind(s.search(m, &[0.0, 0.0], &opts(1))), ErrorKind::ZeroNorm);
    }
    // ...even on an empty store.
    let empty = VectorStore::new(2, true).unwrap();
    assert_eq!(kind(empty.search(Metric::Dot, &[0.0, 0.0], &opts(1))), ErrorKind::ZeroNorm);
    // Raw store: dot and euclidean accept a zero query, cosine does not.
    let raw = store(2, false, &[&[3.0, 4.0]]);
    assert_eq!(raw.search(Metric::Dot, &[0.0, 0.0], &opts(1)).unwrap()[0].value, 0.0);
    assert_eq!(raw.search(Metric::Euclidean, &[0.0, 0.0], &opts(1)).unwrap()[0].value, 5.0);
    assert_eq!(kind(raw.search(Metric::Cosine, &[0.0, 0.0], &opts(1))), ErrorKind::ZeroNorm);
    // Normalized dot/euclidean use the unit query.
    let n = store(2, true, &[&[3.0, 4.0]]);
    assert!((n.search(Metric::Dot, &[0.0, 10.0], &opts(1)).unwrap()[0].value - 0.8).abs() < 1e-6);
}

#[test]
fn within_rows_rules() {
    let s = store(2, true, &[&[1.0, 0.0], &[0.0, 1.0], &[1.0, 1.0]]);
    let q = [1.0, 0.0];
    let with = |w: &'static [usize]| SearchOptions { top_k: 10, within_rows: Some(w), ..Default::default() };
    assert!(s.search(Metric::Cosine, &q, &with(&[])).unwrap().is_empty());
    assert_eq!(indexes(&s.search(Metric::Cosine, &q, &with(&[1, 2])).unwrap()), vec![2, 1]);
    assert_eq!(kind(s.search(Metric::Cosine, &q, &with(&[1, 1]))), ErrorKind::InvalidArgument);
    assert_eq!(kind(s.search(Metric::Cosine, &q, &with(&[3]))), ErrorKind::OutOfRange);
    // Duplicates are reported before range errors, as the reference does.
    assert_eq!(kind(s.search(Metric::Cosine, &q, &with(&[7, 7]))), ErrorKind::InvalidArgument);
    // Validated even on an empty store.
    let empty = VectorStore::new(2, true).unwrap();
    assert_eq!(kind(empty.search(Metric::Cosine, &q, &with(&[0]))), ErrorKind::OutOfRange);
    assert!(empty.search(Metric::Cosine, &q, &with(&[])).unwrap().is_empty());
}

#[test]
fn raw_cosine_rejects_selected_zero_rows_only() {
    let s = store(2, false, &[&[1.0, 0.0], &[0.0, 0.0], &[0.0, 2.0]]);
    let q = [1.0, 1.0];
    assert_eq!(kind(s.search(Metric::Cosine, &q, &opts(3))), ErrorKind::ZeroNorm);
    let w = [0usize, 2];
    let o = SearchOptions { top_k: 3, within_rows: Some(&w), ..Default::default() };
    assert_eq!(indexes(&s.search(Metric::Cosine, &q, &o).unwrap()), vec![0, 2]);
    // Dot and euclidean are fine with zero rows.
    assert_eq!(s.search(Metric::Dot, &q, &opts(3)).unwrap().len(), 3);
}

#[test]
fn raw_values_do_not_overflow_or_underflow_float32() {
    let s = store(2, false, &[&[1e30, 1e30], &[-1e30, 1e30], &[1e-30, 1e-30]]);
    let dot = s.search(Metric::Dot, &[1e30, 0.0], &opts(3)).unwrap();
    assert_eq!(indexes(&dot), vec![0, 2, 1], "{dot:?}");
    assert!((dot[0].value / 1e60 - 1.0).abs() < 1e-6, "{}", dot[0].value);
    assert!((dot[1].value / 1e0 - 1.0).abs() < 1e-6, "{}", dot[1].value);
    let euc = s.search(Metric::Euclidean, &[1e30, 1e30], &opts(3)).unwrap();
    assert_eq!(indexes(&euc), vec![0, 2, 1], "{euc:?}");
    assert_eq!(euc[0].value, 0.0);
    assert!((euc[2].value / 2e30 - 1.0).abs() < 1e-6);
    let tiny = s.search(Metric::Dot, &[1e-30, 1e-30], &opts(3)).unwrap();
    let t = tiny.iter().find(|h| h.index == 2).unwrap();
    assert!((t.value / 2e-60 - 1.0).abs() < 1e-6, "{}", t.value);
    let cos = s.search(Metric::Cosine, &[1.0, 1.0], &opts(3)).unwrap();
    assert_eq!(indexes(&cos), vec![0, 2, 1]);
    assert!((cos[0].value - 1.0).abs() < 1e-6);
}

/// Thread ids of this process's search workers (`nvs-search-N`), from /proc.
#[cfg(target_os = "linux")]
fn search_workers() -> std::collections::BTreeSet<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| {
            let t = t.ok()?;
            let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
            comm.starts_with("nvs-search-").then(|| t.file_name().to_string_lossy().into_owned())
        })
        .collect()
}

/// A store big enough that `threads: 2` really splits a search: (dimensions, store, rows).
#[cfg(target_os = "linux")]
fn parallel_store() -> (usize, VectorStore, Vec<f32>) {
    let d = 16;
    let s = VectorStore::new(d, true).unwrap();
    let rows: Vec<f32> = (0..4000 * d).map(|i| ((i * 7919) % 1000) as f32 + 1.0).collect();
    s.add(&rows, None).unwrap();
    (d, s, rows)
}

#[test]
#[cfg(target_os = "linux")]
fn parallel_searches_reuse_one_pool_of_workers() {
    let (d, s, rows) = parallel_store();
    let o = SearchOptions { threads: 2, ..Default::default() };
    s.search(Metric::Dot, &rows[..d], &o).unwrap();
    let workers = search_workers();
    assert!(!workers.is_empty(), "a search with threads = 2 left no worker waiting");
    for _ in 0..20 {
        s.search(Metric::Dot, &rows[..d], &o).unwrap();
        s.search_batch(Metric::Euclidean, &rows[..4 * d], &o).unwrap();
    }
    // The same threads, not new ones (other tests may start the pool at the same moment, but
    // never a second one).
    assert_eq!(search_workers(), workers);
}

#[test]
#[cfg(target_os = "linux")]
fn a_forked_child_searches_in_parallel_without_the_parents_workers() {
    child::run_child_test("forked_child_search_child", &[]);
}

/// Run alone in a fresh process (fork with other test threads alive would be unsafe): start the
/// pool, fork, and search with two threads in the child, which has none of the pool's threads.
#[test]
#[ignore = "run by a_forked_child_searches_in_parallel_without_the_parents_workers"]
#[cfg(target_os = "linux")]
fn forked_child_search_child() {
    let (d, s, rows) = parallel_store();
    let o = SearchOptions { threads: 2, ..Default::default() };
    let want = s.search(Metric::Dot, &rows[..d], &o).unwrap();
    assert!(!search_workers().is_empty());
    // SAFETY: this process runs this one test on one thread besides the idle pool workers.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // The child: a search that waited for the parent's workers would hang here; a wrong
        // result or a panic exits with a failure code.
        let ok = std::panic::catch_unwind(|| {
            s.search(Metric::Dot, &rows[..d], &o).unwrap() == want
                && s.search_batch(Metric::Dot, &rows[..4 * d], &o).unwrap()[0] == want
        });
        // SAFETY: leave the forked child at once, without running the parent's exit handlers.
        unsafe { libc::_exit(if matches!(ok, Ok(true)) { 0 } else { 1 }) };
    }
    let mut status = 0;
    // Poll with a deadline: a hung child must fail the test, not hang it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        if std::time::Instant::now() > deadline {
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child's parallel search hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status}");
}

#[test]
fn batch_and_threads_match_single_searches() {
    let (n, d) = (3000, 24);
    let mut x: u64 = 7;
    let mut rnd = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let rows: Vec<f32> = (0..n * d).map(|_| rnd()).collect();
    // 121 queries: every screen panel width (64, 32 and 16 on AVX-512; 16 and 8 on AVX2 and
    // NEON) and a few left over on every kernel.
    let queries: Vec<f32> = (0..121 * d).map(|_| rnd()).collect();
    let within: Vec<usize> = (0..n).rev().step_by(3).collect();
    for normalize in [true, false] {
        let s = VectorStore::new(d, normalize).unwrap();
        s.add(&rows, None).unwrap();
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
            for w in [None, Some(within.as_slice())] {
                let base = SearchOptions { top_k: 7, within_rows: w, threads: 1, ..Default::default() };
                let single: Vec<Vec<Hit>> =
                    queries.chunks(d).map(|q| s.search(metric, q, &base).unwrap()).collect();
                for threads in [1, 2, 3] {
                    let o = SearchOptions { threads, ..base };
                    assert_eq!(s.search_batch(metric, &queries, &o).unwrap(), single);
                    let again: Vec<Vec<Hit>> =
                        queries.chunks(d).map(|q| s.search(metric, q, &o).unwrap()).collect();
                    assert_eq!(again, single, "{metric:?} threads={threads}");
                }
            }
        }
    }
}

/// Rows that differ from each other in a last bit or not at all, so many (query, row) values lie
/// a few ulp apart or tie: a batch still returns exactly a single search's hits, values and
/// order (its screen must never drop a pair that ranks, nor change a value).
#[test]
fn batches_equal_single_searches_among_near_ties() {
    // Not a multiple of any register width: the partial last chunk is in every pair.
    let d = 67;
    let mut x: u64 = 11;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let bases: Vec<Vec<f32>> =
        (0..6).map(|_| (0..d).map(|_| (next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5).collect()).collect();
    let mut rows = Vec::new();
    for i in 0..1500 {
        let mut row = bases[i % bases.len()].clone();
        if i % 5 != 0 {
            let c = (next() % d as u64) as usize;
            let bits = row[c].to_bits();
            row[c] = f32::from_bits(if next() % 2 == 0 { bits + 1 } else { bits - 1 });
        }
        rows.extend(row);
    }
    rows.extend((0..1500 * d).map(|_| (next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5));
    let n = rows.len() / d;
    // 90 queries: the widest screen panel, a narrower one and some left over on every kernel.
    let queries: Vec<f32> = (0..90).flat_map(|i| rows[(i * 37 % n) * d..][..d].to_vec()).collect();
    let within: Vec<usize> = (0..n).filter(|r| r % 4 != 1).collect();
    let cases = [
        (true, Metric::Cosine),
        (true, Metric::Dot),
        (true, Metric::Euclidean),
        (false, Metric::Cosine),
        (false, Metric::Dot),
    ];
    for (normalize, metric) in cases {
        let s = VectorStore::new(d, normalize).unwrap();
        s.add(&rows, None).unwrap();
        for top_k in [1, 3, 10, 100] {
            for w in [None, Some(within.as_slice())] {
                let base = SearchOptions { top_k, within_rows: w, threads: 1, ..Default::default() };
                // A threshold equal to a value that many rows share or nearly share.
                let at = s.search(metric, &queries[..d], &base).unwrap().last().unwrap().value;
                for threshold in [None, Some(at)] {
                    let o = SearchOptions { threshold, ..base };
                    let single: Vec<Vec<Hit>> =
                        queries.chunks(d).map(|q| s.search(metric, q, &o).unwrap()).collect();
                    for threads in [1, 2] {
                        let batch =
                            s.search_batch(metric, &queries, &SearchOptions { threads, ..o }).unwrap();
                        assert_eq!(
                            batch, single,
                            "{normalize} {metric:?} top {top_k} {threshold:?} threads {threads}"
                        );
                    }
                    // 13 queries: one padded AMX panel where AMX screens, else the tile.
                    let few = s.search_batch(metric, &queries[..13 * d], &o).unwrap();
                    assert_eq!(
                        few,
                        single[..13],
                        "{normalize} {metric:?} top {top_k} {threshold:?} 13 queries"
                    );
                }
            }
        }
    }
}

#[test]
fn batch_validates_every_query_first() {
    let s = store(2, true, &[&[1.0, 0.0]]);
    let e = s.search_batch(Metric::Cosine, &[1.0, 0.0, 0.0, 0.0], &opts(1)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ZeroNorm);
    assert!(e.message.contains("query 1"), "{}", e.message);
    assert_eq!(
        kind(s.search_batch(Metric::Cosine, &[1.0, 0.0, 1.0], &opts(1))),
        ErrorKind::DimensionMismatch
    );
    assert!(s.search_batch(Metric::Cosine, &[], &opts(1)).unwrap().is_empty());
}

#[test]
fn concurrent_searches_while_adding() {
    let s = std::sync::Arc::new(store(4, true, &[&[1.0, 0.0, 0.0, 0.0]]));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                for _ in 0..300 {
                    let hits = s.search(Metric::Cosine, &[1.0, 0.0, 0.0, 0.0], &opts(5)).unwrap();
                    assert_eq!(hits[0].index, 0);
                    assert!(hits.len() <= 5);
                }
            })
        })
        .collect();
    for i in 0..300 {
        s.add(&[0.0, 1.0, i as f32, 1.0], None).unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(s.len(), 301);
}

#[test]
fn raw_cosine_keeps_parallel_rows_tied() {
    // numpy-vector-store gives all four rows the same float32 value and orders them by index.
    let s = store(3, false, &[&[7.0, 14.0, 21.0], &[3.0, 6.0, 9.0], &[0.1, 0.2, 0.3], &[1.0, 2.0, 3.0]]);
    let hits = s.search(Metric::Cosine, &[1.0, 2.0, 3.5], &opts(4)).unwrap();
    assert_eq!(indexes(&hits), vec![0, 1, 2, 3]);
    assert!(hits.iter().all(|h| h.value == hits[0].value), "{hits:?}");
    assert!((hits[0].value - 0.997_408_628_463_745_1).abs() < 1e-7);
}

#[test]
fn raw_cosine_screening_matches_exact_ranking() {
    // Many exact ties (scaled copies of a few directions) and near ties: the f32 screen must
    // never drop a row that the exact f64 value ranks into the top-k or past the threshold.
    let d = 96;
    let mut x: u64 = 11;
    let mut rnd = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let bases: Vec<Vec<f32>> = (0..5).map(|_| (0..d).map(|_| rnd()).collect()).collect();
    let mut rows = Vec::new();
    for i in 0..4000 {
        let scale = [1.0f32, 3.0, 0.1, 7.0, 1e-3, 250.0][i % 6];
        let noise = if i % 3 == 0 { 0.0 } else { 1e-4 };
        let base = &bases[i % bases.len()];
        rows.extend(base.iter().map(|&v| scale * (v + noise * rnd())));
    }
    let s = VectorStore::new(d, false).unwrap();
    s.add(&rows, None).unwrap();
    let query = &bases[2];
    let qn = query.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt();
    let q: Vec<f32> = query.iter().map(|&v| (v as f64 / qn) as f32).collect();
    let exact: Vec<f64> = rows
        .chunks(d)
        .map(|r| {
            let dot: f64 = r.iter().zip(&q).map(|(&a, &b)| a as f64 * b as f64).sum();
            let norm = r.iter().map(|&a| (a as f64) * (a as f64)).sum::<f64>().sqrt();
            (dot / norm) as f32 as f64
        })
        .collect();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|&a, &b| exact[b].partial_cmp(&exact[a]).unwrap().then(a.cmp(&b)));
    for top_k in [1, 10, 300, 1000] {
        for threads in [1, 2] {
            let o = SearchOptions { top_k, threads, ..Default::default() };
            let hits = s.search(Metric::Cosine, query, &o).unwrap();
            assert_eq!(indexes(&hits), order[..top_k].to_vec(), "top_k={top_k}");
            for h in &hits {
                assert!((h.value - exact[h.index]).abs() <= 2e-7, "{} vs {}", h.value, exact[h.index]);
            }
            let batch = s.search_batch(Metric::Cosine, query, &o).unwrap();
            assert_eq!(batch[0], hits);
        }
    }
    let t = exact[order[700]];
    let o = SearchOptions { top_k: 4000, threshold: Some(t), ..Default::default() };
    let want: Vec<usize> = order.iter().copied().filter(|&i| exact[i] >= (t as f32) as f64).collect();
    assert_eq!(indexes(&s.search(Metric::Cosine, query, &o).unwrap()), want);
}

#[test]
fn raw_values_are_the_float64_values() {
    // Cancellation: float32 accumulation would give 8, numpy-vector-store gives 5.
    let s = store(3, false, &[&[5.0, -1e8, 1e8]]);
    let q = [1.0, 1.0, 1.0];
    for threads in [1, 2] {
        let o = SearchOptions { top_k: 10, threads, ..Default::default() };
        assert_eq!(s.search(Metric::Dot, &q, &o).unwrap()[0].value, 5.0);
        assert_eq!(s.search_batch(Metric::Dot, &q, &o).unwrap()[0][0].value, 5.0);
    }
    let o = SearchOptions { top_k: 10, threshold: Some(6.0), ..Default::default() };
    assert!(s.search(Metric::Dot, &q, &o).unwrap().is_empty());
    // Rows that differ below float32 precision rank by their true values.
    let s = store(2, false, &[&[4096.0, 1.0], &[4096.0, 0.0]]);
    let hits = s.search(Metric::Euclidean, &[0.0, 0.0], &opts(1)).unwrap();
    assert_eq!((hits[0].index, hits[0].value), (1, 4096.0));
    let s = store(2, false, &[&[4096.0, 0.0], &[4096.0, 1.0]]);
    let hits = s.search(Metric::Dot, &[4096.0, 1.0], &opts(1)).unwrap();
    assert_eq!((hits[0].index, hits[0].value), (1, 16_777_217.0));
}

#[test]
fn raw_values_are_the_exact_values_correctly_rounded() {
    // Each exact value lies just above a rounding midpoint, where summing in plain f64 (or
    // rounding the f64 quotient to f32) lands on the lower neighbour.
    let t = |e: i32| 2f32.powi(e);
    let dot = store(3, false, &[&[1.0, t(-53), t(-90)]]);
    let euclid = store(4, false, &[&[1.0, t(-26), t(-53), t(-60)]]);
    let cosine = store(4, false, &[&[1.0, 1.0, 1.0, 1.0]]);
    let cases: [(&VectorStore, Metric, &[f32], f64); 4] = [
        (&dot, Metric::Dot, &[1.0, 1.0, 1.0], 1.0f64.next_up()),
        // Halfway exactly: ties to even.
        (&dot, Metric::Dot, &[1.0, 1.0, 0.0], 1.0),
        (&euclid, Metric::Euclidean, &[0.0; 4], 1.0f64.next_up()),
        (&cosine, Metric::Cosine, &[1.0, t(-24), t(-60), 0.0], 0.5f32.next_up() as f64),
    ];
    for (s, metric, q, want) in cases {
        for threads in [1, 2] {
            let o = SearchOptions { top_k: 1, threads, ..Default::default() };
            assert_eq!(s.search(metric, q, &o).unwrap()[0].value, want, "{metric:?} {q:?}");
            assert_eq!(s.search_batch(metric, q, &o).unwrap()[0][0].value, want);
            // A threshold equal to the value keeps the row.
            let o = SearchOptions { threshold: Some(want), ..o };
            assert_eq!(s.search(metric, q, &o).unwrap().len(), 1);
        }
    }
}

#[test]
fn raw_dot_and_euclidean_screening_match_exact_ranking() {
    let d = 64;
    let mut x: u64 = 5;
    let mut rnd = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let bases: Vec<Vec<f32>> = (0..4).map(|_| (0..d).map(|_| rnd() * 1000.0).collect()).collect();
    let mut rows = Vec::new();
    for i in 0..3000 {
        let noise = [0.0f32, 1e-3, 1.0][i % 3];
        rows.extend(bases[i % 4].iter().map(|&v| v + noise * rnd()));
    }
    let s = VectorStore::new(d, false).unwrap();
    s.add(&rows, None).unwrap();
    let q: Vec<f32> = bases[1].iter().map(|&v| v + 0.25).collect();
    for metric in [Metric::Dot, Metric::Euclidean] {
        let exact: Vec<f64> = rows
            .chunks(d)
            .map(|r| match metric {
                Metric::Dot => r.iter().zip(&q).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>(),
                _ => r.iter().zip(&q).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>().sqrt(),
            })
            .collect();
        let mut order: Vec<usize> = (0..exact.len()).collect();
        order.sort_by(|&a, &b| {
            let c = exact[a].partial_cmp(&exact[b]).unwrap();
            (if metric == Metric::Dot { c.reverse() } else { c }).then(a.cmp(&b))
        });
        for top_k in [1, 10, 500] {
            let o = SearchOptions { top_k, ..Default::default() };
            let hits = s.search(metric, &q, &o).unwrap();
            assert_eq!(indexes(&hits), order[..top_k].to_vec(), "{metric:?} top_k={top_k}");
            for h in &hits {
                assert!((h.value - exact[h.index]).abs() <= 1e-12 * exact[h.index].abs().max(1.0));
            }
            assert_eq!(s.search_batch(metric, &q, &o).unwrap()[0], hits);
        }
    }
}
