//! The core flows one way: `ffi -> npz (persistence) -> store -> search -> rows -> kernels`,
//! with `error`, `status`, `memory` and `pool` below everything. A module may use only modules of a
//! lower layer (or itself); this test reads every `crate::` path in `src/` and fails on an
//! arrow that points up or sideways, and on a top-level module that has no layer yet.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level modules of `src/`, lowest layer first. Modules in one entry are independent
/// leaves: they may not use each other.
const LAYERS: &[&[&str]] = &[
    &["status", "test_support"],
    &["error", "memory", "pool"],
    &["kernels", "column"],
    &["rows"],
    &["search"],
    &["store"],
    &["npz"],
    &["ffi"],
];

/// Names the crate root re-exports, with the module they come from (`crate::VectorStore` is an
/// arrow to `store` as much as `crate::store::VectorStore` is).
const ROOT_NAMES: &[(&str, &str)] = &[
    ("VectorStore", "store"),
    ("Storage", "rows"),
    ("Hit", "search"),
    ("Metric", "search"),
    ("SearchOptions", "search"),
    ("ReadOptions", "npz"),
    ("WriteOptions", "npz"),
    ("Error", "error"),
    ("ErrorKind", "error"),
    ("Result", "error"),
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/search/scan.rs` -> `search`).
fn owner(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_str().unwrap();
    first.trim_end_matches(".rs").to_string()
}

/// Every module named right after `crate::` in code (comments dropped); in a top-level file
/// (`src/x.rs`, `src/x/mod.rs`) `super::` is the crate root, so `super::name` counts too.
/// `use crate::{a, b}` groups are not used in this crate; the test refuses them so none slips
/// through.
fn uses(text: &str, top_level: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap();
        assert!(!code.contains("crate::{"), "write one `use crate::module::...` per module: {line}");
        for root in ["crate::", "super::"] {
            if root == "super::" && !top_level {
                continue;
            }
            let mut rest = code;
            while let Some(i) = rest.find(root) {
                let preceded = rest[..i].chars().last();
                rest = &rest[i + root.len()..];
                if preceded.is_some_and(|c| c == '$' || c == ':' || c.is_alphanumeric() || c == '_') {
                    continue; // `$crate::` in a macro of the defining module, or a longer path
                }
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if let Some(&(_, module)) = ROOT_NAMES.iter().find(|(n, _)| *n == name) {
                    out.insert(module.to_string());
                } else if layer(&name).is_some() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

#[test]
fn the_core_has_no_upward_or_sideways_arrow() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut edges = 0;
    for file in &files {
        let from = owner(&src, file);
        if from == "lib" {
            continue; // the crate root declares and re-exports the modules
        }
        let Some(from_layer) = layer(&from) else {
            problems.push(format!("{}: module `{from}` has no layer in LAYERS", file.display()));
            continue;
        };
        let rel = file.strip_prefix(&src).unwrap();
        let top_level =
            rel.components().count() == 1 || rel.ends_with("mod.rs") && rel.components().count() == 2;
        for to in uses(&fs::read_to_string(file).unwrap(), top_level) {
            if to == from {
                continue;
            }
            edges += 1;
            if layer(&to).is_none_or(|l| l >= from_layer) {
                problems.push(format!("{}: `{from}` uses `{to}`, which is not below it", file.display()));
            }
        }
    }
    assert!(problems.is_empty(), "module graph:\n{}", problems.join("\n"));
    assert!(edges > 10, "the scan found only {edges} arrows: is it still reading src/?");
}

#[test]
fn the_scan_sees_the_arrows_it_must_refuse() {
    let text = "use crate::store::VectorStore; // crate::ffi\n\
                fn f() { $crate::error::x(); nvs_crate::y(); super::rows::z(); crate::unknown::w(); }\n\
                fn g() -> crate::Result<()> { Ok(()) }\n";
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(uses(text, false), names(&["error", "store"]));
    let both = names(&["error", "rows", "store"]);
    assert_eq!(uses(text, true), both);
}
