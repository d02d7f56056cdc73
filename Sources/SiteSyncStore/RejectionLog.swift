import Foundation
import GRDB
import SiteSyncCore

/// The changes refused (`sync_rejected`): this node's own that a peer (the hub) refused, and,
/// at a hub, those it refused, each with its code, reason and record, until a person
/// acknowledges them. Every statement about them lives here; it works inside the caller's
/// transaction.
struct RejectionLog {
    let db: Database
    let schema: Schema

    init(_ db: Database, schema: Schema) {
        self.db = db
        self.schema = schema
    }

    /// Records a refusal of a change to `record`, by `refusedBy` ("" for this node), replacing
    /// any earlier one of the same change.
    func record(_ refusal: Refusal, record: RecordKey, refusedBy: String, now: UInt64) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO sync_rejected (replica, counter, code, reason, refused_by, collection, record_id, rejected_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [refusal.dot.replica.storageValue, Int64(bitPattern: refusal.dot.counter), refusal.code.rawValue,
                             refusal.reason, refusedBy, schema.collection(code: record.collection)?.name ?? "\(record.collection)",
                             record.id, Int64(now)])
    }

    /// Records a refusal learned from the hub's `refusal` record, unless one is recorded already.
    func learn(_ dot: Dot, code: RefusalCode, reason: String, refusedBy: String, collection: String, id: String, now: UInt64) throws {
        try db.execute(sql: """
            INSERT OR IGNORE INTO sync_rejected (replica, counter, code, reason, refused_by, collection, record_id, rejected_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [dot.replica.storageValue, Int64(bitPattern: dot.counter), code.rawValue, reason, refusedBy, collection, id,
                             Int64(now)])
    }

    /// Every change refused (by anyone), for a batch to withhold them.
    func refusedDots() throws -> Set<Dot> {
        try Set(Row.fetchAll(db.cachedStatement(sql: "SELECT replica, counter FROM sync_rejected")).map {
            Dot(replica: ReplicaID(storageValue: $0[0]), counter: UInt64(bitPattern: $0[1]))
        })
    }

    /// The refusal this node (a hub) gave a change before, to repeat it when the change comes again.
    func given(_ dot: Dot) throws -> Refusal? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT code, reason FROM sync_rejected WHERE replica = ? AND counter = ? AND refused_by = ''
            """), arguments: [dot.replica.storageValue, Int64(bitPattern: dot.counter)]),
              let code = RefusalCode(rawValue: row[0]) else { return nil }
        return Refusal(dot: dot, code: code, reason: row[1])
    }

    /// The changes refused, newest first.
    func all() throws -> [RejectedChange] {
        try Row.fetchAll(db, sql: """
            SELECT replica, counter, code, reason, refused_by, collection, record_id, rejected_ms FROM sync_rejected
            ORDER BY rejected_ms DESC, replica, counter
            """).map { row in
            RejectedChange(dot: Dot(replica: ReplicaID(storageValue: row[0]), counter: UInt64(bitPattern: row[1])),
                           code: RefusalCode(rawValue: row[2]) ?? .foreignActor, reason: row[3], refusedBy: row[4],
                           collection: row[5], recordID: row[6], rejectedMilliseconds: UInt64(max(0, row[7] as Int64)))
        }
    }

    /// The refusals this node (a hub) gave the changes of `node`'s replicas.
    func issued(to node: String) throws -> [Refusal] {
        try Row.fetchAll(db, sql: """
            SELECT r.replica, r.counter, r.code, r.reason FROM sync_rejected r JOIN sync_replica p ON p.replica = r.replica
            WHERE r.refused_by = '' AND p.node = ? ORDER BY r.replica, r.counter
            """, arguments: [node]).compactMap { row in
            RefusalCode(rawValue: row[2]).map {
                Refusal(dot: Dot(replica: ReplicaID(storageValue: row[0]), counter: UInt64(bitPattern: row[1])), code: $0, reason: row[3])
            }
        }
    }

    /// How many refusals no person has acknowledged: those this node gave (`refusedHere`), or
    /// those a peer gave the changes of `node`'s replicas.
    func unacknowledged(refusedHere: Bool, node: String) throws -> Int {
        try Int.fetchOne(db, sql: refusedHere
            ? "SELECT count(*) FROM sync_rejected WHERE refused_by = '' AND acknowledged_ms IS NULL"
            : """
                SELECT count(*) FROM sync_rejected WHERE refused_by != '' AND acknowledged_ms IS NULL
                AND replica IN (SELECT replica FROM sync_replica WHERE node = ?)
                """, arguments: refusedHere ? [] : [node]) ?? 0
    }

    /// Per origin replica, the refusals this node gave that no person has acknowledged.
    func unacknowledgedByOrigin() throws -> [ReplicaID: Int] {
        var counts: [ReplicaID: Int] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT replica, count(*) FROM sync_rejected WHERE refused_by = '' AND acknowledged_ms IS NULL GROUP BY replica
            """) {
            counts[ReplicaID(storageValue: row[0])] = row[1]
        }
        return counts
    }

    /// Marks every refusal as seen by a person; returns how many were not yet.
    func acknowledgeAll(now: UInt64) throws -> Int {
        try db.execute(sql: "UPDATE sync_rejected SET acknowledged_ms = ? WHERE acknowledged_ms IS NULL", arguments: [Int64(now)])
        return db.changesCount
    }
}
