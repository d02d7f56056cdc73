import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// Replica epochs: a database restored from a copy must never issue a dot another replica
/// already holds with different content (docs/design.md §6.7, §10.6).
///
/// - `restore` installs a backup and takes a new epoch (a new replica id, from the same key and
///   a fresh salt) before anything is written; what the node had sent after the backup comes
///   back from the hub under the old id.
/// - A database copied back by hand does not know it was. The hub finds out: the node pushes a
///   change id the hub holds with other content. The receiver keeps the content it holds, keeps
///   the other in `sync_collision`, refuses that change and every later one of that origin
///   (`reused-id`), and never raises its knowledge of that origin past what it holds. The node,
///   told so, moves its changes from the first reused id on into `sync_collision`, rebuilds the
///   records they touched, lowers its knowledge so the hub's versions come back, and takes a new
///   epoch; its next opening re-issues that work under the new replica id
///   (``reissueCollided()``). Nothing saved is lost; every replica converges.
extension ReplicaStore {
    /// Gives this database a new replica id (same node and key, a fresh salt). The store must be
    /// opened again to write under it.
    /// - Returns: the new replica id.
    @discardableResult
    public func takeNewEpoch() throws -> ReplicaID {
        try StoreError.mapping { try pool.write { db in try self.takeNewEpoch(db) } }
    }

    func takeNewEpoch(_ db: Database) throws -> ReplicaID {
        let credential = ReplicaCredential.issue(node: identity.node, signingKey: identity.credential.signingKey,
                                                 salt: options.epochSalt?())
        let now = Int64(options.wallClock())
        let epoch = (try String.fetchOne(db, sql: "SELECT value FROM sync_meta WHERE key = 'epoch'").flatMap { Int($0) } ?? 1) + 1
        for (key, value) in [("replica", credential.replica.description), ("salt", SHA256Hex.hex(credential.salt)),
                             ("epoch", String(epoch)), ("epoch_ms", String(now))] {
            try db.execute(sql: "INSERT INTO sync_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [key, value])
        }
        try KnownReplicas(db).register(credential, node: identity.node, now: now)
        return credential.replica
    }

    /// This database's epoch: 1 for the replica it was created with, one more for each new
    /// replica id it took since.
    public func epoch() throws -> Int {
        try StoreError.mapping {
            try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM sync_meta WHERE key = 'epoch'").flatMap { Int($0) } ?? 1 }
        }
    }

    /// At the node whose change ids were found reused (refusals `reused-id` for its own
    /// replica): sets its work from the first reused id on aside for re-issue, rebuilds the
    /// records it touched, lowers its knowledge of its old replica to just before it (so the
    /// peer's versions of those ids come back) and takes a new epoch, in one transaction.
    /// - Returns: how many changes were set aside (0 when the refusals were not for this replica).
    @discardableResult
    func setAsideReused(_ db: Database, _ refusals: [Refusal]) throws -> Int {
        let me = identity.replica
        guard let first = refusals.filter({ $0.code == .reusedID && $0.dot.replica == me }).map(\.dot.counter).min() else { return 0 }
        let now = Int64(options.wallClock())
        var records: Set<RecordKey> = []
        let rows = try Row.fetchAll(db, sql: "SELECT counter, payload, status FROM sync_change WHERE replica = ? AND counter >= ? ORDER BY counter",
                                    arguments: [me.storageValue, Int64(bitPattern: first)])
        for row in rows {
            let counter = UInt64(bitPattern: row[0])
            let status = ChangeStatus.stored(row[2])
            if status == .withheld {
                records.insert(try HoleCodec.decode(row[1]).record)
            } else {
                let change = try ChangeCodec.decode(origin: me.rawValue, counter: counter, payload: row[1], schema: schema)
                records.insert(change.record)
                // A change retracted here (refused) is not work to re-issue.
                if status == .inForce {
                    try db.execute(sql: """
                        INSERT OR REPLACE INTO sync_collision (replica, counter, payload, detected_ms, state) VALUES (?, ?, ?, ?, 'pending')
                        """, arguments: [me.storageValue, Int64(bitPattern: counter), row[1] as Data, now])
                }
            }
        }
        try ChangeLog(db).remove(me, from: first)
        // Pulling before it pushed, this replica may have met the other content of its reused
        // ids already, and refused it as a receiver (kept aside, its origin's later changes
        // refused too). That content is what the rest of the fleet holds: the refusal is
        // forgotten, so that it comes back and applies.
        for table in ["sync_collision WHERE state = 'kept' AND", "sync_rejected WHERE refused_by = '' AND"] {
            try db.execute(sql: "DELETE FROM \(table) replica = ? AND counter >= ?", arguments: [me.storageValue, Int64(bitPattern: first)])
        }
        try StoredKnowledge(db).rewind(me, to: first - 1)
        try rebuild(db, records, now: UInt64(now))
        try takeNewEpoch(db)
        return rows.count
    }

    /// Re-issues, under this replica, the work set aside when its old replica's change ids were
    /// found reused: each change's edit again, on top of what the record holds now (so a
    /// concurrent version the peer kept for that id meets it by the field's merge rule).
    /// - Returns: how many changes were re-issued.
    @discardableResult
    public func reissueCollided() throws -> Int {
        try StoreError.mapping {
            // Read first: almost always there is nothing to do, and opening a node for a backup
            // or a report must not wait on another process's long write.
            let pending = try pool.read { db in
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sync_collision WHERE state = 'pending' AND replica != ?)",
                                  arguments: [identity.replica.storageValue]) ?? false
            }
            guard pending else { return 0 }
            return try pool.write { db in
                let rows = try Row.fetchAll(db, sql: """
                    SELECT replica, counter, payload FROM sync_collision WHERE state = 'pending' AND replica != ? ORDER BY replica, counter
                    """, arguments: [identity.replica.storageValue])
                guard !rows.isEmpty else { return 0 }
                let session = try LocalWriteSession(store: self, db: db)
                for row in rows {
                    let origin = ReplicaID(storageValue: row[0])
                    let counter = UInt64(bitPattern: row[1])
                    let old = try ChangeCodec.decode(origin: origin.rawValue, counter: counter, payload: row[2], schema: schema)
                    let issued = try session.write { _ in LocalEdit(record: old.record, department: old.department, body: old.body) }
                    try db.execute(sql: "UPDATE sync_collision SET state = 'reissued', reissued_as = ? WHERE replica = ? AND counter = ?",
                                   arguments: [issued.map { "\($0.dot)" }, row[0] as Int64, row[1] as Int64])
                }
                try session.finish()
                return rows.count
            }
        }
    }

    /// The change ids found reused, as kept here: `kept` (another content for an id this
    /// replica holds, received and kept aside), `pending` or `reissued` (this node's own work,
    /// set aside to be, or already, re-issued under a new replica id).
    public func collisions() throws -> [(dot: Dot, state: String, reissuedAs: String?)] {
        try StoreError.mapping {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT replica, counter, state, reissued_as FROM sync_collision ORDER BY replica, counter").map {
                    (Dot(replica: ReplicaID(storageValue: $0[0]), counter: UInt64(bitPattern: $0[1])), $0[2], $0[3])
                }
            }
        }
    }

    /// Per origin, the first counter found reused here: that origin's changes from there on are
    /// refused (they continue a history this replica does not hold).
    func reusedFrom(_ db: Database) throws -> [ReplicaID: UInt64] {
        var first: [ReplicaID: UInt64] = [:]
        let sql = "SELECT replica, min(counter) FROM sync_collision WHERE state = 'kept' GROUP BY replica"
        for row in try Row.fetchAll(db.cachedStatement(sql: sql)) {
            first[ReplicaID(storageValue: row[0])] = UInt64(bitPattern: row[1])
        }
        return first
    }

    /// Keeps `payload`, received for `dot`, beside the other content held for it.
    func keepCollision(_ db: Database, _ dot: Dot, payload: Data, now: UInt64) throws {
        try db.execute(sql: """
            INSERT OR IGNORE INTO sync_collision (replica, counter, payload, detected_ms, state) VALUES (?, ?, ?, ?, 'kept')
            """, arguments: [dot.replica.storageValue, Int64(bitPattern: dot.counter), payload, Int64(now)])
    }
}

extension ReplicaStore {
    /// Writes a consistent copy of the whole database to a new file at `path` (SQLite's
    /// backup API, from a read snapshot: writers go on meanwhile).
    public func backup(to path: String) throws {
        try StoreError.mapping {
            let destination = try DatabaseQueue(path: path)
            try pool.backup(to: destination)
            try destination.close()
        }
    }
}
