//! Distance kernels over float32 rows.
//!
//! Every kernel has a portable implementation (`portable`) that the tests treat as the
//! reference. Faster target-specific versions are chosen once at runtime (see `dispatch`).
//! The search code only calls the block functions below, never a specific implementation.

pub mod portable;

/// Dot products of `query` with each row of `rows` (row-major, `query.len()` wide) into `out`.
#[inline]
pub fn dot_block(query: &[f32], rows: &[f32], out: &mut [f32]) {
    debug_assert_eq!(rows.len(), query.len() * out.len());
    portable::dot_block(query, rows, out)
}

/// Squared euclidean distances of `query` to each row of `rows` into `out`.
#[inline]
pub fn l2sq_block(query: &[f32], rows: &[f32], out: &mut [f32]) {
    debug_assert_eq!(rows.len(), query.len() * out.len());
    portable::l2sq_block(query, rows, out)
}

/// Dot product accumulated in f64: the slow path for rows whose f32 result overflowed or
/// underflowed (raw, non-normalized stores with extreme magnitudes).
pub fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// Squared euclidean distance accumulated in f64 (see [`dot_f64`]).
pub fn l2sq_f64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum()
}

/// Squared norm accumulated in f64, so finite rows of any magnitude never overflow.
pub fn norm_sq_f64(a: &[f32]) -> f64 {
    a.iter().map(|&x| (x as f64) * (x as f64)).sum()
}
