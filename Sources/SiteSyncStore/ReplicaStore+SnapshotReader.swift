import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// Where the change log stood when it was read: enough to tell later whether it has only
/// grown since (``SnapshotReader/changes(since:limit:)``).
public struct LogPosition: Sendable, Equatable {
    /// The last entry's position in the log (0 for an empty log).
    public let sequence: Int64
    /// How many entries the log held; with ``sequence`` and ``link`` it tells entries removed
    /// (compaction, a new epoch, a state transfer) from entries only added.
    let count: Int64
    /// The last entry's link in its chain: a log cut back and refilled up to the same position
    /// holds other links there.
    let link: Data?
    /// How many refusals were recorded: a refusal retracts a change already held, without a new
    /// entry in the log, and its record is rebuilt.
    let refusals: Int64
}

/// Reads several things in one snapshot of the database (one read transaction), so what a
/// reader computes from them belongs to one state of the replica: the log's position, the
/// changes after an earlier position, and the typed tables.
///
/// Only valid inside ``ReplicaStore/reading(_:)``.
public struct SnapshotReader {
    let db: Database
    let schema: Schema

    /// Where the log stands.
    public func position() throws -> LogPosition {
        let row = try Row.fetchOne(db, sql: """
            SELECT (SELECT max(seq) FROM sync_change), (SELECT count(*) FROM sync_change), (SELECT count(*) FROM sync_rejected)
            """)!
        let sequence: Int64 = row[0] ?? 0
        return LogPosition(sequence: sequence, count: row[1], link: try link(at: sequence), refusals: row[2])
    }

    private func link(at sequence: Int64) throws -> Data? {
        try Data.fetchOne(db.cachedStatement(sql: "SELECT link FROM sync_change WHERE seq = ?"), arguments: [sequence])
    }

    /// The changes in force logged after `old`, in log order; `nil` when the log did more than
    /// grow by changes in force since (entries removed or replaced, a change withheld or
    /// retracted, a refusal recorded) or grew by more than `limit` entries: then what changed
    /// cannot be told from the log alone.
    public func changes(since old: LogPosition, limit: Int) throws -> [Change]? {
        let now = try position()
        guard now.refusals == old.refusals, try link(at: old.sequence) == old.link else { return nil }
        let added = try Int64.fetchOne(db, sql: "SELECT count(*) FROM sync_change WHERE seq > ?", arguments: [old.sequence]) ?? 0
        guard now.count == old.count + added, added <= Int64(limit) else { return nil }
        var changes: [Change] = []
        let rows = try Row.fetchCursor(db, sql: "SELECT replica, counter, payload, status FROM sync_change WHERE seq > ? ORDER BY seq",
                                       arguments: [old.sequence])
        while let row = try rows.next() {
            guard ChangeStatus.stored(row[3]) == .inForce else { return nil }
            changes.append(try ChangeCodec.decode(origin: ReplicaID(storageValue: row[0]).rawValue, counter: UInt64(bitPattern: row[1]),
                                                  payload: row[2], schema: schema))
        }
        return changes
    }

    /// ``ReplicaStore/rows(_:)`` in this snapshot.
    public func rows(_ queries: [(sql: String, arguments: [String])]) throws -> [[[String?]]] {
        try ReplicaStore.rows(db, queries)
    }

    /// ``ReplicaStore/entrySums(table:amount:cutOffs:)`` in this snapshot, over the rows that
    /// also meet `restriction` (an SQL condition whose parameters are numbered from `?2`).
    public func entrySums(table: String, amount: String, cutOffs: [String],
                          restriction: (sql: String, arguments: [String])? = nil) throws -> [String: ActivityEntrySums] {
        try ReplicaStore.entrySums(db, table: table, amount: amount, cutOffs: cutOffs, restriction: restriction)
    }
}

extension ReplicaStore {
    /// Runs `body` over one snapshot of the database (``SnapshotReader``).
    public func reading<T>(_ body: (SnapshotReader) throws -> T) throws -> T {
        try StoreError.mapping { try pool.read { db in try body(SnapshotReader(db: db, schema: schema)) } }
    }
}
