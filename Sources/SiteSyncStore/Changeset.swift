import CSQLiteSession
import Foundation
import GRDB
import SiteSyncCore
import GRDBSQLite

/// What one write transaction changed in a database, in SQLite's changeset format (its session
/// extension): each row inserted, updated or deleted, with its primary key, the values it had
/// and the values it has now.
///
/// A hub whose store is PostgreSQL (docs/design.md §18) keeps PostgreSQL as the record of the
/// city and each hub process's SQLite file as its working copy: every write transaction there
/// hands its changeset to PostgreSQL before it commits, and every other process brings its own
/// copy up to date by applying the changesets it has not seen. The store's code — the merge
/// rules, the apply path, the figures — stays one implementation over SQLite.
public struct Changeset: Sendable, Equatable {
    public let bytes: Data

    public init(bytes: Data) {
        self.bytes = bytes
    }

    /// SHA-256 of the bytes, in hex: a logged changeset's fingerprint (``HubLogPosition``).
    public var digest: String { SHA256Hex.digest(of: [UInt8](bytes)) }

    public var isEmpty: Bool { bytes.isEmpty }

    /// Records what the transaction running on `db` changes from now on, until `take()`.
    final class Recorder {
        private var session: UnsafeMutableRawPointer?
        private let db: Database

        init(_ db: Database) throws {
            self.db = db
            var opened: UnsafeMutableRawPointer?
            try Changeset.check(sitesync_session_open(UnsafeMutableRawPointer(db.sqliteConnection), &opened), db, "start recording")
            session = opened
        }

        deinit { if let session { sitesync_session_close(session) } }

        /// Everything changed since the recorder started (an empty changeset when nothing was).
        func take() throws -> Changeset {
            var size: Int32 = 0
            var bytes: UnsafeMutableRawPointer?
            try Changeset.check(sitesync_session_changeset(session, &size, &bytes), db, "read what the transaction changed")
            defer { sitesync_free(bytes) }
            guard let bytes, size > 0 else { return Changeset(bytes: Data()) }
            return Changeset(bytes: Data(bytes: bytes, count: Int(size)))
        }
    }

    /// Applies the changeset to `db`, in the transaction running there. A row not as the
    /// changeset says it was (the copy is not the one the changeset was taken from) aborts it
    /// whole, with nothing applied.
    func apply(to db: Database) throws {
        let code = bytes.withUnsafeBytes { buffer in
            sitesync_changeset_apply(UnsafeMutableRawPointer(db.sqliteConnection), Int32(buffer.count), buffer.baseAddress)
        }
        guard code == 0 else {
            guard code != 4 else {  // SQLITE_ABORT: the conflict handler refused
                throw StoreError(.workingCopyUnfit,
                    "a changeset does not fit this working copy (it was taken from a database in another state); "
                    + "open the hub process again: it builds its working copy again from the store")
            }
            throw StoreError(.database, "applying a changeset failed (SQLite code \(code))")
        }
    }

    /// The row operations, in the changeset's order (table by table).
    public func operations() throws -> [RowOperation] {
        guard !isEmpty else { return [] }
        return try bytes.withUnsafeBytes { buffer in
            var iterator: UnsafeMutableRawPointer?
            try Self.check(sitesync_changeset_start(&iterator, Int32(buffer.count), buffer.baseAddress), nil, "read a changeset")
            defer { sitesync_changeset_finish(iterator) }
            var operations: [RowOperation] = []
            while true {
                let step = sitesync_changeset_next(iterator)
                if step == 101 { return operations }  // SQLITE_DONE
                guard step == 100 else { throw StoreError(.database, "a changeset is damaged (SQLite code \(step))") }  // SQLITE_ROW
                operations.append(try RowOperation(iterator!))
            }
        }
    }

    static func check(_ code: Int32, _ db: Database?, _ doing: String) throws {
        guard code != 0 else { return }
        let message = db.flatMap { String(validatingCString: sqlite3ErrorMessage($0)) } ?? "SQLite code \(code)"
        throw StoreError(.database, "could not \(doing): \(message)")
    }

    private static func sqlite3ErrorMessage(_ db: Database) -> UnsafePointer<CChar> {
        sqlite3_errmsg(db.sqliteConnection)
    }
}

/// One row's change in a ``Changeset``.
public struct RowOperation: Sendable, Equatable {
    public enum Kind: Sendable { case insert, update, delete }

    public let table: String
    public let kind: Kind
    /// Whether each column is part of the table's primary key.
    public let primaryKey: [Bool]
    /// The row before (a delete: every column; an update: the key and the columns that
    /// changed), `nil` where the changeset carries no value.
    public let old: [DatabaseValue?]
    /// The row after (an insert: every column; an update: the columns that changed).
    public let new: [DatabaseValue?]

    public init(table: String, kind: Kind, primaryKey: [Bool], old: [DatabaseValue?], new: [DatabaseValue?]) {
        self.table = table
        self.kind = kind
        self.primaryKey = primaryKey
        self.old = old
        self.new = new
    }

    fileprivate init(_ iterator: UnsafeMutableRawPointer) throws {
        var name: UnsafePointer<CChar>?
        var columns: Int32 = 0
        var code: Int32 = 0
        try Changeset.check(sitesync_changeset_operation(iterator, &name, &columns, &code), nil, "read a changeset's operation")
        table = name.map { String(cString: $0) } ?? ""
        switch code {
        case 18: kind = .insert  // SQLITE_INSERT
        case 9: kind = .delete  // SQLITE_DELETE
        default: kind = .update  // SQLITE_UPDATE (23)
        }
        var flags: UnsafeMutablePointer<UInt8>?
        var keyColumns: Int32 = 0
        try Changeset.check(sitesync_changeset_primary_key(iterator, &flags, &keyColumns), nil, "read a changeset's primary key")
        primaryKey = (0..<Int(columns)).map { flags?[$0] == 1 }
        old = kind == .insert ? [] : try (0..<columns).map { try Self.value(iterator, old: true, column: $0) }
        new = kind == .delete ? [] : try (0..<columns).map { try Self.value(iterator, old: false, column: $0) }
    }

    private static func value(_ iterator: UnsafeMutableRawPointer, old: Bool, column: Int32) throws -> DatabaseValue? {
        var present: Int32 = 0, type: Int32 = 0, integer: Int64 = 0, real: Double = 0, length: Int32 = 0
        var bytes: UnsafeRawPointer?
        try Changeset.check(sitesync_changeset_value(iterator, old ? 1 : 0, column, &present, &type, &integer, &real, &bytes, &length),
                            nil, "read a changeset's value")
        guard present != 0 else { return nil }
        switch type {
        case 1: return integer.databaseValue
        case 2: return real.databaseValue
        case 3: return String(decoding: UnsafeRawBufferPointer(start: bytes, count: Int(length)), as: UTF8.self).databaseValue
        case 4: return Data(bytes: bytes ?? UnsafeRawPointer(bitPattern: 1)!, count: Int(length)).databaseValue
        default: return .null
        }
    }
}
