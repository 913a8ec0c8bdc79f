//! Give the shared library the name programs record and the loader looks for: a versioned
//! SONAME on ELF systems and a versioned @rpath install name on Apple. Before 1.0 a minor
//! release may change the ABI, so the minor is part of the name (`libnvs.so.0.2`); from 1.0 on
//! only the major is (`libnvs.so.1`). CMake's install (cmake/NvsCargo.cmake) computes the same
//! name and adds the usual symlinks.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    let abi = if major == "0" { format!("{major}.{minor}") } else { major };
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match os.as_str() {
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnvs.so.{abi}")
        }
        "macos" | "ios" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libnvs.{abi}.dylib")
        }
        _ => {}
    }
}
