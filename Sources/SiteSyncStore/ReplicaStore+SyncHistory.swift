import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// One entry of the sync history: a session this node ran (`sync`) or served (`served`), or a
/// bundle it read (`bundle-in`) or wrote (`bundle-out`).
public struct SyncHistoryEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case sync, served
        case bundleIn = "bundle-in"
        case bundleOut = "bundle-out"
    }

    public var id: Int64 = 0
    public var kind: Kind
    public var startedMilliseconds: UInt64
    public var endedMilliseconds: UInt64
    /// The peer's node name ("" when it never answered).
    public var peer: String
    /// Where: the endpoint dialled, the peer's address, or the bundle's path.
    public var endpoint: String
    /// Changes sent (and of those, new to the receiver), received (and new here), and this
    /// node's changes the peer refused.
    public var pushed = 0, pushedNew = 0, pulled = 0, pulledNew = 0, refused = 0
    public var bytesSent = 0, bytesReceived = 0
    public var ok: Bool
    /// Why it failed (`nil` when it did not): a short code and the message.
    public var errorCode: String?
    public var error: String?
    /// The peer's wall clock minus ours, when it said.
    public var clockOffsetMilliseconds: Int64?
    /// How many consecutive idle sessions with this peer the entry stands for.
    public var repeats = 1

    public init(kind: Kind, startedMilliseconds: UInt64, endedMilliseconds: UInt64, peer: String, endpoint: String, ok: Bool) {
        self.kind = kind
        self.startedMilliseconds = startedMilliseconds
        self.endedMilliseconds = endedMilliseconds
        self.peer = peer
        self.endpoint = endpoint
        self.ok = ok
        durationMilliseconds = endedMilliseconds >= startedMilliseconds ? endedMilliseconds - startedMilliseconds : 0
    }

    /// How long it took (the last of repeated idle sessions: the entry's start is the first's).
    public var durationMilliseconds: UInt64

    /// A successful session that moved nothing (consecutive ones share an entry, as do
    /// consecutive failures for one reason).
    public var isIdle: Bool { ok && pushed == 0 && pulled == 0 && refused == 0 }
}

/// Changes one replica holds that another has not acknowledged.
public struct Backlog: Sendable, Equatable {
    public var count = 0
    /// Their encoded size.
    public var bytes = 0
    /// When the oldest of them was written (its HLC time), if any.
    public var oldestMilliseconds: UInt64?

    public init() {}
}

public enum SyncHistory {
    /// Entries kept; older ones are dropped.
    public static let keep = 5_000
}

extension ReplicaStore {
    /// Adds an entry to the sync history. An idle session right after an idle one with the
    /// same peer and kind extends that entry instead (a long-running node syncs every few
    /// seconds; the history should show what happened, not a wall of no-ops).
    public func recordHistory(_ entry: SyncHistoryEntry) throws {
        try StoreError.mapping { try pool.write { db in try SyncHistoryLog(db).record(entry) } }
    }

    /// The sync history, newest first.
    /// - Parameter kinds: only these kinds (all when empty).
    public func history(limit: Int = 50, kinds: Set<SyncHistoryEntry.Kind> = []) throws -> [SyncHistoryEntry] {
        try StoreError.mapping { try pool.read { db in try SyncHistoryLog(db).entries(limit: limit, kinds: kinds) } }
    }

    /// The last entry of `kind` that succeeded (or failed), however old.
    public func lastHistory(_ kind: SyncHistoryEntry.Kind, ok: Bool? = nil) throws -> SyncHistoryEntry? {
        try StoreError.mapping { try pool.read { db in try SyncHistoryLog(db).last(kind, ok: ok) } }
    }

    /// The changes this replica holds in force within `scope` that a replica with knowledge
    /// `acknowledged` lacks: what is waiting to go up to the hub, or what a node is behind.
    ///
    /// Counted per origin through the (replica, counter) index, so it costs one index range
    /// per origin, not a scan of the log.
    /// - Parameter detailed: also sum the bytes and find the oldest (otherwise only count).
    public func backlog(beyond acknowledged: VersionVector, scope: ReplicationScope = .everything, detailed: Bool = true) throws -> Backlog {
        try StoreError.mapping {
            try pool.read { db in try ChangeLog(db).backlog(beyond: acknowledged, scope: scope, detailed: detailed, schema: schema) }
        }
    }

    /// How many changes of each origin `acknowledged` lacks that this replica holds, summed:
    /// a cheap count from knowledge alone (no scope, no log), for "ahead" in the fleet view.
    public func knowledgeGap(_ other: VersionVector) throws -> Int {
        let mine = try knowledge()
        var gap: UInt64 = 0
        for entry in other.entries where entry.counter > mine[entry.replica] { gap += entry.counter - mine[entry.replica] }
        return Int(clamping: gap)
    }

    /// The size of the database on disk, its write-ahead log included.
    public func databaseBytes() -> Int {
        [path, path + "-wal"].reduce(0) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0)
        }
    }

    /// Rejected changes no person has acknowledged yet (`conflicts --rejected --acknowledge`):
    /// this node's own (any of its replica ids) that a peer refused, or, with `refusedHere`,
    /// those this node refused (a hub).
    public func unacknowledgedRejections(refusedHere: Bool = false) throws -> Int {
        try StoreError.mapping {
            try pool.read { db in try RejectionLog(db, schema: schema).unacknowledged(refusedHere: refusedHere, node: identity.node) }
        }
    }

    /// Per origin replica, the changes this node refused that no person has acknowledged.
    public func unacknowledgedRefusalsByOrigin() throws -> [ReplicaID: Int] {
        try StoreError.mapping {
            try pool.read { db in try RejectionLog(db, schema: schema).unacknowledgedByOrigin() }
        }
    }

    /// Per origin replica, how far ahead of this replica's clock its changes' times were seen,
    /// beyond what is taken as drift (their times were clamped here): only replicas seen ahead.
    public func clockLeads() throws -> [ReplicaID: UInt64] {
        try StoreError.mapping {
            try pool.read { db in try KnownReplicas(db).clockLeads() }
        }
    }

    /// How far apart two clocks may be before a device is flagged (as far as a remote HLC may
    /// lead before it is clamped).
    public var clockTolerance: UInt64 { options.maxClockDriftMilliseconds }

    /// Marks every rejected change as seen by a person; returns how many were not yet.
    @discardableResult
    public func acknowledgeRejections() throws -> Int {
        try StoreError.mapping {
            try pool.write { db in try RejectionLog(db, schema: schema).acknowledgeAll(now: options.wallClock()) }
        }
    }
}
