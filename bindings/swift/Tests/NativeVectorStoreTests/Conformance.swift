import NativeVectorStore

/// Runs the shared conformance cases (tests/conformance/README.md) through the Swift API: each
/// line is one call (`VectorStore(dimensions:normalize:)`, flat `add`, `count`, `get`, `search`).
/// Values are compared as the README says ("Comparing"): hit values within the bound on their
/// line (near ties in either order), a normalize store's rows within one float32 ulp, a raw
/// store's rows exactly. Returns how many cases ran and one message per mismatch or malformed line.
func runConformanceCases(_ text: String, source: String) -> (cases: Int, failures: [String]) {
    var failures: [String] = []
    var cases = 0
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
        line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
    }
    var caseName = ""
    var store: VectorStore?
    var skipping = false  // after an expected store failure, or a broken case, until `end`
    var i = 0

    while i < lines.count {
        let tokens = lines[i]
        let lineNumber = i + 1
        i += 1
        guard let op = tokens.first, !op.hasPrefix("#") else { continue }
        let at = "\(source):\(lineNumber) [\(caseName)]"
        func fail(_ message: String) { failures.append("\(at): \(message)") }

        if op == "case" {
            caseName = tokens.count > 1 ? tokens[1] : "?"
            store = nil
            skipping = false
            cases += 1
            continue
        }
        if op == "end" {
            store = nil
            skipping = false
            continue
        }
        if skipping { continue }

        var reader = TokenReader(tokens: tokens, index: 1)
        do {
            switch op {
            case "store":
                let dims = try reader.int()
                let normalize = try reader.int() != 0
                let want = try reader.word()
                let (got, created) = outcome { try VectorStore(dimensions: dims, normalize: normalize) }
                if got != want { fail("store: status \(got), want \(want)") }
                store = created
                skipping = created == nil
            case "add":
                let store = try current(store)
                let want = try reader.word()
                let values = try reader.floats(count: try reader.int())
                let ids = try reader.dashOr { r in try (0..<r.int()).map { _ in try r.uint64() } }
                let (got, _) = outcome { try store.add(values, ids: ids) }
                if got != want { fail("add: status \(got), want \(want)") }
            case "len":
                let want = try reader.int()
                let got = try current(store).count
                if got != want { fail("len: \(got), want \(want)") }
            case "get":
                let store = try current(store)
                let index = try reader.int()
                let want = try reader.word()
                let (status, result) = outcome { try store.get(index) }
                // get returns nil past the end, where the C call says NOT_FOUND.
                let row = result ?? nil
                let got = status == "OK" && row == nil ? "NOT_FOUND" : status
                if got != want {
                    fail("get \(index): status \(got), want \(want)")
                } else if let row {
                    let id = try reader.uint64()
                    let vector = try reader.floats(count: store.dimensions)
                    if row.id != id { fail("get \(index): id \(row.id), want \(id)") }
                    let normalize = store.normalize
                    if row.vector.count != vector.count
                        || !zip(row.vector, vector).allSatisfy({ sameStoredValue($0, $1, normalize: normalize) })
                    {
                        let rule = normalize ? "within one ulp" : "exactly"
                        fail("get \(index): vector \(row.vector), want \(vector) (\(rule))")
                    }
                }
            case "search":
                let store = try current(store)
                let metricName = try reader.word()
                guard let metric = VectorStore.Metric(name: metricName) else { throw Malformed("metric \(metricName)") }
                let want = try reader.word()
                let topK = try reader.int()
                let threshold = try reader.dashOr { try $0.double() }
                let within = try reader.dashOr { r in try (0..<r.int()).map { _ in try r.int() } }
                let query = try reader.floats(count: try reader.int())
                var expected: [ExpectedHit] = []
                // The hit lines that follow; comments and blank lines may come between them.
                while i < lines.count {
                    guard let first = lines[i].first, !first.hasPrefix("#") else {
                        i += 1
                        continue
                    }
                    guard first == "hit" else { break }
                    var hit = TokenReader(tokens: lines[i], index: 1)
                    let want = ExpectedHit(
                        index: try hit.int(), id: try hit.uint64(), value: try hit.double(), bound: try hit.double())
                    guard want.bound >= 0 else { throw Malformed("bad bound \(want.bound)") }
                    expected.append(want)
                    try hit.finish()
                    i += 1
                }
                let (got, hits) = outcome {
                    try store.search(query, metric: metric, topK: topK, threshold: threshold, withinRows: within)
                }
                if got != want {
                    fail("search \(metricName): status \(got), want \(want)")
                } else if let hits, let problem = hitsProblem(hits, expected) {
                    fail("search \(metricName): \(problem); hits \(describe(hits))")
                }
            case "hit":
                throw Malformed("hit without a preceding OK search")
            default:
                throw Malformed("unknown operation \(op)")
            }
            try reader.finish()
        } catch {
            fail("\(error)")
            skipping = true
        }
    }
    return (cases, failures)
}

/// The status name a call ends with ("OK" or the error's C name) and its result.
private func outcome<T>(_ body: () throws -> T) -> (String, T?) {
    do {
        return ("OK", try body())
    } catch let error as VectorStoreError {
        return (error.code.name, nil)
    } catch {
        return ("not a VectorStoreError: \(error)", nil)
    }
}

/// A `hit` line: the reference's row, id and value, and the value's bound.
private struct ExpectedHit {
    let index: Int
    let id: UInt64
    let value: Double
    let bound: Double
}

/// Why `hits` differ from `expected` (nil when they agree): the same rows with their ids, each
/// value within its bound, in the listed order except near ties (a positive sum of bounds and
/// listed values at most that far apart), which may come either way.
private func hitsProblem(_ hits: [VectorHit], _ expected: [ExpectedHit]) -> String? {
    if hits.count != expected.count { return "\(hits.count) hits, expected \(expected.count)" }
    var pos: [Int] = []  // the expected position of each hit
    var used = [Bool](repeating: false, count: expected.count)
    for (k, hit) in hits.enumerated() {
        guard let j = expected.indices.first(where: { !used[$0] && expected[$0].index == hit.index }) else {
            return "hit \(k) is row \(hit.index), which is not expected (or comes twice)"
        }
        used[j] = true
        pos.append(j)
        let want = expected[j]
        if hit.id != want.id { return "row \(hit.index) has id \(hit.id), expected \(want.id)" }
        if !(abs(hit.value - want.value) <= want.bound) {
            return "row \(hit.index) has value \(hit.value), expected \(want.value) within \(want.bound)"
        }
    }
    for a in pos.indices {
        for b in pos.indices where b > a && pos[b] < pos[a] {
            let first = expected[pos[b]], later = expected[pos[a]]
            let slack = first.bound + later.bound
            if !(slack > 0 && abs(first.value - later.value) <= slack) {
                return "row \(later.index) came before row \(first.index), and they are not a near tie"
            }
        }
    }
    return nil
}

/// A stored value: exact in a raw store, within one ulp in a normalize store (the unit row
/// float32(x / |x|) may round its last bit either way).
private func sameStoredValue(_ got: Float, _ want: Float, normalize: Bool) -> Bool {
    if got.isNaN || want.isNaN { return false }
    return abs(ordered(got) - ordered(want)) <= (normalize ? 1 : 0)
}

/// A float's position among all floats (-0 and +0 share one).
private func ordered(_ f: Float) -> Int64 {
    let bits = f.bitPattern
    return bits & 0x8000_0000 != 0 ? -Int64(bits & 0x7fff_ffff) : Int64(bits)
}

private func describe(_ hits: [VectorHit]) -> String {
    "[" + hits.map { "(\($0.index), \($0.id), \($0.value))" }.joined(separator: ", ") + "]"
}

private func current(_ store: VectorStore?) throws -> VectorStore {
    guard let store else { throw Malformed("operation before a successful `store` line") }
    return store
}

private struct Malformed: Error, CustomStringConvertible {
    let description: String
    init(_ what: String) { description = "malformed line: \(what)" }
}

private struct TokenReader {
    let tokens: [String]
    var index: Int

    func peek() throws -> String {
        guard index < tokens.count else { throw Malformed("line ends early") }
        return tokens[index]
    }

    mutating func word() throws -> String {
        let token = try peek()
        index += 1
        return token
    }

    mutating func int() throws -> Int {
        let token = try word()
        guard let value = Int(token) else { throw Malformed("not an integer: \(token)") }
        return value
    }

    mutating func uint64() throws -> UInt64 {
        let token = try word()
        guard let value = UInt64(token) else { throw Malformed("not a uint64: \(token)") }
        return value
    }

    mutating func double() throws -> Double {
        let token = try word()
        guard let value = Double(token) else { throw Malformed("not a number: \(token)") }
        return value
    }

    /// `-` for "none", else what `parse` reads.
    mutating func dashOr<T>(_ parse: (inout TokenReader) throws -> T) throws -> T? {
        if try peek() == "-" {
            index += 1
            return nil
        }
        return try parse(&self)
    }

    /// `count` float32 values; decimal text rounds to the nearest float, which is exact here.
    mutating func floats(count: Int) throws -> [Float] {
        try (0..<count).map { _ in
            let token = try word()
            guard let value = Float(token) else { throw Malformed("not a float: \(token)") }
            return value
        }
    }

    func finish() throws {
        if index != tokens.count { throw Malformed("\(tokens.count - index) extra tokens") }
    }
}

extension VectorStore.Metric {
    init?(name: String) {
        switch name {
        case "cosine": self = .cosine
        case "dot": self = .dot
        case "euclidean": self = .euclidean
        default: return nil
        }
    }
}
