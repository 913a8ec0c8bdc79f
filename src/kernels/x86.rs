//! x86-64 kernels: AVX2 + FMA (8 lanes) and AVX-512F (16 lanes), both the shared algorithm of
//! `simd.rs`. Callers reach them only through [`super::Kernel`], which checks the CPU first.

use core::arch::x86_64::*;

use super::simd::{self, Lanes};

#[derive(Clone, Copy)]
pub(crate) struct Avx2(__m256);

impl Lanes for Avx2 {
    const WIDTH: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Avx2(_mm256_setzero_ps())
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Avx2(_mm256_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // A sliding window over 8 ones then 8 zeros gives the first n lanes set. Masked-off
        // lanes are not read, so a row that ends at the end of an allocation is safe.
        static MASK: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
        let m = _mm256_loadu_si256(MASK.as_ptr().add(8 - n) as *const __m256i);
        Avx2(_mm256_maskload_ps(p, m))
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, acc: Self) -> Self {
        Avx2(_mm256_fmadd_ps(a.0, b.0, acc.0))
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        Avx2(_mm256_sub_ps(a.0, b.0))
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(self.0), _mm256_extractf128_ps(self.0, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const f32) {
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Avx512(__m512);

impl Lanes for Avx512 {
    const WIDTH: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Avx512(_mm512_setzero_ps())
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Avx512(_mm512_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        Avx512(_mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p))
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, acc: Self) -> Self {
        Avx512(_mm512_fmadd_ps(a.0, b.0, acc.0))
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        Avx512(_mm512_sub_ps(a.0, b.0))
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        // Fixed order: halves, then quarters, then within 128 bits as in AVX2.
        let h = _mm256_add_ps(_mm512_castps512_ps256(self.0), _mm512_extractf32x8_ps(self.0, 1));
        Avx2(h).sum()
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const f32) {
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
    }
}

/// # Safety
/// The CPU has AVX2 and FMA; pointers as in [`simd::rows`].
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_rows<const L2: bool>(
    d: usize,
    q: *const f32,
    rows: &[*const f32],
    out: &mut [f32],
) {
    simd::rows::<Avx2, L2>(d, q, rows, out)
}

/// # Safety
/// The CPU has AVX2 and FMA; pointers as in [`simd::tile`].
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_tile<const L2: bool>(
    d: usize,
    qs: &[*const f32],
    rows: &[*const f32],
    out: &mut [f32],
    stride: usize,
) {
    // 3 x 3 = 9 accumulators + 3 row registers + 1 query register of the 16 ymm registers.
    simd::tile::<Avx2, L2, 3, 3>(d, qs, rows, out, stride)
}

/// # Safety
/// The CPU has AVX-512F and AVX-512DQ; pointers as in [`simd::rows`].
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_rows<const L2: bool>(
    d: usize,
    q: *const f32,
    rows: &[*const f32],
    out: &mut [f32],
) {
    simd::rows::<Avx512, L2>(d, q, rows, out)
}

/// # Safety
/// The CPU has AVX-512F and AVX-512DQ; pointers as in [`simd::tile`].
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_tile<const L2: bool>(
    d: usize,
    qs: &[*const f32],
    rows: &[*const f32],
    out: &mut [f32],
    stride: usize,
) {
    // 4 x 4 = 16 accumulators + 4 row registers: larger tiles spill accumulators.
    simd::tile::<Avx512, L2, 4, 4>(d, qs, rows, out, stride)
}

/// f64 dot products of `q` with `R` rows, summed in exactly the order of
/// [`super::dot_f64`]: lane `l` of 8 accumulates terms `i = l (mod 8)`, the lanes combine as
/// `((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))`, and the tail adds on sequentially.
/// Each product of two f32 is exact in f64, so a fused multiply-add rounds exactly as the
/// portable multiply-then-add does: the results equal the portable ones bit for bit.
#[inline(always)]
unsafe fn dot_f64_micro<const AVX512: bool, const R: usize>(
    d: usize,
    q: *const f32,
    rs: &[*const f32; R],
) -> [f64; R] {
    let full = d - d % 8;
    let mut halves = [[0.0f64; 4]; R];
    if AVX512 {
        let mut acc = [_mm512_setzero_pd(); R];
        let mut i = 0;
        while i < full {
            let qv = _mm512_cvtps_pd(_mm256_loadu_ps(q.add(i)));
            for r in 0..R {
                acc[r] = _mm512_fmadd_pd(qv, _mm512_cvtps_pd(_mm256_loadu_ps(rs[r].add(i))), acc[r]);
            }
            i += 8;
        }
        for r in 0..R {
            let s = _mm256_add_pd(_mm512_castpd512_pd256(acc[r]), _mm512_extractf64x4_pd(acc[r], 1));
            _mm256_storeu_pd(halves[r].as_mut_ptr(), s);
        }
    } else {
        let mut lo = [_mm256_setzero_pd(); R];
        let mut hi = [_mm256_setzero_pd(); R];
        let mut i = 0;
        while i < full {
            let qv = _mm256_loadu_ps(q.add(i));
            let (ql, qh) =
                (_mm256_cvtps_pd(_mm256_castps256_ps128(qv)), _mm256_cvtps_pd(_mm256_extractf128_ps(qv, 1)));
            for r in 0..R {
                let rv = _mm256_loadu_ps(rs[r].add(i));
                lo[r] = _mm256_fmadd_pd(ql, _mm256_cvtps_pd(_mm256_castps256_ps128(rv)), lo[r]);
                hi[r] = _mm256_fmadd_pd(qh, _mm256_cvtps_pd(_mm256_extractf128_ps(rv, 1)), hi[r]);
            }
            i += 8;
        }
        for r in 0..R {
            _mm256_storeu_pd(halves[r].as_mut_ptr(), _mm256_add_pd(lo[r], hi[r]));
        }
    }
    let mut out = [0.0f64; R];
    for r in 0..R {
        let s = halves[r]; // [a0+a4, a1+a5, a2+a6, a3+a7]
        let mut tail = 0.0f64;
        for i in full..d {
            tail += *q.add(i) as f64 * *rs[r].add(i) as f64;
        }
        out[r] = ((s[0] + s[2]) + (s[1] + s[3])) + tail;
    }
    out
}

#[inline(always)]
unsafe fn dot_f64_rows<const AVX512: bool>(d: usize, q: *const f32, rows: &[*const f32], out: &mut [f64]) {
    const R: usize = 4;
    let mut chunks = rows.chunks_exact(R);
    let mut outs = out.chunks_exact_mut(R);
    for (rp, o) in (&mut chunks).zip(&mut outs) {
        o.copy_from_slice(&dot_f64_micro::<AVX512, R>(d, q, rp.try_into().expect("4 rows")));
    }
    for (&rp, o) in chunks.remainder().iter().zip(outs.into_remainder()) {
        *o = dot_f64_micro::<AVX512, 1>(d, q, &[rp])[0];
    }
}

/// # Safety
/// The CPU has AVX2 and FMA; `q` and every row pointer valid for `d` floats.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_dot_f64_rows(d: usize, q: *const f32, rows: &[*const f32], out: &mut [f64]) {
    dot_f64_rows::<false>(d, q, rows, out)
}

/// # Safety
/// The CPU has AVX-512F and AVX-512DQ; pointers as for [`avx2_dot_f64_rows`].
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_dot_f64_rows(d: usize, q: *const f32, rows: &[*const f32], out: &mut [f64]) {
    dot_f64_rows::<true>(d, q, rows, out)
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_norm_sq_f64(a: &[f32]) -> f64 {
    super::norm_sq_f64_generic(a)
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_scale_f64(row: &[f32], inv: f64, out: &mut [f32]) {
    super::scale_f64_generic(row, inv, out)
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_l2sq_f64(a: &[f32], b: &[f32]) -> f64 {
    super::l2sq_f64_generic(a, b)
}
