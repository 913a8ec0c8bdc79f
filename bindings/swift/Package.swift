// swift-tools-version:5.9
//
// NativeVectorStore: the Swift binding of native-vector-store (a Rust library behind the C API
// in <repo>/include/nvs.h).
//
// Two ways to get the compiled Rust library:
//
// * From source (Linux, macOS; the default). Build the static library first with
//   `cargo build --release` at the repo root; this package links <repo>/target/release/libnvs.a,
//   or $NVS_LIB_DIR/libnvs.a when NVS_LIB_DIR is set. The archive is passed to the linker by its
//   full path (an `unsafeFlags` setting) so that the static library wins over the libnvs.so /
//   libnvs.dylib that cargo builds beside it. Trade-off: SwiftPM accepts unsafe flags only in a
//   root package or a local (path) dependency, so this mode cannot be consumed as a versioned
//   remote dependency.
//
// * From an XCFramework (Apple platforms). `scripts/build-xcframework.sh` writes
//   bindings/swift/Frameworks/CNVS.xcframework (macOS arm64, iOS arm64, iOS simulator). When that
//   folder exists, macOS hosts use it as a `binaryTarget` and no unsafe flags are involved, so
//   an app can depend on this package like any other. See docs/swift.md.
import Foundation
import PackageDescription

let packageDir = Context.packageDirectory
let xcframework = "Frameworks/CNVS.xcframework"

#if os(macOS)
let useXCFramework = FileManager.default.fileExists(atPath: "\(packageDir)/\(xcframework)")
#else
let useXCFramework = false
#endif

// The libc crate inside libnvs declares libiconv on Apple platforms (part of every SDK).
let appleLibraries: [LinkerSetting] = [.linkedLibrary("iconv", .when(platforms: [.macOS, .iOS]))]

let cModule: Target
var libraryLinkerSettings = appleLibraries
if useXCFramework {
    cModule = .binaryTarget(name: "CNVS", path: xcframework)
} else {
    let libDir = Context.environment["NVS_LIB_DIR"] ?? "\(packageDir)/../../target/release"
    cModule = .systemLibrary(name: "CNVS", path: "Sources/CNVS")
    libraryLinkerSettings += [
        .unsafeFlags(["-Xlinker", "\(libDir)/libnvs.a"]),
        // What the Rust standard library needs on Linux
        // (`cargo rustc --release --lib -- --print native-static-libs`).
        .linkedLibrary("gcc_s", .when(platforms: [.linux])),
        .linkedLibrary("util", .when(platforms: [.linux])),
        .linkedLibrary("rt", .when(platforms: [.linux])),
        .linkedLibrary("pthread", .when(platforms: [.linux])),
        .linkedLibrary("m", .when(platforms: [.linux])),
        .linkedLibrary("dl", .when(platforms: [.linux])),
    ]
}

let package = Package(
    name: "NativeVectorStore",
    platforms: [.macOS(.v11), .iOS(.v14)],
    products: [
        .library(name: "NativeVectorStore", targets: ["NativeVectorStore"]),
    ],
    targets: [
        cModule,
        .target(
            name: "NativeVectorStore",
            dependencies: ["CNVS"],
            linkerSettings: libraryLinkerSettings
        ),
        .testTarget(
            name: "NativeVectorStoreTests",
            dependencies: ["NativeVectorStore", "CNVS"],
            exclude: ["testdata"]
        ),
    ]
)
