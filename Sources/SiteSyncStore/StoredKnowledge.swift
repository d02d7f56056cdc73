import Foundation
import GRDB
import SiteSyncCore

/// This replica's knowledge (`sync_knowledge`: for each origin, the counter held contiguously
/// and the highest held at all) and the hub's word behind it (`sync_vouch`). Every statement
/// about them lives here; it works inside the caller's transaction.
struct StoredKnowledge {
    let db: Database

    init(_ db: Database) {
        self.db = db
    }

    /// The knowledge as a version vector: each origin's contiguous counter.
    func vector() throws -> VersionVector {
        VersionVector(try Row.fetchAll(db, sql: "SELECT replica, counter FROM sync_knowledge").map {
            (ReplicaID(storageValue: $0[0]), UInt64(bitPattern: $0[1] as Int64))
        })
    }

    /// Every origin this replica knows anything of.
    func knownOrigins() throws -> [ReplicaID] {
        try Int64.fetchAll(db, sql: "SELECT replica FROM sync_knowledge").map(ReplicaID.init(storageValue:))
    }

    /// Each origin's knowledge, with the highest counter held at all.
    func origins() throws -> [ReplicaID: OriginKnowledge] {
        var knowledge: [ReplicaID: OriginKnowledge] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT replica, counter, max_seen FROM sync_knowledge")) {
            knowledge[ReplicaID(storageValue: row[0])] = OriginKnowledge(counter: UInt64(bitPattern: row[1]), maxSeen: UInt64(bitPattern: row[2]))
        }
        return knowledge
    }

    /// Stores each origin's knowledge as given (origins with nothing known are left out).
    func save(_ knowledge: [ReplicaID: OriginKnowledge]) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO sync_knowledge (replica, counter, max_seen) VALUES (?, ?, ?)
            ON CONFLICT(replica) DO UPDATE SET counter = excluded.counter, max_seen = excluded.max_seen
            """)
        for (replica, value) in knowledge where value.counter > 0 || value.maxSeen > 0 {
            try statement.execute(arguments: [replica.storageValue, Int64(bitPattern: value.counter), Int64(bitPattern: value.maxSeen)])
        }
    }

    /// Raises the knowledge of `origin` to `counter` at least (a state transfer's vouched knowledge).
    func raise(_ origin: ReplicaID, to counter: UInt64) throws {
        try db.cachedStatement(sql: """
            INSERT INTO sync_knowledge (replica, counter, max_seen) VALUES (?1, ?2, ?2)
            ON CONFLICT(replica) DO UPDATE SET counter = max(counter, excluded.counter), max_seen = max(max_seen, excluded.counter)
            """).execute(arguments: [origin.storageValue, Int64(bitPattern: counter)])
    }

    /// The counter of `replica`'s last change held (this replica's own: the last it issued).
    func counter(of replica: ReplicaID) throws -> UInt64 {
        UInt64(bitPattern: try Int64.fetchOne(db, sql: "SELECT counter FROM sync_knowledge WHERE replica = ?",
                                              arguments: [replica.storageValue]) ?? 0)
    }

    /// Sets this replica's own counter after local writes issued changes up to `counter`.
    func issued(_ replica: ReplicaID, upTo counter: UInt64) throws {
        try db.cachedStatement(sql: """
            INSERT INTO sync_knowledge (replica, counter, max_seen) VALUES (?1, ?2, ?2)
            ON CONFLICT(replica) DO UPDATE SET counter = ?2, max_seen = max(max_seen, ?2)
            """).execute(arguments: [replica.storageValue, Int64(bitPattern: counter)])
    }

    /// Sets the knowledge of `replica` back to `counter` (its changes above were set aside).
    func rewind(_ replica: ReplicaID, to counter: UInt64) throws {
        try db.execute(sql: "UPDATE sync_knowledge SET counter = ?1, max_seen = ?1 WHERE replica = ?2",
                       arguments: [Int64(bitPattern: counter), replica.storageValue])
    }

    /// Remembers that a sender this replica takes the word of (the hub) vouched for `origin` up
    /// to `counter` beyond the changes held here, so that an audit can tell such knowledge from
    /// knowledge nothing backs.
    func vouch(_ origin: ReplicaID, _ counter: UInt64, now: UInt64) throws {
        try db.cachedStatement(sql: """
            INSERT INTO sync_vouch (replica, counter, vouched_ms) VALUES (?, ?, ?)
            ON CONFLICT(replica) DO UPDATE SET counter = max(counter, excluded.counter), vouched_ms = excluded.vouched_ms
            """).execute(arguments: [origin.storageValue, Int64(bitPattern: counter), Int64(now)])
    }
}
