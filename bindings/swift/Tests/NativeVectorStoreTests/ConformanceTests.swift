import Foundation
import XCTest
@testable import NativeVectorStore

final class ConformanceTests: XCTestCase {
    /// bindings/swift/Tests/NativeVectorStoreTests/<this file> -> the repository root.
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    /// The runner self-test files every runner shares: <repo>/tests/conformance/selftest.
    static let selftest = repoRoot.appendingPathComponent("tests/conformance/selftest")

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

    /// The runner itself (tests/conformance/README.md, "Runner self-tests"): in each self-test
    /// file the cases named wrong_* are reported and every other case passes. This runner goes on
    /// after a mismatch, so where a case marks its wrong statements with `# wrong:` comments, it
    /// reports each of them once, on the statement's lines, and nothing else.
    func testRunnerSelfTest() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Self.selftest.path)) ?? []
        let files = names.filter { $0.hasSuffix(".cases") }.sorted()
        for want in ["sample.cases", "tolerance.cases", "wrong.cases"] {
            XCTAssertTrue(files.contains(want), "\(want) missing from \(Self.selftest.path)")
        }
        for file in files {
            let url = Self.selftest.appendingPathComponent(file)
            let expect = selftestExpectations(try String(contentsOf: url, encoding: .utf8))
            let (cases, failures) = try run(url)
            XCTAssertEqual(cases, expect.count, file)
            XCTAssertGreaterThan(cases, 0, file)
            for (name, marked) in expect {
                let mine = failures.filter { $0.contains(" [\(name)]: ") }
                let lines = mine.map(failureLine)
                if !name.hasPrefix("wrong_") {
                    XCTAssertEqual(mine, [], "\(file): \(name) was reported")
                } else if mine.isEmpty {
                    XCTFail("\(file): \(name) was not reported")
                } else if !marked.isEmpty {
                    // Each marked statement once: the failure lines fall into distinct statements.
                    let statements = lines.map { line in marked.firstIndex { $0.contains(line) } }
                    XCTAssertFalse(statements.contains(nil), "\(name): a failure off the marked statements: \(mine)")
                    XCTAssertEqual(Set(statements.compactMap { $0 }).count, marked.count, "\(name): \(mine)")
                    XCTAssertEqual(lines.count, marked.count, "\(name): \(mine)")
                }
            }
        }
    }
}

/// For each case of a self-test file, the line ranges of the statements marked by a `# wrong:`
/// comment. A statement is one line, or a search line and its hit lines.
private func selftestExpectations(_ text: String) -> [String: [ClosedRange<Int>]] {
    var expect: [String: [ClosedRange<Int>]] = [:]
    var name = ""
    var marked = false
    var start = 0
    for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let line = i + 1
        let text = raw.trimmingCharacters(in: .whitespaces)
        if text.isEmpty {
            continue
        } else if text.hasPrefix("# wrong:") {
            marked = true
        } else if text.hasPrefix("#") {
            continue
        } else if text.hasPrefix("case ") {
            name = String(text.dropFirst(5))
            expect[name] = []
        } else if text.hasPrefix("hit "), start > 0 {
            var spans = expect[name] ?? []
            // A mark inside a search's hits marks the whole search.
            if marked, spans.last?.lowerBound != start { spans.append(start...line) }
            marked = false
            if let last = spans.last, last.lowerBound == start { spans[spans.count - 1] = start...line }
            expect[name] = spans
        } else {
            start = line
            if marked { expect[name, default: []].append(line...line) }
            marked = false
        }
    }
    return expect
}

/// The line number in a failure ("file.cases:LINE [case]: ...").
private func failureLine(_ failure: String) -> Int {
    guard let at = failure.range(of: ".cases:") else { return -1 }
    return Int(failure[at.upperBound...].prefix { $0.isNumber }) ?? -1
}
