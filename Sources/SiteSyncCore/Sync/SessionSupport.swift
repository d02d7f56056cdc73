/// What a session asks its driver to do: send a message, read or apply changes through the
/// store, or report that it is over. The machines do no I/O themselves.
public enum SessionEffect: Sendable, Equatable {
    case send(SyncMessage)
    /// Read up to `request.limits` changes after log position `request.after` that a replica
    /// holding `request.base` lacks, within `request.scope`; answer with ``SessionEvent/read``.
    case read(ReadRequest)
    /// Check a batch against its proof and apply it in one transaction; answer with
    /// ``SessionEvent/applied`` (or `storeFailed`).
    case apply(ApplyRequest)
    /// The peer refused these changes of this node's: mark them rejected (kept, not resent).
    case rejected([Refusal], by: PeerIdentity)
    /// The server answered: learn what it says of this node and of its allow-list.
    case welcomed(SyncMessage.Welcome)
    /// The session ended well.
    case finish(SessionSummary)
    /// The session ended badly.
    case fail(SessionFailure)
}

/// What happened to a session: a message, a store answer, or time passing.
public enum SessionEvent: Sendable {
    case message(SyncMessage)
    case read(ReadResult)
    case applied(ApplyOutcome)
    case storeFailed(String, retryLater: Bool)
    case tick
}

public struct ReadRequest: Sendable, Equatable {
    public let after: Int64
    public let base: VersionVector
    public let scope: ReplicationScope
    public let limits: SessionLimits
    /// Read record states (a state transfer) instead of changes: `after` is then a record
    /// position, and `base` the knowledge the transfer stands at (empty on its first read).
    public var states = false

    public init(after: Int64, base: VersionVector, scope: ReplicationScope, limits: SessionLimits, states: Bool = false) {
        self.after = after
        self.base = base
        self.scope = scope
        self.limits = limits
        self.states = states
    }
}

/// A received batch to check and apply.
public struct ApplyRequest: Sendable, Equatable {
    public let sequence: UInt64
    public let changes: [Change]
    public let holes: [Hole]
    public let proof: BatchProof
    public let claim: KnowledgeClaim
    public let origins: [PeerIdentity]
    /// The node that sent the batch (its authenticated identity where keys are checked).
    public let sender: PeerIdentity

    /// A state transfer's records, and on its last batch where each chain stands (see
    /// ``SyncMessage/Batch/states``).
    public var states: [RecordState] = []
    public var statesComplete = false
    public var heads: [ChainStart] = []

    public init(sequence: UInt64, changes: [Change], holes: [Hole] = [], proof: BatchProof = BatchProof(), claim: KnowledgeClaim,
                origins: [PeerIdentity] = [], sender: PeerIdentity) {
        self.sequence = sequence
        self.changes = changes
        self.holes = holes
        self.proof = proof
        self.claim = claim
        self.origins = origins
        self.sender = sender
    }

    init(_ batch: SyncMessage.Batch, claim: KnowledgeClaim, sender: PeerIdentity) {
        self.init(sequence: batch.sequence, changes: batch.changes, holes: batch.holes, proof: batch.proof, claim: claim,
                  origins: batch.origins, sender: sender)
        states = batch.states
        statesComplete = batch.statesComplete
        heads = batch.heads
    }

    /// Whether this is part of a state transfer rather than changes.
    public var isStateTransfer: Bool { !states.isEmpty || statesComplete }
}

public struct ReadResult: Sendable {
    public let changes: [Change]
    /// Changes withheld (refused or retracted) in the same stretch of the log.
    public let holes: [Hole]
    /// What the receiver needs to check `changes` and `holes`.
    public let proof: BatchProof
    /// The log position of the last change read (the next read continues after it).
    public let cursor: Int64
    /// Whether the log held nothing more to send.
    public let exhausted: Bool
    /// The reader's knowledge when it read: what it vouches for.
    public let knowledge: VersionVector
    /// The receiver lacks changes this side no longer holds (its log was compacted below
    /// them): it needs a state transfer first. Nothing else is set then.
    public var needsStates = false
    /// Of a state read: the records, and on the last page where each chain stands.
    public var states: [RecordState] = []
    public var heads: [ChainStart] = []

    public init(changes: [Change], holes: [Hole] = [], proof: BatchProof = BatchProof(), cursor: Int64, exhausted: Bool,
                knowledge: VersionVector) {
        self.changes = changes
        self.holes = holes
        self.proof = proof
        self.cursor = cursor
        self.exhausted = exhausted
        self.knowledge = knowledge
    }
}

public struct ApplyOutcome: Sendable, Equatable {
    public let sequence: UInt64
    public let applied: Int
    public let known: Int
    /// The knowledge after the batch, for the acknowledgement.
    public let knowledge: VersionVector
    /// The changes refused, each with its reason.
    public let refusals: [Refusal]

    public init(sequence: UInt64, applied: Int, known: Int, knowledge: VersionVector, refusals: [Refusal] = []) {
        self.sequence = sequence
        self.applied = applied
        self.known = known
        self.knowledge = knowledge
        self.refusals = refusals
    }
}

/// What a finished session moved.
public struct SessionSummary: Sendable, Equatable {
    public var peer: PeerIdentity?
    /// Changes sent to the peer, those it found new, those it already held.
    public var pushedSent = 0, pushedApplied = 0, pushedKnown = 0
    /// Changes received from the peer, those new here, those already held.
    public var pulledApplied = 0, pulledKnown = 0
    public var pushBatches = 0, pullBatches = 0
    /// This node's changes the peer refused.
    public var refused: [Refusal] = []
    /// What the peer is known to hold by the end: at a client, the server's knowledge as its
    /// Welcome, acknowledgements and pull batches said; at a server, what the client said it
    /// held and then acknowledged receiving.
    public var peerKnowledge = VersionVector()
    /// At a server: what the client held once its push was through (its Pull). Everything the
    /// client wrote before it learned of any change in there has reached this side, which is
    /// what makes it safe to count towards the stability frontier (see `sitesync compact`).
    public var peerStableKnowledge: VersionVector?
    /// Records received by state transfer (this side's log lacked what the peer compacted).
    public var pulledStates = 0

    /// Changes sent that the peer acknowledged: applied, already held or refused.
    public var pushedAcknowledged: Int { pushedApplied + pushedKnown + refused.count }

    public init() {}
}

/// Why a session ended badly.
public struct SessionFailure: Sendable, Equatable, Error, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The peer said why.
        case refused(FailureCode)
        /// The peer stopped answering.
        case silent
        /// The peer broke the protocol.
        case violation
        /// The local store failed (for example a full disk).
        case store(retryLater: Bool)
        /// The peer found this replica's change ids reused; the store took a new epoch.
        case newEpoch
    }

    public let kind: Kind
    public let reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { reason }

    /// A short name of what went wrong, for logs and the sync history.
    public var code: String {
        switch kind {
        case .refused(let code): "refused (\(code))"
        case .silent: "silent"
        case .violation: "protocol"
        case .store: "store"
        case .newEpoch: "new-epoch"
        }
    }
}

/// The sending side of one direction: batches numbered 1, 2, 3…, at most `window` sent and
/// not yet acknowledged, acknowledged in order, the last one flagged.
public struct BatchWindow: Sendable, Equatable {
    public let window: Int
    public private(set) var nextSequence: UInt64 = 1
    public private(set) var unacknowledged: [UInt64] = []
    public private(set) var lastSent = false

    public init(window: Int) {
        self.window = max(1, window)
    }

    public var hasRoom: Bool { !lastSent && unacknowledged.count < window }
    public var isComplete: Bool { lastSent && unacknowledged.isEmpty }

    /// Numbers the next batch.
    public mutating func send(last: Bool) -> UInt64 {
        precondition(hasRoom, "sending beyond the window")
        let sequence = nextSequence
        nextSequence += 1
        unacknowledged.append(sequence)
        if last { lastSent = true }
        return sequence
    }

    /// Records an acknowledgement; `false` when it is not for the oldest batch in flight.
    public mutating func acknowledge(_ sequence: UInt64) -> Bool {
        guard unacknowledged.first == sequence else { return false }
        unacknowledged.removeFirst()
        return true
    }
}

/// The receiving side of one direction: batches must come numbered 1, 2, 3… and are applied
/// one at a time, in order.
public struct BatchSequencer: Sendable {
    public enum Verdict: Equatable { case accepted, outOfOrder }

    public private(set) var expected: UInt64 = 1
    /// Batches received and not yet applied, oldest first.
    public private(set) var waiting: [SyncMessage.Batch] = []
    public private(set) var applying: SyncMessage.Batch?
    public private(set) var sawLast = false

    public init() {}

    public var isIdle: Bool { applying == nil && waiting.isEmpty }
    public var isFinished: Bool { sawLast && isIdle }

    public mutating func receive(_ batch: SyncMessage.Batch) -> Verdict {
        guard batch.sequence == expected, !sawLast else { return .outOfOrder }
        expected += 1
        if batch.last { sawLast = true }
        waiting.append(batch)
        return .accepted
    }

    /// The next batch to apply, when none is being applied.
    public mutating func next() -> SyncMessage.Batch? {
        guard applying == nil, !waiting.isEmpty else { return nil }
        applying = waiting.removeFirst()
        return applying
    }

    /// The batch being applied is done.
    public mutating func finishApplying() -> SyncMessage.Batch? {
        defer { applying = nil }
        return applying
    }
}

/// The one rule for a batch's size (protocol §7.4), as every receiver enforces it.
enum BatchBound {
    /// Why `batch` is over what a receiver with `limits` takes, or `nil` when it is within:
    /// its changes and holes (or records, in a state transfer) together at most
    /// ``SessionLimits/batchBound``.
    static func excess(of batch: SyncMessage.Batch, limits: SessionLimits) -> String? {
        let size = batch.changes.count + batch.holes.count + batch.states.count
        guard size > limits.batchBound else { return nil }
        let kind = batch.pull ? "pull" : "push"
        return "\(kind) batch \(batch.sequence) holds \(size) changes and holes, over the \(limits.batchBound) this receiver takes "
            + "(its batch_changes \(limits.batchChanges), never less than \(SessionLimits.batchFloor)); the sender must cut its "
            + "batches there (protocol §7.4)"
    }
}
