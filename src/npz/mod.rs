//! The format-version-1 `.npz` archive codec (placeholder interface; the codec lands with the
//! persistence work).

use std::path::{Path, PathBuf};

use crate::error::{fail, Result};

/// A fully parsed and structurally validated archive (values not yet checked for finiteness
/// or normalized: the store does that with the same rules as `add`).
#[derive(Debug, Clone, PartialEq)]
pub struct Archive {
    pub dimensions: usize,
    pub normalize: bool,
    /// Row-major float32 rows, `dimensions` wide.
    pub vectors: Vec<f32>,
    pub ids: Vec<u64>,
}

/// How to read an archive.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadOptions {
    /// Metadata that is not an array of integers in the uint64 range (for example
    /// numpy-vector-store archives with dict payloads) is replaced by row indexes instead of
    /// failing.
    pub row_index_metadata: bool,
}

/// How to write an archive.
#[derive(Debug, Default, Clone, Copy)]
pub struct WriteOptions {
    /// Store members without deflate compression (larger file, faster load).
    pub uncompressed: bool,
    /// Write metadata as a pickled object array of Python ints, which numpy-vector-store
    /// 0.7.0's `VectorStore.open` accepts (numpy then needs `allow_pickle=True`).
    pub pickled_metadata: bool,
}

/// Anchor a relative path to the working directory and add `.npz` when it is missing.
pub fn resolve_path(path: &Path) -> Result<PathBuf> {
    if path.as_os_str().is_empty() {
        fail!(InvalidArgument, "path must not be empty");
    }
    let mut p = path.to_path_buf();
    if p.extension().map_or(true, |e| e != "npz") {
        let mut s = p.into_os_string();
        s.push(".npz");
        p = PathBuf::from(s);
    }
    match std::path::absolute(&p) {
        Ok(abs) => Ok(abs),
        Err(e) => fail!(Io, "cannot resolve path {}: {e}", p.display()),
    }
}

pub fn read_bytes(_bytes: &[u8], _options: ReadOptions) -> Result<Archive> {
    fail!(Internal, "archive reading is not built yet")
}

pub fn read_file(_path: &Path, _options: ReadOptions) -> Result<Archive> {
    fail!(Internal, "archive reading is not built yet")
}

#[allow(clippy::too_many_arguments)]
pub fn write_file(
    _path: &Path,
    _dimensions: usize,
    _normalize: bool,
    _vectors: &[f32],
    _ids: &[u64],
    _options: WriteOptions,
) -> Result<()> {
    fail!(Internal, "archive writing is not built yet")
}
