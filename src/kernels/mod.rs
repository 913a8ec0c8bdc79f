//! Distance kernels over float32 and float16 rows.
//!
//! Every kernel has a portable implementation (`portable`) that the tests treat as the
//! reference. Faster target-specific versions (AVX2+FMA and AVX-512 on x86-64, NEON on
//! aarch64) share one algorithm (`simd.rs`) and are chosen once per process at runtime: the
//! best one the CPU supports, or the one named by the `NVS_KERNEL` environment variable
//! (`portable`, `avx2`, `avx512`, `neon`) when the CPU supports it. The search code calls
//! [`Kernel::scores`] / [`Kernel::scores_tile`] on [`Kernel::active`], never an implementation,
//! and [`Kernel::screen`] to rank the pairs of a large batch: a matrix product in another
//! summation order, whose values only pick the pairs that `scores` then gives their values
//! (both within [`dot_error_bound`] of the exact dot product).
//!
//! Within one implementation a (query, row) pair always gets the same value bit for bit,
//! wherever the row sits in a block and whether it came from a single or a batch search.
//! Implementations differ from each other only by float rounding, except where every one gives
//! the same bits: the float16 conversions ([`mod@f16`]), the exact values of raw stores ([`Kernel::dots_exact`],
//! [`Kernel::distances_exact`], [`Kernel::cosines_exact`], [`norm_exact`]), which are correctly
//! rounded, and the f64 row helpers ([`Kernel::norm_sq_f64`], [`Kernel::scale_f64`]), whose
//! operation order is fixed by one portable source.
//!
//! Float16 rows ([`Kernel::scores_f16`], [`Kernel::scores_tile_f16`]) are `u16` bit patterns,
//! widened exactly to f32 as they are loaded; queries and arithmetic stay f32. Each
//! implementation scores a float16 row bit for bit as it scores the row's widened float32
//! copy ([`f16::widen`]), so every promise above holds for float16 rows too. AVX2 widens with
//! F16C; on an AVX2 CPU without F16C (virtual machines can hide it) the AVX2 kernel widens
//! blocks of rows into a buffer in plain Rust and scores that: the same bits, slower.

use std::sync::OnceLock;

use simd::Elem;

pub use exact::norm_hint_tolerance;

mod exact;
pub mod f16;
pub mod portable;
mod simd;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_f16;
pub(crate) mod tuning;

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(target_arch = "aarch64")]
mod neon;

/// What a kernel computes for each (query, row) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// The dot product.
    Dot,
    /// The squared euclidean distance.
    L2sq,
}

/// One implementation of the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Plain Rust, auto-vectorized for the target's baseline (SSE2 on x86-64). Runs anywhere.
    Portable,
    /// x86-64 AVX2 + FMA, 8 lanes. Float16 rows also use F16C; without it they are widened
    /// in plain Rust first (the same bits).
    Avx2,
    /// x86-64 AVX-512F (+DQ), 16 lanes.
    Avx512,
    /// aarch64 NEON, 4 lanes.
    Neon,
}

/// The unit roundoff of f32 (2^-24): the largest relative error of one rounding to nearest.
pub(crate) const U32: f64 = f32::EPSILON as f64 / 2.0;

/// A bound on how far an f32 dot product of `d` values computed by [`Kernel::scores`],
/// [`Kernel::scores_tile`] or [`Kernel::screen`] (any implementation) lies from the exact one,
/// given `abs_dot >= sum |q_i r_i|` (for instance the product of the two norms).
///
/// Every one of them sums the products in chains of at most `d` fused or plain steps followed
/// by at most 5 levels of pairwise additions (portable: a tail chain too), so each value
/// carries at most `n = d + 32` roundings of relative size `u = 2^-24`: the classic bound
/// `gamma_n * sum |q_i r_i|`, `gamma_n = n u / (1 - n u)`, plus an absolute `2 n * 2^-149` for
/// products and sums that fall among the subnormals. The result is rounded up generously.
/// This assumes IEEE gradual underflow, the default: a host process that sets flush-to-zero
/// (FTZ/DAZ, as `-ffast-math` builds may) can make each tiny result err by up to 2^-126.
pub fn dot_error_bound(d: usize, abs_dot: f64) -> f64 {
    let n = d as f64 + 32.0;
    let gamma = n * U32 / (1.0 - n * U32).max(f64::MIN_POSITIVE);
    (gamma * abs_dot + 2.0 * n * f64::from(f32::from_bits(1))) * (1.0 + 1e-6)
}

/// A bound on how far [`Kernel::screen_amx`]'s value for a query and a row of `d` values lies
/// from their exact dot product, given `abs_dot >= sum |q_i r_i|` and the norms `q` and `r`.
///
/// - Rounding to bfloat16 moves each value by at most 2^-8 of itself, or by less than 2^-126
///   (values below it become zero), so each product moves by at most (2^-7 + 2^-16) of itself
///   plus 2^-125 (|q_i| + |r_i| + 1).
/// - A product of two bfloat16 values is exact in f32; a pair's `d` products are summed with
///   at most `d + 32` roundings in any order, `gamma_(d+32)` of the products' magnitudes (at
///   most 1.01 `abs_dot` plus the terms above), and results below the smallest normal are
///   flushed to zero: at most 2^-126 each, `2 d + 64` of them.
/// - The sums over `i` of `|q_i|` and `|r_i|` are at most `sqrt(d)` times the norms.
pub fn bf16_error_bound(d: usize, abs_dot: f64, q: f64, r: f64) -> f64 {
    let n = d as f64 + 32.0;
    let gamma = n * U32 / (1.0 - n * U32).max(f64::MIN_POSITIVE);
    let tiny = 2f64.powi(-125) * ((d as f64).sqrt() * (q + r) + d as f64) + 2.0 * n * 2f64.powi(-126);
    let rounding = (2f64.powi(-7) + 2f64.powi(-16)) * abs_dot + tiny;
    (rounding + gamma * (1.01 * abs_dot + tiny) + tiny) * (1.0 + 1e-6)
}

/// f32 values in a buffer aligned to 64-byte cache lines, zero past the values: the kernels load
/// such buffers a register at a time again and again, and a load that straddles two lines
/// costs two (up to 18% of a batch at 1536 dims on AVX-512).
#[derive(Clone)]
pub struct Lines {
    lines: Vec<Line>,
    len: usize,
}

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([f32; 16]);

impl Lines {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Lines {
        Lines { lines: vec![Line([0.0; 16]); len.div_ceil(16)], len }
    }

    /// The values.
    pub fn values(&self) -> &[f32] {
        // SAFETY: `Line` is 16 f32 with no padding (`repr(C)`, size 64), so the lines are
        // `16 * lines.len() >= len` initialized f32 in a row, borrowed from `self`.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr() as *const f32, self.len) }
    }

    /// The values, to write.
    pub fn values_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `values`, borrowed mutably from `self`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr() as *mut f32, self.len) }
    }
}

/// `queries` (at most `width`, each `d` values) packed for [`Kernel::screen`]: value `k` of
/// query `j` at `[k * width + j]`, the lanes of missing queries zero.
pub fn screen_panel(queries: &[&[f32]], width: usize, d: usize) -> Lines {
    assert!(queries.len() <= width, "{} queries for a panel of {width}", queries.len());
    let mut panel = Lines::zeros(d * width);
    let values = panel.values_mut();
    for (j, q) in queries.iter().enumerate() {
        assert_eq!(q.len(), d, "every query must be {d} values");
        for (k, &x) in q.iter().enumerate() {
            values[k * width + j] = x;
        }
    }
    panel
}

/// Row pointers handed to an instruction-set kernel per call: bounds the stack arrays.
const CHUNK: usize = 256;

impl Kernel {
    /// Every implementation, in order of preference (best last).
    pub const ALL: [Kernel; 4] = [Kernel::Portable, Kernel::Neon, Kernel::Avx2, Kernel::Avx512];

    /// The implementation this process uses, chosen on first use: `NVS_KERNEL` if it names a
    /// supported implementation, else [`Kernel::best`].
    pub fn active() -> Kernel {
        static ACTIVE: OnceLock<Kernel> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            std::env::var("NVS_KERNEL")
                .ok()
                .and_then(|name| Kernel::from_name(name.trim()))
                .filter(|k| k.is_supported())
                .unwrap_or_else(Kernel::best)
        })
    }

    /// The fastest implementation this CPU supports.
    pub fn best() -> Kernel {
        Kernel::ALL.into_iter().rev().find(|k| k.is_supported()).unwrap_or(Kernel::Portable)
    }

    /// Every implementation this CPU can run (the tests run each against the reference).
    pub fn supported() -> Vec<Kernel> {
        Kernel::ALL.into_iter().filter(|k| k.is_supported()).collect()
    }

    /// Whether this CPU can run the implementation.
    pub fn is_supported(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512dq")
                    && Kernel::Avx2.is_supported()
            }
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The name `NVS_KERNEL` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
            Kernel::Neon => "neon",
        }
    }

    pub fn from_name(name: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// Score `query` against each row: `out[i]` = op(query, rows[i]).
    ///
    /// Panics if a row's length differs from the query's, if `out.len() != rows.len()`, or if
    /// this CPU does not support the implementation.
    pub fn scores(self, op: Op, query: &[f32], rows: &[&[f32]], out: &mut [f32]) {
        self.scores_of(op, query, rows, out)
    }

    /// [`Kernel::scores`] over float16 rows (`u16` bit patterns): `out[i]` is bit for bit
    /// what [`Kernel::scores`] gives for `rows[i]` widened to f32 ([`f16::widen`]).
    ///
    /// Panics as [`Kernel::scores`] does.
    pub fn scores_f16(self, op: Op, query: &[f32], rows: &[&[u16]], out: &mut [f32]) {
        if self.widens_f16_in_registers() {
            self.scores_of(op, query, rows, out)
        } else {
            self.scores_f16_widened(op, query, rows, out)
        }
    }

    /// [`Kernel::scores_tile`] over float16 rows: each value is bit for bit what
    /// [`Kernel::scores_f16`] (and so [`Kernel::scores_tile`] on the widened rows) gives.
    ///
    /// Panics as [`Kernel::scores_tile`] does.
    pub fn scores_tile_f16(self, op: Op, queries: &[&[f32]], rows: &[&[u16]], out: &mut [f32]) {
        if self.widens_f16_in_registers() {
            self.scores_tile_of(op, queries, rows, out)
        } else {
            self.scores_tile_f16_widened(op, queries, rows, out)
        }
    }

    /// Whether this implementation widens float16 rows as it loads them (true except for
    /// AVX2 on a CPU without F16C, or an implementation the CPU cannot run).
    fn widens_f16_in_registers(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => x86::has_f16c(),
            _ => true,
        }
    }

    /// [`Kernel::scores_f16`] by widening blocks of rows into a buffer (plain Rust) and
    /// scoring them with [`Kernel::scores`]: the same bits, since a pair's value does not
    /// depend on where its row sits.
    fn scores_f16_widened(self, op: Op, query: &[f32], rows: &[&[u16]], out: &mut [f32]) {
        assert_eq!(out.len(), rows.len(), "one output per row");
        let d = query.len();
        assert!(rows.iter().all(|r| r.len() == d), "every row must be as wide as the query");
        let per = (WIDEN_BLOCK / d.max(1)).max(1);
        let mut buf = vec![0.0f32; per.min(rows.len()) * d];
        for (rows, out) in rows.chunks(per).zip(out.chunks_mut(per)) {
            let wide = &mut buf[..rows.len() * d];
            for (w, r) in wide.chunks_exact_mut(d.max(1)).zip(rows) {
                f16::widen_portable(r, w);
            }
            let refs: Vec<&[f32]> = (0..rows.len()).map(|i| &wide[i * d..(i + 1) * d]).collect();
            self.scores(op, query, &refs, out);
        }
    }

    /// [`Kernel::scores_tile_f16`] by widening blocks of rows, as [`Kernel::scores_f16_widened`].
    fn scores_tile_f16_widened(self, op: Op, queries: &[&[f32]], rows: &[&[u16]], out: &mut [f32]) {
        assert_eq!(out.len(), queries.len() * rows.len(), "one output per (query, row) pair");
        let Some(first) = queries.first() else { return };
        let d = first.len();
        assert!(rows.iter().all(|r| r.len() == d), "every row must be as wide as the queries");
        let (nq, nr) = (queries.len(), rows.len());
        let per = (WIDEN_BLOCK / d.max(1)).max(1);
        let mut buf = vec![0.0f32; per.min(nr) * d];
        let mut part = vec![0.0f32; per.min(nr) * nq];
        for (b, rows) in rows.chunks(per).enumerate() {
            let wide = &mut buf[..rows.len() * d];
            for (w, r) in wide.chunks_exact_mut(d.max(1)).zip(rows) {
                f16::widen_portable(r, w);
            }
            let refs: Vec<&[f32]> = (0..rows.len()).map(|i| &wide[i * d..(i + 1) * d]).collect();
            let part = &mut part[..rows.len() * nq];
            self.scores_tile(op, queries, &refs, part);
            for (q, p) in part.chunks_exact(rows.len()).enumerate() {
                out[q * nr + b * per..][..rows.len()].copy_from_slice(p);
            }
        }
    }

    fn scores_of<T: Row>(self, op: Op, query: &[f32], rows: &[&[T]], out: &mut [f32]) {
        assert_eq!(out.len(), rows.len(), "one output per row");
        let d = query.len();
        assert!(rows.iter().all(|r| r.len() == d), "every row must be as wide as the query");
        assert!(self.is_supported(), "kernel {} is not supported on this CPU", self.name());
        if self == Kernel::Portable {
            return T::portable_scores(op, query, rows, out);
        }
        let mut ptrs = [std::ptr::null::<T>(); CHUNK];
        for (rows, out) in rows.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            for (p, r) in ptrs.iter_mut().zip(rows) {
                *p = r.as_ptr();
            }
            // SAFETY: every pointer comes from a slice of exactly d values (checked above), the
            // query is d floats, out has one slot per row, and the CPU supports `self` (and
            // what `T` needs of it: `scores_f16` comes here only when it widens in registers).
            unsafe { T::rows_unchecked(self, op, d, query.as_ptr(), &ptrs[..rows.len()], out) };
        }
    }

    /// Score every query against every row: `out[q * rows.len() + r]` = op(queries[q],
    /// rows[r]). Each value equals what [`Kernel::scores`] gives for that pair, bit for bit.
    ///
    /// Panics as [`Kernel::scores`] does, and if `out.len() != queries.len() * rows.len()`.
    pub fn scores_tile(self, op: Op, queries: &[&[f32]], rows: &[&[f32]], out: &mut [f32]) {
        self.scores_tile_of(op, queries, rows, out)
    }

    fn scores_tile_of<T: Row>(self, op: Op, queries: &[&[f32]], rows: &[&[T]], out: &mut [f32]) {
        assert_eq!(out.len(), queries.len() * rows.len(), "one output per (query, row) pair");
        let Some(first) = queries.first() else { return };
        let d = first.len();
        assert!(queries.iter().all(|q| q.len() == d), "every query must be as wide as the first");
        assert!(rows.iter().all(|r| r.len() == d), "every row must be as wide as the queries");
        assert!(self.is_supported(), "kernel {} is not supported on this CPU", self.name());
        if self == Kernel::Portable {
            return T::portable_tile(op, queries, rows, out);
        }
        let nr = rows.len();
        let mut qp = [std::ptr::null::<f32>(); CHUNK];
        let mut rp = [std::ptr::null::<T>(); CHUNK];
        for (qi, qs) in queries.chunks(CHUNK).enumerate() {
            for (p, q) in qp.iter_mut().zip(qs) {
                *p = q.as_ptr();
            }
            for (ri, rs) in rows.chunks(CHUNK).enumerate() {
                for (p, r) in rp.iter_mut().zip(rs) {
                    *p = r.as_ptr();
                }
                let offset = qi * CHUNK * nr + ri * CHUNK;
                // SAFETY: pointers from slices of d values (checked above); out holds
                // queries x rows values, and the window from `offset` with stride nr covers
                // qs.len() rows of rs.len() values inside it; the CPU supports `self` (and what
                // `T` needs of it, as in `scores_of`).
                unsafe {
                    T::tile_unchecked(self, op, d, &qp[..qs.len()], &rp[..rs.len()], &mut out[offset..], nr)
                };
            }
        }
    }

    /// The query counts of [`Kernel::screen`]'s panels, widest first (one per panel shape of
    /// `tuning`); the last is a single register.
    pub fn screen_widths(self) -> &'static [usize] {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                const S: [(usize, usize); 2] = tuning::AVX2_SCREEN;
                &[S[0].1 * 8, S[1].1 * 8]
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                const S: [(usize, usize); 3] = tuning::AVX512_SCREEN;
                &[S[0].1 * 16, S[1].1 * 16, S[2].1 * 16]
            }
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => {
                const S: [(usize, usize); 2] = tuning::NEON_SCREEN;
                &[S[0].1 * 4, S[1].1 * 4]
            }
            _ => &[16, 8],
        }
    }

    /// Whether this implementation screens batches on AMX in bfloat16 ([`Kernel::screen_amx`]):
    /// AVX-512 on a CPU with AMX-BF16 whose OS lets the process use it (Intel Sapphire Rapids
    /// and later), unless `NVS_SCREEN=f32` asks for the f32 screen (to compare or test it).
    pub fn screens_amx(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if self == Kernel::Avx512 && self.is_supported() {
            static F32: OnceLock<bool> = OnceLock::new();
            let f32_asked = *F32.get_or_init(|| std::env::var("NVS_SCREEN").is_ok_and(|v| v.trim() == "f32"));
            return !f32_asked && amx::available();
        }
        false
    }

    /// Queries per [`Kernel::screen_amx`] panel, and rows per step (output rows come in
    /// multiples of it).
    pub const AMX_PANEL: usize = 32;

    /// Words (two bfloat16 values each) of a row or query of `d` values in the AMX layouts.
    pub fn amx_words(d: usize) -> usize {
        d.div_ceil(2).next_multiple_of(16)
    }

    /// Up to [`Kernel::AMX_PANEL`] queries (each `d` values, finite) packed for
    /// [`Kernel::screen_amx`], missing ones zero.
    pub fn screen_amx_panel(self, queries: &[&[f32]], d: usize) -> Lines {
        assert!(self.screens_amx(), "kernel {} has no AMX screen", self.name());
        assert!(queries.len() <= Kernel::AMX_PANEL, "{} queries for a panel", queries.len());
        assert!(queries.iter().all(|q| q.len() == d), "every query must be {d} values");
        #[cfg(target_arch = "x86_64")]
        return amx::panel(queries, d);
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!()
    }

    /// Rows converted for [`Kernel::screen_amx`]: `rows` (each `d` values) and zero rows after
    /// them up to a multiple of [`Kernel::AMX_PANEL`], [`Kernel::amx_words`]`(d)` words each
    /// (as f32 bits) into `out`. Returns the rows converted, padding included.
    pub fn screen_amx_rows(self, d: usize, rows: &[&[f32]], out: &mut Lines) -> usize {
        assert!(self.screens_amx(), "kernel {} has no AMX screen", self.name());
        assert!(rows.iter().all(|r| r.len() == d), "every row must be {d} values");
        let padded = rows.len().next_multiple_of(Kernel::AMX_PANEL);
        assert!(out.values().len() >= padded * Kernel::amx_words(d), "room for the converted rows");
        // SAFETY: the CPU has AVX-512F and BF16 (`screens_amx`), every row holds d values, and
        // `out` is aligned (`Lines`) with room for the padded rows (checked above).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            amx::convert(d, rows, padded - rows.len(), out.values_mut().as_mut_ptr() as *mut u32)
        };
        padded
    }

    /// Screening dot products on AMX: `panel` from [`Kernel::screen_amx_panel`], `rows` the
    /// first `m` rows of [`Kernel::screen_amx_rows`] (`m` a multiple of
    /// [`Kernel::AMX_PANEL`]), and `out[r * 32 + j]` gets query `j` dot row `r` in bfloat16
    /// products summed in f32, within [`bf16_error_bound`] of the exact dot product.
    ///
    /// Panics if the panel, rows or `out` do not match, or there is no AMX screen.
    pub fn screen_amx(self, panel: &Lines, rows: &Lines, m: usize, out: &mut [f32]) {
        assert!(self.screens_amx(), "kernel {} has no AMX screen", self.name());
        let words = panel.values().len() / Kernel::AMX_PANEL;
        assert!(
            words.is_multiple_of(16) && panel.values().len() == words * Kernel::AMX_PANEL,
            "a whole panel"
        );
        assert_eq!(m % Kernel::AMX_PANEL, 0, "rows come in steps of {}", Kernel::AMX_PANEL);
        assert!(rows.values().len() >= m * words, "converted rows as long as the queries");
        assert!(out.len() >= m * Kernel::AMX_PANEL, "one output per (row, query) pair");
        // SAFETY: AMX is available (`screens_amx`); the panel holds 32 queries of `words`
        // words, `rows` `m` rows of them and `out` `m * 32` floats (checked above).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            let (p, r) = (panel.values().as_ptr() as *const u32, rows.values().as_ptr() as *const u32);
            amx::screen(words, p, r, m, out.as_mut_ptr())
        }
    }

    /// Screening dot products of many queries and rows ([`screen_panel`] packs the panel):
    /// `panel` holds `width` queries of `d =
    /// panel.len() / width` values, value `k` of query `j` at `panel[k * width + j]` (`width`
    /// one of [`Kernel::screen_widths`]), and `out[r * width + j]` gets query `j` dot row `r`
    /// summed in one chain over the values in order. These are not [`Kernel::scores`]'s bits;
    /// both are within [`dot_error_bound`] of the exact dot product. The rows `ahead` (any
    /// number, any length) are prefetched into the second-level cache over the call: the
    /// caller's next rows, read from memory while these are computed.
    ///
    /// Panics if a row is not `d` values long, `out.len() != rows.len() * width`, `width` is
    /// not one of this implementation's, or this CPU does not support the implementation.
    pub fn screen(self, panel: &[f32], width: usize, rows: &[&[f32]], out: &mut [f32], ahead: &[&[f32]]) {
        let widths = self.screen_widths();
        let shape = widths.iter().position(|&w| w == width);
        assert!(shape.is_some(), "panel width {width} is not one of {widths:?}");
        assert_eq!(panel.len() % width, 0, "the panel holds whole values of every query");
        let d = panel.len() / width;
        assert!(rows.iter().all(|r| r.len() == d), "every row must be as wide as the queries");
        assert_eq!(out.len(), rows.len() * width, "one output per (row, query) pair");
        assert!(self.is_supported(), "kernel {} is not supported on this CPU", self.name());
        if self == Kernel::Portable {
            return portable::screen(panel, width, rows, out);
        }
        let mut ptrs = [std::ptr::null::<f32>(); CHUNK];
        let mut next = [std::ptr::null::<f32>(); CHUNK];
        let parts = rows.len().div_ceil(CHUNK).max(1);
        let ahead_per = ahead.len().div_ceil(parts);
        for (i, (rows, out)) in rows.chunks(CHUNK).zip(out.chunks_mut(CHUNK * width)).enumerate() {
            for (p, r) in ptrs.iter_mut().zip(rows) {
                *p = r.as_ptr();
            }
            let ahead = ahead.chunks(ahead_per.max(1)).nth(i).unwrap_or(&[]);
            for (p, r) in next.iter_mut().zip(ahead) {
                *p = r.as_ptr();
            }
            let (panel, rows, out) = (panel.as_ptr(), &ptrs[..rows.len()], out.as_mut_ptr());
            let ahead = (&next[..ahead.len().min(CHUNK)], ahead.iter().map(|r| r.len()).max().unwrap_or(0));
            // SAFETY: the panel holds d values of `width` queries, every row pointer comes from
            // a slice of d values, `out` holds `width` floats per row (all checked above), the
            // CPU supports `self`, and the `ahead` pointers are only prefetched.
            unsafe {
                match (self, shape) {
                    #[cfg(target_arch = "x86_64")]
                    (Kernel::Avx2, Some(0)) => x86::avx2_screen::<0>(d, panel, rows, out, ahead),
                    #[cfg(target_arch = "x86_64")]
                    (Kernel::Avx2, _) => x86::avx2_screen::<1>(d, panel, rows, out, ahead),
                    #[cfg(target_arch = "x86_64")]
                    (Kernel::Avx512, Some(0)) => x86::avx512_screen::<0>(d, panel, rows, out, ahead),
                    #[cfg(target_arch = "x86_64")]
                    (Kernel::Avx512, Some(1)) => x86::avx512_screen::<1>(d, panel, rows, out, ahead),
                    #[cfg(target_arch = "x86_64")]
                    (Kernel::Avx512, _) => x86::avx512_screen::<2>(d, panel, rows, out, ahead),
                    #[cfg(target_arch = "aarch64")]
                    (Kernel::Neon, Some(0)) => neon::neon_screen::<0>(d, panel, rows, out, ahead),
                    #[cfg(target_arch = "aarch64")]
                    (Kernel::Neon, _) => neon::neon_screen::<1>(d, panel, rows, out, ahead),
                    _ => unreachable!("kernel {} has no instruction-set path here", self.name()),
                }
            }
        }
    }

    /// Correctly rounded dot products: `out[i]` is the f64 nearest the exact dot product of
    /// `query` and `rows[i]` (ties to even), the same bits on every implementation (the values
    /// of a raw store's dot search; see `exact.rs`).
    ///
    /// Panics as [`Kernel::scores`] does.
    pub fn dots_exact(self, query: &[f32], rows: &[&[f32]], out: &mut [f64]) {
        self.check_exact(query, rows, out.len());
        match self {
            // SAFETY: the CPU supports `self`, AVX2 and FMA here (checked above).
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { x86::avx2_dots_exact(query, rows, out) },
            // SAFETY: the CPU supports `self`, AVX-512F, AVX-512DQ, AVX2 and FMA here (checked
            // above).
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { x86::avx512_dots_exact(query, rows, out) },
            // SAFETY: the CPU supports `self`, NEON here (checked above).
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => unsafe { neon::neon_dots_exact(query, rows, out) },
            // SAFETY: the portable lanes run anywhere.
            _ => unsafe { exact::dots::<exact::Pair>(query, rows, out) },
        }
    }

    /// Correctly rounded euclidean distances: `out[i]` is the f64 nearest the exact distance
    /// between `query` and `rows[i]` (ties to even), the same bits on every implementation.
    ///
    /// Panics as [`Kernel::scores`] does.
    pub fn distances_exact(self, query: &[f32], rows: &[&[f32]], out: &mut [f64]) {
        self.check_exact(query, rows, out.len());
        match self {
            // SAFETY: the CPU supports `self`, AVX2 and FMA here (checked above).
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { x86::avx2_distances_exact(query, rows, out) },
            // SAFETY: the CPU supports `self`, AVX-512F, AVX-512DQ, AVX2 and FMA here (checked
            // above).
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { x86::avx512_distances_exact(query, rows, out) },
            // SAFETY: the CPU supports `self`, NEON here (checked above).
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => unsafe { neon::neon_distances_exact(query, rows, out) },
            // SAFETY: the portable lanes run anywhere.
            _ => unsafe { exact::distances::<exact::Pair>(query, rows, out) },
        }
    }

    /// Correctly rounded cosines: `out[i]` is the f32 nearest the exact `dot(query, rows[i]) /
    /// |rows[i]|` (ties to even), the same bits on every implementation. `norms[i]` is the
    /// row's norm to within [`norm_hint_tolerance`] (relative), as the store caches it; it
    /// only speeds the computation up, the result is exact whatever its last bits.
    ///
    /// Panics as [`Kernel::scores`] does, and if `norms.len() != rows.len()`.
    pub fn cosines_exact(self, query: &[f32], rows: &[&[f32]], norms: &[f64], out: &mut [f32]) {
        self.check_exact(query, rows, out.len());
        assert_eq!(norms.len(), rows.len(), "one norm per row");
        match self {
            // SAFETY: the CPU supports `self`, AVX2 and FMA here (checked above).
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { x86::avx2_cosines_exact(query, rows, norms, out) },
            // SAFETY: the CPU supports `self`, AVX-512F, AVX-512DQ, AVX2 and FMA here (checked
            // above).
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { x86::avx512_cosines_exact(query, rows, norms, out) },
            // SAFETY: the CPU supports `self`, NEON here (checked above).
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => unsafe { neon::neon_cosines_exact(query, rows, norms, out) },
            // SAFETY: the portable lanes run anywhere.
            _ => unsafe { exact::cosines::<exact::Pair>(query, rows, norms, out) },
        }
    }

    /// Squared norm accumulated in f64 (see [`portable::norm_sq_f64`]): the finiteness check
    /// and the cached norm of a row. The same bits on every implementation.
    pub fn norm_sq_f64(self, a: &[f32]) -> f64 {
        assert!(self.is_supported(), "kernel {} is not supported on this CPU", self.name());
        match self {
            // SAFETY: the CPU supports `self` (checked above), and every x86 kernel implies
            // AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 | Kernel::Avx512 => unsafe { x86::avx2_norm_sq_f64(a) },
            // SAFETY: the CPU supports `self` (checked above).
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => unsafe { neon::neon_norm_sq_f64(a) },
            _ => portable::norm_sq_f64(a),
        }
    }

    /// `row[i] = (row[i] * inv) rounded to f32`, the product taken in f64 (see
    /// [`portable::scale_f64`]): scales a row to unit length in place. The same bits on every
    /// implementation.
    pub fn scale_f64(self, row: &mut [f32], inv: f64) {
        assert!(self.is_supported(), "kernel {} is not supported on this CPU", self.name());
        match self {
            // SAFETY: as in `norm_sq_f64`.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 | Kernel::Avx512 => unsafe { x86::avx2_scale_f64(row, inv) },
            // SAFETY: as in `norm_sq_f64`.
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => unsafe { neon::neon_scale_f64(row, inv) },
            _ => portable::scale_f64(row, inv),
        }
    }

    fn check_exact(self, query: &[f32], rows: &[&[f32]], outputs: usize) {
        assert_eq!(outputs, rows.len(), "one output per row");
        let d = query.len();
        assert!(rows.iter().all(|r| r.len() == d), "every row must be as wide as the query");
        assert!(self.is_supported(), "kernel {} is not supported on this CPU", self.name());
    }
}

/// Row pointers handed to [`Kernel::scores_f16`]'s software-widening path per block: bounds its
/// buffer (f32 values, 64 KiB) so the widened rows stay in L2.
const WIDEN_BLOCK: usize = 16 << 10;

/// A row element type with its kernel entry points: `f32`, and `u16` for float16 rows.
trait Row: Elem {
    fn portable_scores(op: Op, query: &[f32], rows: &[&[Self]], out: &mut [f32]);
    fn portable_tile(op: Op, queries: &[&[f32]], rows: &[&[Self]], out: &mut [f32]);
    /// # Safety
    /// `q` valid for `d` floats and each row pointer for `d` values (aligned for their type),
    /// `out.len() == rows.len()`, `kernel` supported by the CPU and not `Portable`, and for
    /// float16 rows [`Kernel::widens_f16_in_registers`].
    unsafe fn rows_unchecked(
        kernel: Kernel,
        op: Op,
        d: usize,
        q: *const f32,
        rows: &[*const Self],
        out: &mut [f32],
    );
    /// # Safety
    /// As [`Row::rows_unchecked`] (with every pointer of `qs` for `q`); `stride >=
    /// rows.len()` and `out` holds `(qs.len() - 1) * stride + rows.len()` floats.
    unsafe fn tile_unchecked(
        kernel: Kernel,
        op: Op,
        d: usize,
        qs: &[*const f32],
        rows: &[*const Self],
        out: &mut [f32],
        stride: usize,
    );
}

impl Row for f32 {
    fn portable_scores(op: Op, query: &[f32], rows: &[&[f32]], out: &mut [f32]) {
        portable::scores(op, query, rows, out)
    }
    fn portable_tile(op: Op, queries: &[&[f32]], rows: &[&[f32]], out: &mut [f32]) {
        portable::scores_tile(op, queries, rows, out)
    }
    unsafe fn rows_unchecked(
        kernel: Kernel,
        op: Op,
        d: usize,
        q: *const f32,
        rows: &[*const f32],
        out: &mut [f32],
    ) {
        let l2 = op == Op::L2sq;
        // SAFETY: the caller guarantees the pointers, `out` and that the CPU supports
        // `kernel` (# Safety of `Row::rows_unchecked`); each arm calls the entry point of
        // `kernel`'s instruction set.
        unsafe {
            match kernel {
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 if l2 => x86::avx2_rows::<true>(d, q, rows, out),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 => x86::avx2_rows::<false>(d, q, rows, out),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512 if l2 => x86::avx512_rows::<f32, true>(d, q, rows, out),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512 => x86::avx512_rows::<f32, false>(d, q, rows, out),
                #[cfg(target_arch = "aarch64")]
                Kernel::Neon if l2 => neon::neon_rows::<f32, true>(d, q, rows, out),
                #[cfg(target_arch = "aarch64")]
                Kernel::Neon => neon::neon_rows::<f32, false>(d, q, rows, out),
                _ => unreachable!("kernel {} has no instruction-set path here", kernel.name()),
            }
        }
    }
    unsafe fn tile_unchecked(
        kernel: Kernel,
        op: Op,
        d: usize,
        qs: &[*const f32],
        rows: &[*const f32],
        out: &mut [f32],
        stride: usize,
    ) {
        let l2 = op == Op::L2sq;
        // SAFETY: the caller guarantees the pointers, `out`, `stride` and that the CPU supports
        // `kernel` (# Safety of `Row::tile_unchecked`); each arm calls the entry point of
        // `kernel`'s instruction set.
        unsafe {
            match kernel {
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 if l2 => x86::avx2_tile::<true>(d, qs, rows, out, stride),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 => x86::avx2_tile::<false>(d, qs, rows, out, stride),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512 if l2 => x86::avx512_tile::<f32, true>(d, qs, rows, out, stride),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512 => x86::avx512_tile::<f32, false>(d, qs, rows, out, stride),
                #[cfg(target_arch = "aarch64")]
                Kernel::Neon if l2 => neon::neon_tile::<f32, true>(d, qs, rows, out, stride),
                #[cfg(target_arch = "aarch64")]
                Kernel::Neon => neon::neon_tile::<f32, false>(d, qs, rows, out, stride),
                _ => unreachable!("kernel {} has no instruction-set path here", kernel.name()),
            }
        }
    }
}

/// Float16 rows: the same entry points, instantiated for `u16` (AVX2's with F16C enabled).
impl Row for u16 {
    fn portable_scores(op: Op, query: &[f32], rows: &[&[u16]], out: &mut [f32]) {
        portable::scores_f16(op, query, rows, out)
    }
    fn portable_tile(op: Op, queries: &[&[f32]], rows: &[&[u16]], out: &mut [f32]) {
        portable::scores_tile_f16(op, queries, rows, out)
    }
    unsafe fn rows_unchecked(
        kernel: Kernel,
        op: Op,
        d: usize,
        q: *const f32,
        rows: &[*const u16],
        out: &mut [f32],
    ) {
        let l2 = op == Op::L2sq;
        // SAFETY: the caller guarantees the pointers, `out`, that the CPU supports `kernel`
        // and, for AVX2, F16C (`widens_f16_in_registers`; # Safety of `Row::rows_unchecked`);
        // each arm calls the entry point of `kernel`'s instruction set.
        unsafe {
            match kernel {
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 if l2 => x86::avx2_rows_f16::<true>(d, q, rows, out),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 => x86::avx2_rows_f16::<false>(d, q, rows, out),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512 if l2 => x86::avx512_rows::<u16, true>(d, q, rows, out),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512 => x86::avx512_rows::<u16, false>(d, q, rows, out),
                #[cfg(target_arch = "aarch64")]
                Kernel::Neon if l2 => neon::neon_rows::<u16, true>(d, q, rows, out),
                #[cfg(target_arch = "aarch64")]
                Kernel::Neon => neon::neon_rows::<u16, false>(d, q, rows, out),
                _ => unreachable!("kernel {} has no instruction-set path here", kernel.name()),
            }
        }
    }
    unsafe fn tile_unchecked(
        kernel: Kernel,
        op: Op,
        d: usize,
        qs: &[*const f32],
        rows: &[*const u16],
        out: &mut [f32],
        stride: usize,
    ) {
        let l2 = op == Op::L2sq;
        // SAFETY: as in `rows_unchecked` above, plus `stride` and `out` (# Safety of
        // `Row::tile_unchecked`).
        unsafe {
            match kernel {
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 if l2 => x86::avx2_tile_f16::<true>(d, qs, rows, out, stride),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 => x86::avx2_tile_f16::<false>(d, qs, rows, out, stride),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512 if l2 => x86::avx512_tile::<u16, true>(d, qs, rows, out, stride),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512 => x86::avx512_tile::<u16, false>(d, qs, rows, out, stride),
                #[cfg(target_arch = "aarch64")]
                Kernel::Neon if l2 => neon::neon_tile::<u16, true>(d, qs, rows, out, stride),
                #[cfg(target_arch = "aarch64")]
                Kernel::Neon => neon::neon_tile::<u16, false>(d, qs, rows, out, stride),
                _ => unreachable!("kernel {} has no instruction-set path here", kernel.name()),
            }
        }
    }
}

/// The correctly rounded euclidean norm of `a` (ties to even): the query norm of a search.
/// One definition for every implementation (`exact.rs`).
pub use exact::norm as norm_exact;
