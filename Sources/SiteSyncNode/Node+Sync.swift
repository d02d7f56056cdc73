import Foundation
import Logging
import SiteSyncCore
import SiteSyncNet
import SiteSyncStore
import Synchronization

extension Node {
    /// This node as its peers see it.
    public var identity: PeerIdentity {
        PeerIdentity(node: configuration.name, replica: store.identity.replica, role: configuration.role,
                     department: configuration.department)
    }

    /// The limits this node asks its peers to respect.
    public var limits: SessionLimits {
        SessionLimits(batchChanges: configuration.sync.batchChanges, batchBytes: configuration.sync.batchBytes,
                      window: configuration.sync.window)
    }

    /// Refuses to talk over the network until the transport is secure or plaintext was chosen.
    func checkTransport() throws {
        guard configuration.sync.insecure else {
            throw NodeError(.configuration,
                "this node is not set up for plaintext, and CURVE encryption needs keys this node does not have: "
                + "for a local experiment, set `insecure = true` under [sync] in \(dataDirectory)/node.toml "
                + "(or create the node with `sitesync init --insecure`)")
        }
    }

    /// A client for sync rounds with `endpoint` (default: the configured hub).
    public func syncClient(peer endpoint: String? = nil, subscribe: Bool = false, logger: Logger) throws -> SyncClient {
        try checkTransport()
        guard let endpoint = endpoint ?? configuration.sync.hub else {
            throw NodeError(.usage,
                "no hub is configured: set `hub` under [sync] in \(dataDirectory)/node.toml, or give --peer tcp://HOST:PORT")
        }
        var options = SyncClientOptions()
        options.limits = limits
        options.deadline = UInt64(configuration.sync.timeoutSeconds) * 1000
        options.connectTimeout = min(options.deadline, 10_000)
        options.silenceTimeout = min(options.deadline, 10_000)
        options.subscribe = subscribe
        return try SyncClient(store: store, me: identity, endpoint: endpoint, options: options, logger: logger)
    }

    /// A listener on `endpoint` (default: the configured `listen`), started.
    public func startListener(on endpoint: String? = nil, logger: Logger) throws -> SyncServer {
        try checkTransport()
        guard let endpoint = endpoint ?? configuration.sync.listen else {
            throw NodeError(.usage,
                "nowhere to listen: set `listen` under [sync] in \(dataDirectory)/node.toml (e.g. tcp://0.0.0.0:7700), or give --listen")
        }
        var options = SyncServerOptions()
        options.limits = limits
        let server = try SyncServer(store: store, me: identity, options: options, logger: logger)
        try server.start(endpoint: endpoint)
        return server
    }

    /// Records a completed round with a peer, so bundles and status know what it holds.
    public func remember(_ outcome: SyncOutcome, via: String) {
        guard let peer = outcome.summary.peer else { return }
        try? store.learnReplicaNames([(peer.replica, peer.node)])
    }
}

/// The long-running node (`sitesync run`): syncs with the hub on an interval, soon after a
/// local change, and at once when the hub hints that it has new data; retries with a capped
/// backoff while the hub is away; optionally listens for peers.
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
                    let outcome = try client.round()
                    node.remember(outcome, via: "sync")
                    logger.info("synced with \(outcome.summary.peer?.node ?? client.endpoint)", metadata: [
                        "push.applied": "\(outcome.summary.pushedApplied)", "pull.applied": "\(outcome.summary.pulledApplied)",
                        "ms": "\(outcome.milliseconds)",
                    ])
                    backoff = 1_000
                    nextRound = monotonicNow() + UInt64(node.configuration.sync.intervalSeconds) * 1000
                    lastLocal = max(lastLocal, (try? node.store.knowledge()[me]) ?? lastLocal)
                } catch {
                    logger.warning("sync with \(client.endpoint) failed; retrying in \(backoff / 1000) s", metadata: ["error": "\(error)"])
                    nextRound = monotonicNow() + backoff
                    backoff = min(backoff * 2, 30_000)
                }
                localChangeSeen = nil
                continue
            }
            // Between rounds: a hint from the hub, or a local write, brings the next round forward.
            if (try? client.waitForHint(milliseconds: 200)) == true {
                nextRound = min(nextRound, monotonicNow())
                continue
            }
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

    private func monotonicNow() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }
}
