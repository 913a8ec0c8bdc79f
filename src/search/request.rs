//! The request types of a search and their validation: everything that can make a search
//! fail is checked here, before any row is scanned.

use crate::error::{fail, Result};
use crate::kernels::{norm_exact, Kernel, Lines};
use crate::rows::{Layout, Rows};

use super::within;

/// The three exact-search metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Cosine similarity, higher is better. The query is always normalized.
    Cosine,
    /// Dot product, higher is better. Normalized stores normalize the query too.
    Dot,
    /// Euclidean distance, lower is better. Normalized stores normalize the query too.
    Euclidean,
}

impl Metric {
    /// Similarities rank descending, distances ascending.
    pub fn descending(self) -> bool {
        !matches!(self, Metric::Euclidean)
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::Euclidean => "euclidean",
        }
    }
}

/// Search parameters. `threshold` is a minimum for cosine and dot, a maximum for euclidean.
#[derive(Debug, Clone, Copy)]
pub struct SearchOptions<'a> {
    pub top_k: usize,
    pub threshold: Option<f64>,
    /// Restrict the search to these row indexes (unique, in range; empty = no hits).
    pub within_rows: Option<&'a [usize]>,
    /// Worker threads for one search: 0 = automatic, 1 = the calling thread only.
    pub threads: usize,
}

impl Default for SearchOptions<'_> {
    fn default() -> Self {
        SearchOptions { top_k: 10, threshold: None, within_rows: None, threads: 0 }
    }
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Row index (insertion order, 0-based).
    pub index: usize,
    /// The row's metadata id.
    pub id: u64,
    /// Cosine similarity, dot product or euclidean distance.
    pub value: f64,
}

/// Reject a query of the wrong width or with non-finite values (`which` names a batch query).
pub(crate) fn check_query(dimensions: usize, query: &[f32], which: Option<usize>) -> Result<()> {
    let name = match which {
        Some(i) => format!("query {i}"),
        None => "query".to_string(),
    };
    if query.len() != dimensions {
        fail!(DimensionMismatch, "{name} has {} dimensions, store has {dimensions}", query.len());
    }
    if let Some(pos) = query.iter().position(|v| !v.is_finite()) {
        fail!(NonFinite, "{name} must contain only finite values (value {} at {pos})", query[pos]);
    }
    Ok(())
}

/// Reject a batch that is not a whole number of queries, or any query with non-finite values.
pub(crate) fn check_queries(dimensions: usize, queries: &[f32]) -> Result<()> {
    if !queries.len().is_multiple_of(dimensions) {
        fail!(
            DimensionMismatch,
            "queries hold {} values, not a whole number of queries of {dimensions} dimensions",
            queries.len()
        );
    }
    for (i, q) in queries.chunks_exact(dimensions).enumerate() {
        check_query(dimensions, q, Some(i))?;
    }
    Ok(())
}

/// A validated search request over a locked snapshot of the rows.
pub(crate) struct Plan<'a> {
    pub(super) rows: &'a Rows,
    pub(super) dimensions: usize,
    pub(super) normalized_store: bool,
    pub(super) metric: Metric,
    pub(super) top_k: usize,
    pub(super) threshold: Option<f64>,
    pub(super) within_rows: Option<&'a [usize]>,
    pub(super) threads: usize,
    /// The kernel implementation, chosen once per search.
    pub(super) kernel: Kernel,
}

/// A query ready to scan (normalized when the metric and store call for it), in its own
/// cache-line aligned buffer: the kernels load it a register at a time for every row.
pub(crate) struct Query(Lines);

impl Query {
    fn new(values: impl ExactSizeIterator<Item = f32>) -> Query {
        let mut lines = Lines::zeros(values.len());
        for (x, v) in lines.values_mut().iter_mut().zip(values) {
            *x = v;
        }
        Query(lines)
    }

    pub(super) fn values(&self) -> &[f32] {
        self.0.values()
    }
}

impl<'a> Plan<'a> {
    pub(crate) fn new(
        layout: Layout,
        rows: &'a Rows,
        metric: Metric,
        options: &SearchOptions<'a>,
    ) -> Result<Self> {
        if options.top_k == 0 {
            fail!(InvalidArgument, "top_k must be greater than 0");
        }
        let threshold = match options.threshold {
            Some(t) if !t.is_finite() => {
                let name = if metric.descending() { "min_value" } else { "max_value" };
                fail!(NonFinite, "{name} must be finite (got {t})");
            }
            // Cosine values are float32 in the reference, and numpy compares them with the
            // threshold rounded to float32; do the same so boundary rows agree.
            Some(t) if metric == Metric::Cosine => Some(t as f32 as f64),
            t => t,
        };
        if let Some(within) = options.within_rows {
            within::check_within_rows(within, rows.len())?;
        }
        Ok(Plan {
            rows,
            dimensions: layout.dimensions,
            normalized_store: layout.normalize,
            metric,
            top_k: options.top_k,
            threshold,
            within_rows: options.within_rows,
            threads: options.threads,
            kernel: Kernel::active(),
        })
    }

    /// Normalize the query when the metric asks for it; reject a zero query then.
    pub(crate) fn prepare_query(&self, query: &[f32], which: Option<usize>) -> Result<Query> {
        let normalize = self.metric == Metric::Cosine || self.normalized_store;
        if !normalize {
            return Ok(Query::new(query.iter().copied()));
        }
        // Correctly rounded, so the normalized query is the reference's whenever its norm is.
        let norm = norm_exact(query);
        if norm == 0.0 {
            match which {
                Some(i) => fail!(ZeroNorm, "cannot search with zero-norm query vector (query {i})"),
                None => fail!(ZeroNorm, "cannot search with zero-norm query vector"),
            }
        }
        Ok(Query::new(query.iter().map(|&x| (x as f64 / norm) as f32)))
    }

    /// Raw-store cosine divides by each row's norm: a selected zero-norm row is an error.
    pub(crate) fn check_rows(&self) -> Result<()> {
        if self.metric != Metric::Cosine || self.normalized_store {
            return Ok(());
        }
        let norms = self.rows.norms(self.dimensions);
        if norms.zero_rows == 0 {
            return Ok(());
        }
        let zero = match self.within_rows {
            Some(within) => within.iter().copied().find(|&r| norms.values[r] == 0.0),
            None => norms.values.iter().position(|&n| n == 0.0),
        };
        if let Some(r) = zero {
            fail!(ZeroNorm, "cannot cosine search zero-norm stored vectors (row {r})");
        }
        Ok(())
    }
}
