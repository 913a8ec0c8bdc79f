import CNVS

/// One search result: the row's index (insertion order), its id and its score.
public struct VectorHit: Sendable, Equatable, Hashable {
    /// Row index, 0-based, in insertion order.
    public var index: Int
    /// The id given to the row when it was added (its row index when none was given).
    public var id: UInt64
    /// Cosine similarity, dot product or euclidean distance.
    public var value: Double

    public init(index: Int, id: UInt64, value: Double) {
        self.index = index
        self.id = id
        self.value = value
    }
}

/// An in-memory exact vector store: rows of `Float` with a `UInt64` id each, searched by cosine
/// similarity, dot product or euclidean distance. A thin wrapper over the C API in nvs.h: every
/// rule (validation, normalization, ordering, ties) lives in the Rust library.
///
/// ```swift
/// let store = try VectorStore(dimensions: 3)
/// try store.add([[1, 0, 0], [0, 1, 0]], ids: [10, 20])
/// for hit in try store.cosineSearch([0.9, 0.1, 0], topK: 1) { print(hit.id, hit.value) }
/// ```
///
/// Thread safety: one store may be used from any number of threads or tasks at once; a search
/// sees the store either before or after a concurrent `add`, never half of one.
///
/// Integers: counts (`dimensions`, `topK`, `count`) must not be negative (`.invalidArgument`);
/// a negative row index reaches the library as an index past the end (`get` returns nil,
/// `withinRows` fails with `.outOfRange`).
public final class VectorStore: @unchecked Sendable {
    // The handle is thread-safe (the library locks internally) and owned by this object alone.
    private let handle: OpaquePointer

    /// Search metric.
    public enum Metric: UInt32, Sendable, CaseIterable {
        /// Cosine similarity, highest first. The query is always normalized.
        case cosine = 0
        /// Dot product, highest first. A normalizing store normalizes the query too.
        case dot = 1
        /// Euclidean distance, lowest first. A normalizing store normalizes the query too.
        case euclidean = 2
    }

    /// Flags for `open` and `reload` (the C `NVS_OPEN_*` values).
    public struct OpenOptions: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Use row indexes as ids when an archive's metadata is not a list of uint64 integers
        /// (for example a numpy-vector-store archive with dict payloads).
        public static let rowIndexMetadata = OpenOptions(rawValue: UInt32(NVS_OPEN_ROW_INDEX_METADATA))
        /// Map the file and search its rows in place when it was saved uncompressed (the open
        /// does not read the rows; processes mapping one file share its pages); otherwise the
        /// ordinary open (`isMapped` tells). Rows in place are trusted unless `.verify` is
        /// given too. Replace a mapped file by rename, never in place: truncating it raises
        /// SIGBUS in the processes that map it.
        public static let map = OpenOptions(rawValue: UInt32(NVS_OPEN_MAP))
        /// With `.map`: check rows left in place as an ordinary open does (reads them once).
        public static let verify = OpenOptions(rawValue: UInt32(NVS_OPEN_VERIFY))
    }

    /// Flags for `save` (the C `NVS_SAVE_*` values).
    public struct SaveOptions: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Store archive members uncompressed: a larger file that loads faster.
        public static let uncompressed = SaveOptions(rawValue: UInt32(NVS_SAVE_UNCOMPRESSED))
        /// Write metadata as a pickled object array, the layout numpy-vector-store 0.7.0 reads.
        public static let pickledMetadata = SaveOptions(rawValue: UInt32(NVS_SAVE_PICKLED_METADATA))
    }

    /// The number of hits a search returns when `topK` is not given: the library's default
    /// (`nvs_search_options_default().top_k`).
    public static let defaultTopK: Int = nvs_search_options_default().top_k

    /// The Rust library's version, "MAJOR.MINOR.PATCH".
    public static var libraryVersion: String { String(cString: nvs_version()) }

    private init(handle: OpaquePointer) {
        self.handle = handle
    }

    /// An empty store with `dimensions` (> 0) columns. With `normalize` (the usual choice) rows
    /// and queries are stored and compared as unit vectors.
    /// How a store keeps its rows (the C `NVS_STORAGE_*` values).
    public enum Storage: UInt32, Sendable {
        /// Rows exactly as added (after normalization): the default.
        case float32 = 0
        /// IEEE float16 rows: half the memory and half the bytes a search reads. Rows are
        /// checked and normalized in float32, then rounded; a value beyond 65504 in magnitude
        /// fails the add (`.outOfRange`). Values are computed from the rounded rows.
        case float16 = 1
    }

    public init(dimensions: Int, normalize: Bool = true, storage: Storage = .float32) throws {
        var out: OpaquePointer?
        try check(nvs_store_new_with_storage(try size(dimensions, "dimensions"), normalize, storage.rawValue, &out))
        handle = out!
    }

    /// How the store keeps its rows.
    public var storage: Storage { Storage(rawValue: nvs_store_storage(handle)) ?? .float32 }

    deinit {
        nvs_store_free(handle)
    }

    // MARK: Properties

    /// Number of rows.
    public var count: Int { nvs_store_len(handle) }
    /// Number of columns of every row and query.
    public var dimensions: Int { nvs_store_dimensions(handle) }
    /// Whether rows and queries are normalized to unit length.
    public var normalize: Bool { nvs_store_normalize(handle) }
    /// Whether some rows are searched in place in a mapped archive (`.map`).
    public var isMapped: Bool { nvs_store_is_mapped(handle) }

    // MARK: Rows

    /// Append rows, each exactly `dimensions` long, with one id per row (`ids` nil: each row's
    /// id is its row index). On any failure nothing is added.
    public func add(_ vectors: [[Float]], ids: [UInt64]? = nil) throws {
        try add(try flatten(vectors, what: "row"), ids: ids)
    }

    /// Append rows given row-major in one array (a whole number of rows of `dimensions`).
    public func add(_ vectors: [Float], ids: [UInt64]? = nil) throws {
        try vectors.withUnsafeBufferPointer { v in
            try withOptionalBuffer(ids) { idsPointer, idsCount in
                try check(nvs_store_add(handle, v.baseAddress, v.count, idsPointer, idsCount))
            }
        }
    }

    /// Append rows given row-major in caller memory, copied before return.
    public func add(_ vectors: UnsafeBufferPointer<Float>, ids: UnsafeBufferPointer<UInt64>? = nil) throws {
        try withOptionalBuffer(ids) { idsPointer, idsCount in
            try check(nvs_store_add(handle, vectors.baseAddress, vectors.count, idsPointer, idsCount))
        }
    }

    /// Row `index` and its id, or nil when `index` is past the last row.
    public func get(_ index: Int) throws -> (vector: [Float], id: UInt64)? {
        var vector = [Float](repeating: 0, count: dimensions)
        var id: UInt64 = 0
        let status = vector.withUnsafeMutableBufferPointer { v in
            nvs_store_get(handle, index, v.baseAddress, v.count, &id)
        }
        if status == NVS_STATUS_NOT_FOUND.rawValue { return nil }
        try check(status)
        return (vector, id)
    }

    /// Copy `count` rows starting at row `start` (`.outOfRange` past the end).
    public func readRows(start: Int, count: Int) throws -> (vectors: [[Float]], ids: [UInt64]) {
        let count = try size(count, "count")
        // Let the library check the range before allocating for it (NULL buffers: check only).
        try check(nvs_store_read_rows(handle, start, count, nil, 0, nil, 0))
        let dims = dimensions
        var flat = [Float](repeating: 0, count: count * dims)
        var ids = [UInt64](repeating: 0, count: count)
        try flat.withUnsafeMutableBufferPointer { v in
            try ids.withUnsafeMutableBufferPointer { i in
                try check(nvs_store_read_rows(handle, start, count, v.baseAddress, v.count, i.baseAddress, i.count))
            }
        }
        let rows = (0..<count).map { Array(flat[($0 * dims)..<(($0 + 1) * dims)]) }
        return (rows, ids)
    }

    /// Remove every row. Dimensions, normalize and the bound file path stay.
    public func clear() throws {
        try check(nvs_store_clear(handle))
    }

    // MARK: Search

    /// Cosine similarity search, best first. `minValue` drops hits below it; `withinRows`
    /// restricts the search to those row indexes (unique, inside the store).
    public func cosineSearch(_ query: [Float], topK: Int = VectorStore.defaultTopK, minValue: Double? = nil,
                             withinRows: [Int]? = nil) throws -> [VectorHit] {
        try search(query, metric: .cosine, topK: topK, threshold: minValue, withinRows: withinRows)
    }

    /// Dot product search, best first. `minValue` drops hits below it.
    public func dotSearch(_ query: [Float], topK: Int = VectorStore.defaultTopK, minValue: Double? = nil,
                          withinRows: [Int]? = nil) throws -> [VectorHit] {
        try search(query, metric: .dot, topK: topK, threshold: minValue, withinRows: withinRows)
    }

    /// Euclidean distance search, nearest first. `maxValue` drops hits farther than it.
    public func euclideanSearch(_ query: [Float], topK: Int = VectorStore.defaultTopK, maxValue: Double? = nil,
                                withinRows: [Int]? = nil) throws -> [VectorHit] {
        try search(query, metric: .euclidean, topK: topK, threshold: maxValue, withinRows: withinRows)
    }

    /// Search with any metric. `threshold` is the minimum value for cosine and dot, the maximum
    /// distance for euclidean.
    public func search(_ query: [Float], metric: Metric, topK: Int = VectorStore.defaultTopK, threshold: Double? = nil,
                       withinRows: [Int]? = nil) throws -> [VectorHit] {
        try query.withUnsafeBufferPointer {
            try search($0, metric: metric, topK: topK, threshold: threshold, withinRows: withinRows)
        }
    }

    /// Search with a query in caller memory.
    public func search(_ query: UnsafeBufferPointer<Float>, metric: Metric, topK: Int = VectorStore.defaultTopK,
                       threshold: Double? = nil, withinRows: [Int]? = nil) throws -> [VectorHit] {
        try withOptions(topK: topK, threshold: threshold, withinRows: withinRows) { options, k in
            var hits = [nvs_hit](repeating: nvs_hit(), count: k)
            var found = 0
            try check(hits.withUnsafeMutableBufferPointer { h in
                nvs_store_search(handle, metric.rawValue, query.baseAddress, query.count, options,
                                 h.baseAddress, h.count, &found)
            })
            return hits[..<found].map(VectorHit.init)
        }
    }

    /// Search many queries at once (each `dimensions` long); one hit list per query, in order.
    /// Every query is validated before any search runs.
    public func searchBatch(_ queries: [[Float]], metric: Metric, topK: Int = VectorStore.defaultTopK, threshold: Double? = nil,
                            withinRows: [Int]? = nil) throws -> [[VectorHit]] {
        try searchBatch(flat: try flatten(queries, what: "query"), metric: metric, topK: topK,
                        threshold: threshold, withinRows: withinRows)
    }

    /// Search many queries given row-major in one array.
    public func searchBatch(flat queries: [Float], metric: Metric, topK: Int = VectorStore.defaultTopK, threshold: Double? = nil,
                            withinRows: [Int]? = nil) throws -> [[VectorHit]] {
        try queries.withUnsafeBufferPointer {
            try searchBatch(flat: $0, metric: metric, topK: topK, threshold: threshold, withinRows: withinRows)
        }
    }

    /// Search many queries given row-major in caller memory.
    public func searchBatch(flat queries: UnsafeBufferPointer<Float>, metric: Metric, topK: Int = VectorStore.defaultTopK,
                            threshold: Double? = nil, withinRows: [Int]? = nil) throws -> [[VectorHit]] {
        let dims = dimensions
        let queryCount = dims > 0 ? queries.count / dims : 0
        return try withOptions(topK: topK, threshold: threshold, withinRows: withinRows) { options, k in
            var hits = [nvs_hit](repeating: nvs_hit(), count: queryCount * k)
            var lens = [Int](repeating: 0, count: queryCount)
            try check(hits.withUnsafeMutableBufferPointer { h in
                lens.withUnsafeMutableBufferPointer { l in
                    nvs_store_search_batch(handle, metric.rawValue, queries.baseAddress, queries.count, options,
                                           h.baseAddress, h.count, k, l.baseAddress)
                }
            })
            return (0..<queryCount).map { q in
                hits[(q * k)..<(q * k + lens[q])].map(VectorHit.init)
            }
        }
    }

    // MARK: Persistence

    /// Open a `.npz` archive written by `save` (".npz" is appended when missing). The store has
    /// the archive's dimensions and normalize setting and is bound to its absolute path.
    public static func open(path: String, options: OpenOptions = []) throws -> VectorStore {
        var out: OpaquePointer?
        try path.withCString { try check(nvs_store_open_with_flags($0, options.rawValue, &out)) }
        return VectorStore(handle: out!)
    }

    /// Open an archive held in memory. The store is not bound to a path.
    public static func open(bytes: [UInt8], options: OpenOptions = []) throws -> VectorStore {
        var out: OpaquePointer?
        try bytes.withUnsafeBufferPointer {
            try check(nvs_store_open_bytes($0.baseAddress, $0.count, options.rawValue, &out))
        }
        return VectorStore(handle: out!)
    }

    /// Save to `path` ("Save As") and bind the store to it once the write succeeded. The file
    /// is replaced atomically; on failure any previous file and binding stay.
    public func save(to path: String, options: SaveOptions = []) throws {
        try path.withCString { try check(nvs_store_save_with_flags(handle, $0, options.rawValue)) }
    }

    /// Save to the bound path (`.noBoundPath` when the store has none).
    public func save(options: SaveOptions = []) throws {
        try check(nvs_store_save_with_flags(handle, nil, options.rawValue))
    }

    /// Replace every row with the bound archive's contents (same dimensions and normalize
    /// setting required). On failure the store is unchanged.
    public func reload(options: OpenOptions = []) throws {
        try check(nvs_store_reload_with_flags(handle, options.rawValue))
    }

    /// The absolute path the store is bound to (by `open` or `save(to:)`), or nil when it is not
    /// bound to one. Any other failure is thrown, never reported as "no path".
    public var filePath: String? {
        get throws {
            // NVS_PATH_CAPACITY holds any bound path with its NUL: one call.
            var buffer = [CChar](repeating: 0, count: Int(NVS_PATH_CAPACITY))
            var length = 0
            let status = buffer.withUnsafeMutableBufferPointer {
                nvs_store_file_path(handle, $0.baseAddress, $0.count, &length)
            }
            if status == NVS_STATUS_NO_BOUND_PATH.rawValue { return nil }
            try check(status)
            return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    // MARK: Conversions

    /// Search options for the C call, with top_k sized by `nvs_store_search`'s rule: `topK`, but
    /// no more than the rows that can match (`withinRows`, else the rows present now; at least
    /// 1). `body` gets that number too, as the hits to make room for per query: the search never
    /// needs more, even while another thread adds rows, and a huge `topK` allocates no huge
    /// buffer. A `topK` of 0 stays 0 for the library to reject.
    private func withOptions<R>(topK: Int, threshold: Double?, withinRows: [Int]?,
                                _ body: (UnsafePointer<nvs_search_options>, Int) throws -> R) throws -> R {
        var options = nvs_search_options_default()
        let candidates = withinRows?.count ?? count
        options.top_k = min(try size(topK, "topK"), max(candidates, 1))
        if let threshold {
            options.threshold = threshold
            options.has_threshold = true
        }
        guard let withinRows else { return try body(&options, options.top_k) }
        return try withinRows.withUnsafeBufferPointer { rows in
            options.has_within_rows = true
            options.within_rows = rows.baseAddress
            options.within_rows_len = rows.count
            return try body(&options, options.top_k)
        }
    }

    /// Nested rows to one row-major array. A row of the wrong length is a conversion error: the
    /// library only sees the total length, and ragged rows could add up to a valid one.
    private func flatten(_ rows: [[Float]], what: String) throws -> [Float] {
        let dims = dimensions
        var flat: [Float] = []
        flat.reserveCapacity(rows.count * dims)
        for (i, row) in rows.enumerated() {
            guard row.count == dims else {
                throw VectorStoreError(code: .dimensionMismatch,
                                       message: "\(what) \(i) has \(row.count) dimensions, the store has \(dims)")
            }
            flat.append(contentsOf: row)
        }
        return flat
    }
}

extension VectorHit {
    init(_ hit: nvs_hit) {
        self.init(index: hit.index, id: hit.id, value: hit.value)
    }
}

/// Calls `body` with a pointer and count: NULL for nil, and never NULL for an array that is
/// present (even empty), because the C API reads NULL ids as "use row indexes".
private func withOptionalBuffer<R>(_ array: [UInt64]?, _ body: (UnsafePointer<UInt64>?, Int) throws -> R) rethrows -> R {
    guard let array else { return try body(nil, 0) }
    return try array.withUnsafeBufferPointer { try withOptionalBuffer($0, body) }
}

private func withOptionalBuffer<R>(_ buffer: UnsafeBufferPointer<UInt64>?,
                                   _ body: (UnsafePointer<UInt64>?, Int) throws -> R) rethrows -> R {
    guard let buffer else { return try body(nil, 0) }
    if let base = buffer.baseAddress { return try body(base, buffer.count) }
    var empty: UInt64 = 0
    return try withUnsafePointer(to: &empty) { try body($0, 0) }
}
