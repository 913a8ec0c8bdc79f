//! The format-version-1 `.npz` archive codec.
//!
//! An archive is a zip of five `.npy` members: `format_version` (int64 scalar, 1),
//! `dimensions` (int64 scalar), `normalize` (bool scalar), `vectors` (float32, rows x
//! dimensions, C order) and `metadata` (one id per row: a uint64 array, or with
//! [`WriteOptions::pickled_metadata`] the pickled object array numpy-vector-store writes).
//! Reading treats the file as hostile: see `read.rs`. Writing replaces the file atomically:
//! see `atomic.rs`.

mod atomic;
mod deflate;
mod npy;
mod pickle;
mod read;
mod store;
mod write;

use std::fs::{self, FileType, OpenOptions};
use std::io::{self, BufReader, Cursor};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::error::{fail, Result};
use crate::memory::MappedFile;
pub(crate) use read::RowSink;

/// The member names without `.npy`, in the order they are written (and checked).
pub(crate) const FIELDS: [&str; 5] = ["format_version", "dimensions", "normalize", "vectors", "metadata"];

/// A fully parsed and structurally validated archive (values not yet checked for finiteness
/// or normalized: the store does that with the same rules as `add`).
#[derive(Debug, Clone, PartialEq)]
pub struct Archive {
    pub dimensions: usize,
    pub normalize: bool,
    /// Row-major float32 rows, `dimensions` wide.
    pub vectors: Vec<f32>,
    pub ids: Vec<u64>,
    /// The rows of a float16 archive (`<f2` or `>f2` vectors), as bit patterns; `vectors`
    /// is then empty.
    pub vectors_f16: Option<Vec<u16>>,
    /// Whether the archive's rows are float16 (then a store opened from it keeps float16).
    pub float16: bool,
    /// Set (and `vectors` left empty) when a mapped read left the rows in place.
    pub vectors_in_place: Option<InPlace>,
    /// Set (and `ids` left empty) when a mapped read left the ids in place.
    pub ids_in_place: Option<InPlace>,
}

/// Row values to write, in parts written in order: float32, or float16 bit patterns (then the
/// `vectors` member is `<f2`).
#[derive(Debug, Clone, Copy)]
pub enum RowParts<'a> {
    F32(&'a [&'a [f32]]),
    F16(&'a [&'a [u16]]),
}

impl RowParts<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            RowParts::F32(p) => p.iter().map(|p| p.len()).sum(),
            RowParts::F16(p) => p.iter().map(|p| p.len()).sum(),
        }
    }
}

/// How to read an archive.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadOptions {
    /// Metadata that is not an array of integers in the uint64 range (for example
    /// numpy-vector-store archives with dict payloads) is replaced by row indexes instead of
    /// failing.
    pub row_index_metadata: bool,
    /// Open a file by mapping it and leave the rows (and uint64 ids) in place where the
    /// archive allows it: see `VectorStore::open`.
    pub map: bool,
    /// With `map`: check everything an ordinary open checks (CRCs, finite values, unit rows
    /// of normalize stores), reading the rows once. Without `map` every open does.
    pub verify: bool,
}

/// Where an array's data lies in the file when it can be used in place (a stored member,
/// little-endian, C order, aligned for its values): its byte offset, and its member's bytes
/// and CRC-32 (to verify it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InPlace {
    pub data: u64,
    pub member_start: u64,
    pub member_len: u64,
    pub crc: u32,
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

/// Resolve a path the way numpy-vector-store 0.7.0 does (it uses Python's `pathlib`): empty is
/// refused; repeated separators, `.` components and trailing separators are dropped (so
/// `"dir/"` means `dir.npz`, never the hidden file `dir/.npz`); `.npz` is appended unless the
/// last component already ends in it; a relative path is anchored to the working directory.
/// `..` components and symbolic links are kept as they are. A result longer than
/// [`MAX_PATH_BYTES`] is refused.
pub fn resolve_path(path: &Path) -> Result<PathBuf> {
    if path.as_os_str().is_empty() {
        fail!(InvalidArgument, "path must not be empty");
    }
    let mut p: PathBuf = path.components().filter(|c| *c != Component::CurDir).collect();
    if p.as_os_str().is_empty() {
        // "." or "./": pathlib keeps "." and so names the file "..npz".
        p.push(".");
    }
    if p.extension().is_none_or(|e| e != "npz") {
        let mut s = p.into_os_string();
        s.push(".npz");
        p = PathBuf::from(s);
    }
    let abs = match std::path::absolute(&p) {
        Ok(abs) => abs,
        Err(e) => fail!(Io, "cannot resolve path {}: {e}", p.display()),
    };
    let len = abs.as_os_str().len();
    if len > MAX_PATH_BYTES {
        fail!(
            InvalidArgument,
            "path is {len} bytes once resolved; a store binds paths of at most {MAX_PATH_BYTES} bytes"
        );
    }
    Ok(abs)
}

/// The longest path (in bytes, after [`resolve_path`]) a store opens, saves or binds. Linux
/// refuses longer ones in any single system call anyway (PATH_MAX is 4096 with the NUL); the
/// bound makes it a promise, so a C caller sizes a path buffer once (`NVS_PATH_CAPACITY`).
pub const MAX_PATH_BYTES: usize = 4095;

/// What a file that is not a regular file is, for messages ("it is a FIFO, not a regular file").
pub(crate) fn file_kind(file_type: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// Read and validate an archive held in memory.
pub fn read_bytes(bytes: &[u8], options: ReadOptions) -> Result<Archive> {
    read_bytes_into(bytes, options, &mut ())
}

/// [`read_bytes`], handing the rows to `sink` as they are decoded.
pub(crate) fn read_bytes_into(
    bytes: &[u8],
    options: ReadOptions,
    sink: &mut impl RowSink,
) -> Result<Archive> {
    read::read_archive(Cursor::new(bytes), bytes.len() as u64, "archive".to_string(), options, sink)
}

/// Read and validate the archive at `path` (used as given; see [`resolve_path`]).
///
/// Only a regular file (or a symbolic link to one) is read: a FIFO, device, socket or directory
/// is refused with `Io` before anything is read from it. The path is checked before it is
/// opened (so a device is not even opened), and the open file is checked again, to close the
/// race with a rename in between. The open never blocks: on Unix it uses `O_NONBLOCK` (which
/// changes nothing for a regular file, and keeps a pseudo-file that claims to be regular from
/// blocking) and `O_NOCTTY`.
pub fn read_file(path: &Path, options: ReadOptions) -> Result<Archive> {
    read_file_into(path, options, &mut ())
}

/// [`read_file`], handing the rows to `sink` as they are decoded.
pub(crate) fn read_file_into(path: &Path, options: ReadOptions, sink: &mut impl RowSink) -> Result<Archive> {
    let (file, len) = open_regular(path)?;
    // The buffer serves the small reads (zip directory, headers, scalars); the rows are read
    // in chunks at least this large, which bypass it.
    let reader = BufReader::with_capacity(64 * 1024, file);
    read::read_archive(reader, len, format!("archive {}", path.display()), options, sink)
}

/// Map the archive at `path` (checked as by [`read_file`]) and read its structure from the
/// mapping: arrays that can stay in place (`options.map`) are not read, the others go to
/// `sink` as usual. `None` for the mapping where the file cannot be mapped (then it was read
/// the ordinary way).
pub(crate) fn map_file_into(
    path: &Path,
    options: ReadOptions,
    sink: &mut impl RowSink,
) -> Result<(Archive, Option<Arc<MappedFile>>)> {
    let (file, len) = open_regular(path)?;
    let ctx = format!("archive {}", path.display());
    match MappedFile::map(&file, len) {
        Some(map) => {
            let map = Arc::new(map);
            let archive = read::read_archive(Cursor::new(map.bytes()), len, ctx, options, sink)?;
            Ok((archive, Some(map)))
        }
        None => {
            let options = ReadOptions { map: false, ..options };
            let reader = BufReader::with_capacity(64 * 1024, file);
            Ok((read::read_archive(reader, len, ctx, options, sink)?, None))
        }
    }
}

/// Open `path` for reading if it is a regular file (see [`read_file`]), with its length.
fn open_regular(path: &Path) -> Result<(fs::File, u64)> {
    match fs::metadata(path) {
        Ok(meta) => check_regular(path, &meta)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound && path.is_symlink() => {
            fail!(Io, "cannot open {}: it is a symbolic link to a missing file", path.display())
        }
        Err(e) => fail!(Io, "cannot open {}: {e}", path.display()),
    }
    let mut open = OpenOptions::new();
    open.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = match open.open(path) {
        Ok(f) => f,
        Err(e) => fail!(Io, "cannot open {}: {e}", path.display()),
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => fail!(Io, "cannot open {}: {e}", path.display()),
    };
    check_regular(path, &meta)?;
    Ok((file, meta.len()))
}

fn check_regular(path: &Path, meta: &fs::Metadata) -> Result<()> {
    if !meta.is_file() {
        fail!(
            Io,
            "cannot open {}: it is {}, not a regular file",
            path.display(),
            file_kind(&meta.file_type())
        );
    }
    Ok(())
}

/// Write an archive to `path`, atomically replacing any existing file (whose permission bits
/// the new file keeps). `vectors` is row-major, `dimensions` wide, one row per id; both may
/// come in parts, written in order.
pub fn write_file(
    path: &Path,
    dimensions: usize,
    normalize: bool,
    vectors: RowParts<'_>,
    ids: &[&[u64]],
    options: WriteOptions,
) -> Result<()> {
    let values = vectors.len();
    let rows: usize = ids.iter().map(|p| p.len()).sum();
    if values != rows.saturating_mul(dimensions) {
        fail!(Internal, "{values} values do not make {rows} rows of {dimensions} dimensions");
    }
    atomic::replace_file(path, |out| write::write_archive(out, dimensions, normalize, vectors, ids, options))
}
