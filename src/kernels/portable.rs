//! Portable kernels: plain Rust with several independent accumulators so the compiler can
//! vectorize the reduction on any target (SSE2, NEON, ...). This is the reference that every
//! target-specific kernel is tested against.
//!
//! Float16 rows go through the same code, each value widened exactly ([`super::f16::to_f32`])
//! where it is read, so they score what their widened float32 copies score, bit for bit.

const LANES: usize = 16;

/// A row element: its f32 value (exact).
trait Value: Copy {
    fn value(self) -> f32;
}

impl Value for f32 {
    #[inline(always)]
    fn value(self) -> f32 {
        self
    }
}

/// Float16 bit patterns.
impl Value for u16 {
    #[inline(always)]
    fn value(self) -> f32 {
        super::f16::to_f32(self)
    }
}

#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    sum_f32(a, b, |x, y| x * y)
}

#[inline]
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    sum_f32(a, b, |x, y| {
        let d = x - y;
        d * d
    })
}

/// [`dot`] of `a` and the float16 row `b`, widened exactly.
#[inline]
pub fn dot_f16(a: &[f32], b: &[u16]) -> f32 {
    sum_f32(a, b, |x, y| x * y)
}

/// [`l2sq`] of `a` and the float16 row `b`, widened exactly.
#[inline]
pub fn l2sq_f16(a: &[f32], b: &[u16]) -> f32 {
    sum_f32(a, b, |x, y| {
        let d = x - y;
        d * d
    })
}

/// `LANES` independent f32 accumulators (so the compiler vectorizes them), a tail chain, and
/// a pairwise reduction in a fixed order.
#[inline(always)]
fn sum_f32<T: Value>(a: &[f32], b: &[T], term: impl Fn(f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] += term(x[i], y[i].value());
        }
    }
    let full = n - n % LANES;
    let mut tail = 0.0f32;
    for (&x, &y) in a[full..].iter().zip(&b[full..]) {
        tail += term(x, y.value());
    }
    reduce(&acc) + tail
}

#[inline]
fn reduce(acc: &[f32; LANES]) -> f32 {
    // Pairwise: keeps the rounding error of long rows low and the order fixed.
    let mut v = *acc;
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            v[i] += v[i + width];
        }
        width /= 2;
    }
    v[0]
}

/// `op` of `query` with each row (the reference for [`super::Kernel::scores`]).
pub fn scores(op: super::Op, query: &[f32], rows: &[&[f32]], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(rows) {
        *o = match op {
            super::Op::Dot => dot(query, row),
            super::Op::L2sq => l2sq(query, row),
        };
    }
}

/// `op` of every query with every row into `out[q * rows.len() + r]`.
pub fn scores_tile(op: super::Op, queries: &[&[f32]], rows: &[&[f32]], out: &mut [f32]) {
    if rows.is_empty() {
        return;
    }
    for (q, o) in queries.iter().zip(out.chunks_exact_mut(rows.len())) {
        scores(op, q, rows, o);
    }
}

/// [`scores`] over float16 rows (the reference for [`super::Kernel::scores_f16`]).
pub fn scores_f16(op: super::Op, query: &[f32], rows: &[&[u16]], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(rows) {
        *o = match op {
            super::Op::Dot => dot_f16(query, row),
            super::Op::L2sq => l2sq_f16(query, row),
        };
    }
}

/// [`scores_tile`] over float16 rows.
pub fn scores_tile_f16(op: super::Op, queries: &[&[f32]], rows: &[&[u16]], out: &mut [f32]) {
    if rows.is_empty() {
        return;
    }
    for (q, o) in queries.iter().zip(out.chunks_exact_mut(rows.len())) {
        scores_f16(op, q, rows, o);
    }
}

/// f64 accumulators for the f64 reductions below: independent chains so they run at vector
/// speed, combined in a fixed order so the result never depends on the CPU.
const F64_LANES: usize = 8;

#[inline(always)]
fn sum_f64<'a>(a: &'a [f32], b: &'a [f32], term: impl Fn(f32, f32) -> f64) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; F64_LANES];
    // Whole chunks without index arithmetic, so the compiler vectorizes the lanes.
    for (x, y) in a.chunks_exact(F64_LANES).zip(b.chunks_exact(F64_LANES)) {
        for l in 0..F64_LANES {
            acc[l] += term(x[l], y[l]);
        }
    }
    let full = n - n % F64_LANES;
    let mut tail = 0.0;
    for (&x, &y) in a[full..].iter().zip(&b[full..]) {
        tail += term(x, y);
    }
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    (((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))) + tail
}

/// Squared norm accumulated in f64, so finite rows of any magnitude never overflow. Each square
/// of an f32 is exact in f64, so only the (fixed) summation order rounds: eight lanes of at
/// most `len / 8` terms, a tail chain of at most 7, four more additions, all terms
/// non-negative, so the relative error is below `(len / 8 + 8) * 2^-53`. Its square root is
/// what raw stores cache as a row's norm, well within the
/// [`norm_hint_tolerance`](super::norm_hint_tolerance) that
/// [`Kernel::cosines_exact`](super::Kernel::cosines_exact) allows.
///
/// The one definition: the instruction-set arms compile this same source with their features
/// enabled, and the operation order is fixed by the source, so every arm gives the same bits.
#[inline(always)]
pub fn norm_sq_f64(a: &[f32]) -> f64 {
    sum_f64(a, a, |x, _| x as f64 * x as f64)
}

/// `row[i] = (row[i] * inv) rounded to f32`, the product taken in f64: scales a row to unit
/// length in place when `inv` is the reciprocal of its f64 norm (one definition, as
/// [`norm_sq_f64`]).
#[inline(always)]
pub fn scale_f64(row: &mut [f32], inv: f64) {
    for x in row {
        *x = (*x as f64 * inv) as f32;
    }
}

/// [`super::Kernel::screen`]: one chain per (row, query) pair over the values in order, the
/// panel's queries side by side so the compiler vectorizes across them.
pub fn screen(panel: &[f32], width: usize, rows: &[&[f32]], out: &mut [f32]) {
    for (row, out) in rows.iter().zip(out.chunks_exact_mut(width)) {
        out.fill(0.0);
        for (&x, values) in row.iter().zip(panel.chunks_exact(width)) {
            for (o, &q) in out.iter_mut().zip(values) {
                *o += q * x;
            }
        }
    }
}
