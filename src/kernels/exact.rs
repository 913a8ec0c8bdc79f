//! Correctly rounded values from float32 data: the values of raw (non-normalized) stores.
//!
//! Every value here is the exact real number rounded once, to nearest with ties to even:
//! a dot product or euclidean distance to f64, a cosine to f32, a norm to f64. The exact
//! value depends only on the f32 inputs, so every kernel path gives the same bits.
//!
//! Two tiers. The fast tier sums in f64 with error-free transformations: the product of two
//! f32 is exact in f64, each addition's rounding error is recovered exactly (TwoSum) and
//! summed on the side, as in Ogita, Rump and Oishi's Sum2/Dot2; for a distance, each
//! difference is split into its rounded f64 value and its exact error (TwoSum), and each
//! square into its rounded value and its exact error (TwoProduct, with an FMA or Dekker's
//! splitting). The result is a bracket: `hi + lo` with a rigorous bound `err` on the distance
//! to the exact value. When the bracket cannot reach a rounding boundary, `hi` (or the
//! rounded square root, checked against the two neighbouring midpoints) is the correctly
//! rounded value. Otherwise (an exact value within about 2^-100, relative, of a rounding
//! boundary; an exact tie the bracket cannot see is one; or a dot product whose terms cancel
//! by more than about 2^90) the exact tier sums the products in a wide fixed-point
//! accumulator ([`Exact`]) and decides by exact comparisons. Both tiers give the same value;
//! the fast one just proves it cheaply, and decides nearly every row.
//!
//! Raw cosine is the reference's `f32(dot / norm)` with the query already normalized to f32:
//! the quotient of the correctly rounded dot by the row's cached norm is checked against the
//! f32 rounding boundaries with the norm's error bound; if a boundary is too close, the exact
//! cosine is compared with it through integers (dot^2 against boundary^2 * norm^2).

use std::cmp::Ordering;

/// Unit roundoff of f64 (2^-53).
const U: f64 = f64::EPSILON / 2.0;
/// Whether `f64::mul_add` is an instruction on the baseline target (aarch64 always has FMA; an
/// x86-64 build without it would call a slow software fma, so Dekker's product is used there).
pub(crate) const BASELINE_FMA: bool = cfg!(any(target_arch = "aarch64", target_feature = "fma"));

/// The relative error allowed in the norms passed to [`cosine`]: `(len + 20) * 2^-53`. The
/// store caches `sqrt(norm_sq_f64(row))`, whose error is far below this (see `norm_sq_f64`).
pub fn norm_hint_tolerance(len: usize) -> f64 {
    (len as f64 + 20.0) * U
}

/// `a + b` and its exact rounding error (Knuth's TwoSum: no condition on the operands).
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// An f64 approximation of an exact value `T` with a rigorous bound: `hi = fl(hi + lo)` and
/// `|T - (hi + lo)| <= err` (so with `err == 0`, `hi` is `T` correctly rounded).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bracket {
    hi: f64,
    lo: f64,
    err: f64,
}

/// Half the distance from `x` (finite, non-zero) to its nearer neighbour.
#[inline]
fn half_gap(x: f64) -> f64 {
    let a = x.abs();
    (a.next_up() - a).min(a - a.next_down()) * 0.5
}

impl Bracket {
    /// The bracket of `a + b + c` within `err`.
    #[inline(always)]
    fn new(a: f64, b: f64, c: f64, err: f64) -> Bracket {
        let (x, y) = two_sum(b, c);
        let (hi, r) = two_sum(a, x);
        let (lo, z) = two_sum(r, y);
        let (hi, lo) = two_sum(hi, lo);
        // Exact so far but for z: with err and z zero, hi + lo is T itself.
        Bracket { hi, lo, err: err + z.abs() }
    }

    /// The correctly rounded `T`, if the bracket proves it.
    #[inline(always)]
    fn round(self) -> Option<f64> {
        if self.err == 0.0 {
            // No error anywhere: hi + lo is T, and hi its rounding.
            return Some(self.hi + 0.0);
        }
        if self.hi == 0.0 {
            return None;
        }
        // T lies within |lo| + err of hi; fine if that stays inside the rounding interval. The
        // subtraction is exact or rounds by at most 2^-53 relative, which the factor 2 covers.
        (half_gap(self.hi) - self.lo.abs() > 2.0 * self.err).then_some(self.hi)
    }

    /// The correctly rounded `sqrt(T)` (T >= 0), if the bracket proves it. (Inlined, so the
    /// fused multiply-add is an instruction wherever the caller has one.)
    #[inline(always)]
    fn sqrt(self) -> Option<f64> {
        let Bracket { hi, lo, err } = self;
        if err == 0.0 && hi == 0.0 {
            return Some(0.0);
        }
        // A bracket far tighter than one ulp of hi keeps sqrt(T) within one step of q below.
        if hi <= 0.0 || err > hi * 2f64.powi(-60) {
            return None;
        }
        let q = hi.sqrt();
        let (gu, gd) = (q.next_up() - q, q - q.next_down());
        // T - m^2 for the midpoints m = q + gu/2 and q - gd/2, as
        // (hi - q^2) + lo - q*gu - gu^2/4 (resp. + q*gd - gd^2/4) up to T's own error. q^2 is
        // split exactly (p + pe); hi - p is exact (Sterbenz); q*g and g^2/4 are exact powers of
        // two times q. Four roundings remain, each at most 2^-53 of the terms' magnitude.
        let p = q * q;
        let pe = q.mul_add(q, -p);
        let d0 = ((hi - p) - pe) + lo;
        let up = (d0 - q * gu) - 0.25 * (gu * gu);
        let down = (d0 + q * gd) - 0.25 * (gd * gd);
        let slack = 1.01 * (5.0 * U * ((hi - p).abs() + pe.abs() + lo.abs() + q * gu + gu * gu) + err);
        if up > slack {
            return Some(q.next_up());
        }
        if up >= -slack {
            return None;
        }
        if down > slack {
            Some(q)
        } else if down < -slack {
            Some(q.next_down())
        } else {
            None
        }
    }
}

/// A vector register of f64 lanes, as the fast tier needs it. Implemented per instruction set
/// (`x86.rs`, `neon.rs`) and here for the portable path ([`Pair`]).
///
/// # Safety
/// Every method is that instruction set's intrinsics: it may only run on a CPU that has the
/// features the implementing type names ("the CPU supports `V`" in the functions below;
/// [`Pair`] runs anywhere). The pointer methods state what they access on top of that.
pub(crate) trait F64s: Copy {
    const WIDTH: usize;
    /// Whether [`F64s::mul_add`] is a fused instruction (else it is never called).
    const FMA: bool;
    /// All lanes zero.
    ///
    /// # Safety
    /// The CPU has the implementation's features (see the trait).
    unsafe fn zero() -> Self;
    /// `x` in every lane.
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    unsafe fn splat(x: f64) -> Self;
    /// `WIDTH` f32 from `p`, widened.
    ///
    /// # Safety
    /// `p` is aligned for f32 and valid for reading `WIDTH` of them (as a pointer into an
    /// `&[f32]` is); the CPU has the implementation's features.
    unsafe fn load(p: *const f32) -> Self;
    /// `n < WIDTH` f32 from `p`, widened, the other lanes zero; never reads past `p + n`.
    ///
    /// # Safety
    /// `n < WIDTH`, and `p` is aligned for f32 and valid for reading `n` of them; the CPU has
    /// the implementation's features.
    unsafe fn load_partial(p: *const f32, n: usize) -> Self;
    /// `self + b`.
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    unsafe fn add(self, b: Self) -> Self;
    /// `self - b`.
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    unsafe fn sub(self, b: Self) -> Self;
    /// `self * b`.
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    unsafe fn mul(self, b: Self) -> Self;
    /// `self * b + c` with one rounding.
    ///
    /// # Safety
    /// The CPU has the implementation's features, and [`F64s::FMA`] is true.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    /// `|self|`.
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    unsafe fn abs(self) -> Self;
    /// Store the `WIDTH` lanes to `out`.
    ///
    /// # Safety
    /// `out` is aligned for f64 and valid for writing `WIDTH` of them; the CPU has the
    /// implementation's features.
    unsafe fn store(self, out: *mut f64);
}

/// Two f64 lanes in plain Rust: the portable path (the compiler maps them to SSE2 or NEON).
#[derive(Clone, Copy)]
pub(crate) struct Pair([f64; 2]);

impl Pair {
    #[inline(always)]
    fn map2(self, b: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        Pair([f(self.0[0], b.0[0]), f(self.0[1], b.0[1])])
    }
}

impl F64s for Pair {
    const WIDTH: usize = 2;
    const FMA: bool = BASELINE_FMA;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Pair([0.0; 2])
    }
    #[inline(always)]
    unsafe fn splat(x: f64) -> Self {
        Pair([x; 2])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees `p` is aligned and valid for reading 2 f32 (# Safety
        // of `F64s::load`).
        unsafe { Pair([*p as f64, *p.add(1) as f64]) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        debug_assert!(n < 2);
        // SAFETY: `p` is read only when `n` is 1, and then the caller guarantees it is aligned
        // and valid for one f32 (# Safety of `F64s::load_partial`).
        Pair([if n > 0 { unsafe { *p as f64 } } else { 0.0 }, 0.0])
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        self.map2(b, |x, y| x + y)
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        self.map2(b, |x, y| x - y)
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        self.map2(b, |x, y| x * y)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Pair([self.0[0].mul_add(b.0[0], c.0[0]), self.0[1].mul_add(b.0[1], c.0[1])])
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        Pair([self.0[0].abs(), self.0[1].abs()])
    }
    #[inline(always)]
    unsafe fn store(self, out: *mut f64) {
        // SAFETY: the caller guarantees `out` is aligned and valid for writing 2 f64 (# Safety
        // of `F64s::store`).
        unsafe {
            *out = self.0[0];
            *out.add(1) = self.0[1];
        }
    }
}

/// [`two_sum`] in each lane.
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn two_sum_v<V: F64s>(a: V, b: V) -> (V, V) {
    // SAFETY: the caller guarantees the CPU supports `V` (# Safety above).
    unsafe {
        let s = a.add(b);
        let bb = s.sub(a);
        (s, a.sub(s.sub(bb)).add(b.sub(bb)))
    }
}

/// The exact error `a * a - p` of `p = fl(a * a)` in each lane.
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn square_err_v<V: F64s>(a: V, p: V) -> V {
    // SAFETY: the caller guarantees the CPU supports `V` (# Safety above); `mul_add` is
    // called only when `V::FMA`.
    unsafe {
        if V::FMA {
            a.mul_add(a, V::zero().sub(p))
        } else {
            // Dekker: a = hi + lo with 26-bit halves, so every partial product is exact.
            let c = V::splat(134_217_729.0).mul(a);
            let hi = c.sub(c.sub(a));
            let lo = a.sub(hi);
            hi.mul(hi).sub(p).add(hi.add(hi).mul(lo)).add(lo.mul(lo))
        }
    }
}

/// Independent register chains per call. The loops work for any count; `MAX_LANES` has room
/// for two chains of the widest register.
const CHAINS: usize = 1;
/// Room for the lanes of up to two chains of the widest register (2 x 8 f64 lanes).
const MAX_LANES: usize = 16;

/// A fast-tier accumulator: `CHAINS` register chains, fed one register of each input at a
/// time. (A trait rather than a closure: closures do not inherit `#[target_feature]`, and
/// the intrinsics must inline into the instruction-set entry points.)
trait Accumulate<V: F64s> {
    /// Add one register of each input to chain `chain`.
    ///
    /// # Safety
    /// The CPU supports `V`.
    unsafe fn step(&mut self, chain: usize, x: V, y: V);
}

/// Walk `n` elements of `a` and `b` in register-wide steps, `CHAINS` registers per step, the
/// last partial step zero-padded. Returns the most elements one lane saw.
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn walk<V: F64s>(a: &[f32], b: &[f32], acc: &mut impl Accumulate<V>) -> usize {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let w = V::WIDTH;
    let mut i = 0;
    // SAFETY: the caller guarantees the CPU supports `V` (# Safety above). Both slices hold at
    // least `n` f32: the full loads read `[i, i + w)` with `i + w <= n`, the partial ones
    // `n - i < w` f32 from `i`; the pointers come from slices, so they are aligned.
    unsafe {
        while i + CHAINS * w <= n {
            for k in 0..CHAINS {
                acc.step(k, V::load(pa.add(i + k * w)), V::load(pb.add(i + k * w)));
            }
            i += CHAINS * w;
        }
        let mut k = 0;
        while i + w <= n {
            acc.step(k, V::load(pa.add(i)), V::load(pb.add(i)));
            i += w;
            k += 1;
        }
        if i < n {
            acc.step(k, V::load_partial(pa.add(i), n - i), V::load_partial(pb.add(i), n - i));
        }
    }
    n.div_ceil(CHAINS * w)
}

struct DotAcc<V> {
    s: [V; CHAINS],
    c: [V; CHAINS],
    c2: [V; CHAINS],
    m: [V; CHAINS],
}

impl<V: F64s> Accumulate<V> for DotAcc<V> {
    #[inline(always)]
    unsafe fn step(&mut self, k: usize, x: V, y: V) {
        // SAFETY: the caller guarantees the CPU supports `V` (# Safety of `Accumulate::step`).
        unsafe {
            let (t, e) = two_sum_v(self.s[k], x.mul(y));
            self.s[k] = t;
            let (t, e2) = two_sum_v(self.c[k], e);
            self.c[k] = t;
            self.c2[k] = self.c2[k].add(e2);
            self.m[k] = self.m[k].add(e2.abs());
        }
    }
}

struct L2Acc<V, const DIFF: bool> {
    s: [V; CHAINS],
    c: [V; CHAINS],
}

impl<V: F64s, const DIFF: bool> Accumulate<V> for L2Acc<V, DIFF> {
    #[inline(always)]
    unsafe fn step(&mut self, k: usize, x: V, y: V) {
        // SAFETY: the caller guarantees the CPU supports `V` (# Safety of `Accumulate::step`);
        // `mul_add` is called only when `V::FMA`.
        unsafe {
            let (dh, dl) = if DIFF {
                let dh = x.sub(y);
                let bb = dh.sub(x);
                (dh, x.sub(dh.sub(bb)).add(V::zero().sub(y).sub(bb)))
            } else {
                (x, V::zero())
            };
            let p = dh.mul(dh);
            // The square of an f32 is exact in f64: only a difference needs TwoProduct.
            let pe = if DIFF { square_err_v(dh, p) } else { V::zero() };
            let (t, e) = two_sum_v(self.s[k], p);
            self.s[k] = t;
            let mut acc = self.c[k].add(e).add(pe);
            if DIFF {
                let w = dh.add(dh).add(dl);
                acc = if V::FMA { dl.mul_add(w, acc) } else { acc.add(dl.mul(w)) };
            }
            self.c[k] = acc;
        }
    }
}

/// Store the lanes of every chain to one array (chain-major); returns the lane count.
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn lanes<V: F64s>(regs: &[V; CHAINS], out: &mut [f64; MAX_LANES]) -> usize {
    const { assert!(CHAINS * V::WIDTH <= MAX_LANES) };
    for (k, r) in regs.iter().enumerate() {
        // SAFETY: chain `k < CHAINS` stores `WIDTH` f64 at `k * WIDTH`, inside `out` as
        // `CHAINS * WIDTH <= MAX_LANES` (asserted at compile time); the caller guarantees the
        // CPU supports `V` (# Safety above).
        unsafe { r.store(out.as_mut_ptr().add(k * V::WIDTH)) };
    }
    CHAINS * V::WIDTH
}

/// Dot product of two f32 slices of equal length as a [`Bracket`].
///
/// Each product is exact in f64. TwoSum adds it to its lane and yields the rounding error
/// exactly; the errors are summed the same way (TwoSum again), and only the errors of that
/// second sum are summed plainly, with their magnitudes on the side. So the bound is second
/// order (about 2^-106 of the terms, times the chain length: the terms per lane plus three
/// per lane while lanes combine), and it is exactly zero whenever the first-level errors sum
/// exactly, as they do for data on a coarse grid (where exact values often fall on a rounding
/// midpoint).
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn dot_bracket<V: F64s>(a: &[f32], b: &[f32]) -> Bracket {
    // SAFETY: the caller guarantees the CPU supports `V` (# Safety above), all that `V::zero`,
    // `walk` and `lanes` ask.
    let z = unsafe { [V::zero(); CHAINS] };
    let mut acc = DotAcc { s: z, c: z, c2: z, m: z };
    // SAFETY: as above.
    let per_lane = unsafe { walk::<V>(a, b, &mut acc) };
    let mut buf = [[0.0f64; MAX_LANES]; 4];
    // SAFETY: as above.
    let l = unsafe {
        let l = lanes(&acc.s, &mut buf[0]);
        lanes(&acc.c, &mut buf[1]);
        lanes(&acc.c2, &mut buf[2]);
        lanes(&acc.m, &mut buf[3]);
        l
    };
    let [s, c, c2, m] = &buf;
    let (mut hi, mut lo, mut lo2, mut mag) = (s[0], 0.0, 0.0, 0.0);
    let mut add_lo = |lo: &mut f64, e: f64| {
        let (t, e2) = two_sum(*lo, e);
        *lo = t;
        lo2 += e2;
        mag += e2.abs();
    };
    for &x in &s[1..l] {
        let (t, e) = two_sum(hi, x);
        hi = t;
        add_lo(&mut lo, e);
    }
    for &x in &c[..l] {
        add_lo(&mut lo, x);
    }
    for (&x, &y) in c2[..l].iter().zip(&m[..l]) {
        lo2 += x;
        mag += y;
    }
    let depth = per_lane + 3 * l + 2;
    Bracket::new(hi, lo, lo2, mag * (1.1 * depth as f64 * U))
}

/// Squared euclidean distance (`DIFF`) or squared norm of `a` (`!DIFF`, `b` unused) as a
/// [`Bracket`].
///
/// Per element: `x - y = dh + dl` exactly (TwoSum), `dh^2 = p + pe` exactly (TwoProduct), and
/// `(x - y)^2 = p + pe + dl * (2 dh + dl)`. `p` goes through TwoSum into its lane; `e`, `pe`
/// and the `dl` term (nearly always zero) into the error accumulator. All `p` are
/// non-negative, so every lane sum only grows and bounds its own errors: with `W` the sum of
/// the `L` lane sums and `N` the terms per lane, the error terms total at most
/// `(N + L + 5) * 2^-53 * W` and are summed in chains of at most `3N + 2L` additions.
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn l2sq_bracket<V: F64s, const DIFF: bool>(a: &[f32], b: &[f32]) -> Bracket {
    let b = if DIFF { b } else { a };
    // SAFETY: the caller guarantees the CPU supports `V` (# Safety above), all that `V::zero`,
    // `walk` and `lanes` ask.
    let z = unsafe { [V::zero(); CHAINS] };
    let mut acc = L2Acc::<V, DIFF> { s: z, c: z };
    // SAFETY: as above.
    let per_lane = unsafe { walk::<V>(a, b, &mut acc) };
    let mut buf = [[0.0f64; MAX_LANES]; 2];
    // SAFETY: as above.
    let l = unsafe {
        let l = lanes(&acc.s, &mut buf[0]);
        lanes(&acc.c, &mut buf[1]);
        l
    };
    let [s, c] = &buf;
    let w: f64 = s[..l].iter().sum();
    let (mut hi, mut lo) = (s[0], 0.0);
    for &x in &s[1..l] {
        let (t, e) = two_sum(hi, x);
        hi = t;
        lo += e;
    }
    for &x in &c[..l] {
        lo += x;
    }
    let (n, l) = (per_lane as f64, l as f64);
    let err = w * (1.1 * U * U * ((3.0 * n + 2.0 * l + 1.0) * (n + l + 5.0)));
    Bracket::new(hi, lo, 0.0, err)
}

/// The correctly rounded dot product of `a` and `b` (equal lengths).
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn dot<V: F64s>(a: &[f32], b: &[f32]) -> f64 {
    // SAFETY: the caller guarantees the CPU supports `V` (# Safety above).
    unsafe { dot_bracket::<V>(a, b) }.round().unwrap_or_else(|| dot_exact(a, b))
}

/// The correctly rounded euclidean distance between `a` and `b` (equal lengths).
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn distance<V: F64s>(a: &[f32], b: &[f32]) -> f64 {
    // SAFETY: the caller guarantees the CPU supports `V` (# Safety above).
    unsafe { l2sq_bracket::<V, true>(a, b) }.sqrt().unwrap_or_else(|| distance_exact(a, b))
}

/// The correctly rounded euclidean norm of `a`.
pub fn norm(a: &[f32]) -> f64 {
    // SAFETY: the portable lanes run anywhere.
    let fast = unsafe { l2sq_bracket::<Pair, false>(a, a) };
    fast.sqrt().unwrap_or_else(|| {
        let mut t = Exact::new();
        for &x in a {
            t.add_product(x, x, 1);
        }
        t.sqrt()
    })
}

/// The correctly rounded f32 cosine `dot(q, row) / |row|`, given `dot`, the correctly rounded
/// dot product, and `norm`, the row's norm within [`norm_hint_tolerance`] (relative).
#[inline(always)]
pub(crate) fn cosine(q: &[f32], row: &[f32], dot: f64, norm: f64) -> f32 {
    cosine_fast(dot, norm, q.len()).unwrap_or_else(|| cosine_exact(q, row, (dot / norm) as f32))
}

/// [`dot`] of `q` with each row (the body of every kernel's `dots_exact`).
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn dots<V: F64s>(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    for (o, r) in out.iter_mut().zip(rows) {
        // SAFETY: the caller guarantees the CPU supports `V` (# Safety above).
        *o = unsafe { dot::<V>(q, r) };
    }
}

/// [`distance`] of `q` to each row.
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn distances<V: F64s>(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    for (o, r) in out.iter_mut().zip(rows) {
        // SAFETY: the caller guarantees the CPU supports `V` (# Safety above).
        *o = unsafe { distance::<V>(q, r) };
    }
}

/// [`cosine`] of `q` with each row, given the rows' norms.
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn cosines<V: F64s>(q: &[f32], rows: &[&[f32]], norms: &[f64], out: &mut [f32]) {
    for ((o, r), &norm) in out.iter_mut().zip(rows).zip(norms) {
        // SAFETY: the caller guarantees the CPU supports `V` (# Safety above).
        *o = cosine(q, r, unsafe { dot::<V>(q, r) }, norm);
    }
}

/// `f32(dot / norm)` when the error bounds prove it is the correctly rounded cosine.
#[inline]
fn cosine_fast(dot: f64, norm: f64, len: usize) -> Option<f32> {
    // dot: 2^-53 relative; norm: the tolerance; the division: 2^-53.
    let quotient = dot / norm;
    let c = quotient as f32;
    let tol = quotient.abs() * (1.01 * (norm_hint_tolerance(len) + 4.0 * U));
    let cf = c as f64;
    let up = (cf + c.next_up() as f64) * 0.5;
    let down = (cf + c.next_down() as f64) * 0.5;
    (up - quotient > 2.0 * tol && quotient - down > 2.0 * tol).then_some(c)
}

#[cold]
#[inline(never)]
fn dot_exact(a: &[f32], b: &[f32]) -> f64 {
    let mut t = Exact::new();
    for (&x, &y) in a.iter().zip(b) {
        t.add_product(x, y, 1);
    }
    t.to_f64()
}

#[cold]
#[inline(never)]
fn distance_exact(a: &[f32], b: &[f32]) -> f64 {
    // (x - y)^2 = x*x - 2*x*y + y*y, each product exact.
    let mut t = Exact::new();
    for (&x, &y) in a.iter().zip(b) {
        t.add_product(x, x, 1);
        t.add_product(x, y, -2);
        t.add_product(y, y, 1);
    }
    t.sqrt()
}

/// The correctly rounded f32 of `dot(q, row) / sqrt(sum row^2)`, starting from `guess`
/// (within a few f32 steps of it).
#[cold]
#[inline(never)]
fn cosine_exact(q: &[f32], row: &[f32], guess: f32) -> f32 {
    let mut dot = Exact::new();
    let mut sq = Exact::new();
    for (&x, &y) in q.iter().zip(row) {
        dot.add_product(x, y, 1);
        sq.add_product(y, y, 1);
    }
    let (sign, dot_mag) = dot.sign_magnitude();
    if sign == Ordering::Equal {
        return 0.0;
    }
    let dot_sq = dot_mag.mul(&dot_mag);
    let (sq_sign, sq) = sq.sign_magnitude();
    if sq_sign == Ordering::Equal {
        // A zero row has no cosine (searches reject it before getting here).
        return f32::NAN;
    }
    // Where the cosine lies relative to an f64 value mu.
    let compare = |mu: f64| -> Ordering {
        let mu_sign = mu.partial_cmp(&0.0).unwrap_or(Ordering::Equal);
        if mu_sign != sign {
            return sign.cmp(&mu_sign);
        }
        // Same sign: compare |dot| / |row| with |mu|, i.e. dot^2 with mu^2 * sum row^2.
        let (m, e) = f64_parts(mu.abs());
        let m2 = Big::from_u128(m as u128 * m as u128, 2 * e);
        let ord = dot_sq.cmp_value(&m2.mul(&sq));
        if sign == Ordering::Less {
            ord.reverse()
        } else {
            ord
        }
    };
    let even = |a: f32, b: f32| if a.to_bits() & 1 == 0 { a } else { b };
    // The rounding boundary between c and its neighbour n: their midpoint, or past f32::MAX
    // the overflow threshold (MAX plus half its ulp).
    let mid = |c: f32, n: f32| {
        if n.is_infinite() {
            (2f64.powi(128) - 2f64.powi(103)).copysign(n as f64)
        } else {
            (c as f64 + n as f64) * 0.5
        }
    };
    let mut c = if guess.is_nan() { 0.0 } else { guess.clamp(f32::MIN, f32::MAX) };
    let rounded = loop {
        if c.is_infinite() {
            break c;
        }
        let up = c.next_up();
        match compare(mid(c, up)) {
            Ordering::Greater => {
                c = up;
                continue;
            }
            Ordering::Equal => break even(c, up),
            Ordering::Less => {}
        }
        let down = c.next_down();
        match compare(mid(c, down)) {
            Ordering::Less => c = down,
            Ordering::Equal => break even(c, down),
            Ordering::Greater => break c,
        }
    };
    // A cosine that rounds to zero keeps its sign, as the f64 quotient rounded to f32 does.
    match (rounded == 0.0, sign) {
        (true, Ordering::Less) => -0.0,
        (true, _) => 0.0,
        _ => rounded,
    }
}

/// `x = m * 2^e` for finite non-zero `x >= 0`, `m` the integer significand (53 bits when
/// normal).
fn f64_parts(x: f64) -> (u64, i32) {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp - 1075)
    }
}

/// `x = m * 2^e` for finite `x`, `m` the signed integer significand (at most 24 bits).
fn f32_parts(x: f32) -> (i64, i32) {
    debug_assert!(x.is_finite());
    let bits = x.to_bits();
    let exp = ((bits >> 23) & 0xff) as i32;
    let frac = (bits & 0x7f_ffff) as i64;
    let (m, e) = if exp == 0 { (frac, -149) } else { (frac | 0x80_0000, exp - 150) };
    (if bits >> 31 == 1 { -m } else { m }, e)
}

/// Weight of the lowest bit of an [`Exact`]: below every value it holds (products of f32 are
/// multiples of 2^-298; the squared midpoints of square roots of them, of 2^-406).
const BASE: i32 = -448;
/// 32-bit digits of an [`Exact`]: bits 2^-448 up to 2^384, far above any sum of f32 products
/// (each below 2^258, with a factor 2 at most).
const DIGITS: usize = 26;
/// Additions between carry propagations: each adds less than 2^32 to a digit.
const CARRY_EVERY: u32 = 1 << 29;

/// An exact dyadic number: `sum of d[i] * 2^(32 i + BASE)`. Digits are 32 bits wide held in
/// i64, so carries can wait for [`CARRY_EVERY`] additions (a long accumulator, after Kulisch
/// and Neal's superaccumulators, sized for products of f32).
#[derive(Clone)]
pub(crate) struct Exact {
    d: [i64; DIGITS],
    pending: u32,
}

impl Exact {
    pub(crate) fn new() -> Self {
        Exact { d: [0; DIGITS], pending: 0 }
    }

    /// Add `m * 2^e`, `|m| < 2^62`, `e >= BASE`.
    fn add(&mut self, m: i64, e: i32) {
        if m == 0 {
            return;
        }
        let pos = e - BASE;
        debug_assert!(pos >= 0 && (pos as usize) / 32 + 2 < DIGITS);
        let (k, shift) = ((pos / 32) as usize, pos % 32);
        let v = (m as i128) << shift;
        // v = low + mid * 2^32 + high * 2^64 with low and mid in [0, 2^32).
        self.d[k] += (v & 0xffff_ffff) as i64;
        self.d[k + 1] += ((v >> 32) & 0xffff_ffff) as i64;
        self.d[k + 2] += (v >> 64) as i64;
        self.pending += 1;
        if self.pending >= CARRY_EVERY {
            self.carry();
        }
    }

    /// Add `times * x * y` (`|times| <= 2`).
    pub(crate) fn add_product(&mut self, x: f32, y: f32, times: i64) {
        let (mx, ex) = f32_parts(x);
        let (my, ey) = f32_parts(y);
        self.add(mx * my * times, ex + ey);
    }

    /// Add `v * 2^e` or subtract it (`negative`).
    fn add_u128(&mut self, v: u128, e: i32, negative: bool) {
        for i in 0..3 {
            let chunk = ((v >> (48 * i)) & ((1 << 48) - 1)) as i64;
            self.add(if negative { -chunk } else { chunk }, e + 48 * i);
        }
    }

    /// Propagate carries: every digit but the top one into [0, 2^32), the top one signed.
    fn carry(&mut self) {
        for i in 0..DIGITS - 1 {
            let c = self.d[i] >> 32;
            self.d[i] -= c << 32;
            self.d[i + 1] += c;
        }
        self.pending = 0;
    }

    /// The sign and the magnitude's digits (carried, non-negative).
    fn carried_magnitude(&self) -> (Ordering, [i64; DIGITS]) {
        let mut t = self.clone();
        t.carry();
        let top = t.d[DIGITS - 1];
        let sign = if top < 0 {
            Ordering::Less
        } else if t.d.iter().any(|&x| x != 0) {
            Ordering::Greater
        } else {
            Ordering::Equal
        };
        if sign == Ordering::Less {
            for x in &mut t.d {
                *x = -*x;
            }
            t.carry();
        }
        (sign, t.d)
    }

    pub(crate) fn sign(&self) -> Ordering {
        self.carried_magnitude().0
    }

    /// The sign and the magnitude as a [`Big`].
    fn sign_magnitude(&self) -> (Ordering, Big) {
        let (sign, d) = self.carried_magnitude();
        (sign, Big::new(d.iter().map(|&x| x as u32).collect(), BASE))
    }

    /// The correctly rounded f64 (ties to even).
    pub(crate) fn to_f64(&self) -> f64 {
        let (sign, d) = self.carried_magnitude();
        let Some(top) = d.iter().rposition(|&x| x != 0) else { return 0.0 };
        // The top four digits hold at least 97 significant bits; anything non-zero below them
        // only matters as a sticky bit, folded into the lowest bit of the window (44 bits or
        // more below the rounding position). u128 -> f64 rounds to nearest, ties to even.
        let digit = |i: isize| if i >= 0 { d[i as usize] as u128 } else { 0 };
        let t = top as isize;
        let mut window = (digit(t) << 96) | (digit(t - 1) << 64) | (digit(t - 2) << 32) | digit(t - 3);
        if t >= 4 && d[..(t - 3) as usize].iter().any(|&x| x != 0) {
            window |= 1;
        }
        let v = window as f64 * pow2(32 * (t as i32 - 3) + BASE);
        if sign == Ordering::Less {
            -v
        } else {
            v
        }
    }

    /// The correctly rounded square root (the value must be non-negative).
    pub(crate) fn sqrt(&self) -> f64 {
        let s = self.to_f64();
        if s <= 0.0 {
            return 0.0;
        }
        // Compare the exact value with the squares of the midpoints around q.
        let compare = |q: f64, up: bool| -> Ordering {
            let (m, e) = f64_parts(q);
            let (mid, e) = if up {
                (2 * m + 1, e - 1)
            } else if m == 1 << 52 {
                // Below a power of two the gap halves.
                (4 * m - 1, e - 2)
            } else {
                (2 * m - 1, e - 1)
            };
            let mut t = self.clone();
            t.add_u128(mid as u128 * mid as u128, 2 * e, true);
            t.sign()
        };
        let even = |a: f64, b: f64| if a.to_bits() & 1 == 0 { a } else { b };
        let mut q = s.sqrt();
        loop {
            match compare(q, true) {
                Ordering::Greater => {
                    q = q.next_up();
                    continue;
                }
                Ordering::Equal => return even(q, q.next_up()),
                Ordering::Less => {}
            }
            return match compare(q, false) {
                Ordering::Less => {
                    q = q.next_down();
                    continue;
                }
                Ordering::Equal => even(q, q.next_down()),
                Ordering::Greater => q,
            };
        }
    }
}

/// 2^e for e in the normal range.
fn pow2(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// A non-negative dyadic number `digits * 2^exp` (little-endian 32-bit digits), for the exact
/// cosine comparisons.
#[derive(Debug, Clone)]
struct Big {
    digits: Vec<u32>,
    exp: i32,
}

impl Big {
    fn new(mut digits: Vec<u32>, exp: i32) -> Big {
        while digits.last() == Some(&0) {
            digits.pop();
        }
        Big { digits, exp }
    }

    fn from_u128(v: u128, exp: i32) -> Big {
        Big::new((0..4).map(|i| (v >> (32 * i)) as u32).collect(), exp)
    }

    fn mul(&self, other: &Big) -> Big {
        let mut out = vec![0u32; self.digits.len() + other.digits.len() + 1];
        for (i, &a) in self.digits.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in other.digits.iter().enumerate() {
                let t = out[i + j] as u64 + a as u64 * b as u64 + carry;
                out[i + j] = t as u32;
                carry = t >> 32;
            }
            let mut k = i + other.digits.len();
            while carry != 0 {
                let t = out[k] as u64 + carry;
                out[k] = t as u32;
                carry = t >> 32;
                k += 1;
            }
        }
        Big::new(out, self.exp + other.exp)
    }

    /// The digits of `self * 2^(self.exp - exp)` (`exp <= self.exp`).
    fn digits_at(&self, exp: i32) -> Vec<u32> {
        let shift = (self.exp - exp) as usize;
        let (words, bits) = (shift / 32, shift % 32);
        let mut out = vec![0u32; words + self.digits.len() + 1];
        for (i, &x) in self.digits.iter().enumerate() {
            let v = (x as u64) << bits;
            out[words + i] |= v as u32;
            out[words + i + 1] |= (v >> 32) as u32;
        }
        while out.last() == Some(&0) {
            out.pop();
        }
        out
    }

    fn cmp_value(&self, other: &Big) -> Ordering {
        let exp = self.exp.min(other.exp);
        let (a, b) = (self.digits_at(exp), other.digits_at(exp));
        a.len().cmp(&b.len()).then_with(|| a.iter().rev().cmp(b.iter().rev()))
    }
}

#[cfg(test)]
impl Bracket {
    pub(crate) fn round_for_tests(self) -> Option<f64> {
        self.round()
    }
    pub(crate) fn sqrt_for_tests(self) -> Option<f64> {
        self.sqrt()
    }
}

/// The exact tier's cosine, whatever the fast tier would decide.
#[cfg(test)]
pub(crate) fn cosine_exact_for_tests(q: &[f32], row: &[f32]) -> f32 {
    let mut t = Exact::new();
    for &y in row {
        t.add_product(y, y, 1);
    }
    cosine_exact(q, row, (dot_exact(q, row) / t.sqrt()) as f32)
}
