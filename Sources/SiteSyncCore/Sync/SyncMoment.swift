/// A reading of a node's two clocks, handed to the connection machines (``ListenerSessions``,
/// ``ClientRound``) with every event: they read no clock themselves, so a test or a simulation
/// decides what time it is, and a clock jump is a wall reading that jumps while the monotonic
/// one does not.
public struct SyncMoment: Sendable, Equatable {
    /// Milliseconds of a clock that never goes back: every timeout, deadline and rate.
    public var monotonic: UInt64
    /// Milliseconds since 1970 by the wall clock: what is recorded and shown (the sync history,
    /// when a peer was last heard from, clock offsets), never what a timeout is measured by.
    public var wall: UInt64

    public init(monotonic: UInt64, wall: UInt64) {
        self.monotonic = monotonic
        self.wall = wall
    }
}

/// What a listener's Welcome needs from the store and the allow-list, gathered off the loop
/// (the driver's ``ListenerSessions/Effect/gatherWelcomeFacts(_:session:hello:client:)``).
public struct WelcomeFacts: Sendable, Equatable {
    public let knowledge: VersionVector
    /// How many changes the client lacks within its scope (the Welcome's `pull_estimate`).
    public let pullEstimate: UInt64
    /// The allow-list to hand out, if this listener shares it, and its digest.
    public let directory: Directory?
    public let directoryDigest: String?

    public init(knowledge: VersionVector, pullEstimate: UInt64 = 0, directory: Directory? = nil, directoryDigest: String? = nil) {
        self.knowledge = knowledge
        self.pullEstimate = pullEstimate
        self.directory = directory
        self.directoryDigest = directoryDigest
    }
}

/// A peer heard from, to remember (the reports' sync freshness, the fleet view, the stability
/// frontier): what the store's peer record is made of, in the machines' terms.
public struct PeerContact: Sendable, Equatable {
    public var peer: PeerIdentity
    /// What the peer holds, as far as this side knows.
    public var knowledge: VersionVector
    /// When (wall clock) it was heard from.
    public var wallClock: UInt64
    /// Whether a session with it completed at that moment.
    public var completed: Bool
    /// What it held once its push was through, for a completed session.
    public var stableKnowledge: VersionVector?
    /// Its wall clock minus ours, as measured at its greeting.
    public var clockOffset: Int64?

    public init(peer: PeerIdentity, knowledge: VersionVector, wallClock: UInt64, completed: Bool = false,
                stableKnowledge: VersionVector? = nil, clockOffset: Int64? = nil) {
        self.peer = peer
        self.knowledge = knowledge
        self.wallClock = wallClock
        self.completed = completed
        self.stableKnowledge = stableKnowledge
        self.clockOffset = clockOffset
    }
}

/// A session a listener served, for its sync history.
public struct ServedSession: Sendable, Equatable {
    public let client: PeerIdentity
    /// Where the client connected from (for people; `?` when unknown).
    public let address: String
    /// Wall clock at its Welcome and at its end.
    public let started: UInt64
    public let ended: UInt64
    public let summary: SessionSummary
    /// Why it ended badly, if it did.
    public let failure: SessionFailure?
    public let clockOffset: Int64?

    public init(client: PeerIdentity, address: String, started: UInt64, ended: UInt64, summary: SessionSummary,
                failure: SessionFailure?, clockOffset: Int64?) {
        self.client = client
        self.address = address
        self.started = started
        self.ended = ended
        self.summary = summary
        self.failure = failure
        self.clockOffset = clockOffset
    }
}

/// A line for the operator's log, from a machine that cannot log itself.
public struct SyncNote: Sendable, Equatable {
    public enum Level: Sendable, Equatable { case debug, info, warning, error }
    public let level: Level
    public let message: String
    public let metadata: [String: String]

    public init(_ level: Level, _ message: String, _ metadata: [String: String] = [:]) {
        self.level = level
        self.message = message
        self.metadata = metadata
    }
}
