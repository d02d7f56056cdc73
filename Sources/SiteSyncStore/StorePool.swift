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
            let applied = try Self.appliedPosition(db)
            let (value, position) = try log.append(after: applied) { missed in
                try apply(missed, db)
                let recorder = try Changeset.Recorder(db)
                let value = try body(db)
                return (value, try recorder.take())
            }
            if position != applied { try Self.setAppliedPosition(db, position) }
            return value
        }
    }

    func writeWithoutTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        try writer.writeWithoutTransaction(body)
    }

    /// Brings the copy up to the log's last changeset, between writes.
    func catchUp() throws {
        guard let log else { return }
        let applied = try writer.read { db in try Self.appliedPosition(db) }
        let missed = try log.changesets(after: applied)
        guard !missed.isEmpty else { return }
        try writer.write { db in
            // Another write may have caught up meanwhile: apply only what is still missed.
            let now = try Self.appliedPosition(db)
            let rest = missed.filter { $0.sequence > now.sequence }
            try apply(rest, db)
            if let last = rest.last { try Self.setAppliedPosition(db, last.position) }
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

    /// The last logged changeset this copy holds: rows of `sync_meta` no changeset carries
    /// (written after the recorder stopped, they differ from copy to copy).
    static let positionKeys: Set<String> = ["log_applied", "log_applied_digest"]

    static func appliedPosition(_ db: Database) throws -> HubLogPosition {
        let rows = try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: """
            SELECT key, value FROM sync_meta WHERE key IN ('log_applied', 'log_applied_digest')
            """).map { ($0[0] as String, $0[1] as String) })
        return HubLogPosition(sequence: rows["log_applied"].flatMap { Int64($0) } ?? 0, digest: rows["log_applied_digest"])
    }

    static func setAppliedPosition(_ db: Database, _ position: HubLogPosition) throws {
        for (key, value) in [("log_applied", String(position.sequence)), ("log_applied_digest", position.digest)] {
            guard let value else {
                try db.execute(sql: "DELETE FROM sync_meta WHERE key = ?", arguments: [key])
                continue
            }
            try db.execute(sql: """
                INSERT INTO sync_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value
                """, arguments: [key, value])
        }
    }
}
