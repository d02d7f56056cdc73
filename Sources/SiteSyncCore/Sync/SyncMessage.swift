/// Who is speaking in a session: a node's name, its current replica, role and department.
public struct PeerIdentity: Hashable, Sendable {
    public let node: String
    public let replica: ReplicaID
    public let role: Role
    public let department: String

    public init(node: String, replica: ReplicaID, role: Role, department: String) {
        self.node = node
        self.replica = replica
        self.role = role
        self.department = department
    }

    /// The records this peer receives.
    public var scope: ReplicationScope { ReplicationScope(role: role, department: department) }
}

/// What a receiver accepts: batches of at most `batchChanges` changes and `batchBytes` bytes,
/// at most `window` of them sent and not yet acknowledged.
///
/// The default window is the widest the wire allows (``defaultWindow``): a receiver commits the
/// batches waiting in one transaction, up to 8,000 changes, and with 16 in flight the next
/// transaction's batches arrive while one commits, so a disk slower than the wire pays one
/// fsync for about eight batches instead of two.
///
/// A sender can cut a batch only where every chain in it ends on a seal (protocol §16.4), and
/// an origin seals at least every ``batchFloor`` changes: a relay cannot add seals of its own,
/// since it does not hold the origins' keys. So the one rule for a batch's size (protocol §7.4)
/// is ``batchBound``: the receiver's `batchChanges`, but never less than ``batchFloor``. Every
/// sender stays within it and every receiver refuses a larger batch with 413.
public struct SessionLimits: Hashable, Sendable {
    public let batchChanges: Int
    public let batchBytes: Int
    public let window: Int

    /// The most changes between two points of a log where every chain is sealed at once: an
    /// origin seals every chain a transaction left open at least this often, and a relay passes
    /// such points on this often too. A receiver takes batches of this many changes and holes,
    /// whatever it asks for.
    public static let batchFloor = 256

    /// The most changes and holes together that a batch to this receiver may hold (protocol
    /// §7.4): its `batchChanges`, raised to ``batchFloor``.
    public var batchBound: Int { max(batchChanges, Self.batchFloor) }

    /// The default `window`: 16 batches, the most a receiver may ask for (protocol §15).
    public static let defaultWindow = 16

    public init(batchChanges: Int = 1000, batchBytes: Int = 512 * 1024, window: Int = SessionLimits.defaultWindow) {
        self.batchChanges = max(1, batchChanges)
        self.batchBytes = max(4096, batchBytes)
        self.window = max(1, window)
    }

    /// The smaller of two limits, field by field: what both sides accept.
    public func narrowed(to other: SessionLimits) -> SessionLimits {
        SessionLimits(batchChanges: min(batchChanges, other.batchChanges), batchBytes: min(batchBytes, other.batchBytes),
                      window: min(window, other.window))
    }
}

/// The versions a peer speaks: both sides must agree on all three.
public struct ProtocolVersions: Hashable, Sendable, CustomStringConvertible {
    public let protocolVersion: UInt32
    public let schemaVersion: UInt32
    public let schemaHash: String

    public init(protocolVersion: UInt32, schemaVersion: UInt32, schemaHash: String) {
        self.protocolVersion = protocolVersion
        self.schemaVersion = schemaVersion
        self.schemaHash = schemaHash
    }

    public var description: String {
        "protocol \(protocolVersion), schema \(schemaVersion) (\(schemaHash.prefix(12)))"
    }
}

/// The messages of a sync session (protocol/README.md, "Session"), as the state machines see
/// them; SiteSyncWire maps them to and from frames.
public enum SyncMessage: Hashable, Sendable {
    case hello(Hello)
    case welcome(Welcome)
    case failure(Failure)
    case batch(Batch)
    case ack(Ack)
    case pull(Pull)
    case bye(session: UInt64)
    case hint(knowledge: VersionVector)

    public struct Hello: Hashable, Sendable {
        public let versions: ProtocolVersions
        public let peer: PeerIdentity
        public let knowledge: VersionVector
        public let session: UInt64
        public let limits: SessionLimits
        public let subscribe: Bool
        /// The proof that the client's replica is its key's.
        public let credential: ReplicaCredential?
        /// The digest of the client's copy of the allow-list ("" when it has none).
        public let directoryDigest: String
        /// The client's wall clock as it sent this (milliseconds since 1970; 0 unknown): how
        /// far its clock is off the server's, shown in the hub's fleet view.
        public let wallClock: UInt64

        public init(versions: ProtocolVersions, peer: PeerIdentity, knowledge: VersionVector, session: UInt64,
                    limits: SessionLimits, subscribe: Bool = false, credential: ReplicaCredential? = nil, directoryDigest: String = "",
                    wallClock: UInt64 = 0) {
            self.wallClock = wallClock
            self.versions = versions
            self.peer = peer
            self.knowledge = knowledge
            self.session = session
            self.limits = limits
            self.subscribe = subscribe
            self.credential = credential
            self.directoryDigest = directoryDigest
        }
    }

    public struct Welcome: Hashable, Sendable {
        public let versions: ProtocolVersions
        public let peer: PeerIdentity
        public let knowledge: VersionVector
        public let session: UInt64
        public let limits: SessionLimits
        /// The proof that the server's replica is its key's.
        public let credential: ReplicaCredential?
        /// The client as the server authenticated it (its role and department from its key),
        /// when the server checks keys: what the client may write and receives.
        public let client: PeerIdentity?
        /// The server's allow-list, when the client's copy is not current.
        public let directory: Directory?
        /// The server's wall clock as it sent this (milliseconds since 1970; 0 unknown).
        public let wallClock: UInt64
        /// How many changes the client lacks, within its scope, as the session began (for
        /// progress; 0 unknown).
        public let pullEstimate: UInt64

        public init(versions: ProtocolVersions, peer: PeerIdentity, knowledge: VersionVector, session: UInt64, limits: SessionLimits,
                    credential: ReplicaCredential? = nil, client: PeerIdentity? = nil, directory: Directory? = nil,
                    wallClock: UInt64 = 0, pullEstimate: UInt64 = 0) {
            self.wallClock = wallClock
            self.pullEstimate = pullEstimate
            self.versions = versions
            self.peer = peer
            self.knowledge = knowledge
            self.session = session
            self.limits = limits
            self.credential = credential
            self.client = client
            self.directory = directory
        }
    }

    public struct Failure: Hashable, Sendable {
        public let code: FailureCode
        public let reason: String
        public let session: UInt64
        public let sequence: UInt64
        public let versions: ProtocolVersions?

        public init(code: FailureCode, reason: String, session: UInt64, sequence: UInt64 = 0, versions: ProtocolVersions? = nil) {
            self.code = code
            self.reason = reason
            self.session = session
            self.sequence = sequence
            self.versions = versions
        }
    }

    public struct Batch: Hashable, Sendable {
        public let session: UInt64
        public let pull: Bool
        public let sequence: UInt64
        public let changes: [Change]
        public let vouched: VersionVector
        public let last: Bool
        public let origins: [PeerIdentity]
        /// Changes withheld (refused or retracted), by their place in their chains.
        public let holes: [Hole]
        /// What the receiver checks the changes and holes against.
        public let proof: BatchProof
        /// A state transfer (instead of changes): records as the sender holds them.
        public let states: [RecordState]
        /// The last batch of a state transfer: the receiver then holds everything `vouched`
        /// says, and each chain in its scope continues from `heads`.
        public let statesComplete: Bool
        public let heads: [ChainStart]

        public init(session: UInt64, pull: Bool, sequence: UInt64, changes: [Change], vouched: VersionVector, last: Bool,
                    origins: [PeerIdentity] = [], holes: [Hole] = [], proof: BatchProof = BatchProof(),
                    states: [RecordState] = [], statesComplete: Bool = false, heads: [ChainStart] = []) {
            self.states = states
            self.statesComplete = statesComplete
            self.heads = heads
            self.session = session
            self.pull = pull
            self.sequence = sequence
            self.changes = changes
            self.vouched = vouched
            self.last = last
            self.origins = origins
            self.holes = holes
            self.proof = proof
        }
    }

    public struct Ack: Hashable, Sendable {
        public let session: UInt64
        public let pull: Bool
        public let sequence: UInt64
        public let knowledge: VersionVector
        public let applied: Int
        public let known: Int
        /// The changes of the batch the receiver refused, each with its reason.
        public let refusals: [Refusal]

        public init(session: UInt64, pull: Bool, sequence: UInt64, knowledge: VersionVector, applied: Int, known: Int,
                    refusals: [Refusal] = []) {
            self.session = session
            self.pull = pull
            self.sequence = sequence
            self.knowledge = knowledge
            self.applied = applied
            self.known = known
            self.refusals = refusals
        }
    }

    public struct Pull: Hashable, Sendable {
        public let session: UInt64
        public let knowledge: VersionVector

        public init(session: UInt64, knowledge: VersionVector) {
            self.session = session
            self.knowledge = knowledge
        }
    }

    /// The session a message belongs to (0 for hints).
    public var session: UInt64 {
        switch self {
        case .hello(let m): m.session
        case .welcome(let m): m.session
        case .failure(let m): m.session
        case .batch(let m): m.session
        case .ack(let m): m.session
        case .pull(let m): m.session
        case .bye(let session): session
        case .hint: 0
        }
    }
}

/// Why a session failed (protocol/README.md, "Errors"); numbered like HTTP statuses.
public enum FailureCode: UInt32, Hashable, Sendable, CustomStringConvertible {
    /// A message that does not decode, or breaks a rule of the protocol.
    case malformed = 400
    /// The peer refuses this node (unknown key, revoked, a replica that is not its own), or a
    /// batch that does not match its origins' signatures.
    case forbidden = 403
    /// A message for a session the receiver does not know (it expired, or the peer restarted).
    case unknownSession = 404
    /// A batch out of order, or changes that depend on changes not sent.
    case outOfOrder = 409
    /// The message is larger than the receiver accepts.
    case tooLarge = 413
    /// The peers speak different protocol or schema versions.
    case upgradeRequired = 426
    /// The receiver could not apply the changes (for example its disk is full); retry later.
    case unavailable = 503

    public var description: String {
        switch self {
        case .malformed: "400 malformed"
        case .forbidden: "403 forbidden"
        case .unknownSession: "404 unknown session"
        case .outOfOrder: "409 out of order"
        case .tooLarge: "413 too large"
        case .upgradeRequired: "426 upgrade required"
        case .unavailable: "503 unavailable"
        }
    }
}
