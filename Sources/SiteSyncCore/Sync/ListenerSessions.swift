/// A listener's table of sessions (protocol/README.md §9, §15, §16.2): who each connection is
/// (from the key it authenticated with and the allow-list), which sessions are open on it,
/// what one node may open (``NodeAdmissionLimits``), when a silent session or subscriber is
/// forgotten, and what happens to a key revoked while connected.
///
/// An I/O-free state machine, like the ``ServerSession``s it holds: a driver feeds it
/// ``Event``s with the time as a value (``SyncMoment``), and carries out the ``Effect``s it
/// returns — sending, store work, recording — feeding the results back as events. `SyncServer`
/// drives it with a ROUTER socket and worker queues; a simulation drives it in one thread.
/// `Connection` is whatever names a connection to the driver (a ROUTER routing id).
public struct ListenerSessions<Connection: Hashable & Sendable>: Sendable {
    public struct Configuration: Sendable {
        public var me: PeerIdentity
        public var versions: ProtocolVersions
        /// What this side accepts from clients.
        public var limits = SessionLimits()
        /// Forget a session whose client has been silent this long (milliseconds).
        public var sessionTimeout: UInt64 = 60_000
        /// Forget a subscriber not heard from this long (milliseconds).
        public var subscriberTimeout: UInt64 = 300_000
        public var admission = NodeAdmissionLimits()
        /// Whether clients are known by the key they connected with, which must be active on the
        /// allow-list (``Event/allowList(_:)``); `false` in plaintext, where a client is who its
        /// Hello claims.
        public var authenticates = false
        /// This side's replica credential, for the Welcome.
        public var credential: ReplicaCredential?
        /// How often rested Hello buckets and idle connections are forgotten (milliseconds).
        public var housekeepingInterval: UInt64 = 1_000

        public init(me: PeerIdentity, versions: ProtocolVersions) {
            self.me = me
            self.versions = versions
        }
    }

    /// Where a message came from, as the transport says: never from what the message claims.
    public struct Sender: Sendable, Equatable {
        /// The peer's address, for people (`?` when unknown).
        public var address: String
        /// The node the connection's key belongs to (ZAP's `User-Id`), where keys are checked.
        public var keyNode: String?

        public init(address: String = "?", keyNode: String? = nil) {
            self.address = address
            self.keyNode = keyNode
        }
    }

    public enum Event: Sendable {
        /// The allow-list in force now, where keys are checked. Fed whenever it may have changed
        /// (the driver feeds it before each message and tick); a list that revokes a connected
        /// key cuts that key's connections off.
        case allowList(Directory)
        /// A message decoded from `Connection`.
        case message(Connection, SyncMessage, from: Sender)
        /// A message from `Connection` that does not decode.
        case malformed(Connection, reason: String, from: Sender)
        /// The answer to ``Effect/gatherWelcomeFacts(_:session:hello:client:)``: `nil` when the
        /// store could not be read.
        case welcomeFacts(Connection, session: UInt64, WelcomeFacts?)
        /// The answer to a session's ``Effect/read(_:session:_:)`` or ``Effect/apply(_:session:_:)``.
        case store(Connection, session: UInt64, SessionEvent)
        /// A ``Effect/send(_:_:)`` could not be delivered (the peer is gone, or its queue is full).
        case undeliverable(Connection, SyncMessage)
        /// Time passed: silent sessions and subscribers are forgotten.
        case tick
        /// Stop: refuse new sessions, let the store work in flight finish (``isStopped``).
        case stop
    }

    public enum Effect: Sendable, Equatable {
        case send(Connection, SyncMessage)
        /// Read what the Welcome of `hello` needs (``WelcomeFacts``) off the loop, and answer
        /// with ``Event/welcomeFacts(_:session:_:)``.
        case gatherWelcomeFacts(Connection, session: UInt64, hello: SyncMessage.Hello, client: PeerIdentity)
        /// A session's store work; answer with ``Event/store(_:session:_:)``.
        case read(Connection, session: UInt64, ReadRequest)
        case apply(Connection, session: UInt64, ApplyRequest)
        /// Send each of these subscribers a Hint with the store's knowledge now.
        case hint([Connection])
        case recordPeer(PeerContact)
        case recordServed(ServedSession)
        /// Close every connection (libzmq can drop one only by closing all: the listener
        /// re-binds). The others reconnect at once and resume; a revoked key cannot.
        case closeAllConnections
        case note(SyncNote)
    }

    private struct Key: Hashable, Sendable {
        let connection: Connection
        let session: UInt64
    }

    /// A Hello that passed its cheap checks, its Welcome being prepared. It counts towards its
    /// node's sessions cap, so a flood cannot pile up greetings either.
    private struct Greeting: Sendable {
        let hello: SyncMessage.Hello
        let client: PeerIdentity
        let authenticated: DirectoryEntry?
        let address: String
    }

    private struct Live: Sendable {
        var machine: ServerSession
        var lastHeard: UInt64
        var busy = 0
        let address: String
        /// Wall clock at the Welcome, and the client's clock minus ours from its Hello.
        let started: UInt64
        let clockOffset: Int64?
        /// The departments of the batch being applied, for the hints once it is.
        var applying: Set<String> = []
    }

    public let configuration: Configuration
    private var sessions: [Key: Live] = [:]
    private var greetings: [Key: Greeting] = [:]
    private var gate: HelloGate
    private var subscribers: [Connection: (scope: ReplicationScope, lastHeard: UInt64)] = [:]
    /// The connections each authenticated node is connected with, to cut a revoked one off.
    private var connections: [String: Set<Connection>] = [:]
    private var allowList = Directory([])
    private var stopRequested = false
    private var lastHousekeeping: UInt64?

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        gate = HelloGate(limits: configuration.admission)
    }

    // MARK: What a driver and a simulation may look at

    /// Open sessions (greetings being prepared not counted).
    public var openSessions: Int { sessions.count }
    public var pendingGreetings: Int { greetings.count }
    public var subscriberCount: Int { subscribers.count }
    /// The session `session` on `connection`, if open.
    public func session(_ connection: Connection, _ session: UInt64) -> ServerSession? {
        sessions[Key(connection: connection, session: session)]?.machine
    }
    /// Whether a stop was asked for and nothing is in flight any more: the driver may close.
    public var isStopped: Bool { stopRequested && greetings.isEmpty && sessions.values.allSatisfy { $0.busy == 0 } }
    public var isStopping: Bool { stopRequested }

    /// When (monotonic milliseconds) the machine next needs a ``Event/tick``: the first silent
    /// session or subscriber to forget, or the next housekeeping. `nil`: nothing waits on time.
    public var nextDeadline: UInt64? {
        var deadline = lastHousekeeping.map { $0 + configuration.housekeepingInterval }
        func consider(_ time: UInt64) { deadline = min(deadline ?? time, time) }
        for live in sessions.values where live.busy == 0 { consider(live.lastHeard + configuration.sessionTimeout + 1) }
        for subscriber in subscribers.values { consider(subscriber.lastHeard + configuration.subscriberTimeout + 1) }
        return deadline
    }

    // MARK: Events

    public mutating func handle(_ event: Event, at now: SyncMoment) -> [Effect] {
        if lastHousekeeping == nil { lastHousekeeping = now.monotonic }
        switch event {
        case .allowList(let list):
            guard list != allowList else { return [] }
            allowList = list
            return cutOffRevoked()
        case .message(let connection, let message, let sender):
            guard case .allowed(let entry) = authenticate(connection, sender) else { return refuseRevoked(connection, sender) }
            return receive(message, on: connection, from: sender, authenticated: entry, at: now)
        case .malformed(let connection, let reason, let sender):
            guard case .allowed = authenticate(connection, sender) else { return refuseRevoked(connection, sender) }
            return [.note(SyncNote(.warning, "bad message", ["peer.address": sender.address, "error": reason])),
                    .send(connection, .failure(SyncMessage.Failure(code: .malformed, reason: reason, session: 0)))]
        case .welcomeFacts(let connection, let session, let facts):
            return welcome(Key(connection: connection, session: session), facts, at: now)
        case .store(let connection, let session, let result):
            return stored(result, for: Key(connection: connection, session: session), at: now)
        case .undeliverable(let connection, let message):
            return undeliverable(message, to: connection)
        case .tick:
            return expireSilent(at: now) + housekeeping(at: now)
        case .stop:
            stopRequested = true
            return []
        }
    }

    private enum Authentication { case allowed(DirectoryEntry?), revoked }

    /// Who a connection is, from the key it connected with: its allow-list entry where keys are
    /// checked (`nil` where they are not), or revoked when its key is not active.
    private mutating func authenticate(_ connection: Connection, _ sender: Sender) -> Authentication {
        guard configuration.authenticates else { return .allowed(nil) }
        let node = sender.keyNode ?? ""
        guard let entry = allowList.entry(node: node), entry.active else { return .revoked }
        connections[node, default: []].insert(connection)
        return .allowed(entry)
    }

    private func refuseRevoked(_ connection: Connection, _ sender: Sender) -> [Effect] {
        let node = sender.keyNode ?? ""
        return [.note(SyncNote(.warning, "message from a key no longer allowed", ["peer.address": sender.address, "node": node])),
                .send(connection, .failure(SyncMessage.Failure(code: .forbidden, reason: Self.revokedReason(node), session: 0)))]
    }

    /// The reason of the 403 with session 0 a revoked key is told (protocol §12, §16.2).
    public static func revokedReason(_ node: String) -> String {
        "this node's key (\(node.isEmpty ? "unknown" : node)) is no longer on the hub's allow-list: it was revoked; "
            + "its changes stay on the node; if that was a mistake, ask the hub operator to allow its key again (`sitesync keys allow`)"
    }

    private mutating func receive(_ message: SyncMessage, on connection: Connection, from sender: Sender,
                                  authenticated: DirectoryEntry?, at now: SyncMoment) -> [Effect] {
        if case .hello(let hello) = message {
            return greet(hello, on: connection, address: sender.address, authenticated: authenticated, at: now)
        }
        if subscribers[connection] != nil { subscribers[connection]?.lastHeard = now.monotonic }
        let key = Key(connection: connection, session: message.session)
        guard var live = sessions[key] else {
            if case .failure = message { return [] }
            return [.send(connection, .failure(SyncMessage.Failure(
                code: .unknownSession, reason: "unknown session (it expired, or this listener restarted): start a new one",
                session: message.session)))]
        }
        live.lastHeard = now.monotonic
        let effects = live.machine.handle(.message(message))
        sessions[key] = live
        return run(effects, key: key, at: now)
    }

    // MARK: Greeting

    /// Answers a Hello in steps of rising cost, each refusing before the next: the node's Hello
    /// rate (a counter), the Hello's own checks (a hash), the node's sessions cap; only then the
    /// store (``Effect/gatherWelcomeFacts(_:session:hello:client:)``), and the Welcome when that
    /// is read. A node flooding Hellos gets cheap 503s and never holds the store.
    private mutating func greet(_ hello: SyncMessage.Hello, on connection: Connection, address: String,
                                authenticated: DirectoryEntry?, at now: SyncMoment) -> [Effect] {
        let key = Key(connection: connection, session: hello.session)
        func refuse(_ reason: String) -> Effect {
            .send(connection, .failure(SyncMessage.Failure(code: .unavailable, reason: reason, session: hello.session)))
        }
        guard !stopRequested else { return [refuse("the listener is stopping; retry shortly")] }
        let limits = configuration.admission
        let node = authenticated?.node ?? hello.peer.node
        if case .refused(let retryAfter, let report) = gate.hello(from: node, now: now.monotonic) {
            let reason = HelloGate.rateReason(node: node, limits: limits, retryAfterMilliseconds: retryAfter)
            guard let report else { return [refuse(reason)] }
            return [.note(SyncNote(.warning, "refusing Hellos from \(node): over \(limits.helloBurst) at once or \(limits.hellosPerSecond) a second",
                                   ["peer.node": node, "peer.address": address, "refused": "\(report)"])), refuse(reason)]
        }
        let client: PeerIdentity
        switch ServerSession.admit(hello, versions: configuration.versions, authenticated: authenticated) {
        case .success(let admitted): client = admitted
        case .failure(let refusal): return run(refusal.effects, key: key, at: now)
        }
        guard let room = makeRoom(for: client.node, at: now) else {
            let reason = HelloGate.capReason(node: client.node, limits: limits)
            guard let report = gate.refused(client.node, now: now.monotonic) else { return [refuse(reason)] }
            return [.note(SyncNote(.warning, "refusing Hellos from \(client.node): its \(limits.sessionsPerNode) sessions are all busy",
                                   ["peer.node": client.node, "peer.address": address, "refused": "\(report)"])), refuse(reason)]
        }
        greetings[key] = Greeting(hello: hello, client: client, authenticated: authenticated, address: address)
        return room + [.gatherWelcomeFacts(connection, session: hello.session, hello: hello, client: client)]
    }

    /// Makes room for one more session of `node` under its cap: at the cap, closes its session
    /// heard from least recently among those waiting on their client (none of its store work in
    /// flight): an abandoned one, as a rule, which a live client would only notice as a 404 and
    /// start over.
    /// - Returns: what closing one does, or `nil` when every one is busy (the Hello is refused).
    private mutating func makeRoom(for node: String, at now: SyncMoment) -> [Effect]? {
        let cap = configuration.admission.sessionsPerNode
        let open = sessions.filter { $0.value.machine.client.node == node }
        let greeting = greetings.values.filter { $0.client.node == node }.count
        guard open.count + greeting >= cap else { return [] }
        guard let oldest = open.filter({ $0.value.busy == 0 }).min(by: { $0.value.lastHeard < $1.value.lastHeard }) else {
            return nil
        }
        sessions[oldest.key] = nil
        let failure = SessionFailure(.silent, "closed: \(node) opened a new session while \(cap) were open, and this one was silent the longest")
        return [.recordServed(Self.served(oldest.value, ended: now.wall, failure: failure)),
                .note(SyncNote(.info, "closed \(node)'s session silent the longest, for a new one",
                               ["peer.node": node, "peer.address": oldest.value.address, "sessions": "\(cap)"]))]
    }

    /// Sends the Welcome of a greeting whose facts were read, and opens its session.
    private mutating func welcome(_ key: Key, _ facts: WelcomeFacts?, at now: SyncMoment) -> [Effect] {
        // Gone when its connection was cut off (a revoked key) meanwhile.
        guard let greeting = greetings.removeValue(forKey: key) else { return [] }
        let hello = greeting.hello
        guard !stopRequested, let facts else {
            let reason = stopRequested ? "the listener is stopping; retry shortly" : "the store cannot be read; retry later"
            return [.send(key.connection, .failure(SyncMessage.Failure(code: .unavailable, reason: reason, session: hello.session)))]
        }
        let (machine, effects) = ServerSession.accept(
            hello, me: configuration.me, versions: configuration.versions, knowledge: facts.knowledge, limits: configuration.limits,
            authenticated: greeting.authenticated, credential: configuration.credential, directory: facts.directory,
            directoryDigest: facts.directoryDigest, wallClock: now.wall, pullEstimate: { _ in facts.pullEstimate })
        var recorded: [Effect] = []
        if let machine {
            let clockOffset = hello.wallClock > 0 ? Int64(bitPattern: hello.wallClock &- now.wall) : nil
            sessions[key] = Live(machine: machine, lastHeard: now.monotonic, address: greeting.address, started: now.wall,
                                 clockOffset: clockOffset)
            // Heard from, whether or not the session completes: the fleet view's "last seen".
            recorded.append(.recordPeer(PeerContact(peer: machine.client, knowledge: hello.knowledge, wallClock: now.wall,
                                                    clockOffset: clockOffset)))
            if hello.subscribe { subscribers[key.connection] = (machine.client.scope, now.monotonic) }
        }
        return recorded + run(effects, key: key, at: now)
    }

    // MARK: Sessions' effects

    private mutating func stored(_ result: SessionEvent, for key: Key, at now: SyncMoment) -> [Effect] {
        var hints: [Effect] = []
        if case .applied(let outcome) = result, outcome.applied > 0, let departments = sessions[key]?.applying {
            hints = hint(after: departments, from: key.connection)
        }
        guard var live = sessions[key] else { return hints }
        live.busy -= 1
        live.applying = []
        let effects = live.machine.handle(result)
        sessions[key] = live
        return hints + run(effects, key: key, at: now)
    }

    private func hint(after departments: Set<String>, from connection: Connection) -> [Effect] {
        let hinted = subscribers.filter { subscriber, entry in
            subscriber != connection && departments.contains(where: { entry.scope.includes(department: $0) })
        }.map(\.key)
        return hinted.isEmpty ? [] : [.hint(hinted)]
    }

    private mutating func run(_ effects: [SessionEffect], key: Key, at now: SyncMoment) -> [Effect] {
        var result: [Effect] = []
        for effect in effects {
            switch effect {
            case .send(let message):
                result.append(.send(key.connection, message))
            case .read(let request):
                sessions[key]?.busy += 1
                result.append(.read(key.connection, session: key.session, request))
            case .apply(let request):
                sessions[key]?.busy += 1
                sessions[key]?.applying = Set(request.changes.map(\.department))
                result.append(.apply(key.connection, session: key.session, request))
            case .finish(let summary):
                guard let live = sessions.removeValue(forKey: key) else { continue }
                let client = live.machine.client
                // Remembered for the reports' sync freshness, the fleet view and the history.
                result.append(.recordPeer(PeerContact(peer: client, knowledge: live.machine.clientKnowledge, wallClock: now.wall,
                                                      completed: true, stableKnowledge: summary.peerStableKnowledge)))
                result.append(.recordServed(Self.served(live, summary: summary, ended: now.wall, failure: nil)))
                result.append(.note(SyncNote(.info, "sync with \(client.node) done", [
                    "peer.node": client.node, "peer.address": live.address,
                    "push.applied": "\(summary.pushedApplied)", "push.known": "\(summary.pushedKnown)",
                    "pull.applied": "\(summary.pulledApplied)", "pull.states": "\(summary.pulledStates)",
                ])))
            case .fail(let failure):
                let live = sessions.removeValue(forKey: key)
                if let live { result.append(.recordServed(Self.served(live, ended: now.wall, failure: failure))) }
                result.append(.note(SyncNote(.warning, "sync session failed", [
                    "peer.node": live?.machine.client.node ?? "?", "peer.address": live?.address ?? "?", "reason": failure.reason,
                ])))
            case .rejected, .welcomed:
                break
            }
        }
        return result
    }

    /// A session served, for the sync history.
    private static func served(_ live: Live, summary: SessionSummary? = nil, ended: UInt64, failure: SessionFailure?) -> ServedSession {
        ServedSession(client: live.machine.client, address: live.address, started: live.started, ended: ended,
                      summary: summary ?? live.machine.summary, failure: failure, clockOffset: live.clockOffset)
    }

    private mutating func undeliverable(_ message: SyncMessage, to connection: Connection) -> [Effect] {
        if case .hint = message {
            subscribers[connection] = nil
            return []
        }
        guard let live = sessions.removeValue(forKey: Key(connection: connection, session: message.session)) else { return [] }
        return [.note(SyncNote(.info, "peer gone; dropping its session", ["peer.node": live.machine.client.node]))]
    }

    // MARK: Time and revocation

    /// Forgets sessions whose client has been silent longer than the timeout (none of their
    /// store work in flight: this side is then the one keeping the client waiting), and
    /// subscribers not heard from for longer than theirs.
    private mutating func expireSilent(at now: SyncMoment) -> [Effect] {
        var effects: [Effect] = []
        let silent = sessions.filter { $0.value.busy == 0 && now.monotonic - $0.value.lastHeard > configuration.sessionTimeout }
        for (key, var live) in silent {
            sessions[key] = live
            effects += run(live.machine.expire(), key: key, at: now)
        }
        subscribers = subscribers.filter { now.monotonic - $0.value.lastHeard <= configuration.subscriberTimeout }
        return effects
    }

    private mutating func housekeeping(at now: SyncMoment) -> [Effect] {
        guard now.monotonic >= (lastHousekeeping ?? 0) + configuration.housekeepingInterval else { return [] }
        lastHousekeeping = now.monotonic
        gate.forgetRested(now: now.monotonic)
        forgetIdleConnections()
        return cutOffRevoked()
    }

    /// Forgets the connections with no session, greeting or subscription: a node that
    /// reconnects for every Hello would otherwise grow its set without end. The node's name
    /// stays, so that if it is revoked the listener still closes its connections (only those
    /// with a session or subscription are told why first).
    private mutating func forgetIdleConnections() {
        var inUse = Set(subscribers.keys)
        for key in sessions.keys { inUse.insert(key.connection) }
        for key in greetings.keys { inUse.insert(key.connection) }
        connections = connections.mapValues { $0.intersection(inUse) }
    }

    /// A key revoked while connected loses its connection, not only future ones: each of its
    /// connections is told so (403, session 0), its sessions are forgotten, and every connection
    /// is closed (the others reconnect at once and resume; the revoked key's handshake is
    /// refused from now on).
    private mutating func cutOffRevoked() -> [Effect] {
        guard configuration.authenticates else { return [] }
        let revoked = connections.keys.filter { allowList.entry(node: $0)?.active != true }.sorted()
        guard !revoked.isEmpty else { return [] }
        var effects: [Effect] = []
        for node in revoked {
            for connection in connections.removeValue(forKey: node) ?? [] {
                effects.append(.send(connection, .failure(SyncMessage.Failure(code: .forbidden, reason: Self.revokedReason(node), session: 0))))
                subscribers[connection] = nil
                for key in sessions.keys where key.connection == connection { sessions[key] = nil }
                for key in greetings.keys where key.connection == connection { greetings[key] = nil }
            }
            effects.append(.note(SyncNote(.warning, "cut off a revoked node", ["peer.node": node])))
        }
        return effects + [.closeAllConnections]
    }
}
