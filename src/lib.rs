//! native-vector-store (`nvs`): a fast, zero-setup, in-memory exact vector store.
//!
//! Rows are float32 vectors with a `u64` metadata id each; searches are exact cosine, dot or
//! euclidean with top-k, a threshold and an optional row prefilter; stores persist to a
//! portable `.npz` archive. The behaviour follows numpy-vector-store 0.7.0.
//!
//! The Rust API is [`VectorStore`] with [`SearchOptions`], [`ReadOptions`] and
//! [`WriteOptions`]; C and other languages use the C ABI in [`ffi`] (`include/nvs.h`). The
//! `kernels` and `npz` modules are public only for the benchmark, the fuzz targets and the
//! tests (hidden from the docs, no stability promise).

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod column;
pub mod error;
pub mod ffi;
#[doc(hidden)]
pub mod kernels;
mod memory;
#[doc(hidden)]
pub mod npz;
mod pool;
mod rows;
mod search;
mod status;
mod store;
#[cfg(test)]
#[path = "../tests/support/child.rs"]
mod test_support;

pub use error::{Error, ErrorKind, Result};
pub use npz::{ReadOptions, WriteOptions};
pub use rows::Storage;
pub use search::{Hit, Metric, SearchOptions};
pub use store::VectorStore;

/// The library version (same as the crate and the C header's `NVS_VERSION`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
