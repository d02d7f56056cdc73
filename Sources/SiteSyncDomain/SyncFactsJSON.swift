import SiteSyncCore
import SiteSyncNode
import SiteSyncStore
// `ProtocolVersion` only; Wire comes to Domain through Store.
import SiteSyncWire

/// The JSON of the sync facts — `status --json` (a node, and `--fleet` at the hub),
/// `conflicts --json` (the review and `--rejected`) and `history --json` — built once, here,
/// so that the command line and the HTTP API print the same shapes. The shapes are documented
/// in config/README.md and stay stable: add keys, never rename or drop them.
public enum SyncFactsJSON {
    /// A moment as ISO 8601 UTC, to the second: `2026-11-30T08:15:02Z`.
    public static func timestamp(milliseconds: UInt64) -> String {
        let seconds = Int(milliseconds / 1000)
        let date = CalendarDate(daysSinceEpoch: seconds / 86_400)
        let rest = seconds % 86_400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(date)T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z"
    }

    static func time(_ milliseconds: UInt64?) -> JSONValue {
        milliseconds.map { .string(timestamp(milliseconds: $0)) } ?? .null
    }

    // MARK: - status

    /// The last sync attempt or success as `status --json` shows it (`null` when none).
    public static func lastSync(_ entry: SyncHistoryEntry?) -> JSONValue {
        guard let entry else { return .null }
        return .object([
            "at": time(entry.endedMilliseconds), "started_at": time(entry.startedMilliseconds), "peer": .string(entry.peer),
            "endpoint": .string(entry.endpoint), "ok": .bool(entry.ok), "duration_ms": .int(Int64(entry.durationMilliseconds)),
            "pushed": .int(Int64(entry.pushed)), "pulled": .int(Int64(entry.pulled)),
            "error": entry.error.map(JSONValue.string) ?? .null,
        ])
    }

    /// `status --json`: one node's status.
    public static func status(_ status: NodeStatus) -> JSONValue {
        .object([
            "state": .string(status.verdict.rawValue), "in_sync": .bool(status.verdict == .inSync),
            "node": .string(status.node), "department": .string(status.department), "role": .string(status.role.rawValue),
            "replica": .string(status.replica.description),
            "hub": .object([
                "endpoint": status.hubEndpoint.map(JSONValue.string) ?? .null,
                "reachable": status.hubReachable.map(JSONValue.bool) ?? .null,
                "endpoints": .array(status.hubEndpoints.map(JSONValue.string)),
                "last_reached": status.lastReached.map { .object(["endpoint": .string($0.endpoint), "at": time($0.at)]) } ?? .null,
                "clock_offset_ms": status.hubClockOffset.map(JSONValue.int) ?? .null,
            ]),
            "clock_flagged": .bool(status.clockFlagged),
            "last_sync": lastSync(status.lastAttempt), "last_successful_sync": lastSync(status.lastSuccess),
            "last_exchange_at": time(status.lastSynced), "stale": .bool(status.isStale),
            "stale_after_seconds": .int(Int64(status.staleAfterSeconds)),
            "pending_changes": .int(Int64(status.pending.count)), "pending_bytes": .int(Int64(status.pending.bytes)),
            "oldest_pending_at": time(status.pending.oldestMilliseconds),
            "peers": .array(status.peers.map { peer in
                .object([
                    "node": .string(peer.record.node), "role": .string(peer.record.role.rawValue),
                    "department": .string(peer.record.department), "replica": .string(peer.record.replica.description),
                    "last_seen": time(peer.record.exchangedMilliseconds), "last_exchange_at": time(peer.record.syncedMilliseconds),
                    "via": .string(peer.record.via), "lacks": .int(Int64(peer.lacks.count)),
                ])
            }),
            "open_conflicts": .int(Int64(status.openConflicts)), "rejected_changes": .int(Int64(status.rejected)),
            "stage_proposals_waiting": .int(Int64(status.stageProposalsWaiting)),
            "schema_version": .int(Int64(Schema.siteSync.version)), "schema_hash": .string(Schema.siteSync.hash),
            "protocol_version": .int(Int64(ProtocolVersion.current)), "database_bytes": .int(Int64(status.databaseBytes)),
            "fleet": status.isHub ? .object(["nodes": .int(Int64(status.knownNodes)), "stale": .int(Int64(status.staleNodes))]) : .null,
        ])
    }

    /// `status --fleet --json`: every node the hub knows.
    public static func fleet(_ fleet: FleetStatus) -> JSONValue {
        .object([
            "at": time(fleet.now), "stale_after_seconds": .int(Int64(fleet.staleAfterSeconds)),
            "nodes": .array(fleet.members.map { member in
                .object([
                    "node": .string(member.node), "department": .string(member.department), "role": .string(member.role.rawValue),
                    "replica": member.replica.map { .string($0.description) } ?? .null,
                    "allowed": member.allowed.map(JSONValue.bool) ?? .null,
                    "last_seen": time(member.lastSeen), "last_exchange_at": time(member.lastSynced),
                    "behind": .int(Int64(member.behind.count)), "behind_bytes": .int(Int64(member.behind.bytes)),
                    "oldest_behind_at": time(member.behind.oldestMilliseconds),
                    "ahead": member.ahead.map { .int(Int64($0)) } ?? .null,
                    "stale": .bool(member.stale), "open_conflicts": .int(Int64(member.openConflicts)),
                    "rejected_changes": .int(Int64(member.rejected)),
                    "holds_back_compaction": .bool(member.holdsBackCompaction),
                    "compaction": member.compaction.map { .string($0.rawValue) } ?? .null,
                    "clock_offset_ms": member.clockOffset.map(JSONValue.int) ?? .null,
                    "clock_flagged": .bool(member.clockFlagged),
                ])
            }),
        ])
    }

    // MARK: - conflicts

    /// `conflicts --json`: the review queue as gathered by ``ConflictReview/entries(_:state:all:project:scope:)``.
    /// - Parameter names: node names by replica (``ReplicaStore/replicaNames()``); a replica
    ///   without one shows as its id.
    public static func conflicts(_ entries: [ConflictEntry], names: [ReplicaID: String]) -> JSONValue {
        .array(entries.map { entry in
            .object([
                "collection": .string(entry.collection), "id": .string(entry.recordID), "field": .string(entry.field),
                "rule": .string(entry.rule), "status": .string(entry.status), "state": .string(entry.status),
                "active": .bool(entry.isActive),
                "department": .string(entry.department), "value": entry.winner,
                "detected_at": .string(timestamp(milliseconds: entry.detectedMilliseconds)),
                "settled_at": entry.settledMilliseconds.map { .string(timestamp(milliseconds: $0)) } ?? .null,
                "values": .array(entry.versions.map { version in
                    .object([
                        "value": version.value, "node": .string(names[version.origin] ?? version.origin.description),
                        "replica": .string(version.origin.description), "counter": .int(Int64(clamping: version.counter)),
                        "at": .string(timestamp(milliseconds: version.atMilliseconds)),
                    ])
                }),
            ])
        })
    }

    /// `conflicts --rejected --json`: the changes refused.
    /// - Parameter localNode: the name shown for a refusal made here.
    public static func rejected(_ entries: [RejectedChange], localNode: String) -> JSONValue {
        .array(entries.map { entry in
            .object([
                "change": .string(entry.dot.description), "collection": .string(entry.collection), "id": .string(entry.recordID),
                "code": .string(entry.code.rawValue), "reason": .string(entry.reason),
                "refused_by": .string(entry.refusedBy.isEmpty ? localNode : entry.refusedBy),
                "at": .string(timestamp(milliseconds: entry.rejectedMilliseconds)),
            ])
        })
    }

    // MARK: - history

    /// One entry of `history --json`.
    public static func history(_ entry: SyncHistoryEntry) -> JSONValue {
        .object([
            "kind": .string(entry.kind.rawValue), "peer": .string(entry.peer), "endpoint": .string(entry.endpoint),
            "started_at": .string(timestamp(milliseconds: entry.startedMilliseconds)),
            "ended_at": .string(timestamp(milliseconds: entry.endedMilliseconds)),
            "duration_ms": .int(Int64(entry.durationMilliseconds)), "ok": .bool(entry.ok),
            "pushed": .int(Int64(entry.pushed)), "pushed_new": .int(Int64(entry.pushedNew)),
            "pulled": .int(Int64(entry.pulled)), "pulled_new": .int(Int64(entry.pulledNew)),
            "refused": .int(Int64(entry.refused)), "bytes_sent": .int(Int64(entry.bytesSent)),
            "bytes_received": .int(Int64(entry.bytesReceived)), "repeats": .int(Int64(entry.repeats)),
            "error_code": entry.errorCode.map(JSONValue.string) ?? .null, "error": entry.error.map(JSONValue.string) ?? .null,
            "clock_offset_ms": entry.clockOffsetMilliseconds.map(JSONValue.int) ?? .null,
        ])
    }

    /// `history --json`: the entries, newest first.
    public static func history(_ entries: [SyncHistoryEntry]) -> JSONValue { .array(entries.map(history)) }
}

/// The conflict review queue (`sitesync conflicts`), gathered for any face.
public enum ConflictReview {
    /// The conflicts to review: those waiting for a person first, then the rest, newest first
    /// within each.
    /// - Parameters:
    ///   - state: only entries in this state (`open`, `auto`, `resolved`).
    ///   - all: the whole log, settled entries included (otherwise only active conflicts,
    ///     unless `state` is `resolved`).
    ///   - project: only conflicts on this project's records (its code or id).
    ///   - scope: only conflicts on records of the scope's department (and shared records).
    /// The ids of every record of the projects of these codes (lower-cased), the projects'
    /// own records included: what a project lead's conflict queue is cut to.
    static func recordIDs(_ node: Node, ofProjects codes: Set<String>) throws -> Set<String> {
        let projects = try node.store.rows([("SELECT id, coalesce(code, id) FROM project", [])])[0]
            .filter { codes.contains(($0[1] ?? "").lowercased()) }.compactMap { $0[0] }
        return try projects.reduce(into: Set<String>()) { ids, project in ids.formUnion(try node.recordIDs(ofProject: project)) }
    }

    public static func entries(_ node: Node, state: String? = nil, all: Bool = false, project: String? = nil,
                               scope: ReadScope = .city) throws -> [ConflictEntry] {
        let recordIDs = try project.map { try node.recordIDs(ofProject: node.findProject($0).id) }
        func waiting(_ entry: ConflictEntry) -> Int { entry.status == "open" && entry.isActive ? 0 : 1 }
        let inScope = try scope.projects.map { try Self.recordIDs(node, ofProjects: $0) }
        return try node.store.conflicts(status: state, activeOnly: !all && state != "resolved", recordIDs: recordIDs)
            .filter { scope.includes(department: $0.department) && (inScope?.contains($0.recordID) ?? true) }
            .sorted { (waiting($0), -$0.id) < (waiting($1), -$1.id) }
    }
}
