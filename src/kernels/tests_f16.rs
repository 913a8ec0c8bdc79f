//! Float16 rows: the conversions against independent oracles (every f16 pattern; f32 ties,
//! boundaries and subnormals), the instruction-set conversions against the plain ones bit for
//! bit, and every kernel's float16 scores against its own float32 scores of the widened rows,
//! bit for bit, single and batch.

use super::f16::{self, narrow_checked, narrow_checked_portable, to_f16, to_f32, widen, widen_portable};
use super::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [-1, 1), sometimes scaled up or down so that large, small and subnormal
    /// f16 values all occur.
    fn value(&mut self) -> f32 {
        let u = (self.next() >> 40) as f32 / (1u64 << 24) as f32;
        let scale = match self.next() % 16 {
            0 => 1000.0,
            1 => 1e-5,
            2 => 1e-7,
            _ => 1.0,
        };
        (2.0 * u - 1.0) * scale
    }
    fn row16(&mut self, n: usize) -> Vec<u16> {
        (0..n).map(|_| to_f16(self.value())).collect()
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.value()).collect()
    }
}

fn wide(h: &[u16]) -> Vec<f32> {
    h.iter().map(|&x| to_f32(x)).collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The value of a finite f16 pattern, computed from its fields in f64 (independent of `to_f32`).
fn oracle_value(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let e = ((h >> 10) & 0x1f) as i32;
    let m = (h & 0x3ff) as f64;
    sign * if e == 0 { m * 2f64.powi(-24) } else { (1024.0 + m) * 2f64.powi(e - 25) }
}

#[test]
fn every_f16_pattern_widens_exactly() {
    for h in 0..=u16::MAX {
        let got = to_f32(h);
        let (e, m, sign) = ((h >> 10) & 0x1f, (h & 0x3ff) as u32, ((h & 0x8000) as u32) << 16);
        if e == 0x1f {
            // Infinity, or a NaN made quiet with its payload shifted up.
            let want = sign | 0x7f80_0000 | (m << 13) | if m != 0 { 0x40_0000 } else { 0 };
            assert_eq!(got.to_bits(), want, "{h:#06x}");
        } else {
            assert_eq!(got as f64, oracle_value(h), "{h:#06x}");
            assert_eq!(got.is_sign_negative(), h & 0x8000 != 0, "{h:#06x}");
            // Exact, so narrowing gives the pattern back.
            assert_eq!(to_f16(got), h, "{h:#06x}");
        }
    }
}

#[test]
fn bulk_widening_matches_the_plain_code_for_every_pattern() {
    // The instruction path (F16C on x86-64, fcvtl on aarch64, where present) against the
    // plain one over all 2^16 patterns, NaNs included, at every start offset and tail length.
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let mut want = vec![0.0f32; all.len()];
    widen_portable(&all, &mut want);
    let mut got = vec![f32::NAN; all.len()];
    widen(&all, &mut got);
    assert_eq!(bits(&got), bits(&want));
    for start in 0..9 {
        for len in 0..40 {
            let src = &all[0x7bf0 + start..][..len];
            let mut got = vec![f32::NAN; len];
            widen(src, &mut got);
            assert_eq!(bits(&got), bits(&want[0x7bf0 + start..][..len]));
        }
    }
}

/// Whether `h` is `x` rounded to nearest, ties to even (the IEEE rule, from neighbours'
/// distances computed in f64; f32 and f16 values and their differences are exact there).
fn is_nearest_even(x: f32, h: u16) -> bool {
    if x.is_nan() {
        let f = x.to_bits();
        return h == (((f >> 16) & 0x8000) as u16 | 0x7e00 | ((f >> 13) & 0x3ff) as u16);
    }
    if (h & 0x8000 != 0) != x.is_sign_negative() {
        return false;
    }
    let a = (x as f64).abs();
    let m = h & 0x7fff;
    // Rounding with an unbounded exponent gives 2^16 or more exactly when |x| >= 65520.
    if a >= 65520.0 {
        return m == 0x7c00;
    }
    if m > 0x7bff {
        return false;
    }
    let v = oracle_value(m);
    let dist = (a - v).abs();
    for n in [m.wrapping_sub(1), m + 1] {
        if n > 0x7c00 {
            continue;
        }
        let w = if n == 0x7c00 { 65536.0 } else { oracle_value(n) };
        let other = (a - w).abs();
        if other < dist || (other == dist && m & 1 == 1) {
            return false;
        }
    }
    true
}

/// f32 values around every rounding decision of f32 -> f16: every f16 value, every midpoint
/// between neighbours (a tie) and the f32 values either side of it, all 2^16 high halves of an
/// f32 with low halves that set the rounding bits every way, the overflow and subnormal
/// boundaries, f32 subnormals, infinities, NaNs and random bit patterns.
fn narrowing_sample() -> Vec<f32> {
    let mut xs = Vec::new();
    for m in 0..0x7c00u16 {
        let v = oracle_value(m);
        let next = if m == 0x7bff { 65536.0 } else { oracle_value(m + 1) };
        let mid = ((v + next) / 2.0) as f32;
        assert_eq!(mid as f64, (v + next) / 2.0, "midpoints are exact in f32");
        for x in [v as f32, mid, mid.next_down(), mid.next_up()] {
            xs.push(x);
            xs.push(-x);
        }
    }
    let lows = [0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x2001, 0x3000, 0x7fff];
    let more_lows = [0x8000, 0x8001, 0xbfff, 0xc000, 0xe000, 0xefff, 0xf000, 0xf001, 0xffff];
    for hi in 0..=u16::MAX as u32 {
        for &lo in lows.iter().chain(&more_lows) {
            xs.push(f32::from_bits(hi << 16 | lo));
        }
    }
    for x in [65504.0, 65519.99, 65520.0, 65535.0, 65536.0, 1e10, f32::MAX, 2f32.powi(-24), 2f32.powi(-25)] {
        xs.extend([x, -x, x.next_up(), x.next_down()]);
    }
    xs.extend([f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN, f32::from_bits(0x7f80_0001)]);
    xs.extend([f32::MIN_POSITIVE, f32::from_bits(1), -f32::from_bits(1), 0.0, -0.0]);
    let mut rng = Rng(0xf16);
    xs.extend((0..1 << 20).map(|_| f32::from_bits(rng.next() as u32)));
    xs
}

#[test]
fn narrowing_rounds_to_nearest_even_and_matches_the_instructions() {
    let xs = narrowing_sample();
    let mut want = vec![0u16; xs.len()];
    let _ = narrow_checked_portable(&xs, &mut want);
    for (&x, &h) in xs.iter().zip(&want) {
        assert!(is_nearest_even(x, h), "{x:e} ({:#010x}) -> {h:#06x}", x.to_bits());
        assert_eq!(to_f16(x), h);
    }
    // The instruction path (F16C where present) gives the same bits and the same first error,
    // at every offset and tail length.
    let mut got = vec![0u16; xs.len()];
    assert_eq!(narrow_checked(&xs, &mut got), narrow_checked_portable(&xs, &mut want));
    assert_eq!(got, want);
    for start in 0..9 {
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 40] {
            let src = &xs[start..][..len];
            let mut a = vec![0u16; len];
            let mut b = vec![0u16; len];
            assert_eq!(narrow_checked(src, &mut a), narrow_checked_portable(src, &mut b));
            assert_eq!(a, b);
        }
    }
}

#[test]
fn checked_narrowing_reports_the_first_value_that_does_not_fit() {
    let fits = [0.0, -0.0, 1.0, -65504.0, 65519.99, -65519.99, 1e-9, 3.0e-8];
    let overflow = [65520.0, -65520.0, 65536.0, 1e30, f32::MAX, f32::INFINITY, f32::NAN];
    for n in [1, 5, 8, 9, 16, 17, 33] {
        let base: Vec<f32> = (0..n).map(|i| fits[i % fits.len()]).collect();
        let mut out = vec![0u16; n];
        assert_eq!(narrow_checked(&base, &mut out), Ok(()), "n={n}");
        assert!(out.iter().all(|&h| h & 0x7c00 != 0x7c00));
        for at in 0..n {
            for (k, &bad) in overflow.iter().enumerate() {
                let mut src = base.clone();
                src[at] = bad;
                // A later one too: the first is reported.
                if at + 3 < n {
                    src[at + 3] = overflow[(k + 1) % overflow.len()];
                }
                let mut a = vec![0u16; n];
                let mut b = vec![0u16; n];
                assert_eq!(narrow_checked(&src, &mut a), Err(at), "n={n} at={at} {bad}");
                assert_eq!(narrow_checked_portable(&src, &mut b), Err(at));
                // Every value is converted either way.
                assert_eq!(a, b);
                assert_eq!(a[at] & 0x7fff, if bad.is_nan() { 0x7e00 } else { 0x7c00 });
            }
        }
    }
    assert_eq!(f16::F16_MAX, to_f32(0x7bff));
}

const OPS: [Op; 2] = [Op::Dot, Op::L2sq];

fn kernels() -> Vec<Kernel> {
    let all = Kernel::supported();
    for k in Kernel::ALL {
        if !all.contains(&k) {
            eprintln!("kernel {} not supported on this CPU: skipped", k.name());
        }
    }
    all
}

/// `scores_f16` and `scores_tile_f16` equal `scores` and `scores_tile` of the widened rows bit
/// for bit, and tiles equal single scores.
fn check_same_bits(kernel: Kernel, d: usize, nq: usize, data16: &[u16], queries: &[f32]) {
    let rows16: Vec<&[u16]> = data16.chunks_exact(d.max(1)).map(|r| &r[..d]).collect();
    let rows16 = if d == 0 { vec![&data16[..0]; 5] } else { rows16 };
    let data32 = wide(data16);
    let rows32: Vec<&[f32]> = (0..rows16.len()).map(|i| &data32[i * d..(i + 1) * d]).collect();
    let qs: Vec<&[f32]> = (0..nq).map(|i| &queries[i * d..(i + 1) * d]).collect();
    let nr = rows16.len();
    for op in OPS {
        let name = kernel.name();
        let mut t16 = vec![f32::NAN; nq * nr];
        let mut t32 = vec![f32::NAN; nq * nr];
        kernel.scores_tile_f16(op, &qs, &rows16, &mut t16);
        kernel.scores_tile(op, &qs, &rows32, &mut t32);
        assert_eq!(bits(&t16), bits(&t32), "{name} {op:?} d={d} tile {nq}x{nr}");
        let mut w16 = vec![f32::NAN; nq * nr];
        kernel.scores_tile_f16_widened(op, &qs, &rows16, &mut w16);
        assert_eq!(bits(&w16), bits(&t32), "{name} {op:?} d={d} widened tile {nq}x{nr}");
        for (q, query) in qs.iter().enumerate() {
            let mut s16 = vec![f32::NAN; nr];
            let mut s32 = vec![f32::NAN; nr];
            kernel.scores_f16(op, query, &rows16, &mut s16);
            kernel.scores(op, query, &rows32, &mut s32);
            assert_eq!(bits(&s16), bits(&s32), "{name} {op:?} d={d} n={nr} query {q}");
            assert_eq!(bits(&s16), bits(&t16[q * nr..][..nr]), "{name} {op:?} d={d} tile row {q}");
            let mut w = vec![f32::NAN; nr];
            kernel.scores_f16_widened(op, query, &rows16, &mut w);
            assert_eq!(bits(&w), bits(&s32), "{name} {op:?} d={d} widened");
        }
    }
}

#[test]
fn f16_rows_score_as_their_widened_f32_rows_for_widths_0_to_70() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for kernel in kernels() {
        for d in 0..=70 {
            for (nq, nr) in [(1, 1), (1, 9), (2, 17), (4, 3), (5, 13), (9, 25)] {
                let data = rng.row16(nr * d);
                let queries = rng.vec(nq * d);
                check_same_bits(kernel, d, nq, &data, &queries);
            }
        }
    }
}

#[test]
fn f16_rows_score_as_their_widened_f32_rows_for_long_rows() {
    let mut rng = Rng(0x384);
    for kernel in kernels() {
        for d in [384, 1536, 3072, 3071] {
            for (nq, nr) in [(1, 19), (5, 7)] {
                let data = rng.row16(nr * d);
                let queries = rng.vec(nq * d);
                check_same_bits(kernel, d, nq, &data, &queries);
            }
        }
    }
}

#[test]
fn f16_rows_match_the_portable_reference_closely() {
    // The f32 kernels are tested against the reference in tests.rs; this checks the float16
    // path is wired to the same values (e.g. no row or lane mixed up).
    let mut rng = Rng(21);
    for kernel in kernels() {
        for d in [1, 5, 16, 33, 70, 384] {
            let data = rng.row16(13 * d);
            let rows: Vec<&[u16]> = data.chunks_exact(d).collect();
            let q = rng.vec(d);
            for op in OPS {
                let mut got = vec![0.0; rows.len()];
                let mut want = vec![0.0; rows.len()];
                kernel.scores_f16(op, &q, &rows, &mut got);
                portable::scores_f16(op, &q, &rows, &mut want);
                for (i, r) in rows.iter().enumerate() {
                    let mag: f64 = q
                        .iter()
                        .zip(wide(r))
                        .map(|(&x, y)| match op {
                            Op::Dot => (x as f64 * y as f64).abs(),
                            Op::L2sq => (x as f64 - y as f64).powi(2),
                        })
                        .sum();
                    let diff = (got[i] as f64 - want[i] as f64).abs();
                    assert!(diff <= 1e-5 * mag.max(1e-30), "{} {op:?} d={d} row {i}", kernel.name());
                }
            }
        }
    }
}

#[test]
fn equal_f16_rows_score_equally_at_every_position() {
    let mut rng = Rng(99);
    for kernel in kernels() {
        for d in [5, 8, 23, 64, 67] {
            let q = rng.vec(d);
            let row = rng.row16(d);
            let data: Vec<u16> = (0..29).flat_map(|_| row.iter().copied()).collect();
            let rows: Vec<&[u16]> = data.chunks_exact(d).collect();
            let queries = vec![&q[..]; 7];
            for op in OPS {
                let mut out = vec![0.0; rows.len()];
                kernel.scores_f16(op, &q, &rows, &mut out);
                let mut tile = vec![0.0; rows.len() * queries.len()];
                kernel.scores_tile_f16(op, &queries, &rows, &mut tile);
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
fn unaligned_f16_rows_and_rows_that_end_their_allocation() {
    let mut rng = Rng(5);
    for kernel in kernels() {
        for d in [1, 3, 7, 9, 15, 17, 31, 70] {
            // Each row its own allocation of exactly d values: a partial load must not read
            // past it. One row starts one u16 into its allocation (unaligned for wider loads).
            let mut owned: Vec<Vec<u16>> = (0..11).map(|_| rng.row16(d)).collect();
            owned.push(rng.row16(d + 1));
            let rows: Vec<&[u16]> =
                owned.iter().map(|r| if r.len() > d { &r[1..] } else { &r[..] }).collect();
            let q = rng.vec(d);
            for op in OPS {
                let mut got = vec![0.0; rows.len()];
                kernel.scores_f16(op, &q, &rows, &mut got);
                for (i, r) in rows.iter().enumerate() {
                    let mut one = [0.0];
                    kernel.scores(op, &q, &[&wide(r)[..]], &mut one);
                    assert_eq!(got[i].to_bits(), one[0].to_bits(), "{} d={d} row {i}", kernel.name());
                }
            }
        }
    }
}

#[test]
fn more_f16_queries_and_rows_than_one_pointer_chunk() {
    let mut rng = Rng(11);
    let d = 9;
    for kernel in kernels() {
        for (nq, nr) in [(3, CHUNK * 2 + 5), (CHUNK + 3, 4)] {
            let qd = rng.vec(nq * d);
            check_same_bits(kernel, d, nq, &rng.row16(nr * d), &qd);
        }
    }
}

#[test]
fn infinities_and_nans_in_f16_rows_give_numbers_not_crashes() {
    // An unverified mapped file may hold any pattern: the values are meaningless but every
    // path computes them the same way (NaN payloads aside).
    let specials = [0x7c00u16, 0xfc00, 0x7e00, 0x7c01, 0xfe55, 0x0001, 0x8001, 0x03ff, 0x7bff, 0xfbff];
    let mut rng = Rng(3);
    for kernel in kernels() {
        for d in [1, 4, 9, 16, 17, 40] {
            let mut data = rng.row16(6 * d);
            for (i, v) in data.iter_mut().enumerate() {
                if i % 3 == 0 {
                    *v = specials[(i / 3) % specials.len()];
                }
            }
            let rows16: Vec<&[u16]> = data.chunks_exact(d).collect();
            let data32 = wide(&data);
            let rows32: Vec<&[f32]> = data32.chunks_exact(d).collect();
            let q = rng.vec(d);
            for op in OPS {
                let mut a = vec![0.0; rows16.len()];
                let mut b = vec![0.0; rows16.len()];
                kernel.scores_f16(op, &q, &rows16, &mut a);
                kernel.scores(op, &q, &rows32, &mut b);
                for (x, y) in a.iter().zip(&b) {
                    assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()), "{}", kernel.name());
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "as wide as the query")]
fn an_f16_row_of_the_wrong_width_is_rejected() {
    let q = [1.0f32, 2.0];
    let rows: [&[u16]; 1] = [&[0, 0, 0]];
    Kernel::active().scores_f16(Op::Dot, &q, &rows, &mut [0.0]);
}
