//! aarch64 kernels (Apple Silicon, Graviton, ...): NEON is part of the base architecture, so
//! this path needs no runtime check. Same shared algorithm as x86 (`simd.rs`), 4 lanes.

use core::arch::aarch64::*;

use super::simd::{self, Lanes};

#[derive(Clone, Copy)]
pub(crate) struct Neon(float32x4_t);

impl Lanes for Neon {
    const WIDTH: usize = 4;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Neon(vdupq_n_f32(0.0))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Neon(vld1q_f32(p))
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        let mut buf = [0.0f32; 4];
        core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
        Neon(vld1q_f32(buf.as_ptr()))
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, acc: Self) -> Self {
        Neon(vfmaq_f32(acc.0, a.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        Neon(vsubq_f32(a.0, b.0))
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        vaddvq_f32(self.0)
    }
}

/// # Safety
/// Pointers as in [`simd::rows`].
#[target_feature(enable = "neon")]
pub(crate) unsafe fn neon_rows<const L2: bool>(
    d: usize,
    q: *const f32,
    rows: &[*const f32],
    out: &mut [f32],
) {
    simd::rows::<Neon, L2>(d, q, rows, out)
}

/// # Safety
/// Pointers as in [`simd::tile`].
#[target_feature(enable = "neon")]
pub(crate) unsafe fn neon_tile<const L2: bool>(
    d: usize,
    qs: &[*const f32],
    rows: &[*const f32],
    out: &mut [f32],
    stride: usize,
) {
    // 4 x 4 = 16 accumulators + 4 row registers of the 32 vector registers.
    simd::tile::<Neon, L2, 4, 4>(d, qs, rows, out, stride)
}
