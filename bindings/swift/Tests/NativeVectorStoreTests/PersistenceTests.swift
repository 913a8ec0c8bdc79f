import Foundation
import XCTest
import NativeVectorStore

final class PersistenceTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("nvs-swift-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    private func sampleStore() throws -> VectorStore {
        let store = try VectorStore(dimensions: 3)
        try store.add([[1, 0, 0], [3, 4, 0], [0, 0.5, 0.5]], ids: [10, UInt64.max, 12])
        return store
    }

    private func assertSameRows(_ a: VectorStore, _ b: VectorStore, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(a.dimensions, b.dimensions, file: file, line: line)
        XCTAssertEqual(a.normalize, b.normalize, file: file, line: line)
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for i in 0..<a.count {
            let left = try XCTUnwrap(try a.get(i)), right = try XCTUnwrap(try b.get(i))
            XCTAssertEqual(left.id, right.id, "row \(i)", file: file, line: line)
            XCTAssertEqual(left.vector, right.vector, "row \(i)", file: file, line: line)
        }
    }

    func testSaveAndOpenRoundTrip() throws {
        let store = try sampleStore()
        try store.save(to: path("rows.npz"))
        XCTAssertEqual(try store.filePath, path("rows.npz"))
        let opened = try VectorStore.open(path: path("rows.npz"))
        XCTAssertEqual(try opened.filePath, path("rows.npz"))
        try assertSameRows(store, opened)
        XCTAssertEqual(try opened.cosineSearch([1, 1, 0]), try store.cosineSearch([1, 1, 0]))
    }

    func testRawStoreRoundTrip() throws {
        let store = try VectorStore(dimensions: 2, normalize: false)
        try store.add([[3, 4], [0, 0], [-1.5, 2]])
        try store.save(to: path("raw"))
        let opened = try VectorStore.open(path: path("raw"))
        XCTAssertFalse(opened.normalize)
        try assertSameRows(store, opened)
    }

    func testNpzSuffixIsAdded() throws {
        let store = try sampleStore()
        try store.save(to: path("plain"))
        XCTAssertEqual(try store.filePath, path("plain.npz"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("plain.npz")))
        XCTAssertEqual(try VectorStore.open(path: path("plain")).count, 3)
    }

    func testSaveToBoundPathAndReload() throws {
        let writer = try sampleStore()
        try writer.save(to: path("shared.npz"))
        let reader = try VectorStore.open(path: path("shared.npz"))
        try writer.add([[0, 1, 0]], ids: [99])
        try writer.save()
        XCTAssertEqual(reader.count, 3)
        try reader.reload()
        XCTAssertEqual(reader.count, 4)
        XCTAssertEqual(try reader.get(3)?.id, 99)
    }

    func testOpenBytes() throws {
        let store = try sampleStore()
        try store.save(to: path("bytes.npz"))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("bytes.npz"))))
        let opened = try VectorStore.open(bytes: bytes)
        XCTAssertNil(try opened.filePath)
        try assertSameRows(store, opened)
        assertThrows(.format) { try VectorStore.open(bytes: Array(bytes.prefix(bytes.count / 2))) }
        assertThrows(.format) { try VectorStore.open(bytes: Array("not a zip file".utf8)) }
        assertThrows(.format) { try VectorStore.open(bytes: []) }
    }

    func testSaveOptions() throws {
        let store = try VectorStore(dimensions: 8, normalize: false)
        try store.add([Float](repeating: 0.25, count: 8 * 200), ids: (0..<200).map { UInt64($0) * 3 })
        try store.save(to: path("packed.npz"))
        try store.save(to: path("loose.npz"), options: [.uncompressed])
        try store.save(to: path("pickled.npz"), options: [.pickledMetadata])
        let size = { (name: String) -> Int in
            (try? FileManager.default.attributesOfItem(atPath: self.path(name))[.size] as? Int) ?? -1
        }
        XCTAssertGreaterThan(size("loose.npz"), size("packed.npz"))
        for name in ["packed.npz", "loose.npz", "pickled.npz"] {
            try assertSameRows(store, try VectorStore.open(path: path(name)))
        }
        XCTAssertEqual(try store.filePath, path("pickled.npz"), "the last save binds")
        try assertSameRows(store, try VectorStore.open(path: path("pickled"), options: [.rowIndexMetadata]))
    }

    func testMappedOpen() throws {
        let store = try sampleStore()
        try store.save(to: path("loose.npz"), options: [.uncompressed])
        try store.save(to: path("packed.npz"))
        let mapped = try VectorStore.open(path: path("loose.npz"), options: [.map])
        XCTAssertTrue(mapped.isMapped)
        try assertSameRows(store, mapped)
        XCTAssertFalse(try VectorStore.open(path: path("packed.npz"), options: [.map]).isMapped)
        try mapped.add([Float](repeating: 1, count: mapped.dimensions), ids: [77])
        try store.add([Float](repeating: 1, count: store.dimensions), ids: [77])
        try mapped.save(options: [.uncompressed])
        try assertSameRows(store, try VectorStore.open(path: path("loose.npz"), options: [.map, .verify]))
        try mapped.reload()
        XCTAssertFalse(mapped.isMapped)
        try mapped.reload(options: [.map])
        XCTAssertTrue(mapped.isMapped)
        try mapped.clear()
        XCTAssertFalse(mapped.isMapped)
    }

    func testUnknownFlags() throws {
        let store = try sampleStore()
        assertThrows(.invalidArgument) { try store.save(to: path("x.npz"), options: VectorStore.SaveOptions(rawValue: 0x80)) }
        assertThrows(.invalidArgument) { try VectorStore.open(path: path("x.npz"), options: VectorStore.OpenOptions(rawValue: 0x80)) }
        XCTAssertNil(try store.filePath)
    }

    func testNoBoundPath() throws {
        let store = try sampleStore()
        assertThrows(.noBoundPath) { try store.save() }
        assertThrows(.noBoundPath) { try store.reload() }
        XCTAssertEqual(store.count, 3)
        XCTAssertNil(try store.filePath)
    }

    func testOpenMissingFile() throws {
        assertThrows(.io) { try VectorStore.open(path: path("missing.npz")) }
    }

    func testFailedSaveKeepsFileAndBinding() throws {
        let store = try sampleStore()
        try store.save(to: path("kept.npz"))
        assertThrows(.io) { try store.save(to: path("no/such/folder/x.npz")) }
        XCTAssertEqual(try store.filePath, path("kept.npz"))
    }

    func testReloadFailuresChangeNothing() throws {
        let store = try sampleStore()
        try store.save(to: path("mine.npz"))
        // Another writer replaces the file with an archive of other dimensions, then of the
        // other normalize setting.
        let other = try VectorStore(dimensions: 2)
        try other.add([[1, 0]])
        try other.save(to: path("mine.npz"))
        assertThrows(.dimensionMismatch) { try store.reload() }
        let raw = try VectorStore(dimensions: 3, normalize: false)
        try raw.add([[1, 2, 3]])
        try raw.save(to: path("mine.npz"))
        assertThrows(.invalidArgument) { try store.reload() }
        try FileManager.default.removeItem(atPath: path("mine.npz"))
        assertThrows(.io) { try store.reload() }
        XCTAssertEqual(store.count, 3)
        XCTAssertEqual(try store.get(1)?.id, UInt64.max)
        XCTAssertEqual(try store.filePath, path("mine.npz"))
    }
}
