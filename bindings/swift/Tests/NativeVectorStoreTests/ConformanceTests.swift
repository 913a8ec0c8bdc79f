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

    /// The comparison rules (README "Comparing"), from the self-test file every runner shares:
    /// the cases named accept_* pass and each case named wrong_* is reported.
    func testRunnerAppliesTheBounds() throws {
        let url = Self.repoRoot.appendingPathComponent("tests/conformance/selftest/tolerance.cases")
        let names = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
            .filter { $0.hasPrefix("case ") }.map { String($0.dropFirst(5)) }
        let wrong = names.filter { $0.hasPrefix("wrong_") }
        XCTAssertFalse(wrong.isEmpty)
        XCTAssertLessThan(wrong.count, names.count)
        let (cases, failures) = try run(url)
        XCTAssertEqual(cases, names.count)
        for name in names {
            let reported = failures.contains { $0.contains("[\(name)]: ") }
            XCTAssertEqual(reported, name.hasPrefix("wrong_"), "\(name): \(failures)")
        }
    }

    /// The runner must notice every kind of mismatch, or the shared cases would prove nothing.
    func testRunnerReportsEveryMismatch() throws {
        let (cases, failures) = try run(Self.testdata.appendingPathComponent("wrong.cases"))
        XCTAssertEqual(cases, 3)
        let expected = [
            "store: status OK, want INVALID_ARGUMENT",
            "len: 3, want 4",
            "get 1: id 1, want 7",
            "search cosine: row 0 has value 0.99388",
            "search cosine: 2 hits, expected 1",
            "search dot: status OK, want DIMENSION_MISMATCH",
            "malformed line: not a float: -",
        ]
        XCTAssertEqual(failures.count, expected.count, failures.joined(separator: "\n"))
        for (failure, want) in zip(failures, expected) {
            XCTAssertTrue(failure.contains(want), "\(failure) does not contain \(want)")
        }
    }
}
