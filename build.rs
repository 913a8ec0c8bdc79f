//! Give the shared library a stable name to be found by: a SONAME on ELF systems and an
//! @rpath install name on Apple. Without it, programs linked against target/*/libnvs.so record
//! the build path instead of `libnvs.so`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match os.as_str() {
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnvs.so")
        }
        "macos" | "ios" => println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libnvs.dylib"),
        _ => {}
    }
}
