//! Every implementation this CPU supports against the portable reference, on random data of
//! every width 0..=70 (all tail lengths of 4-, 8- and 16-lane registers) and block shapes that
//! hit every micro-kernel remainder. Paths this CPU cannot run are skipped (and named).

use super::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [-1, 1), sometimes scaled so magnitudes vary.
    fn value(&mut self) -> f32 {
        let u = (self.next() >> 40) as f32 / (1u64 << 24) as f32;
        let scale = if self.next().is_multiple_of(8) { 100.0 } else { 1.0 };
        (2.0 * u - 1.0) * scale
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.value()).collect()
    }
    /// `n` vectors of `d` values, each value times `scale`.
    fn scaled(&mut self, n: usize, d: usize, scale: f32) -> Vec<Vec<f32>> {
        (0..n).map(|_| self.vec(d).iter().map(|x| x * scale).collect()).collect()
    }
}

fn slices(vs: &[Vec<f32>]) -> Vec<&[f32]> {
    vs.iter().map(Vec::as_slice).collect()
}

fn exact(op: Op, a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| match op {
            Op::Dot => x as f64 * y as f64,
            Op::L2sq => (x as f64 - y as f64).powi(2),
        })
        .sum()
}

/// f32 error bound: relative to the sum of absolute terms, which bounds any summation order.
fn close(op: Op, a: &[f32], b: &[f32], got: f32, want: f32) -> bool {
    let mag: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| match op {
            Op::Dot => (x as f64 * y as f64).abs(),
            Op::L2sq => (x as f64 - y as f64).powi(2),
        })
        .sum();
    let tol = 1e-5 * mag.max(1e-30);
    (got as f64 - want as f64).abs() <= tol && (got as f64 - exact(op, a, b)).abs() <= tol
}

fn others() -> Vec<Kernel> {
    let all = Kernel::supported();
    for k in Kernel::ALL {
        if !all.contains(&k) {
            eprintln!("kernel {} not supported on this CPU: skipped", k.name());
        }
    }
    all
}

const OPS: [Op; 2] = [Op::Dot, Op::L2sq];

#[test]
fn every_kernel_matches_the_reference_for_widths_0_to_70() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for kernel in others() {
        for d in 0..=70 {
            for n in [0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31] {
                let q = rng.vec(d);
                let data = rng.vec(n * d);
                let rows: Vec<&[f32]> = (0..n).map(|i| &data[i * d..(i + 1) * d]).collect();
                for op in OPS {
                    let mut want = vec![f32::NAN; n];
                    let mut got = vec![f32::NAN; n];
                    portable::scores(op, &q, &rows, &mut want);
                    kernel.scores(op, &q, &rows, &mut got);
                    for i in 0..n {
                        assert!(
                            close(op, &q, rows[i], got[i], want[i]),
                            "{} {op:?} d={d} n={n} row {i}: got {} want {}",
                            kernel.name(),
                            got[i],
                            want[i]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn tiles_equal_single_scores_bit_for_bit_and_match_the_reference() {
    let mut rng = Rng(7);
    for kernel in others() {
        // Past `BATCH_SPAN` the tile keeps its sums in memory between spans: 1, 2 and 3 spans,
        // with and without a partial last register.
        let span = tuning::BATCH_SPAN;
        for d in [0, 1, 3, 4, 7, 8, 15, 16, 17, 33, 64, 70, span, span + 1, span + 16, 2 * span + 37] {
            // (16, 40): past `SUMS_BYTES` the rows are taken in parts.
            for (nq, nr) in [(1, 1), (1, 9), (3, 7), (4, 3), (4, 6), (5, 13), (9, 25), (12, 12), (16, 40)] {
                let qd = rng.vec(nq * d);
                let rd = rng.vec(nr * d);
                let qs: Vec<&[f32]> = (0..nq).map(|i| &qd[i * d..(i + 1) * d]).collect();
                let rs: Vec<&[f32]> = (0..nr).map(|i| &rd[i * d..(i + 1) * d]).collect();
                for op in OPS {
                    let mut tile = vec![f32::NAN; nq * nr];
                    let mut reference = vec![f32::NAN; nq * nr];
                    kernel.scores_tile(op, &qs, &rs, &mut tile);
                    portable::scores_tile(op, &qs, &rs, &mut reference);
                    for q in 0..nq {
                        let mut single = vec![f32::NAN; nr];
                        kernel.scores(op, qs[q], &rs, &mut single);
                        for r in 0..nr {
                            let t = tile[q * nr + r];
                            assert_eq!(
                                t.to_bits(),
                                single[r].to_bits(),
                                "{} {op:?} d={d} {nq}x{nr} pair ({q},{r}): tile {t} single {}",
                                kernel.name(),
                                single[r]
                            );
                            assert!(close(op, qs[q], rs[r], t, reference[q * nr + r]));
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn equal_rows_score_equally_at_every_position() {
    let mut rng = Rng(99);
    for kernel in others() {
        for d in [5, 8, 23, 64, 67] {
            let q = rng.vec(d);
            let row = rng.vec(d);
            // The same row at every offset of 8- and 6-row micro-kernels and in the remainders.
            let data: Vec<f32> = (0..29).flat_map(|_| row.iter().copied()).collect();
            let rows: Vec<&[f32]> = data.chunks_exact(d).collect();
            let queries = vec![&q[..]; 7];
            for op in OPS {
                let mut out = vec![0.0; rows.len()];
                kernel.scores(op, &q, &rows, &mut out);
                let mut tile = vec![0.0; rows.len() * queries.len()];
                kernel.scores_tile(op, &queries, &rows, &mut tile);
                assert!(
                    out.iter().chain(&tile).all(|v| v.to_bits() == out[0].to_bits()),
                    "{}",
                    kernel.name()
                );
            }
        }
    }
}

/// Every vendor's scan profile gives the same bits (a pair's value never depends on how many
/// rows are read side by side or on prefetching), whichever profile this host's vendor picks.
#[test]
#[cfg(target_arch = "x86_64")]
fn every_scan_profile_gives_the_same_bits() {
    if !Kernel::Avx2.is_supported() {
        return;
    }
    let mut rng = Rng(17);
    for d in [1, 7, 8, 9, 384, 1536, 1543] {
        let q = rng.vec(d);
        let owned: Vec<Vec<f32>> = (0..23).map(|_| rng.vec(d)).collect();
        let ptrs: Vec<*const f32> = owned.iter().map(|r| r.as_ptr()).collect();
        let run = |f: unsafe fn(usize, *const f32, &[*const f32], &mut [f32])| {
            let mut out = vec![f32::NAN; ptrs.len()];
            // SAFETY: AVX2 and FMA are present (checked); every pointer holds d floats.
            unsafe { f(d, q.as_ptr(), &ptrs, &mut out) };
            out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        use tuning::{AVX2_SCAN as I, AVX2_SCAN_AMD as A};
        let want = run(x86::avx2_rows_profile::<false, { I.0 }, { I.1 }>);
        assert_eq!(run(x86::avx2_rows_profile::<false, { A.0 }, { A.1 }>), want, "dot d={d}");
        let want = run(x86::avx2_rows_profile::<true, { I.0 }, { I.1 }>);
        assert_eq!(run(x86::avx2_rows_profile::<true, { A.0 }, { A.1 }>), want, "l2 d={d}");
        let refs: Vec<&[f32]> = owned.iter().map(|r| &r[..]).collect();
        let mut got = vec![0.0; refs.len()];
        Kernel::Avx2.scores(Op::L2sq, &q, &refs, &mut got);
        assert_eq!(got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want, "active profile d={d}");
    }
}

#[test]
fn unaligned_rows_and_rows_that_end_their_allocation() {
    let mut rng = Rng(5);
    for kernel in others() {
        for d in [1, 7, 9, 17, 31, 70] {
            // Each row its own allocation of exactly d floats: a partial load must not read
            // past it. Offsetting by one float makes every load unaligned.
            let owned: Vec<Vec<f32>> = (0..11).map(|_| rng.vec(d)).collect();
            let rows: Vec<&[f32]> = owned.iter().map(|r| &r[..]).collect();
            let padded = rng.vec(d + 1);
            let q = &padded[1..];
            for op in OPS {
                let mut got = vec![0.0; rows.len()];
                let mut want = vec![0.0; rows.len()];
                kernel.scores(op, q, &rows, &mut got);
                portable::scores(op, q, &rows, &mut want);
                for i in 0..rows.len() {
                    assert!(close(op, q, rows[i], got[i], want[i]), "{} d={d}", kernel.name());
                }
            }
        }
    }
}

#[test]
fn more_queries_and_rows_than_one_pointer_chunk() {
    let mut rng = Rng(11);
    let d = 9;
    for kernel in others() {
        for (nq, nr) in [(3, CHUNK * 2 + 5), (CHUNK + 3, 4)] {
            let qd = rng.vec(nq * d);
            let rd = rng.vec(nr * d);
            let qs: Vec<&[f32]> = qd.chunks_exact(d).collect();
            let rs: Vec<&[f32]> = rd.chunks_exact(d).collect();
            let mut tile = vec![f32::NAN; nq * nr];
            kernel.scores_tile(Op::Dot, &qs, &rs, &mut tile);
            for q in 0..nq {
                let mut single = vec![f32::NAN; nr];
                kernel.scores(Op::Dot, qs[q], &rs, &mut single);
                assert_eq!(&tile[q * nr..(q + 1) * nr], &single[..], "{} query {q}", kernel.name());
            }
        }
    }
}

#[test]
fn names_round_trip_and_portable_is_always_supported() {
    for k in Kernel::ALL {
        assert_eq!(Kernel::from_name(k.name()), Some(k));
    }
    assert_eq!(Kernel::from_name("AVX2"), Some(Kernel::Avx2));
    assert_eq!(Kernel::from_name("sse9"), None);
    assert!(Kernel::Portable.is_supported());
    assert!(Kernel::active().is_supported());
    assert!(Kernel::supported().contains(&Kernel::best()));
    #[cfg(target_arch = "x86_64")]
    assert!(!Kernel::Neon.is_supported());
    // NEON is part of the aarch64 baseline: the tests must run it, not skip it.
    #[cfg(target_arch = "aarch64")]
    assert!(Kernel::Neon.is_supported() && Kernel::best() == Kernel::Neon);
    if let Ok(name) = std::env::var("NVS_KERNEL") {
        if let Some(k) = Kernel::from_name(&name).filter(|k| k.is_supported()) {
            assert_eq!(Kernel::active(), k, "NVS_KERNEL={name} must force that path");
        }
    }
}

#[test]
#[should_panic(expected = "as wide as the query")]
fn a_row_of_the_wrong_width_is_rejected() {
    let q = [1.0f32, 2.0];
    let rows: [&[f32]; 1] = [&[1.0, 2.0, 3.0]];
    Kernel::Portable.scores(Op::Dot, &q, &rows, &mut [0.0]);
}

#[test]
fn ingestion_kernels_give_the_same_bits_on_every_path() {
    let mut rng = Rng(99);
    for n in [0usize, 1, 7, 8, 9, 63, 384, 1000] {
        let row = rng.vec(n);
        let norm = portable::norm_sq_f64(&row);
        let want: f64 = row.iter().map(|&x| x as f64 * x as f64).sum();
        assert!((norm - want).abs() <= 1e-12 * want.max(1.0));
        let inv = 1.0 / norm.sqrt().max(1e-30);
        let mut want_scaled = row.clone();
        portable::scale_f64(&mut want_scaled, inv);
        for kernel in Kernel::supported() {
            assert_eq!(kernel.norm_sq_f64(&row).to_bits(), norm.to_bits(), "{} n={n}", kernel.name());
            let mut scaled = row.clone();
            kernel.scale_f64(&mut scaled, inv);
            assert_eq!(scaled, want_scaled, "{} n={n}", kernel.name());
        }
    }
}

// ---- Correctly rounded values (exact.rs) ----------------------------------------------------
//
// The oracle here is independent of exact.rs: inputs are f32 values m * 2^k with |m| < 2^24
// and k in [-20, 10], so each is an integer times 2^-20 below 2^54, and every dot product or
// squared distance of up to 500 of them is an integer (times 2^-40) below 2^118: i128 holds it
// exactly, and Rust's i128 -> f64 conversion rounds to nearest, ties to even. That covers
// cancellation down to 2^-40 from terms up to 2^68. Inputs over the whole f32 range (sub-
// normals to 3e38) are checked instead for agreement between the fast tier and the exact
// accumulator, which are independent algorithms, on every kernel (tests/python/
// test_raw_exact.py checks them against Python fractions).

use super::exact::{self, Exact};

/// `x * 2^20` as an integer (x must be a multiple of 2^-20 below 2^100).
fn scaled(x: f32) -> i128 {
    let v = x as f64 * (1u64 << 20) as f64;
    assert!(v == v.trunc() && v.abs() < 2f64.powi(100), "{x} is outside the oracle's domain");
    v as i128
}

fn oracle_dot(a: &[f32], b: &[f32]) -> f64 {
    let t: i128 = a.iter().zip(b).map(|(&x, &y)| scaled(x) * scaled(y)).sum();
    t as f64 * 2f64.powi(-40)
}

fn oracle_l2sq(a: &[f32], b: &[f32]) -> u128 {
    a.iter().zip(b).map(|(&x, &y)| (scaled(x) - scaled(y)).pow(2) as u128).sum()
}

/// `x = m * 2^e`, m the 53-bit integer significand (x normal, positive).
fn parts64(x: f64) -> (u128, i32) {
    let bits = x.to_bits();
    (((bits & ((1 << 52) - 1)) | (1 << 52)) as u128, ((bits >> 52) as i32) - 1075)
}

/// Compare `t * 2^-40` with `x * 2^e`.
fn cmp_scaled(t: u128, x: u128, e: i32) -> std::cmp::Ordering {
    let k = e + 40;
    if k >= 0 {
        t.cmp(&x.checked_shl(k as u32).filter(|v| v >> k == x).expect("oracle overflow"))
    } else {
        let s = (-k) as u32;
        assert!(t.leading_zeros() > s, "oracle overflow");
        (t << s).cmp(&x)
    }
}

/// Whether `r` is sqrt(t * 2^-40) rounded to nearest, ties to even.
fn is_rounded_sqrt(t: u128, r: f64) -> bool {
    use std::cmp::Ordering::*;
    if t == 0 || r <= 0.0 {
        return t == 0 && r == 0.0;
    }
    let (m, e) = parts64(r);
    let even = r.to_bits() & 1 == 0;
    let up = cmp_scaled(t, (2 * m + 1).pow(2), 2 * e - 2);
    let down = if m == 1 << 52 {
        cmp_scaled(t, (4 * m - 1).pow(2), 2 * e - 4)
    } else {
        cmp_scaled(t, (2 * m - 1).pow(2), 2 * e - 2)
    };
    match (down, up) {
        (Greater, Less) => true,
        (Equal, Less) | (Greater, Equal) => even,
        _ => false,
    }
}

impl Rng {
    /// m * 2^k, |m| < 2^24 of random bit length, k in [-20, 10]: the oracle's domain.
    fn limited(&mut self) -> f32 {
        let bits = self.next() % 25;
        let m = (self.next() >> 40) as i64 & ((1i64 << bits) - 1);
        let k = (self.next() % 31) as i32 - 20;
        let m = if self.next() & 1 == 0 { m } else { -m };
        m as f32 * 2f32.powi(k)
    }
    /// Any finite f32: random bits (subnormals, zeros, up to 3e38).
    fn any(&mut self) -> f32 {
        loop {
            let x = f32::from_bits(self.next() as u32);
            if x.is_finite() {
                return x;
            }
        }
    }
    /// A value of a random magnitude among nine decades around a random scale.
    fn wide(&mut self, scale: i32) -> f32 {
        let e = scale + (self.next() % 60) as i32 - 30;
        self.value() * 2f32.powi(e.clamp(-140, 120))
    }
}

/// Rows whose products cancel: pairs x*y and x'*y' of nearly opposite value plus a few small
/// terms, in the oracle's domain when `limited`.
fn cancelling(rng: &mut Rng, d: usize, limited: bool) -> (Vec<f32>, Vec<f32>) {
    let mut q = Vec::with_capacity(d);
    let mut r = Vec::with_capacity(d);
    let pick = |rng: &mut Rng| if limited { rng.limited() } else { rng.wide(0) };
    while q.len() < d {
        let (x, y) = (pick(rng), pick(rng));
        q.push(x);
        r.push(y);
        if q.len() < d {
            // x' * y' close to -x * y: y' = -x * y / x' rounded to f32 (and to the domain).
            let x2 = pick(rng);
            let mut y2 = if x2 == 0.0 { 0.0 } else { (-(x as f64) * y as f64 / x2 as f64) as f32 };
            if limited {
                y2 = ((y2 as f64 * 1048576.0).round() / 1048576.0) as f32;
                if y2.abs() >= 2f32.powi(34) || scaled_ok(y2).is_none() {
                    y2 = 0.0;
                }
            }
            if !y2.is_finite() {
                y2 = 0.0;
            }
            q.push(x2);
            r.push(y2);
        }
    }
    (q, r)
}

fn scaled_ok(x: f32) -> Option<i128> {
    let v = x as f64 * 1048576.0;
    (v == v.trunc() && v.abs() < 2f64.powi(54)).then_some(v as i128)
}

/// (query, rows) pairs of many kinds for width `d`.
fn exact_cases(rng: &mut Rng, d: usize, limited: bool) -> Vec<(Vec<f32>, Vec<f32>)> {
    let mut cases = Vec::new();
    let gen = |rng: &mut Rng| -> f32 {
        if limited {
            rng.limited()
        } else {
            rng.any()
        }
    };
    for _ in 0..6 {
        cases.push(((0..d).map(|_| gen(rng)).collect(), (0..d).map(|_| gen(rng)).collect()));
    }
    cases.push(cancelling(rng, d, limited));
    cases.push(cancelling(rng, d, limited));
    // Nearly equal vectors (euclidean cancellation: tiny differences of large values).
    let q: Vec<f32> = (0..d).map(|_| gen(rng)).collect();
    let r: Vec<f32> = q
        .iter()
        .map(|&x| {
            let y = if rng.next().is_multiple_of(3) { x } else { f32::from_bits(x.to_bits() ^ 1) };
            if limited && scaled_ok(y).is_none() {
                x
            } else {
                y
            }
        })
        .collect();
    cases.push((q, r));
    if !limited {
        for scale in [-120, -60, 0, 60, 120] {
            let q = (0..d).map(|_| rng.wide(scale)).collect();
            let r = (0..d).map(|_| rng.wide(-scale / 2)).collect();
            cases.push((q, r));
        }
        let (q, r) = cancelling(rng, d, false);
        cases.push((q.iter().map(|&x| x * 2f32.powi(-100)).collect(), r));
    }
    cases
}

fn all_exact(kernel: Kernel, q: &[f32], rows: &[&[f32]]) -> (Vec<f64>, Vec<f64>) {
    let mut dots = vec![f64::NAN; rows.len()];
    let mut dist = vec![f64::NAN; rows.len()];
    kernel.dots_exact(q, rows, &mut dots);
    kernel.distances_exact(q, rows, &mut dist);
    (dots, dist)
}

#[test]
fn exact_values_are_correctly_rounded_on_every_kernel() {
    let mut rng = Rng(0x5eed);
    let mut cases = 0;
    for kernel in others() {
        for d in (0..=40).chain([63, 64, 65, 200, 384, 500]) {
            for (q, r) in exact_cases(&mut rng, d, true) {
                let rows = [&r[..]];
                let (dots, dist) = all_exact(kernel, &q, &rows);
                let want = oracle_dot(&q, &r);
                assert_eq!(dots[0].to_bits(), want.to_bits(), "{} dot d={d}: {q:?} {r:?}", kernel.name());
                let t = oracle_l2sq(&q, &r);
                assert!(
                    is_rounded_sqrt(t, dist[0]),
                    "{} distance d={d}: got {} for {q:?} {r:?}",
                    kernel.name(),
                    dist[0]
                );
                // The exact tier on its own, against the same oracle.
                let mut e = Exact::new();
                let mut l = Exact::new();
                for (&x, &y) in q.iter().zip(&r) {
                    e.add_product(x, y, 1);
                    l.add_product(x, x, 1);
                    l.add_product(x, y, -2);
                    l.add_product(y, y, 1);
                }
                assert_eq!(e.to_f64().to_bits(), want.to_bits(), "exact tier dot d={d}");
                assert!(is_rounded_sqrt(t, l.sqrt()), "exact tier distance d={d}");
                cases += 1;
            }
        }
    }
    // 423 cases per kernel; a CPU may have only the portable kernel, or portable and NEON.
    assert!(cases > 400 * Kernel::supported().len(), "only {cases} cases ran");
}

#[test]
fn fast_and_exact_tiers_agree_over_the_whole_f32_range_on_every_kernel() {
    let mut rng = Rng(0xfeed);
    for kernel in others() {
        for d in (1..=24).chain([31, 64, 100, 384, 1000]) {
            let cases = exact_cases(&mut rng, d, false);
            let rows: Vec<&[f32]> = cases.iter().map(|(_, r)| &r[..]).collect();
            for (q, r) in &cases {
                let (dots, dist) = all_exact(kernel, q, &[&r[..]]);
                let mut e = Exact::new();
                let mut l = Exact::new();
                for (&x, &y) in q.iter().zip(r) {
                    e.add_product(x, y, 1);
                    l.add_product(x, x, 1);
                    l.add_product(x, y, -2);
                    l.add_product(y, y, 1);
                }
                assert_eq!(
                    dots[0].to_bits(),
                    e.to_f64().to_bits(),
                    "{} dot d={d}: {q:?} {r:?}",
                    kernel.name()
                );
                assert_eq!(
                    dist[0].to_bits(),
                    l.sqrt().to_bits(),
                    "{} distance d={d}: {q:?} {r:?}",
                    kernel.name()
                );
            }
            // Many rows per call give the same values as one row per call.
            let q = &cases[0].0;
            let (dots, dist) = all_exact(kernel, q, &rows);
            for (i, r) in rows.iter().enumerate() {
                let (d1, l1) = all_exact(Kernel::Portable, q, &[r]);
                assert_eq!((dots[i].to_bits(), dist[i].to_bits()), (d1[0].to_bits(), l1[0].to_bits()));
            }
        }
    }
}

#[test]
fn exact_ties_round_to_even() {
    let t = |e: i32| 2f32.powi(e);
    for kernel in others() {
        let dot = |q: &[f32], r: &[f32]| {
            let mut out = [0.0];
            kernel.dots_exact(q, &[r], &mut out);
            out[0]
        };
        let dist = |q: &[f32], r: &[f32]| {
            let mut out = [0.0];
            kernel.distances_exact(q, &[r], &mut out);
            out[0]
        };
        let one_up = 1.0f64.next_up();
        // 1 + 2^-53 is halfway between 1 and its successor: to even (1); a hair above: up.
        assert_eq!(dot(&[1.0, t(-53)], &[1.0, 1.0]), 1.0);
        assert_eq!(dot(&[1.0, t(-53), t(-90)], &[1.0, 1.0, 1.0]), one_up);
        assert_eq!(dot(&[1.0, t(-53), t(-90)], &[1.0, 1.0, -1.0]), 1.0);
        // (1 + 2^-52) + 2^-53 is halfway between two odd/even neighbours: to even (up).
        assert_eq!(dot(&[1.0, t(-52), t(-53)], &[1.0, 1.0, 1.0]), 1.0 + 2.0 * f64::EPSILON);
        // Cancellation: 2^60 - 2^60 + 1 + 2^-53 (f32 products of exact terms).
        assert_eq!(dot(&[t(30), t(30), 1.0, t(-53)], &[t(30), -t(30), 1.0, 1.0]), 1.0);
        // Below a power of two the gap halves: 2 - 2^-53 is halfway to 2 - 2^-52 (odd), so
        // 2; 2 - 2^-52 - 2^-53 is halfway between that and 2 - 2^-51 (even).
        assert_eq!(dot(&[2.0, -t(-53)], &[1.0, 1.0]), 2.0);
        assert_eq!(dot(&[2.0, -t(-52), -t(-53)], &[1.0, 1.0, 1.0]), 2.0 - 2.0 * f64::EPSILON);
        assert_eq!(dot(&[2.0, -t(-54)], &[1.0, 1.0]), 2.0);
        assert_eq!(dot(&[2.0, -t(-53), -t(-80)], &[1.0, 1.0, 1.0]), 2.0 - f64::EPSILON);
        // sqrt(1 + 2^-52 + 2^-106) = 1 + 2^-53 exactly: halfway, to even (1); a hair more: up.
        let zero = [0.0f32; 4];
        assert_eq!(dist(&[1.0, t(-26), t(-53), 0.0], &zero), 1.0);
        assert_eq!(dist(&[1.0, t(-26), t(-53), t(-60)], &zero), one_up);
        assert_eq!(dist(&[zero[0], 1.0, t(-26), t(-53)], &[-1.0, 1.0, 0.0, 0.0]), 1.0);
        // Differences that are not exact in f64 (2^100 - 2^-100).
        let huge = dist(&[t(100)], &[t(-100)]);
        assert_eq!(huge, 2f64.powi(100));
        assert_eq!(dist(&[t(100), t(60)], &[t(-100), 0.0]), 2f64.powi(100));
        assert_eq!(dist(&[], &[]), 0.0);
        assert_eq!(dot(&[], &[]), 0.0);
        // Extremes: the largest products, the smallest subnormal products.
        let max = f32::MAX;
        assert_eq!(dot(&[max, max], &[max, -max]), 0.0);
        assert_eq!(dot(&[max], &[max]), max as f64 * max as f64);
        let tiny = f32::from_bits(1);
        assert_eq!(dot(&[tiny, 1.0], &[tiny, 0.0]), 2f64.powi(-298));
        assert_eq!(dist(&[tiny], &[-tiny]), 2f64.powi(-148));
        // sqrt(8) * max, correctly rounded (the f64 product of sqrt(8) and max is one ulp above).
        assert_eq!(dist(&[max, -max], &[-max, max]), 9.624638193047006e38);
        assert_eq!(dist(&[max], &[-max]), 2.0 * max as f64);
    }
}

#[test]
fn exact_cosines_are_correctly_rounded_and_ignore_the_norms_last_bits() {
    let mut rng = Rng(0xc05);
    for kernel in others() {
        let cos = |q: &[f32], r: &[f32], norm: f64| {
            let mut out = [f32::NAN];
            kernel.cosines_exact(q, &[r], &[norm], &mut out);
            out[0]
        };
        // |r| = 2; dot = 1 + 2^-24: cosine 0.5 + 2^-25, halfway between 0.5 and its
        // successor: to even (0.5). A hair more rounds up; the norm hint's last bits don't matter.
        let r = [1.0f32; 4];
        let q = [1.0, 2f32.powi(-24), 0.0, 0.0];
        let q_up = [1.0, 2f32.powi(-24), 2f32.powi(-60), 0.0];
        let tol = norm_hint_tolerance(4) * 0.99;
        for norm in [2.0, 2.0 * (1.0 + tol), 2.0 * (1.0 - tol)] {
            assert_eq!(cos(&q, &r, norm), 0.5);
            assert_eq!(cos(&q_up, &r, norm), 0.5f32.next_up());
            assert_eq!(cos(&[-1.0, -2f32.powi(-24), 0.0, 0.0], &r, norm), -0.5);
            assert_eq!(cos(&[0.0; 4], &r, norm), 0.0);
        }
        // Orthogonal up to a tiny residue: the sign survives.
        assert!(cos(&[1.0, -1.0], &[1.0, 1.0 + 2f32.powi(-23)], 2f64.sqrt()) < 0.0);
        // Random rows (wide range), hints off by up to the tolerance: the same f32 as the exact
        // tier computed from the row alone.
        for d in [1, 2, 3, 7, 16, 100, 384] {
            for (q, r) in exact_cases(&mut rng, d, false) {
                // Searches pass the query normalized (so |cosine| <= 1 up to rounding).
                let qn = norm_exact(&q);
                if qn == 0.0 {
                    continue;
                }
                let q: Vec<f32> = q.iter().map(|&x| (x as f64 / qn) as f32).collect();
                let exact_sq: f64 = {
                    let mut t = Exact::new();
                    for &y in &r {
                        t.add_product(y, y, 1);
                    }
                    t.sqrt()
                };
                if exact_sq == 0.0 {
                    continue;
                }
                let mut dot = [0.0];
                kernel.dots_exact(&q, &[&r[..]], &mut dot);
                let want = exact::cosine_exact_for_tests(&q, &r);
                let tol = norm_hint_tolerance(d) * 0.99;
                for norm in [exact_sq, exact_sq * (1.0 + tol), exact_sq * (1.0 - tol)] {
                    let got = cos(&q, &r, norm);
                    assert_eq!(got.to_bits(), want.to_bits(), "{} d={d}: {q:?} {r:?}", kernel.name());
                }
            }
        }
    }
}

#[test]
fn the_fast_tier_decides_nearly_always() {
    // Exact fallbacks must be rare on ordinary data, or raw searches would slow down.
    let mut rng = Rng(0xfa57);
    let mut fallbacks = [0; 3];
    let n = 2000;
    for i in 0..n {
        let d = [3, 64, 384][i % 3];
        let q = rng.vec(d);
        let r = rng.vec(d);
        // SAFETY: the portable lanes (`Pair`) run on any CPU.
        let dot = unsafe { exact::dot_bracket::<exact::Pair>(&q, &r) };
        // SAFETY: as above.
        let l2sq = unsafe { exact::l2sq_bracket::<exact::Pair, true>(&q, &r) };
        // SAFETY: as above.
        let norm_sq = unsafe { exact::l2sq_bracket::<exact::Pair, false>(&q, &q) };
        fallbacks[0] += dot.round_for_tests().is_none() as usize;
        fallbacks[1] += l2sq.sqrt_for_tests().is_none() as usize;
        fallbacks[2] += norm_sq.sqrt_for_tests().is_none() as usize;
    }
    assert!(fallbacks.iter().all(|&f| f <= n / 100), "{fallbacks:?} exact fallbacks in {n}");
}

#[test]
fn stored_norms_are_within_the_tolerance_cosine_assumes() {
    let mut rng = Rng(0x17);
    for d in [1, 2, 7, 8, 9, 17, 384, 1000, 3072] {
        for scale in [-140, -20, 0, 60, 126] {
            let row: Vec<f32> = (0..d).map(|_| rng.wide(scale)).collect();
            let mut t = Exact::new();
            for &y in &row {
                t.add_product(y, y, 1);
            }
            let (exact_sq, exact) = (t.to_f64(), t.sqrt());
            if exact == 0.0 {
                continue;
            }
            let sq = Kernel::active().norm_sq_f64(&row);
            assert!((sq - exact_sq).abs() <= (d as f64 / 8.0 + 8.0) * f64::EPSILON / 2.0 * exact_sq * 1.0001);
            let stored = sq.sqrt();
            assert!((stored - exact).abs() <= norm_hint_tolerance(d) * exact, "d={d} scale {scale}");
            assert_eq!(norm_exact(&row).to_bits(), exact.to_bits());
        }
    }
}

/// More rows than one pointer chunk, and prefetched rows split across the chunks: the same
/// values as row by row.
#[test]
fn screens_of_many_rows_equal_screens_of_one_row_at_a_time() {
    let mut rng = Rng(0xfeed);
    for kernel in others() {
        let (width, d) = (*kernel.screen_widths().last().unwrap(), 19);
        let panel = rng.vec(d * width);
        let rows: Vec<Vec<f32>> = (0..600).map(|_| rng.vec(d)).collect();
        let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let mut all = vec![0.0f32; rows.len() * width];
        kernel.screen(&panel, width, &refs, &mut all, &refs[..300]);
        for (r, row) in refs.iter().enumerate() {
            let mut one = vec![0.0f32; width];
            kernel.screen(&panel, width, &[row], &mut one, &[]);
            assert_eq!(one, all[r * width..][..width], "{} row {r}", kernel.name());
        }
    }
}

/// Every kernel's screen (both panel widths, every row-group remainder) and its single-search
/// scores lie within `dot_error_bound` of the exact dot product, tiny values whose products
/// fall among the subnormals included: the bound the batch screen's cuts rest on.
#[test]
fn screens_and_scores_are_within_the_dot_error_bound() {
    let mut rng = Rng(0x5eed);
    for kernel in others() {
        for &width in kernel.screen_widths() {
            for d in [1, 2, 15, 16, 17, 33, 100, 301] {
                for rows_n in [0, 1, 5, 11, 12, 13, 25, 40] {
                    // 1e-38 and 1e-41 put the products among the subnormals and below.
                    for scale in [1.0f32, 1e-22, 1e-38, 1e-41] {
                        let (queries, rows) = (rng.scaled(width, d, 1.0), rng.scaled(rows_n, d, scale));
                        let (qrefs, refs) = (slices(&queries), slices(&rows));
                        let panel = screen_panel(&qrefs, width, d);
                        let mut out = vec![f32::NAN; rows_n * width];
                        let ahead = [&queries[0][..], &[][..]];
                        kernel.screen(panel.values(), width, &refs, &mut out, &ahead);
                        for (r, row) in rows.iter().enumerate() {
                            for (j, q) in queries.iter().enumerate() {
                                let abs: f64 =
                                    q.iter().zip(row).map(|(&a, &b)| (a as f64 * b as f64).abs()).sum();
                                let bound = dot_error_bound(d, abs);
                                let want = exact(Op::Dot, q, row);
                                let got = out[r * width + j] as f64;
                                assert!(
                                    (got - want).abs() <= bound,
                                    "{} w{width} d{d} r{r} q{j}",
                                    kernel.name()
                                );
                                let mut single = [0.0f32];
                                kernel.scores(Op::Dot, q, &[row], &mut single);
                                assert!((single[0] as f64 - want).abs() <= bound, "{} d{d}", kernel.name());
                                // The euclidean cut's assumption: a squared distance is within
                                // twice the bound on its (non-negative) terms' sum.
                                let sq = exact(Op::L2sq, q, row);
                                kernel.scores(Op::L2sq, q, &[row], &mut single);
                                let l2_bound = 2.0 * dot_error_bound(d, sq);
                                assert!(
                                    (single[0] as f64 - sq).abs() <= l2_bound,
                                    "{} d{d} l2",
                                    kernel.name()
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The AMX screen (where the CPU and OS allow it) lies within `bf16_error_bound` of the exact
/// dot product, values rounded to zero below the smallest normal included, for every count of
/// queries in a panel and rows in a step; padded rows and queries score zero.
#[test]
fn amx_screens_are_within_their_bound() {
    let kernel = Kernel::Avx512;
    if !kernel.screens_amx() {
        eprintln!("no AMX screen on this CPU: skipped");
        return;
    }
    let mut rng = Rng(0xa3c);
    let norm = |v: &[f32]| v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    for d in [1, 2, 15, 31, 32, 33, 100, 301] {
        for (rows_n, queries_n) in [(1usize, 1usize), (5, 32), (31, 17), (32, 16), (33, 3), (70, 31)] {
            // 1e-38 and 1e-41 round to zero in bfloat16 (below the smallest normal).
            for scale in [1.0f32, 1e-22, 1e-38, 1e-41] {
                let (queries, rows) = (rng.scaled(queries_n, d, 1.0), rng.scaled(rows_n, d, scale));
                let (qrefs, refs) = (slices(&queries), slices(&rows));
                let panel = kernel.screen_amx_panel(&qrefs, d);
                let mut converted = Lines::zeros(rows_n.next_multiple_of(32) * Kernel::amx_words(d));
                converted.values_mut().fill(f32::NAN);
                let m = kernel.screen_amx_rows(d, &refs, &mut converted);
                assert_eq!(m, rows_n.next_multiple_of(32));
                let mut out = vec![f32::NAN; m * 32];
                kernel.screen_amx(&panel, &converted, m, &mut out);
                for r in 0..m {
                    for j in 0..32 {
                        let got = out[r * 32 + j] as f64;
                        let (Some(row), Some(q)) = (rows.get(r), queries.get(j)) else {
                            assert_eq!(got, 0.0, "d{d} padding r{r} q{j}");
                            continue;
                        };
                        let abs: f64 = q.iter().zip(row).map(|(&a, &b)| (a as f64 * b as f64).abs()).sum();
                        let bound = bf16_error_bound(d, abs, norm(q), norm(row));
                        let want = exact(Op::Dot, q, row);
                        assert!(
                            (got - want).abs() <= bound,
                            "d{d} r{r} q{j}: {got} vs {want}, bound {bound}"
                        );
                    }
                }
            }
        }
    }
}
