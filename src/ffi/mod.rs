//! The C ABI. This is the only module with `extern "C"`, raw pointers and status codes; it
//! converts C arguments into the core API and errors into `nvs_status` + a message.
//!
//! Every exported function runs inside [`boundary`], so no panic unwinds into C: a panic
//! becomes `NVS_STATUS_INTERNAL` with a message.

#![allow(non_camel_case_types)]
// Each function states its pointer contract in its doc comment, which is what C readers see in
// nvs.h; a separate "# Safety" heading would only repeat it there.
#![allow(clippy::missing_safety_doc)]

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use crate::error::{Error, ErrorKind};
use crate::pool::WORKER_NAME_PREFIX;

// Declared in this order so nvs.h lists the store functions before the archive ones.
mod store;

mod persist;

pub use crate::status::nvs_status;
pub use persist::*;
pub use store::*;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    /// How many C entry points this thread is inside (a panic there is reported, not printed).
    static IN_BOUNDARY: Cell<usize> = const { Cell::new(0) };
    /// What the panic hook saw of the last panic inside an entry point on this thread.
    static PANIC_NOTE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The default panic hook prints to stderr, which a library must never do. The first call
/// through the C boundary installs a hook that, for panics inside an entry point, only keeps
/// the message and location for the status message, and ignores panics of search workers
/// (their payload is re-raised in the entry point that waits for them); any other panic (a
/// Rust program using the rlib) still goes to the hook that was there before.
fn install_quiet_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_BOUNDARY.with(Cell::get) == 0 {
                // A search worker's panic reaches its caller's entry point, which reports it.
                let worker = std::thread::current().name().is_some_and(|n| n.starts_with(WORKER_NAME_PREFIX));
                if !worker {
                    return previous(info);
                }
                return;
            }
            let what = payload_text(info.payload());
            let note = match info.location() {
                Some(at) => format!("{what} (at {}:{})", at.file(), at.line()),
                None => what,
            };
            PANIC_NOTE.with(|n| *n.borrow_mut() = Some(note));
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Run `f` as the body of an entry point: no panic escapes, none is printed, and one that
/// happens is recorded as this thread's last error.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, ()> {
    install_quiet_panic_hook();
    IN_BOUNDARY.with(|d| d.set(d.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_BOUNDARY.with(|d| d.set(d.get() - 1));
    result.map_err(|panic| {
        let note = PANIC_NOTE.with(|n| n.borrow_mut().take()).unwrap_or_else(|| payload_text(&*panic));
        set_last_error(&format!("internal error (please report): {note}"));
    })
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Run an exported function body: errors become a status plus the thread's last message,
/// panics become `NVS_STATUS_INTERNAL` with the panic's message.
pub(crate) fn boundary(f: impl FnOnce() -> Result<(), Error>) -> nvs_status {
    match guarded(f) {
        Ok(Ok(())) => nvs_status::Ok,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            // An error that claims success is a bug; never report it as OK.
            if e.kind == nvs_status::Ok {
                nvs_status::Internal
            } else {
                e.kind
            }
        }
        Err(()) => nvs_status::Internal,
    }
}

/// Like [`boundary`] for functions that return a plain value: a panic yields `fallback` (and
/// its message is still this thread's last error).
pub(crate) fn boundary_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    guarded(f).unwrap_or(fallback)
}

fn null(name: &str) -> Error {
    Error::new(ErrorKind::NullArgument, format!("{name} must not be NULL"))
}

/// Borrow `len` elements at `ptr`. NULL is allowed only for an empty slice; misaligned or
/// oversized spans are rejected instead of becoming undefined behaviour.
///
/// # Safety
/// When non-NULL, `ptr` must point to `len` readable, initialized elements.
pub(crate) unsafe fn slice<'a, T>(ptr: *const T, len: usize, name: &str) -> Result<&'a [T], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    check_span(ptr, len, name)?;
    // SAFETY: non-NULL, aligned, size fits isize (checked above); validity is the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Mutable counterpart of [`slice`].
///
/// # Safety
/// When non-NULL, `ptr` must point to `len` writable elements not aliased elsewhere.
pub(crate) unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize, name: &str) -> Result<&'a mut [T], Error> {
    if len == 0 {
        return Ok(&mut []);
    }
    check_span(ptr, len, name)?;
    // SAFETY: as in `slice`, and the caller guarantees exclusive access.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

fn check_span<T>(ptr: *const T, len: usize, name: &str) -> Result<(), Error> {
    if ptr.is_null() {
        return Err(null(name));
    }
    if !(ptr as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{name} is not aligned for its element type"),
        ));
    }
    if len.checked_mul(std::mem::size_of::<T>()).is_none_or(|b| b > isize::MAX as usize) {
        return Err(Error::new(ErrorKind::InvalidArgument, format!("{name} length {len} is too large")));
    }
    Ok(())
}

/// Borrow an optional output buffer: NULL means the caller does not want that output.
///
/// # Safety
/// As [`slice_mut`] when non-NULL.
pub(crate) unsafe fn optional_slice_mut<'a, T>(
    ptr: *mut T,
    len: usize,
    name: &str,
) -> Result<Option<&'a mut [T]>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL; the rest is the caller's contract, forwarded.
    Ok(Some(unsafe { slice_mut(ptr, len, name) }?))
}

/// Check up front, before any work, that an out-pointer the call must write is not NULL.
pub(crate) fn required<T>(out: *mut T, name: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(null(name));
    }
    Ok(())
}

/// Write `value` through an optional out-pointer (NULL: the caller does not want it).
///
/// # Safety
/// When non-NULL, `out` must be valid for writes.
pub(crate) unsafe fn write_optional<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL; validity is the caller's contract.
        unsafe { out.write(value) };
    }
}

/// Write `value` through an out-pointer that must not be NULL.
///
/// # Safety
/// When non-NULL, `out` must be valid for writes.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T, name: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL; validity is the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Read a NUL-terminated UTF-8 path.
///
/// # Safety
/// When non-NULL, `ptr` must point to a NUL-terminated string.
pub(crate) unsafe fn c_path<'a>(ptr: *const c_char, name: &str) -> Result<&'a std::path::Path, Error> {
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(ptr) };
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(std::path::Path::new(std::ffi::OsStr::from_bytes(s.to_bytes())))
    }
    #[cfg(not(unix))]
    {
        s.to_str()
            .map(std::path::Path::new)
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("{name} is not valid UTF-8")))
    }
}

static VERSION_C: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes())
{
    Ok(s) => s,
    Err(_) => panic!("version string"),
};

/// The library version as "MAJOR.MINOR.PATCH" (equal to `NVS_VERSION`). Static storage.
#[no_mangle]
pub extern "C" fn nvs_version() -> *const c_char {
    VERSION_C.as_ptr()
}

/// The name of an `nvs_status` value without its prefix, e.g. "OK", "NULL_ARGUMENT". Static
/// storage; an unknown value gives "UNKNOWN".
#[no_mangle]
pub extern "C" fn nvs_status_name(status: u32) -> *const c_char {
    // Takes the integer, not the enum: a C caller may pass any value.
    match nvs_status::from_u32(status) {
        Some(s) => s.name().as_ptr(),
        None => c"UNKNOWN".as_ptr(),
    }
}

/// A readable message for the most recent failed call on this thread ("" if none failed yet).
/// Successful calls leave it unchanged. The pointer stays valid until the next failed call on
/// this thread; copy the text if you need it longer.
#[no_mangle]
pub extern "C" fn nvs_last_error_message() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        // SAFETY: the library's own static or thread-local NUL-terminated string.
        unsafe { CStr::from_ptr(nvs_last_error_message()) }.to_string_lossy().into_owned()
    }

    fn panics() {
        panic!("boom {}", 42);
    }

    /// A panic inside an entry point is INTERNAL (or the fallback value) with its text and
    /// location, and prints nothing.
    fn panics_are_reported_not_printed() {
        assert_eq!(
            boundary(|| {
                panics();
                Ok(())
            }),
            nvs_status::Internal
        );
        let message = last_error();
        assert!(
            message.starts_with("internal error (please report): boom 42 (at src/ffi/mod.rs:"),
            "{message}"
        );
        assert_eq!(boundary_value(7usize, || -> usize { panic!("value {}", 1) }), 7);
        assert!(last_error().contains("value 1"), "{}", last_error());
        // An entry point that works afterwards is not affected, and the message stays.
        assert_eq!(boundary(|| Ok(())), nvs_status::Ok);
        assert!(last_error().contains("value 1"));
    }

    #[test]
    fn panics_become_internal_with_their_message_and_print_nothing() {
        crate::test_support::run_child_test("ffi::tests::panics_child", &[]);
    }

    #[test]
    #[ignore = "run by panics_become_internal_with_their_message_and_print_nothing in a child process"]
    fn panics_child() {
        let printed = crate::test_support::captured(panics_are_reported_not_printed);
        assert!(printed.is_empty(), "the library printed: {}", String::from_utf8_lossy(&printed));
    }
}
