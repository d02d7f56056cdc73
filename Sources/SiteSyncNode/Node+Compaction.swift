import Foundation
import Logging
import SiteSyncCore
import SiteSyncStore
import Synchronization

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
    public func compactionPlan(now: UInt64 = StoreOptions.systemClock()) throws -> CompactionPlan {
        guard isHub else {
            throw NodeError(.usage, "only the hub compacts its change log (this node is a \(configuration.role.rawValue)): "
                            + "a node's log holds its own scope, which its peers on site may still ask for")
        }
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

/// Compacts the hub's log every `[compaction] interval` while `serve` runs.
public final class PeriodicCompaction: Sendable {
    let node: Node
    let logger: Logger
    private let stopping = Mutex(false)

    public init(node: Node, logger: Logger) {
        self.node = node
        self.logger = logger
    }

    /// Starts the timer, when the node is the hub and an interval is set.
    public func start() {
        let interval = UInt64(node.configuration.compaction.intervalSeconds) * 1000
        guard node.isHub, interval > 0 else { return }
        let thread = Thread { [self] in
            var next = Self.now() + interval
            while !stopping.withLock({ $0 }) {
                Thread.sleep(forTimeInterval: 0.5)
                guard Self.now() >= next else { continue }
                next = Self.now() + interval
                do {
                    let (plan, report) = try node.compact()
                    logger.info("compacted the change log", metadata: [
                        "removed": "\(report.removedChanges)", "bytes": "\(report.removedBytes)", "remaining": "\(report.remainingChanges)",
                        "beyond_horizon": "\(plan.members.filter { $0.standing == .beyondHorizon }.map(\.node).joined(separator: ","))",
                    ])
                } catch {
                    logger.warning("compaction failed; the log stays as it was", metadata: ["error": "\(error)"])
                }
            }
        }
        thread.name = "sitesync-compaction"
        thread.start()
    }

    public func stop() {
        stopping.withLock { $0 = true }
    }

    private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }
}
