import SiteSyncCore

/// What replication needs of a store, and nothing more: the network drivers (`SyncServer`,
/// `SyncClient`) and the effects of the connection machines (``ListenerSessions``,
/// ``ClientRound``) reach the store only through it. ``ReplicaStore`` is the implementation,
/// whether on disk or in memory (``ReplicaStore/inMemory(node:key:options:)``, for the
/// whole-fleet simulation); a test may put anything else behind it.
public protocol ReplicationStore: AnyObject, Sendable {
    /// What the changes decode against.
    var schema: Schema { get }
    /// This replica: its id, node and credential (for the Hello and the Welcome).
    var identity: ReplicaIdentity { get }
    /// Milliseconds since 1970 by the store's clock (injected in tests).
    func wallClock() -> UInt64

    /// What this replica holds.
    func knowledge() throws -> VersionVector
    /// Reads one page of what the peer lacks (a session's ``SessionEffect/read(_:)``).
    func readPage(_ request: ReadRequest) throws -> ReadResult
    /// Applies one received batch whose signatures were checked (``SessionStore/check(_:)``) in
    /// one transaction (a session's ``SessionEffect/apply(_:)``).
    /// - Parameters:
    ///   - access: what changes are checked against besides their signatures.
    ///   - peerIsHub: whether the sender is this node's hub (see ``SessionStore/peerIsHub``).
    func applyBatch(_ request: ApplyRequest, checked: CheckedBatch, access: AccessPolicy?, peerIsHub: Bool) throws -> ApplyOutcome
    /// Applies received, checked batches in order in one durable transaction, each in a
    /// savepoint of its own (``SessionStore/apply(_:)``): the outcomes, in order, hold once it
    /// returns; a failed commit fails them all.
    func applyBatches(_ batches: [(request: ApplyRequest, checked: CheckedBatch)], access: AccessPolicy?,
                      peerIsHub: Bool) -> [Result<ApplyOutcome, any Error>]
    /// Keeps what a client session's peer said of this node (``SessionEffect/welcomed(_:)``,
    /// ``SessionEffect/rejected(_:by:)``).
    func recordSessionEffect(_ effect: SessionEffect, peerIsHub: Bool) throws

    /// The peers as last heard from (what detects a database restored from an old copy).
    func peers() throws -> [PeerRecord]
    func recordPeer(_ peer: PeerRecord) throws
    func recordHistory(_ entry: SyncHistoryEntry) throws
    /// The hub's allow-list as last received (empty when never).
    func directory() throws -> Directory
    /// How many changes a peer holding `acknowledged` lacks within `scope` (a count only: for
    /// progress display and the Welcome's estimate).
    func backlogCount(beyond acknowledged: VersionVector, scope: ReplicationScope) throws -> Int
    /// Brings a hub process's working copy up to what the hub's other processes wrote, before a
    /// session starts (docs/design.md §18); nothing to do for a store that is its own file.
    func catchUp() throws
}

extension ReplicationStore {
    public func catchUp() throws {}
}

extension ReplicaStore: ReplicationStore {
    public func readPage(_ request: ReadRequest) throws -> ReadResult {
        try SessionStore(self).read(request)
    }

    public func applyBatch(_ request: ApplyRequest, checked: CheckedBatch, access: AccessPolicy?, peerIsHub: Bool) throws -> ApplyOutcome {
        try SessionStore(self, access: access, peerIsHub: peerIsHub).apply(request, checked: checked)
    }

    public func applyBatches(_ batches: [(request: ApplyRequest, checked: CheckedBatch)], access: AccessPolicy?,
                             peerIsHub: Bool) -> [Result<ApplyOutcome, any Error>] {
        SessionStore(self, access: access, peerIsHub: peerIsHub).apply(batches)
    }

    public func recordSessionEffect(_ effect: SessionEffect, peerIsHub: Bool) throws {
        try SessionStore(self, peerIsHub: peerIsHub).record(effect)
    }

    public func backlogCount(beyond acknowledged: VersionVector, scope: ReplicationScope) throws -> Int {
        try backlog(beyond: acknowledged, scope: scope, detailed: false).count
    }
}

extension PeerRecord {
    /// A peer heard from over sync, as the connection machines report it.
    public init(_ contact: PeerContact) {
        self.init(node: contact.peer.node, replica: contact.peer.replica, role: contact.peer.role, department: contact.peer.department,
                  knowledge: contact.knowledge, exchangedMilliseconds: contact.wallClock, via: "sync",
                  syncedMilliseconds: contact.completed ? contact.wallClock : nil, clockOffsetMilliseconds: contact.clockOffset,
                  stableKnowledge: contact.stableKnowledge)
    }
}

extension SyncHistoryEntry {
    /// A session a listener served (pushed and pulled from the client's side).
    public init(_ served: ServedSession) {
        self.init(kind: .served, startedMilliseconds: served.started, endedMilliseconds: served.ended, peer: served.client.node,
                  endpoint: served.address, ok: served.failure == nil)
        let summary = served.summary
        pushed = summary.pushedApplied + summary.pushedKnown
        pushedNew = summary.pushedApplied
        pulled = summary.pulledApplied + summary.pulledKnown
        pulledNew = summary.pulledApplied
        refused = summary.refused.count
        clockOffsetMilliseconds = served.clockOffset
        if let failure = served.failure {
            errorCode = failure.code
            error = failure.reason
        }
    }
}
