// swift-tools-version:5.9
// The Swift quick start: `swift run` in this folder, once libnvs is installed where pkg-config
// finds it (Linux), or with dist/CNVS.xcframework or a release (macOS). See docs/swift.md;
// `bash scripts/swift-test.sh` at the repository root does all of it.
import PackageDescription

let package = Package(
    name: "QuickStart",
    // The library's minimums: SwiftPM rejects a package that asks for less than its dependency.
    platforms: [.macOS(.v11), .iOS(.v14)],
    dependencies: [
        // The repository root. A path dependency's identity is its folder's name, which depends
        // on where this repository was cloned; `name:` gives it a fixed one to refer to below.
        .package(name: "NativeVectorStore", path: "../../.."),
    ],
    targets: [
        .executableTarget(
            name: "QuickStart",
            dependencies: [.product(name: "NativeVectorStore", package: "NativeVectorStore")]
        ),
    ]
)
