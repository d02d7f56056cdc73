/// A client's sync round with one peer (protocol/README.md §9.1, §9.2, §11): one
/// ``ClientSession`` after another until one completes, resuming from what the peer
/// acknowledged when a session breaks off (the peer forgot it, the connection dropped, the peer
/// went silent), and giving up on a peer never heard from, or one that moves nothing for the
/// stall timeout or in several sessions in a row.
///
/// An I/O-free state machine: a driver feeds it ``Event``s with the time as a value
/// (``SyncMoment``), carries out the ``Effect``s it returns and ticks it at ``nextDeadline``.
/// `SyncClient` drives it with a DEALER socket and worker queues; a simulation drives it in
/// one thread.
public struct ClientRound: Sendable {
    public struct Configuration: Sendable {
        public var me: PeerIdentity
        public var versions: ProtocolVersions
        /// What this side accepts from the peer.
        public var limits = SessionLimits()
        /// Ask the peer for hints on this connection.
        public var subscribe = false
        /// This side's replica credential, for the Hello.
        public var credential: ReplicaCredential?
        /// Report the peer unreachable when nothing at all came from it this long after the
        /// round began (milliseconds).
        public var connectTimeout: UInt64 = 10_000
        /// Start a new session when the peer sent nothing this long while this side waited on
        /// it in the middle of one (milliseconds).
        public var silenceTimeout: UInt64 = 10_000
        /// Give up when the peer moved nothing (no batch, no acknowledgement) this long while this
        /// side waited on it, new sessions included (milliseconds).
        public var stallTimeout: UInt64 = 30_000
        /// Give up after this many sessions in a row that ended without moving anything.
        public var idleSessionLimit = 3

        public init(me: PeerIdentity, versions: ProtocolVersions) {
            self.me = me
            self.versions = versions
        }
    }

    /// What a new session starts from: read from the store by the driver
    /// (``Effect/prepareSession``), with the session's id (random in a driver, seeded in a
    /// simulation).
    public struct SessionFacts: Sendable, Equatable {
        public var session: UInt64
        public var knowledge: VersionVector
        /// The digest of this side's copy of the allow-list (empty: none).
        public var directoryDigest: String
        /// Per peer node, the last counter of this replica it was seen to acknowledge (see
        /// ``ClientSession/acknowledgedOwn``): what detects a database restored from a copy.
        public var acknowledgedOwn: [String: UInt64]

        public init(session: UInt64, knowledge: VersionVector, directoryDigest: String = "", acknowledgedOwn: [String: UInt64] = [:]) {
            self.session = session
            self.knowledge = knowledge
            self.directoryDigest = directoryDigest
            self.acknowledgedOwn = acknowledgedOwn
        }
    }

    public enum Event: Sendable {
        /// The answer to ``Effect/prepareSession``.
        case prepared(SessionFacts)
        /// ``Effect/prepareSession`` failed: this side's store could not be read. The round fails
        /// (the peer was not asked); starting a session without those facts could hide a
        /// database restored from an old copy.
        case prepareFailed(String)
        case message(SyncMessage)
        /// A message from the peer that does not decode.
        case malformed(String)
        /// The answer to a session's ``Effect/read(session:_:)`` or ``Effect/apply(session:_:)``;
        /// an answer for an earlier session is ignored.
        case store(session: UInt64, SessionEvent)
        /// The connection dropped: whatever was in flight is lost.
        case disconnected
        /// The answer to ``Effect/settle(farewell:)``.
        case settled
        /// Time passed (``nextDeadline``).
        case tick
    }

    public enum Effect: Sendable, Equatable {
        /// Read what a new session starts from (``SessionFacts``); answer with
        /// ``Event/prepared(_:)`` or ``Event/prepareFailed(_:)``.
        case prepareSession
        case send(SyncMessage)
        case read(session: UInt64, ReadRequest)
        case apply(session: UInt64, ApplyRequest)
        /// What the peer said of this node (``SessionEffect/welcomed(_:)``,
        /// ``SessionEffect/rejected(_:by:)``), for the store to keep.
        case record(SessionEffect)
        /// What the peer acknowledged so far, to keep as it comes: a session broken off resumes
        /// from there.
        case recordPeer(PeerContact)
        /// Changes acknowledged by the peer (push) or applied here (pull) in this session.
        case progress(RoundProgress)
        /// The session is over: let the messages queued leave (`farewell`, briefly: with no
        /// connection they never can) and the store work in flight finish, then answer
        /// ``Event/settled`` (what the peer said must be recorded before the next step).
        case settle(farewell: Bool)
        /// The round is over (terminal).
        case finished(RoundOutcome)
        case failed(RoundFailure)
        case note(SyncNote)
    }

    private enum Phase: Sendable { case idle, preparing, running, settling(SessionEnd), over }

    private enum SessionEnd: Sendable {
        case finished(SessionSummary)
        /// Worth starting over: the peer forgot the session, the connection dropped, or the
        /// peer went silent.
        case interrupted(SessionFailure)
        case failed(RoundFailure)
    }

    public let configuration: Configuration
    private var phase = Phase.idle
    private var started: UInt64 = 0
    /// Whether anything at all came from the peer: one never heard from is unreachable.
    private var heard = false
    /// When this side last began waiting on the peer: its last batch or acknowledgement, or the
    /// end of this side's last store work.
    private var lastMoved: UInt64 = 0
    private var idleSessions = 0
    private var outcome = RoundOutcome()
    /// Hints received (between rounds and during this one).
    public private(set) var hinted = false

    // The current session.
    private var machine: ClientSession?
    private var lastHeard: UInt64 = 0
    private var busy = 0
    private var moved = false
    private var connectionDropped = false
    private var recordedAcknowledged = 0
    private var reported = (push: 0, pull: 0)
    /// The reason of a 403 with session 0: the hub revoked this node's key.
    private var revocation: String?

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// The session in progress, if one is.
    public var session: ClientSession? { machine }
    public var isOver: Bool { if case .over = phase { true } else { false } }
    /// Sessions started so far.
    public var sessions: Int { outcome.sessions }

    /// When (monotonic milliseconds) the round next needs a ``Event/tick``; `nil` while this
    /// side is busy (reading, applying, settling): only time spent waiting on the peer counts.
    public var nextDeadline: UInt64? {
        guard case .running = phase, busy == 0 else { return nil }
        if !heard { return started + configuration.connectTimeout }
        return min(lastHeard + configuration.silenceTimeout, lastMoved + configuration.stallTimeout)
    }

    /// Begins the round: its first session.
    public mutating func start(at now: SyncMoment) -> [Effect] {
        guard case .idle = phase else { return [] }
        started = now.monotonic
        lastMoved = now.monotonic
        phase = .preparing
        return [.prepareSession]
    }

    /// Forgets the hints received so far (the driver asks at the start of each wait).
    public mutating func clearHint() { hinted = false }

    public mutating func handle(_ event: Event, at now: SyncMoment) -> [Effect] {
        if case .message(.hint) = event {
            hinted = true
            heard = true
            return []
        }
        switch (phase, event) {
        case (.preparing, .prepared(let facts)):
            return begin(facts, at: now)
        case (.preparing, .prepareFailed(let reason)):
            phase = .over
            return [.failed(.store(reason))]
        case (.running, .message(let message)):
            return receive(message, at: now)
        case (.running, .malformed(let reason)):
            heard = true
            let session = machine?.session ?? 0
            return [.note(SyncNote(.warning, "bad message from the peer", ["error": reason])),
                    .send(.failure(SyncMessage.Failure(code: .malformed, reason: reason, session: session)))]
                + end(.failed(.session(SessionFailure(.violation, "the peer sent a bad message: \(reason)"))), farewell: true)
        case (.running, .store(let session, let result)) where session == machine?.session:
            busy -= 1
            // The store work is done: from now on this side waits on the peer again.
            lastHeard = now.monotonic
            lastMoved = now.monotonic
            var effects = perform(machine!.handle(result), at: now)
            effects += noteProgress(at: now)
            if connectionDropped && busy == 0, case .running = phase { effects += dropped() }
            return effects
        case (.running, .disconnected):
            guard busy == 0 else {
                connectionDropped = true
                return []
            }
            return dropped()
        case (.running, .tick):
            return timeouts(at: now)
        case (.settling(let ending), .settled):
            return settled(ending, at: now)
        default:
            return []
        }
    }

    private mutating func begin(_ facts: SessionFacts, at now: SyncMoment) -> [Effect] {
        let configuration = configuration
        let session = ClientSession(session: facts.session, me: configuration.me, versions: configuration.versions,
                                    knowledge: facts.knowledge, limits: configuration.limits, subscribe: configuration.subscribe,
                                    credential: configuration.credential, directoryDigest: facts.directoryDigest,
                                    wallClock: now.wall, acknowledgedOwn: facts.acknowledgedOwn)
        machine = session
        outcome.sessions += 1
        phase = .running
        lastHeard = now.monotonic
        busy = 0
        moved = false
        connectionDropped = false
        recordedAcknowledged = 0
        reported = (0, 0)
        revocation = nil
        return perform(session.start(), at: now)
    }

    private mutating func receive(_ message: SyncMessage, at now: SyncMoment) -> [Effect] {
        heard = true
        lastHeard = now.monotonic
        if case .failure(let failure) = message, failure.session == 0, failure.code == .forbidden {
            revocation = failure.reason
        }
        if Self.movesTheRound(message, session: machine!.session) {
            moved = true
            lastMoved = now.monotonic
        }
        return perform(machine!.handle(.message(message)), at: now) + noteProgress(at: now)
    }

    /// Whether a message moves the round on: a batch or an acknowledgement of this session.
    /// Greetings and hints say the peer is alive, not that the sync gets anywhere.
    public static func movesTheRound(_ message: SyncMessage, session: UInt64) -> Bool {
        switch message {
        case .batch(let batch): batch.session == session
        case .ack(let ack): ack.session == session
        default: false
        }
    }

    /// Only time spent waiting on the peer counts: while this side reads or applies, the peer
    /// is waiting on it.
    private mutating func timeouts(at now: SyncMoment) -> [Effect] {
        guard busy == 0 else { return [] }
        if !heard && now.monotonic - started >= configuration.connectTimeout {
            phase = .over
            return [.failed(.unreachable(waitedMilliseconds: configuration.connectTimeout))]
        }
        if heard && (now.monotonic - lastHeard >= configuration.silenceTimeout || now.monotonic - lastMoved >= configuration.stallTimeout) {
            return perform(machine!.timedOut(), at: now)
        }
        return []
    }

    private mutating func dropped() -> [Effect] {
        end(.interrupted(SessionFailure(.silent, "the connection dropped")), farewell: false)
    }

    private mutating func perform(_ effects: [SessionEffect], at now: SyncMoment) -> [Effect] {
        var result: [Effect] = []
        let session = machine!.session
        for effect in effects {
            switch effect {
            case .send(let message):
                result.append(.send(message))
            case .read(let request):
                busy += 1
                result.append(.read(session: session, request))
            case .apply(let request):
                busy += 1
                result.append(.apply(session: session, request))
            case .welcomed(let welcome):
                if welcome.wallClock > 0 { outcome.peerClockOffset = Int64(bitPattern: welcome.wallClock &- now.wall) }
                result.append(.record(effect))
            case .rejected:
                result.append(.record(effect))
            case .finish(let summary):
                result += end(.finished(summary), farewell: true)
            case .fail(let failure):
                result += end(classify(failure), farewell: true)
            }
        }
        return result
    }

    /// A session that failed: worth resuming (the peer forgot it or went silent), or the end
    /// of the round, decided by the failure's kind and code, never its text.
    private func classify(_ failure: SessionFailure) -> SessionEnd {
        switch failure.kind {
        case .silent, .refused(.unknownSession): .interrupted(failure)
        case .refused(.forbidden) where revocation != nil: .failed(.revoked(revocation!))
        default: .failed(.session(failure))
        }
    }

    private mutating func end(_ ending: SessionEnd, farewell: Bool) -> [Effect] {
        guard case .running = phase else { return [] }
        phase = .settling(ending)
        return [.settle(farewell: farewell)]
    }

    private mutating func settled(_ ending: SessionEnd, at now: SyncMoment) -> [Effect] {
        let summary = machine?.summary ?? SessionSummary()
        switch ending {
        case .finished(let finished):
            outcome.summary.pushedSent += finished.pushedSent
            outcome.summary.pushedApplied += finished.pushedApplied
            outcome.summary.pushedKnown += finished.pushedKnown
            outcome.summary.pulledApplied += finished.pulledApplied
            outcome.summary.pulledKnown += finished.pulledKnown
            outcome.summary.pulledStates += finished.pulledStates
            outcome.summary.refused += finished.refused
            outcome.summary.peer = finished.peer
            outcome.summary.peerKnowledge.merge(finished.peerKnowledge)
            outcome.milliseconds = now.monotonic - started
            phase = .over
            return [.finished(outcome)]
        case .failed(let failure):
            phase = .over
            return [.failed(failure)]
        case .interrupted(let failure):
            // Start over from what the peer acknowledged; what it had not is sent again.
            outcome.summary.pushedSent += summary.pushedSent
            outcome.resent += summary.pushedSent - summary.pushedAcknowledged
            idleSessions = moved ? 0 : idleSessions + 1
            let still = now.monotonic - lastMoved
            if idleSessions >= configuration.idleSessionLimit || still >= configuration.stallTimeout {
                phase = .over
                return [.failed(.stalled(last: failure, stillMilliseconds: still, sessions: outcome.sessions))]
            }
            phase = .preparing
            return [.note(SyncNote(.info, "sync session interrupted; resuming", ["reason": failure.reason])), .prepareSession]
        }
    }

    /// After the session handled something: what the peer acknowledged, to record, and how far
    /// each direction got.
    private mutating func noteProgress(at now: SyncMoment) -> [Effect] {
        guard let machine else { return [] }
        var effects: [Effect] = []
        let summary = machine.summary
        if summary.pushedAcknowledged != recordedAcknowledged, let server = machine.server {
            recordedAcknowledged = summary.pushedAcknowledged
            effects.append(.recordPeer(PeerContact(peer: server.peer, knowledge: machine.acknowledgedKnowledge, wallClock: now.wall)))
        }
        let pulled = summary.pulledApplied + summary.pulledKnown
        if summary.pushedAcknowledged != reported.push {
            reported.push = summary.pushedAcknowledged
            effects.append(.progress(RoundProgress(direction: .push, done: reported.push)))
        }
        if pulled != reported.pull {
            reported.pull = pulled
            effects.append(.progress(RoundProgress(direction: .pull, done: pulled)))
        }
        return effects
    }
}

/// How far one direction of a session has got.
public struct RoundProgress: Sendable, Equatable {
    public enum Direction: Sendable, Equatable { case push, pull }
    public let direction: Direction
    /// Changes acknowledged by the peer (push) or applied here (pull).
    public let done: Int

    public init(direction: Direction, done: Int) {
        self.direction = direction
        self.done = done
    }
}

/// What a completed round did.
public struct RoundOutcome: Sendable, Equatable {
    public var summary = SessionSummary()
    /// Sessions started: more than one when the peer restarted or went silent mid-round.
    public var sessions = 0
    /// From the round's start to its end, by the monotonic clock.
    public var milliseconds: UInt64 = 0
    /// Changes sent in sessions that did not complete and not acknowledged there: sent again
    /// (at most the window in flight when the session broke).
    public var resent = 0
    /// The peer's wall clock minus this node's, measured at its Welcome.
    public var peerClockOffset: Int64?

    public init() {}
}

/// Why a round gave up.
public enum RoundFailure: Error, Sendable, Equatable {
    /// Nothing at all came from the peer within the connect timeout.
    case unreachable(waitedMilliseconds: UInt64)
    /// The peer moved nothing for the stall timeout, or in several sessions in a row.
    case stalled(last: SessionFailure, stillMilliseconds: UInt64, sessions: Int)
    /// A session ended in a way a new session would not fix (a refusal, a violation, a store
    /// failure, a new epoch).
    case session(SessionFailure)
    /// The peer cut this node off: its key was revoked (a 403 with session 0, protocol §12).
    case revoked(String)
    /// This side's store could not be read to start a session.
    case store(String)
}
