//! One error type for the whole library: a kind (mapped 1:1 to a C status) and a message that
//! names the offending value.

use std::fmt;

/// What went wrong, independent of any language binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NullArgument,
    InvalidArgument,
    DimensionMismatch,
    NonFinite,
    ZeroNorm,
    OutOfRange,
    NotFound,
    BufferTooSmall,
    Io,
    Format,
    NoBoundPath,
    OutOfMemory,
    Internal,
}

/// An error with a readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
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
