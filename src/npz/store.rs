//! The store's persistence: open, save and reload, on top of the codec in this folder. Archive
//! rows get the same checks as `add` (`rows.rs`); a failure there is a format error of the file.

use std::path::Path;

use super::{read_bytes, read_file, resolve_path, write_file, Archive, ReadOptions, WriteOptions};
use crate::error::{fail, Error, ErrorKind, Result};
use crate::rows::{Layout, PreparedRows};
use crate::store::VectorStore;

impl VectorStore {
    /// Open an archive file into a new store bound to that path.
    pub fn open(path: impl AsRef<Path>, options: ReadOptions) -> Result<Self> {
        let path = resolve_path(path.as_ref())?;
        let store = Self::from_archive(read_file(&path, options)?)?;
        store.bind_path(&path);
        Ok(store)
    }

    /// Open an archive held in memory (not bound to any path).
    pub fn open_bytes(bytes: &[u8], options: ReadOptions) -> Result<Self> {
        Self::from_archive(read_bytes(bytes, options)?)
    }

    fn from_archive(archive: Archive) -> Result<Self> {
        let store = VectorStore::new(archive.dimensions, archive.normalize)
            .map_err(|e| Error::new(ErrorKind::Format, format!("archive {}", e.message)))?;
        let prepared = prepare_loaded(store.layout(), archive.vectors)?;
        store.replace_rows(prepared, archive.ids);
        Ok(store)
    }

    /// Save to `path` (and bind it once the write succeeded), or with `None` to the bound path.
    /// The write is atomic: a failure leaves any previous file and the binding unchanged.
    pub fn save(&self, path: Option<&Path>, options: WriteOptions) -> Result<()> {
        let destination = match path {
            Some(p) => resolve_path(p)?,
            None => match self.file_path() {
                Some(p) => p,
                None => fail!(
                    NoBoundPath,
                    "save without a path needs a bound file path (open or save to a path first)"
                ),
            },
        };
        {
            let rows = self.read();
            let layout = self.layout();
            write_file(&destination, layout.dimensions, layout.normalize, &rows.vectors, &rows.ids, options)?;
        }
        self.bind_path(&destination);
        Ok(())
    }

    /// Refresh every row from the bound archive. Any failure leaves the store unchanged.
    pub fn reload(&self, options: ReadOptions) -> Result<()> {
        let Some(path) = self.file_path() else {
            fail!(NoBoundPath, "reload needs a bound file path (open or save to a path first)");
        };
        let archive = read_file(&path, options)?;
        let layout = self.layout();
        if archive.dimensions != layout.dimensions {
            fail!(
                DimensionMismatch,
                "archive {} has {} dimensions, store has {}",
                path.display(),
                archive.dimensions,
                layout.dimensions
            );
        }
        if archive.normalize != layout.normalize {
            fail!(
                InvalidArgument,
                "archive {} has normalize={}, store has normalize={}",
                path.display(),
                archive.normalize,
                layout.normalize
            );
        }
        let prepared = prepare_loaded(layout, archive.vectors)?;
        self.replace_rows(prepared, archive.ids);
        Ok(())
    }
}

/// Archive rows get the same checks as `add`, in the buffer they were decoded into.
fn prepare_loaded(layout: Layout, vectors: Vec<f32>) -> Result<PreparedRows> {
    layout
        .prepare_owned_rows(vectors, "archive vectors")
        .map_err(|e| Error::new(ErrorKind::Format, e.message))
}
