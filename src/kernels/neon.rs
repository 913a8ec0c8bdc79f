//! aarch64 kernels (Apple Silicon, Graviton, ...): NEON is part of the base architecture, so
//! this path needs no runtime check. Same shared algorithm as x86 (`simd.rs`), 4 lanes.
//!
//! The register types' methods are NEON intrinsics: their `# Safety` contracts (on [`Lanes`]
//! and [`F64s`]) require a CPU with NEON, which the `#[target_feature]` entry points below
//! enable and [`super::Kernel::is_supported`] checks.
//!
//! Float16 rows are widened with `fcvtl` (base AArch64 SIMD, exact for every pattern,
//! subnormals included, and not subject to the flush-to-zero controls: conversions ignore
//! FPCR.FZ16). Rust's float16 vector intrinsics are not stable yet, so it is written as
//! inline assembly on the u16 bits.

use core::arch::aarch64::*;

use super::exact::{self, F64s};
use super::simd::{self, Elem, Lanes};
use super::tuning;

/// Four f32 lanes; its methods need NEON.
#[derive(Clone, Copy)]
pub(crate) struct Neon(float32x4_t);

impl Lanes for Neon {
    const WIDTH: usize = 4;
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller guarantees NEON (# Safety of `Lanes::zero`).
        unsafe { Neon(vdupq_n_f32(0.0)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees `p` is aligned and valid for 4 floats, and NEON
        // (# Safety of `Lanes::load`).
        unsafe { Neon(vld1q_f32(p)) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        let mut buf = [0.0f32; 4];
        // SAFETY: the caller guarantees `n < 4` and `p` aligned and valid for `n` floats, and
        // NEON (# Safety of `Lanes::load_partial`); `buf` is a local array of 4 floats.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            Neon(vld1q_f32(buf.as_ptr()))
        }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> Self {
        // SAFETY: the caller guarantees `p` is aligned and valid for 4 u16, and NEON (# Safety
        // of `Lanes::load_f16`).
        unsafe { Neon(widen4(vld1_u16(p))) }
    }
    #[inline(always)]
    unsafe fn load_partial_f16(p: *const u16, n: usize) -> Self {
        let mut buf = [0u16; 4];
        // SAFETY: the caller guarantees `n < 4` and `p` aligned and valid for `n` u16, and NEON
        // (# Safety of `Lanes::load_partial_f16`); `buf` is a local array of 4 u16.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            Self::load_f16(buf.as_ptr())
        }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: the caller guarantees NEON (# Safety of `Lanes::splat`).
        unsafe { Neon(vdupq_n_f32(x)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees `p` is aligned and valid for 4 floats, and NEON
        // (# Safety of `Lanes::store`).
        unsafe { vst1q_f32(p, self.0) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, acc: Self) -> Self {
        // SAFETY: the caller guarantees NEON (# Safety of `Lanes::mul_add`).
        unsafe { Neon(vfmaq_f32(acc.0, a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        // SAFETY: the caller guarantees NEON (# Safety of `Lanes::sub`).
        unsafe { Neon(vsubq_f32(a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        // SAFETY: the caller guarantees NEON (# Safety of `Lanes::sum`).
        unsafe { vaddvq_f32(self.0) }
    }
}

/// Four f16 bit patterns widened exactly to f32 (`fcvtl`).
///
/// # Safety
/// The CPU has NEON.
#[inline(always)]
unsafe fn widen4(h: uint16x4_t) -> float32x4_t {
    let out: float32x4_t;
    // SAFETY: `fcvtl` is a base AArch64 SIMD instruction (the caller guarantees NEON, # Safety
    // above); it reads and writes only the two named vector registers, touches no memory and
    // no stack. It may set FPSR's cumulative exception bits (a signalling NaN), so the flags
    // are not declared preserved.
    unsafe {
        core::arch::asm!(
            "fcvtl {out:v}.4s, {h:v}.4h",
            out = lateout(vreg) out,
            h = in(vreg) h,
            options(pure, nomem, nostack),
        );
    }
    out
}

/// Float32 (`T = f32`) or float16 (`T = u16`) rows.
///
/// # Safety
/// The CPU has NEON; pointers as in [`simd::rows`].
#[target_feature(enable = "neon")]
pub(crate) unsafe fn neon_rows<T: Elem, const L2: bool>(
    d: usize,
    q: *const f32,
    rows: &[*const T],
    out: &mut [f32],
) {
    // SAFETY: the caller guarantees the pointers and `out` (# Safety above); this function
    // enables NEON, all that `Neon` needs for either row type.
    unsafe { simd::rows::<Neon, T, L2, { tuning::NEON_SCAN.0 }, { tuning::NEON_SCAN.1 }>(d, q, rows, out) }
}

/// Float32 or float16 rows, as [`neon_rows`].
///
/// # Safety
/// The CPU has NEON; pointers as in [`simd::tile`].
#[target_feature(enable = "neon")]
pub(crate) unsafe fn neon_tile<T: Elem, const L2: bool>(
    d: usize,
    qs: &[*const f32],
    rows: &[*const T],
    out: &mut [f32],
    stride: usize,
) {
    // 4 x 4 = 16 accumulators + 4 row registers of the 32 vector registers.
    // SAFETY: the caller guarantees the pointers, `out` and `stride` (# Safety above); this
    // function enables NEON, all that `Neon` needs for either row type.
    unsafe {
        simd::tile::<Neon, T, L2, { tuning::NEON_TILE.0 }, { tuning::NEON_TILE.1 }>(d, qs, rows, out, stride)
    }
}

/// Screening dot products of a batch with panel shape `P` of `tuning::NEON_SCREEN` (rows per
/// step, query registers).
///
/// # Safety
/// The CPU has NEON; pointers as in [`simd::screen`] with that panel width.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn neon_screen<const P: usize>(
    d: usize,
    panel: *const f32,
    rows: &[*const f32],
    out: *mut f32,
    ahead: (&[*const f32], usize),
) {
    const S: [(usize, usize); 2] = tuning::NEON_SCREEN;
    // SAFETY: the caller guarantees the pointers (# Safety above); this function enables NEON,
    // all that `Neon` needs.
    unsafe {
        match P {
            0 => simd::screen::<Neon, { S[0].0 }, { S[0].1 }>(d, panel, rows, out, ahead),
            _ => simd::screen::<Neon, { S[1].0 }, { S[1].1 }>(d, panel, rows, out, ahead),
        }
    }
}

/// [`super::f16::widen`] with `fcvtl`, four values per instruction (exact).
///
/// # Safety
/// The CPU has NEON; `src.len() == dst.len()`.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn neon_widen(src: &[u16], dst: &mut [f32]) {
    let n = src.len().min(dst.len());
    let full = n - n % 4;
    let mut i = 0;
    while i < full {
        // SAFETY: `i + 4 <= full <= n`, so both 4-value accesses are inside the slices (and
        // aligned for their types); the CPU has NEON (# Safety above).
        unsafe { vst1q_f32(dst.as_mut_ptr().add(i), widen4(vld1_u16(src.as_ptr().add(i)))) };
        i += 4;
    }
    super::f16::widen_portable(&src[full..n], &mut dst[full..n]);
}

/// Two f64 lanes for the correctly rounded values of `exact.rs`; its methods need NEON.
#[derive(Clone, Copy)]
pub(crate) struct NeonF64(float64x2_t);

impl F64s for NeonF64 {
    const WIDTH: usize = 2;
    const FMA: bool = true;
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller guarantees NEON (# Safety of `F64s`).
        unsafe { NeonF64(vdupq_n_f64(0.0)) }
    }
    #[inline(always)]
    unsafe fn splat(x: f64) -> Self {
        // SAFETY: the caller guarantees NEON (# Safety of `F64s`).
        unsafe { NeonF64(vdupq_n_f64(x)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees `p` is aligned and valid for 2 floats, and NEON
        // (# Safety of `F64s::load`).
        unsafe { NeonF64(vcvt_f64_f32(vld1_f32(p))) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        let mut buf = [0.0f32; 2];
        // SAFETY: the caller guarantees `n < 2` and `p` aligned and valid for `n` floats, and
        // NEON (# Safety of `F64s::load_partial`); `buf` is a local array of 2 floats.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            NeonF64(vcvt_f64_f32(vld1_f32(buf.as_ptr())))
        }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: the caller guarantees NEON (# Safety of `F64s`).
        unsafe { NeonF64(vaddq_f64(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        // SAFETY: the caller guarantees NEON (# Safety of `F64s`).
        unsafe { NeonF64(vsubq_f64(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: the caller guarantees NEON (# Safety of `F64s`).
        unsafe { NeonF64(vmulq_f64(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: the caller guarantees NEON (# Safety of `F64s`).
        unsafe { NeonF64(vfmaq_f64(c.0, self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: the caller guarantees NEON (# Safety of `F64s`).
        unsafe { NeonF64(vabsq_f64(self.0)) }
    }
    #[inline(always)]
    unsafe fn store(self, out: *mut f64) {
        // SAFETY: the caller guarantees `out` is aligned and valid for writing 2 f64, and NEON
        // (# Safety of `F64s::store`).
        unsafe { vst1q_f64(out, self.0) }
    }
}

/// # Safety
/// The CPU has NEON (always on aarch64).
#[target_feature(enable = "neon")]
pub(crate) unsafe fn neon_dots_exact(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    // SAFETY: `exact::dots` asks only that the CPU supports `NeonF64`: NEON, enabled here
    // and guaranteed by the caller (# Safety above).
    unsafe { exact::dots::<NeonF64>(q, rows, out) }
}

/// # Safety
/// As for [`neon_dots_exact`].
#[target_feature(enable = "neon")]
pub(crate) unsafe fn neon_distances_exact(q: &[f32], rows: &[&[f32]], out: &mut [f64]) {
    // SAFETY: `exact::distances` asks only that the CPU supports `NeonF64`: NEON, enabled here
    // and guaranteed by the caller (# Safety above).
    unsafe { exact::distances::<NeonF64>(q, rows, out) }
}

/// # Safety
/// As for [`neon_dots_exact`].
#[target_feature(enable = "neon")]
pub(crate) unsafe fn neon_cosines_exact(q: &[f32], rows: &[&[f32]], norms: &[f64], out: &mut [f32]) {
    // SAFETY: `exact::cosines` asks only that the CPU supports `NeonF64`: NEON, enabled here
    // and guaranteed by the caller (# Safety above).
    unsafe { exact::cosines::<NeonF64>(q, rows, norms, out) }
}

/// # Safety
/// The CPU has NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn neon_norm_sq_f64(a: &[f32]) -> f64 {
    super::portable::norm_sq_f64(a)
}

/// # Safety
/// The CPU has NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn neon_scale_f64(row: &mut [f32], inv: f64) {
    super::portable::scale_f64(row, inv)
}
