import Foundation
import GRDB
import SiteSyncCore

/// The replicas this one has heard of (`sync_replica`): the node behind each, the key it signs
/// with (to relay its changes with proof and to tell the hub's), and how far ahead of this
/// clock its changes were seen. Every statement about them lives here; it works inside the
/// caller's transaction.
struct KnownReplicas {
    let db: Database

    init(_ db: Database) {
        self.db = db
    }

    /// Records a replica of this node: its node and its key (a new one takes a new epoch).
    func register(_ credential: ReplicaCredential, node: String, now: Int64) throws {
        try db.execute(sql: """
            INSERT INTO sync_replica (replica, node, learned_ms, signing_key, salt) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(replica) DO UPDATE SET node = excluded.node, signing_key = excluded.signing_key, salt = excluded.salt
            """, arguments: [credential.replica.storageValue, node, now, Data(credential.signingKey), Data(credential.salt)])
    }

    /// Remembers the key behind each origin replica, for relaying its changes with proof.
    func learn(_ credentials: [ReplicaCredential], now: UInt64) throws {
        for credential in credentials {
            try db.cachedStatement(sql: """
                INSERT INTO sync_replica (replica, node, learned_ms, signing_key, salt) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(replica) DO UPDATE SET signing_key = excluded.signing_key, salt = excluded.salt,
                    node = CASE WHEN node = '' THEN excluded.node ELSE node END
                """).execute(arguments: [credential.replica.storageValue, credential.node, Int64(now),
                                         Data(credential.signingKey), Data(credential.salt)])
        }
    }

    /// Remembers the node behind `replica` (learned from a bundle or a handshake).
    func learnName(_ replica: ReplicaID, node: String, now: Int64) throws {
        try db.execute(sql: """
            INSERT INTO sync_replica (replica, node, learned_ms) VALUES (?, ?, ?)
            ON CONFLICT(replica) DO UPDATE SET node = excluded.node
            """, arguments: [replica.storageValue, node, now])
    }

    /// The credential of an origin replica, as learned.
    func credential(of replica: ReplicaID) throws -> ReplicaCredential? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT node, signing_key, salt FROM sync_replica WHERE replica = ?"),
                                         arguments: [replica.storageValue]),
              let key = row[1] as Data?, let salt = row[2] as Data? else { return nil }
        return ReplicaCredential(replica: replica, node: row[0], signingKey: Array(key), salt: Array(salt))
    }

    /// The key `replica` signs with, as learned.
    func signingKey(of replica: ReplicaID) throws -> Data? {
        try Data.fetchOne(db, sql: "SELECT signing_key FROM sync_replica WHERE replica = ?", arguments: [replica.storageValue])
    }

    /// The node behind `replica`, "" when not learned.
    func node(of replica: ReplicaID) throws -> String {
        try String.fetchOne(db, sql: "SELECT node FROM sync_replica WHERE replica = ?", arguments: [replica.storageValue]) ?? ""
    }

    /// The node behind each replica, as learned.
    func names() throws -> [ReplicaID: String] {
        var names: [ReplicaID: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT replica, node FROM sync_replica WHERE node != ''") {
            names[ReplicaID(storageValue: row[0])] = row[1]
        }
        return names
    }

    /// Notes that `replica`'s changes were seen `lead` milliseconds ahead of this clock (beyond drift).
    func noteClockLead(_ replica: ReplicaID, _ lead: UInt64, now: UInt64) throws {
        try db.execute(sql: """
            INSERT INTO sync_replica (replica, node, learned_ms, clock_lead_ms) VALUES (?, '', ?, ?)
            ON CONFLICT(replica) DO UPDATE SET clock_lead_ms = max(clock_lead_ms, excluded.clock_lead_ms)
            """, arguments: [replica.storageValue, Int64(now), Int64(clamping: lead)])
    }

    /// Per replica seen ahead, how far ahead of this clock its changes were seen.
    func clockLeads() throws -> [ReplicaID: UInt64] {
        var leads: [ReplicaID: UInt64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT replica, clock_lead_ms FROM sync_replica WHERE clock_lead_ms > 0") {
            leads[ReplicaID(storageValue: row[0])] = UInt64(max(0, row[1] as Int64))
        }
        return leads
    }
}
