//! IEEE 754 binary16 (float16) rows, held as their `u16` bit patterns.
//!
//! Conversions give the same bits on every host: [`to_f16`] rounds to nearest, ties to even,
//! and [`to_f32`] is exact. The bulk versions ([`narrow_checked`], [`widen`]) use the CPU's
//! conversion instructions where there are some (F16C on x86-64, NEON's `fcvtl` on aarch64)
//! and plain Rust elsewhere; the tests prove each instruction path bit-identical to the plain
//! one over every f16 pattern (widening) and over a large f32 sample with every tie, boundary
//! and subnormal case (narrowing). Stored bits therefore never depend on the CPU.
//!
//! Special values: an f32 NaN narrows to a quiet f16 NaN keeping the sign and the payload's
//! top bits; an f16 NaN widens to a quiet f32 NaN with the payload shifted up; infinities map
//! to infinities. That is what the instructions do, so the plain code does it too: rows read
//! from an untrusted file may hold such patterns, and they must give the same (if meaningless)
//! numbers on every path.

/// The largest finite f16 (65504).
pub const F16_MAX: f32 = 65504.0;

/// The f16 nearest `x` (ties to even), as its bit pattern. `|x| >= 65520` rounds to infinity
/// (see [`narrow_checked`] to detect it).
#[inline]
pub fn to_f16(x: f32) -> u16 {
    let f = x.to_bits();
    let sign = ((f >> 16) & 0x8000) as u16;
    let a = f & 0x7fff_ffff;
    let h = if a >= 0x4780_0000 {
        // |x| >= 2^16, infinity or NaN.
        if a > 0x7f80_0000 {
            0x7e00 | ((a >> 13) & 0x3ff)
        } else {
            0x7c00
        }
    } else if a >= 0x3880_0000 {
        // |x| >= 2^-14: a normal f16 (or infinity after rounding up from [65520, 65536)).
        // Rebias the exponent (127 -> 15), then round the 13 dropped bits to nearest, even.
        let odd = (a >> 13) & 1;
        (a - (112 << 23) + 0xfff + odd) >> 13
    } else {
        // A subnormal f16 (or zero): the value in units of 2^-24, rounded to nearest, even.
        let e = a >> 23;
        if e < 102 {
            // |x| < 2^-25 (including f32 subnormals): rounds to zero; 2^-25 itself is a tie
            // between 0 and 2^-24, which goes to 0 (even).
            0
        } else {
            let m = (a & 0x7f_ffff) | 0x80_0000;
            let shift = 126 - e; // 14..=24: |x| = m * 2^-24 / 2^shift
            let q = m >> shift;
            let rem = m & ((1 << shift) - 1);
            let half = 1 << (shift - 1);
            q + (rem > half || (rem == half && q & 1 == 1)) as u32
        }
    } as u16;
    sign | h
}

/// The f32 value of the f16 bit pattern `h` (exact; NaN as described in the module docs).
#[inline]
pub fn to_f32(h: u16) -> f32 {
    // Branch-free so loops over rows vectorize: every case is computed, one is selected.
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let em = (h & 0x7fff) << 13;
    let exp = em & 0x0f80_0000;
    let normal = em + ((127 - 15) << 23);
    // Infinity and NaN: the exponent goes to 255; a NaN becomes quiet.
    let special = (normal + ((128 - 16) << 23)) | if em & 0x7f_ffff != 0 { 0x40_0000 } else { 0 };
    // Zero and subnormals: 2^-14 * 0.m, renormalized by an exact subtraction (the result is
    // an f32 normal or zero, so no rounding and no flushing can happen).
    let sub = (f32::from_bits(normal + (1 << 23)) - f32::from_bits(113 << 23)).to_bits();
    let bits = if exp == 0x0f80_0000 {
        special
    } else if exp == 0 {
        sub
    } else {
        normal
    };
    f32::from_bits(bits | sign)
}

/// Converts `src` to f16 into `dst` ([`to_f16`] of each value), and returns the index of the
/// first value whose f16 is not finite: `|x| >= 65520` (it rounds to infinity), or an
/// infinity or NaN. `dst` holds every converted value either way.
///
/// Panics if the lengths differ.
pub fn narrow_checked(src: &[f32], dst: &mut [u16]) -> Result<(), usize> {
    assert_eq!(src.len(), dst.len(), "one f16 per f32");
    #[cfg(target_arch = "x86_64")]
    if super::x86::has_f16c() {
        // SAFETY: the CPU has AVX and F16C (checked), and the lengths are equal (asserted above).
        return unsafe { super::x86::f16c_narrow_checked(src, dst) };
    }
    narrow_checked_portable(src, dst)
}

/// [`narrow_checked`] in plain Rust (the reference the instruction paths are tested against).
pub fn narrow_checked_portable(src: &[f32], dst: &mut [u16]) -> Result<(), usize> {
    assert_eq!(src.len(), dst.len(), "one f16 per f32");
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = to_f16(x);
    }
    match dst.iter().position(|&h| h & 0x7c00 == 0x7c00) {
        Some(i) => Err(i),
        None => Ok(()),
    }
}

/// Widens f16 bit patterns to f32 ([`to_f32`] of each, exact): the rows the exact (correctly
/// rounded) searches read, in whatever blocks the caller chooses.
///
/// Panics if the lengths differ.
pub fn widen(src: &[u16], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len(), "one f32 per f16");
    #[cfg(target_arch = "x86_64")]
    if super::x86::has_f16c() {
        // SAFETY: the CPU has AVX and F16C (checked), and the lengths are equal (asserted above).
        return unsafe { super::x86::f16c_widen(src, dst) };
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("neon") {
        // SAFETY: the CPU has NEON (checked), and the lengths are equal (asserted above).
        return unsafe { super::neon::neon_widen(src, dst) };
    }
    widen_portable(src, dst)
}

/// [`widen`] in plain Rust (the reference the instruction paths are tested against).
pub fn widen_portable(src: &[u16], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len(), "one f32 per f16");
    for (d, &h) in dst.iter_mut().zip(src) {
        *d = to_f32(h);
    }
}
