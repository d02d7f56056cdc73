import Foundation
import GRDB
import GRDBSQLite
import SiteSyncCore

/// Binds values straight into a cached GRDB statement through the SQLite C API and steps it.
///
/// The store's hot write paths (a typed row and a `sync_change` row per applied change, and a
/// `sync_record` row per new record) run hundreds of thousands of times in a bulk apply; GRDB's general argument
/// handling allocates on every call, which costs more than SQLite itself here. Statements still
/// come from `Database.cachedStatement`, so GRDB owns their lifetime, and errors become
/// `DatabaseError`s like any other. The corresponding C functions are `sqlite3_bind_*`,
/// `sqlite3_step` and `sqlite3_reset`.
///
/// Every use binds every parameter of its statement: bindings are not cleared between uses, so
/// that SQLite copies each text and blob into the buffer the parameter already holds instead of
/// freeing it and allocating another (a profile of a bulk apply found that malloc and free
/// 7 % of the writer's time in the store).
struct RawStatement {
    let statement: Statement
    let db: Database
    private var handle: SQLiteStatement { statement.sqliteStatement }

    init(_ db: Database, _ statement: Statement) {
        self.db = db
        self.statement = statement
        sqlite3_reset(statement.sqliteStatement)
    }

    /// SQLite copies bound text and blobs, so Swift buffers need not outlive the call.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    func bind(_ index: Int32, _ value: String) {
        var text = value
        text.withUTF8 { buffer in
            _ = sqlite3_bind_text(handle, index, UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self),
                                  Int32(buffer.count), Self.transient)
        }
    }

    /// Binds a blob; an empty one stays an empty blob (SQLite binds NULL for a null pointer).
    func bind(_ index: Int32, blob: [UInt8]) {
        blob.withUnsafeBytes { buffer in
            _ = sqlite3_bind_blob(handle, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(buffer.count), Self.transient)
        }
    }

    func bind(_ index: Int32, blob: Data) {
        blob.withUnsafeBytes { buffer in
            _ = sqlite3_bind_blob(handle, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(buffer.count), Self.transient)
        }
    }

    /// Binds UTF-8 text from a buffer SQLite copies before this returns.
    func bind(_ index: Int32, utf8 buffer: UnsafeBufferPointer<UInt8>) {
        _ = sqlite3_bind_text(handle, index, UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self),
                              Int32(buffer.count), Self.transient)
    }

    func bindNull(_ index: Int32) {
        sqlite3_bind_null(handle, index)
    }

    /// Binds a field's visible value as its typed column holds it (see ``RecordTable``).
    func bind(_ index: Int32, _ value: FieldValue) {
        switch value {
        case .null: bindNull(index)
        case .int(let i): bind(index, i)
        case .text(let s), .symbol(let s), .ref(let s): bind(index, s)
        case .set(let elements): bind(index, JSONValue.array(elements.map { .string($0) }).canonicalText)
        // A decimal's column holds its exact canonical text, written straight from the stack.
        case .decimal(let d): d.withCanonicalUTF8 { bind(index, utf8: $0) }
        default: bind(index, value.displayText)
        }
    }

    /// Steps to the next row: `true` when there is one, `false` when done (then resets).
    func step() throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                                sql: statement.sql)
        }
        return false
    }

    /// Column `index` (from 0) of the current row as an integer.
    func int64(_ index: Int32) -> Int64 {
        sqlite3_column_int64(handle, index)
    }

    /// Column `index` of the current row as text.
    func text(_ index: Int32) -> String {
        guard let pointer = sqlite3_column_text(handle, index) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, index))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// Column `index` of the current row as bytes.
    func bytes(_ index: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, index))
        guard count > 0, let pointer = sqlite3_column_blob(handle, index) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Steps the statement to completion, then resets it.
    func run() throws {
        let code = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                                sql: statement.sql)
        }
    }
}

/// The statements one transaction uses, prepared once and found again by a small integer key
/// instead of by hashing their SQL text on every row.
final class PreparedStatements {
    let db: Database
    private var statements: [Int: Statement] = [:]

    init(_ db: Database) {
        self.db = db
    }

    /// The statement for `key`, prepared from `sql` the first time (its bindings cleared then,
    /// as GRDB may have left some).
    func statement(_ key: Int, _ sql: @autoclosure () -> String) throws -> RawStatement {
        if let statement = statements[key] { return RawStatement(db, statement) }
        let statement = try db.cachedStatement(sql: sql())
        sqlite3_reset(statement.sqliteStatement)
        sqlite3_clear_bindings(statement.sqliteStatement)
        statements[key] = statement
        return RawStatement(db, statement)
    }
}
