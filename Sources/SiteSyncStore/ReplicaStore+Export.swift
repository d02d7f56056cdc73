import Foundation
import GRDB
import SiteSyncCore

extension ReplicaStore {
    /// Visits every record in canonical export order (collection name, then id), deleted ones
    /// included, optionally only those scoped to one department.
    public func forEachRecord(department: String? = nil, _ body: (CollectionSpec, RecordState) throws -> Void) throws {
        try StoreError.mapping {
            try pool.read { db in
                var sql = "SELECT r.collection, r.record_id, \(StoreSchema.stateExpression(self.schema, record: "r")) FROM sync_record AS r"
                var arguments: StatementArguments = []
                if let department { sql += " WHERE r.department = ?"; arguments = [department] }
                sql += " ORDER BY r.collection, r.record_id"
                let cursor = try Row.fetchCursor(db, sql: sql, arguments: arguments)
                while let row = try cursor.next() {
                    let name: String = row[0]
                    guard let collection = self.schema.collection(named: name) else { continue }
                    guard let blob = row[2] as Data? else {
                        throw StoreError(.database, "record \(name) \(row[1] as String) is live but its row in table \(name) is missing or holds no state: "
                                         + "it was deleted or altered behind SiteSync's back; run `sitesync audit verify`")
                    }
                    let state = try RecordStateCodec.decode([UInt8](blob), key: RecordKey(collection: collection.code, id: row[1]))
                    try body(collection, state)
                }
            }
        }
    }

    /// The canonical export, one JSON line per record (see ``CanonicalRecord``).
    public func exportLines(department: String? = nil, _ body: (JSONValue) throws -> Void) throws {
        try forEachRecord(department: department) { collection, state in
            try body(CanonicalRecord.json(state, in: collection))
        }
    }

    /// The SHA-256 of the canonical export, as 64 hex digits: equal on every replica that
    /// holds the same changes (within `department`, when given).
    public func digest(department: String? = nil) throws -> String {
        var digest = StateDigest()
        try exportLines(department: department) { digest.add($0) }
        return digest.finalize()
    }
}

/// A peer node as this replica last heard from it.
public struct PeerRecord: Sendable, Equatable {
    public let node: String
    public let replica: ReplicaID
    public let role: Role
    public let department: String
    /// The knowledge the peer reported (what it holds).
    public let knowledge: VersionVector
    public let exchangedMilliseconds: UInt64
    /// How it was heard from: `bundle` or `sync`.
    public let via: String
    /// When an exchange with it last completed (`nil`: none did yet).
    public let syncedMilliseconds: UInt64?
    /// Its wall clock minus ours, as last measured (`nil`: unknown).
    public let clockOffsetMilliseconds: Int64?
    /// What it held once its last push was through (`nil`: no session with it completed
    /// since this was kept): what it counts for in the stability frontier.
    public var stableKnowledge: VersionVector?

    /// - Parameters:
    ///   - exchangedMilliseconds: when it was last heard from.
    ///   - syncedMilliseconds: when an exchange with it completed, if this one did.
    public init(node: String, replica: ReplicaID, role: Role, department: String, knowledge: VersionVector,
                exchangedMilliseconds: UInt64, via: String, syncedMilliseconds: UInt64? = nil, clockOffsetMilliseconds: Int64? = nil,
                stableKnowledge: VersionVector? = nil) {
        self.stableKnowledge = stableKnowledge
        self.syncedMilliseconds = syncedMilliseconds
        self.clockOffsetMilliseconds = clockOffsetMilliseconds
        self.node = node
        self.replica = replica
        self.role = role
        self.department = department
        self.knowledge = knowledge
        self.exchangedMilliseconds = exchangedMilliseconds
        self.via = via
    }

    /// The scope of records this peer receives.
    public var scope: ReplicationScope { ReplicationScope(role: role, department: department) }
}

extension ReplicaStore {
    /// Records what a peer reported about itself; its knowledge only ever grows here (while it
    /// keeps its replica), and a completion or clock reading is kept until a newer one.
    public func recordPeer(_ peer: PeerRecord) throws {
        try StoreError.mapping {
            try pool.write { db in
                var knowledge = peer.knowledge
                var stable = peer.stableKnowledge
                if let row = try Row.fetchOne(db, sql: "SELECT knowledge, replica, stable_knowledge FROM sync_peer WHERE node = ?",
                                              arguments: [peer.node]),
                   (row[1] as Int64) == peer.replica.storageValue {
                    knowledge.merge(try RecordStateCodec.decodeVector([UInt8](row[0] as Data)))
                    if let kept = row[2] as Data? {
                        stable = try RecordStateCodec.decodeVector([UInt8](kept)).merged(with: stable ?? VersionVector())
                    }
                }
                // A new replica (a new epoch) starts its stable knowledge afresh.
                try db.execute(sql: """
                    INSERT INTO sync_peer (node, replica, role, department, knowledge, exchanged_ms, via, synced_ms, clock_offset_ms,
                                           stable_knowledge)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(node) DO UPDATE SET replica = excluded.replica, role = excluded.role,
                        department = excluded.department, knowledge = excluded.knowledge,
                        exchanged_ms = max(exchanged_ms, excluded.exchanged_ms), via = excluded.via,
                        synced_ms = coalesce(excluded.synced_ms, synced_ms),
                        clock_offset_ms = coalesce(excluded.clock_offset_ms, clock_offset_ms),
                        stable_knowledge = CASE WHEN replica = excluded.replica THEN coalesce(excluded.stable_knowledge, stable_knowledge)
                                                ELSE excluded.stable_knowledge END
                    """, arguments: [peer.node, peer.replica.storageValue, peer.role.rawValue, peer.department,
                                     Data(RecordStateCodec.encode(knowledge)), Int64(peer.exchangedMilliseconds), peer.via,
                                     peer.syncedMilliseconds.map(Int64.init), peer.clockOffsetMilliseconds,
                                     stable.map { Data(RecordStateCodec.encode($0)) }])
            }
        }
    }

    /// Every peer heard from, by node name.
    public func peers() throws -> [PeerRecord] {
        try StoreError.mapping {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM sync_peer ORDER BY node").map { row in
                    PeerRecord(node: row["node"], replica: ReplicaID(storageValue: row["replica"]),
                               role: Role(rawValue: row["role"]) ?? .field, department: row["department"],
                               knowledge: try RecordStateCodec.decodeVector([UInt8](row["knowledge"] as Data)),
                               exchangedMilliseconds: UInt64(max(0, row["exchanged_ms"] as Int64)), via: row["via"],
                               syncedMilliseconds: (row["synced_ms"] as Int64?).map { UInt64(max(0, $0)) },
                               clockOffsetMilliseconds: row["clock_offset_ms"],
                               stableKnowledge: try (row["stable_knowledge"] as Data?).map { try RecordStateCodec.decodeVector([UInt8]($0)) })
                }
            }
        }
    }

    /// Remembers the node names behind origin replicas (learned from bundles and handshakes).
    public func learnReplicaNames(_ names: [(ReplicaID, String)]) throws {
        guard !names.isEmpty else { return }
        try StoreError.mapping { try pool.write { db in try learnReplicaNames(names, db) } }
    }

    /// Learns names inside the caller's transaction (with the batch that brought them).
    func learnReplicaNames(_ names: [(ReplicaID, String)], _ db: Database) throws {
        let now = Int64(options.wallClock())
        for (replica, node) in names where !node.isEmpty { try KnownReplicas(db).learnName(replica, node: node, now: now) }
    }

    /// The node name behind each known origin replica.
    public func replicaNames() throws -> [ReplicaID: String] {
        try StoreError.mapping {
            try pool.read { db in try KnownReplicas(db).names() }
        }
    }
}
