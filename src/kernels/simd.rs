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
    /// Every lane `x`.
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    unsafe fn splat(x: f32) -> Self;
    /// Store the `WIDTH` lanes at `p`.
    ///
    /// # Safety
    /// `p` is aligned for f32 and valid for writing `WIDTH` floats; the CPU has the
    /// implementation's features.
    unsafe fn store(self, p: *mut f32);
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
    /// `acc[i].sum()` for sixteen accumulators, bit for bit (an instruction set may share
    /// the work of the fixed order between them).
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    #[inline(always)]
    unsafe fn sum16(acc: &[Self; 16]) -> [f32; 16] {
        // SAFETY: the caller guarantees the CPU (# Safety above).
        core::array::from_fn(|i| unsafe { acc[i].sum() })
    }
    /// Hint that the cache line at `p` will be read soon (no-op where there is no hint).
    ///
    /// # Safety
    /// The CPU has the implementation's features. `p` may be any address: a prefetch never
    /// faults.
    #[inline(always)]
    unsafe fn prefetch(_p: *const u8) {}
    /// Hint that the cache line at `p` will be read later: into the second-level cache, not
    /// the first, so it does not push out what is being computed on now.
    ///
    /// # Safety
    /// As for [`Lanes::prefetch`].
    #[inline(always)]
    unsafe fn prefetch_l2(_p: *const u8) {}
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
    // SAFETY: the caller guarantees the pointers and the CPU (# Safety above), which is the
    // contract of `accumulate` over all `d` values and of `reduce`.
    unsafe {
        let mut acc = [[V::zero(); R]; Q];
        accumulate::<V, T, L2, Q, R, PF>(&mut acc, 0, d, d, qs, rs, next);
        reduce(&acc)
    }
}

/// Add the terms of values `from..to` of each (query, row) pair to its accumulator. `from` is a
/// multiple of `V::WIDTH`; `to` is one too, or `d` (then the partial last chunk is included).
/// Every lane of an accumulator meets its values in the same order however `0..d` is split
/// into spans, so a pair's sum is the same bits whether it is computed in one span or many.
///
/// # Safety
/// As for [`micro_prefetching`]; `from <= to <= d`.
#[inline(always)]
unsafe fn accumulate<V: Lanes, T: Elem, const L2: bool, const Q: usize, const R: usize, const PF: bool>(
    acc: &mut [[V; R]; Q],
    from: usize,
    to: usize,
    d: usize,
    qs: &[*const f32; Q],
    rs: &[*const T; R],
    next: &[*const T; R],
) {
    debug_assert!(from.is_multiple_of(V::WIDTH) && from <= to && to <= d);
    // SAFETY: the caller guarantees that every `qs` and `rs` pointer is valid for `d` values
    // and that the CPU supports `V` (# Safety above). The full loads read `[i, i + WIDTH)`
    // with `i + WIDTH <= to.min(full) <= d`, the partial ones `[full, d)` with
    // `d - full < WIDTH`; the prefetches never fault.
    unsafe {
        let full = d - d % V::WIDTH;
        let end = to.min(full);
        let mut i = from;
        while i < end {
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
        if to == d && full < d {
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
    }
}

/// Each accumulator's lanes summed in the fixed order of [`Lanes::sum`].
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn reduce<V: Lanes, const Q: usize, const R: usize>(acc: &[[V; R]; Q]) -> [[f32; R]; Q] {
    if Q * R == 16 {
        let mut out = [[0.0f32; R]; Q];
        let acc: &[V; 16] = acc.as_flattened().try_into().expect("16 accumulators");
        // SAFETY: the CPU supports `V` (# Safety above).
        out.as_flattened_mut().copy_from_slice(&unsafe { V::sum16(acc) });
        return out;
    }
    let mut out = [[0.0f32; R]; Q];
    for q in 0..Q {
        for r in 0..R {
            // SAFETY: the caller guarantees the CPU supports `V` (# Safety above).
            out[q][r] = unsafe { acc[q][r].sum() };
        }
    }
    out
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
/// The values are walked in spans of at most `tuning::BATCH_SPAN`; within a span, rows advance
/// in groups of `R` and each group meets every query group of `Q` while its `R` rows are still
/// in L1. With more than one span each pair's accumulator is kept in memory between spans, so
/// long rows do not push the queries out of L1, and the pair still gets the bits of one
/// unbroken pass ([`accumulate`]).
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
    const { assert!(tuning::BATCH_SPAN.is_multiple_of(V::WIDTH), "spans must end on register boundaries") };
    if d <= tuning::BATCH_SPAN {
        // SAFETY: the caller's contract (# Safety above); no sums are kept.
        return unsafe { tile_part::<V, T, L2, Q, R>(d, queries, rows, out, stride, &mut []) };
    }
    // The kept sums of a part of the rows at a time: `tuning::SUMS_BYTES` of them at most.
    let per_row = queries.len() * core::mem::size_of::<V>();
    let part = (tuning::SUMS_BYTES / per_row.max(1) / R * R).max(R);
    // SAFETY: the CPU supports `V` (the caller's contract).
    let mut sums = vec![unsafe { V::zero() }; queries.len() * part.min(rows.len())];
    for (i, rows) in rows.chunks(part).enumerate() {
        let sums = &mut sums[..queries.len() * rows.len()];
        // SAFETY: the caller's contract for these rows; `out[i * part..]` holds this part's
        // outputs at the same stride.
        unsafe { tile_part::<V, T, L2, Q, R>(d, queries, rows, &mut out[i * part..], stride, sums) };
    }
}

/// [`tile`] over some rows, the sums kept between spans in `sums` (`queries.len() *
/// rows.len()` of them; empty when `d` is one span).
///
/// # Safety
/// As for [`tile`].
#[inline(always)]
unsafe fn tile_part<V: Lanes, T: Elem, const L2: bool, const Q: usize, const R: usize>(
    d: usize,
    queries: &[*const f32],
    rows: &[*const T],
    out: &mut [f32],
    stride: usize,
    sums: &mut [V],
) {
    let (nq, nr) = (queries.len(), rows.len());
    // Every `unsafe` call below is sound for the same reasons: every query and row pointer is
    // valid for `d` values and the CPU supports `V` (the caller's contract, # Safety above);
    // each span is `from..to` with `from` a multiple of `BATCH_SPAN` (itself a multiple of
    // `WIDTH`, asserted in `tile`) and `to` the next one or `d`; `sums` and `out` are indexed
    // with bounds checks.
    let mut from = 0;
    loop {
        let to = if d - from > tuning::BATCH_SPAN { from + tuning::BATCH_SPAN } else { d };
        let mut r0 = 0;
        while r0 < nr {
            let rn = (nr - r0).min(R);
            let mut q0 = 0;
            while q0 < nq {
                let qn = (nq - q0).min(Q);
                let mut at = Pairs { acc: &mut *sums, out: &mut *out, stride, nr, q0, r0, from, to, d };
                let (qp, rp) = (&queries[q0..q0 + qn], &rows[r0..r0 + rn]);
                match (qn == Q, rn == R) {
                    // SAFETY: see the loop's comment.
                    (true, true) => unsafe { at.run::<T, L2, Q, R>(array(qp), array(rp)) },
                    // Fewer than Q queries left: one query at a time over the R rows.
                    (false, true) => {
                        for (q, &one) in qp.iter().enumerate() {
                            at.q0 = q0 + q;
                            // SAFETY: see the loop's comment.
                            unsafe { at.run::<T, L2, 1, R>(&[one], array(rp)) }
                        }
                    }
                    // Fewer than R rows left: Q queries (or one at a time) against each row.
                    (full_q, false) => {
                        for (r, &row) in rp.iter().enumerate() {
                            at.r0 = r0 + r;
                            if full_q {
                                // SAFETY: see the loop's comment.
                                unsafe { at.run::<T, L2, Q, 1>(array(qp), &[row]) }
                            } else {
                                for (q, &one) in qp.iter().enumerate() {
                                    at.q0 = q0 + q;
                                    // SAFETY: see the loop's comment.
                                    unsafe { at.run::<T, L2, 1, 1>(&[one], &[row]) }
                                }
                            }
                        }
                    }
                }
                q0 += qn;
            }
            r0 += rn;
        }
        if to == d {
            break;
        }
        from = to;
    }
}

/// A `Q x R` block of pairs of a tile (queries from `q0`, rows from `r0`), the span of values
/// `from..to` to add to their sums, where those sums are kept between spans (`acc`, `nr` per
/// query; empty when the whole row is one span) and where they go when done (`out`).
struct Pairs<'a, V> {
    acc: &'a mut [V],
    out: &'a mut [f32],
    stride: usize,
    nr: usize,
    q0: usize,
    r0: usize,
    from: usize,
    to: usize,
    d: usize,
}

impl<V: Lanes> Pairs<'_, V> {
    /// Add the span's terms of these queries and rows to the block's sums; after the last span,
    /// write the sums to `out`.
    ///
    /// # Safety
    /// As for [`accumulate`] over `from..to`.
    #[inline(always)]
    unsafe fn run<T: Elem, const L2: bool, const Q: usize, const R: usize>(
        &mut self,
        qs: &[*const f32; Q],
        rs: &[*const T; R],
    ) {
        let (nr, q0, r0) = (self.nr, self.q0, self.r0);
        // SAFETY: the caller's contract (# Safety above); `acc` and `out` are indexed with
        // bounds checks.
        unsafe {
            let mut block = [[V::zero(); R]; Q];
            if self.from > 0 {
                for (q, b) in block.iter_mut().enumerate() {
                    b.copy_from_slice(&self.acc[(q0 + q) * nr + r0..][..R]);
                }
            }
            accumulate::<V, T, L2, Q, R, false>(&mut block, self.from, self.to, self.d, qs, rs, rs);
            if self.to < self.d {
                for (q, b) in block.iter().enumerate() {
                    self.acc[(q0 + q) * nr + r0..][..R].copy_from_slice(b);
                }
            } else {
                for (q, sums) in reduce(&block).iter().enumerate() {
                    self.out[(q0 + q) * self.stride + r0..][..R].copy_from_slice(sums);
                }
            }
        }
    }
}

/// Screening dot products for a batch (a matrix product in its usual form): `QV` registers
/// hold one dimension of `QV * WIDTH` queries, and each of `R` rows multiplies them by one of
/// its values, broadcast. `panel[k * w + j]` is value `k` of query `j` (`w = QV * WIDTH`, `d`
/// values per query) and `out[r * w + j]` gets the dot product of query `j` and row `r`, summed
/// in one chain from value 0 to `d - 1`. That is not the order of [`micro`], so these are not a
/// search's values: the search scores again with [`micro`] the pairs that can rank (see
/// `search::screen`). Rows need no packing; the queries are packed once per batch.
///
/// The rows `ahead.0` (the caller's next rows, `ahead.1` values each) are prefetched into the
/// second-level cache a few lines at a time over the whole call: read from memory while these
/// rows are computed, they are in cache when their turn comes (the first pass over fresh rows
/// would otherwise wait on memory, and a first-level prefetch would push out the panel).
///
/// # Safety
/// `panel` is valid for reading `d * QV * WIDTH` floats, every row pointer for `d` floats,
/// `out` for writing `rows.len() * QV * WIDTH`, all aligned for f32; the CPU supports `V`.
/// The `ahead` pointers are only prefetched, so they may be anything.
#[inline(always)]
pub(crate) unsafe fn screen<V: Lanes, const R: usize, const QV: usize>(
    d: usize,
    panel: *const f32,
    rows: &[*const f32],
    out: *mut f32,
    ahead: (&[*const f32], usize),
) {
    let mut groups = rows.chunks_exact(R);
    let slots = rows.len().div_ceil(R) * d.div_ceil(LINE_VALUES);
    let (ahead, ahead_len) = ahead;
    let per_row = ahead_len.div_ceil(LINE_VALUES);
    let per_slot = (ahead.len() * per_row).div_ceil(slots.max(1));
    let mut ahead = Ahead { rows: ahead, row: 0, line: 0, per_row, per_slot };
    // SAFETY: the caller's contract (# Safety above) for each group of rows, whose outputs
    // start `R * w` floats further each time.
    unsafe {
        let w = QV * V::WIDTH;
        let mut at = out;
        for group in &mut groups {
            screen_group::<V, R, QV>(d, panel, array(group), at, &mut ahead);
            at = at.add(R * w);
        }
        for &row in groups.remainder() {
            screen_group::<V, 1, QV>(d, panel, &[row], at, &mut ahead);
            at = at.add(w);
        }
    }
}

/// f32 values per 64-byte cache line.
const LINE_VALUES: usize = 16;

/// The cache lines of some rows, prefetched `per_slot` at a time.
struct Ahead<'a> {
    rows: &'a [*const f32],
    /// The next line to prefetch: line `line` (of `per_row`) of row `row`.
    row: usize,
    line: usize,
    per_row: usize,
    per_slot: usize,
}

impl Ahead<'_> {
    /// # Safety
    /// The CPU supports `V` (a prefetch never faults, whatever the address).
    #[inline(always)]
    unsafe fn next<V: Lanes>(&mut self) {
        for _ in 0..self.per_slot {
            let Some(&row) = self.rows.get(self.row) else { return };
            // SAFETY: the caller guarantees the CPU (# Safety above).
            unsafe { V::prefetch_l2(row.wrapping_add(self.line * LINE_VALUES) as *const u8) };
            // Counted, not divided: a division per line cost 5% of a batch.
            self.line += 1;
            if self.line == self.per_row {
                self.line = 0;
                self.row += 1;
            }
        }
    }
}

/// [`screen`] for exactly `R` rows: `R x QV` accumulators stay in registers for all `d` values.
///
/// # Safety
/// As for [`screen`], with `rows` these `R` rows.
#[inline(always)]
unsafe fn screen_group<V: Lanes, const R: usize, const QV: usize>(
    d: usize,
    panel: *const f32,
    rows: &[*const f32; R],
    out: *mut f32,
    ahead: &mut Ahead<'_>,
) {
    let w = QV * V::WIDTH;
    // SAFETY: the caller's contract (# Safety of `screen`): the panel loads read
    // `[k * w, (k + 1) * w)` with `k < d`, the row reads value `k < d` of each row, and the
    // stores write `[r * w, (r + 1) * w)` of `out` with `r < R`; prefetches never fault.
    unsafe {
        let mut acc = [[V::zero(); QV]; R];
        let mut from = 0;
        while from < d {
            ahead.next::<V>();
            for k in from..(from + LINE_VALUES).min(d) {
                let mut qv = [V::zero(); QV];
                for (v, q) in qv.iter_mut().enumerate() {
                    *q = V::load(panel.add(k * w + v * V::WIDTH));
                }
                for r in 0..R {
                    let b = V::splat(*rows[r].add(k));
                    for v in 0..QV {
                        acc[r][v] = V::mul_add(qv[v], b, acc[r][v]);
                    }
                }
            }
            from += LINE_VALUES;
        }
        for (r, acc) in acc.iter().enumerate() {
            for (v, a) in acc.iter().enumerate() {
                a.store(out.add(r * w + v * V::WIDTH));
            }
        }
    }
}
