import CNVS

/// The error every throwing `VectorStore` call raises: the library's status and its message.
///
/// ```swift
/// do { try store.add([[1, 2]], ids: [7]) }
/// catch let error as VectorStoreError where error.code == .dimensionMismatch { print(error.message) }
/// ```
public struct VectorStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A failed status of the C API (`nvs_status` without `NVS_STATUS_OK`), same numbers.
    /// Swift raw values must be literals, so this table repeats include/nvs.h; the Rust test
    /// tests/status_tables.rs fails if a case is missing or has another number.
    public enum Code: UInt32, Sendable, CaseIterable {
        /// A required pointer argument was NULL.
        case nullArgument = 1
        /// An argument is out of its domain (topK of 0, duplicate withinRows, a negative count, ...).
        case invalidArgument = 2
        /// A vector, query or archive has the wrong number of dimensions for the store.
        case dimensionMismatch = 3
        /// A vector, query or threshold holds NaN or an infinity.
        case nonFinite = 4
        /// A vector that must be normalized (or a stored row for raw cosine) has zero norm.
        case zeroNorm = 5
        /// A row index or row range lies outside the store.
        case outOfRange = 6
        /// A row index past the last row.
        case notFound = 7
        /// A result buffer was too small.
        case bufferTooSmall = 8
        /// The operating system refused a file operation.
        case io = 9
        /// An archive is malformed, truncated, of another format version or otherwise invalid.
        case format = 10
        /// Save or reload without a path on a store that is not bound to a file.
        case noBoundPath = 11
        /// Memory could not be allocated.
        case outOfMemory = 12
        /// A bug in the library (for example a caught panic), or a status this binding does
        /// not know.
        case `internal` = 13

        /// The C name without prefix, e.g. "DIMENSION_MISMATCH" (from `nvs_status_name`).
        public var name: String { String(cString: nvs_status_name(rawValue)) }
    }

    /// What went wrong, as a status.
    public let code: Code
    /// The library's explanation, naming the offending value.
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.name): \(message)" }
}

/// Turn a C status into a thrown error, reading the thread-local message right away (same thread).
@inline(__always)
func check(_ status: UInt32) throws {  // `nvs_status` (imported both as a typedef and as an enum: ambiguous by name)
    if status == NVS_STATUS_OK.rawValue { return }
    let message = String(cString: nvs_last_error_message())
    guard let code = VectorStoreError.Code(rawValue: status) else {
        throw VectorStoreError(code: .internal, message: "unknown status \(status): \(message)")
    }
    throw VectorStoreError(code: code, message: message)
}

/// Swift counts are `Int`; the C API takes `size_t`. A negative value has no `size_t` form.
@inline(__always)
func size(_ value: Int, _ name: String) throws -> Int {
    guard value >= 0 else {
        throw VectorStoreError(code: .invalidArgument, message: "\(name) must not be negative (got \(value))")
    }
    return value
}
