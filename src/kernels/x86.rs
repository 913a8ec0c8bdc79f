//! x86-64 kernels: AVX2 + FMA (8 lanes) and AVX-512F (16 lanes), both the shared algorithm of
//! `simd.rs`. Callers reach them only through [`super::Kernel`], which checks the CPU first.
//!
//! The register types' methods are the intrinsics of their instruction set: their `# Safety`
//! contracts (on [`Lanes`] and [`F64s`]) require a CPU with AVX2 and FMA for [`Avx2`] and
//! [`Avx2F64`], and with AVX-512F, AVX-512DQ, AVX2 and FMA for [`Avx512`] and [`Avx512F64`]:
//! exactly what the `#[target_feature]` entry points below enable, and what
//! [`super::Kernel::is_supported`] checks before any of them runs. [`Avx2`]'s float16 loads
//! also need F16C: only the `_f16` entry points enable it, and [`super::Kernel`] reaches them
//! only after checking it (AVX-512F has its own conversion instruction).

use core::arch::x86_64::*;

use super::exact::{self, F64s};
use super::simd::{self, Elem, Lanes};
use super::tuning;

/// Eight f32 lanes; its methods need AVX2 and FMA.
#[derive(Clone, Copy)]
pub(crate) struct Avx2(__m256);

impl Lanes for Avx2 {
    const WIDTH: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller guarantees AVX2 (# Safety of `Lanes::zero`).
        unsafe { Avx2(_mm256_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees `p` is valid for 8 floats and AVX2 (# Safety of
        // `Lanes::load`); the load is unaligned.
        unsafe { Avx2(_mm256_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // SAFETY: the caller guarantees `n < 8`, `p` valid for `n` floats and AVX2 (# Safety
        // of `Lanes::load_partial`). The mask is read at `8 - n` in 1..=8, so its 8 i32 lie
        // inside MASK's 16; masked-off lanes are not read (no fault past `p + n`).
        unsafe {
            // A sliding window over 8 ones then 8 zeros gives the first n lanes set. Masked-off
            // lanes are not read, so a row that ends at the end of an allocation is safe.
            static MASK: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
            let m = _mm256_loadu_si256(MASK.as_ptr().add(8 - n) as *const __m256i);
            Avx2(_mm256_maskload_ps(p, m))
        }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> Self {
        // SAFETY: the caller guarantees `p` is valid for 8 u16, AVX2 and F16C (# Safety of
        // `Lanes::load_f16`; F16C is this type's conversion feature); the load is unaligned.
        unsafe { Avx2(_mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i))) }
    }
    #[inline(always)]
    unsafe fn load_partial_f16(p: *const u16, n: usize) -> Self {
        // There is no 16-bit masked load below AVX-512BW: copy the n values into zeros (f16 +0
        // widens to the same +0.0 lanes `load_partial` gives).
        let mut buf = [0u16; 8];
        // SAFETY: the caller guarantees `n < 8`, `p` valid for `n` u16, AVX2 and F16C
        // (# Safety of `Lanes::load_partial_f16`); `buf` is a local array of 8 u16.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            Self::load_f16(buf.as_ptr())
        }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: the caller guarantees AVX2 (# Safety of `Lanes::splat`).
        unsafe { Avx2(_mm256_set1_ps(x)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees `p` is valid for 8 floats and AVX2 (# Safety of
        // `Lanes::store`); the store is unaligned.
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, acc: Self) -> Self {
        // SAFETY: the caller guarantees AVX2 and FMA (# Safety of `Lanes::mul_add`).
        unsafe { Avx2(_mm256_fmadd_ps(a.0, b.0, acc.0)) }
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        // SAFETY: the caller guarantees AVX2 (# Safety of `Lanes::sub`).
        unsafe { Avx2(_mm256_sub_ps(a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        // SAFETY: the caller guarantees AVX2, which implies the SSE3 of the 128-bit steps
        // (# Safety of `Lanes::sum`).
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(self.0), _mm256_extractf128_ps(self.0, 1));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_movehdup_ps(s));
            _mm_cvtss_f32(s)
        }
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const u8) {
        // SAFETY: a prefetch never faults, whatever the address (# Safety of
        // `Lanes::prefetch`), and SSE is part of x86-64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) };
    }
    #[inline(always)]
    unsafe fn prefetch_l2(p: *const u8) {
        // SAFETY: as for `prefetch` (# Safety of `Lanes::prefetch_l2`).
        unsafe { _mm_prefetch::<_MM_HINT_T1>(p as *const i8) };
    }
}

/// Sixteen f32 lanes; its methods need AVX-512F, AVX-512DQ, AVX2 and FMA.
#[derive(Clone, Copy)]
pub(crate) struct Avx512(__m512);

impl Lanes for Avx512 {
    const WIDTH: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller guarantees AVX-512F (# Safety of `Lanes::zero`).
        unsafe { Avx512(_mm512_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees `p` is valid for 16 floats and AVX-512F (# Safety of
        // `Lanes::load`); the load is unaligned.
        unsafe { Avx512(_mm512_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // SAFETY: the caller guarantees `n < 16`, `p` valid for `n` floats and AVX-512F
        // (# Safety of `Lanes::load_partial`); the mask has the low n bits set and masked-off
        // lanes are not read.
        unsafe { Avx512(_mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p)) }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> Self {
        // SAFETY: the caller guarantees `p` is valid for 16 u16 and AVX-512F, which has the
        // conversion (# Safety of `Lanes::load_f16`); the load is unaligned.
        unsafe { Avx512(_mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i))) }
    }
    #[inline(always)]
    unsafe fn load_partial_f16(p: *const u16, n: usize) -> Self {
        // A 16-bit masked load needs AVX-512BW, which this kernel does not require: copy the
        // n values into zeros instead (f16 +0 widens to +0.0, as in `load_partial`).
        let mut buf = [0u16; 16];
        // SAFETY: the caller guarantees `n < 16`, `p` valid for `n` u16 and AVX-512F (# Safety
        // of `Lanes::load_partial_f16`); `buf` is a local array of 16 u16.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            Self::load_f16(buf.as_ptr())
        }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: the caller guarantees AVX-512F (# Safety of `Lanes::splat`).
        unsafe { Avx512(_mm512_set1_ps(x)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees `p` is valid for 16 floats and AVX-512F (# Safety of
        // `Lanes::store`); the store is unaligned.
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, acc: Self) -> Self {
        // SAFETY: the caller guarantees AVX-512F (# Safety of `Lanes::mul_add`).
        unsafe { Avx512(_mm512_fmadd_ps(a.0, b.0, acc.0)) }
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        // SAFETY: the caller guarantees AVX-512F (# Safety of `Lanes::sub`).
        unsafe { Avx512(_mm512_sub_ps(a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        // SAFETY: the caller guarantees AVX-512F, AVX-512DQ (the 256-bit extract) and AVX2
        // (`Avx2::sum`) (# Safety of `Lanes::sum`).
        unsafe {
            // Fixed order: halves, then quarters, then within 128 bits as in AVX2.
            let h = _mm256_add_ps(_mm512_castps512_ps256(self.0), _mm512_extractf32x8_ps(self.0, 1));
            Avx2(h).sum()
        }
    }
    #[inline(always)]
    unsafe fn sum16(acc: &[Self; 16]) -> [f32; 16] {
        // The additions of `sum`, four levels of them, each done for several accumulators at
        // once: a pair of registers is shuffled into two, whose sum holds the next level of
        // both. Feeding the accumulators transposed (4 x 4) makes the last register come out
        // in their order.
        let t: [__m512; 16] = core::array::from_fn(|i| acc[(i % 4) * 4 + i / 4].0);
        // SAFETY: the caller guarantees AVX-512F (# Safety of `Lanes::sum16`); `out` is a
        // local array of 16 floats.
        unsafe {
            // Halves: 128-bit lanes (0, 1) + (2, 3) of each, two accumulators per register.
            let h: [__m512; 8] = core::array::from_fn(|i| {
                let (x, y) = (t[2 * i], t[2 * i + 1]);
                _mm512_add_ps(_mm512_shuffle_f32x4::<0x44>(x, y), _mm512_shuffle_f32x4::<0xEE>(x, y))
            });
            // Quarters: 128-bit lane 0 + 1 of each half, four accumulators per register.
            let s: [__m512; 4] = core::array::from_fn(|i| {
                let (x, y) = (h[2 * i], h[2 * i + 1]);
                _mm512_add_ps(_mm512_shuffle_f32x4::<0x88>(x, y), _mm512_shuffle_f32x4::<0xDD>(x, y))
            });
            // Within 128 bits: lanes (0, 1) + (2, 3), then lane 0 + 1.
            let p: [__m512; 2] = core::array::from_fn(|i| {
                let (x, y) = (s[2 * i], s[2 * i + 1]);
                _mm512_add_ps(_mm512_shuffle_ps::<0x44>(x, y), _mm512_shuffle_ps::<0xEE>(x, y))
            });
            let r =
                _mm512_add_ps(_mm512_shuffle_ps::<0x88>(p[0], p[1]), _mm512_shuffle_ps::<0xDD>(p[0], p[1]));
            let mut out = [0.0f32; 16];
            _mm512_storeu_ps(out.as_mut_ptr(), r);
            out
        }
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const u8) {
        // SAFETY: a prefetch never faults, whatever the address (# Safety of
        // `Lanes::prefetch`), and SSE is part of x86-64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) };
    }
    #[inline(always)]
    unsafe fn prefetch_l2(p: *const u8) {
        // SAFETY: as for `prefetch` (# Safety of `Lanes::prefetch_l2`).
        unsafe { _mm_prefetch::<_MM_HINT_T1>(p as *const i8) };
    }
}

/// The AVX2 scan with the vendor's profile (both entry points below).
///
/// # Safety
/// The CPU has AVX2 and FMA, and F16C if `T` is `u16`; pointers as in [`simd::rows`].
#[inline(always)]
unsafe fn avx2_scan<T: Elem, const L2: bool>(d: usize, q: *const f32, rows: &[*const T], out: &mut [f32]) {
    use tuning::{AVX2_SCAN, AVX2_SCAN_AMD};
    if tuning::amd() {
        // SAFETY: the caller guarantees the pointers, `out` and the CPU features `Avx2` and
        // `T`'s loads need (# Safety above).
        unsafe { simd::rows::<Avx2, T, L2, { AVX2_SCAN_AMD.0 }, { AVX2_SCAN_AMD.1 }>(d, q, rows, out) }
    } else {
        // SAFETY: as above.
        unsafe { simd::rows::<Avx2, T, L2, { AVX2_SCAN.0 }, { AVX2_SCAN.1 }>(d, q, rows, out) }
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
    // SAFETY: the caller guarantees the pointers and `out` (# Safety above); this function
    // enables AVX2 and FMA, all that `Avx2` needs for f32 rows.
    unsafe { avx2_scan::<f32, L2>(d, q, rows, out) }
}

/// [`avx2_rows`] over float16 rows.
///
/// # Safety
/// The CPU has AVX2, FMA and F16C; pointers as in [`simd::rows`].
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn avx2_rows_f16<const L2: bool>(
    d: usize,
    q: *const f32,
    rows: &[*const u16],
    out: &mut [f32],
) {
    // SAFETY: the caller guarantees the pointers and `out` (# Safety above); this function
    // enables AVX2, FMA and F16C, all that `Avx2` needs for f16 rows.
    unsafe { avx2_scan::<u16, L2>(d, q, rows, out) }
}

/// [`avx2_rows`] with a given scan profile (rows side by side, long-row prefetch), so tests
/// check every profile on any x86 host, not only the one its vendor picks.
///
/// # Safety
/// As [`avx2_rows`].
#[cfg(test)]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_rows_profile<const L2: bool, const R: usize, const PF: bool>(
    d: usize,
    q: *const f32,
    rows: &[*const f32],
    out: &mut [f32],
) {
    // SAFETY: as in `avx2_rows`.
    unsafe { simd::rows::<Avx2, f32, L2, R, PF>(d, q, rows, out) }
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
    // SAFETY: the caller guarantees the pointers, `out` and `stride` (# Safety above); this
    // function enables AVX2 and FMA, all that `Avx2` needs for f32 rows.
    unsafe {
        simd::tile::<Avx2, f32, L2, { tuning::AVX2_TILE.0 }, { tuning::AVX2_TILE.1 }>(
            d, qs, rows, out, stride,
        )
    }
}

/// [`avx2_tile`] over float16 rows.
///
/// # Safety
/// The CPU has AVX2, FMA and F16C; pointers as in [`simd::tile`].
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn avx2_tile_f16<const L2: bool>(
    d: usize,
    qs: &[*const f32],
    rows: &[*const u16],
    out: &mut [f32],
    stride: usize,
) {
    // SAFETY: the caller guarantees the pointers, `out` and `stride` (# Safety above); this
    // function enables AVX2, FMA and F16C, all that `Avx2` needs for f16 rows.
    unsafe {
        simd::tile::<Avx2, u16, L2, { tuning::AVX2_TILE.0 }, { tuning::AVX2_TILE.1 }>(
            d, qs, rows, out, stride,
        )
    }
}

/// Float32 (`T = f32`) or float16 (`T = u16`) rows; AVX-512F converts float16 itself.
///
/// # Safety
/// The CPU has AVX-512F, AVX-512DQ, AVX2 and FMA; pointers as in [`simd::rows`].
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_rows<T: Elem, const L2: bool>(
    d: usize,
    q: *const f32,
    rows: &[*const T],
    out: &mut [f32],
) {
    // SAFETY: the caller guarantees the pointers and `out` (# Safety above); this function
    // enables AVX-512F, AVX-512DQ, AVX2 and FMA, all that `Avx512` needs for either row type.
    unsafe {
        simd::rows::<Avx512, T, L2, { tuning::AVX512_SCAN.0 }, { tuning::AVX512_SCAN.1 }>(d, q, rows, out)
    }
}

/// Float32 or float16 rows, as [`avx512_rows`].
///
/// # Safety
/// The CPU has AVX-512F, AVX-512DQ, AVX2 and FMA; pointers as in [`simd::tile`].
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_tile<T: Elem, const L2: bool>(
    d: usize,
    qs: &[*const f32],
    rows: &[*const T],
    out: &mut [f32],
    stride: usize,
) {
    // 4 x 4 = 16 accumulators + 4 row registers: larger tiles spill accumulators.
    // SAFETY: the caller guarantees the pointers, `out` and `stride` (# Safety above); this
    // function enables AVX-512F, AVX-512DQ, AVX2 and FMA, all that `Avx512` needs.
    unsafe {
        simd::tile::<Avx512, T, L2, { tuning::AVX512_TILE.0 }, { tuning::AVX512_TILE.1 }>(
            d, qs, rows, out, stride,
        )
    }
}

/// Screening dot products of a batch with panel shape `P` of `tuning::AVX2_SCREEN` (rows per
/// step, query registers).
///
/// # Safety
/// The CPU has AVX2 and FMA; pointers as in [`simd::screen`] with that panel width.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_screen<const P: usize>(
    d: usize,
    panel: *const f32,
    rows: &[*const f32],
    out: *mut f32,
    ahead: (&[*const f32], usize),
) {
    const S: [(usize, usize); 2] = tuning::AVX2_SCREEN;
    // SAFETY: the caller guarantees the pointers (# Safety above); this function enables AVX2
    // and FMA, all that `Avx2` needs.
    unsafe {
        match P {
            0 => simd::screen::<Avx2, { S[0].0 }, { S[0].1 }>(d, panel, rows, out, ahead),
            _ => simd::screen::<Avx2, { S[1].0 }, { S[1].1 }>(d, panel, rows, out, ahead),
        }
    }
}

/// As [`avx2_screen`], with `tuning::AVX512_SCREEN`.
///
/// # Safety
/// The CPU has AVX-512F, AVX-512DQ, AVX2 and FMA; pointers as in [`simd::screen`].
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_screen<const P: usize>(
    d: usize,
    panel: *const f32,
    rows: &[*const f32],
    out: *mut f32,
    ahead: (&[*const f32], usize),
) {
    const S: [(usize, usize); 3] = tuning::AVX512_SCREEN;
    // SAFETY: the caller guarantees the pointers (# Safety above); this function enables
    // AVX-512F, AVX-512DQ, AVX2 and FMA, all that `Avx512` needs.
    unsafe {
        match P {
            0 => simd::screen::<Avx512, { S[0].0 }, { S[0].1 }>(d, panel, rows, out, ahead),
            1 => simd::screen::<Avx512, { S[1].0 }, { S[1].1 }>(d, panel, rows, out, ahead),
            _ => simd::screen::<Avx512, { S[2].0 }, { S[2].1 }>(d, panel, rows, out, ahead),
        }
    }
}

/// Four f64 lanes (AVX2 + FMA) for the correctly rounded values of `exact.rs`; its methods
/// need AVX2 and FMA.
#[derive(Clone, Copy)]
pub(crate) struct Avx2F64(__m256d);

impl F64s for Avx2F64 {
    const WIDTH: usize = 4;
    const FMA: bool = true;
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller guarantees AVX2 (# Safety of `F64s`).
        unsafe { Avx2F64(_mm256_setzero_pd()) }
    }
    #[inline(always)]
    unsafe fn splat(x: f64) -> Self {
        // SAFETY: the caller guarantees AVX2 (# Safety of `F64s`).
        unsafe { Avx2F64(_mm256_set1_pd(x)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees `p` is valid for 4 floats and AVX2 (# Safety of
        // `F64s::load`); the load is unaligned.
        unsafe { Avx2F64(_mm256_cvtps_pd(_mm_loadu_ps(p))) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // SAFETY: the caller guarantees `n < 4`, `p` valid for `n` floats and AVX2 (# Safety
        // of `F64s::load_partial`). The mask is read at `4 - n` in 1..=4, so its 4 i32 lie
        // inside MASK's 8; masked-off lanes are not read.
        unsafe {
            // As in `Avx2::load_partial`: masked-off lanes are not read.
            static MASK: [i32; 8] = [-1, -1, -1, -1, 0, 0, 0, 0];
            let m = _mm_loadu_si128(MASK.as_ptr().add(4 - n) as *const __m128i);
            Avx2F64(_mm256_cvtps_pd(_mm_maskload_ps(p, m)))
        }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: the caller guarantees AVX2 (# Safety of `F64s`).
        unsafe { Avx2F64(_mm256_add_pd(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        // SAFETY: the caller guarantees AVX2 (# Safety of `F64s`).
        unsafe { Avx2F64(_mm256_sub_pd(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: the caller guarantees AVX2 (# Safety of `F64s`).
        unsafe { Avx2F64(_mm256_mul_pd(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: the caller guarantees AVX2 and FMA (# Safety of `F64s`).
        unsafe { Avx2F64(_mm256_fmadd_pd(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: the caller guarantees AVX2 (# Safety of `F64s`).
        unsafe { Avx2F64(_mm256_andnot_pd(_mm256_set1_pd(-0.0), self.0)) }
    }
    #[inline(always)]
    unsafe fn store(self, out: *mut f64) {
        // SAFETY: the caller guarantees `out` is valid for writing 4 f64 and AVX2 (# Safety of
        // `F64s::store`); the store is unaligned.
        unsafe { _mm256_storeu_pd(out, self.0) }
    }
}

/// Eight f64 lanes (AVX-512F); its methods need AVX-512F, AVX-512DQ, AVX2 and FMA.
#[derive(Clone, Copy)]
pub(crate) struct Avx512F64(__m512d);

impl F64s for Avx512F64 {
    const WIDTH: usize = 8;
    const FMA: bool = true;
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller guarantees AVX-512F (# Safety of `F64s`).
        unsafe { Avx512F64(_mm512_setzero_pd()) }
    }
    #[inline(always)]
    unsafe fn splat(x: f64) -> Self {
        // SAFETY: the caller guarantees AVX-512F (# Safety of `F64s`).
        unsafe { Avx512F64(_mm512_set1_pd(x)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees `p` is valid for 8 floats and AVX-512F (# Safety of
        // `F64s::load`); the load is unaligned.
        unsafe { Avx512F64(_mm512_cvtps_pd(_mm256_loadu_ps(p))) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // SAFETY: the caller guarantees `n < 8`, `p` valid for `n` floats and AVX-512F
        // (# Safety of `F64s::load_partial`); the mask has the low n bits set and masked-off
        // lanes are not read.
        unsafe {
            // A 16-lane masked load (AVX-512F; masked-off lanes are not read), low half widened.
            let v = _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p);
            Avx512F64(_mm512_cvtps_pd(_mm512_castps512_ps256(v)))
        }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: the caller guarantees AVX-512F (# Safety of `F64s`).
        unsafe { Avx512F64(_mm512_add_pd(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        // SAFETY: the caller guarantees AVX-512F (# Safety of `F64s`).
        unsafe { Avx512F64(_mm512_sub_pd(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: the caller guarantees AVX-512F (# Safety of `F64s`).
        unsafe { Avx512F64(_mm512_mul_pd(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: the caller guarantees AVX-512F (# Safety of `F64s`).
        unsafe { Avx512F64(_mm512_fmadd_pd(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: the caller guarantees AVX-512F (# Safety of `F64s`).
        unsafe { Avx512F64(_mm512_abs_pd(self.0)) }
    }
    #[inline(always)]
    unsafe fn store(self, out: *mut f64) {
        // SAFETY: the caller guarantees `out` is valid for writing 8 f64 and AVX-512F
        // (# Safety of `F64s::store`); the store is unaligned.
        unsafe { _mm512_storeu_pd(out, self.0) }
    }
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_dots_exact(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    // SAFETY: `exact::dots` asks only that the CPU supports `Avx2F64`: AVX2 and FMA,
    // enabled here and guaranteed by the caller (# Safety above).
    unsafe { exact::dots::<Avx2F64>(q, rows, out) }
}

/// # Safety
/// The CPU has AVX-512F, AVX-512DQ, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_dots_exact(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    // SAFETY: `exact::dots` asks only that the CPU supports `Avx512F64`: AVX-512F,
    // AVX-512DQ, AVX2 and FMA, enabled here and guaranteed by the caller (# Safety above).
    unsafe { exact::dots::<Avx512F64>(q, rows, out) }
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_distances_exact(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    // SAFETY: `exact::distances` asks only that the CPU supports `Avx2F64`: AVX2 and FMA,
    // enabled here and guaranteed by the caller (# Safety above).
    unsafe { exact::distances::<Avx2F64>(q, rows, out) }
}

/// # Safety
/// The CPU has AVX-512F, AVX-512DQ, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_distances_exact(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    // SAFETY: `exact::distances` asks only that the CPU supports `Avx512F64`: AVX-512F,
    // AVX-512DQ, AVX2 and FMA, enabled here and guaranteed by the caller (# Safety above).
    unsafe { exact::distances::<Avx512F64>(q, rows, out) }
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2_cosines_exact(q: &[f32], rows: &[&[f32]], norms: &[f64], out: &mut [f32]) {
    // SAFETY: `exact::cosines` asks only that the CPU supports `Avx2F64`: AVX2 and FMA,
    // enabled here and guaranteed by the caller (# Safety above).
    unsafe { exact::cosines::<Avx2F64>(q, rows, norms, out) }
}

/// # Safety
/// The CPU has AVX-512F, AVX-512DQ, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
pub(crate) unsafe fn avx512_cosines_exact(q: &[f32], rows: &[&[f32]], norms: &[f64], out: &mut [f32]) {
    // SAFETY: `exact::cosines` asks only that the CPU supports `Avx512F64`: AVX-512F,
    // AVX-512DQ, AVX2 and FMA, enabled here and guaranteed by the caller (# Safety above).
    unsafe { exact::cosines::<Avx512F64>(q, rows, norms, out) }
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

/// Whether the CPU has F16C (and the AVX it extends): the float16 conversion instructions.
#[inline]
pub(crate) fn has_f16c() -> bool {
    is_x86_feature_detected!("avx") && is_x86_feature_detected!("f16c")
}

/// [`super::f16::narrow_checked`] with F16C: eight values per instruction, rounding to nearest
/// even by the instruction's immediate (bit 2 clear: not the MXCSR mode).
///
/// # Safety
/// The CPU has AVX and F16C; `src.len() == dst.len()`.
#[target_feature(enable = "avx,f16c")]
pub(crate) unsafe fn f16c_narrow_checked(src: &[f32], dst: &mut [u16]) -> Result<(), usize> {
    const RNE: i32 = _MM_FROUND_TO_NEAREST_INT;
    let n = src.len().min(dst.len());
    let full = n - n % 8;
    let mut first = None;
    let exp = _mm_set1_epi16(0x7c00);
    let mut i = 0;
    while i < full {
        // SAFETY: `i + 8 <= full <= n`, so both 8-value accesses are inside the slices; the
        // CPU has AVX and F16C (# Safety above); the loads and stores are unaligned.
        let h = unsafe {
            let h = _mm256_cvtps_ph::<RNE>(_mm256_loadu_ps(src.as_ptr().add(i)));
            _mm_storeu_si128(dst.as_mut_ptr().add(i) as *mut __m128i, h);
            h
        };
        if first.is_none() {
            // Lanes whose exponent is all ones: infinity or NaN.
            let bad = _mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(h, exp), exp));
            if bad != 0 {
                first = Some(i + bad.trailing_zeros() as usize / 2);
            }
        }
        i += 8;
    }
    let tail = super::f16::narrow_checked_portable(&src[full..n], &mut dst[full..n]);
    match (first, tail) {
        (Some(i), _) => Err(i),
        (None, Err(t)) => Err(full + t),
        (None, Ok(())) => Ok(()),
    }
}

/// [`super::f16::widen`] with F16C, eight values per instruction (exact).
///
/// # Safety
/// The CPU has AVX and F16C; `src.len() == dst.len()`.
#[target_feature(enable = "avx,f16c")]
pub(crate) unsafe fn f16c_widen(src: &[u16], dst: &mut [f32]) {
    let n = src.len().min(dst.len());
    let full = n - n % 8;
    let mut i = 0;
    while i < full {
        // SAFETY: `i + 8 <= full <= n`, so both 8-value accesses are inside the slices; the
        // CPU has AVX and F16C (# Safety above); the loads and stores are unaligned.
        unsafe {
            let h = _mm_loadu_si128(src.as_ptr().add(i) as *const __m128i);
            _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_cvtph_ps(h));
        }
        i += 8;
    }
    super::f16::widen_portable(&src[full..n], &mut dst[full..n]);
}
