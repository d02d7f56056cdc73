import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// A change refused: one of this node's, refused by a peer (usually the hub); or, at a hub, one
/// it refused.
public struct RejectedChange: Sendable, Equatable {
    public let dot: Dot
    public let code: RefusalCode
    public let reason: String
    /// The node that refused it ("" when this node did).
    public let refusedBy: String
    public let collection: String
    public let recordID: String
    public let rejectedMilliseconds: UInt64
}

extension ReplicaStore {
    /// Marks this node's changes that `peer` refused as rejected: they stay in the log (shown by
    /// `conflicts --rejected`, never sent again except as holes), and the records they touched
    /// are rebuilt without them, so this node shows what the hub holds.
    /// - Returns: how many changes were newly marked.
    @discardableResult
    public func markRejected(_ refusals: [Refusal], by peer: String) throws -> Int {
        let mine = refusals.filter { $0.dot.replica == identity.replica }
        guard !mine.isEmpty else { return 0 }
        return try StoreError.mapping {
            try pool.write { db in
                let now = options.wallClock()
                var records: Set<RecordKey> = []
                for refusal in mine {
                    guard let row = try Row.fetchOne(db, sql: "SELECT payload, status FROM sync_change WHERE replica = ? AND counter = ?",
                                                     arguments: [refusal.dot.replica.storageValue, Int64(bitPattern: refusal.dot.counter)]),
                          (row[1] as Int64) == 0 else { continue }
                    let change = try ChangeCodec.decode(origin: refusal.dot.replica.rawValue, counter: refusal.dot.counter,
                                                        payload: row[0], schema: schema)
                    try db.execute(sql: "UPDATE sync_change SET status = 2 WHERE replica = ? AND counter = ?",
                                   arguments: [refusal.dot.replica.storageValue, Int64(bitPattern: refusal.dot.counter)])
                    try recordRejection(db, refusal, record: change.record, refusedBy: peer, now: now)
                    records.insert(change.record)
                }
                if !records.isEmpty { try rebuild(db, records, now: now) }
                return records.isEmpty ? 0 : mine.count
            }
        }
    }

    /// The changes refused, newest first.
    public func rejectedChanges() throws -> [RejectedChange] {
        try StoreError.mapping {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT replica, counter, code, reason, refused_by, collection, record_id, rejected_ms FROM sync_rejected
                    ORDER BY rejected_ms DESC, replica, counter
                    """).map { row in
                    RejectedChange(dot: Dot(replica: ReplicaID(storageValue: row[0]), counter: UInt64(bitPattern: row[1])),
                                   code: RefusalCode(rawValue: row[2]) ?? .foreignActor, reason: row[3], refusedBy: row[4],
                                   collection: row[5], recordID: row[6], rejectedMilliseconds: UInt64(max(0, row[7] as Int64)))
                }
            }
        }
    }

    /// The refusals this node (a hub) gave the changes of `node`'s replicas, to send back to it.
    public func refusalsIssued(to node: String) throws -> [Refusal] {
        try StoreError.mapping {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT r.replica, r.counter, r.code, r.reason FROM sync_rejected r JOIN sync_replica p ON p.replica = r.replica
                    WHERE r.refused_by = '' AND p.node = ? ORDER BY r.replica, r.counter
                    """, arguments: [node]).compactMap { row in
                    RefusalCode(rawValue: row[2]).map {
                        Refusal(dot: Dot(replica: ReplicaID(storageValue: row[0]), counter: UInt64(bitPattern: row[1])), code: $0, reason: row[3])
                    }
                }
            }
        }
    }

    func recordRejection(_ db: Database, _ refusal: Refusal, record: RecordKey, refusedBy: String, now: UInt64) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO sync_rejected (replica, counter, code, reason, refused_by, collection, record_id, rejected_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [refusal.dot.replica.storageValue, Int64(bitPattern: refusal.dot.counter), refusal.code.rawValue,
                             refusal.reason, refusedBy, schema.collection(code: record.collection)?.name ?? "\(record.collection)",
                             record.id, Int64(now)])
    }

    /// Recomputes records from the log, in log order, with every withheld or retracted change
    /// taken as seen but without effect. A record left with no change in force disappears.
    func rebuild(_ db: Database, _ records: Set<RecordKey>, now: UInt64) throws {
        var states: [RecordKey: RecordState] = [:]
        var inForce: Set<RecordKey> = []
        let rows = try Row.fetchCursor(db, sql: "SELECT replica, counter, payload, status FROM sync_change ORDER BY seq")
        while let row = try rows.next() {
            let dot = Dot(replica: ReplicaID(storageValue: row[0]), counter: UInt64(bitPattern: row[1]))
            let status: Int64 = row[3]
            let record: RecordKey
            var change: Change?
            if status == 1 {
                record = try HoleCodec.decode(row[2]).record
            } else {
                let decoded = try ChangeCodec.decode(origin: dot.replica.rawValue, counter: dot.counter, payload: row[2], schema: schema)
                record = decoded.record
                change = decoded
            }
            guard records.contains(record) else { continue }
            var state = states[record] ?? RecordState(key: record)
            if status == 0, let change {
                _ = try state.apply(change, in: collection(record.collection))
                inForce.insert(record)
            } else {
                state.withhold(dot)
            }
            states[record] = state
        }
        let statements = PreparedStatements(db)
        for record in records {
            let stored = try loadStored(statements, record)
            if inForce.contains(record), let state = states[record] {
                try saveState(statements, state, stored: stored, settledBy: nil, now: now)
            } else if let stored {
                try tables[record.collection]!.remove(statements, stored)
                try db.execute(sql: "DELETE FROM sync_conflict WHERE collection = ? AND record_id = ?",
                               arguments: [schema.collection(code: record.collection)?.name ?? "", record.id])
            }
        }
    }
}
