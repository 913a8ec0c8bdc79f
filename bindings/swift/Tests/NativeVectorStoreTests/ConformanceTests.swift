import Foundation
import XCTest
@testable import NativeVectorStore

final class ConformanceTests: XCTestCase {
    /// bindings/swift/Tests/NativeVectorStoreTests/<this file> -> the repository root.
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata")

    func run(_ url: URL) throws -> (cases: Int, failures: [String]) {
        runConformanceCases(try String(contentsOf: url, encoding: .utf8), source: url.lastPathComponent)
    }

    /// The shared cases every binding must pass: <repo>/tests/conformance/*.cases.
    func testSharedConformanceCases() throws {
        let folder = Self.repoRoot.appendingPathComponent("tests/conformance")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let files = names.filter { $0.hasSuffix(".cases") }.sorted()
        XCTAssertFalse(files.isEmpty, "no *.cases files in \(folder.path)")
        for name in files {
            let (cases, failures) = try run(folder.appendingPathComponent(name))
            XCTAssertGreaterThan(cases, 0, "\(name) holds no cases")
            for failure in failures.prefix(20) { XCTFail(failure) }
            if failures.count > 20 { XCTFail("\(name): \(failures.count - 20) more failures") }
        }
    }

    func testRunnerPassesTheSample() throws {
        let (cases, failures) = try run(Self.testdata.appendingPathComponent("sample.cases"))
        XCTAssertEqual(cases, 3)
        XCTAssertEqual(failures, [])
    }

    /// The runner must notice every kind of mismatch, or the shared cases would prove nothing.
    func testRunnerReportsEveryMismatch() throws {
        let (cases, failures) = try run(Self.testdata.appendingPathComponent("wrong.cases"))
        XCTAssertEqual(cases, 3)
        let expected = [
            "store: status OK, want INVALID_ARGUMENT",
            "len: 3, want 4",
            "get 1: id 1, want 7",
            "search cosine: hits [(0, 0, 0.99388",
            "search cosine: hits [(0, 0, 0.99388",
            "search dot: status OK, want DIMENSION_MISMATCH",
            "malformed line: not a float: -",
        ]
        XCTAssertEqual(failures.count, expected.count, failures.joined(separator: "\n"))
        for (failure, want) in zip(failures, expected) {
            XCTAssertTrue(failure.contains(want), "\(failure) does not contain \(want)")
        }
    }
}
