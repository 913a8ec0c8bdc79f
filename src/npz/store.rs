//! The store's persistence: open, save and reload, on top of the codec in this folder. Archive
//! rows get the same checks as `add` (`rows.rs`); a failure there is a format error of the file.

use std::path::Path;

use super::{
    map_file_into, read_bytes_into, read_file_into, resolve_path, write_file, Archive, InPlace, ReadOptions,
    RowParts, RowSink, WriteOptions,
};
use crate::column::Column;
use crate::error::{fail, Error, ErrorKind, Result};
use crate::rows::{Layout, Loading, Norms, PreparedRows, Rows, Storage, Values};
use crate::store::VectorStore;

impl VectorStore {
    /// Open an archive file into a new store bound to that path.
    ///
    /// With [`ReadOptions::map`] the file is mapped and, where its `vectors` member is stored
    /// (an uncompressed save), little-endian float32 in C order and 4-byte aligned (saves
    /// align it to 64), the rows are searched in place: the open reads the archive's
    /// structure, not its rows (uint64 ids stored the same way stay in place too). Any other
    /// archive opens the ordinary way; [`VectorStore::is_mapped`] tells which happened.
    /// Without [`ReadOptions::verify`] the rows in place are trusted: a corrupt or hostile
    /// file can give wrong scores (never a read outside the file), and a normalize store's
    /// rows are taken to be unit length. With it they get every check of an ordinary open.
    pub fn open(path: impl AsRef<Path>, options: ReadOptions) -> Result<Self> {
        let path = resolve_path(path.as_ref())?;
        let (layout, rows) = if options.map {
            load_mapped(&path, options, None)?
        } else {
            let mut preparing = Preparing::default();
            let archive = read_file_into(&path, options, &mut preparing)?;
            rows_from(archive, preparing, None)?
        };
        let store = Self::from_rows(layout, rows)?;
        store.bind_path(&path);
        Ok(store)
    }

    /// Open an archive held in memory (not bound to any path).
    pub fn open_bytes(bytes: &[u8], options: ReadOptions) -> Result<Self> {
        let mut preparing = Preparing::default();
        let archive = read_bytes_into(bytes, options, &mut preparing)?;
        let (layout, rows) = rows_from(archive, preparing, None)?;
        Self::from_rows(layout, rows)
    }

    fn from_rows(layout: Layout, rows: Rows) -> Result<Self> {
        let store = VectorStore::with_storage(layout.dimensions, layout.normalize, layout.storage)?;
        store.replace_all(rows);
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
            let ids = rows.ids.parts();
            let (f32_parts, f16_parts);
            let vectors = match &rows.vectors {
                Values::F32(c) => {
                    f32_parts = c.parts();
                    RowParts::F32(&f32_parts)
                }
                Values::F16(c) => {
                    f16_parts = c.parts();
                    RowParts::F16(&f16_parts)
                }
            };
            write_file(&destination, layout.dimensions, layout.normalize, vectors, &ids, options)?;
        }
        self.bind_path(&destination);
        Ok(())
    }

    /// Refresh every row from the bound archive. Any failure leaves the store unchanged.
    pub fn reload(&self, options: ReadOptions) -> Result<()> {
        let Some(path) = self.file_path() else {
            fail!(NoBoundPath, "reload needs a bound file path (open or save to a path first)");
        };
        let (_, rows) = if options.map {
            load_mapped(&path, options, Some(self.layout()))?
        } else {
            let mut preparing = Preparing::default();
            let archive = read_file_into(&path, options, &mut preparing)?;
            rows_from(archive, preparing, Some((&path, self.layout())))?
        };
        self.replace_all(rows);
        Ok(())
    }

    /// Whether some of the store's rows are searched in place in a mapped archive.
    pub fn is_mapped(&self) -> bool {
        self.read().is_mapped()
    }
}

/// The layout of `archive`'s store (a `FORMAT` error if no store can have it).
fn archive_layout(archive: &Archive) -> Result<Layout> {
    let storage = if archive.float16 { Storage::Float16 } else { Storage::Float32 };
    Layout::new(archive.dimensions, archive.normalize)
        .map(|l| l.with_storage(storage))
        .map_err(|e| Error::new(ErrorKind::Format, format!("archive {}", e.message)))
}

/// The archive's layout must match a reloading store's `expected` one.
fn check_layout(path: &Path, found: Layout, expected: Layout) -> Result<()> {
    if found.dimensions != expected.dimensions {
        fail!(
            DimensionMismatch,
            "archive {} has {} dimensions, store has {}",
            path.display(),
            found.dimensions,
            expected.dimensions
        );
    }
    if found.normalize != expected.normalize {
        fail!(
            InvalidArgument,
            "archive {} has normalize={}, store has normalize={}",
            path.display(),
            found.normalize,
            expected.normalize
        );
    }
    if found.storage != expected.storage {
        fail!(
            InvalidArgument,
            "archive {} keeps {:?} rows, store keeps {:?} (open it as a new store instead)",
            path.display(),
            found.storage,
            expected.storage
        );
    }
    Ok(())
}

/// The rows of an archive read the ordinary way, checked as `add` checks rows (after the
/// layout check of a reload, `expected`: its errors come first).
fn rows_from(
    archive: Archive,
    preparing: Preparing,
    expected: Option<(&Path, Layout)>,
) -> Result<(Layout, Rows)> {
    let layout = archive_layout(&archive)?;
    if let Some((path, expected)) = expected {
        check_layout(path, layout, expected)?;
    }
    let rows = match archive.vectors_f16 {
        Some(halves) => Rows::from_f16(layout, halves, archive.ids, WHAT)
            .map_err(|e| Error::new(ErrorKind::Format, e.message))?,
        None => Rows::from_prepared(preparing.finish(layout, archive.vectors)?, archive.ids),
    };
    Ok((layout, rows))
}

/// Read `path` through a mapping, leaving the rows and ids in place where the archive allows
/// (see [`VectorStore::open`]), else preparing them as an ordinary open does.
fn load_mapped(path: &Path, options: ReadOptions, expected: Option<Layout>) -> Result<(Layout, Rows)> {
    let mut preparing = Preparing::default();
    let (mut archive, map) = map_file_into(path, options, &mut preparing)?;
    let layout = archive_layout(&archive)?;
    if let Some(expected) = expected {
        check_layout(path, layout, expected)?;
    }
    let Some(map) = map else {
        return rows_from(archive, preparing, None);
    };
    let as_format =
        |e: Error| Error::new(ErrorKind::Format, format!("archive {}: {}", path.display(), e.message));
    let verify = |place: &InPlace| -> Result<()> {
        let bytes =
            &map.bytes()[place.member_start as usize..(place.member_start + place.member_len) as usize];
        if options.verify && crc32fast::hash(bytes) != place.crc {
            fail!(Format, "archive {}: a member's CRC-32 does not match its data", path.display());
        }
        Ok(())
    };
    let out_of_place = || Error::new(ErrorKind::Internal, "mapped values out of place");
    let d = layout.dimensions;
    let ids_in_place = archive.ids_in_place.take();
    let Some(place) = archive.vectors_in_place else {
        // Rows that had to be decoded (a compressed member, say): an ordinary store, whose
        // ids are copied out of the mapping if they were left there.
        if let Some(ids) = ids_in_place {
            verify(&ids)?;
            let rows = archive.vectors_f16.as_ref().map_or(archive.vectors.len(), |v| v.len()) / d;
            archive.ids = map.values::<u64>(ids.data as usize, rows).ok_or_else(out_of_place)?.to_vec();
        }
        return rows_from(archive, preparing, None);
    };
    let size = if archive.float16 { 2 } else { 4 };
    let values = ((place.member_start + place.member_len - place.data) / size) as usize;
    let rows = values / d;
    if rows == 0 {
        return Ok((layout, Rows::empty(layout.storage)));
    }
    let ids = match ids_in_place {
        Some(ids) => {
            verify(&ids)?;
            Column::mapped(map.clone(), ids.data as usize, rows).ok_or_else(out_of_place)?
        }
        None => Column::new(std::mem::take(&mut archive.ids)),
    };
    let at = place.data as usize;
    let vectors = match layout.storage {
        Storage::Float32 => Values::F32(Column::mapped(map.clone(), at, values).ok_or_else(out_of_place)?),
        Storage::Float16 => Values::F16(Column::mapped(map.clone(), at, values).ok_or_else(out_of_place)?),
    };
    let norms = match (options.verify, layout.normalize) {
        (true, _) => {
            verify(&place)?;
            match layout.check_in_place(&vectors, WHAT).map_err(as_format)? {
                Some(norms) => Some(norms),
                None => {
                    // Rows that are not unit length must be normalized: into private memory.
                    let mut all_ids = vec![0u64; rows];
                    ids.copy_to(0, &mut all_ids);
                    let rows = match vectors {
                        Values::F32(c) => {
                            let mut copy = c.mapped_part().to_vec();
                            let mut loading = layout.loading(rows, WHAT);
                            loading.rows(&mut copy);
                            Rows::from_prepared(loading.finish(copy).map_err(as_format)?, all_ids)
                        }
                        Values::F16(c) => Rows::from_f16(layout, c.mapped_part().to_vec(), all_ids, WHAT)
                            .map_err(as_format)?,
                    };
                    return Ok((layout, rows));
                }
            }
        }
        (false, true) => Some(Norms::default()),
        // Computed when a search first needs them: the open does not read the rows.
        (false, false) => None,
    };
    if !options.verify {
        map.will_need();
    }
    Ok((layout, Rows::from_mapped(vectors, ids, norms)))
}

/// Archive rows get the same checks as `add`, in the buffer they are decoded into, each chunk
/// while it is in cache (see `rows::Loading`). Failures are kept until the whole archive is
/// read, so they come after the archive's structural errors (and, for reload, after the
/// dimension and normalize checks), as when the rows were prepared after reading.
#[derive(Default)]
struct Preparing(Option<Loading>);

const WHAT: &str = "archive vectors";

impl RowSink for Preparing {
    fn start(&mut self, dimensions: usize, normalize: bool, rows: usize) {
        // An archive whose dimensions no store can have fails in `from_archive`, after reading.
        self.0 = Layout::new(dimensions, normalize).ok().map(|layout| layout.loading(rows, WHAT));
    }

    fn rows(&mut self, rows: &mut [f32]) {
        if let Some(loading) = &mut self.0 {
            loading.rows(rows);
        }
    }
}

impl Preparing {
    /// The prepared rows for a store of `layout` (the archive's own), or the rows' first
    /// failure as a format error of the file.
    fn finish(self, layout: Layout, vectors: Vec<f32>) -> Result<PreparedRows> {
        let loading = self.0.unwrap_or_else(|| layout.loading(0, WHAT));
        loading.finish(vectors).map_err(|e| Error::new(ErrorKind::Format, e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n * d)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn bits(s: &VectorStore) -> (Vec<u32>, Vec<u64>) {
        let n = s.len();
        let mut v = vec![0.0f32; n * s.dimensions()];
        let mut ids = vec![0u64; n];
        s.read_rows(0, n, Some(&mut v), Some(&mut ids)).unwrap();
        (v.iter().map(|x| x.to_bits()).collect(), ids)
    }

    /// open(save(store)) holds the store's rows bit for bit, normalized or raw, in every save
    /// mode and through open, open_bytes and reload. (At 2 to 8 dimensions, normalizing a
    /// normalized row again changes about one row in a hundred: the loader must not.)
    #[test]
    fn open_of_a_saved_store_gives_its_rows_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        for d in [1, 2, 3, 8, 384] {
            for normalize in [true, false] {
                let store = VectorStore::new(d, normalize).unwrap();
                let n = 60_000 / d;
                let ids: Vec<u64> = (0..n as u64).map(|i| i * 3 + 7).collect();
                store.add(&rows(n, d, d as u64), Some(&ids)).unwrap();
                let want = bits(&store);
                for (i, options) in [
                    WriteOptions::default(),
                    WriteOptions { uncompressed: true, ..Default::default() },
                    WriteOptions { pickled_metadata: true, ..Default::default() },
                ]
                .into_iter()
                .enumerate()
                {
                    let path = dir.path().join(format!("s-{d}-{normalize}-{i}.npz"));
                    store.save(Some(&path), options).unwrap();
                    let opened = VectorStore::open(&path, ReadOptions::default()).unwrap();
                    assert!(bits(&opened) == want, "open, d={d} normalize={normalize} mode {i}");
                    let from_bytes =
                        VectorStore::open_bytes(&std::fs::read(&path).unwrap(), ReadOptions::default())
                            .unwrap();
                    assert!(bits(&from_bytes) == want, "open_bytes, d={d} normalize={normalize} mode {i}");
                    opened.clear();
                    opened.reload(ReadOptions::default()).unwrap();
                    assert!(bits(&opened) == want, "reload, d={d} normalize={normalize} mode {i}");
                }
            }
        }
    }

    /// Row failures are reported after everything else the archive gets wrong, as when rows
    /// were prepared after reading: a corrupt member after `vectors`, then (reload) a
    /// dimension mismatch, come first.
    #[test]
    fn row_failures_come_after_structural_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.npz");
        let ids = [0x4242_4242_4242_4242u64; 3];
        let mut vectors = rows(3, 4, 1);
        vectors[5] = f32::NAN;
        let stored = WriteOptions { uncompressed: true, ..Default::default() };
        write_file(&path, 4, true, RowParts::F32(&[&vectors]), &[&ids], stored).unwrap();
        let e = VectorStore::open(&path, ReadOptions::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Format);
        assert!(e.message.contains("non-finite value (NaN) at row 1, column 1"), "{}", e.message);
        // A flipped byte in metadata.npy's data: its CRC failure is the error.
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.windows(8).position(|w| w == ids[0].to_le_bytes()).unwrap();
        bytes[at] ^= 1;
        let e = VectorStore::open_bytes(&bytes, ReadOptions::default()).unwrap_err();
        assert!(e.message.contains("member metadata.npy fails its CRC check"), "{}", e.message);
        // Reload into a store of other dimensions: the mismatch is the error.
        let store = VectorStore::new(3, true).unwrap();
        let other = dir.path().join("other.npz");
        store.save(Some(&other), stored).unwrap();
        std::fs::copy(&path, &other).unwrap();
        let e = store.reload(ReadOptions::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DimensionMismatch, "{}", e.message);
    }
}
