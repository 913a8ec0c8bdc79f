// swift-tools-version:5.9
// The Swift quick start: `swift run` in this folder after `cargo build --release` at the repo
// root. See docs/swift.md.
//
// This package sits one folder below examples/swift because SwiftPM names a package after its
// folder: a package in a folder called "swift" could not depend on bindings/swift.
import PackageDescription

let package = Package(
    name: "QuickStart",
    dependencies: [
        .package(path: "../../../bindings/swift"),
    ],
    targets: [
        .executableTarget(
            name: "QuickStart",
            dependencies: [.product(name: "NativeVectorStore", package: "swift")]
        ),
    ]
)
