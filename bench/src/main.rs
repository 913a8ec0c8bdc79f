//! Rust-side benchmarks that need no Python: C ABI overhead, ingestion, thread scaling, batch
//! search, prefilter cost, our single-query grid against the read-only scan floor, and the
//! memory and speed of save and open, mapped open, and float16 rows against float32.
//!
//! Usage: nvs-bench [--smoke] [ffi|ingest|threads|batch|filtered|grid|memory|persist|mapped|float16|all]...
//! Prints markdown tables; every time is a median of many repetitions.

use std::hint::black_box;
use std::ptr;
use std::time::Instant;

use nvs::ffi::*;
use nvs::kernels::Kernel;
use nvs::{Metric, SearchOptions, VectorStore};
use nvs_bench::{best_streams, fma_peak_gflops, read_floor, TwoThreadScan};

mod f16;

struct Rng(u64);
impl Rng {
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }
}

/// Median seconds of `f` over repetitions filling about `budget` seconds (at least `min` runs).
fn median(budget: f64, min: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < min || (start.elapsed().as_secs_f64() < budget && times.len() < 100_000) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Median per-call seconds of `f` run `inner` times per sample (for sub-microsecond calls).
fn median_inner(budget: f64, inner: usize, mut f: impl FnMut()) -> f64 {
    median(budget, 11, || {
        for _ in 0..inner {
            f()
        }
    }) / inner as f64
}

fn store(rows: usize, dims: usize, normalize: bool, seed: u64) -> VectorStore {
    let s = VectorStore::new(dims, normalize).unwrap();
    let data = Rng(seed).vec(rows * dims);
    s.add(&data, None).unwrap();
    s
}

fn one(threads: usize) -> SearchOptions<'static> {
    SearchOptions { top_k: 10, threshold: None, within_rows: None, threads }
}

fn ffi(budget: f64) {
    println!("\n### C ABI overhead (nvs_store_search, 384 dims, top 10)\n");
    println!("| store | per call |\n|---|---|");
    for rows in [0usize, 1] {
        let mut s = ptr::null_mut();
        // SAFETY: valid out-pointer; the store is freed below.
        unsafe { nvs_store_new(384, true, &mut s) };
        let data = Rng(1).vec(rows * 384);
        // SAFETY: data holds rows x 384 floats.
        unsafe { nvs_store_add(s, data.as_ptr(), data.len(), ptr::null(), 0) };
        let q = Rng(2).vec(384);
        let opts = nvs_search_options_default();
        let mut hits = [nvs_hit { index: 0, id: 0, value: 0.0 }; 10];
        let mut n = 0usize;
        let t = median_inner(budget, 1000, || {
            // SAFETY: all pointers valid for the sizes given.
            let st = unsafe {
                nvs_store_search(s, NVS_METRIC_COSINE, q.as_ptr(), 384, &opts, hits.as_mut_ptr(), 10, &mut n)
            };
            black_box(st);
        });
        println!("| {rows} rows, cosine | {:.0} ns |", t * 1e9);
        // SAFETY: created above, not used afterwards.
        unsafe { nvs_store_free(s) };
    }
}

fn ingest(budget: f64, smoke: bool) {
    let rows = if smoke { 10_000 } else { 100_000 };
    println!("\n### Ingestion through the C ABI ({rows} x 384)\n");
    println!("| how | normalize | rows/s |\n|---|---|---|");
    let data = Rng(3).vec(rows * 384);
    for normalize in [true, false] {
        let t = median(budget, 5, || {
            let mut s = ptr::null_mut();
            // SAFETY: valid pointers; freed at once.
            unsafe {
                nvs_store_new(384, normalize, &mut s);
                nvs_store_add(s, data.as_ptr(), data.len(), ptr::null(), 0);
                nvs_store_free(s);
            }
        });
        println!("| one batch | {normalize} | {:.2} M |", rows as f64 / t / 1e6);
        let t = median(budget, 3, || {
            let mut s = ptr::null_mut();
            // SAFETY: valid pointers; each add passes one row of 384 floats.
            unsafe {
                nvs_store_new(384, normalize, &mut s);
                for row in data.chunks_exact(384) {
                    nvs_store_add(s, row.as_ptr(), 384, ptr::null(), 0);
                }
                nvs_store_free(s);
            }
        });
        println!("| one row per call | {normalize} | {:.2} M |", rows as f64 / t / 1e6);
    }
}

fn threads(budget: f64, smoke: bool) {
    println!("\n### Threads (cosine, top 10, normalized store)\n");
    println!(
        "The read floor is the best multi-stream read of the same bytes on 1 thread, and split over 2 (the"
    );
    println!("second a helper thread started once, as nvs's pool is); the last column is nvs's speedup as a share of");
    println!("the floor's own.\n");
    println!("| store | 1 thread | 2 threads | auto (0) | speedup 2 vs 1 | floor 1 / 2 threads | floor speedup | share of floor speedup |");
    println!("|---|---|---|---|---|---|---|---|");
    let shapes: &[(usize, usize)] = if smoke {
        &[(1000, 384), (10_000, 1536)]
    } else {
        &[(1000, 384), (10_000, 384), (10_000, 1536), (100_000, 384), (100_000, 1536)]
    };
    let pair = TwoThreadScan::new();
    for &(rows, dims) in shapes {
        let s = store(rows, dims, true, 4);
        let q = Rng(5).vec(dims);
        let t = |threads| {
            median(budget, 9, || drop(black_box(s.search(Metric::Cosine, &q, &one(threads)).unwrap())))
        };
        let (t1, t2, t0) = (t(1), t(2), t(0));
        let copy = Rng(4).vec(rows * dims);
        // Each floor is the best stream count's: one thread, and two with a persistent helper.
        let f1 = read_floor(&copy, |f| median(budget, 9, f)).0;
        let f2 = best_streams(|k| pair.scan(&copy, k), |f| median(budget, 9, f)).0;
        println!(
            "| {rows} x {dims} | {:.3} ms | {:.3} ms | {:.3} ms | {:.2}x | {:.3} / {:.3} ms | {:.2}x | {:.0}% |",
            t1 * 1e3,
            t2 * 1e3,
            t0 * 1e3,
            t1 / t2,
            f1 * 1e3,
            f2 * 1e3,
            f1 / f2,
            100.0 * (t1 / t2) / (f1 / f2)
        );
    }
}

fn batch(budget: f64, smoke: bool) {
    let (nq, rows) = if smoke { (100, 10_000) } else { (100, 100_000) };
    println!(
        "\n### Batch search ({nq} queries x {rows} x 384, top 10, one thread, kernel {})\n",
        Kernel::active().name()
    );
    let peak = fma_peak_gflops();
    println!("FMA peak measured in this run (one thread): {peak:.0} GFLOP/s\n");
    println!("| metric | batch | {nq} single searches | GFLOP/s | of FMA peak |\n|---|---|---|---|---|");
    let s = store(rows, 384, true, 6);
    let qs = Rng(7).vec(nq * 384);
    for metric in [Metric::Cosine, Metric::Euclidean] {
        let tb = median(budget, 3, || drop(black_box(s.search_batch(metric, &qs, &one(1)).unwrap())));
        let ts = median(budget, 3, || {
            for q in qs.chunks_exact(384) {
                black_box(s.search(metric, q, &one(1)).unwrap());
            }
        });
        let flops = 2.0 * nq as f64 * rows as f64 * 384.0;
        let gflops = flops / tb / 1e9;
        let share = if peak > 0.0 { format!("{:.0}%", 100.0 * gflops / peak) } else { "-".into() };
        println!("| {} | {:.1} ms | {:.1} ms | {gflops:.0} | {share} |", metric.name(), tb * 1e3, ts * 1e3);
    }
}

fn filtered(budget: f64, smoke: bool) {
    let rows = if smoke { 10_000 } else { 100_000 };
    println!("\n### Prefilter cost (within_rows, {rows} x 384, cosine, one thread)\n");
    println!("| selected rows | time | per selected row |\n|---|---|---|");
    let s = store(rows, 384, true, 8);
    let q = Rng(9).vec(384);
    for k in [10usize, 100, 1000, 10_000, rows] {
        // A spread-out selection (every (rows/k)-th row), the unfavourable case for caches.
        let step = rows / k;
        let within: Vec<usize> = (0..k).map(|i| i * step).collect();
        let o = SearchOptions { within_rows: Some(&within), ..one(1) };
        let t = median(budget, 9, || drop(black_box(s.search(Metric::Cosine, &q, &o).unwrap())));
        println!("| {k} | {:.1} us | {:.1} ns |", t * 1e6, t * 1e9 / k as f64);
    }
}

fn grid(budget: f64, smoke: bool) {
    println!(
        "\n### Single query, one thread, vs the best multi-stream read of the same bytes (kernel {})\n",
        Kernel::active().name()
    );
    println!("| rows x dims | read floor (streams) | cosine | dot | euclidean | cosine raw | dot raw | euclidean raw | worst / floor |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let rows_list: &[usize] = if smoke { &[1000, 10_000] } else { &[1000, 10_000, 100_000] };
    let dims_list: &[usize] = if smoke { &[384] } else { &[384, 1536, 3072] };
    for &rows in rows_list {
        for &dims in dims_list {
            let q = Rng(11).vec(dims);
            let mut cells = Vec::new();
            let mut worst = 0.0f64;
            let copy = Rng(10).vec(rows * dims);
            let (floor, streams) = read_floor(&copy, |f| median(budget, 9, f));
            drop(copy);
            for normalize in [true, false] {
                let s = store(rows, dims, normalize, 10);
                for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
                    let t = median(budget, 9, || drop(black_box(s.search(metric, &q, &one(1)).unwrap())));
                    worst = worst.max(t / floor);
                    cells.push(format!("{:.3} ms", t * 1e3));
                }
            }
            println!(
                "| {rows} x {dims} | {:.3} ms ({streams}) | {} | {:.2}x |",
                floor * 1e3,
                cells.join(" | "),
                worst
            );
        }
    }
}

/// A field of /proc/self/status in bytes (Linux), e.g. "VmRSS" or "VmHWM" (the peak RSS).
fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kib: u64 = line[field.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// In a fresh child process: open (or open, then reload) `path` and print the peak RSS growth
/// over the process's RSS before the open, in bytes. Writing 5 to clear_refs resets the peak.
fn memory_child(op: &str, path: &str) {
    let before = proc_status_bytes("VmRSS").unwrap_or(0);
    let s = VectorStore::open(path, Default::default()).unwrap();
    if op == "reload" {
        std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
        s.reload(Default::default()).unwrap();
    }
    let peak = proc_status_bytes("VmHWM").unwrap_or(0);
    println!("{}", peak.saturating_sub(before));
    black_box(s);
}

/// Peak memory of open and reload as a multiple of the loaded rows' bytes, each measured in
/// a fresh child process (peak RSS cannot be reset across allocations already made).
fn memory(smoke: bool) {
    if proc_status_bytes("VmHWM").is_none() {
        println!("\n(memory: needs Linux /proc; skipped)");
        return;
    }
    let (rows, dims) = if smoke { (100_000, 384) } else { (1_000_000, 384) };
    println!("\n### Peak memory of open and reload, {rows} x {dims}, as a multiple of the row bytes\n");
    println!("| archive | row bytes | open peak | open / rows | reload peak | reload / rows |");
    println!("|---|---|---|---|---|---|");
    let dir = std::env::temp_dir().join(format!("nvs-bench-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let row_bytes = (rows * dims * 4) as f64;
    for (label, uncompressed) in [("uncompressed", true), ("compressed", false)] {
        let path = dir.join(format!("{label}.npz"));
        {
            let s = store(rows, dims, true, 21);
            let options = nvs::WriteOptions { uncompressed, ..Default::default() };
            s.save(Some(&path), options).unwrap();
        }
        let measure = |op: &str| -> f64 {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--memory-child", op, path.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().unwrap()
        };
        let open = measure("open");
        let reload = measure("reload");
        println!(
            "| {label} | {:.0} MB | {:.0} MB | {:.2}x | {:.0} MB | {:.2}x |",
            row_bytes / 1e6,
            open / 1e6,
            open / row_bytes,
            reload / 1e6,
            reload / row_bytes,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("\n(reload / rows counts the old rows, which stay until the new ones are ready.)");
}

/// Median seconds of `runs` calls of `f` (after one warm-up call): for the slow persistence
/// calls, whose count matters more than a time budget.
fn median_of(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Save and open of one store, compressed and uncompressed, files warm in the page cache.
/// Rates are of row bytes (rows x dims x 4). The floor is the copy of the file's bytes from the
/// page cache into a buffer that is already mapped (the part of any open that cannot go);
/// an open also pays the page faults of its fresh row buffer. A save includes its fsync.
fn persist(smoke: bool) {
    let shapes: &[(usize, usize)] =
        if smoke { &[(100_000, 384)] } else { &[(100_000, 384), (1_000_000, 384)] };
    let runs = if smoke { 3 } else { 5 };
    let dir = std::env::temp_dir().join(format!("nvs-bench-persist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for &(rows, dims) in shapes {
        println!(
            "\n### Persistence, {rows} x {dims}, ids 0..n, median of {runs} (files in the page cache)\n"
        );
        println!("| store | archive | file MB | save | save GB/s | open | open GB/s | open M rows/s | copy floor | open / floor |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        let row_bytes = (rows * dims * 4) as f64;
        for normalize in [true, false] {
            let s = store(rows, dims, normalize, 31);
            for (label, uncompressed) in [("uncompressed", true), ("compressed", false)] {
                let path = dir.join(format!("{label}-{normalize}.npz"));
                let options = nvs::WriteOptions { uncompressed, ..Default::default() };
                let save = median_of(runs, || s.save(Some(&path), options).unwrap());
                let size = std::fs::metadata(&path).unwrap().len() as f64;
                let open = median_of(runs, || {
                    drop(black_box(VectorStore::open(&path, Default::default()).unwrap()))
                });
                let mut copy = vec![1u8; size as usize];
                let floor = median_of(runs, || {
                    use std::io::Read;
                    std::fs::File::open(&path).unwrap().read_exact(&mut copy).unwrap();
                    black_box(&copy);
                });
                println!(
                    "| {} | {label} | {:.1} | {:.3} s | {:.2} | {:.3} s | {:.2} | {:.2} | {:.3} s | {:.2}x |",
                    if normalize { "normalized" } else { "raw" },
                    size / 1e6,
                    save,
                    row_bytes / save / 1e9,
                    open,
                    row_bytes / open / 1e9,
                    rows as f64 / open / 1e6,
                    floor,
                    open / floor,
                );
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// In a child process: open `path` mapped, search it once (touching every row), say so, then
/// wait for stdin to close (so siblings overlap).
fn map_child(path: &str) {
    let s = VectorStore::open(path, nvs::ReadOptions { map: true, ..Default::default() }).unwrap();
    assert!(s.is_mapped());
    let q = Rng(5).vec(s.dimensions());
    black_box(s.search(Metric::Cosine, &q, &one(1)).unwrap());
    println!("searched");
    use std::io::Read;
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// Mapped open against the ordinary open of the same uncompressed archive (files in the page
/// cache), the first and later searches of a mapped store, and the memory that 1 and 4
/// processes mapping one file use (PSS: shared pages are split between the processes).
fn mapped(smoke: bool) {
    let (rows, dims) = if smoke { (100_000, 384) } else { (1_000_000, 384) };
    let runs = if smoke { 3 } else { 5 };
    let dir = std::env::temp_dir().join(format!("nvs-bench-mapped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "\n### Mapped open, {rows} x {dims}, uncompressed archive in the page cache, median of {runs}\n"
    );
    println!("| store | open | mapped open | verified mapped open | first search, mapped | search, mapped | search, in memory |");
    println!("|---|---|---|---|---|---|---|");
    let map = nvs::ReadOptions { map: true, ..Default::default() };
    let verified = nvs::ReadOptions { verify: true, ..map };
    let q = Rng(5).vec(dims);
    let search = |s: &VectorStore| black_box(s.search(Metric::Cosine, &q, &one(1)).unwrap());
    let ms = |t: f64| format!("{:.2} ms", t * 1e3);
    for normalize in [true, false] {
        let path = dir.join(format!("m-{normalize}.npz"));
        store(rows, dims, normalize, 41)
            .save(Some(&path), nvs::WriteOptions { uncompressed: true, ..Default::default() })
            .unwrap();
        let open = median_of(runs, || drop(black_box(VectorStore::open(&path, Default::default()).unwrap())));
        let mapped_open = median_of(runs, || drop(black_box(VectorStore::open(&path, map).unwrap())));
        let verified_open = median_of(runs, || drop(black_box(VectorStore::open(&path, verified).unwrap())));
        let first = median_of(runs, || {
            let s = VectorStore::open(&path, map).unwrap();
            search(&s);
        }) - mapped_open;
        let m = VectorStore::open(&path, map).unwrap();
        let owned = VectorStore::open(&path, Default::default()).unwrap();
        let (mut tm, mut to) = (Vec::new(), Vec::new());
        for _ in 0..runs.max(5) {
            for (s, times) in [(&m, &mut tm), (&owned, &mut to)] {
                let t = Instant::now();
                search(s);
                times.push(t.elapsed().as_secs_f64());
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            if normalize { "normalized" } else { "raw" },
            ms(open),
            ms(mapped_open),
            ms(verified_open),
            ms(first),
            ms(median(&mut tm)),
            ms(median(&mut to)),
        );
    }
    if std::path::Path::new("/proc/self/smaps_rollup").exists() {
        let path = dir.join("m-true.npz");
        let row_mb = (rows * dims * 4) as f64 / 1e6;
        println!("\n| processes mapping one {row_mb:.0} MB archive | PSS each | PSS total | private each |");
        println!("|---|---|---|---|");
        for n in [1, 4] {
            let mut children: Vec<_> = (0..n)
                .map(|_| {
                    std::process::Command::new(std::env::current_exe().unwrap())
                        .args(["--map-child", path.to_str().unwrap()])
                        .stdin(std::process::Stdio::piped())
                        .stdout(std::process::Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            // Each child reports once it has searched, then waits for its stdin to close; PSS
            // is read after all have searched (it splits pages among the current mappers).
            for c in &mut children {
                use std::io::BufRead;
                std::io::BufReader::new(c.stdout.as_mut().unwrap()).read_line(&mut String::new()).unwrap();
            }
            let figures: Vec<(f64, f64)> = children
                .iter()
                .map(|c| {
                    let text =
                        std::fs::read_to_string(format!("/proc/{}/smaps_rollup", c.id())).unwrap_or_default();
                    let field = |name: &str| -> f64 {
                        text.lines()
                            .find(|l| l.starts_with(name))
                            .and_then(|l| {
                                l[name.len()..].trim().trim_end_matches("kB").trim().parse::<f64>().ok()
                            })
                            .unwrap_or(0.0)
                            * 1024.0
                    };
                    (field("Pss:"), field("Private_Clean:") + field("Private_Dirty:"))
                })
                .collect();
            for mut c in children {
                drop(c.stdin.take());
                let _ = c.wait();
            }
            let total: f64 = figures.iter().map(|f| f.0).sum();
            println!(
                "| {n} | {:.0} MB | {:.0} MB | {:.0} MB |",
                total / n as f64 / 1e6,
                total / 1e6,
                figures.iter().map(|f| f.1).sum::<f64>() / n as f64 / 1e6
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, path] = &args[..] {
        if flag == "--map-child" {
            return map_child(path);
        }
    }
    if let [flag, op, path] = &args[..] {
        if flag == "--memory-child" {
            return memory_child(op, path);
        }
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let budget = if smoke { 0.05 } else { 0.5 };
    let mut what: Vec<&str> = args.iter().map(|s| s.as_str()).filter(|a| !a.starts_with("--")).collect();
    if what.is_empty() || what.contains(&"all") {
        what = vec!["ffi", "ingest", "threads", "batch", "filtered", "grid"];
    }
    println!(
        "nvs {} kernel {} (supported: {:?})",
        nvs::VERSION,
        Kernel::active().name(),
        Kernel::supported()
    );
    for w in what {
        match w {
            "ffi" => ffi(budget),
            "ingest" => ingest(budget, smoke),
            "threads" => threads(budget, smoke),
            "batch" => batch(budget, smoke),
            "filtered" => filtered(budget, smoke),
            "grid" => grid(budget, smoke),
            "memory" => memory(smoke),
            "persist" => persist(smoke),
            "mapped" => mapped(smoke),
            "float16" => f16::float16(smoke),
            other => eprintln!("unknown benchmark {other}"),
        }
    }
}
