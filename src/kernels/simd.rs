//! The one SIMD algorithm shared by every vector instruction set (AVX2, AVX-512, NEON).
//!
//! Each (query, row) pair owns one accumulator register. The dimensions are walked in register
//! widths from the start, a partial last chunk is loaded with the missing lanes as zero, and the
//! register is summed with a fixed horizontal reduction. A pair therefore gets the same value
//! bit for bit whichever micro-kernel computed it (one query over 8 rows, a 4 x 3 tile of a
//! batch, a lone remainder row), so equal rows score equally wherever they sit in a block and a
//! batch search returns exactly what single searches return.
//!
//! Rows are float32 or float16 ([`Elem`]): a float16 row is widened to f32 lanes as it is
//! loaded (exactly), and everything after the load is the same code, so a float16 row scores
//! bit for bit what its widened float32 copy scores.
//!
//! Everything here is `#[inline(always)]` and generic: the instruction-set modules instantiate
//! it inside their `#[target_feature]` entry points, which is where the intrinsics get their
//! features.

use super::tuning;

/// One instruction set's vector register of f32 lanes.
///
/// # Safety
/// Every method is that instruction set's intrinsics: it may only run on a CPU that has the
/// features the implementing type names (the kernels call them inside a `#[target_feature]`
/// entry point that [`super::Kernel`] reaches only after checking the CPU). The pointer
/// methods state what they read on top of that.
pub(crate) trait Lanes: Copy {
    const WIDTH: usize;
    /// All lanes zero.
    ///
    /// # Safety
    /// The CPU has the implementation's features (see the trait).
    unsafe fn zero() -> Self;
    /// Load `WIDTH` floats from `p`.
    ///
    /// # Safety
    /// `p` is aligned for f32 and valid for reading `WIDTH` floats (as a pointer into an
    /// `&[f32]` is); the CPU has the implementation's features.
    unsafe fn load(p: *const f32) -> Self;
    /// Load `n < WIDTH` floats from `p`, the other lanes zero; never reads past `p + n`.
    ///
    /// # Safety
    /// `n < WIDTH`, and `p` is aligned for f32 and valid for reading `n` floats; the CPU has
    /// the implementation's features.
    unsafe fn load_partial(p: *const f32, n: usize) -> Self;
    /// Load `WIDTH` f16 bit patterns from `p`, each widened exactly to f32 (as
    /// [`super::f16::to_f32`] does, NaN and infinity included).
    ///
    /// # Safety
    /// `p` is aligned for u16 and valid for reading `WIDTH` values; the CPU has the
    /// implementation's features and, where the implementation says so, a conversion feature
    /// on top of them (F16C for AVX2).
    unsafe fn load_f16(p: *const u16) -> Self;
    /// Load `n < WIDTH` f16 bit patterns from `p`, widened as in [`Lanes::load_f16`], the other
    /// lanes zero; never reads past `p + n`.
    ///
    /// # Safety
    /// `n < WIDTH`, `p` aligned for u16 and valid for reading `n` values; the CPU as for
    /// [`Lanes::load_f16`].
    unsafe fn load_partial_f16(p: *const u16, n: usize) -> Self;
    /// `a * b + acc` (fused where the instruction set has it).
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    unsafe fn mul_add(a: Self, b: Self, acc: Self) -> Self;
    /// `a - b`.
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    unsafe fn sub(a: Self, b: Self) -> Self;
    /// The sum of the lanes, in a fixed order.
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    unsafe fn sum(self) -> f32;
    /// Hint that the cache line at `p` will be read soon (no-op where there is no hint).
    ///
    /// # Safety
    /// The CPU has the implementation's features. `p` may be any address: a prefetch never
    /// faults.
    #[inline(always)]
    unsafe fn prefetch(_p: *const u8) {}
}

/// The element type of a row: `f32`, or `u16` holding f16 bit patterns. Queries are always f32.
pub(crate) trait Elem: Copy {
    /// [`Lanes::load`] or [`Lanes::load_f16`].
    ///
    /// # Safety
    /// As that method.
    unsafe fn load<V: Lanes>(p: *const Self) -> V;
    /// [`Lanes::load_partial`] or [`Lanes::load_partial_f16`].
    ///
    /// # Safety
    /// As that method.
    unsafe fn load_partial<V: Lanes>(p: *const Self, n: usize) -> V;
}

impl Elem for f32 {
    #[inline(always)]
    unsafe fn load<V: Lanes>(p: *const f32) -> V {
        // SAFETY: the caller upholds `Lanes::load`'s contract (# Safety of `Elem::load`).
        unsafe { V::load(p) }
    }
    #[inline(always)]
    unsafe fn load_partial<V: Lanes>(p: *const f32, n: usize) -> V {
        // SAFETY: the caller upholds `Lanes::load_partial`'s contract (# Safety above).
        unsafe { V::load_partial(p, n) }
    }
}

impl Elem for u16 {
    #[inline(always)]
    unsafe fn load<V: Lanes>(p: *const u16) -> V {
        // SAFETY: the caller upholds `Lanes::load_f16`'s contract (# Safety of `Elem::load`).
        unsafe { V::load_f16(p) }
    }
    #[inline(always)]
    unsafe fn load_partial<V: Lanes>(p: *const u16, n: usize) -> V {
        // SAFETY: the caller upholds `Lanes::load_partial_f16`'s contract (# Safety above).
        unsafe { V::load_partial_f16(p, n) }
    }
}

/// `a * b + acc` for a dot product, `(a - b)^2 + acc` for a squared distance.
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn step<V: Lanes, const L2: bool>(a: V, b: V, acc: V) -> V {
    // SAFETY: the caller guarantees the CPU supports `V` (# Safety above), all that
    // `V::sub` and `V::mul_add` need.
    unsafe {
        if L2 {
            let t = V::sub(a, b);
            V::mul_add(t, t, acc)
        } else {
            V::mul_add(a, b, acc)
        }
    }
}

/// Scores of `Q` queries against `R` rows, each pointer `d` values long.
///
/// # Safety
/// Every pointer must be aligned for its type and valid for reading `d` values; the
/// instruction set (with what `T`'s loads need) must be available.
#[inline(always)]
pub(crate) unsafe fn micro<V: Lanes, T: Elem, const L2: bool, const Q: usize, const R: usize>(
    d: usize,
    qs: &[*const f32; Q],
    rs: &[*const T; R],
) -> [[f32; R]; Q] {
    // SAFETY: the caller guarantees the pointers and the CPU (# Safety above), which is the
    // contract of `micro_prefetching`; `next` is `rs` (and unused without prefetching).
    unsafe { micro_prefetching::<V, T, L2, Q, R, false>(d, qs, rs, rs) }
}

/// [`micro`] that also prefetches the rows `next` (each valid for `d` values) in step with its
/// own loads. Eight rows read side by side are eight short streams that the hardware prefetcher
/// only picks up late; asking for the next group while this one computes hides that start-up.
///
/// # Safety
/// As for [`micro`]: every pointer of `qs` and `rs` must be valid for reading `d` values, and
/// the instruction set (with what `T`'s loads need) must be available. The `next` pointers are only prefetched, never
/// read, so they may be anything.
#[inline(always)]
pub(crate) unsafe fn micro_prefetching<
    V: Lanes,
    T: Elem,
    const L2: bool,
    const Q: usize,
    const R: usize,
    const PF: bool,
>(
    d: usize,
    qs: &[*const f32; Q],
    rs: &[*const T; R],
    next: &[*const T; R],
) -> [[f32; R]; Q] {
    // SAFETY: the caller guarantees that every `qs` and `rs` pointer is valid for `d` values
    // and that the CPU supports `V` (# Safety above). The full loads read `[i, i + WIDTH)`
    // with `i + WIDTH <= full <= d`, the partial ones `[full, d)` with `d - full < WIDTH`;
    // the prefetches never fault.
    unsafe {
        let mut acc = [[V::zero(); R]; Q];
        let full = d - d % V::WIDTH;
        let mut i = 0;
        while i < full {
            if PF {
                for &p in next {
                    // Prefetches never fault, so the address may run past the row (wrapping_add).
                    V::prefetch(p.wrapping_add(i) as *const u8);
                }
            }
            let mut rv = [V::zero(); R];
            for r in 0..R {
                rv[r] = T::load::<V>(rs[r].add(i));
            }
            for q in 0..Q {
                let qv = V::load(qs[q].add(i));
                for r in 0..R {
                    acc[q][r] = step::<V, L2>(qv, rv[r], acc[q][r]);
                }
            }
            i += V::WIDTH;
        }
        if full < d {
            let n = d - full;
            let mut rv = [V::zero(); R];
            for r in 0..R {
                rv[r] = T::load_partial::<V>(rs[r].add(full), n);
            }
            for q in 0..Q {
                let qv = V::load_partial(qs[q].add(full), n);
                for r in 0..R {
                    acc[q][r] = step::<V, L2>(qv, rv[r], acc[q][r]);
                }
            }
        }
        let mut out = [[0.0f32; R]; Q];
        for q in 0..Q {
            for r in 0..R {
                out[q][r] = acc[q][r].sum();
            }
        }
        out
    }
}

#[inline(always)]
fn array<P, const N: usize>(p: &[*const P]) -> &[*const P; N] {
    p.try_into().expect("micro-kernel pointer count")
}

/// One query against many rows: `R` rows at a time keep `R` independent accumulator chains
/// in flight, enough to stream rows at memory speed; `LONG_PF` turns on the prefetch ahead
/// within long rows (`tuning::Scan` says which value each instruction set uses and why).
///
/// # Safety
/// `q` and every row pointer valid for `d` values; `out.len() == rows.len()`; the instruction
/// set (with what `T`'s loads need) available.
#[inline(always)]
pub(crate) unsafe fn rows<V: Lanes, T: Elem, const L2: bool, const R: usize, const LONG_PF: bool>(
    d: usize,
    q: *const f32,
    rows: &[*const T],
    out: &mut [f32],
) {
    let qs = [q];
    let mut chunks = rows.chunks_exact(R);
    let mut outs = out.chunks_exact_mut(R);
    let groups = rows.len() / R;
    // Short rows: fetch the whole next group while this one computes. Long rows (a group
    // larger than L1 can hold twice): run a fixed distance ahead within the same rows instead.
    let size = core::mem::size_of::<T>();
    let ahead = tuning::PREFETCH_AHEAD_BYTES / size;
    let whole_group = R * d * size <= tuning::PREFETCH_WHOLE_GROUP_BYTES;
    for (g, (rp, o)) in (&mut chunks).zip(&mut outs).enumerate() {
        let v = if whole_group {
            let next = if g + 1 < groups { &rows[(g + 1) * R..(g + 2) * R] } else { rp };
            // SAFETY: `q` and the rows are valid for `d` values and the CPU supports `V` (the
            // caller's contract, # Safety above); `next` is only prefetched.
            unsafe { micro_prefetching::<V, T, L2, 1, R, true>(d, &qs, array(rp), array(next)) }
        } else {
            let mut next = [core::ptr::null::<T>(); R];
            for (n, &p) in next.iter_mut().zip(rp) {
                *n = p.wrapping_add(ahead / R);
            }
            // SAFETY: as above; these `next` addresses may lie past the rows, but they are only
            // prefetched, which never faults.
            unsafe { micro_prefetching::<V, T, L2, 1, R, LONG_PF>(d, &qs, array(rp), &next) }
        };
        o.copy_from_slice(&v[0]);
    }
    for (&rp, o) in chunks.remainder().iter().zip(outs.into_remainder()) {
        // SAFETY: `q` and the row are valid for `d` values and the CPU supports `V` (# Safety
        // above).
        *o = unsafe { micro::<V, T, L2, 1, 1>(d, &qs, &[rp]) }[0][0];
    }
}

/// Many queries against many rows (a blocked matrix product): `out[q * stride + r]`.
/// Rows advance in groups of `R`, and each group meets every query group of `Q` while its
/// `R` rows are still in L1.
///
/// # Safety
/// As for [`rows`]; `stride >= rows.len()` and `out` holds `(queries.len() - 1) * stride +
/// rows.len()` floats at least.
#[inline(always)]
pub(crate) unsafe fn tile<V: Lanes, T: Elem, const L2: bool, const Q: usize, const R: usize>(
    d: usize,
    queries: &[*const f32],
    rows: &[*const T],
    out: &mut [f32],
    stride: usize,
) {
    let nr = rows.len();
    let mut r0 = 0;
    while r0 < nr {
        let rn = (nr - r0).min(R);
        let rp = &rows[r0..r0 + rn];
        let mut q0 = 0;
        while q0 < queries.len() {
            let qn = (queries.len() - q0).min(Q);
            let qp = &queries[q0..q0 + qn];
            if qn == Q && rn == R {
                // SAFETY: every query and row pointer is valid for `d` values and the CPU
                // supports `V` (the caller's contract, # Safety above); `out` is indexed with
                // bounds checks.
                let v = unsafe { micro::<V, T, L2, Q, R>(d, array(qp), array(rp)) };
                for (q, row) in v.iter().enumerate() {
                    out[(q0 + q) * stride + r0..][..R].copy_from_slice(row);
                }
            } else if rn == R {
                // Fewer than Q queries left: one query at a time over the R rows.
                for (q, &one) in qp.iter().enumerate() {
                    // SAFETY: as above.
                    let v = unsafe { micro::<V, T, L2, 1, R>(d, &[one], array(rp)) };
                    out[(q0 + q) * stride + r0..][..R].copy_from_slice(&v[0]);
                }
            } else {
                // Fewer than R rows left: Q queries against one row at a time.
                for (r, &row) in rp.iter().enumerate() {
                    if qn == Q {
                        // SAFETY: as above.
                        let v = unsafe { micro::<V, T, L2, Q, 1>(d, array(qp), &[row]) };
                        for q in 0..Q {
                            out[(q0 + q) * stride + r0 + r] = v[q][0];
                        }
                    } else {
                        for (q, &one) in qp.iter().enumerate() {
                            // SAFETY: as above.
                            let v = unsafe { micro::<V, T, L2, 1, 1>(d, &[one], &[row]) };
                            out[(q0 + q) * stride + r0 + r] = v[0][0];
                        }
                    }
                }
            }
            q0 += qn;
        }
        r0 += rn;
    }
}
