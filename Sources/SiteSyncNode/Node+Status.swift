import Foundation
import SiteSyncCore
import SiteSyncNet
import SiteSyncStore

/// What `sitesync status` tells about one node: is it in sync, what waits to go up, what needs
/// a person, and the facts behind those answers.
public struct NodeStatus: Sendable {
    /// The one-word answer, most urgent first; it sets `status`'s exit code.
    public enum Verdict: String, Sendable {
        /// Open conflicts or rejected changes wait for a person.
        case review
        /// Changes wait to go up, or the last completed exchange with the hub is too old (or
        /// never happened); at the hub: a node is stale.
        case behind
        case inSync = "in-sync"
    }

    public let node: String
    public let department: String
    public let role: Role
    public let replica: ReplicaID
    public let isHub: Bool
    /// When this was measured.
    public let now: UInt64
    /// The hub's endpoint (a hub: where it listens): with several, the one the next round
    /// tries first (the one last reached, else the first configured).
    public let hubEndpoint: String?
    /// Every endpoint of the hub this node may sync through, as configured (`[[sync.hubs]]`,
    /// or the single `hub`); empty at the hub.
    public var hubEndpoints: [String] = []
    /// Which of them this node last reached, and when (`nil`: none yet).
    public var lastReached: HubContact?
    /// Whether the hub answered the last time this node tried it (`nil`: never tried); a try
    /// that failed on this node's own side (its database) says nothing of the hub and is passed
    /// over.
    public let hubReachable: Bool?
    /// The last sync round this node ran, and the last that completed.
    public let lastAttempt: SyncHistoryEntry?
    public let lastSuccess: SyncHistoryEntry?
    /// When an exchange with the hub (a sync, or a bundle either way) last completed.
    public let lastSynced: UInt64?
    /// Changes held here that the hub has not acknowledged (as of the last exchange).
    public let pending: Backlog
    public let peers: [PeerStatus]
    public let openConflicts: Int
    public let rejected: Int
    public let databaseBytes: Int
    /// The hub's wall clock minus this node's, from the last session with it.
    public let hubClockOffset: Int64?
    public let staleAfterSeconds: Int
    /// At the hub: how many known nodes are stale.
    public let staleNodes: Int
    public let knownNodes: Int

    /// Whether this device's clock is off the hub's by more than the drift tolerated (10 min).
    public let clockFlagged: Bool
    /// Stage-gate proposals this node holds that wait for the central office's decision
    /// (docs/design.md §14): at a department node, its own until the decision comes back; at
    /// an office or the hub, those it has to decide.
    public var stageProposalsWaiting = 0

    /// Whether the last completed exchange with the hub is older than `stale_after` (or none
    /// ever completed); never for the hub itself.
    public var isStale: Bool {
        guard !isHub else { return false }
        guard let lastSynced else { return true }
        return now > lastSynced && now - lastSynced > UInt64(staleAfterSeconds) * 1000
    }

    /// Whether the last sync round with the hub failed on this node's own side (its database),
    /// not for want of an answer.
    public var lastTryFailedHere: Bool {
        guard !isHub, let attempt = lastAttempt, !attempt.ok, hubEndpoints.contains(attempt.endpoint) else { return false }
        return Node.localCodes.contains(attempt.errorCode ?? "")
    }

    public var verdict: Verdict {
        if openConflicts > 0 || rejected > 0 { return .review }
        if pending.count > 0 || isStale || staleNodes > 0 { return .behind }
        return .inSync
    }
}

/// A peer as this node knows it, and how much of this node's data it lacks.
public struct PeerStatus: Sendable {
    public let record: PeerRecord
    /// Changes held here, within the peer's scope, beyond what it acknowledged.
    public let lacks: Backlog
}

/// One node in the hub's fleet view.
public struct FleetMember: Sendable {
    public let node: String
    public let department: String
    public let role: Role
    public let replica: ReplicaID?
    /// On the allow-list and active (`nil`: no allow-list here, an insecure hub).
    public let allowed: Bool?
    /// Last heard from (any session start, or a bundle's creation), and last completed exchange.
    public let lastSeen: UInt64?
    public let lastSynced: UInt64?
    /// Changes held here, in the node's scope, that it has not acknowledged.
    public let behind: Backlog
    public var neverSeen: Bool { lastSeen == nil }
    /// Changes the node said it holds that are not here (`nil`: never heard from).
    public let ahead: Int?
    public let stale: Bool
    public let openConflicts: Int
    public let rejected: Int
    /// Its clock minus the hub's, as last measured.
    public let clockOffset: Int64?
    /// Its clock is off by more than the drift tolerated, or its changes came stamped that far
    /// in the future (their times were clamped here).
    public let clockFlagged: Bool

    /// Where it stands for log compaction at the hub (`nil` elsewhere): counted, beyond the
    /// horizon, or never synced.
    public var compaction: CompactionPlan.Member.Standing?
    /// It counts for compaction and lacked changes after its last push: the log keeps them for it.
    public var holdsBackCompaction = false
}

public struct FleetStatus: Sendable {
    public let now: UInt64
    public let staleAfterSeconds: Int
    public let members: [FleetMember]
}

extension Node {
    /// Errors of a sync round that mean the peer answered (it was reachable).
    static let answeredCodes: Set<String> = [NetError.Code.refused, .incompatible, .keyRefused, .protocolViolation, .newEpoch].map(\.rawValue)
        .reduce(into: []) { $0.insert($1) }
    /// Errors of a sync round on this node's own side: they say nothing of whether the peer answered.
    static let localCodes: Set<String> = [NetError.Code.store.rawValue]

    /// This node's status, measured now.
    public func status(now: UInt64 = StoreOptions.systemClock()) throws -> NodeStatus {
        let peers = try store.peers()
        let hubPeer = peers.first { $0.role == .hub }
        let lastAttempt = try store.lastHistory(.sync)
        let lastSuccess = try store.lastHistory(.sync, ok: true)
        // With several endpoints, the hub answered at the last try when the last of them tried did.
        let endpoints = isHub ? [] : configuration.sync.hubEndpoints.map(\.endpoint)
        var hubReachable: Bool?
        if let tried = try store.history(limit: 500, kinds: [.sync])
            .first(where: { endpoints.contains($0.endpoint) && !Self.localCodes.contains($0.errorCode ?? "") }) {
            hubReachable = tried.ok || Self.answeredCodes.contains(tried.errorCode ?? "")
        }
        let lastReached = isHub ? nil : try lastReachedHub()
        let pending = isHub ? Backlog() : try store.backlog(beyond: hubPeer?.knowledge ?? VersionVector())
        var peerStatuses: [PeerStatus] = []
        for peer in peers {
            peerStatuses.append(PeerStatus(record: peer, lacks: try store.backlog(beyond: peer.knowledge, scope: peer.scope)))
        }
        let fleet = isHub ? try self.fleet(now: now) : nil
        var status = NodeStatus(
            node: configuration.name, department: configuration.department, role: configuration.role, replica: store.identity.replica,
            isHub: isHub, now: now, hubEndpoint: isHub ? configuration.sync.listen : hubEndpointsInOrder().first?.endpoint, hubReachable: hubReachable,
            lastAttempt: lastAttempt, lastSuccess: lastSuccess, lastSynced: hubPeer?.syncedMilliseconds, pending: pending,
            peers: peerStatuses, openConflicts: try store.counts().openConflicts,
            rejected: try store.unacknowledgedRejections(refusedHere: isHub),
            databaseBytes: store.databaseBytes(), hubClockOffset: hubPeer?.clockOffsetMilliseconds,
            staleAfterSeconds: configuration.sync.staleAfterSeconds,
            staleNodes: fleet?.members.filter(\.stale).count ?? 0, knownNodes: fleet?.members.count ?? 0,
            clockFlagged: (hubPeer?.clockOffsetMilliseconds).map { $0.magnitude > store.clockTolerance } ?? false)
        status.hubEndpoints = endpoints
        status.lastReached = lastReached
        status.stageProposalsWaiting = try store.rows([(Self.waitingProposalsSQL, [])])[0].first?[0].flatMap { Int($0) } ?? 0
        return status
    }

    /// Counts the undecided stage proposals whose project has not reached the stage they
    /// propose and whose gate no later attempt passed. One the project has overtaken (the office
    /// set the stage directly, `record put project ID stage=…`) waits for nobody, so it is not
    /// counted (docs/design.md §14).
    static let waitingProposalsSQL: String = {
        func rank(_ column: String) -> String {
            "CASE \(column) " + Schema.projectStages.enumerated().map { "WHEN '\($1)' THEN \($0) " }.joined() + "ELSE 0 END"
        }
        return "SELECT count(*) FROM stage_transition t LEFT JOIN project p ON p.id = t.project "
            + "WHERE t.decision IS NULL AND \(rank("t.to_stage")) > \(rank("coalesce(p.stage, 'initiation')")) "
            + "AND NOT EXISTS (SELECT 1 FROM stage_transition a WHERE a.project = t.project AND a.to_stage = t.to_stage "
            + "AND a.decision = 'approved' AND a.attempt > t.attempt)"
    }()

    /// Every node this node knows (at the hub: its allow-list and every node heard from), with
    /// how far behind each is.
    /// - Parameter staleAfter: seconds without contact after which a node is stale (default
    ///   the configured `stale_after`).
    /// - Parameter now: default the device's clock (`SITESYNC_CLOCK_OFFSET_SECONDS`), the one
    ///   the hub's listener records contacts with.
    public func fleet(now: UInt64? = nil, staleAfter: Int? = nil) throws -> FleetStatus {
        let now = now ?? store.wallClock()
        let staleAfter = staleAfter ?? configuration.sync.staleAfterSeconds
        let peers = Dictionary(try store.peers().map { ($0.node, $0) }, uniquingKeysWith: { a, _ in a })
        let listed = isHub ? try allowList.read().entries : []
        let names = try store.replicaNames()
        // Open conflicts and refused changes, counted by the node behind each version.
        var conflictsByNode: [String: Int] = [:]
        for entry in try store.conflicts(status: "open", activeOnly: true) {
            for node in Set(entry.versions.compactMap({ names[$0.origin] })) { conflictsByNode[node, default: 0] += 1 }
        }
        var rejectedByNode: [String: Int] = [:]
        for (replica, count) in try store.unacknowledgedRefusalsByOrigin() {
            if let node = names[replica] { rejectedByNode[node, default: 0] += count }
        }
        let leads = try store.clockLeads()
        let compaction = isHub ? Dictionary(try compactionPlan(now: now).members.map { ($0.node, $0) }) { a, _ in a } : [:]
        var members: [FleetMember] = []
        for name in Set(listed.map(\.node)).union(peers.keys).sorted() where name != configuration.name {
            let entry = listed.first { $0.node == name }
            let peer = peers[name]
            let role = entry?.role ?? peer?.role ?? .field
            let department = entry?.department ?? peer?.department ?? ""
            let scope = ReplicationScope(role: role, department: department)
            let behind = try store.backlog(beyond: peer?.knowledge ?? VersionVector(), scope: scope)
            let lastSeen = peer?.exchangedMilliseconds
            // A revoked node is not expected to sync, and one never seen has no contact to age.
            let revoked = isHub && entry != nil && entry?.active == false
            let stale = !revoked && lastSeen.map { now > $0 && now - $0 > UInt64(staleAfter) * 1000 } ?? false
            members.append(FleetMember(
                node: name, department: department, role: role, replica: peer?.replica, allowed: isHub && !configuration.sync.insecure ? (entry?.active ?? false) : nil,
                lastSeen: lastSeen, lastSynced: peer?.syncedMilliseconds, behind: behind,
                ahead: try peer.map { try store.knowledgeGap($0.knowledge) }, stale: stale,
                openConflicts: conflictsByNode[name] ?? 0, rejected: rejectedByNode[name] ?? 0, clockOffset: peer?.clockOffsetMilliseconds,
                clockFlagged: (peer?.clockOffsetMilliseconds).map { $0.magnitude > store.clockTolerance } ?? false
                    || leads.contains { names[$0.key] == name }))
            members[members.count - 1].compaction = compaction[name]?.standing
            members[members.count - 1].holdsBackCompaction = compaction[name].map { $0.standing == .counted && $0.holdsBack > 0 } ?? false
        }
        return FleetStatus(now: now, staleAfterSeconds: staleAfter, members: members)
    }
}
