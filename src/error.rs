//! One error type for the whole library: a kind (which is the C status) and a message that
//! names the offending value.

use std::fmt;

/// What went wrong. This is the C status enum itself (`nvs_status` in include/nvs.h): the
/// list of kinds, their numbers and their meanings is written once, in `src/status.rs` (a plain
/// enum, as cbindgen needs to see it), so the core and the C ABI cannot disagree.
/// An `Error` never has kind `Ok`.
pub use crate::status::nvs_status as ErrorKind;

/// An error with a readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        debug_assert!(kind != ErrorKind::Ok, "an error of kind Ok");
        Error { kind, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::collections::TryReserveError> for Error {
    fn from(e: std::collections::TryReserveError) -> Self {
        Error::new(ErrorKind::OutOfMemory, format!("could not allocate memory: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for `Err(Error::new(kind, format!(...)))`.
macro_rules! fail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::new($crate::error::ErrorKind::$kind, format!($($arg)*)))
    };
}
pub(crate) use fail;
