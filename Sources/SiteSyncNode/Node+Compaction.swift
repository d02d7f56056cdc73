import Foundation
import Logging
import ServiceLifecycle
import SiteSyncCore
import SiteSyncStore

/// Where the hub's stability frontier stands, and who decides it.
public struct CompactionPlan: Sendable {
    /// A registered node and what it counts for.
    public struct Member: Sendable {
        public enum Standing: String, Sendable {
            /// It counts: the frontier stays at or below what it held after its last push.
            case counted
            /// Its last completed sync is older than the horizon: it no longer holds compaction
            /// back, and gets a state transfer when it returns.
            case beyondHorizon = "beyond-horizon"
            /// Never synced with this hub: it will start with a state transfer.
            case neverSynced = "never-synced"
        }

        public let node: String
        public let standing: Standing
        /// When its last sync completed (`nil`: never).
        public let syncedMilliseconds: UInt64?
        /// Changes the hub holds in the node's scope beyond what it counts for (while it
        /// counts, the log keeps them for it).
        public let holdsBack: Int
    }

    /// Every origin's changes up to this counter are held by every counted node.
    public let frontier: VersionVector
    public let members: [Member]
    public let horizonSeconds: Int
}

extension Node {
    /// The stability frontier at the hub: per origin, the least that any registered node held
    /// once its last push was through (and no more than the hub holds itself). Every change
    /// below it is held by every node that counts, and so is every change any of them wrote
    /// before learning of it: a change written in ignorance of it has already arrived here.
    /// Nodes beyond the horizon, or never synced, do not count.
    public func compactionPlan(now: UInt64? = nil) throws -> CompactionPlan {
        guard isHub else {
            throw NodeError(.usage, "only the hub compacts its change log (this node is a \(configuration.role.rawValue)): "
                            + "a node's log holds its own scope, which its peers on site may still ask for")
        }
        // The device's clock: the one the sync times were recorded with.
        let now = now ?? store.wallClock()
        let held = try store.knowledge()
        let peers = Dictionary(try store.peers().map { ($0.node, $0) }) { a, _ in a }
        let listed = allowList.current().entries.filter { $0.active && $0.role != .hub }.map(\.node)
        // Without an allow-list (an insecure hub), every node heard from is registered.
        let registered = listed.isEmpty ? peers.keys.filter { $0 != configuration.name }.sorted() : listed.sorted()
        let horizon = UInt64(configuration.compaction.horizonSeconds) * 1000
        var frontier = held
        var counted: [(node: String, stable: VersionVector)] = []
        var members: [CompactionPlan.Member] = []
        for node in registered {
            guard let peer = peers[node], let synced = peer.syncedMilliseconds else {
                members.append(.init(node: node, standing: .neverSynced, syncedMilliseconds: nil, holdsBack: 0))
                continue
            }
            guard now < synced || now - synced <= horizon else {
                members.append(.init(node: node, standing: .beyondHorizon, syncedMilliseconds: synced, holdsBack: 0))
                continue
            }
            // A node that synced before stable knowledge was recorded holds everything back
            // until its next sync.
            let stable = peer.stableKnowledge ?? VersionVector()
            counted.append((node, stable))
            frontier = VersionVector(frontier.entries.map { ($0.replica, min($0.counter, stable[$0.replica])) })
        }
        for (node, stable) in counted {
            let peer = peers[node]!
            let holdsBack = (try? store.backlog(beyond: stable, scope: peer.scope).count) ?? 0
            members.append(.init(node: node, standing: .counted, syncedMilliseconds: peer.syncedMilliseconds, holdsBack: holdsBack))
        }
        members.sort { $0.node < $1.node }
        return CompactionPlan(frontier: VersionVector(frontier.entries.filter { $0.counter > 0 }.map { ($0.replica, $0.counter) }),
                              members: members, horizonSeconds: configuration.compaction.horizonSeconds)
    }

    /// Compacts the hub's change log below its stability frontier.
    @discardableResult
    public func compact(dryRun: Bool = false) throws -> (plan: CompactionPlan, report: CompactionReport) {
        let plan = try compactionPlan()
        return (plan, try store.compact(below: plan.frontier, dryRun: dryRun))
    }
}

/// Compacts the hub's log every `[compaction] interval` while `serve` runs: a service whose
/// interval is measured on an injected clock (a test advances it instead of waiting).
public struct PeriodicCompaction: Service {
    let interval: Duration
    let clock: ServiceClock
    let logger: Logger
    let compact: @Sendable () throws -> (plan: CompactionPlan, report: CompactionReport)
    /// Compaction holds the hub's writer for as long as it deletes: off the thread pool.
    private let work = BlockingQueue(label: "sitesync.compaction")

    /// Compacts with `compact` every `interval` (the first time one interval after the start).
    public init(every interval: Duration, clock: some Clock<Duration>, logger: Logger,
                compact: @escaping @Sendable () throws -> (plan: CompactionPlan, report: CompactionReport)) {
        self.interval = interval
        self.clock = ServiceClock(clock)
        self.logger = logger
        self.compact = compact
    }

    /// The hub's compaction at its configured interval; `nil` when the node is not the hub or
    /// no interval is set (nothing to run).
    public init?(node: Node, clock: some Clock<Duration>, logger: Logger) {
        let seconds = node.configuration.compaction.intervalSeconds
        guard node.isHub, seconds > 0 else { return nil }
        self.init(every: .seconds(seconds), clock: clock, logger: logger) { try node.compact() }
    }

    public func run() async throws {
        await Periodic.run(every: interval, clock: clock) { [work, compact, logger] in
            await work.run { Self.compactOnce(compact, logger: logger) }
        }
    }

    /// One compaction, logged; a failure is logged too and leaves the log as it was (the next
    /// interval tries again).
    static func compactOnce(_ compact: () throws -> (plan: CompactionPlan, report: CompactionReport), logger: Logger) {
        do {
            let (plan, report) = try compact()
            logger.info("compacted the change log", metadata: [
                "removed": "\(report.removedChanges)", "bytes": "\(report.removedBytes)", "remaining": "\(report.remainingChanges)",
                "beyond_horizon": "\(plan.members.filter { $0.standing == .beyondHorizon }.map(\.node).joined(separator: ","))",
            ])
        } catch {
            logger.warning("compaction failed; the log stays as it was", metadata: ["error": "\(error)"])
        }
    }
}
