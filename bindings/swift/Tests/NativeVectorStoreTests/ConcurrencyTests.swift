import XCTest
import NativeVectorStore

final class ConcurrencyTests: XCTestCase {
    /// Many tasks search while one task adds rows two at a time. Every search must see whole
    /// adds only (an even row count), consistent ids, and hits in order.
    func testSearchesWhileAdding() async throws {
        let store = try VectorStore(dimensions: 4, normalize: false)
        let batches = 200
        func pair(_ batch: Int) -> [[Float]] {
            let x = Float(batch)
            return [[x, 1, 0, 0], [0, 1, x, 1]]
        }

        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for batch in 0..<batches {
                    let ids = [UInt64(batch * 2), UInt64(batch * 2 + 1)].map { $0 + 1_000 }
                    try store.add(pair(batch), ids: ids)
                }
                return 0
            }
            for searcher in 0..<8 {
                group.addTask {
                    var searches = 0
                    var seen = 0
                    while seen < batches * 2 {
                        let metric = VectorStore.Metric.allCases[searcher % 3]
                        let hits = try store.search([1, 1, 1, 1], metric: metric, topK: Int.max)
                        XCTAssertEqual(hits.count % 2, 0, "a search saw half of an add")
                        XCTAssertGreaterThanOrEqual(hits.count, seen, "rows disappeared")
                        XCTAssertEqual(Set(hits.map(\.index)).count, hits.count)
                        for hit in hits {
                            XCTAssertEqual(hit.id, UInt64(hit.index) + 1_000)
                        }
                        let values = hits.map(\.value)
                        XCTAssertEqual(values, metric == .euclidean ? values.sorted() : values.sorted(by: >))
                        let batch = try store.searchBatch([[1, 0, 0, 0], [0, 0, 1, 0]], metric: .dot, topK: 3)
                        XCTAssertEqual(batch.count, 2)
                        seen = hits.count
                        searches += 1
                    }
                    return searches
                }
            }
            var total = 0
            for try await searches in group { total += searches }
            XCTAssertGreaterThan(total, 0)
        }
        XCTAssertEqual(store.count, batches * 2)
        XCTAssertEqual(try store.get(batches * 2 - 1)?.id, UInt64(batches * 2 - 1 + 1_000))
    }

    /// The store can be shared across threads without tasks, too (Sendable, no actor needed).
    func testConcurrentReadersOnThreads() throws {
        let store = try VectorStore(dimensions: 2)
        try store.add((0..<100).map { i in [Float(i), 1] })
        let expected = try store.cosineSearch([1, 0], topK: 5)
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            XCTAssertEqual(try? store.cosineSearch([1, 0], topK: 5), expected)
            XCTAssertEqual(store.count, 100)
        }
    }
}
