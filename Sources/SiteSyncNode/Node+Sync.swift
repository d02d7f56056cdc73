import Foundation
import Logging
import SiteSyncCore
import SiteSyncNet
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

    /// A client for sync rounds with `endpoint` (default: the configured hub).
    /// - Parameter peerKey: the key of the node at `endpoint` when it is not the hub.
    /// - Parameter progress: told how far each round has got, after each batch.
    public func syncClient(peer endpoint: String? = nil, peerKey: NodePublicKey? = nil, subscribe: Bool = false,
                           progress: (@Sendable (SyncProgress) -> Void)? = nil, logger: Logger) throws -> SyncClient {
        guard let endpoint = endpoint ?? configuration.sync.hub else {
            throw NodeError(.usage,
                "no hub is configured: set `hub` under [sync] in \(dataDirectory)/node.toml, or give --peer tcp://HOST:PORT")
        }
        var options = SyncClientOptions()
        options.limits = limits
        // `timeout_seconds` is how long the hub may move nothing before the round gives up; a
        // round that keeps moving has no limit (a fresh node's first pull may take minutes).
        options.stallTimeout = UInt64(configuration.sync.timeoutSeconds) * 1000
        options.connectTimeout = min(options.stallTimeout, 10_000)
        options.silenceTimeout = min(options.stallTimeout, 10_000)
        options.subscribe = subscribe
        options.progress = progress
        let toHub = endpoint == configuration.sync.hub && peerKey == nil
        // What the hub sends, it has checked against its allow-list (the last word); what a peer
        // sends is checked here against this node's copy of it. Signatures are checked always.
        options.access = toHub ? nil : accessPolicy
        options.peerIsHub = toHub
        if !configuration.sync.insecure {
            let key = try requireKey()
            guard let serverKey = peerKey ?? (toHub ? configuration.sync.hubKey : nil) else {
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

    /// A listener on `endpoint` (default: the configured `listen`), started. The hub checks
    /// keys against its allow-list and hands it to nodes; a node open to peers checks them
    /// against its copy of that list.
    public func startListener(on endpoint: String? = nil, logger: Logger) throws -> SyncServer {
        guard let endpoint = endpoint ?? configuration.sync.listen else {
            throw NodeError(.usage,
                "nowhere to listen: set `listen` under [sync] in \(dataDirectory)/node.toml (e.g. tcp://0.0.0.0:7700), or give --listen")
        }
        var options = SyncServerOptions()
        options.limits = limits
        options.admission = NodeAdmissionLimits(sessionsPerNode: configuration.sync.sessionsPerNode, helloBurst: configuration.sync.helloBurst,
                                                hellosPerSecond: configuration.sync.hellosPerSecond)
        if !configuration.sync.insecure {
            let key = try requireKey()
            let list: @Sendable () -> Directory
            if isHub {
                let file = allowList
                if (try AllowListFile.read(file.path)).isEmpty {
                    logger.warning("the allow-list is empty: no node can sync until one is allowed with `sitesync keys allow`")
                }
                list = { file.current() }
            } else {
                let copy = DirectoryCopy(store: store)
                list = { copy.current() }
            }
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

/// A node's copy of the hub's allow-list, re-read from its database at most once a second.
final class DirectoryCopy: Sendable {
    let store: ReplicaStore
    private let cache = Mutex<(checked: UInt64, directory: Directory)>((0, Directory()))

    init(store: ReplicaStore) {
        self.store = store
    }

    func current() -> Directory {
        let now = DispatchTime.now().uptimeNanoseconds / 1_000_000
        return cache.withLock { cache in
            if cache.checked == 0 || now - cache.checked >= 1_000 {
                cache.checked = now
                if let directory = try? store.directory() { cache.directory = directory }
            }
            return cache.directory
        }
    }
}

/// The long-running node (`sitesync run`): syncs with the hub on an interval, soon after a
/// local change, and at once when the hub hints that it has new data; retries with a capped
/// backoff while the hub is away; optionally listens for peers. Stops with an error when the
/// hub refuses its key or does not hold the key it trusts: retrying cannot fix those.
public final class NodeRunner: Sendable {
    let node: Node
    let logger: Logger
    private let stopping = Mutex(false)

    public init(node: Node, logger: Logger) {
        self.node = node
        self.logger = logger
    }

    public func stop() {
        stopping.withLock { $0 = true }
    }

    private var isStopping: Bool { stopping.withLock { $0 } }

    /// Runs until ``stop()``.
    public func run(listen: Bool) throws {
        let listener = listen ? try node.startListener(logger: logger) : nil
        defer {
            listener?.stop()
            listener?.wait()
        }
        let client = try node.syncClient(subscribe: true, logger: logger)
        let me = node.store.identity.replica
        var lastLocal = try node.store.knowledge()[me]
        var nextRound = monotonicNow()
        var backoff: UInt64 = 1_000
        var localChangeSeen: UInt64?
        while !isStopping {
            let now = monotonicNow()
            if now >= nextRound {
                do {
                    let outcome = try node.syncRound(client)
                    logger.info("synced with \(outcome.summary.peer?.node ?? client.endpoint)", metadata: [
                        "push.applied": "\(outcome.summary.pushedApplied)", "pull.applied": "\(outcome.summary.pulledApplied)",
                        "refused": "\(outcome.summary.refused.count)", "ms": "\(outcome.milliseconds)",
                    ])
                    backoff = 1_000
                    nextRound = monotonicNow() + UInt64(node.configuration.sync.intervalSeconds) * 1000
                    lastLocal = max(lastLocal, (try? node.store.knowledge()[me]) ?? lastLocal)
                } catch where Self.isPermanent(error) {
                    throw error
                } catch {
                    logger.warning("sync with \(client.endpoint) failed; retrying in \(backoff / 1000) s", metadata: ["error": "\(error)"])
                    nextRound = monotonicNow() + backoff
                    backoff = min(backoff * 2, 30_000)
                }
                localChangeSeen = nil
                continue
            }
            // Between rounds: a hint from the hub, or a local write, brings the next round forward.
            do {
                if try client.waitForHint(milliseconds: 200) {
                    nextRound = min(nextRound, monotonicNow())
                    continue
                }
            } catch where Self.isPermanent(error) {
                throw error
            } catch {}
            if let counter = try? node.store.knowledge()[me], counter > lastLocal {
                lastLocal = counter
                localChangeSeen = localChangeSeen ?? monotonicNow()
            }
            // Wait half a second after a local change, so a burst of writes travels together.
            if let seen = localChangeSeen, monotonicNow() - seen >= 500 {
                nextRound = min(nextRound, monotonicNow())
            }
        }
        logger.info("stopping", metadata: ["node": "\(node.configuration.name)"])
    }

    /// Failures a retry cannot fix: those that need a person (a key refused or revoked, a hub
    /// key that does not match), and a new epoch (the node must be opened again).
    static func isPermanent(_ error: NetError) -> Bool {
        error.code == .keyRefused || error.code == .keyMismatch || error.code == .newEpoch
            || (error.code == .refused && error.message.contains("revoked"))
    }

    private func monotonicNow() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }
}
