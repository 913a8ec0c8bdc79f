import CNVS
import XCTest
@testable import NativeVectorStore

/// Asserts `hits` are exactly `expected` (index and id exact, value within 1e-6), in order.
func assertHits(_ hits: [VectorHit], _ expected: [(index: Int, id: UInt64, value: Double)],
                file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(hits.map(\.index), expected.map(\.index), "indexes", file: file, line: line)
    XCTAssertEqual(hits.map(\.id), expected.map(\.id), "ids", file: file, line: line)
    for (hit, want) in zip(hits, expected) {
        XCTAssertEqual(hit.value, want.value, accuracy: 1e-6, "value of row \(hit.index)", file: file, line: line)
    }
}

/// Runs `body`, which must throw a `VectorStoreError` with `code`; returns the error.
@discardableResult
func assertThrows<T>(_ code: VectorStoreError.Code, file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> T) -> VectorStoreError? {
    do {
        _ = try body()
        XCTFail("expected \(code.name), got success", file: file, line: line)
    } catch let error as VectorStoreError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        XCTAssertFalse(error.message.isEmpty, "empty message for \(error.code.name)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected VectorStoreError, got \(error)", file: file, line: line)
    }
    return nil
}

final class VectorStoreTests: XCTestCase {
    /// Rows x, y, z and the diagonal x+y, ids 10, 20, 30, 40.
    func normalizedStore() throws -> VectorStore {
        let store = try VectorStore(dimensions: 3)
        try store.add([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], ids: [10, 20, 30, 40])
        return store
    }

    /// Raw rows of different lengths for dot and euclidean, ids 0 ... 3.
    func rawStore() throws -> VectorStore {
        let store = try VectorStore(dimensions: 3, normalize: false)
        try store.add([[1, 0, 0], [0, 2, 0], [0, 0, 3], [1, 1, 0]])
        return store
    }

    // MARK: construction and properties

    func testNewStoreProperties() throws {
        let store = try VectorStore(dimensions: 384)
        XCTAssertEqual(store.dimensions, 384)
        XCTAssertTrue(store.normalize)
        XCTAssertEqual(store.count, 0)
        XCTAssertNil(try store.filePath)
        let raw = try VectorStore(dimensions: 2, normalize: false)
        XCTAssertFalse(raw.normalize)
    }

    func testFloat16Storage() throws {
        let store = try VectorStore(dimensions: 3, normalize: false, storage: .float16)
        XCTAssertEqual(store.storage, .float16)
        XCTAssertEqual(try VectorStore(dimensions: 3).storage, .float32)
        try store.add([0.1, 2, -65504], ids: [5])
        let row = try store.get(0)
        XCTAssertEqual(row?.vector, [0.0999755859375, 2, -65504])
        XCTAssertEqual(row?.id, 5)
        assertThrows(.outOfRange) { try store.add([1, 1e5, 0]) }
        XCTAssertEqual(store.count, 1)
    }

    func testInvalidDimensions() {
        assertThrows(.invalidArgument) { try VectorStore(dimensions: 0) }
        let error = assertThrows(.invalidArgument) { try VectorStore(dimensions: -3) }
        XCTAssertEqual(error?.message.contains("dimensions"), true)
    }

    func testLibraryVersionMatchesHeader() {
        XCTAssertEqual(VectorStore.libraryVersion, NVS_VERSION)
        XCTAssertEqual(VectorStore.libraryVersion, "\(NVS_VERSION_MAJOR).\(NVS_VERSION_MINOR).\(NVS_VERSION_PATCH)")
    }

    // MARK: add and get

    func testAddNestedWithIdsAndGet() throws {
        let store = try VectorStore(dimensions: 3)
        try store.add([[3, 4, 0], [0, 0, 2]], ids: [7, 9])
        XCTAssertEqual(store.count, 2)
        let first = try XCTUnwrap(try store.get(0))
        XCTAssertEqual(first.id, 7)
        XCTAssertEqual(first.vector, [0.6, 0.8, 0])  // normalized on the way in
        let second = try XCTUnwrap(try store.get(1))
        XCTAssertEqual(second.id, 9)
        XCTAssertEqual(second.vector, [0, 0, 1])
    }

    func testGetPastTheEndIsNil() throws {
        let store = try normalizedStore()
        XCTAssertNil(try store.get(4))
        XCTAssertNil(try store.get(Int.max))
        XCTAssertNil(try store.get(-1))
        XCTAssertNil(try VectorStore(dimensions: 2).get(0))
    }

    func testRawStoreKeepsValuesAndZeroRows() throws {
        let store = try VectorStore(dimensions: 2, normalize: false)
        try store.add([[3, 4], [0, 0]], ids: [1, 2])
        XCTAssertEqual(try store.get(0)?.vector, [3, 4])
        XCTAssertEqual(try store.get(1)?.vector, [0, 0])
    }

    func testAddWithoutIdsUsesRowIndexes() throws {
        let store = try VectorStore(dimensions: 2)
        try store.add([[1, 0]], ids: [100])
        try store.add([[0, 1], [1, 1]])
        XCTAssertEqual(try store.get(1)?.id, 1)
        XCTAssertEqual(try store.get(2)?.id, 2)
    }

    func testAddFlat() throws {
        let store = try VectorStore(dimensions: 2, normalize: false)
        try store.add([1, 2, 3, 4, 5, 6] as [Float], ids: [11, 12, 13])
        XCTAssertEqual(store.count, 3)
        XCTAssertEqual(try store.get(2)?.vector, [5, 6])
        XCTAssertEqual(try store.get(2)?.id, 13)
        try store.add([7, 8] as [Float])
        XCTAssertEqual(try store.get(3)?.id, 3)
    }

    func testAddUnsafeBufferPointer() throws {
        let store = try VectorStore(dimensions: 2, normalize: false)
        let values: [Float] = [1, 2, 3, 4]
        let ids: [UInt64] = [5, 6]
        try values.withUnsafeBufferPointer { v in
            try ids.withUnsafeBufferPointer { try store.add(v, ids: $0) }
        }
        try values.withUnsafeBufferPointer { try store.add($0) }
        XCTAssertEqual(store.count, 4)
        XCTAssertEqual(try store.get(1)?.id, 6)
        XCTAssertEqual(try store.get(3)?.id, 3)
        XCTAssertEqual(try store.get(3)?.vector, [3, 4])
    }

    func testAddEmptyIsANoOp() throws {
        let store = try VectorStore(dimensions: 2)
        try store.add([[Float]]())
        try store.add([Float](), ids: [])
        XCTAssertEqual(store.count, 0)
    }

    /// Every failing add leaves the store exactly as it was.
    func testAddErrorsChangeNothing() throws {
        let store = try normalizedStore()
        func unchanged(file: StaticString = #filePath, line: UInt = #line) throws {
            XCTAssertEqual(store.count, 4, file: file, line: line)
            XCTAssertEqual(try store.get(3)?.id, 40, file: file, line: line)
        }
        assertThrows(.dimensionMismatch) { try store.add([1, 0, 0, 1] as [Float]) }
        try unchanged()
        // Ragged rows that add up to whole rows are still rejected.
        assertThrows(.dimensionMismatch) { try store.add([[1, 0], [0, 1, 0, 1]]) }
        try unchanged()
        assertThrows(.dimensionMismatch) { try store.add([[1, 0, 0], [1, 0]], ids: [1, 2]) }
        try unchanged()
        assertThrows(.invalidArgument) { try store.add([[1, 0, 0], [0, 1, 0]], ids: [1]) }
        try unchanged()
        // An empty (not nil) ids array is "zero ids", not "use row indexes".
        assertThrows(.invalidArgument) { try store.add([[1, 0, 0]], ids: []) }
        try unchanged()
        let one: [Float] = [1, 0, 0]
        let emptyIds: [UInt64] = []
        one.withUnsafeBufferPointer { v in
            emptyIds.withUnsafeBufferPointer { ids in
                _ = assertThrows(.invalidArgument) { try store.add(v, ids: ids) }
            }
        }
        try unchanged()
        assertThrows(.nonFinite) { try store.add([[1, .nan, 0]]) }
        assertThrows(.nonFinite) { try store.add([[1, 0, 0], [.infinity, 0, 0]]) }
        try unchanged()
        assertThrows(.zeroNorm) { try store.add([[1, 0, 0], [0, 0, 0]], ids: [1, 2]) }
        try unchanged()
    }

    // MARK: readRows and clear

    func testReadRows() throws {
        let store = try rawStore()
        let rows = try store.readRows(start: 1, count: 2)
        XCTAssertEqual(rows.vectors, [[0, 2, 0], [0, 0, 3]])
        XCTAssertEqual(rows.ids, [1, 2])
        let none = try store.readRows(start: 4, count: 0)
        XCTAssertEqual(none.vectors, [])
        assertThrows(.outOfRange) { try store.readRows(start: 3, count: 2) }
        assertThrows(.outOfRange) { try store.readRows(start: 0, count: Int.max) }
        assertThrows(.outOfRange) { try store.readRows(start: -1, count: 1) }
        assertThrows(.invalidArgument) { try store.readRows(start: 0, count: -1) }
    }

    func testClear() throws {
        let store = try normalizedStore()
        try store.clear()
        XCTAssertEqual(store.count, 0)
        XCTAssertEqual(store.dimensions, 3)
        XCTAssertTrue(store.normalize)
        XCTAssertNil(try store.get(0))
        XCTAssertEqual(try store.cosineSearch([1, 0, 0]), [])
        try store.add([[0, 1, 0]])
        XCTAssertEqual(try store.get(0)?.id, 0)
    }

    // MARK: search

    func testCosineOrderBestFirst() throws {
        let store = try normalizedStore()
        let diagonal = 7 / (5 * 2.0.squareRoot())  // [3, 4, 0] against [1, 1, 0]
        assertHits(try store.cosineSearch([3, 4, 0]), [(3, 40, diagonal), (1, 20, 0.8), (0, 10, 0.6), (2, 30, 0)])
        assertHits(try store.cosineSearch([3, 4, 0], topK: 2), [(3, 40, diagonal), (1, 20, 0.8)])
    }

    func testDotOrderAndTiesByIndex() throws {
        let store = try rawStore()
        // Rows 1 and 3 tie at 2: the lower row index comes first.
        assertHits(try store.dotSearch([1, 1, 1]), [(2, 2, 3), (1, 1, 2), (3, 3, 2), (0, 0, 1)])
    }

    func testEuclideanOrderNearestFirst() throws {
        let store = try rawStore()
        assertHits(try store.euclideanSearch([1, 1, 1]), [
            (3, 3, 1), (0, 0, 2.0.squareRoot()), (1, 1, 3.0.squareRoot()), (2, 2, 6.0.squareRoot()),
        ])
    }

    func testDotOnNormalizeStoreNormalizesTheQuery() throws {
        let store = try normalizedStore()
        assertHits(try store.dotSearch([0, 5, 0], topK: 1), [(1, 20, 1)])
        assertHits(try store.euclideanSearch([0, 5, 0], topK: 1), [(1, 20, 0)])
    }

    func testThresholdsAreInclusive() throws {
        let store = try rawStore()
        assertHits(try store.dotSearch([1, 1, 1], minValue: 2), [(2, 2, 3), (1, 1, 2), (3, 3, 2)])
        assertHits(try store.euclideanSearch([1, 1, 1], maxValue: 1.5), [(3, 3, 1), (0, 0, 2.0.squareRoot())])
        let normalized = try normalizedStore()
        XCTAssertEqual(try normalized.cosineSearch([3, 4, 0], minValue: 0.7).map(\.index), [3, 1])
        XCTAssertEqual(try normalized.cosineSearch([3, 4, 0], minValue: 0.999), [])
    }

    func testWithinRows() throws {
        let store = try rawStore()
        assertHits(try store.dotSearch([1, 1, 1], withinRows: [3, 0]), [(3, 3, 2), (0, 0, 1)])
        XCTAssertEqual(try store.dotSearch([1, 1, 1], withinRows: []), [])
        assertHits(try store.euclideanSearch([1, 1, 1], topK: 1, maxValue: 5, withinRows: [2, 1]), [(1, 1, 3.0.squareRoot())])
    }

    func testGenericSearchMatchesNamedSearches() throws {
        let store = try rawStore()
        let query: [Float] = [0.5, 1, 2]
        XCTAssertEqual(try store.search(query, metric: .cosine, topK: 3), try store.cosineSearch(query, topK: 3))
        XCTAssertEqual(try store.search(query, metric: .dot, threshold: 1), try store.dotSearch(query, minValue: 1))
        XCTAssertEqual(try store.search(query, metric: .euclidean, withinRows: [1, 2]),
                       try store.euclideanSearch(query, withinRows: [1, 2]))
        let viaPointer = try query.withUnsafeBufferPointer { try store.search($0, metric: .dot, topK: 2) }
        XCTAssertEqual(viaPointer, try store.dotSearch(query, topK: 2))
    }

    func testSearchEmptyStore() throws {
        let store = try VectorStore(dimensions: 2)
        XCTAssertEqual(try store.cosineSearch([1, 0]), [])
        XCTAssertEqual(try store.euclideanSearch([1, 0], topK: 1000), [])
    }

    /// The hit buffer is sized for the rows that can match, not for `topK` hits: a buffer of
    /// Int.max hits could not be allocated, so these calls would trap.
    func testLargeTopKReturnsEveryRow() throws {
        let store = try rawStore()
        XCTAssertEqual(try store.dotSearch([1, 1, 1], topK: Int.max).count, 4)
        XCTAssertEqual(try store.searchBatch([[1, 1, 1], [1, 0, 0]], metric: .cosine, topK: Int.max).map(\.count), [4, 4])
        XCTAssertEqual(try store.euclideanSearch([1, 1, 1], topK: Int.max, withinRows: [3, 0]).map(\.index).sorted(), [0, 3])
        XCTAssertEqual(try store.cosineSearch([1, 1, 1], topK: Int.max, withinRows: []), [])
        XCTAssertEqual(try VectorStore(dimensions: 3).searchBatch([[1, 0, 0]], metric: .dot, topK: Int.max), [[]])
    }

    func testSearchErrors() throws {
        let store = try normalizedStore()
        assertThrows(.dimensionMismatch) { try store.cosineSearch([1, 0]) }
        assertThrows(.dimensionMismatch) { try store.cosineSearch([]) }
        assertThrows(.invalidArgument) { try store.cosineSearch([1, 0, 0], topK: 0) }
        assertThrows(.invalidArgument) { try store.cosineSearch([1, 0, 0], topK: -1) }
        assertThrows(.nonFinite) { try store.dotSearch([1, .nan, 0]) }
        assertThrows(.nonFinite) { try store.cosineSearch([1, 0, 0], minValue: .nan) }
        assertThrows(.nonFinite) { try store.euclideanSearch([1, 0, 0], maxValue: .infinity) }
        assertThrows(.zeroNorm) { try store.cosineSearch([0, 0, 0]) }
        assertThrows(.invalidArgument) { try store.cosineSearch([1, 0, 0], withinRows: [1, 1]) }
        assertThrows(.outOfRange) { try store.cosineSearch([1, 0, 0], withinRows: [0, 4]) }
        assertThrows(.outOfRange) { try store.cosineSearch([1, 0, 0], withinRows: [-1]) }
        let raw = try VectorStore(dimensions: 2, normalize: false)
        try raw.add([[0, 0], [1, 0]])
        assertThrows(.zeroNorm) { try raw.cosineSearch([1, 0]) }  // a stored zero row
        assertHits(try raw.dotSearch([1, 0], topK: 1), [(1, 1, 1)])
    }

    // MARK: batch search

    func testBatchMatchesSingleSearches() throws {
        let store = try rawStore()
        let queries: [[Float]] = [[1, 1, 1], [0, 0, 1], [3, -1, 0.5]]
        for metric in VectorStore.Metric.allCases {
            let batch = try store.searchBatch(queries, metric: metric, topK: 3, withinRows: [0, 1, 3])
            let singles = try queries.map { try store.search($0, metric: metric, topK: 3, withinRows: [0, 1, 3]) }
            XCTAssertEqual(batch, singles, "\(metric)")
            XCTAssertEqual(batch.map(\.count), [3, 3, 3])
        }
        let flat = try store.searchBatch(flat: queries.flatMap { $0 }, metric: .dot, threshold: 2)
        XCTAssertEqual(flat, try queries.map { try store.dotSearch($0, minValue: 2) })
        let pointer = try queries.flatMap { $0 }.withUnsafeBufferPointer {
            try store.searchBatch(flat: $0, metric: .euclidean, topK: 1)
        }
        XCTAssertEqual(pointer, try queries.map { try store.euclideanSearch($0, topK: 1) })
    }

    func testBatchEdgeCases() throws {
        let store = try rawStore()
        XCTAssertEqual(try store.searchBatch([], metric: .cosine), [])
        XCTAssertEqual(try VectorStore(dimensions: 3).searchBatch([[1, 0, 0], [0, 1, 0]], metric: .cosine), [[], []])
        XCTAssertEqual(try store.searchBatch([[1, 0, 0]], metric: .dot, topK: 100).first?.count, 4)
    }

    func testBatchErrors() throws {
        let store = try rawStore()
        let error = assertThrows(.zeroNorm) { try store.searchBatch([[1, 0, 0], [0, 0, 0]], metric: .cosine) }
        XCTAssertEqual(error?.message.contains("1"), true, "the message names the query")
        assertThrows(.dimensionMismatch) { try store.searchBatch([[1, 0, 0], [1, 0]], metric: .dot) }
        assertThrows(.dimensionMismatch) { try store.searchBatch(flat: [1, 0, 0, 1], metric: .dot) }
        assertThrows(.nonFinite) { try store.searchBatch([[1, 0, .nan]], metric: .dot) }
        assertThrows(.invalidArgument) { try store.searchBatch([[1, 0, 0]], metric: .dot, topK: 0) }
        assertThrows(.outOfRange) { try store.searchBatch([[1, 0, 0]], metric: .dot, withinRows: [9]) }
    }

    // MARK: error mapping

    /// The Swift codes mirror nvs_status: same numbers, and each case is named like the C value.
    func testCodesMirrorTheCStatuses() {
        XCTAssertEqual(VectorStoreError.Code.allCases.map(\.rawValue), Array(1...13))
        for code in VectorStoreError.Code.allCases {
            let caseName = "\(code)"
            let snake = caseName.reduce(into: "") { out, c in
                if c.isUppercase { out += "_" }
                out += c.uppercased()
            }
            XCTAssertEqual(code.name, snake, "\(caseName) vs \(code.name)")
        }
        XCTAssertEqual(String(cString: nvs_status_name(0)), "OK")
        XCTAssertEqual(String(cString: nvs_status_name(14)), "UNKNOWN", "a new status needs a new case")
    }

    func testCheckMapsStatusesAndMessages() throws {
        XCTAssertNoThrow(try check(0))
        // A real failure sets the thread-local message that check() picks up.
        let store = try VectorStore(dimensions: 3)
        let error = assertThrows(.dimensionMismatch) { try store.cosineSearch([1, 2]) }
        XCTAssertEqual(error?.message.contains("2 dimensions"), true, error?.message ?? "")
        XCTAssertEqual(error?.description.hasPrefix("DIMENSION_MISMATCH: "), true)
        assertThrows(.io) { try check(9) }
        let unknown = assertThrows(.internal) { try check(99) }
        XCTAssertEqual(unknown?.message.hasPrefix("unknown status 99"), true)
    }

    func testErrorsAreEquatableValues() {
        let a = VectorStoreError(code: .format, message: "x")
        XCTAssertEqual(a, VectorStoreError(code: .format, message: "x"))
        XCTAssertNotEqual(a, VectorStoreError(code: .io, message: "x"))
    }

    func testVectorHitValue() {
        let hit = VectorHit(index: 2, id: 9, value: 0.5)
        XCTAssertEqual(hit, VectorHit(index: 2, id: 9, value: 0.5))
        XCTAssertNotEqual(hit, VectorHit(index: 2, id: 9, value: 0.25))
    }
}
