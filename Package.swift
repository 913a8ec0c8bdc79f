// swift-tools-version:5.9
//
// NativeVectorStore: the Swift binding of native-vector-store. This manifest sits at the
// repository root so that apps can depend on the repository by URL:
//
//     .package(url: "<git URL of this repository>", from: "0.2.0")
//     .product(name: "NativeVectorStore", package: "native-vector-store")
//
// The Swift sources stay in bindings/swift; the targets below point at them. No target uses
// unsafe flags, so the package works as a versioned dependency. Where the compiled Rust library
// comes from depends on the machine that builds:
//
// * Linux (any non-Apple host): an installed libnvs, found through pkg-config (nvs.pc, which
//   `cmake --install` writes). CNVS is a system library module: bindings/swift/Sources/CNVS.
//   The binaries link the shared library libnvs.so.
//
// * Apple hosts (macOS building for macOS or iOS): CNVS.xcframework, a binary target holding
//   the static library for macOS (arm64, x86_64), iOS (arm64) and the iOS simulator (arm64,
//   x86_64), built by scripts/build-xcframework.sh. In order of preference:
//     1. dist/CNVS.xcframework in this checkout (a developer's local build; dist/ is not in git;
//        SwiftPM caches this file's result, so run `swift package purge-cache` after adding or
//        removing it),
//     2. the release's zip at `xcframeworkURL` (set with its checksum when a release is cut),
//     3. if neither exists, the installed libnvs through pkg-config as on Linux (macOS only).
//
// The tests (bindings/swift/Tests) are part of this package: `bash scripts/swift-test.sh`.
// See docs/swift.md.
import Foundation
import PackageDescription

// The release XCFramework. `scripts/build-xcframework.sh --release-url URL` fills in both lines
// (URL: where CNVS.xcframework.zip of this version is published; the checksum is the sha256 of
// that zip, as `swift package compute-checksum` prints it).
let xcframeworkURL = ""
let xcframeworkChecksum = ""

let localXCFramework = "dist/CNVS.xcframework"

// The C module CNVS: the header nvs.h and the Rust library behind it.
func systemLibrary() -> Target {
    .systemLibrary(
        name: "CNVS",
        path: "bindings/swift/Sources/CNVS",
        pkgConfig: "nvs"
    )
}

#if os(macOS)
let cnvs: Target
if FileManager.default.fileExists(atPath: "\(Context.packageDirectory)/\(localXCFramework)") {
    cnvs = .binaryTarget(name: "CNVS", path: localXCFramework)
} else if !xcframeworkURL.isEmpty {
    cnvs = .binaryTarget(name: "CNVS", url: xcframeworkURL, checksum: xcframeworkChecksum)
} else {
    cnvs = systemLibrary()
}
#else
let cnvs = systemLibrary()
#endif

let package = Package(
    name: "NativeVectorStore",
    // The XCFramework is built for these minimums (scripts/build-xcframework.sh).
    platforms: [.macOS(.v11), .iOS(.v14)],
    products: [
        .library(name: "NativeVectorStore", targets: ["NativeVectorStore"]),
    ],
    targets: [
        cnvs,
        .target(
            name: "NativeVectorStore",
            dependencies: ["CNVS"],
            path: "bindings/swift/Sources/NativeVectorStore",
            linkerSettings: [
                // rustc lists libiconv among the system libraries of a static library for Apple
                // platforms (the libc crate declares it); it is part of every SDK.
                .linkedLibrary("iconv", .when(platforms: [.macOS, .iOS])),
            ]
        ),
        .testTarget(
            name: "NativeVectorStoreTests",
            dependencies: ["NativeVectorStore", "CNVS"],
            path: "bindings/swift/Tests/NativeVectorStoreTests"
        ),
    ]
)
