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
    /// Told what the listener does, for metrics (`GET /metrics` of the HTTP API).
    public var observer: (any ListenerObserver)?

    public init() {}
}

/// What a listener reports as it works: enough for a Prometheus scrape (sessions open, changes
/// received, applied, refused and sent, how long each apply took). Called on the listener's
/// threads; an implementation only counts.
public protocol ListenerObserver: Sendable {
    func sessionsOpen(_ count: Int)
    /// One received batch: its changes, what applied, what was refused, and the apply's time.
    func batchApplied(received: Int, applied: Int, refused: Int, seconds: Double)
    func changesSent(_ count: Int)
}

/// The listener: a ROUTER socket serving any number of sync sessions (the hub, or a node open
/// to peers). A thin driver: the session table — who each connection is, admission, expiry,
/// revocation — is ``ListenerSessions``, an I/O-free machine; this class moves bytes between it
/// and the socket, hands it the time, and carries out its store work: applies on one writer
/// queue and reads on a concurrent one, so a slow apply never stalls the others' I/O. One
/// thread owns the socket and the machine.
public final class SyncServer: @unchecked Sendable {
    // @unchecked: every mutable field is touched only by the loop thread, except `stopping`
    // and `failureBox` (Mutexes) and `boundEndpoint` (written before `start` returns, read after).
    public private(set) var boundEndpoint = ""
    let store: any ReplicationStore
    let me: PeerIdentity
    let options: SyncServerOptions
    let logger: Logger
    let context: ZMQContext
    private let loop: NetLoop<Posted>
    private let writer = DispatchQueue(label: "sitesync.server.apply")
    private let readers = DispatchQueue(label: "sitesync.server.read", attributes: .concurrent)
    /// Received batches on their way to the store, applied on the writer queue.
    private let received: ReceivedBatches
    private let stopping = Mutex(false)
    private let failureBox = Mutex<NetError?>(nil)
    private let digests = DirectoryDigests()
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    private var zap: ZAPHandler?

    private typealias Sessions = ListenerSessions<Data>

    private enum Posted: Sendable {
        /// A store result, or the facts of a Welcome, for the machine.
        case event(Sessions.Event)
        /// The listener cannot go on safely (its ZAP handler failed).
        case failed(NetError)
        case stop
    }

    public init(store: any ReplicationStore, me: PeerIdentity, options: SyncServerOptions = SyncServerOptions(), context: ZMQContext? = nil,
                logger: Logger) throws(NetError) {
        self.store = store
        self.me = me
        self.options = options
        self.logger = logger
        received = ReceivedBatches(store: store, access: options.access, peerIsHub: false, queue: writer)
        if let context {
            self.context = context
        } else {
            self.context = try ZMQContext()
        }
        loop = try NetLoop()
    }

    /// Why the listener stopped by itself, if it did: it could not listen again after cutting
    /// off a revoked key, or its ZAP handler failed (without it no key would be checked). `nil`
    /// while it serves and after a ``stop()``. Read after ``wait()`` returns.
    public var failure: NetError? { failureBox.withLock { $0 } }

    /// Binds `endpoint` and starts serving on a thread of its own.
    /// - Returns: the endpoint bound (a `*` port resolved).
    @discardableResult
    public func start(endpoint: String) throws(NetError) -> String {
        try Endpoint.validate(endpoint)
        if let security = options.security {
            // Order matters (docs/design.md §10.9): the handler runs and refuses a stranger
            // before the listener's options are set and it binds.
            let handler = try ZAPHandler(context: context, allowList: security.allowList, logger: logger) { [loop] error in
                loop.post(.failed(error))
            }
            zap = handler
            try SecuritySelfTest.run(context: context, key: security.key, handler: handler)
        }
        let socket = try SocketOptions.listenerSocket(context, curve: options.security?.key)
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
        ListenerSessions<Data>.revokedReason(node)
    }

    /// The machine's configuration from the listener's options.
    private var machineConfiguration: Sessions.Configuration {
        var configuration = Sessions.Configuration(me: me, versions: SyncClient.versions)
        configuration.limits = options.limits
        configuration.sessionTimeout = options.sessionTimeout
        configuration.subscriberTimeout = options.subscriberTimeout
        configuration.admission = options.admission
        configuration.authenticates = options.security != nil
        configuration.credential = store.identity.credential
        return configuration
    }

    private func now() -> SyncMoment {
        SyncMoment(monotonic: monotonicMilliseconds(), wall: store.wallClock())
    }

    private func serve(_ socket: ZMQSocket) {
        var machine = Sessions(machineConfiguration)
        var socket = socket
        var failure: NetError?

        func feed(_ event: Sessions.Event) {
            carry(machine.handle(event, at: now()))
        }

        /// Feeds the allow-list in force (re-read each time, so a revocation counts at once).
        func feedAllowList() {
            if let security = options.security { feed(.allowList(security.allowList())) }
        }

        func send(_ peer: Data, _ message: SyncMessage) {
            let delivered: Bool
            do {
                delivered = try socket.send([peer] + SyncFrames.encode(message))
            } catch {
                logger.warning("cannot send to a peer", metadata: ["error": "\(error.message)"])
                delivered = false
            }
            if !delivered { feed(.undeliverable(peer, message)) }
        }

        func carry(_ effects: [Sessions.Effect]) {
            for effect in effects {
                switch effect {
                case .send(let peer, let message):
                    if case .batch(let batch) = message, !batch.changes.isEmpty { options.observer?.changesSent(batch.changes.count) }
                    send(peer, message)
                case .gatherWelcomeFacts(let peer, let session, let hello, let client):
                    gatherWelcomeFacts(peer: peer, session: session, hello: hello, client: client)
                case .read(let peer, let session, let request):
                    read(request, peer: peer, session: session)
                case .apply(let peer, let session, let request):
                    apply(request, peer: peer, session: session)
                case .hint(let subscribers):
                    hint(subscribers, send: send)
                case .recordPeer(let contact):
                    record("the peer heard from") { store in try store.recordPeer(PeerRecord(contact)) }
                case .recordServed(let served):
                    record("the session served") { store in try store.recordHistory(SyncHistoryEntry(served)) }
                case .closeAllConnections:
                    do {
                        socket = try rebind(socket)
                    } catch {
                        failure = error
                    }
                case .note(let note):
                    logger.log(note)
                }
            }
        }

        while failure == nil {
            let timeout = machine.nextDeadline.map { Int(clamping: $0 &- min($0, monotonicMilliseconds())) } ?? 250
            let waited: (readable: [Bool], items: [Posted])
            do {
                waited = try loop.wait([socket], timeout: min(250, max(1, timeout)))
            } catch {
                logger.error("the listener's poll failed; stopping", metadata: ["error": "\(error.message)"])
                failure = error
                break
            }
            for item in waited.items {
                switch item {
                case .stop: feed(.stop)
                case .event(let event): feed(event)
                case .failed(let error): failure = error
                }
            }
            if !machine.isStopping && (waited.readable[0] || socket.isReadable) {
                // At most a few hundred messages per turn, so posted store results keep flowing.
                for _ in 0..<256 {
                    let message: ZMQMessage
                    do {
                        guard let received = try socket.receive(metadata: ["Peer-Address", "User-Id"]) else { break }
                        message = received
                    } catch {
                        // A message that cannot be read whole is lost; the peer's session
                        // times out or its client starts over. The next turn reads on.
                        logger.warning("could not read a message", metadata: ["error": "\(error.message)"])
                        break
                    }
                    receive(message, feed: feed, feedAllowList: feedAllowList)
                }
            }
            feedAllowList()
            if let deadline = machine.nextDeadline, monotonicMilliseconds() >= deadline { feed(.tick) }
            options.observer?.sessionsOpen(machine.openSessions)
            if machine.isStopped { break }
        }
        readers.sync(flags: .barrier) {}
        writer.sync {}
        socket.close()
        if let failure {
            failureBox.withLock { $0 = failure }
            logger.critical("the listener stopped: \(failure.message)", metadata: ["node": "\(me.node)"])
        } else {
            logger.info("listener stopped", metadata: ["node": "\(me.node)"])
        }
    }

    /// Decodes one message and feeds it to the machine, with who sent it as the transport says:
    /// who the peer is comes from the key it connected with (ZAP's User-Id), never from what
    /// its messages claim.
    private func receive(_ message: ZMQMessage, feed: (Sessions.Event) -> Void, feedAllowList: () -> Void) {
        guard message.frames.count >= 2 else { return }
        let peer = message.frames[0]
        let sender = Sessions.Sender(address: message.metadata["Peer-Address"] ?? "?",
                                     keyNode: options.security == nil ? nil : message.metadata["User-Id"] ?? "")
        feedAllowList()
        do {
            feed(.message(peer, try SyncFrames.decode(Array(message.frames.dropFirst()), schema: store.schema), from: sender))
        } catch {
            feed(.malformed(peer, reason: error.message, from: sender))
        }
    }

    private func gatherWelcomeFacts(peer: Data, session: UInt64, hello: SyncMessage.Hello, client: PeerIdentity) {
        let store = store, digests = digests, logger = logger
        let directory = options.sharesDirectory ? options.security?.allowList() : nil
        readers.async { [loop] in
            // At a hub served by several processes over PostgreSQL, a session starts from all
            // the store holds, the other processes' writes included, not from this process's
            // copy as of its last catch-up (docs/design.md §18); nothing to do otherwise.
            do {
                try store.catchUp()
            } catch {
                logger.warning("cannot bring this hub process's copy up to date; the session starts from it as it is",
                               metadata: ["error": "\(error)"])
            }
            var facts: WelcomeFacts?
            do {
                facts = try WelcomeFacts.gather(for: hello, client: client, store: store, directory: directory, digests: digests)
            } catch {
                // The machine answers 503 (retry later) to a Welcome it has no facts for.
                logger.error("cannot read the store to welcome \(client.node)", metadata: ["error": "\(error)"])
            }
            loop.post(.event(.welcomeFacts(peer, session: session, facts)))
        }
    }

    private func read(_ request: ReadRequest, peer: Data, session: UInt64) {
        let store = store
        readers.async { [loop] in
            let event: SessionEvent
            do { event = .read(try store.readPage(request)) } catch { event = SessionStore.failure(error) }
            loop.post(.event(.store(peer, session: session, event)))
        }
    }

    /// Signatures are checked on a reader thread, so the writer only writes; batches that
    /// arrive while it writes are applied together (``ReceivedBatches``).
    private func apply(_ request: ApplyRequest, peer: Data, session: UInt64) {
        let received = received, observer = options.observer
        readers.async { [loop] in
            let checked: CheckedBatch
            do {
                checked = try SessionStore.check(request)
            } catch {
                loop.post(.event(.store(peer, session: session, SessionStore.failure(error))))
                return
            }
            received.submit(request, checked: checked) { outcome, seconds in
                let event: SessionEvent
                switch outcome {
                case .success(let applied):
                    observer?.batchApplied(received: request.changes.count, applied: applied.applied, refused: applied.refusals.count,
                                           seconds: seconds)
                    event = .applied(applied)
                case .failure(let error):
                    event = SessionStore.failure(error)
                }
                loop.post(.event(.store(peer, session: session, event)))
            }
        }
    }

    /// Tells subscribers that changes in their scope arrived, with what this side holds now.
    private func hint(_ subscribers: [Data], send: (Data, SyncMessage) -> Void) {
        let knowledge: VersionVector
        do {
            knowledge = try store.knowledge()
        } catch {
            // A hint only brings a subscriber's next round forward; it syncs on its interval anyway.
            logger.warning("no hint sent: the store could not be read", metadata: ["error": "\(error)"])
            return
        }
        for subscriber in subscribers { send(subscriber, .hint(knowledge: knowledge)) }
    }

    /// Keeps a record on the writer queue; a failure is logged, never the session's: the
    /// session itself is done either way.
    private func record(_ what: String, _ write: @escaping @Sendable (any ReplicationStore) throws -> Void) {
        let store = store, logger = logger
        writer.async {
            do { try write(store) } catch {
                logger.error("could not record \(what)", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Closes every connection by re-binding the endpoint (libzmq has no call to drop one).
    /// - Returns: the socket listening again (a fresh one if re-binding failed).
    /// - Throws: when the listener cannot listen again: it stops, and says why (``failure``).
    private func rebind(_ socket: ZMQSocket) throws(NetError) -> ZMQSocket {
        do {
            try socket.unbind(boundEndpoint)
            // libzmq closes the listener in its I/O thread: the port frees a moment later.
            var attempts = 0
            while true {
                do {
                    try socket.bind(boundEndpoint)
                    return socket
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
                let fresh = try SocketOptions.listenerSocket(context, curve: options.security?.key)
                try fresh.bind(boundEndpoint)
                return fresh
            } catch {
                throw NetError(error.code, "cannot listen on \(boundEndpoint) again after cutting off a revoked key (\(error.message)); "
                               + "the listener stopped: start it again", errno: error.errno)
            }
        }
    }
}

extension Logger {
    /// Logs what a connection machine noted.
    func log(_ note: SyncNote) {
        let level: Logger.Level = switch note.level {
        case .debug: .debug
        case .info: .info
        case .warning: .warning
        case .error: .error
        }
        log(level: level, "\(note.message)", metadata: note.metadata.mapValues { .string($0) })
    }
}
