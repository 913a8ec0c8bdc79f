//! Large row buffers: ask Linux for transparent huge pages before the first touch. A 150 MB
//! store then takes ~75 page faults instead of ~37,000 (ingestion is fault-bound otherwise) and
//! scans need fewer TLB entries. Elsewhere, and on kernels with THP off, this does nothing.

/// Below this a buffer cannot contain a whole 2 MiB huge page worth advising.
#[cfg(target_os = "linux")]
const HUGE: usize = 2 << 20;

/// Advise the kernel to back the spare capacity of `v` with huge pages. Call right after
/// reserving and before writing: pages already faulted in stay small.
pub(crate) fn advise_huge_pages<T>(v: &mut Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        let bytes = v.capacity() * std::mem::size_of::<T>();
        if bytes < 2 * HUGE {
            return;
        }
        let start = v.as_mut_ptr() as usize;
        let first = start.next_multiple_of(HUGE);
        let end = (start + bytes) / HUGE * HUGE;
        if end > first {
            // SAFETY: the range lies inside the Vec's own allocation; MADV_HUGEPAGE only changes
            // how the kernel backs it, never its contents. Failure (EINVAL with THP off) is fine.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// A whole file mapped read-only and shared: its pages are the page cache's, so every process
/// that maps the same file shares them, and nothing is read until it is touched.
///
/// The bytes are only as stable as the file: another process that writes into it changes
/// them (callers must treat them as untrusted, and never rely on two reads agreeing), and one
/// that truncates it makes touching the lost pages raise SIGBUS. nvs itself never writes into
/// a file in place (saves replace it by rename), so its own saves are safe.
pub(crate) struct MappedFile {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and lives until drop; sharing the address between threads
// is what a shared mapping is for.
unsafe impl Send for MappedFile {}
// SAFETY: as above: no thread can write through it.
unsafe impl Sync for MappedFile {}

impl MappedFile {
    /// Map all of `file`, which is `len` bytes long (from its metadata). `None` where mapping
    /// is not available (not Unix, an empty file, or the kernel refused); the caller reads the
    /// file instead.
    pub(crate) fn map(file: &std::fs::File, len: u64) -> Option<MappedFile> {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let len = usize::try_from(len).ok().filter(|&l| l > 0)?;
            // SAFETY: a new read-only shared mapping of an open file descriptor; the kernel
            // picks the address. The result is checked before use.
            let ptr = unsafe {
                libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0)
            };
            if ptr == libc::MAP_FAILED {
                return None;
            }
            Some(MappedFile { ptr: ptr as *const u8, len })
        }
        #[cfg(not(unix))]
        {
            let _ = (file, len);
            None
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until drop (a u8 has no alignment or
        // validity requirement).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// `len` values of `T` from byte `offset`, or `None` if they are not inside the file or
    /// not aligned for `T`.
    pub(crate) fn values<T: Plain>(&self, offset: usize, len: usize) -> Option<&[T]> {
        let size = std::mem::size_of::<T>();
        let end = len.checked_mul(size)?.checked_add(offset)?;
        let bytes = self.bytes().get(offset..end)?;
        if !(bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>()) {
            return None;
        }
        // SAFETY: in bounds and aligned (both checked above), and every bit pattern is a
        // valid `T` (`Plain`).
        Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const T, len) })
    }

    /// Tell the kernel the whole file will be needed (read ahead now). Only a hint.
    pub(crate) fn will_need(&self) {
        #[cfg(unix)]
        // SAFETY: the range is this mapping; MADV_WILLNEED only schedules reads.
        unsafe {
            libc::madvise(self.ptr as *mut libc::c_void, self.len, libc::MADV_WILLNEED);
        }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        #[cfg(unix)]
        // SAFETY: the mapping made in `map`, unmapped once; no reference into it outlives
        // `self` (they borrow it).
        unsafe {
            libc::munmap(self.ptr as *mut libc::c_void, self.len);
        }
    }
}

/// Values that any bit pattern of their size is (so file bytes can be read as them in place).
pub(crate) trait Plain: Copy + 'static {}
impl Plain for f32 {}
impl Plain for u64 {}
impl Plain for u16 {}
