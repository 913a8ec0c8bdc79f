//! The batch screen on AMX (Intel Sapphire Rapids and later): queries and rows rounded to
//! bfloat16 and multiplied 16 rows x 16 queries x 32 values per instruction (`tdpbf16ps`, f32
//! sums), about 14 times the f32 FMA rate of AVX-512 on the Intel host. Its values only choose
//! which pairs the search scores again with the single-search kernel, so they need only a
//! proven bound ([`super::bf16_error_bound`]). Callers reach it only through
//! [`super::Kernel`], after [`available`].
//!
//! Layouts, in 32-bit words each holding two bfloat16 values (`2p` low, `2p + 1` high), zero
//! past a vector's `d` values, [`words`]`(d)` words a vector:
//! - rows: row `r`'s words from `r * words`, so 16 rows x 16 words are a tile's 16 lines
//!   (stride `words`);
//! - a panel of 32 queries: two halves of 16, word `p` of query `16 h + n` at
//!   `[h * words * 16 + p * 16 + n]` (the pair-interleaved layout `tdpbf16ps` takes);
//! - output: `out[r * 32 + j]`, query `j` dot row `r`.

use std::arch::asm;
use std::arch::x86_64::*;
use std::sync::OnceLock;

use super::{Kernel, Lines};

/// Queries per panel: two tiles of 16.
const PANEL: usize = Kernel::AMX_PANEL;
/// Rows per step: two tiles of 16, as many as a panel's queries.
const ROWS: usize = Kernel::AMX_PANEL;

fn words(d: usize) -> usize {
    Kernel::amx_words(d)
}

/// Whether this process may use AMX with bfloat16 and has the AVX-512 BF16 conversions: the
/// CPU reports AMX-TILE, AMX-BF16 and AVX-512 BF16, the OS enables the tile state, and Linux
/// grants the process the tile data (`arch_prctl(ARCH_REQ_XCOMP_PERM)`, asked once).
pub(crate) fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            if !(is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bf16")
                && is_x86_feature_detected!("xsave"))
            {
                return false;
            }
            // SAFETY: CPUID leaf 7 exists on every CPU with AVX-512F.
            #[allow(unused_unsafe)]
            let leaf7 = unsafe { __cpuid_count(7, 0) };
            let (tile, bf16) = (leaf7.edx >> 24 & 1 == 1, leaf7.edx >> 22 & 1 == 1);
            if !(tile && bf16) {
                return false;
            }
            // SAFETY: XGETBV with ECX = 0 is defined when the OS uses XSAVE (OSXSAVE, implied
            // by the xsave feature Rust detects only with OS support).
            let xcr0 = unsafe { _xgetbv(0) };
            if xcr0 & (3 << 17) != 3 << 17 {
                return false;
            }
            const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
            const XFEATURE_XTILEDATA: libc::c_long = 18;
            // SAFETY: a plain syscall with integer arguments; it only changes the process's
            // permission to use the tile state.
            unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0 }
        }
        #[cfg(not(target_os = "linux"))]
        false
    })
}

/// `x` rounded to the nearest bfloat16 (ties to even) as `vcvtne2ps2bf16` rounds it: values
/// below the smallest normal f32 become zero of the same sign. `x` is finite.
fn round(x: f32) -> u32 {
    let bits = x.to_bits();
    if x.abs() < f32::MIN_POSITIVE {
        return (bits >> 16) & 0x8000;
    }
    (bits + 0x7fff + ((bits >> 16) & 1)) >> 16
}

/// A panel of up to [`PANEL`] queries (each `d` values, finite) in the layout above, as f32
/// bit patterns in an aligned buffer; missing queries are zero.
pub(crate) fn panel(queries: &[&[f32]], d: usize) -> Lines {
    let words = words(d);
    let mut panel = Lines::zeros(PANEL * words);
    let values = panel.values_mut();
    for (j, q) in queries.iter().enumerate() {
        let (h, n) = (j / 16, j % 16);
        for (p, two) in q.chunks(2).enumerate() {
            let word = round(two[0]) | two.get(1).map_or(0, |&x| round(x)) << 16;
            values[h * words * 16 + p * 16 + n] = f32::from_bits(word);
        }
    }
    panel
}

/// Rows converted to the layout above: `rows[r]` (each `d` values) to words from `out[r *
/// words]`, and `pad` zero rows after them.
///
/// # Safety
/// The CPU has AVX-512F and AVX-512 BF16; every row holds `d` values; `out` is valid for
/// writing `(rows.len() + pad) * words(d)` words and aligned to 64 bytes.
#[target_feature(enable = "avx512f,avx512bf16")]
pub(crate) unsafe fn convert(d: usize, rows: &[&[f32]], pad: usize, out: *mut u32) {
    let words = words(d);
    // SAFETY: the caller's contract: loads read within each row's `d` values (masked loads only
    // `d - k` of them), and row `r`'s stores cover its `words` words from an aligned start.
    unsafe {
        for (r, row) in rows.iter().enumerate() {
            let (src, dst) = (row.as_ptr(), out.add(r * words));
            let mut k = 0;
            while k + 32 <= d {
                let pair = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src.add(k + 16)), _mm512_loadu_ps(src.add(k)));
                _mm512_store_si512(
                    dst.add(k / 2) as *mut __m512i,
                    std::mem::transmute::<__m512bh, __m512i>(pair),
                );
                k += 32;
            }
            while k < 2 * words {
                let (low, high) = (d.saturating_sub(k).min(16), d.saturating_sub(k + 16).min(16));
                let low = _mm512_maskz_loadu_ps(((1u32 << low) - 1) as __mmask16, src.add(k.min(d)));
                let high = _mm512_maskz_loadu_ps(((1u32 << high) - 1) as __mmask16, src.add((k + 16).min(d)));
                let pair = _mm512_cvtne2ps_pbh(high, low);
                _mm512_store_si512(
                    dst.add(k / 2) as *mut __m512i,
                    std::mem::transmute::<__m512bh, __m512i>(pair),
                );
                k += 32;
            }
        }
        std::ptr::write_bytes(out.add(rows.len() * words), 0, pad * words);
    }
}

/// Eight tiles of 16 rows x 64 bytes: four sums (16 rows x 16 queries of f32), two of rows and
/// two of queries (16 x 32 bfloat16 each).
#[repr(C, align(64))]
struct Config([u8; 64]);

const CONFIG: Config = {
    let mut c = [0u8; 64];
    c[0] = 1; // palette 1
    let mut t = 0;
    while t < 8 {
        c[16 + 2 * t] = 64; // bytes per tile row (u16, little-endian)
        c[48 + t] = 16; // rows
        t += 1;
    }
    Config(c)
};

/// The screen: `out[r * 32 + j]` gets the f32 sum of the bfloat16 products of query `j` of
/// `panel` and row `r` of `rows` (`m` rows, a multiple of [`ROWS`], `words` words each).
/// (Prefetching the caller's next rows meanwhile, into L1 or L2, made a batch 9-20% slower on
/// the Intel host: the conversion streams them at close to the read floor as it is.)
///
/// # Safety
/// [`available`] is true; `panel` is valid for reading `PANEL * words` words, `rows` for `m *
/// words`, `out` for writing `m * PANEL` floats; `words` is a multiple of 16 and `m` of
/// [`ROWS`].
pub(crate) unsafe fn screen(words: usize, panel: *const u32, rows: *const u32, m: usize, out: *mut f32) {
    let row_stride = words * 4;
    let out_stride = PANEL * 4;
    // SAFETY: the caller's contract. Every tile load reads 16 lines of 64 bytes: rows
    // `i..i + 16` of `rows` at words `16 t..16 t + 16` (stride `words`), or 16 of a panel half's
    // lines; every store writes 16 lines of 16 floats of `out` (stride 32 floats). The tile
    // configuration is loaded first and released last, on this thread.
    unsafe {
        asm!("ldtilecfg [{}]", in(reg) CONFIG.0.as_ptr(), options(nostack, readonly));
        let mut i = 0;
        while i < m {
            asm!("tilezero tmm0", "tilezero tmm1", "tilezero tmm2", "tilezero tmm3", options(nostack, nomem));
            let (a0, a1) = (rows.add(i * words), rows.add((i + 16) * words));
            for t in 0..words / 16 {
                let (b0, b1) = (panel.add(t * 256), panel.add(words * 16 + t * 256));
                asm!(
                    "tileloadd tmm4, [{a0} + {rs} * 1]",
                    "tileloadd tmm5, [{a1} + {rs} * 1]",
                    "tileloadd tmm6, [{b0} + {bs} * 1]",
                    "tileloadd tmm7, [{b1} + {bs} * 1]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    a0 = in(reg) a0.add(t * 16),
                    a1 = in(reg) a1.add(t * 16),
                    b0 = in(reg) b0,
                    b1 = in(reg) b1,
                    rs = in(reg) row_stride,
                    bs = in(reg) 64usize,
                    options(nostack, readonly),
                );
            }
            let at = out.add(i * PANEL);
            asm!(
                "tilestored [{c0} + {s} * 1], tmm0",
                "tilestored [{c1} + {s} * 1], tmm1",
                "tilestored [{c2} + {s} * 1], tmm2",
                "tilestored [{c3} + {s} * 1], tmm3",
                c0 = in(reg) at,
                c1 = in(reg) at.add(16),
                c2 = in(reg) at.add(16 * PANEL),
                c3 = in(reg) at.add(16 * PANEL + 16),
                s = in(reg) out_stride,
                options(nostack),
            );
            i += ROWS;
        }
        asm!("tilerelease", options(nostack, nomem));
    }
}
