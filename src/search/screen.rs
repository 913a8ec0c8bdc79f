//! Large batches over float32 rows: a matrix product in its usual form ([`Kernel::screen`]:
//! queries packed side by side, each row value broadcast) screens every (query, row) pair, at
//! about 1.3-1.8x the speed of the register-blocked dot products of `scan.rs` on the Intel
//! host.
//!
//! - Normalized stores (every metric): only the pairs whose screened value could reach the
//!   query's current k-th value or threshold are scored again by the single-search kernel, so
//!   every value a batch returns is the bits a single search returns. No pair that ranks is
//!   missed: the screened dot product and the single-search value are both within
//!   [`dot_error_bound`] of the exact ones, with `|q| * |r|` bounding `sum |q_i r_i|`, so a
//!   pair whose single-search value reaches a bar has a screened value at least the bar less
//!   twice that bound (the cut; euclidean goes through `|q - r|^2 = |q|^2 + |r|^2 - 2 q.r`,
//!   see [`Plan::cut`]). The row norm is the bound every row in private memory keeps
//!   ([`UNIT_ROW_NORM_BOUND`]); rows in place in a mapped archive, and every row for euclidean
//!   (which needs each row's square), take a pass per tile for their norms instead. Rows whose
//!   norm is not finite or above 1e15 (only an unverified mapped open can hold them) are
//!   scored again for every query.
//! - Normalized stores on a CPU with AMX-BF16 (Intel Sapphire Rapids and later, where Linux
//!   grants the tile state): the screen runs on AMX tiles in bfloat16 ([`Kernel::screen_amx`],
//!   about 14x the f32 FMA rate), with [`bf16_error_bound`] in place of `dot_error_bound` for
//!   the screened value, which widens the cut to about 2^-6 of `|q| |r|`: a few more pairs are
//!   scored again (tens per query at 100k random rows), and the values are still a single
//!   search's. Every query takes a panel of 32 (the last padded with zero queries).
//! - Raw stores, dot and cosine: the screened values go to `raw.rs`, whose bound holds for any
//!   summation order, and the rows that can rank get their exact values there as in any
//!   search.

use super::request::{Hit, Plan, Query};
use super::topk::TopK;
use crate::column::Column;
use crate::kernels::tuning::AMX_MIN_QUERIES;
use crate::kernels::{bf16_error_bound, dot_error_bound, screen_panel, Kernel, Lines, Op, U32};
use crate::rows::UNIT_ROW_NORM_BOUND;

/// Queries `first..first + width` packed for [`Kernel::screen`] ([`screen_panel`]).
struct Panel {
    first: usize,
    width: usize,
    /// The queries it holds: `width`, or fewer in an AMX panel (padded with zero queries).
    count: usize,
    values: Lines,
    /// The largest of its queries' norms.
    query_norm: f64,
}

impl Panel {
    /// Queries `first..first + count` (of `width` lanes) packed by `pack`; `squares` are the
    /// squared norms of all the queries.
    fn new(
        queries: &[Query],
        squares: &[f64],
        first: usize,
        width: usize,
        count: usize,
        pack: impl FnOnce(&[&[f32]]) -> Lines,
    ) -> Panel {
        let these: Vec<&[f32]> = queries[first..first + count].iter().map(Query::values).collect();
        let query_norm = squares[first..first + count].iter().fold(0.0f64, |a, &b| a.max(b)).sqrt();
        Panel { first, width, count, values: pack(&these), query_norm }
    }
}

impl Plan<'_> {
    /// Whether a batch of `queries` takes the screen: enough queries to fill a narrow panel;
    /// over a normalized store a top-k small beside the rows (each time a query's k-th value
    /// rises a pair is scored twice); over a raw store dot or cosine, whose f32 values only
    /// ever screen (`raw.rs`) and whose screen takes any order.
    pub(super) fn screens(&self, queries: usize) -> bool {
        (self.op() == Op::Dot || self.normalized_store)
            && queries >= self.screen_min_queries()
            && (!self.normalized_store || self.top_k.saturating_mul(16) <= self.candidates())
    }

    /// The fewest queries worth a screen: a narrow panel's, or on AMX (normalized stores)
    /// `AMX_MIN_QUERIES`, its tiles being fast enough that a padded panel beats the
    /// register-blocked tile.
    fn screen_min_queries(&self) -> usize {
        if self.normalized_store && self.kernel.screens_amx() {
            return AMX_MIN_QUERIES;
        }
        self.kernel.screen_widths().iter().copied().min().unwrap_or(usize::MAX)
    }

    pub(super) fn scan_batch_screened(&self, column: &Column<f32>, queries: &[Query]) -> Vec<Vec<Hit>> {
        let kernel = self.kernel;
        let d = self.dimensions;
        let squares_q: Vec<f64> = queries.iter().map(|q| kernel.norm_sq_f64(q.values())).collect();
        // Normalized stores screen on AMX in bfloat16 where the CPU and OS allow it, for
        // queries whose products stay far inside f32's range.
        let amx = self.normalized_store
            && kernel.screens_amx()
            && squares_q.iter().all(|&s| s <= MAX_AMX_QUERY_NORM * MAX_AMX_QUERY_NORM);
        let (panels, rest) = if amx {
            amx_panels(kernel, queries, &squares_q, d)
        } else {
            panels(kernel, queries, &squares_q, d)
        };
        // The few queries no panel holds take the register-blocked dot products of `scan.rs`,
        // whose values are already a single search's.
        let rest: Vec<&[f32]> = queries[rest..].iter().map(Query::values).collect();
        let op = self.op();
        let euclidean = op == Op::L2sq;
        let mut tops: Vec<TopK> =
            queries.iter().map(|_| TopK::new(self.top_k, self.metric.descending())).collect();
        let n = self.candidates();
        let rb = if amx { self.tile_rows().next_multiple_of(Kernel::AMX_PANEL) } else { self.tile_rows() };
        let wide = kernel.screen_widths().iter().copied().max().unwrap_or(0).max(Kernel::AMX_PANEL);
        let mut refs: Vec<&[f32]> = vec![&[]; rb];
        let mut next: Vec<&[f32]> = vec![&[]; rb];
        let mut screened = vec![0.0f32; rb * wide.max(rest.len())];
        let mut wild = vec![false; rb];
        let origin = vec![0.0f32; d];
        let mut converted = Lines::zeros(if amx { rb * Kernel::amx_words(d) } else { 0 });
        let mut squares = vec![0.0f32; rb];
        let mut cuts = vec![0.0f32; queries.len()];
        let mut margins = vec![f64::NAN; panels.len()];
        let mut raw_values = vec![0.0f32; rb];
        self.gather(column, 0, &mut next[..rb.min(n)]);
        let mut start = 0;
        while start < n {
            let m = rb.min(n - start);
            std::mem::swap(&mut refs, &mut next);
            let refs = &refs[..m];
            // The next tile's rows are prefetched while this one is computed, a share per panel.
            let next_m = rb.min(n - start - m);
            self.gather(column, start + m, &mut next[..next_m]);
            let mut ahead = next[..next_m].chunks(next_m.div_ceil(panels.len().max(1)).max(1));
            // The tile's largest row norm bounds every pair's error; a row without a finite
            // norm is marked and scored again for every query. The squares are the f32
            // squared distances to the origin (eight rows in flight), and the exact sum is at
            // most the computed one plus its error bound (taken on twice the computed one).
            // Rows in private memory of a normalize store need no pass for dot and cosine:
            // their norms are bounded when they are stored.
            let mut row_norm = UNIT_ROW_NORM_BOUND;
            if self.normalized_store && (euclidean || column.is_mapped()) {
                row_norm = 0.0;
                kernel.scores(Op::L2sq, &origin, refs, &mut squares[..m]);
                for (&sq, w) in squares[..m].iter().zip(&mut wild) {
                    let sq = f64::from(sq);
                    let norm = (sq + dot_error_bound(d, 2.0 * sq)).sqrt();
                    *w = !norm.is_finite() || norm > 1e15;
                    if !*w {
                        row_norm = row_norm.max(norm);
                    }
                }
            }
            let converted_rows = if amx { kernel.screen_amx_rows(d, refs, &mut converted) } else { 0 };
            for (pi, p) in panels.iter().enumerate() {
                if amx {
                    kernel.screen_amx(&p.values, &converted, converted_rows, &mut screened);
                } else {
                    kernel.screen(
                        p.values.values(),
                        p.width,
                        refs,
                        &mut screened[..m * p.width],
                        ahead.next().unwrap_or(&[]),
                    );
                }
                let screened = &screened[..m * p.width];
                if !self.normalized_store {
                    // `offer_raw`'s bound holds for any summation order.
                    for (j, (q, top)) in
                        queries[p.first..].iter().zip(&mut tops[p.first..p.first + p.width]).enumerate()
                    {
                        for (c, values) in raw_values.iter_mut().zip(screened.chunks_exact(p.width)) {
                            *c = values[j];
                        }
                        self.offer_raw(q.values(), start, refs, &raw_values[..m], top);
                    }
                    continue;
                }
                let squares_q = &squares_q[p.first..p.first + p.count];
                // A query's cut changes with its top-k (updated below) and the margin, which
                // changes with the tile's row norm, if at all.
                let margin = self.margin(p.query_norm, row_norm, amx);
                let cut = &mut cuts[p.first..p.first + p.count];
                if margins[pi] != margin {
                    margins[pi] = margin;
                    for ((c, top), &q2) in cut.iter_mut().zip(&tops[p.first..]).zip(squares_q) {
                        *c = self.cut(top, q2, margin);
                    }
                }
                for (r, values) in screened.chunks_exact(p.width).enumerate() {
                    // Euclidean: a pair can rank when its dot product is at least half the
                    // row's square plus the query's cut (see `cut`).
                    let half = if euclidean { squares[r] / 2.0 } else { 0.0 };
                    if !wild[r] && !reaches(values, half, cut) {
                        continue;
                    }
                    for (j, (&value, c)) in values.iter().zip(cut.iter_mut()).enumerate() {
                        if !wild[r] && !can_rank(value, half, *c) {
                            continue;
                        }
                        let (q, top) = (&queries[p.first + j], &mut tops[p.first + j]);
                        let mut single = [0.0f32];
                        kernel.scores(op, q.values(), &refs[r..r + 1], &mut single);
                        self.offer_block(start + r, &single, top);
                        *c = self.cut(top, squares_q[j], margin);
                    }
                }
            }
            if !rest.is_empty() {
                let values = &mut screened[..rest.len() * m];
                kernel.scores_tile(op, &rest, refs, values);
                let rest_tops = tops[queries.len() - rest.len()..].iter_mut();
                for ((top, values), q) in rest_tops.zip(values.chunks_exact(m)).zip(&rest) {
                    self.offer(q, start, refs, values, top);
                }
            }
            start += m;
        }
        tops.into_iter().map(|t| self.hits(t)).collect()
    }

    /// How far below its exact bar a screened value that can still rank may lie, for queries
    /// of norm at most `query_norm` and rows of norm at most `row_norm` (see `cut`): twice the
    /// proven bound, for margin.
    fn margin(&self, query_norm: f64, row_norm: f64, amx: bool) -> f64 {
        let d = self.dimensions;
        let (q, r) = (query_norm, row_norm);
        // The screened dot product's error: f32 or bfloat16 products.
        let screened = if amx { bf16_error_bound(d, q * r, q, r) } else { dot_error_bound(d, q * r) };
        let bound = if self.op() == Op::L2sq {
            // Half the single-search squared distance's error (its terms are squares of
            // rounded differences: twice a dot product's bound covers them), the screened
            // dot's, half the row square's, the query square's (`norm_sq_f64`: (d / 8 + 8) f64
            // roundings), and the f32 subtraction of half the row square from the screened dot.
            dot_error_bound(d, (q + r) * (q + r))
                + screened
                + dot_error_bound(d, r * r) / 2.0
                + (d as f64 + 64.0) * f64::EPSILON * q * q
                + 4.0 * U32 * (q * r + r * r)
        } else {
            screened + dot_error_bound(d, q * r)
        };
        2.0 * bound
    }

    /// The lowest screened value with which a pair can still rank for this query, rounded
    /// down; for euclidean, of the screened dot product less half the row's square.
    /// - Dot and cosine: the larger of the query's k-th value (once it has k) and the
    ///   threshold, less `margin`.
    /// - Euclidean: a pair ranks when its distance is at most the smaller of the k-th distance
    ///   and the threshold, B; so its squared distance `|q|^2 + |r|^2 - 2 q.r` is at most B^2
    ///   (a little more for the f32 square root), and its dot product at least `(|q|^2 - B^2)
    ///   / 2 + |r|^2 / 2`, less `margin`. `query_sq` is `|q|^2`.
    fn cut(&self, top: &TopK, query_sq: f64, margin: f64) -> f32 {
        let at = if self.op() == Op::L2sq {
            let bar = top.worst().unwrap_or(f64::INFINITY).min(self.threshold.unwrap_or(f64::INFINITY));
            if bar < 0.0 {
                return f32::INFINITY;
            }
            (query_sq - bar * bar * (1.0 + 16.0 * U32)) / 2.0 - margin
        } else {
            let bar =
                top.worst().unwrap_or(f64::NEG_INFINITY).max(self.threshold.unwrap_or(f64::NEG_INFINITY));
            bar - margin
        };
        let c = at as f32;
        if f64::from(c) > at {
            c.next_down()
        } else {
            c
        }
    }
}

/// The queries packed in panels, as many of the widest as they fill, then of the next width,
/// and the index of the first query left over (fewer than the narrowest panel holds).
fn panels(kernel: Kernel, queries: &[Query], squares: &[f64], d: usize) -> (Vec<Panel>, usize) {
    let mut panels = Vec::new();
    let mut first = 0;
    for &width in kernel.screen_widths() {
        while queries.len() - first >= width {
            panels.push(Panel::new(queries, squares, first, width, width, |these| {
                screen_panel(these, width, d)
            }));
            first += width;
        }
    }
    (panels, first)
}

/// Every query in AMX panels of 32, the last padded with zero queries: none left over.
fn amx_panels(kernel: Kernel, queries: &[Query], squares: &[f64], d: usize) -> (Vec<Panel>, usize) {
    let width = Kernel::AMX_PANEL;
    let panels = (0..queries.len())
        .step_by(width)
        .map(|first| {
            let count = width.min(queries.len() - first);
            Panel::new(queries, squares, first, width, count, |these| kernel.screen_amx_panel(these, d))
        })
        .collect();
    (panels, queries.len())
}

/// The largest query norm the AMX screen takes: with rows of norm at most 1e15 (larger ones are
/// scored again for every query) its products and sums stay far inside f32's range.
const MAX_AMX_QUERY_NORM: f64 = 1e15;

/// Whether a screened value less `half` (half the row's square for euclidean, else 0) reaches
/// its cut (NaN never does).
#[inline(always)]
fn can_rank(value: f32, half: f32, cut: f32) -> bool {
    value - half >= cut
}

/// Whether any screened value reaches its cut: without early exit, so it compiles to vector
/// compares.
fn reaches(values: &[f32], half: f32, cut: &[f32]) -> bool {
    values.iter().zip(cut).fold(false, |any, (&v, &c)| any | can_rank(v, half, c))
}
