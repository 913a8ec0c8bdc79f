// swift-tools-version:5.9
// The Swift quick start: `swift run` in this folder after `cargo build --release` at the repo
// root. See docs/swift.md.
//
// This package sits one folder below examples/swift because SwiftPM names a package after its
// folder: a package in a folder called "swift" could not depend on bindings/swift.
import PackageDescription

let package = Package(
    name: "QuickStart",
    // The library's minimums: SwiftPM rejects a package that asks for less than its dependency.
    platforms: [.macOS(.v11), .iOS(.v14)],
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
