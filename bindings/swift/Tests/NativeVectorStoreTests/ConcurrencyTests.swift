import Foundation
import XCTest
import NativeVectorStore

/// A count shared by tasks (the lock makes it Sendable).
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

final class ConcurrencyTests: XCTestCase {
    /// Many tasks search while one task adds rows two at a time. Every search must see whole
    /// adds only (an even row count), consistent ids, and hits in order. With `topK: Int.max`
    /// the binding sizes its hit buffer from the row count read just before the call: rows
    /// added after that read must never make a search fail, and a search returns at least the
    /// rows present before it and at most those present after it. The writer waits for a few
    /// searches after each add, so that adds and searches interleave.
    func testSearchesWhileAdding() async throws {
        let store = try VectorStore(dimensions: 4, normalize: false)
        let batches = 200
        func pair(_ batch: Int) -> [[Float]] {
            let x = Float(batch)
            return [[x, 1, 0, 0], [0, 1, x, 1]]
        }
        // The first pair is there before any search, so a search sizes for an even number of
        // rows (an empty store sizes for one hit).
        try store.add(pair(0), ids: [1_000, 1_001])
        let searchers = 8
        let searchesDone = Counter()

        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for batch in 1..<batches {
                    let ids = [UInt64(batch * 2), UInt64(batch * 2 + 1)].map { $0 + 1_000 }
                    try store.add(pair(batch), ids: ids)
                    let seen = searchesDone.value
                    while batch < batches - 1 && searchesDone.value < seen + searchers && !Task.isCancelled {
                        await Task.yield()
                    }
                }
                return 0
            }
            for searcher in 0..<searchers {
                group.addTask {
                    var searches = 0
                    var seen = 0
                    while seen < batches * 2 {
                        let metric = VectorStore.Metric.allCases[searcher % 3]
                        let before = store.count
                        let hits = try store.search([1, 1, 1, 1], metric: metric, topK: Int.max)
                        let all = try store.searchBatch([[1, 0, 1, 0]], metric: metric, topK: Int.max)
                        let after = store.count
                        XCTAssertEqual(hits.count % 2, 0, "a search saw half of an add")
                        XCTAssertGreaterThanOrEqual(hits.count, seen, "rows disappeared")
                        XCTAssertGreaterThanOrEqual(hits.count, before)
                        XCTAssertGreaterThanOrEqual(all[0].count, hits.count)
                        XCTAssertLessThanOrEqual(all[0].count, after)
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
                        searchesDone.increment()
                        // Searchers and the writer share the cooperative thread pool, which may
                        // have fewer threads than tasks: give the writer its turn.
                        await Task.yield()
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
