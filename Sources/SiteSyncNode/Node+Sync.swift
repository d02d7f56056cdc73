import Foundation
import Logging
import SiteSyncCore
import SiteSyncNet
import ServiceLifecycle
import SiteSyncStore
import Synchronization

extension Node {
    /// This node as its peers see it. Behind CURVE the hub ignores the role and department
    /// claimed here and takes them from the node's key.
    public var identity: PeerIdentity {
        let writer = writer
        return PeerIdentity(node: configuration.name, replica: store.identity.replica, role: writer.role, department: writer.department)
    }

    /// The limits this node asks its peers to respect.
    public var limits: SessionLimits {
        SessionLimits(batchChanges: configuration.sync.batchChanges, batchBytes: configuration.sync.batchBytes,
                      window: configuration.sync.window)
    }

    /// Whether this node is the hub (its allow-list decides who may sync and write what).
    public var isHub: Bool { configuration.role == .hub }

    /// The node's keys, or why the network cannot be used without them.
    func requireKey() throws -> NodeSecretKey {
        guard let key else {
            throw NodeError(.configuration,
                "\(keyPath) is missing, so this node can neither sign its changes nor connect securely: restore it from the node's "
                + "backup (a node that lost its key must be re-created with `sitesync init` and allowed again at the hub)")
        }
        return key
    }

    /// A client for sync rounds with `endpoint` (default: the hub's endpoint a round tries
    /// first, ``hubEndpointsInOrder()``). An endpoint of the hub's is dialled with the key
    /// configured for it.
    /// - Parameter peerKey: the key of the node at `endpoint` when it is not the hub.
    /// - Parameter progress: told how far each round has got, after each batch.
    public func syncClient(peer endpoint: String? = nil, peerKey: NodePublicKey? = nil, subscribe: Bool = false,
                           progress: (@Sendable (SyncProgress) -> Void)? = nil, logger: Logger) throws -> SyncClient {
        guard let endpoint = endpoint ?? hubEndpointsInOrder().first?.endpoint else {
            throw NodeError(.usage,
                "no hub is configured: set `hub` under [sync] in \(dataDirectory)/node.toml, or give --peer tcp://HOST:PORT")
        }
        let hub = peerKey == nil ? configuration.sync.hubEndpoints.first { $0.endpoint == endpoint } : nil
        var options = SyncClientOptions()
        options.limits = limits
        // `timeout_seconds` is how long the hub may move nothing before the round gives up; a
        // round that keeps moving has no limit (a fresh node's first pull may take minutes).
        options.stallTimeout = UInt64(configuration.sync.timeoutSeconds) * 1000
        options.connectTimeout = min(options.stallTimeout, 10_000)
        options.silenceTimeout = min(options.stallTimeout, 10_000)
        options.subscribe = subscribe
        options.progress = progress
        let toHub = hub != nil
        // What the hub sends, it has checked against its allow-list (the last word); what a peer
        // sends is checked here against this node's copy of it. Signatures are checked always.
        options.access = toHub ? nil : accessPolicy
        options.peerIsHub = toHub
        if !configuration.sync.insecure {
            let key = try requireKey()
            guard let serverKey = peerKey ?? hub?.key else {
                throw NodeError(.configuration, toHub
                    ? "this node does not know the hub's key, so it cannot check it is talking to the real hub: "
                        + "run `sitesync keys trust-hub --data-dir \(dataDirectory) KEY` with the key `sitesync keys show` prints at the hub "
                        + "(or set `insecure = true` on both sides for a local experiment)"
                    : "give the peer's key with --peer-key (what `sitesync keys show` prints on that node)")
            }
            let writer = writer
            options.security = ClientSecurity(key: key, serverKey: serverKey, refusedAdvice:
                "\(toHub ? "the hub" : "the peer") refused this node's key (it is not on the allow-list, or it was revoked); "
                + "ask the hub operator to run `sitesync keys allow --data-dir HUB --node \(configuration.name) "
                + "--department \(writer.department) --role \(writer.role.rawValue) --key '\(key.publicKey)'`")
        }
        return try SyncClient(store: store, me: identity, endpoint: endpoint, options: options, logger: logger)
    }

    /// Who may connect to this node's listener: at the hub its allow-list file; at a node open
    /// to peers, its copy of that list (from its database, loaded now). Run a
    /// ``DirectoryReload`` of it beside the listener so that changes reach the listener.
    public func listenerDirectory() -> any ReloadableDirectory {
        if isHub { return allowList }
        let copy = DirectoryCopy(store: store)
        copy.reload()
        return copy
    }

    /// A listener on `endpoint` (default: the configured `listen`), started. The hub checks
    /// keys against its allow-list and hands it to nodes; a node open to peers checks them
    /// against its copy of that list.
    /// - Parameter directory: that list (default: ``listenerDirectory()``).
    public func startListener(on endpoint: String? = nil, directory: (any ReloadableDirectory)? = nil,
                              observer: (any ListenerObserver)? = nil, logger: Logger) throws -> SyncServer {
        guard let endpoint = endpoint ?? configuration.sync.listen else {
            throw NodeError(.usage,
                "nowhere to listen: set `listen` under [sync] in \(dataDirectory)/node.toml (e.g. tcp://0.0.0.0:7700), or give --listen")
        }
        var options = SyncServerOptions()
        options.limits = limits
        options.observer = observer
        options.admission = NodeAdmissionLimits(sessionsPerNode: configuration.sync.sessionsPerNode, helloBurst: configuration.sync.helloBurst,
                                                hellosPerSecond: configuration.sync.hellosPerSecond)
        if !configuration.sync.insecure {
            let key = try requireKey()
            if isHub, (try allowList.read()).isEmpty {
                logger.warning("the allow-list is empty: no node can sync until one is allowed with `sitesync keys allow`")
            }
            let directory = directory ?? listenerDirectory()
            let list: @Sendable () -> Directory = { directory.current() }
            options.security = ServerSecurity(key: key, allowList: list)
            options.access = AccessPolicy(authoritative: isHub) { list() }
            options.sharesDirectory = isHub
        }
        let server = try SyncServer(store: store, me: identity, options: options, logger: logger)
        try server.start(endpoint: endpoint)
        return server
    }

    /// Runs one round with `client`'s peer and records it: in the sync history (a failure too,
    /// with its reason), and when it completes, what the peer holds and how far its clock is
    /// off this node's (for `status`: what is pending, when it last synced).
    public func syncRound(_ client: SyncClient) throws(NetError) -> SyncOutcome {
        let started = StoreOptions.systemClock()
        let outcome: SyncOutcome
        do {
            outcome = try client.round()
        } catch {
            let known = try? store.history(limit: 100, kinds: [.sync]).first { $0.endpoint == client.endpoint && !$0.peer.isEmpty }
            var entry = SyncHistoryEntry(kind: .sync, startedMilliseconds: started, endedMilliseconds: StoreOptions.systemClock(),
                                         peer: known?.peer ?? "", endpoint: client.endpoint, ok: false)
            entry.errorCode = error.code.rawValue
            entry.error = error.message
            try? store.recordHistory(entry)
            throw error
        }
        let summary = outcome.summary
        let ended = StoreOptions.systemClock()
        if let peer = summary.peer {
            try? store.learnReplicaNames([(peer.replica, peer.node)])
            try? store.recordPeer(PeerRecord(node: peer.node, replica: peer.replica, role: peer.role, department: peer.department,
                                             knowledge: summary.peerKnowledge, exchangedMilliseconds: ended, via: "sync",
                                             syncedMilliseconds: ended, clockOffsetMilliseconds: outcome.peerClockOffset))
        }
        var entry = SyncHistoryEntry(kind: .sync, startedMilliseconds: started, endedMilliseconds: ended, peer: summary.peer?.node ?? "",
                                     endpoint: client.endpoint, ok: true)
        entry.pushed = summary.pushedApplied + summary.pushedKnown + summary.refused.count
        entry.pushedNew = summary.pushedApplied
        entry.pulled = summary.pulledApplied + summary.pulledKnown
        entry.pulledNew = summary.pulledApplied
        entry.refused = summary.refused.count
        entry.bytesSent = outcome.bytesSent
        entry.bytesReceived = outcome.bytesReceived
        entry.clockOffsetMilliseconds = outcome.peerClockOffset
        try? store.recordHistory(entry)
        return outcome
    }
}

/// A node's copy of the hub's allow-list, as its database holds it (the hub hands it over in
/// each round). Re-read by ``reload()``, from a ``DirectoryReload`` service; ``current()``
/// costs no database read, so the listener may ask for it with every message.
final class DirectoryCopy: ReloadableDirectory {
    let store: ReplicaStore
    private let cache = Mutex(Directory())

    init(store: ReplicaStore) {
        self.store = store
    }

    func current() -> Directory {
        cache.withLock { $0 }
    }

    func reload() {
        // A database busy beyond its timeout, or closing: the copy in force stays, and the next
        // reload tries again. Nothing else can be done with the error here.
        guard let directory = try? store.directory() else { return }
        cache.withLock { $0 = directory }
    }
}

/// How ``NodeRunner`` paces its rounds.
public struct RunnerTiming: Sendable {
    /// Between rounds when nothing happens (`[sync] interval_seconds`).
    public var interval: Duration
    /// How long after a local write the round starts, so that a burst of writes travels together.
    public var debounce: Duration = .milliseconds(500)
    /// The first wait after a failed round; it doubles with each failure in a row, up to ``maxBackoff``.
    public var firstBackoff: Duration = .seconds(1)
    public var maxBackoff: Duration = .seconds(30)
    /// The longest wait for a hint: local writes are looked for between two waits.
    public var poll: Duration = .milliseconds(200)

    public init(interval: Duration) {
        self.interval = interval
    }
}

/// What ``NodeRunner`` drives: this node's connection to the hub. The real one is
/// ``HubConnection``; tests give a fake whose rounds fail or succeed as they say.
public protocol SyncDriver: Sendable {
    /// One sync round (the driver logs what it moved). Throws ``NetError`` when it fails.
    func round() async throws
    /// Waits up to `timeout` (on the runner's clock) for the hub's hint that it has news for
    /// this node; `true` when one came.
    func waitForHint(upTo timeout: Duration) async throws -> Bool
    /// The counter of this node's latest own change (`nil`: it cannot be read just now).
    func localCounter() -> UInt64?
}

/// When the next round is due: the runner's bookkeeping, on its clock's time and free of I/O.
struct SyncSchedule {
    let timing: RunnerTiming
    private(set) var nextRound: Duration
    /// The wait after the next failure.
    private(set) var backoff: Duration
    /// The latest own change already taken into account.
    private var lastLocal: UInt64
    /// When a local write not yet synced was first noticed.
    private var localChangeSeen: Duration?

    /// The first round is due at once.
    init(timing: RunnerTiming, localCounter: UInt64, now: Duration) {
        self.timing = timing
        nextRound = now
        backoff = timing.firstBackoff
        lastLocal = localCounter
    }

    func isDue(at now: Duration) -> Bool { now >= nextRound }

    /// A round went through: the next one in an interval; the backoff starts over; local
    /// writes made until now went with it.
    mutating func succeeded(at now: Duration, localCounter: UInt64?) {
        backoff = timing.firstBackoff
        nextRound = now + timing.interval
        lastLocal = max(lastLocal, localCounter ?? lastLocal)
        localChangeSeen = nil
    }

    /// A round failed: retry after the backoff, which doubles up to its cap. Returns the wait.
    mutating func failed(at now: Duration) -> Duration {
        let wait = backoff
        nextRound = now + wait
        backoff = min(backoff * 2, timing.maxBackoff)
        localChangeSeen = nil
        return wait
    }

    /// The hub has news: the round starts at once.
    mutating func hinted(at now: Duration) {
        nextRound = min(nextRound, now)
    }

    /// A local write brings the round forward, once the debounce has passed since it was noticed.
    mutating func observe(localCounter: UInt64?, at now: Duration) {
        if let counter = localCounter, counter > lastLocal {
            lastLocal = counter
            localChangeSeen = localChangeSeen ?? now
        }
        if let seen = localChangeSeen, now - seen >= timing.debounce {
            nextRound = min(nextRound, now)
        }
    }

    /// How long to wait for a hint now: at most a poll, and no later than the round is due.
    func wait(at now: Duration) -> Duration {
        var until = nextRound
        if let seen = localChangeSeen { until = min(until, seen + timing.debounce) }
        return max(.zero, min(timing.poll, until - now))
    }
}

/// The long-running node (`sitesync run`), as a service: syncs with the hub on an interval,
/// soon after a local change, and at once when the hub hints that it has new data; retries with
/// a capped backoff while the hub is away. Stops with an error when the hub refuses its key or
/// does not hold the key it trusts (retrying cannot fix those), and on graceful shutdown once
/// the round in progress is through. Its timing is measured on an injected clock.
public final class NodeRunner: Service {
    let driver: any SyncDriver
    let timing: RunnerTiming
    let clock: ServiceClock
    let logger: Logger

    public init(driver: any SyncDriver, timing: RunnerTiming, clock: some Clock<Duration>, logger: Logger) {
        self.driver = driver
        self.timing = timing
        self.clock = ServiceClock(clock)
        self.logger = logger
    }

    /// The runner of `node`, with the hub as configured.
    public convenience init(node: Node, clock: some Clock<Duration> = ContinuousClock(), logger: Logger) throws {
        self.init(driver: try HubConnection(node: node, logger: logger),
                  timing: RunnerTiming(interval: .seconds(node.configuration.sync.intervalSeconds)), clock: clock, logger: logger)
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown { try await self.loop() }
        logger.info("stopping")
    }

    private func loop() async throws {
        var schedule = SyncSchedule(timing: timing, localCounter: driver.localCounter() ?? 0, now: clock.now)
        while !Task.isCancelled {
            if schedule.isDue(at: clock.now) {
                do {
                    try await driver.round()
                    schedule.succeeded(at: clock.now, localCounter: driver.localCounter())
                } catch where Self.stopsTheRunner(error) {
                    throw error
                } catch {
                    let wait = schedule.failed(at: clock.now)
                    logger.warning("sync with the hub failed; retrying in \(wait.components.seconds) s", metadata: ["error": "\(error)"])
                }
                continue
            }
            // Between rounds: a hint from the hub, or a local write, brings the next round forward.
            let wait = schedule.wait(at: clock.now)
            do {
                if try await driver.waitForHint(upTo: wait) {
                    schedule.hinted(at: clock.now)
                    continue
                }
            } catch where Self.stopsTheRunner(error) {
                throw error
            } catch is CancellationError {
                return
            } catch {
                // The next round tries the connection again and reports what fails; until then
                // the wait is spent here, not in a loop of failing waits. (Cancelled, the sleep
                // throws, and the loop ends at its condition.)
                try? await clock.sleep(until: clock.now + wait)
            }
            schedule.observe(localCounter: driver.localCounter(), at: clock.now)
        }
    }

    /// The one place the runner decides that an error ends it: a failure a retry cannot fix
    /// (``NetError/isPermanent``, decided by codes, never by the English of a message).
    static func stopsTheRunner(_ error: any Error) -> Bool {
        (error as? NetError)?.isPermanent ?? false
    }
}

/// The runner's connection to the hub: a subscribed ``SyncClient`` whose rounds and hint waits
/// run on one serial queue, off the thread pool (see ``BlockingQueue``). With several hub
/// endpoints, a round moves on from one that does not answer (``Node/syncWithHub(reusing:subscribe:progress:logger:)``)
/// and the client of the one that answered is kept, for its hints, until a round moves again.
final class HubConnection: SyncDriver, @unchecked Sendable {
    // @unchecked: `client` is used and replaced on `io` only, one call at a time (a libzmq
    // socket belongs to one thread at a time); everything else is immutable.
    private var client: SyncClient
    private let node: Node
    private let logger: Logger
    private let io = BlockingQueue(label: "sitesync.sync")

    init(node: Node, logger: Logger) throws {
        client = try node.syncClient(subscribe: true, logger: logger)
        self.node = node
        self.logger = logger
    }

    func round() async throws {
        try await io.run { [self] in
            let round = try node.syncWithHub(reusing: client, subscribe: true, logger: logger)
            client = round.client
            let outcome = round.outcome
            logger.info("synced with \(outcome.summary.peer?.node ?? client.endpoint)", metadata: [
                "push.applied": "\(outcome.summary.pushedApplied)", "pull.applied": "\(outcome.summary.pulledApplied)",
                "refused": "\(outcome.summary.refused.count)", "ms": "\(outcome.milliseconds)",
            ])
        }
    }

    func waitForHint(upTo timeout: Duration) async throws -> Bool {
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return try await io.run { [self] in try client.waitForHint(milliseconds: milliseconds) }
    }

    func localCounter() -> UInt64? {
        // A store busy beyond its timeout: the next look (a poll later) sees the write.
        try? node.store.knowledge()[node.store.identity.replica]
    }
}
