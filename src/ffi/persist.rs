//! C entry points for archives: open, save, reload and the bound path.

use std::ffi::c_char;

use super::store::{from_handle, into_handle, nvs_store};
use super::{boundary, boundary_value, c_path, nvs_status, required, slice, slice_mut};
use crate::error::{Error, ErrorKind};
use crate::npz::{ReadOptions, WriteOptions};
use crate::store::VectorStore;

/// Open flag: when an archive's metadata holds payloads that are not integers (for example a
/// numpy-vector-store archive with dict or string payloads), use row indexes as ids instead of
/// failing with `FORMAT`. Integers are never replaced: metadata that is all integers but has
/// one outside the uint64 range (negative, say) is `FORMAT` naming the row, flag or not.
pub const NVS_OPEN_ROW_INDEX_METADATA: u32 = 1;
/// Open flag (files only; `nvs_store_open_bytes` refuses it): map the archive and search its
/// rows in place, without reading them, when its `vectors` member allows it: stored
/// uncompressed (`NVS_SAVE_UNCOMPRESSED` saves, which align the rows to 64 bytes),
/// little-endian float32, C order, 4-byte aligned. uint64 ids stored the same way stay in
/// place too. Any other archive opens the ordinary way (never an error for that reason);
/// `nvs_store_is_mapped` tells which happened. Processes that map one file share its pages.
/// Adds go to private memory; `save` writes every row (also over the mapped file itself: it
/// is replaced by rename, so the mapping stays valid); `reload` and `clear` release the
/// mapping. Trust: without `NVS_OPEN_VERIFY` the rows are not read at open, so a corrupt or
/// hostile file gives wrong scores (a non-finite value, a normalize store's row that is not
/// unit length), never a read outside the file. If another process truncates or overwrites
/// the file in place while it is mapped, the process gets SIGBUS (Linux, macOS) when it
/// touches the lost pages: replace archives by rename (as `nvs_store_save` does), never in
/// place.
pub const NVS_OPEN_MAP: u32 = 2;
/// Open flag, with `NVS_OPEN_MAP`: check rows left in place as an ordinary open checks them
/// (member CRC-32s, finite values, and unit length for a normalize store, whose rows are
/// normalized into private memory if they are not), reading them once at open.
pub const NVS_OPEN_VERIFY: u32 = 4;
/// Save flag: store the archive members uncompressed (larger file, several times faster load).
pub const NVS_SAVE_UNCOMPRESSED: u32 = 1;
/// Save flag: write metadata as a pickled object array of Python ints, the layout that
/// numpy-vector-store 0.7.0's `VectorStore.open` reads (numpy.load then needs allow_pickle).
pub const NVS_SAVE_PICKLED_METADATA: u32 = 2;

/// Bytes that hold any path a store can be bound to, with its NUL: open and save refuse a path
/// longer than `NVS_PATH_CAPACITY - 1` bytes once resolved (`INVALID_ARGUMENT`).
pub const NVS_PATH_CAPACITY: usize = 4096;
const _: () = assert!(NVS_PATH_CAPACITY == crate::npz::MAX_PATH_BYTES + 1);

/// `file`: whether the archive is a file (only a file can be mapped).
fn read_options(flags: u32, file: bool) -> Result<ReadOptions, Error> {
    let known = NVS_OPEN_ROW_INDEX_METADATA | NVS_OPEN_MAP | NVS_OPEN_VERIFY;
    if flags & !known != 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, format!("unknown open flags {flags:#x}")));
    }
    if !file && flags & NVS_OPEN_MAP != 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, "NVS_OPEN_MAP needs a file, not bytes in memory"));
    }
    Ok(ReadOptions {
        row_index_metadata: flags & NVS_OPEN_ROW_INDEX_METADATA != 0,
        map: flags & NVS_OPEN_MAP != 0,
        verify: flags & NVS_OPEN_VERIFY != 0,
    })
}

fn write_options(flags: u32) -> Result<WriteOptions, Error> {
    if flags & !(NVS_SAVE_UNCOMPRESSED | NVS_SAVE_PICKLED_METADATA) != 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, format!("unknown save flags {flags:#x}")));
    }
    Ok(WriteOptions {
        uncompressed: flags & NVS_SAVE_UNCOMPRESSED != 0,
        pickled_metadata: flags & NVS_SAVE_PICKLED_METADATA != 0,
    })
}

/// Open a format-version-1 `.npz` archive into a new store with the archive's dimensions and
/// normalize setting, bound to the absolute path. `path` (NUL-terminated) is resolved as
/// numpy-vector-store does: empty is `INVALID_ARGUMENT`; `.` components and trailing `/` are
/// dropped ("dir/" means "dir.npz"); `.npz` is appended unless the name ends in it; a relative
/// path is anchored to the working directory. Only a regular file, or a symbolic link to one,
/// is read: a FIFO, device, socket, directory or dangling link gives `IO` ("it is a FIFO, not
/// a regular file") without blocking or reading from it. Same as
/// `nvs_store_open_with_flags(path, 0, out)`.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_open(path: *const c_char, out: *mut *mut nvs_store) -> nvs_status {
    // SAFETY: forwarded caller contract.
    unsafe { nvs_store_open_with_flags(path, 0, out) }
}

/// `nvs_store_open` with `NVS_OPEN_*` flags. Archives are fully validated before the store is
/// created; a malformed, truncated or hostile file gives `FORMAT` (or `IO`), never a crash.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_open_with_flags(
    path: *const c_char,
    flags: u32,
    out: *mut *mut nvs_store,
) -> nvs_status {
    boundary(|| {
        required(out, "out")?;
        // SAFETY: NUL-terminated path by contract; NULL checked.
        let path = unsafe { c_path(path, "path") }?;
        let store = VectorStore::open(path, read_options(flags, true)?)?;
        // SAFETY: `out` is writable by contract.
        unsafe { into_handle(store, out) }
    })
}

/// Open an archive held in memory (`len` bytes at `bytes`, read during the call only) with
/// `NVS_OPEN_*` flags. The new store is not bound to a path.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_open_bytes(
    bytes: *const u8,
    len: usize,
    flags: u32,
    out: *mut *mut nvs_store,
) -> nvs_status {
    boundary(|| {
        required(out, "out")?;
        // SAFETY: `len` readable bytes by contract; NULL checked.
        let bytes = unsafe { slice(bytes, len, "bytes") }?;
        let store = VectorStore::open_bytes(bytes, read_options(flags, false)?)?;
        // SAFETY: `out` is writable by contract.
        unsafe { into_handle(store, out) }
    })
}

/// Save the store as a compressed archive. With a `path` (resolved as in `nvs_store_open`),
/// save there ("Save As") and bind the store to it once the write succeeded; with NULL, save to
/// the bound path (`NO_BOUND_PATH` when there is none). The file is written to a temporary file
/// in the same folder, synced and renamed over the destination, so a failure (`IO`) leaves any
/// previous file and binding intact. An existing destination must be a regular file or a
/// symbolic link: a FIFO, device, socket or directory (also behind a link) gives `IO` and is
/// left alone. A link is replaced by the new file and its target left unchanged, as
/// numpy-vector-store does. Same as `nvs_store_save_with_flags(store, path, 0)`.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_save(store: *const nvs_store, path: *const c_char) -> nvs_status {
    // SAFETY: forwarded caller contract.
    unsafe { nvs_store_save_with_flags(store, path, 0) }
}

/// `nvs_store_save` with `NVS_SAVE_*` flags.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_save_with_flags(
    store: *const nvs_store,
    path: *const c_char,
    flags: u32,
) -> nvs_status {
    boundary(|| {
        // SAFETY: NULL or a live handle.
        let store = unsafe { from_handle(store) }?;
        let options = write_options(flags)?;
        let path = if path.is_null() {
            None
        } else {
            // SAFETY: NUL-terminated by contract.
            Some(unsafe { c_path(path, "path") }?)
        };
        store.save(path, options)
    })
}

/// Replace every row with the bound archive's contents. The archive must have the store's
/// dimensions and normalize setting. A bound path that is no longer a regular file (or a link
/// to one) gives `IO` without blocking, as in `nvs_store_open`. Any failure leaves the store
/// unchanged.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_reload(store: *mut nvs_store) -> nvs_status {
    // SAFETY: forwarded caller contract.
    unsafe { nvs_store_reload_with_flags(store, 0) }
}

/// `nvs_store_reload` with `NVS_OPEN_*` flags.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_reload_with_flags(store: *mut nvs_store, flags: u32) -> nvs_status {
    boundary(|| {
        // SAFETY: NULL or a live handle.
        let store = unsafe { from_handle(store) }?;
        store.reload(read_options(flags, true)?)
    })
}

/// Whether some of the store's rows are searched in place in a mapped archive (an open or
/// reload with `NVS_OPEN_MAP` that could map; false for NULL).
#[no_mangle]
pub unsafe extern "C" fn nvs_store_is_mapped(store: *const nvs_store) -> bool {
    // SAFETY: NULL or a live handle.
    boundary_value(false, || unsafe { from_handle(store) }.is_ok_and(|s| s.is_mapped()))
}

/// Copy the bound absolute path, NUL-terminated, into `buf` (`capacity` bytes) and its length
/// without the NUL into `*len`. A buffer of `NVS_PATH_CAPACITY` bytes always suffices: one call,
/// even while other threads save the store elsewhere. `NO_BOUND_PATH` when the store has none;
/// `BUFFER_TOO_SMALL` (with `*len` set to the length needed, excluding the NUL) when it does
/// not fit. `buf` may be NULL with a capacity of 0 to ask for the length.
#[no_mangle]
pub unsafe extern "C" fn nvs_store_file_path(
    store: *const nvs_store,
    buf: *mut c_char,
    capacity: usize,
    len: *mut usize,
) -> nvs_status {
    boundary(|| {
        // SAFETY: NULL or a live handle.
        let store = unsafe { from_handle(store) }?;
        required(len, "len")?;
        let Some(path) = store.file_path() else {
            return Err(Error::new(ErrorKind::NoBoundPath, "the store is not bound to a file path"));
        };
        let bytes = path_bytes(&path);
        // SAFETY: non-NULL (checked), writable by contract.
        unsafe { len.write(bytes.len()) };
        // SAFETY: by contract `buf` holds `capacity` writable bytes that nothing else uses
        // during the call (NULL only with 0); `slice_mut` checks the rest.
        let out = unsafe { slice_mut(buf.cast::<u8>(), capacity, "buf") }?;
        if out.len() < bytes.len() + 1 {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!("path needs {} bytes plus NUL, buffer has {}", bytes.len(), out.len()),
            ));
        }
        out[..bytes.len()].copy_from_slice(&bytes);
        out[bytes.len()] = 0;
        Ok(())
    })
}

fn path_bytes(path: &std::path::Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy().into_owned().into_bytes()
    }
}
