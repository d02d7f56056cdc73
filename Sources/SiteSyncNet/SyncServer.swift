internal import CZeroMQ
import Dispatch
import Foundation
import Logging
import SiteSyncCore
import SiteSyncStore
import SiteSyncWire
import Synchronization

/// How a listener serves.
public struct SyncServerOptions: Sendable {
    /// What this side accepts from clients.
    public var limits = SessionLimits()
    /// Forget a session whose client has been silent this long (milliseconds).
    public var sessionTimeout: UInt64 = 60_000
    /// Forget a subscriber not heard from this long (milliseconds).
    public var subscriberTimeout: UInt64 = 300_000
    /// CURVE and the allow-list; `nil` serves in plaintext (`insecure`).
    public var security: ServerSecurity?
    /// What received changes are checked against besides their signatures.
    public var access: AccessPolicy?
    /// Hand the allow-list to clients whose copy differs (the hub does; a node open to peers
    /// does not, its copy may be behind).
    public var sharesDirectory = false

    public init() {}
}

/// The listener: a ROUTER socket serving any number of sync sessions (the hub, or a node open
/// to peers). One thread owns the socket and the sessions' state machines; applies run on one
/// writer queue and reads on a concurrent one, so a slow apply never stalls the others' I/O.
public final class SyncServer: @unchecked Sendable {
    // @unchecked: every mutable field is touched only by the loop thread, except `stopping`
    // (a Mutex) and `boundEndpoint` (written before `start` returns, read after).
    public private(set) var boundEndpoint = ""
    let store: ReplicaStore
    let me: PeerIdentity
    let options: SyncServerOptions
    let logger: Logger
    let context: ZMQContext
    private let loop: NetLoop<Posted>
    private let writer = DispatchQueue(label: "sitesync.server.apply")
    private let readers = DispatchQueue(label: "sitesync.server.read", attributes: .concurrent)
    private let stopping = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    private var zap: ZAPHandler?

    private struct Key: Hashable {
        let peer: Data
        let session: UInt64
    }

    private enum Posted: Sendable {
        case event(peer: Data, session: UInt64, SessionEvent, departments: Set<String>)
        case stop
    }

    private struct Live {
        var machine: ServerSession
        var lastHeard: UInt64
        var busy: Int
        let address: String
        /// Wall-clock start, and the client's clock minus ours from its Hello.
        let started: UInt64
        let clockOffset: Int64?
    }

    /// A session served, for the sync history (pushed and pulled from the client's side).
    private static func served(_ live: Live, summary: SessionSummary, ended: UInt64, failure: SessionFailure?) -> SyncHistoryEntry {
        var entry = SyncHistoryEntry(kind: .served, startedMilliseconds: live.started, endedMilliseconds: ended,
                                     peer: live.machine.client.node, endpoint: live.address, ok: failure == nil)
        entry.pushed = summary.pushedApplied + summary.pushedKnown
        entry.pushedNew = summary.pushedApplied
        entry.pulled = summary.pulledApplied + summary.pulledKnown
        entry.pulledNew = summary.pulledApplied
        entry.refused = summary.refused.count
        entry.clockOffsetMilliseconds = live.clockOffset
        if let failure {
            entry.errorCode = failure.code
            entry.error = failure.reason
        }
        return entry
    }

    public init(store: ReplicaStore, me: PeerIdentity, options: SyncServerOptions = SyncServerOptions(), context: ZMQContext? = nil,
                logger: Logger) throws(NetError) {
        self.store = store
        self.me = me
        self.options = options
        self.logger = logger
        if let context {
            self.context = context
        } else {
            self.context = try ZMQContext()
        }
        loop = try NetLoop()
    }

    /// Binds `endpoint` and starts serving on a thread of its own.
    /// - Returns: the endpoint bound (a `*` port resolved).
    @discardableResult
    public func start(endpoint: String) throws(NetError) -> String {
        try Endpoint.validate(endpoint)
        let socket = try ZMQSocket(context, .router)
        try SocketOptions.listener(socket)
        if let security = options.security {
            // Order matters (reliability.md §8.2): the handler runs and refuses a stranger
            // before the listener's options are set and it binds.
            let handler = try ZAPHandler(context: context, allowList: security.allowList, logger: logger)
            zap = handler
            try SecuritySelfTest.run(context: context, key: security.key, handler: handler)
            try SocketOptions.curveServer(socket, key: security.key)
        }
        boundEndpoint = try socket.bind(endpoint)
        // The socket moves to the loop thread and is used only there from now on.
        nonisolated(unsafe) let owned = socket
        let thread = Thread { [self] in
            serve(owned)
            finished.signal()
        }
        thread.name = "sitesync-listener"
        thread.start()
        self.thread = thread
        logger.info("listening on \(boundEndpoint)", metadata: [
            "node": "\(me.node)", "role": "\(me.role.rawValue)", "security": "\(options.security == nil ? "plaintext" : "CURVE")",
        ])
        return boundEndpoint
    }

    /// Stops taking messages, lets store work in progress finish, closes the socket.
    public func stop() {
        let first = stopping.withLock { stopping in
            defer { stopping = true }
            return !stopping
        }
        if first { loop.post(.stop) }
    }

    /// Blocks until the listener has stopped.
    public func wait() {
        finished.wait()
        finished.signal()
    }

    deinit {
        zap?.stop()
    }

    static func revokedReason(_ node: String) -> String {
        "this node's key (\(node.isEmpty ? "unknown" : node)) is no longer on the hub's allow-list: it was revoked; "
            + "its changes stay on the node; if that was a mistake, ask the hub operator to allow its key again (`sitesync keys allow`)"
    }

    private func serve(_ socket: ZMQSocket) {
        var sessions: [Key: Live] = [:]
        var subscribers: [Data: (scope: ReplicationScope, lastHeard: UInt64)] = [:]
        var stopRequested = false
        let storeAdapter = SessionStore(store, access: options.access)
        /// The routing ids each authenticated node is connected with, to cut a revoked one off.
        var connections: [String: Set<Data>] = [:]
        var socket = socket

        func send(_ peer: Data, _ message: SyncMessage) -> Bool {
            do {
                return try socket.send([peer] + SyncFrames.encode(message))
            } catch {
                logger.warning("cannot send to a peer", metadata: ["error": "\(error.message)"])
                return false
            }
        }

        func run(_ effects: [SessionEffect], key: Key) {
            for effect in effects {
                switch effect {
                case .send(let message):
                    if !send(key.peer, message), sessions[key] != nil {
                        logger.info("peer gone; dropping its session", metadata: ["peer.node": "\(sessions[key]!.machine.client.node)"])
                        sessions[key] = nil
                        return
                    }
                case .read(let request):
                    sessions[key]?.busy += 1
                    readers.async { [loop] in
                        let event: SessionEvent
                        do { event = .read(try storeAdapter.read(request)) } catch { event = SessionStore.failure(error) }
                        loop.post(.event(peer: key.peer, session: key.session, event, departments: []))
                    }
                case .apply(let request):
                    sessions[key]?.busy += 1
                    let departments = Set(request.changes.map(\.department))
                    // Signatures are checked on a reader thread, so the writer only writes.
                    readers.async { [loop, writer] in
                        let checked: CheckedBatch
                        do {
                            checked = try SessionStore.check(request)
                        } catch {
                            loop.post(.event(peer: key.peer, session: key.session, SessionStore.failure(error), departments: []))
                            return
                        }
                        writer.async {
                            let event: SessionEvent
                            do {
                                event = .applied(try storeAdapter.apply(request, checked: checked))
                            } catch {
                                event = SessionStore.failure(error)
                            }
                            loop.post(.event(peer: key.peer, session: key.session, event, departments: departments))
                        }
                    }
                case .finish(let summary):
                    if let live = sessions.removeValue(forKey: key) {
                        // Remembered for the reports' sync freshness, the fleet view and the history.
                        let client = live.machine.client, knowledge = live.machine.clientKnowledge, store = self.store
                        let now = store.wallClock()
                        writer.async {
                            try? store.recordPeer(PeerRecord(node: client.node, replica: client.replica, role: client.role,
                                                             department: client.department, knowledge: knowledge,
                                                             exchangedMilliseconds: now, via: "sync", syncedMilliseconds: now,
                                                             stableKnowledge: summary.peerStableKnowledge))
                            try? store.recordHistory(Self.served(live, summary: summary, ended: now, failure: nil))
                        }
                        logger.info("sync with \(live.machine.client.node) done", metadata: [
                            "peer.node": "\(live.machine.client.node)", "peer.address": "\(live.address)",
                            "push.applied": "\(summary.pushedApplied)", "push.known": "\(summary.pushedKnown)",
                            "pull.applied": "\(summary.pulledApplied)", "pull.states": "\(summary.pulledStates)",
                        ])
                    }
                case .rejected, .welcomed:
                    break
                case .fail(let failure):
                    let live = sessions.removeValue(forKey: key)
                    if let live {
                        let store = self.store, entry = Self.served(live, summary: live.machine.summary, ended: store.wallClock(),
                                                                    failure: failure)
                        writer.async { try? store.recordHistory(entry) }
                    }
                    logger.warning("sync session failed", metadata: [
                        "peer.node": "\(live?.machine.client.node ?? "?")", "peer.address": "\(live?.address ?? "?")",
                        "reason": "\(failure.reason)",
                    ])
                }
            }
        }

        func hint(after departments: Set<String>, from peer: Data) {
            guard !departments.isEmpty, let knowledge = try? store.knowledge() else { return }
            for (subscriber, entry) in subscribers where subscriber != peer
            && departments.contains(where: { entry.scope.includes(department: $0) }) {
                if !send(subscriber, .hint(knowledge: knowledge)) { subscribers[subscriber] = nil }
            }
        }

        func receive(_ message: ZMQMessage) {
            guard message.frames.count >= 2 else { return }
            let peer = message.frames[0]
            let address = message.metadata["Peer-Address"] ?? "?"
            // Who the peer is comes from the key it connected with (ZAP's User-Id), never from
            // what its messages claim.
            var authenticated: DirectoryEntry?
            if let security = options.security {
                let node = message.metadata["User-Id"] ?? ""
                guard let entry = security.allowList().entry(node: node), entry.active else {
                    logger.warning("message from a key no longer allowed", metadata: ["peer.address": "\(address)", "node": "\(node)"])
                    _ = send(peer, .failure(SyncMessage.Failure(code: .forbidden, reason: Self.revokedReason(node), session: 0)))
                    return
                }
                authenticated = entry
                connections[node, default: []].insert(peer)
            }
            let decoded: SyncMessage
            do {
                decoded = try SyncFrames.decode(Array(message.frames.dropFirst()), schema: store.schema)
            } catch {
                logger.warning("bad message", metadata: ["peer.address": "\(address)", "error": "\(error.message)"])
                _ = send(peer, .failure(SyncMessage.Failure(code: .malformed, reason: error.message, session: 0)))
                return
            }
            let now = monotonicMilliseconds()
            if case .hello(let hello) = decoded {
                guard !stopRequested else {
                    _ = send(peer, .failure(SyncMessage.Failure(code: .unavailable, reason: "the listener is stopping; retry shortly",
                                                                session: hello.session)))
                    return
                }
                let knowledge: VersionVector
                do { knowledge = try store.knowledge() } catch {
                    _ = send(peer, .failure(SyncMessage.Failure(code: .unavailable, reason: "the store cannot be read", session: hello.session)))
                    return
                }
                let key = Key(peer: peer, session: hello.session)
                let store = store, wallClock = store.wallClock()
                let (machine, effects) = ServerSession.accept(
                    hello, me: me, versions: SyncClient.versions, knowledge: knowledge, limits: options.limits,
                    authenticated: authenticated, credential: store.identity.credential,
                    directory: options.sharesDirectory ? options.security?.allowList() : nil,
                    wallClock: wallClock, pullEstimate: { client in
                        UInt64((try? store.backlog(beyond: hello.knowledge, scope: client.scope, detailed: false).count) ?? 0)
                    })
                if let machine {
                    let clockOffset = hello.wallClock > 0 ? Int64(bitPattern: hello.wallClock &- wallClock) : nil
                    sessions[key] = Live(machine: machine, lastHeard: now, busy: 0, address: address, started: wallClock,
                                         clockOffset: clockOffset)
                    // Heard from, whether or not the session completes: the fleet view's "last seen".
                    let client = machine.client
                    writer.async {
                        try? store.recordPeer(PeerRecord(node: client.node, replica: client.replica, role: client.role,
                                                         department: client.department, knowledge: hello.knowledge,
                                                         exchangedMilliseconds: wallClock, via: "sync", clockOffsetMilliseconds: clockOffset))
                    }
                    if hello.subscribe { subscribers[peer] = (machine.client.scope, now) }
                }
                run(effects, key: key)
                return
            }
            if subscribers[peer] != nil { subscribers[peer]?.lastHeard = now }
            let key = Key(peer: peer, session: decoded.session)
            guard var live = sessions[key] else {
                if case .failure = decoded { return }
                _ = send(peer, .failure(SyncMessage.Failure(code: .unknownSession,
                    reason: "unknown session (it expired, or this listener restarted): start a new one", session: decoded.session)))
                return
            }
            live.lastHeard = now
            let effects = live.machine.handle(.message(decoded))
            sessions[key] = live
            run(effects, key: key)
        }

        /// A key revoked while connected loses its connection, not only future ones: it is told
        /// so, then the listener re-binds, which closes every connection (the others reconnect
        /// at once and resume; the revoked key's handshake is refused from now on).
        func cutOffRevoked(_ security: ServerSecurity) {
            let allowList = security.allowList()
            let revoked = connections.keys.filter { allowList.entry(node: $0)?.active != true }
            guard !revoked.isEmpty else { return }
            for node in revoked {
                for peer in connections.removeValue(forKey: node) ?? [] {
                    _ = send(peer, .failure(SyncMessage.Failure(code: .forbidden, reason: Self.revokedReason(node), session: 0)))
                    subscribers[peer] = nil
                    for key in sessions.keys where key.peer == peer { sessions[key] = nil }
                }
                logger.warning("cut off a revoked node", metadata: ["peer.node": "\(node)"])
            }
            do {
                try socket.unbind(boundEndpoint)
                // libzmq closes the listener in its I/O thread: the port frees a moment later.
                var attempts = 0
                while true {
                    do {
                        try socket.bind(boundEndpoint)
                        break
                    } catch where error.errno == EADDRINUSE && attempts < 300 {
                        attempts += 1
                        usleep(10_000)
                    }
                }
            } catch {
                // The connections may be half-closed; a fresh socket closes them for sure.
                logger.error("could not re-bind after a revocation; restarting the listener socket", metadata: ["error": "\(error.message)"])
                socket.close()
                do {
                    let fresh = try ZMQSocket(context, .router)
                    try SocketOptions.listener(fresh)
                    try SocketOptions.curveServer(fresh, key: security.key)
                    try fresh.bind(boundEndpoint)
                    socket = fresh
                } catch {
                    logger.critical("cannot listen again after a revocation; stopping", metadata: ["error": "\(error.message)"])
                    exit(70)
                }
            }
        }

        var lastSweep = monotonicMilliseconds()
        while true {
            let waited: (readable: [Bool], items: [Posted])
            do {
                waited = try loop.wait([socket], timeout: 250)
            } catch {
                logger.error("the listener's poll failed; stopping", metadata: ["error": "\(error.message)"])
                break
            }
            for item in waited.items {
                switch item {
                case .stop:
                    stopRequested = true
                case .event(let peer, let session, let event, let departments):
                    let key = Key(peer: peer, session: session)
                    if case .applied(let outcome) = event, outcome.applied > 0 { hint(after: departments, from: peer) }
                    guard var live = sessions[key] else { continue }
                    live.busy -= 1
                    let effects = live.machine.handle(event)
                    sessions[key] = live
                    run(effects, key: key)
                }
            }
            if !stopRequested && (waited.readable[0] || socket.isReadable) {
                // At most a few hundred messages per turn, so posted store results keep flowing.
                for _ in 0..<256 {
                    guard let message = try? socket.receive(metadata: ["Peer-Address", "User-Id"]) else { break }
                    receive(message)
                }
            }
            let now = monotonicMilliseconds()
            if now - lastSweep > 1_000 {
                lastSweep = now
                for (key, live) in sessions where live.busy == 0 && now - live.lastHeard > options.sessionTimeout {
                    var expired = live
                    run(expired.machine.expire(), key: key)
                }
                subscribers = subscribers.filter { now - $0.value.lastHeard <= options.subscriberTimeout }
                if let security = options.security {
                    cutOffRevoked(security)
                }
            }
            if stopRequested && sessions.values.allSatisfy({ $0.busy == 0 }) {
                break
            }
        }
        readers.sync(flags: .barrier) {}
        writer.sync {}
        socket.close()
        logger.info("listener stopped", metadata: ["node": "\(me.node)"])
    }
}
