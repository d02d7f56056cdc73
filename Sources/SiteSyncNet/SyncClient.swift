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
/// The socket stays open between rounds, so a subscribed peer can hint; each round is a
/// ``ClientSession`` driven on the calling thread, with store work on a worker queue so that
/// receiving the next batch overlaps applying the current one.
public final class SyncClient {
    public let endpoint: String
    let store: ReplicaStore
    let me: PeerIdentity
    let options: SyncClientOptions
    let logger: Logger
    let context: ZMQContext
    let socket: ZMQSocket
    let monitor: SocketMonitor
    let loop: NetLoop<SessionEvent>
    private let worker = DispatchQueue(label: "sitesync.client.store")
    private let checker = DispatchQueue(label: "sitesync.client.check")
    /// Handshakes that failed without a reason, and for a protocol reason, in this round.
    private var failedHandshakes = (noDetail: 0, protocol: 0)
    /// When the current connection was made, to tell a refused handshake (at once) from one that
    /// only timed out (a hub too busy to answer is no key mismatch).
    private var connectedAt: UInt64 = 0
    /// Hints received between rounds.
    public private(set) var hinted = false

    public static var versions: ProtocolVersions {
        ProtocolVersions(protocolVersion: ProtocolVersion.current, schemaVersion: Schema.siteSync.version, schemaHash: Schema.siteSync.hash)
    }

    public init(store: ReplicaStore, me: PeerIdentity, endpoint: String, options: SyncClientOptions = SyncClientOptions(),
                context: ZMQContext? = nil, logger: Logger) throws(NetError) {
        try Endpoint.validate(endpoint)
        self.endpoint = endpoint
        self.store = store
        self.me = me
        self.options = options
        self.logger = logger
        if let context {
            self.context = context
        } else {
            self.context = try ZMQContext()
        }
        socket = try ZMQSocket(self.context, .dealer)
        try SocketOptions.client(socket)
        if let security = options.security {
            try SocketOptions.curveClient(socket, key: security.key, serverKey: security.serverKey)
        }
        monitor = try SocketMonitor(watching: socket, context: self.context)
        try socket.connect(endpoint)
        loop = try NetLoop()
    }

    deinit {
        // The monitor first: see SocketMonitor.close().
        monitor.close()
        socket.close()
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
        let start = monotonicMilliseconds()
        var outcome = SyncOutcome()
        hinted = false
        traffic = (0, 0)
        clockOffset = nil
        failedHandshakes = (0, 0)
        watch = RoundWatch(start: start)
        var idleSessions = 0
        while true {
            outcome.sessions += 1
            switch try session() {
            case .finished(let summary):
                outcome.summary.pushedSent += summary.pushedSent
                outcome.summary.pushedApplied += summary.pushedApplied
                outcome.summary.pushedKnown += summary.pushedKnown
                outcome.summary.pulledApplied += summary.pulledApplied
                outcome.summary.pulledKnown += summary.pulledKnown
                outcome.summary.pulledStates += summary.pulledStates
                outcome.summary.refused += summary.refused
                outcome.summary.peer = summary.peer
                outcome.summary.peerKnowledge.merge(summary.peerKnowledge)
                outcome.milliseconds = monotonicMilliseconds() - start
                outcome.bytesSent = traffic.sent
                outcome.bytesReceived = traffic.received
                outcome.peerClockOffset = clockOffset
                return outcome
            case .interrupted(let error, let sent, let acknowledged, let moved):
                // Start over from what the peer acknowledged; what it had not is sent again.
                outcome.summary.pushedSent += sent
                outcome.resent += sent - acknowledged
                idleSessions = moved ? 0 : idleSessions + 1
                let still = monotonicMilliseconds() - watch.lastMoved
                if idleSessions >= options.idleSessionLimit || still >= options.stallTimeout {
                    throw Self.stalled(endpoint, error, stillFor: still, sessions: outcome.sessions)
                }
                logger.info("sync session with \(endpoint) interrupted; resuming", metadata: ["reason": "\(error.message)"])
            }
        }
    }

    private enum SessionEnd {
        case finished(SessionSummary)
        /// The peer restarted (it forgot the session), the connection dropped, or the peer went
        /// silent: worth starting over. `moved`: the session received a batch or acknowledgement.
        case interrupted(NetError, sent: Int, acknowledged: Int, moved: Bool)
    }

    /// What the round has had from the peer, across its sessions.
    private struct RoundWatch {
        let start: UInt64
        /// Whether anything at all came from the peer: one never heard from is unreachable.
        var heard = false
        /// When this side last began waiting on the peer: its last batch or acknowledgement, or
        /// the end of this side's last store work (applying here is not the peer's silence).
        var lastMoved: UInt64

        init(start: UInt64) {
            self.start = start
            lastMoved = start
        }
    }

    private var watch = RoundWatch(start: 0)
    /// Bytes moved by the current round.
    private var traffic = (sent: 0, received: 0)
    /// The peer's clock minus ours, from the last Welcome.
    private var clockOffset: Int64?
    /// Changes to push and to pull, as the current session began.
    private var totals = (push: 0, pull: 0)


    private func session() throws(NetError) -> SessionEnd {
        let knowledge: VersionVector
        do { knowledge = try store.knowledge() } catch {
            throw NetError(.store, "this node could not read its own database to sync with \(endpoint) (the peer was not asked): \(error)")
        }
        let directoryDigest = (try? store.directory()).map { $0.isEmpty ? "" : $0.digest } ?? ""
        let acknowledgedOwn = Dictionary(((try? store.peers()) ?? []).map { ($0.node, $0.knowledge[me.replica]) }) { a, b in max(a, b) }
        var machine = ClientSession(session: UInt64.random(in: 1...UInt64.max), me: me, versions: Self.versions,
                                    knowledge: knowledge, limits: options.limits, subscribe: options.subscribe,
                                    credential: store.identity.credential, directoryDigest: directoryDigest,
                                    wallClock: store.wallClock(), acknowledgedOwn: acknowledgedOwn)
        var outbox: [[Data]] = []
        var result: Result<SessionSummary, NetError>?
        /// A batch or acknowledgement of this session came from the peer.
        var moved = false
        /// The peer's last message, or the end of this side's last store work.
        var lastHeard = monotonicMilliseconds()
        var busy = 0
        var connectionDropped = false
        let storeAdapter = SessionStore(store, access: options.access, peerIsHub: options.peerIsHub)
        var reported = (push: 0, pull: 0)
        var recorded = 0

        func perform(_ effects: [SessionEffect]) {
            for effect in effects {
                switch effect {
                case .send(let message):
                    outbox.append(SyncFrames.encode(message))
                case .read(let request):
                    busy += 1
                    worker.async { [loop] in
                        do { loop.post(.read(try storeAdapter.read(request))) } catch { loop.post(SessionStore.failure(error)) }
                    }
                case .apply(let request):
                    busy += 1
                    // Signatures are checked on a thread of their own, so the store only writes.
                    checker.async { [loop, worker] in
                        let checked: CheckedBatch
                        do { checked = try SessionStore.check(request) } catch {
                            loop.post(SessionStore.failure(error))
                            return
                        }
                        worker.async {
                            do { loop.post(.applied(try storeAdapter.apply(request, checked: checked))) } catch { loop.post(SessionStore.failure(error)) }
                        }
                    }
                case .welcomed(let welcome):
                    if welcome.wallClock > 0 { clockOffset = Int64(bitPattern: welcome.wallClock &- store.wallClock()) }
                    totals = (push: (try? store.backlog(beyond: welcome.knowledge, scope: welcome.peer.scope).count) ?? 0,
                              pull: Int(clamping: welcome.pullEstimate))
                    fallthrough
                case .rejected:
                    worker.async { [logger] in
                        do { try storeAdapter.record(effect) } catch {
                            logger.error("could not record what the peer said", metadata: ["error": "\(error)"])
                        }
                    }
                case .finish(let summary):
                    result = .success(summary)
                case .fail(let failure):
                    result = .failure(Self.error(failure, endpoint: endpoint))
                }
            }
        }
        /// After the machine handled something: record what the peer acknowledged, and tell progress.
        func noteProgress() {
            if machine.summary.pushedAcknowledged != recorded, let server = machine.server {
                // What the peer acknowledged is recorded as it comes, so a session broken off
                // resumes from there without re-checking what was already acknowledged.
                recorded = machine.summary.pushedAcknowledged
                let peer = server.peer, knowledge = machine.summary.peerKnowledge, now = store.wallClock()
                worker.async { [store] in
                    try? store.recordPeer(PeerRecord(node: peer.node, replica: peer.replica, role: peer.role, department: peer.department,
                                                     knowledge: knowledge, exchangedMilliseconds: now, via: "sync"))
                }
            }
            if let progress = options.progress {
                // Each direction whose count moved (the last push acknowledgement also starts the pull).
                let summary = machine.summary
                let pulled = summary.pulledApplied + summary.pulledKnown
                if summary.pushedAcknowledged != reported.push {
                    reported.push = summary.pushedAcknowledged
                    progress(SyncProgress(direction: .push, done: reported.push, total: totals.push))
                }
                if pulled != reported.pull {
                    reported.pull = pulled
                    progress(SyncProgress(direction: .pull, done: pulled, total: totals.pull))
                }
            }
        }
        perform(machine.start())
        var farewellUntil: UInt64?
        while true {
            // Send what is queued; a full or not-yet-connected pipe keeps it for the next turn.
            while let frames = outbox.first {
                guard try socket.send(frames) else { break }
                outbox.removeFirst()
                traffic.sent += frames.reduce(0) { $0 + $1.count }
            }
            if let result {
                // Let the last messages (Bye, Failure) leave before returning, for a moment at
                // most: with no connection (a refused handshake) they never can.
                let now = monotonicMilliseconds()
                farewellUntil = farewellUntil ?? now + 1_000
                if !outbox.isEmpty && now < farewellUntil! {
                    Thread.sleep(forTimeInterval: 0.005)
                    continue
                }
                // What the peer said is recorded before the round ends (a new epoch must be in place).
                worker.sync {}
                switch result {
                case .success(let summary): return .finished(summary)
                case .failure(let error):
                    if error.code == .silent || error.failure == .unknownSession {
                        return .interrupted(error, sent: machine.summary.pushedSent, acknowledged: machine.summary.pushedAcknowledged,
                                            moved: moved)
                    }
                    throw error
                }
            }
            // Only time spent waiting on the peer counts: while this side reads or applies, the
            // peer is waiting on it.
            if busy == 0 {
                let now = monotonicMilliseconds()
                if !watch.heard && now - watch.start >= options.connectTimeout {
                    throw Self.unreachable(endpoint, options.connectTimeout)
                }
                if watch.heard && (now - lastHeard >= options.silenceTimeout || now - watch.lastMoved >= options.stallTimeout) {
                    perform(machine.timedOut())
                    continue
                }
            }
            let (readable, events) = try loop.wait([socket, monitor.socket], timeout: outbox.isEmpty ? 100 : 5)
            for event in events {
                busy -= 1
                // The store work is done: from now on this side waits on the peer again.
                lastHeard = monotonicMilliseconds()
                watch.lastMoved = lastHeard
                perform(machine.handle(event))
                noteProgress()
            }
            let connectionEvents = monitor.events()
            try checkHandshakes(connectionEvents)
            for event in connectionEvents where event.kind == ZMQ_EVENT_DISCONNECTED && !machine.isOver {
                // The connection dropped: whatever was in flight is lost. Start over as soon as
                // the store work in progress is done.
                if busy == 0 {
                    return .interrupted(NetError(.silent, "the connection to \(endpoint) dropped"), sent: machine.summary.pushedSent,
                                        acknowledged: machine.summary.pushedAcknowledged, moved: moved)
                }
                connectionDropped = true
            }
            if connectionDropped && busy == 0 {
                return .interrupted(NetError(.silent, "the connection to \(endpoint) dropped"), sent: machine.summary.pushedSent,
                                    acknowledged: machine.summary.pushedAcknowledged, moved: moved)
            }
            guard readable[0] || socket.isReadable else { continue }
            while let message = try socket.receive() {
                lastHeard = monotonicMilliseconds()
                watch.heard = true
                traffic.received += message.frames.reduce(0) { $0 + $1.count }
                do {
                    let decoded = try SyncFrames.decode(message.frames, schema: store.schema)
                    if case .hint = decoded {
                        hinted = true
                        continue
                    }
                    if Self.movesTheRound(decoded, session: machine.session) {
                        moved = true
                        watch.lastMoved = lastHeard
                    }
                    perform(machine.handle(.message(decoded)))
                    noteProgress()
                } catch {
                    logger.warning("bad message from \(endpoint)", metadata: ["error": "\(error.message)"])
                    perform([.send(.failure(SyncMessage.Failure(code: .malformed, reason: error.message, session: machine.session))),
                             .fail(SessionFailure(.violation, "the peer sent a bad message: \(error.message)"))])
                }
            }
        }
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
    public func waitForHint(milliseconds: Int) throws(NetError) -> Bool {
        let (readable, _) = try loop.wait([socket, monitor.socket], timeout: milliseconds)
        try checkHandshakes(monitor.events())
        guard readable[0] || socket.isReadable else { return false }
        while let message = try socket.receive() {
            switch try? SyncFrames.decode(message.frames, schema: store.schema) {
            case .hint?:
                hinted = true
            case .failure(let failure)? where failure.session == 0 && failure.code == .forbidden:
                // The hub cut this node off (its key was revoked).
                throw NetError(.refused, "\(endpoint) refused this node: \(failure.reason)", failure: .forbidden)
            default:
                break
            }
        }
        return hinted
    }

    /// Whether a message moves the round on: a batch or an acknowledgement of this session.
    /// Greetings and hints say the peer is alive, not that the sync gets anywhere.
    static func movesTheRound(_ message: SyncMessage, session: UInt64) -> Bool {
        switch message {
        case .batch(let batch): batch.session == session
        case .ack(let ack): ack.session == session
        default: false
        }
    }

    /// The round gave up on a peer that stopped moving it.
    static func stalled(_ endpoint: String, _ last: NetError, stillFor milliseconds: UInt64, sessions: Int) -> NetError {
        NetError(.silent,
            "\(endpoint) stopped answering in the middle of the sync: nothing moved for \(milliseconds / 1000) s over "
            + "\(sessions) session\(sessions == 1 ? "" : "s") (last: \(last.message)). What was acknowledged is kept on both sides "
            + "and the rest goes with the next sync; if this repeats, check that the peer is running and reachable")
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
        case .silent: NetError(.silent, "\(endpoint) went silent in the middle of the sync")
        case .violation: NetError(.protocolViolation, "\(endpoint): " + failure.reason)
        case .store: NetError(.store, failure.reason)
        case .newEpoch: NetError(.newEpoch, failure.reason)
        }
    }
}
