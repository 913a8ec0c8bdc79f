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
