//! Portable kernels: plain Rust with several independent accumulators so the compiler can
//! vectorize the reduction on any target (SSE2, NEON, ...). This is the reference that every
//! target-specific kernel is tested against.

const LANES: usize = 16;

#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let chunks = n / LANES;
    for c in 0..chunks {
        let x = &a[c * LANES..c * LANES + LANES];
        let y = &b[c * LANES..c * LANES + LANES];
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0.0f32;
    for i in chunks * LANES..n {
        tail += a[i] * b[i];
    }
    reduce(&acc) + tail
}

#[inline]
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let chunks = n / LANES;
    for c in 0..chunks {
        let x = &a[c * LANES..c * LANES + LANES];
        let y = &b[c * LANES..c * LANES + LANES];
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut tail = 0.0f32;
    for i in chunks * LANES..n {
        let d = a[i] - b[i];
        tail += d * d;
    }
    reduce(&acc) + tail
}

#[inline]
fn reduce(acc: &[f32; LANES]) -> f32 {
    // Pairwise: keeps the rounding error of long rows low and the order fixed.
    let mut v = *acc;
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            v[i] += v[i + width];
        }
        width /= 2;
    }
    v[0]
}

/// `op` of `query` with each row (the reference for [`super::Kernel::scores`]).
pub fn scores(op: super::Op, query: &[f32], rows: &[&[f32]], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(rows) {
        *o = match op {
            super::Op::Dot => dot(query, row),
            super::Op::L2sq => l2sq(query, row),
        };
    }
}

/// `op` of every query with every row into `out[q * rows.len() + r]`.
pub fn scores_tile(op: super::Op, queries: &[&[f32]], rows: &[&[f32]], out: &mut [f32]) {
    if rows.is_empty() {
        return;
    }
    for (q, o) in queries.iter().zip(out.chunks_exact_mut(rows.len())) {
        scores(op, q, rows, o);
    }
}
