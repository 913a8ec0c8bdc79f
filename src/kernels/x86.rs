//! x86-64 kernels: AVX2 + FMA (8 lanes) and AVX-512F (16 lanes), both the shared algorithm of
//! `simd.rs`. Callers reach them only through [`super::Kernel`], which checks the CPU first.

use core::arch::x86_64::*;

use super::exact::{self, F64s};
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

/// Four f64 lanes (AVX2 + FMA) for the correctly rounded values of `exact.rs`.
#[derive(Clone, Copy)]
pub(crate) struct Avx2F64(__m256d);

impl F64s for Avx2F64 {
    const WIDTH: usize = 4;
    const FMA: bool = true;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Avx2F64(_mm256_setzero_pd())
    }
    #[inline(always)]
    unsafe fn splat(x: f64) -> Self {
        Avx2F64(_mm256_set1_pd(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Avx2F64(_mm256_cvtps_pd(_mm_loadu_ps(p)))
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // As in `Avx2::load_partial`: masked-off lanes are not read.
        static MASK: [i32; 8] = [-1, -1, -1, -1, 0, 0, 0, 0];
        let m = _mm_loadu_si128(MASK.as_ptr().add(4 - n) as *const __m128i);
        Avx2F64(_mm256_cvtps_pd(_mm_maskload_ps(p, m)))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Avx2F64(_mm256_add_pd(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Avx2F64(_mm256_sub_pd(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Avx2F64(_mm256_mul_pd(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Avx2F64(_mm256_fmadd_pd(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        Avx2F64(_mm256_andnot_pd(_mm256_set1_pd(-0.0), self.0))
    }
    #[inline(always)]
    unsafe fn store(self, out: *mut f64) {
        _mm256_storeu_pd(out, self.0)
    }
}

/// Eight f64 lanes (AVX-512F).
#[derive(Clone, Copy)]
pub(crate) struct Avx512F64(__m512d);

impl F64s for Avx512F64 {
    const WIDTH: usize = 8;
    const FMA: bool = true;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Avx512F64(_mm512_setzero_pd())
    }
    #[inline(always)]
    unsafe fn splat(x: f64) -> Self {
        Avx512F64(_mm512_set1_pd(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Avx512F64(_mm512_cvtps_pd(_mm256_loadu_ps(p)))
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // A 16-lane masked load (AVX-512F; masked-off lanes are not read), low half widened.
        let v = _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p);
        Avx512F64(_mm512_cvtps_pd(_mm512_castps512_ps256(v)))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Avx512F64(_mm512_add_pd(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Avx512F64(_mm512_sub_pd(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Avx512F64(_mm512_mul_pd(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Avx512F64(_mm512_fmadd_pd(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        Avx512F64(_mm512_abs_pd(self.0))
    }
    #[inline(always)]
    unsafe fn store(self, out: *mut f64) {
        _mm512_storeu_pd(out, self.0)
    }
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_dots_exact(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    exact::dots::<Avx2F64>(q, rows, out)
}

/// # Safety
/// The CPU has AVX-512F and AVX-512DQ.
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_dots_exact(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    exact::dots::<Avx512F64>(q, rows, out)
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_distances_exact(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    exact::distances::<Avx2F64>(q, rows, out)
}

/// # Safety
/// The CPU has AVX-512F and AVX-512DQ.
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_distances_exact(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    exact::distances::<Avx512F64>(q, rows, out)
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_cosines_exact(q: &[f32], rows: &[&[f32]], norms: &[f64], out: &mut [f32]) {
    exact::cosines::<Avx2F64>(q, rows, norms, out)
}

/// # Safety
/// The CPU has AVX-512F and AVX-512DQ.
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_cosines_exact(q: &[f32], rows: &[&[f32]], norms: &[f64], out: &mut [f32]) {
    exact::cosines::<Avx512F64>(q, rows, norms, out)
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_norm_sq_f64(a: &[f32]) -> f64 {
    super::portable::norm_sq_f64(a)
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_scale_f64(row: &mut [f32], inv: f64) {
    super::portable::scale_f64(row, inv)
}
