//! The status list (shared by the core and the C ABI, which re-exports it): the one place where the library's error kinds, their numbers and their
//! meanings are written.
//!
//! The list is the literal `nvs_status` enum below, because cbindgen reads source and does not
//! expand macros: what it sees becomes `NVS_STATUS_*` in include/nvs.h, doc comments included.
//! Everything else is derived from it:
//! - the core's [`crate::ErrorKind`] is this same enum (a re-export), so there is no mapping to
//!   keep in step; an `Error` never carries `Ok` (`Error::new` asserts it in debug builds, and
//!   the boundary reports INTERNAL if one ever does);
//! - `nvs_status_name` and [`nvs_status::ALL`] come from the `derive_status_table!` line below.
//!   It repeats only the variant identifiers, and it expands to an exhaustive `match`, so a
//!   variant missing there does not compile; each name is the identifier in SCREAMING_SNAKE_CASE,
//!   spelled as cbindgen spells the header constant (tests/status_tables.rs checks every name and
//!   number against include/nvs.h, and every binding's copy of the table).
//!
//! The numbers are ABI: never renumber or reuse one. A retired status keeps its number as a
//! comment here ("reserved, was ...").

use std::ffi::CStr;

/// The result of every fallible call. `NVS_STATUS_OK` is 0; on any other status
/// `nvs_last_error_message()` explains it, and the call changed nothing.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum nvs_status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// An argument is out of its domain (top_k of 0, duplicate within_rows, bad flags, ...).
    InvalidArgument = 2,
    /// A vector, query or archive has the wrong number of dimensions for the store.
    DimensionMismatch = 3,
    /// A vector, query or threshold holds NaN or an infinity.
    NonFinite = 4,
    /// A vector that must be normalized (or a stored row for raw cosine) has zero norm.
    ZeroNorm = 5,
    /// A row index or row range lies outside the store.
    OutOfRange = 6,
    /// `nvs_store_get` was given an index past the last row.
    NotFound = 7,
    /// A caller buffer is too small; the size needed is written where the call says.
    BufferTooSmall = 8,
    /// The operating system refused a file operation.
    Io = 9,
    /// An archive is malformed, truncated, of another format version or otherwise invalid.
    Format = 10,
    /// Save or reload without a path on a store that is not bound to one.
    NoBoundPath = 11,
    /// Memory could not be allocated.
    OutOfMemory = 12,
    /// A bug in the library (for example a caught panic). Please report it.
    Internal = 13,
}

/// Generates [`nvs_status::ALL`] and [`nvs_status::name`] from the variant identifiers.
macro_rules! derive_status_table {
    ($($variant:ident),+ $(,)?) => {
        impl nvs_status {
            /// Every status, in the order of the enum.
            pub const ALL: &'static [nvs_status] = &[$(nvs_status::$variant),+];

            /// The name without the `NVS_STATUS_` prefix, e.g. "NULL_ARGUMENT".
            pub const fn name(self) -> &'static CStr {
                // Exhaustive: a variant left out of the list below does not compile.
                match self {
                    $(nvs_status::$variant => {
                        const IDENT: &str = stringify!($variant);
                        const BYTES: [u8; screaming_len(IDENT)] = screaming(IDENT);
                        match CStr::from_bytes_with_nul(&BYTES) {
                            Ok(name) => name,
                            Err(_) => panic!("status name with an inner NUL"),
                        }
                    })+
                }
            }
        }
    };
}
derive_status_table!(
    Ok,
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
);

impl nvs_status {
    /// The status with this number, if there is one (C callers may pass any integer).
    pub const fn from_u32(value: u32) -> Option<nvs_status> {
        let mut i = 0;
        while i < Self::ALL.len() {
            if Self::ALL[i] as u32 == value {
                return Some(Self::ALL[i]);
            }
            i += 1;
        }
        None
    }
}

/// Bytes of `ident` in SCREAMING_SNAKE_CASE plus a NUL: an underscore before every upper-case
/// letter that follows a lower-case one ("NoBoundPath" -> "NO_BOUND_PATH", "Io" -> "IO").
const fn screaming_len(ident: &str) -> usize {
    let b = ident.as_bytes();
    let mut len = b.len() + 1;
    let mut i = 1;
    while i < b.len() {
        if b[i].is_ascii_uppercase() && b[i - 1].is_ascii_lowercase() {
            len += 1;
        }
        i += 1;
    }
    len
}

const fn screaming<const N: usize>(ident: &str) -> [u8; N] {
    let b = ident.as_bytes();
    let mut out = [0u8; N];
    let (mut i, mut o) = (0, 0);
    while i < b.len() {
        if i > 0 && b[i].is_ascii_uppercase() && b[i - 1].is_ascii_lowercase() {
            out[o] = b'_';
            o += 1;
        }
        out[o] = b[i].to_ascii_uppercase();
        o += 1;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_lookup_agree() {
        assert_eq!(nvs_status::NoBoundPath.name(), c"NO_BOUND_PATH");
        assert_eq!(nvs_status::Io.name(), c"IO");
        assert_eq!(nvs_status::Ok.name(), c"OK");
        for (i, &s) in nvs_status::ALL.iter().enumerate() {
            assert_eq!(nvs_status::from_u32(s as u32), Some(s));
            // Numbers are unique (a duplicate discriminant would not compile either).
            assert!(nvs_status::ALL[..i].iter().all(|&t| t != s && t.name() != s.name()));
        }
        assert_eq!(nvs_status::from_u32(u32::MAX), None);
    }
}
