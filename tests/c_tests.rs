//! Builds the C programs in tests/c/ against include/nvs.h with the system C compiler (found
//! through the `cc` crate) and runs them:
//!
//! - `conformance.c` runs the shared cases in tests/conformance/, linked to the staticlib;
//! - `test_api.c` tests the whole C API, linked to the cdylib (so the shared library must
//!   export every function the header declares).
//!
//! `cargo test` builds the library's staticlib and cdylib next to the test binaries, in
//! `target/<profile>/`: the lib target is compiled once with all its crate types, and cargo
//! rebuilds it before running tests whenever a source changed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>/deps`, where `cargo test` leaves the staticlib and cdylib it built for this
/// run (only `cargo build` copies them up to `target/<profile>/`).
fn artifact_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent().expect("target/<profile>/deps/<test binary>").to_path_buf()
}

/// The target triple, spelled out for `cc` (which otherwise expects build-script variables).
fn target_triple() -> String {
    let arch = std::env::consts::ARCH;
    if cfg!(target_os = "macos") {
        format!("{arch}-apple-darwin")
    } else if cfg!(target_os = "linux") {
        let env = if cfg!(target_env = "musl") { "musl" } else { "gnu" };
        format!("{arch}-unknown-linux-{env}")
    } else {
        panic!("the C tests support Linux and macOS; add this target's triple and libraries here")
    }
}

/// System libraries the Rust staticlib needs (`cargo rustc --lib -- --print native-static-libs`,
/// less -lgcc_s and -lc, which the C driver adds itself: as cmake/NvsCargo.cmake tells users).
fn native_static_libs() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &["-lSystem", "-lm"]
    } else {
        &["-lutil", "-lrt", "-lpthread", "-lm", "-ldl"]
    }
}

/// The shared library's SONAME / install name, as build.rs sets it (0.x: major.minor).
fn soname() -> String {
    let (major, minor) = (env!("CARGO_PKG_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MINOR"));
    let abi = if major == "0" { format!("{major}.{minor}") } else { major.to_string() };
    if cfg!(target_os = "macos") {
        format!("libnvs.{abi}.dylib")
    } else {
        format!("libnvs.so.{abi}")
    }
}

fn library(kind: Link) -> PathBuf {
    let name = match kind {
        Link::Static => "libnvs.a",
        Link::Shared if cfg!(target_os = "macos") => "libnvs.dylib",
        Link::Shared => "libnvs.so",
    };
    let path = artifact_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` should build it with the library (crate-type in Cargo.toml)",
        path.display()
    );
    path
}

#[derive(Clone, Copy)]
enum Link {
    Static,
    Shared,
}

/// Compile `tests/c/<name>.c` into an executable in `dir`.
fn build_c_program(name: &str, link: Link, dir: &Path) -> PathBuf {
    let triple = target_triple();
    let mut build = cc::Build::new();
    build
        .target(&triple)
        .host(&triple)
        .opt_level(1)
        .debug(true)
        .out_dir(dir)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .emit_rerun_if_env_changed(false)
        .warnings(true)
        .extra_warnings(true)
        .std("c11")
        .include(root().join("include"));
    let compiler = build.try_get_compiler().expect("no C compiler found (install cc/gcc/clang or set CC)");
    let exe = dir.join(name);
    let mut cmd = compiler.to_command();
    cmd.arg(root().join("tests/c").join(format!("{name}.c"))).arg("-o").arg(&exe);
    let lib = library(link);
    match link {
        Link::Static => {
            cmd.arg(&lib).args(native_static_libs());
        }
        Link::Shared => {
            // The program records the SONAME; the loader finds it through a link in `dir`.
            let libdir = lib.parent().unwrap();
            let link = dir.join(soname());
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&lib, &link).expect("link the SONAME to the library");
            cmd.arg(format!("-L{}", libdir.display()))
                .arg("-lnvs")
                .arg(format!("-Wl,-rpath,{}", dir.display()))
                .arg("-lpthread")
                .arg("-lm");
        }
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run the C compiler {cmd:?}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "compiling {name}.c failed:\n{cmd:?}\n{stderr}");
    if !stderr.trim().is_empty() {
        eprintln!("{name}.c compiler warnings:\n{stderr}");
    }
    exe
}

fn run(exe: &Path, args: &[&Path]) -> String {
    let out = Command::new(exe).args(args).output().expect("run the C program");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(out.status.success(), "{} failed ({}):\n{stdout}{stderr}", exe.display(), out.status);
    stdout
}

#[test]
fn c_conformance_cases() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_c_program("conformance", Link::Static, dir.path());
    let stdout = run(&exe, &[&root().join("tests/conformance")]);
    let passed: usize = stdout
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected summary: {stdout}"));
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    assert!(passed >= 200, "only {passed} conformance cases ran");
}

#[test]
fn c_api_tests() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_c_program("test_api", Link::Shared, dir.path());
    let stdout = run(&exe, &[]);
    assert!(stdout.contains(", 0 failed"), "{stdout}");
}

/// The runner itself (tests/conformance/README.md, "Runner self-tests"): in each file of
/// tests/conformance/selftest/ the cases named wrong_* are reported and every other case passes
/// (a runner that passed everything would make the test above meaningless).
#[test]
fn c_conformance_runner_self_test() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_c_program("conformance", Link::Static, dir.path());
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/conformance/selftest"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cases"))
        .collect();
    files.sort();
    let names = |f: &Path| f.file_name().unwrap().to_string_lossy().into_owned();
    let found: Vec<String> = files.iter().map(|f| names(f)).collect();
    for want in ["sample.cases", "tolerance.cases", "wrong.cases"] {
        assert!(found.iter().any(|f| f == want), "{want} missing from {found:?}");
    }
    for cases in &files {
        let text = std::fs::read_to_string(cases).unwrap();
        let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("case ")).collect();
        let wrong = names.iter().filter(|n| n.starts_with("wrong_")).count();
        assert!(!names.is_empty(), "{} holds no cases", cases.display());
        let out = Command::new(&exe).arg(cases).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.success(), wrong == 0, "{}:\n{stdout}{stderr}", cases.display());
        let summary = format!("{} passed, {} failed", names.len() - wrong, wrong);
        assert!(stdout.contains(&summary), "{}: want {summary}:\n{stdout}{stderr}", cases.display());
        for name in names {
            let reported = stderr.contains(&format!("case {name}:"));
            assert_eq!(reported, name.starts_with("wrong_"), "{name}:\n{stderr}");
        }
    }
}
