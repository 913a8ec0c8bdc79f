//! Exact search over a locked snapshot of the rows. Values follow the reference
//! (numpy-vector-store 0.7.0): normalized stores compute in f32; raw stores give the exact
//! value correctly rounded to the reference's type (f64 dot and distance, f32 cosine).
//!
//! One file per job: `request.rs` (the request types and every check that can fail a search),
//! `threads.rs` (workers), `scan.rs` (blocks of rows, tiles of queries), `screen.rs` (large
//! batches, screened by a matrix product), `raw.rs` (exact values of raw stores), `within.rs`
//! (the prefilter check) and `topk.rs` (selection with the reference's tie order). The store
//! takes its lock and calls [`one`] or [`many`].

mod raw;
mod request;
mod scan;
mod screen;
mod threads;
mod topk;
mod within;

pub(crate) use request::{check_queries, check_query};
pub use request::{Hit, Metric, SearchOptions};

use crate::error::Result;
use crate::rows::{Layout, Rows};
use request::Plan;

/// Search `rows` for one query, already checked by [`check_query`].
pub(crate) fn one(
    layout: Layout,
    rows: &Rows,
    metric: Metric,
    query: &[f32],
    options: &SearchOptions<'_>,
) -> Result<Vec<Hit>> {
    let plan = Plan::new(layout, rows, metric, options)?;
    let query = plan.prepare_query(query, None)?;
    plan.check_rows()?;
    Ok(plan.run(&query))
}

/// Search `rows` for many queries (row-major), already checked by [`check_queries`]; every
/// query is prepared before any is run, so one bad query fails the whole batch.
pub(crate) fn many(
    layout: Layout,
    rows: &Rows,
    metric: Metric,
    queries: &[f32],
    options: &SearchOptions<'_>,
) -> Result<Vec<Vec<Hit>>> {
    let plan = Plan::new(layout, rows, metric, options)?;
    let prepared = queries
        .chunks_exact(layout.dimensions)
        .enumerate()
        .map(|(i, q)| plan.prepare_query(q, Some(i)))
        .collect::<Result<Vec<_>>>()?;
    plan.check_rows()?;
    Ok(plan.run_batch(&prepared))
}
