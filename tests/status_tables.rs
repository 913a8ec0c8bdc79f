//! The status list is written once, as the `nvs_status` enum in src/ffi/status.rs, from which
//! cbindgen writes the `NVS_STATUS_*` constants of include/nvs.h. The bindings keep their own
//! tables (Swift raw values must be literals, Go needs one sentinel error per status, ...);
//! this test reads the constants from the committed header (tests/header.rs keeps it equal to
//! the Rust enum) and checks the library's names and every binding's table against them.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::path::Path;

/// `NVS_STATUS_` name without the prefix -> number, from include/nvs.h.
type Table = BTreeMap<String, u32>;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Lines `NVS_STATUS_NAME = 3,` of the header's `enum nvs_status`.
fn header_statuses() -> Table {
    let header = read("include/nvs.h");
    let table: Table = header
        .lines()
        .filter_map(|line| {
            let (name, value) = line.trim().strip_prefix("NVS_STATUS_")?.split_once(" = ")?;
            Some((name.to_string(), value.trim_end_matches(',').parse().ok()?))
        })
        .collect();
    assert!(
        table.get("OK") == Some(&0) && table.len() > 1,
        "no NVS_STATUS_* constants found in include/nvs.h"
    );
    table
}

/// The lines of `text` from the first one containing `start` up to the next line that is `end`
/// once trimmed.
fn block<'a>(text: &'a str, file: &str, start: &str, end: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| !l.contains(start));
    assert!(lines.next().is_some(), "{file}: no line containing {start:?}");
    lines.take_while(|l| l.trim() != end).map(str::trim).collect()
}

/// "NoBoundPath" or "noBoundPath" -> "NO_BOUND_PATH"; "IO" and "Io" -> "IO".
fn screaming(ident: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in ident.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase();
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Compare a binding's table with the header's: every status present, with the same number,
/// and nothing else. `skip_ok`: the binding lists only failures.
fn compare(file: &str, what: &str, got: &Table, want: &Table, skip_ok: bool) {
    let mut problems = Vec::new();
    for (name, &number) in want {
        if skip_ok && name == "OK" {
            continue;
        }
        match got.get(name) {
            None => problems.push(format!("missing NVS_STATUS_{name} (= {number})")),
            Some(&n) if n != number => {
                problems.push(format!("NVS_STATUS_{name} is {n}, the header says {number}"))
            }
            Some(_) => {}
        }
    }
    for (name, &n) in got {
        if !want.contains_key(name) || (skip_ok && name == "OK") {
            problems.push(format!("{name} (= {n}) is not a status of include/nvs.h"));
        }
    }
    assert!(problems.is_empty(), "{file}: {what}, not as in include/nvs.h:\n  {}", problems.join("\n  "));
}

#[test]
fn library_names_and_error_kinds_match_the_header() {
    let want = header_statuses();
    let mut got = Table::new();
    for &kind in nvs::ErrorKind::ALL {
        // SAFETY: nvs_status_name returns a static NUL-terminated string.
        let name = unsafe { CStr::from_ptr(nvs::ffi::nvs_status_name(kind as u32)) };
        got.insert(name.to_str().unwrap().to_string(), kind as u32);
        assert_eq!(screaming(&format!("{kind:?}")), name.to_str().unwrap(), "name of {kind:?}");
    }
    compare("src/ffi/status.rs", "nvs_status / nvs_status_name", &got, &want, false);
    let past = want.values().max().unwrap() + 1;
    // SAFETY: as above.
    let unknown = unsafe { CStr::from_ptr(nvs::ffi::nvs_status_name(past)) };
    assert_eq!(unknown.to_str().unwrap(), "UNKNOWN");
}

#[test]
fn go_constants_and_sentinels_match_the_header() {
    const FILE: &str = "bindings/go/errors.go";
    let want = header_statuses();
    let text = read(FILE);
    // `StatusNoBoundPath Status = C.NVS_STATUS_NO_BOUND_PATH`: Go name -> C name.
    let mut go_name = BTreeMap::new();
    let mut got = Table::new();
    for line in block(&text, FILE, "const (", ")") {
        let Some((ident, c_name)) = line.split_once(" Status = C.NVS_STATUS_") else { continue };
        let ident = ident.trim();
        assert_eq!(
            screaming(ident.trim_start_matches("Status")),
            c_name,
            "{FILE}: constant {ident} is C.NVS_STATUS_{c_name}; name them alike"
        );
        go_name.insert(c_name.to_string(), ident.to_string());
        // The value is the C macro itself, so the number is the header's.
        got.insert(c_name.to_string(), want.get(c_name).copied().unwrap_or(u32::MAX));
    }
    compare(FILE, "the Status constants", &got, &want, false);

    // One sentinel per failure, declared and in the `sentinels` map.
    let map: Vec<&str> = block(&text, FILE, "var sentinels = map[Status]error{", "}")
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    let mut problems = Vec::new();
    for name in want.keys().filter(|n| *n != "OK") {
        let Some(ident) = go_name.get(name) else { continue };
        let sentinel = format!("Err{}", ident.trim_start_matches("Status"));
        if !text.lines().any(|l| l.trim().starts_with(&format!("{sentinel} ")) && l.contains("errors.New(")) {
            problems.push(format!("no sentinel `{sentinel} = errors.New(...)` for NVS_STATUS_{name}"));
        }
        let entry = format!("{ident}:");
        match map.iter().find(|l| l.starts_with(&entry)) {
            None => problems.push(format!("no entry `{ident}: {sentinel},` in the sentinels map")),
            Some(l) if l.trim_start_matches(&entry).trim().trim_end_matches(',') != sentinel => {
                problems.push(format!("sentinels map: `{l}` should map to {sentinel}"))
            }
            Some(_) => {}
        }
    }
    if map.len() != want.len() - 1 {
        problems.push(format!(
            "the sentinels map has {} entries, the header {} failure statuses",
            map.len(),
            want.len() - 1
        ));
    }
    assert!(
        problems.is_empty(),
        "{FILE}: sentinel errors do not match include/nvs.h:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn swift_codes_match_the_header() {
    const FILE: &str = "bindings/swift/Sources/NativeVectorStore/VectorStoreError.swift";
    let text = read(FILE);
    let got: Table = block(&text, FILE, "public enum Code: UInt32", "}")
        .into_iter()
        .filter_map(|line| {
            let (ident, value) = line.strip_prefix("case ")?.split_once(" = ")?;
            Some((screaming(ident.trim_matches('`')), value.parse().ok()?))
        })
        .collect();
    compare(FILE, "VectorStoreError.Code", &got, &header_statuses(), true);
}

#[test]
fn cpp_status_enum_matches_the_header() {
    const FILE: &str = "bindings/cpp/include/nvs/nvs.hpp";
    let want = header_statuses();
    let text = read(FILE);
    let mut got = Table::new();
    for line in block(&text, FILE, "enum class Status", "};") {
        let Some((ident, c_name)) = line.split_once(" = NVS_STATUS_") else { continue };
        let c_name = c_name.trim_end_matches(',');
        assert_eq!(
            screaming(ident),
            c_name,
            "{FILE}: Status::{ident} is NVS_STATUS_{c_name}; name them alike"
        );
        got.insert(c_name.to_string(), want.get(c_name).copied().unwrap_or(u32::MAX));
    }
    compare(FILE, "enum class Status", &got, &want, false);
}

#[test]
fn python_status_names_match_the_header() {
    const FILE: &str = "tests/python/nvs_ctypes.py";
    let text = read(FILE);
    let got: Table = block(&text, FILE, "STATUS_NAMES = {", "}")
        .into_iter()
        .filter_map(|line| {
            let (number, name) = line.split_once(": ")?;
            Some((name.trim_end_matches(',').trim_matches('"').to_string(), number.parse().ok()?))
        })
        .collect();
    compare(FILE, "STATUS_NAMES", &got, &header_statuses(), false);
}
