import Foundation
import GRDB
import SiteSyncCore

/// The store's connections, through which every write transaction goes: straight to SQLite, or,
/// with a ``TransactionLog``, as the log's next transaction over this working copy.
struct StorePool: Sendable {
    let writer: any DatabaseWriter
    let log: (any TransactionLog)?
    /// The typed tables' names (one per collection).
    let typedTables: Set<String>

    init(_ writer: any DatabaseWriter, log: (any TransactionLog)?, schema: Schema) {
        self.writer = writer
        self.log = log
        typedTables = Set(schema.collections.map(\.name))
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try writer.read(body)
    }

    /// One write transaction. With a log: first the changesets other copies logged since this
    /// copy's last, then `body`, whose changeset the log keeps before SQLite commits (a copy
    /// that dies between the two finds its own change in the log when it next writes).
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        guard let log else { return try writer.write(body) }
        return try writer.write { db in
            let applied = try Self.appliedSequence(db)
            let (value, sequence) = try log.append(after: applied) { missed in
                try apply(missed, db)
                let recorder = try Changeset.Recorder(db)
                let value = try body(db)
                return (value, try recorder.take())
            }
            try Self.setAppliedSequence(db, sequence)
            return value
        }
    }

    func writeWithoutTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        try writer.writeWithoutTransaction(body)
    }

    /// Brings the copy up to the log's last changeset, between writes.
    func catchUp() throws {
        guard let log else { return }
        let applied = try writer.read { db in try Self.appliedSequence(db) }
        let missed = try log.changesets(after: applied)
        guard !missed.isEmpty else { return }
        try writer.write { db in
            // Another write may have caught up meanwhile: apply only what is still missed.
            let now = try Self.appliedSequence(db)
            let rest = missed.filter { $0.sequence > now }
            try apply(rest, db)
            if let last = rest.last { try Self.setAppliedSequence(db, last.sequence) }
        }
    }

    func backup(to destination: some DatabaseWriter) throws {
        try writer.backup(to: destination)
    }

    func close() throws {
        try writer.close()
    }

    private func apply(_ missed: [LoggedChangeset], _ db: Database) throws {
        for entry in missed { try apply(entry.changeset, db) }
    }

    /// One changeset, in the transaction running on `db`. A typed row's rowid is its record's
    /// `sync_record` id (``RecordTable``), which a changeset does not carry (it names rows by
    /// their primary key): each typed row inserted is given it back, in two steps, because
    /// SQLite gave the inserted rows the next free rowids, which may be others' to take.
    func apply(_ changeset: Changeset, _ db: Database) throws {
        try changeset.apply(to: db)
        var inserted: [(table: String, id: String)] = []
        for operation in try changeset.operations() where operation.kind == .insert && typedTables.contains(operation.table) {
            guard let key = operation.primaryKey.firstIndex(of: true), let id = operation.new[key].flatMap(String.fromDatabaseValue) else {
                continue
            }
            inserted.append((operation.table, id))
        }
        for row in inserted {
            try db.execute(sql: "UPDATE \(StoreSchema.quoted(row.table)) SET rowid = -rowid WHERE id = ?", arguments: [row.id])
        }
        for row in inserted {
            try db.execute(sql: """
                UPDATE \(StoreSchema.quoted(row.table)) SET rowid = (SELECT id FROM sync_record WHERE collection = ?1 AND record_id = ?2)
                WHERE id = ?2
                """, arguments: [row.table, row.id])
        }
    }

    /// The last logged changeset this copy holds: a row of `sync_meta` no changeset carries
    /// (it is written after the recorder stopped, and differs from copy to copy).
    static func appliedSequence(_ db: Database) throws -> Int64 {
        try String.fetchOne(db, sql: "SELECT value FROM sync_meta WHERE key = 'log_applied'").flatMap { Int64($0) } ?? 0
    }

    static func setAppliedSequence(_ db: Database, _ sequence: Int64) throws {
        try db.execute(sql: """
            INSERT INTO sync_meta (key, value) VALUES ('log_applied', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value
            """, arguments: [String(sequence)])
    }
}
