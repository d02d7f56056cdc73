import Foundation
import GRDB
import SiteSyncCore

/// The records this replica holds: each collection's typed table and `sync_record`, through
/// one ``RecordTable`` per collection, with the conflict log (``ConflictLog``) kept in step
/// with every save. Works inside the caller's transaction.
struct StoredRecords: Sendable {
    let schema: Schema
    let tables: [UInt16: RecordTable]

    init(schema: Schema) {
        self.schema = schema
        var tables: [UInt16: RecordTable] = [:]
        for collection in schema.collections { tables[collection.code] = RecordTable(collection) }
        self.tables = tables
    }

    /// The stored states of many records, in the order of `keys` (`nil` where never seen).
    ///
    /// Whether a collection holds any deleted record is asked once for all of them: where it
    /// holds none (the common case), each probe looks in the typed table alone.
    func load(_ statements: PreparedStatements, _ keys: [RecordKey]) throws -> [StoredRecord?] {
        var holdsDeleted: [UInt16: Bool] = [:]
        return try keys.map { key in
            let table = try self.table(of: key)
            let deleted: Bool
            if let known = holdsDeleted[key.collection] {
                deleted = known
            } else {
                deleted = try table.holdsDeleted(statements)
                holdsDeleted[key.collection] = deleted
            }
            return try table.load(statements, id: key.id, orDeleted: deleted)
        }
    }

    /// A record's stored state, or `nil` when never seen.
    func load(_ statements: PreparedStatements, _ key: RecordKey) throws -> StoredRecord? {
        try table(of: key).load(statements, id: key.id, orDeleted: true)
    }

    private func table(of key: RecordKey) throws -> RecordTable {
        guard let table = tables[key.collection] else {
            throw StoreError(.rejectedChange, "collection code \(key.collection) is not in schema \(schema.version)")
        }
        return table
    }

    /// Writes a record's new state: its version metadata, its typed row and its conflict log
    /// entries.
    /// - Parameter stored: the record as it was stored before, `nil` when new.
    func save(_ statements: PreparedStatements, _ state: RecordState, stored: StoredRecord?, settledBy dot: Dot?, now: UInt64) throws {
        try save(statements, state, facts: stored.map { try table(of: $0.state.key).facts(of: $0) }, settledBy: dot, now: now)
    }

    /// What saving `stored` again needs to know of it (``StoredFacts``).
    func facts(of stored: StoredRecord) throws -> StoredFacts {
        try table(of: stored.state.key).facts(of: stored)
    }

    /// The same, from what was known of the record as stored (`nil` when new).
    /// - Parameter blob: the state's blob, when it was encoded beforehand.
    func save(_ statements: PreparedStatements, _ state: RecordState, facts: StoredFacts?, settledBy dot: Dot?, now: UInt64,
              blob: [UInt8]? = nil) throws {
        let table = try table(of: state.key)
        let conflicts = state.conflictCount(in: table.collection)
        let conflictsBefore = facts?.conflicts ?? 0
        try table.save(statements, state, stored: facts, conflicts: conflicts, blob: blob)
        if conflicts > 0 || conflictsBefore > 0 {
            try ConflictLog.reconcile(statements.db, state: state, collection: table.collection, settledBy: dot, now: now)
        }
    }

    /// Removes a record entirely, with its conflict log entries (a record whose every change
    /// was retracted).
    func remove(_ statements: PreparedStatements, _ stored: StoredRecord) throws {
        let key = stored.state.key
        try tables[key.collection]!.remove(statements, stored)
        try ConflictLog.forget(statements.db, collection: schema.collection(code: key.collection)?.name ?? "", id: key.id)
    }

    /// Every live record of a collection (or all records, deleted included), in id order.
    func all(in collection: CollectionSpec, includeDeleted: Bool, _ db: Database) throws -> [RecordState] {
        var states = try tables[collection.code]!.live(db)
        if includeDeleted {
            let rows = try Row.fetchAll(db, sql: "SELECT record_id, state FROM sync_record WHERE collection = ? AND deleted = 1",
                                        arguments: [collection.name])
            states += try rows.map {
                try RecordStateCodec.decode([UInt8]($0[1] as Data), key: RecordKey(collection: collection.code, id: $0[0]))
            }
            states.sort { $0.key.id.utf8.lexicographicallyPrecedes($1.key.id.utf8) }
        }
        return states
    }

    /// How many records are live.
    func liveCount(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM sync_record WHERE deleted = 0") ?? 0
    }
}
