internal import CZeroMQ
import Dispatch
import Foundation
import Logging
import SiteSyncCore
import SiteSyncStore
import SiteSyncWire

/// How a client syncs.
public struct SyncClientOptions: Sendable {
    /// What this side accepts from the peer.
    public var limits = SessionLimits()
    /// Report the peer unreachable when nothing at all has come from it this long after the
    /// round began (milliseconds).
    public var connectTimeout: UInt64 = 10_000
    /// Start a new session (protocol §9.2) when the peer has sent nothing for this long while
    /// this side waits on it in the middle of one (milliseconds).
    public var silenceTimeout: UInt64 = 10_000
    /// Give up the round when the peer has moved nothing (no batch, no acknowledgement) for
    /// this long while this side waited on it, new sessions included (milliseconds). Time spent
    /// applying here does not count, and a round that keeps moving is never cut off: a fresh
    /// node's first pull of a big hub may take many minutes.
    public var stallTimeout: UInt64 = 30_000
    /// Give up the round after this many sessions in a row that ended without moving anything
    /// (a peer that answers and then forgets every session, a link that keeps dropping).
    public var idleSessionLimit = 3
    /// Ask the peer for hints on this connection (the long-running node).
    public var subscribe = false
    /// CURVE keys; `nil` syncs in plaintext (`insecure`).
    public var security: ClientSecurity?
    /// What received changes are checked against besides their signatures.
    public var access: AccessPolicy?
    /// Whether the peer is this node's hub, whose word it takes beyond the changes it sends
    /// (see ``SessionStore/peerIsHub``).
    public var peerIsHub = false
    /// Told how far the round has got, on the calling thread, after each batch.
    public var progress: (@Sendable (SyncProgress) -> Void)?

    public init() {}
}

/// How far a round has got: changes acknowledged by the peer (push) or applied here (pull),
/// out of how many were expected when the session began (0: not known).
public struct SyncProgress: Sendable, Equatable {
    public enum Direction: Sendable { case push, pull }
    public let direction: Direction
    public let done: Int
    public let total: Int

    public init(direction: Direction, done: Int, total: Int) {
        self.direction = direction
        self.done = done
        self.total = total
    }
}

/// What a round did.
public struct SyncOutcome: Sendable {
    public var summary = SessionSummary()
    /// Sessions started: more than one when the peer restarted or went silent mid-round.
    public var sessions = 0
    public var milliseconds: UInt64 = 0
    /// Bytes of the messages sent and received (ZeroMQ frames, before TCP).
    public var bytesSent = 0
    public var bytesReceived = 0
    /// Changes sent in sessions that did not complete and not acknowledged there: sent again
    /// (at most the window in flight when the session broke).
    public var resent = 0
    /// The peer's wall clock minus this node's, measured at its Welcome (half the round trip
    /// is within the error: milliseconds on a LAN).
    public var peerClockOffset: Int64?
}

/// A node's side of sync rounds with one peer (the hub, or another node) over a DEALER socket.
///
/// The socket stays open between rounds, so a subscribed peer can hint. A thin driver: each
/// round is a ``ClientRound`` (resume, deadlines, retries), an I/O-free machine this class
/// feeds with messages, connection events, store results and the time; store work runs on a
/// worker queue so that receiving the next batch overlaps applying the current one.
public final class SyncClient {
    public let endpoint: String
    let store: any ReplicationStore
    let me: PeerIdentity
    let options: SyncClientOptions
    let logger: Logger
    let context: ZMQContext
    let socket: ZMQSocket
    let monitor: SocketMonitor
    let loop: NetLoop<ClientRound.Event>
    private let worker = DispatchQueue(label: "sitesync.client.store")
    private let checker = DispatchQueue(label: "sitesync.client.check")
    /// Received batches on their way to the store, applied on the worker queue.
    private let received: ReceivedBatches
    /// Handshakes that failed without a reason, and for a protocol reason, in this round.
    private var failedHandshakes = (noDetail: 0, protocol: 0)
    /// When the current connection was made, to tell a refused handshake (at once) from one that
    /// only timed out (a hub too busy to answer is no key mismatch).
    private var connectedAt: UInt64 = 0
    /// Hints received between rounds.
    public private(set) var hinted = false
    /// Give the round up at once, as unreachable, when a connection attempt to the peer fails
    /// (refused: nothing listens there) before one succeeded in this round, instead of waiting
    /// out ``SyncClientOptions/connectTimeout``. Set for an endpoint of the hub with another
    /// endpoint to try after it, so that a hub process that is gone costs no wait.
    public var refusalEndsTheRound = false
    /// Whether a connection to the peer was made in the current round.
    private var connectedThisRound = false
    /// Bytes moved by the current round.
    private var traffic = (sent: 0, received: 0)

    public static var versions: ProtocolVersions {
        ProtocolVersions(protocolVersion: ProtocolVersion.current, schemaVersion: Schema.siteSync.version, schemaHash: Schema.siteSync.hash)
    }

    public init(store: any ReplicationStore, me: PeerIdentity, endpoint: String, options: SyncClientOptions = SyncClientOptions(),
                context: ZMQContext? = nil, logger: Logger) throws(NetError) {
        try Endpoint.validate(endpoint)
        self.endpoint = endpoint
        self.store = store
        self.me = me
        self.options = options
        self.logger = logger
        received = ReceivedBatches(store: store, access: options.access, peerIsHub: options.peerIsHub, queue: worker)
        if let context {
            self.context = context
        } else {
            self.context = try ZMQContext()
        }
        socket = try SocketOptions.clientSocket(self.context, curve: options.security.map { ($0.key, $0.serverKey) })
        monitor = try SocketMonitor(watching: socket, context: self.context)
        try socket.connect(endpoint)
        loop = try NetLoop()
    }

    deinit {
        // The monitor first: see SocketMonitor.close().
        monitor.close()
        socket.close()
    }

    private func now() -> SyncMoment {
        SyncMoment(monotonic: monotonicMilliseconds(), wall: store.wallClock())
    }

    /// The round machine's configuration from the client's options.
    private var roundConfiguration: ClientRound.Configuration {
        var configuration = ClientRound.Configuration(me: me, versions: Self.versions)
        configuration.limits = options.limits
        configuration.subscribe = options.subscribe
        configuration.credential = store.identity.credential
        configuration.connectTimeout = options.connectTimeout
        configuration.silenceTimeout = options.silenceTimeout
        configuration.stallTimeout = options.stallTimeout
        configuration.idleSessionLimit = options.idleSessionLimit
        return configuration
    }

    /// Runs one round: greet, push, pull. Starts a new session (resuming from what the peer
    /// acknowledged, protocol §9.2) when the peer restarts, the connection drops or the peer
    /// goes silent for ``SyncClientOptions/silenceTimeout``. The round has no limit on its total
    /// time: it gives up only on a peer never heard from (``SyncClientOptions/connectTimeout``)
    /// or one that moved nothing for ``SyncClientOptions/stallTimeout`` or in
    /// ``SyncClientOptions/idleSessionLimit`` sessions in a row.
    /// - Throws: ``NetError`` when the peer is unreachable, refuses, or stops moving the round;
    ///   whatever was acknowledged stays applied, and nothing unsent is lost.
    public func round() throws(NetError) -> SyncOutcome {
        hinted = false
        traffic = (0, 0)
        failedHandshakes = (0, 0)
        connectedThisRound = false
        var machine = ClientRound(roundConfiguration)
        var outbox: [[Data]] = []
        /// Changes to push and to pull, as the current session began (for progress).
        var totals = (push: 0, pull: 0)
        var pending = machine.start(at: now())
        while true {
            while !pending.isEmpty {
                let effect = pending.removeFirst()
                switch effect {
                case .prepareSession:
                    pending += machine.handle(prepareSession(), at: now())
                case .send(let message):
                    outbox.append(SyncFrames.encode(message))
                case .read(let session, let request):
                    read(request, session: session)
                case .apply(let session, let request):
                    apply(request, session: session)
                case .record(let said):
                    if case .welcomed(let welcome) = said { totals = pushAndPullTotals(welcome) }
                    record("what the peer said") { [options] store in try store.recordSessionEffect(said, peerIsHub: options.peerIsHub) }
                case .recordPeer(let contact):
                    // What the peer acknowledged is recorded as it comes, so a session broken off
                    // resumes from there without re-checking what was already acknowledged.
                    record("what the peer acknowledged") { store in try store.recordPeer(PeerRecord(contact)) }
                case .progress(let progress):
                    let total = progress.direction == .push ? totals.push : totals.pull
                    options.progress?(SyncProgress(direction: progress.direction == .push ? .push : .pull, done: progress.done, total: total))
                case .settle(let farewell):
                    settle(&outbox, farewell: farewell)
                    pending += machine.handle(.settled, at: now())
                case .finished(let outcome):
                    var result = SyncOutcome()
                    result.summary = outcome.summary
                    result.sessions = outcome.sessions
                    result.milliseconds = outcome.milliseconds
                    result.resent = outcome.resent
                    result.peerClockOffset = outcome.peerClockOffset
                    result.bytesSent = traffic.sent
                    result.bytesReceived = traffic.received
                    return result
                case .failed(let failure):
                    throw Self.error(failure, endpoint: endpoint)
                case .note(let note):
                    logger.log(SyncNote(note.level, "\(endpoint): \(note.message)", note.metadata))
                }
            }
            try flush(&outbox)
            let deadline = machine.nextDeadline
            let untilDeadline = deadline.map { Int(clamping: $0 &- min($0, monotonicMilliseconds())) } ?? 100
            let (readable, events) = try loop.wait([socket, monitor.socket], timeout: outbox.isEmpty ? max(1, min(100, untilDeadline)) : 5)
            for event in events { pending += machine.handle(event, at: now()) }
            let connectionEvents = monitor.events()
            try checkHandshakes(connectionEvents)
            if refusalEndsTheRound, !connectedThisRound, connectionEvents.contains(where: { $0.kind == ZMQ_EVENT_CONNECT_RETRIED }) {
                // Nothing of this round reached the peer; the store work in flight (none, or a
                // resumed session's) is waited for, so the next endpoint's round starts from it.
                settle(&outbox, farewell: false)
                throw Self.refusedConnection(endpoint)
            }
            if connectionEvents.contains(where: { $0.kind == ZMQ_EVENT_DISCONNECTED }) {
                pending += machine.handle(.disconnected, at: now())
            }
            if readable[0] || socket.isReadable {
                while let message = try socket.receive() {
                    traffic.received += message.frames.reduce(0) { $0 + $1.count }
                    pending += machine.handle(decode(message), at: now())
                }
            }
            if let deadline = machine.nextDeadline, monotonicMilliseconds() >= deadline {
                pending += machine.handle(.tick, at: now())
            }
        }
    }

    /// What a new session starts from. Every read must succeed: without the peers' records this
    /// node could not notice that its database was restored from an old copy (and the peer
    /// holds other content for its change ids), so a failed read fails the round instead.
    private func prepareSession() -> ClientRound.Event {
        do {
            let knowledge = try store.knowledge()
            let directory = try store.directory()
            let acknowledgedOwn = Dictionary(try store.peers().map { ($0.node, $0.knowledge[me.replica]) }) { a, b in max(a, b) }
            return .prepared(ClientRound.SessionFacts(session: UInt64.random(in: 1...UInt64.max), knowledge: knowledge,
                                                      directoryDigest: directory.isEmpty ? "" : directory.digest,
                                                      acknowledgedOwn: acknowledgedOwn))
        } catch {
            return .prepareFailed("\(error)")
        }
    }

    /// The message decoded; one that does not decode is the peer's violation.
    private func decode(_ message: ZMQMessage) -> ClientRound.Event {
        do {
            let decoded = try SyncFrames.decode(message.frames, schema: store.schema)
            if case .hint = decoded { hinted = true }
            return .message(decoded)
        } catch {
            logger.warning("bad message from \(endpoint)", metadata: ["error": "\(error.message)"])
            return .malformed(error.message)
        }
    }

    /// How many changes the session will push and pull, for progress only: a count that fails
    /// shows as unknown (0), and the sync goes on.
    private func pushAndPullTotals(_ welcome: SyncMessage.Welcome) -> (push: Int, pull: Int) {
        let push: Int
        do {
            push = try store.backlogCount(beyond: welcome.knowledge, scope: welcome.peer.scope)
        } catch {
            logger.debug("could not count what goes to \(endpoint); progress shows no total", metadata: ["error": "\(error)"])
            push = 0
        }
        return (push, Int(clamping: welcome.pullEstimate))
    }

    private func read(_ request: ReadRequest, session: UInt64) {
        let store = store
        worker.async { [loop] in
            do { loop.post(.store(session: session, .read(try store.readPage(request)))) } catch {
                loop.post(.store(session: session, SessionStore.failure(error)))
            }
        }
    }

    /// Signatures are checked on a thread of their own, so the store only writes; batches that
    /// arrive while the store writes are applied together (``ReceivedBatches``).
    private func apply(_ request: ApplyRequest, session: UInt64) {
        let received = received
        checker.async { [loop] in
            let checked: CheckedBatch
            do { checked = try SessionStore.check(request) } catch {
                loop.post(.store(session: session, SessionStore.failure(error)))
                return
            }
            received.submit(request, checked: checked) { outcome, _ in
                switch outcome {
                case .success(let applied): loop.post(.store(session: session, .applied(applied)))
                case .failure(let error): loop.post(.store(session: session, SessionStore.failure(error)))
                }
            }
        }
    }

    /// Keeps a record on the worker queue; a failure is logged: the sync goes on, and the
    /// next session reads again what it needs.
    private func record(_ what: String, _ write: @escaping @Sendable (any ReplicationStore) throws -> Void) {
        let store = store, logger = logger
        worker.async {
            do { try write(store) } catch {
                logger.error("could not record \(what)", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Sends what is queued; a full or not-yet-connected pipe keeps it for the next turn.
    private func flush(_ outbox: inout [[Data]]) throws(NetError) {
        while let frames = outbox.first {
            guard try socket.send(frames) else { break }
            outbox.removeFirst()
            traffic.sent += frames.reduce(0) { $0 + $1.count }
        }
    }

    /// Ends a session: lets its last messages (Bye, Failure) leave, for a moment at most (with
    /// no connection they never can), then waits for the store work in flight, so that what the
    /// peer said is recorded before the round goes on (a new epoch must be in place).
    private func settle(_ outbox: inout [[Data]], farewell: Bool) {
        if farewell {
            let until = monotonicMilliseconds() + 1_000
            while !outbox.isEmpty && monotonicMilliseconds() < until {
                do { try flush(&outbox) } catch { break }
                if !outbox.isEmpty { Thread.sleep(forTimeInterval: 0.005) }
            }
        }
        outbox.removeAll()
        checker.sync {}
        worker.sync {}
    }

    /// Turns handshake failures into errors that say what to do: a refused key at once, a
    /// wrong server key or a plaintext/CURVE mismatch after a few attempts (libzmq would retry
    /// them forever in silence).
    private func checkHandshakes(_ events: [SocketMonitor.Event]) throws(NetError) {
        for event in events {
            switch event.kind {
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
                throw NetError(.keyRefused, options.security?.refusedAdvice ?? "\(endpoint) refused this node's key")
            case ZMQ_EVENT_CONNECTED:
                connectedAt = monotonicMilliseconds()
                connectedThisRound = true
            case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                // A CURVE server that cannot read the client's HELLO (the client trusts another
                // server key) drops the connection within moments.
                if monotonicMilliseconds() - connectedAt < 2_000 { failedHandshakes.noDetail += 1 }
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
                failedHandshakes.protocol += 1
            default:
                break
            }
        }
        // libzmq does not reconnect after a protocol error (such as one side speaking CURVE and
        // the other plaintext), so the first one is final.
        if failedHandshakes.protocol > 0 || (failedHandshakes.noDetail >= 3 && options.security == nil) {
            throw NetError(.keyMismatch, options.security == nil
                ? "\(endpoint) uses CURVE but this node is set to plaintext (`insecure = true`): set both the same way "
                    + "(a hub needs its allow-list and this node the hub's key: `sitesync keys trust-hub`)"
                : "\(endpoint) is set to plaintext (`--insecure`) but this node uses CURVE: set both the same way")
        }
        if failedHandshakes.noDetail >= 3 {
            throw NetError(.keyMismatch,
                "hub key mismatch: \(endpoint) does not hold the key this node trusts for it "
                + "(\(options.security?.serverKey.fingerprint ?? "none")…); check the key with the hub operator "
                + "(`sitesync keys show` at the hub) and set it with `sitesync keys trust-hub`")
        }
    }

    /// Waits up to `milliseconds` for a hint (or any message) from the peer between rounds.
    /// - Returns: whether a hint arrived.
    /// - Throws: ``NetError/Code/keyRevoked`` when the peer cut this node off (a 403 with
    ///   session 0), and the handshake errors.
    public func waitForHint(milliseconds: Int) throws(NetError) -> Bool {
        let (readable, _) = try loop.wait([socket, monitor.socket], timeout: milliseconds)
        try checkHandshakes(monitor.events())
        guard readable[0] || socket.isReadable else { return false }
        while let message = try socket.receive() {
            switch decode(message) {
            case .message(.failure(let failure)) where failure.session == 0 && failure.code == .forbidden:
                throw Self.error(.revoked(failure.reason), endpoint: endpoint)
            default:
                // Between rounds only a hint or a revocation matters; a late answer of the last
                // round, or one that does not decode (logged), concerns no session any more.
                break
            }
        }
        return hinted
    }

    /// Whether a message moves the round on: a batch or an acknowledgement of this session.
    static func movesTheRound(_ message: SyncMessage, session: UInt64) -> Bool {
        ClientRound.movesTheRound(message, session: session)
    }

    /// The round's failure as the caller sees it: the peer's failure code travels as a value
    /// (``NetError/failure``, ``NetError/Code/keyRevoked``), never only as text.
    static func error(_ failure: RoundFailure, endpoint: String) -> NetError {
        switch failure {
        case .unreachable(let waited): unreachable(endpoint, waited)
        case .stalled(let last, let still, let sessions): stalled(endpoint, error(last, endpoint: endpoint), stillFor: still, sessions: sessions)
        case .session(let failure): error(failure, endpoint: endpoint)
        case .revoked(let reason): NetError(.keyRevoked, "\(endpoint) refused this node: \(reason)", failure: .forbidden)
        case .store(let reason):
            NetError(.store, "this node could not read its own database to sync with \(endpoint) (the peer was not asked): \(reason)")
        }
    }

    /// The round gave up on a peer that stopped moving it.
    static func stalled(_ endpoint: String, _ last: NetError, stillFor milliseconds: UInt64, sessions: Int) -> NetError {
        NetError(.silent,
            "\(endpoint) stopped answering in the middle of the sync: nothing moved for \(milliseconds / 1000) s over "
            + "\(sessions) session\(sessions == 1 ? "" : "s") (last: \(last.message)). What was acknowledged is kept on both sides "
            + "and the rest goes with the next sync; if this repeats, check that the peer is running and reachable")
    }

    /// The peer's endpoint refused the connection (``SyncClient/refusalEndsTheRound``).
    static func refusedConnection(_ endpoint: String) -> NetError {
        NetError(.unreachable,
            "\(endpoint) refused the connection: no process listens there. Nothing was lost; unsent changes stay on this node")
    }

    static func unreachable(_ endpoint: String, _ milliseconds: UInt64) -> NetError {
        NetError(.unreachable,
            "no answer from \(endpoint) within \(milliseconds / 1000) s: is the hub running and reachable? "
            + "Nothing was lost; unsent changes stay on this node and go with the next sync")
    }

    static func error(_ failure: SessionFailure, endpoint: String) -> NetError {
        switch failure.kind {
        case .refused(.upgradeRequired): NetError(.incompatible, failure.reason + "; this node keeps working offline and keeps its changes")
        case .refused(.forbidden): NetError(.refused, failure.reason, failure: .forbidden)
        case .refused(.unknownSession): NetError(.refused, "unknown session: " + failure.reason, failure: .unknownSession)
        case .refused(.outOfOrder):
            NetError(.refused, "\(endpoint): " + failure.reason + "; syncing again sends the same changes: run `sitesync audit verify` "
                     + "on this node and tell the operator of \(endpoint)", failure: .outOfOrder)
        case .refused(let code): NetError(.refused, "\(endpoint): " + failure.reason, failure: code)
        case .silent: NetError(.silent, "\(endpoint) went silent in the middle of the sync (\(failure.reason))")
        case .violation: NetError(.protocolViolation, "\(endpoint): " + failure.reason)
        case .store: NetError(.store, failure.reason)
        case .newEpoch: NetError(.newEpoch, failure.reason)
        }
    }
}
