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
/// Every use binds every parameter of its statement. Text and blobs are copied into the
/// statement's ``BindingBuffer`` and bound in place (`SQLITE_STATIC`), where SQLite would
/// otherwise allocate a copy of each and free it at the next bind: in a profile of a bulk
/// apply, that allocation was 3.5 % of the writer's time.
struct RawStatement {
    let statement: Statement
    let db: Database
    private let buffer: BindingBuffer
    private var handle: SQLiteStatement { statement.sqliteStatement }

    /// Begins a use of `statement`: its previous bindings are all replaced before it steps.
    init(_ db: Database, _ statement: Statement, buffer: BindingBuffer) {
        self.db = db
        self.statement = statement
        self.buffer = buffer
        sqlite3_reset(statement.sqliteStatement)
        buffer.reset()
    }

    /// The bytes stay where they are until the statement's next use (``BindingBuffer``).
    private static let inPlace = unsafeBitCast(0, to: sqlite3_destructor_type.self)

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    func bind(_ index: Int32, _ value: String) {
        var text = value
        text.withUTF8 { bind(index, utf8: $0) }
    }

    /// Binds a blob; an empty one stays an empty blob (SQLite binds NULL for a null pointer,
    /// and the buffer never gives one).
    func bind(_ index: Int32, blob: [UInt8]) {
        blob.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(handle, index, buffer.keep(bytes), Int32(bytes.count), Self.inPlace)
        }
    }

    func bind(_ index: Int32, blob: Data) {
        blob.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(handle, index, buffer.keep(bytes), Int32(bytes.count), Self.inPlace)
        }
    }

    /// Binds UTF-8 text from a buffer that need not outlive the call.
    func bind(_ index: Int32, utf8 text: UnsafeBufferPointer<UInt8>) {
        _ = sqlite3_bind_text(handle, index, buffer.keep(UnsafeRawBufferPointer(text)).assumingMemoryBound(to: CChar.self),
                              Int32(text.count), Self.inPlace)
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
        case .date(let d): d.withISO8601UTF8 { bind(index, utf8: $0) }
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
///
/// Each statement binds its text and blobs in place from a buffer of its own, which lives as
/// long as this object: GRDB keeps the statements cached after it, so it clears their bindings
/// when it goes, and no statement is left pointing at freed memory.
final class PreparedStatements {
    let db: Database
    private var statements: [Int: (statement: Statement, buffer: BindingBuffer)] = [:]

    init(_ db: Database) {
        self.db = db
    }

    deinit {
        for (statement, _) in statements.values { sqlite3_clear_bindings(statement.sqliteStatement) }
    }

    /// The statement for `key`, prepared from `sql` the first time (its bindings cleared then,
    /// as GRDB may have left some).
    func statement(_ key: Int, _ sql: @autoclosure () -> String) throws -> RawStatement {
        if let (statement, buffer) = statements[key] { return RawStatement(db, statement, buffer: buffer) }
        let statement = try db.cachedStatement(sql: sql())
        sqlite3_reset(statement.sqliteStatement)
        sqlite3_clear_bindings(statement.sqliteStatement)
        let buffer = BindingBuffer()
        statements[key] = (statement, buffer)
        return RawStatement(db, statement, buffer: buffer)
    }
}

/// Memory a statement's text and blob parameters are bound from, in place, during one use.
///
/// Bytes are copied in one after another and never move while the use lasts: the buffer is a
/// list of blocks, and a value that does not fit in the current block goes to the next (a new
/// one, at least as big as the value, when none is left). A new use starts again at the first
/// block, overwriting bytes the previous use's bindings point at, which every use replaces
/// before it steps.
final class BindingBuffer {
    private var blocks: [UnsafeMutableRawBufferPointer] = []
    private var block = 0
    /// Where the next value goes in the current block, and where that block ends.
    private var next: UnsafeMutableRawPointer
    private var end: UnsafeMutableRawPointer
    private static let blockSize = 4096

    init() {
        blocks = [.allocate(byteCount: Self.blockSize, alignment: 8)]
        next = blocks[0].baseAddress!
        end = next + Self.blockSize
    }

    deinit {
        for block in blocks { block.deallocate() }
    }

    /// Starts a new use.
    func reset() {
        if block != 0 {
            block = 0
            end = blocks[0].baseAddress! + blocks[0].count
        }
        next = blocks[0].baseAddress!
    }

    /// A copy of `bytes` that stays until the next ``reset()`` (never a null pointer, so that an
    /// empty blob binds as an empty blob).
    func keep(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawPointer {
        if end - next < bytes.count { moveToBlock(holding: bytes.count) }
        let start = next
        if let source = bytes.baseAddress, bytes.count > 0 { start.copyMemory(from: source, byteCount: bytes.count) }
        next += bytes.count
        return UnsafeRawPointer(start)
    }

    /// Moves on to the next block with room for `count` bytes, making one if none is left.
    private func moveToBlock(holding count: Int) {
        repeat { block += 1 } while block < blocks.count && blocks[block].count < count
        if block == blocks.count { blocks.append(.allocate(byteCount: max(Self.blockSize, count), alignment: 8)) }
        next = blocks[block].baseAddress!
        end = next + blocks[block].count
    }
}
