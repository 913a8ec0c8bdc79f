//! float16 rows against float32 rows (issue 14): the accuracy of values and of the top 10 on
//! embedding-like data, then the speed of a single-query search and the memory per row.

use std::hint::black_box;
use std::time::Instant;

use nvs::{Metric, SearchOptions, Storage, VectorStore};

use super::{one, proc_status_bytes, Rng};

/// Standard normal samples (splitmix64 + Box-Muller), reproducible from the seed.
struct Gauss(u64);
impl Gauss {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn next(&mut self) -> f32 {
        let (u, v) = (1.0 - self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// Embedding-like rows and queries (queries are fresh draws, not rows): a shared mean, 1000
/// cluster centres around it and each point = centre + noise, every dimension scaled by a
/// decaying spectrum (variance of dimension j proportional to 1 / (1 + j), as PCA spectra of
/// sentence embeddings fall).
fn clustered(rows: usize, queries: usize, dims: usize) -> (Vec<f32>, Vec<f32>) {
    let mut g = Gauss(1401);
    let scale: Vec<f32> = (0..dims).map(|j| (1.0 + j as f32).powf(-0.5)).collect();
    let mean: Vec<f32> = scale.iter().map(|s| s * g.next()).collect();
    let centres: Vec<Vec<f32>> =
        (0..1000).map(|_| mean.iter().zip(&scale).map(|(m, s)| m + s * g.next()).collect()).collect();
    let mut draw = |n: usize| -> Vec<f32> {
        let mut out = Vec::with_capacity(n * dims);
        for _ in 0..n {
            let c = &centres[(g.uniform() * centres.len() as f64) as usize];
            out.extend(c.iter().zip(&scale).map(|(c, s)| c + 0.6 * s * g.next()));
        }
        out
    };
    (draw(rows), draw(queries))
}

/// Isotropic standard normal rows and queries: no structure, the hardest case for the top 10.
fn gaussian(rows: usize, queries: usize, dims: usize) -> (Vec<f32>, Vec<f32>) {
    let mut g = Gauss(1402);
    let mut draw = |n: usize| (0..n * dims).map(|_| g.next()).collect::<Vec<f32>>();
    (draw(rows), draw(queries))
}

/// One table row per (store kind, metric): the float16 store against a float32 store holding
/// the same rows. Errors are over every (query, row) pair (searches with top_k = all rows,
/// values matched by row index).
fn accuracy(label: &str, rows: &[f32], queries: &[f32], dims: usize) {
    let n = rows.len() / dims;
    let all = SearchOptions { top_k: n, threshold: None, within_rows: None, threads: 0 };
    for normalize in [true, false] {
        let make = |storage| {
            let s = VectorStore::with_storage(dims, normalize, storage).unwrap();
            s.add(rows, None).unwrap();
            s
        };
        let (a, b) = (make(Storage::Float32), make(Storage::Float16));
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
            let (mut err, mut top, mut recall, mut worst) = (0.0f64, 0.0f64, 0.0f64, 1.0f64);
            let mut exact = vec![0.0f64; n];
            for q in queries.chunks_exact(dims) {
                let (ha, hb) = (a.search(metric, q, &all).unwrap(), b.search(metric, q, &all).unwrap());
                assert!(ha.len() == n && hb.len() == n);
                for h in &ha {
                    exact[h.index] = h.value;
                    top = top.max(h.value.abs());
                }
                err = hb.iter().fold(err, |e, h| e.max((h.value - exact[h.index]).abs()));
                let found = hb[..10].iter().filter(|h| ha[..10].iter().any(|x| x.index == h.index)).count();
                recall += found as f64 / 10.0;
                worst = worst.min(found as f64 / 10.0);
            }
            println!(
                "| {label} | {} | {} | {err:.2e} | {top:.3} | {:.4} | {worst:.1} |",
                if normalize { "normalized" } else { "raw" },
                metric.name(),
                recall / (queries.len() / dims) as f64,
            );
        }
    }
}

/// Single-query search of float32 and float16 stores holding the same rows, interleaved, and
/// the memory each store's rows take.
fn speed(smoke: bool) {
    let (rows, dims, runs) = if smoke { (100_000, 384, 7) } else { (1_000_000, 384, 11) };
    println!("\n### float16 against float32: {rows} x {dims}, normalized, cosine, top 10, one thread, median of {runs} interleaved\n");
    let data = Rng(51).vec(rows * dims);
    let rss = || proc_status_bytes("VmRSS");
    let stores: Vec<(VectorStore, Option<u64>)> = [Storage::Float32, Storage::Float16]
        .into_iter()
        .map(|storage| {
            let before = rss();
            let s = VectorStore::with_storage(dims, true, storage).unwrap();
            s.add(&data, None).unwrap();
            let grown = rss().zip(before).map(|(a, b)| a.saturating_sub(b));
            (s, grown)
        })
        .collect();
    drop(data);
    let q = Rng(52).vec(dims);
    let mut times = [Vec::new(), Vec::new()];
    for run in 0..=runs {
        for (i, (s, _)) in stores.iter().enumerate() {
            let t = Instant::now();
            black_box(s.search(Metric::Cosine, &q, &one(1)).unwrap());
            if run > 0 {
                times[i].push(t.elapsed().as_secs_f64()); // run 0 is the warm-up
            }
        }
    }
    let med: Vec<f64> = times
        .iter_mut()
        .map(|v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect();
    println!("| storage | search | vs float32 | row value bytes per row | RSS growth per row (add) |");
    println!("|---|---|---|---|---|");
    for (i, (name, width)) in [("float32", 4), ("float16", 2)].into_iter().enumerate() {
        let grown = stores[i].1.map_or("-".into(), |g| format!("{:.1} B", g as f64 / rows as f64));
        println!(
            "| {name} | {:.2} ms | {:.3}x | {} B | {grown} |",
            med[i] * 1e3,
            med[i] / med[0],
            width * dims
        );
    }
    if let (Some(a), Some(b)) = (stores[0].1, stores[1].1) {
        println!(
            "\nmemory per row, float16 / float32: {:.3}x by row bytes, {:.3}x by RSS growth",
            0.5,
            b as f64 / a as f64
        );
    }
}

pub(crate) fn float16(smoke: bool) {
    let (rows, nq, dims) = if smoke { (20_000, 200, 384) } else { (100_000, 200, 384) };
    println!("\n### float16 accuracy against float32, {rows} rows x {dims}, {nq} queries (not rows)\n");
    println!("Errors are the maximum over all {nq} x {rows} (query, row) pairs (top_k = all rows, matched by row index);");
    println!(
        "recall@10 = |top 10 of float16 and of float32 in common| / 10, mean and minimum over queries.\n"
    );
    println!("| data | store | metric | max abs error | max abs value | mean recall@10 | min recall@10 |");
    println!("|---|---|---|---|---|---|---|");
    let (r, q) = clustered(rows, nq, dims);
    accuracy("clustered, anisotropic", &r, &q, dims);
    let (r, q) = gaussian(rows, nq, dims);
    accuracy("gaussian", &r, &q, dims);
    println!(
        "\nReal data set: none used (no embedding data set is installed locally; nothing was downloaded)."
    );
    speed(smoke);
}
