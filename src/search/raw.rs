//! Raw stores: the exact value of each row that can still matter. The f32 kernel result only
//! screens rows; with a proven bound on its error, rows that cannot enter the top-k or pass
//! the threshold are dropped, and the few others get their correctly rounded value
//! (`Kernel::dots_exact` and friends).

use super::request::{Metric, Plan};
use super::topk::TopK;
use crate::kernels::U32;
use crate::rows::Elem;

/// The largest absolute error one f32 operation can make in gradual underflow (2^-150).
const UNDERFLOW: f64 = 7.1e-46;

impl Plan<'_> {
    /// Raw stores: candidates `start..start + refs.len()` with their f32 kernel results in
    /// `raw`. The value is the exact one, correctly rounded: the f64 dot product or distance,
    /// the f32 cosine (the reference's dot over the row norm rounded to f32). A row is dropped
    /// when the f32 result plus its error bound still ranks below the current k-th value or
    /// fails the threshold; only the rest pay for the exact value.
    pub(super) fn offer_raw<T: Elem>(
        &self,
        q: &[f32],
        start: usize,
        refs: &[&[T]],
        raw: &[f32],
        top: &mut TopK,
    ) {
        debug_assert!(raw.len() == refs.len());
        let d = self.dimensions as f64;
        // Rounding: at most d * 2^-24 relative to sum |q_i r_i| (recursive summation; blocking
        // and lane splits only lower it), doubled for margin; plus gradual underflow.
        let relative = (2.0 * d + 8.0) * U32;
        let absolute = (2.0 * d + 2.0) * UNDERFLOW;
        let row_norms = &self.rows.norms(self.dimensions).values;
        let q_norm = match self.metric {
            Metric::Dot => self.kernel.norm_sq_f64(q).sqrt(),
            _ => 1.0,
        };
        // Small chunks, so the k-th value set by the first exact values screens the rest of
        // the block (the first block of a scan would otherwise compute every row exactly).
        const CHUNK: usize = 16;
        let mut selected: [&[T]; CHUNK] = [&[]; CHUNK];
        let mut scratch = Vec::new();
        let mut exact_rows = [0usize; CHUNK];
        let mut values = [0.0f64; CHUNK];
        let mut norms = [0.0f64; CHUNK];
        let mut cosines = [0.0f32; CHUNK];
        for (c, (raw, refs)) in raw.chunks(CHUNK).zip(refs.chunks(CHUNK)).enumerate() {
            // The limit a row's optimistic bound must reach: the k-th value or the threshold.
            let bar = match (top.worst(), self.threshold) {
                (Some(b), Some(t)) => Some(if top.strictly_worse(b, t) { t } else { b }),
                (b, t) => b.or(t),
            };
            let mut n = 0;
            for (i, (&r, &v)) in raw.iter().zip(refs).enumerate() {
                let row = self.row_at(start + c * CHUNK + i);
                // A row with a non-finite value (only an unverified mapped open can hold one)
                // has no exact value: it never matches.
                if !r.is_finite() && v.iter().any(|&x| !x.is_finite()) {
                    continue;
                }
                // An overflowed (non-finite) f32 result says nothing: always compute exactly.
                if let (true, Some(bar)) = (r.is_finite(), bar) {
                    let r = r as f64;
                    let hopeless = match self.metric {
                        // |q| = 1: dot error <= relative * |r| + absolute; compare dot with bar * |r|.
                        Metric::Cosine => {
                            let norm = row_norms[row];
                            r + relative * norm + absolute < bar * norm
                        }
                        Metric::Dot => r + relative * q_norm * row_norms[row] + absolute < bar,
                        // All terms are non-negative: a relative lower bound on the squared distance.
                        Metric::Euclidean => r * (1.0 - relative) - absolute > bar * bar,
                    };
                    if hopeless {
                        continue;
                    }
                }
                selected[n] = v;
                exact_rows[n] = row;
                n += 1;
            }
            // Exact values are of the rows as stored, as float32 (float16 ones widened).
            let mut exact_refs: [&[f32]; CHUNK] = [&[]; CHUNK];
            T::as_f32(&selected[..n], &mut scratch, &mut exact_refs);
            let (refs, rows) = (&exact_refs[..n], &exact_rows[..n]);
            match self.metric {
                Metric::Dot => self.kernel.dots_exact(q, refs, &mut values[..n]),
                Metric::Euclidean => self.kernel.distances_exact(q, refs, &mut values[..n]),
                Metric::Cosine => {
                    for (norm, &row) in norms.iter_mut().zip(rows) {
                        *norm = row_norms[row];
                    }
                    self.kernel.cosines_exact(q, refs, &norms[..n], &mut cosines[..n]);
                    for (v, &c) in values.iter_mut().zip(&cosines[..n]) {
                        *v = c as f64;
                    }
                }
            }
            for (&value, &row) in values[..n].iter().zip(rows) {
                self.keep(value, row, top);
            }
        }
    }
}
