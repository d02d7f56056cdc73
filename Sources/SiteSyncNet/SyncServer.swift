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
    /// How many sessions, and how many Hellos a second, one node may open: one node's flood of
    /// Hellos is refused cheaply instead of queueing everyone else behind it.
    public var admission = NodeAdmissionLimits()

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
    private let digests = DirectoryDigests()
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    private var zap: ZAPHandler?

    private struct Key: Hashable {
        let peer: Data
        let session: UInt64
    }

    private enum Posted: Sendable {
        case event(peer: Data, session: UInt64, SessionEvent, departments: Set<String>)
        /// What the Welcome of a greeting needs, read; `nil` when the store could not be read.
        case greeted(peer: Data, session: UInt64, WelcomeFacts?)
        case stop
    }

    /// A Hello that passed its cheap checks, its Welcome being prepared on a reader thread.
    /// It counts towards its node's sessions cap, so a flood cannot pile up greetings either.
    private struct Greeting {
        let hello: SyncMessage.Hello
        let client: PeerIdentity
        let authenticated: DirectoryEntry?
        let address: String
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
            // Order matters (docs/design.md §10.9): the handler runs and refuses a stranger
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
        var greetings: [Key: Greeting] = [:]
        var gate = HelloGate(limits: options.admission)
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

        /// Answers a Hello in steps of rising cost, each refusing before the next: the node's
        /// Hello rate (a counter), the Hello's own checks (a hash), the node's sessions cap; only
        /// then the store, on a reader thread, and the Welcome when that is read (``welcome``).
        /// A node flooding Hellos gets cheap 503s and never holds the loop or the store.
        func greet(_ hello: SyncMessage.Hello, peer: Data, address: String, authenticated: DirectoryEntry?, now: UInt64) {
            let key = Key(peer: peer, session: hello.session)
            func refuse(_ reason: String) {
                _ = send(peer, .failure(SyncMessage.Failure(code: .unavailable, reason: reason, session: hello.session)))
            }
            guard !stopRequested else { return refuse("the listener is stopping; retry shortly") }
            let node = authenticated?.node ?? hello.peer.node
            if case .refused(let retryAfter, let report) = gate.hello(from: node, now: now) {
                if let report {
                    let limits = options.admission
                    logger.warning("refusing Hellos from \(node): over \(limits.helloBurst) at once or \(limits.hellosPerSecond) a second", metadata: [
                        "peer.node": "\(node)", "peer.address": "\(address)", "refused": "\(report)",
                    ])
                }
                return refuse(HelloGate.rateReason(node: node, limits: options.admission, retryAfterMilliseconds: retryAfter))
            }
            let client: PeerIdentity
            switch ServerSession.admit(hello, versions: SyncClient.versions, authenticated: authenticated) {
            case .success(let admitted): client = admitted
            case .failure(let refusal): return run(refusal.effects, key: key)
            }
            guard makeRoom(for: client.node) else {
                if let report = gate.refused(client.node, now: now) {
                    logger.warning("refusing Hellos from \(client.node): its \(options.admission.sessionsPerNode) sessions are all busy", metadata: [
                        "peer.node": "\(client.node)", "peer.address": "\(address)", "refused": "\(report)",
                    ])
                }
                return refuse(HelloGate.capReason(node: client.node, limits: options.admission))
            }
            greetings[key] = Greeting(hello: hello, client: client, authenticated: authenticated, address: address)
            let store = store, digests = digests
            let directory = options.sharesDirectory ? options.security?.allowList() : nil
            readers.async { [loop] in
                let facts = try? WelcomeFacts.gather(for: hello, client: client, store: store, directory: directory, digests: digests)
                loop.post(.greeted(peer: peer, session: hello.session, facts))
            }
        }

        /// Makes room for one more session of `node` under its cap: at the cap, closes its
        /// session heard from least recently among those waiting on their client (none of its
        /// store work in flight): an abandoned one, as a rule, which a live client would only
        /// notice as a 404 and start over.
        /// - Returns: `false` when every one is busy; the Hello is then refused.
        func makeRoom(for node: String) -> Bool {
            let open = sessions.filter { $0.value.machine.client.node == node }
            let greeting = greetings.values.filter { $0.client.node == node }.count
            guard open.count + greeting >= options.admission.sessionsPerNode else { return true }
            guard let oldest = open.filter({ $0.value.busy == 0 }).min(by: { $0.value.lastHeard < $1.value.lastHeard }) else {
                return false
            }
            sessions[oldest.key] = nil
            let failure = SessionFailure(.silent, "closed: \(node) opened a new session while \(options.admission.sessionsPerNode) were open, "
                                         + "and this one was silent the longest")
            let store = self.store, entry = Self.served(oldest.value, summary: oldest.value.machine.summary, ended: store.wallClock(),
                                                        failure: failure)
            writer.async { try? store.recordHistory(entry) }
            logger.info("closed \(node)'s session silent the longest, for a new one", metadata: [
                "peer.node": "\(node)", "peer.address": "\(oldest.value.address)", "sessions": "\(options.admission.sessionsPerNode)",
            ])
            return true
        }

        /// Sends the Welcome of a greeting whose facts were read, and opens its session.
        func welcome(_ key: Key, _ facts: WelcomeFacts?) {
            // Gone when its connection was cut off (a revoked key) meanwhile.
            guard let greeting = greetings.removeValue(forKey: key) else { return }
            let hello = greeting.hello
            guard !stopRequested, let facts else {
                let reason = stopRequested ? "the listener is stopping; retry shortly" : "the store cannot be read; retry later"
                _ = send(key.peer, .failure(SyncMessage.Failure(code: .unavailable, reason: reason, session: hello.session)))
                return
            }
            let store = store, wallClock = store.wallClock(), now = monotonicMilliseconds()
            let (machine, effects) = ServerSession.accept(
                hello, me: me, versions: SyncClient.versions, knowledge: facts.knowledge, limits: options.limits,
                authenticated: greeting.authenticated, credential: store.identity.credential, directory: facts.directory,
                directoryDigest: facts.directoryDigest, wallClock: wallClock, pullEstimate: { _ in facts.pullEstimate })
            if let machine {
                let clockOffset = hello.wallClock > 0 ? Int64(bitPattern: hello.wallClock &- wallClock) : nil
                sessions[key] = Live(machine: machine, lastHeard: now, busy: 0, address: greeting.address, started: wallClock,
                                     clockOffset: clockOffset)
                // Heard from, whether or not the session completes: the fleet view's "last seen".
                let client = machine.client
                writer.async {
                    try? store.recordPeer(PeerRecord(node: client.node, replica: client.replica, role: client.role,
                                                     department: client.department, knowledge: hello.knowledge,
                                                     exchangedMilliseconds: wallClock, via: "sync", clockOffsetMilliseconds: clockOffset))
                }
                if hello.subscribe { subscribers[key.peer] = (machine.client.scope, now) }
            }
            run(effects, key: key)
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
                greet(hello, peer: peer, address: address, authenticated: authenticated, now: now)
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

        /// Forgets the routing ids of connections with no session, greeting or subscription: a
        /// node that reconnects for every Hello would otherwise grow its set without end. The
        /// node's name stays, so that if it is revoked the listener still re-binds, closing its
        /// connections (only those with a session or subscription are told why first).
        func forgetIdleConnections() {
            var inUse = Set(subscribers.keys)
            for key in sessions.keys { inUse.insert(key.peer) }
            for key in greetings.keys { inUse.insert(key.peer) }
            connections = connections.mapValues { $0.intersection(inUse) }
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
                    for key in greetings.keys where key.peer == peer { greetings[key] = nil }
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
                case .greeted(let peer, let session, let facts):
                    welcome(Key(peer: peer, session: session), facts)
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
                gate.forgetRested(now: now)
                forgetIdleConnections()
                if let security = options.security {
                    cutOffRevoked(security)
                }
            }
            if stopRequested && sessions.values.allSatisfy({ $0.busy == 0 }) && greetings.isEmpty {
                break
            }
        }
        readers.sync(flags: .barrier) {}
        writer.sync {}
        socket.close()
        logger.info("listener stopped", metadata: ["node": "\(me.node)"])
    }
}
