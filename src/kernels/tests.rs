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
        for d in [0, 1, 3, 4, 7, 8, 15, 16, 17, 33, 64, 70] {
            for (nq, nr) in [(1, 1), (1, 9), (3, 7), (4, 3), (4, 6), (5, 13), (9, 25), (12, 12)] {
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
fn f64_reductions_are_accurate_and_overflow_safe() {
    let mut rng = Rng(17);
    for n in 0..=70 {
        let a = rng.vec(n);
        let b = rng.vec(n);
        let naive_dot: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
        let naive_l2: f64 = a.iter().zip(&b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
        let naive_norm: f64 = a.iter().map(|&x| x as f64 * x as f64).sum();
        assert!((dot_f64(&a, &b) - naive_dot).abs() <= 1e-12 * naive_norm.max(1.0) * 1e4);
        assert!((l2sq_f64(&a, &b) - naive_l2).abs() <= 1e-12 * naive_l2.max(1.0));
        assert!((norm_sq_f64(&a) - naive_norm).abs() <= 1e-12 * naive_norm.max(1.0));
    }
    let big = vec![3e38f32; 19];
    let x = 3e38f32 as f64;
    let want = 19.0 * x * x;
    assert!((norm_sq_f64(&big) - want).abs() <= 1e-15 * want);
    assert!(dot_f64(&big, &big).is_finite());
}

#[test]
fn f64_dots_equal_the_portable_f64_dot_bit_for_bit() {
    let mut rng = Rng(23);
    for kernel in others() {
        for d in 0..=70 {
            for n in [0, 1, 3, 4, 5, 9, 300] {
                let q = rng.vec(d);
                let data = rng.vec(n * d);
                let rows: Vec<&[f32]> = (0..n).map(|i| &data[i * d..(i + 1) * d]).collect();
                let mut got = vec![f64::NAN; n];
                kernel.dots_f64(&q, &rows, &mut got);
                for i in 0..n {
                    assert_eq!(
                        got[i].to_bits(),
                        dot_f64(&q, rows[i]).to_bits(),
                        "{} d={d} row {i}",
                        kernel.name()
                    );
                }
            }
        }
    }
}

#[test]
fn ingestion_kernels_give_the_same_bits_on_every_path() {
    let mut rng = Rng(99);
    for n in [0usize, 1, 7, 8, 9, 63, 384, 1000] {
        let row = rng.vec(n);
        let norm = norm_sq_f64_generic(&row);
        assert_eq!(norm_sq_f64(&row).to_bits(), norm.to_bits(), "n={n}");
        let want: f64 = row.iter().map(|&x| x as f64 * x as f64).sum();
        assert!((norm - want).abs() <= 1e-12 * want.max(1.0));
        let other = rng.vec(n);
        assert_eq!(l2sq_f64(&row, &other).to_bits(), l2sq_f64_generic(&row, &other).to_bits());
        #[cfg(target_arch = "x86_64")]
        if Kernel::Avx2.is_supported() {
            // SAFETY: AVX2 and FMA are present (checked).
            let forced = unsafe { x86::avx2_l2sq_f64(&row, &other) };
            assert_eq!(forced.to_bits(), l2sq_f64_generic(&row, &other).to_bits());
        }
        let inv = 1.0 / norm.sqrt().max(1e-30);
        let mut a = vec![0.0f32; n];
        let mut b = vec![0.0f32; n];
        scale_f64(&row, inv, &mut a);
        scale_f64_generic(&row, inv, &mut b);
        assert_eq!(a, b);
        #[cfg(target_arch = "x86_64")]
        if Kernel::Avx2.is_supported() {
            // SAFETY: AVX2 and FMA are present (checked).
            let forced = unsafe { x86::avx2_norm_sq_f64(&row) };
            assert_eq!(forced.to_bits(), norm.to_bits());
            unsafe { x86::avx2_scale_f64(&row, inv, &mut a) };
            assert_eq!(a, b);
        }
    }
}
