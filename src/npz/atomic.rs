//! Replace a file atomically: write a temporary file next to it, sync it, rename it over the
//! destination, sync the folder. Readers see the old file or the new one, never a mix, and a
//! failure at any step leaves the old file untouched and no temporary file behind.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::file_kind;
use crate::error::{Error, ErrorKind, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn io_fail(message: String) -> Error {
    Error::new(ErrorKind::Io, message)
}

/// Removes the temporary file unless the rename happened.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn create_temp(dir: &Path, file_name: &str, dest: &Path) -> Result<(File, TempFile)> {
    let nanos =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64 ^ d.as_secs());
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{file_name}.{:x}-{n:x}-{nanos:x}.tmp", std::process::id()));
        // `create_new` fails if the name exists, so two writers never share a temporary file.
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((f, TempFile { path, keep: false })),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io_fail(format!(
                    "cannot save {}: cannot create a temporary file in {}: {e}",
                    dest.display(),
                    dir.display()
                )))
            }
        }
    }
    Err(io_fail(format!("cannot save {}: no free temporary file name in {}", dest.display(), dir.display())))
}

/// Write `dest` through `write`, which receives a buffered temporary file.
///
/// An existing destination must be a regular file or a symbolic link to one (whose permission
/// bits the new file takes); the rename then replaces the link itself, as numpy-vector-store
/// does, and the file it pointed to stays as it was. A FIFO, device, socket or directory is
/// refused before anything is written, so a save never opens, blocks on or replaces one.
/// Nothing ever opens the destination itself.
pub(crate) fn replace_file(
    dest: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<()> {
    let (Some(dir), Some(file_name)) = (dest.parent(), dest.file_name()) else {
        return Err(io_fail(format!("cannot save {}: not a file path", dest.display())));
    };
    let file_name = file_name.to_string_lossy();
    let permissions = match fs::metadata(dest) {
        Ok(meta) if !meta.is_file() => {
            return Err(io_fail(format!(
                "cannot save {}: it is {}, not a regular file",
                dest.display(),
                file_kind(&meta.file_type())
            )));
        }
        Ok(meta) => Some(meta.permissions()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_fail(format!("cannot save {}: {e}", dest.display()))),
    };
    let (file, mut temp) = create_temp(dir, &file_name, dest)?;
    let fail = |e: io::Error| io_fail(format!("cannot save {}: {e}", dest.display()));
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    write(&mut writer).map_err(fail)?;
    let file = writer.into_inner().map_err(|e| fail(e.into_error()))?;
    if let Some(p) = permissions {
        file.set_permissions(p).map_err(fail)?;
    }
    file.sync_all().map_err(fail)?;
    drop(file);
    fs::rename(&temp.path, dest).map_err(fail)?;
    temp.keep = true;
    sync_dir(dir);
    Ok(())
}

/// Make the rename durable. Best effort: the new file is already in place, and some file
/// systems cannot sync a directory, so a failure here is not reported as a failed save.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
