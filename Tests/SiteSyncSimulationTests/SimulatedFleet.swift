import Foundation
import SiteSyncTestSupport
import Synchronization
@testable import SiteSyncCore
@testable import SiteSyncStore

/// Simulated time: one clock for the whole fleet, in milliseconds, and each node's wall clock
/// as that node sees it (skewed, and jumping when the simulation says so). Nothing in a run
/// reads the real clock.
final class SimulatedClock: Sendable {
    private let state = Mutex<(now: UInt64, skews: [String: Int64])>((1_790_000_000_000, [:]))

    var now: UInt64 { state.withLock { $0.now } }

    func advance(to time: UInt64) {
        state.withLock { $0.now = max($0.now, time) }
    }

    /// Moves `node`'s wall clock by `milliseconds` from where it stands (a clock jump).
    func jump(_ node: String, by milliseconds: Int64) {
        state.withLock { $0.skews[node, default: 0] += milliseconds }
    }

    /// `node`'s wall clock now.
    func wall(of node: String) -> UInt64 {
        state.withLock { UInt64(clamping: Int64(clamping: $0.now) + ($0.skews[node] ?? 0)) }
    }
}

/// One node of the simulated fleet: an in-memory store (the real ``ReplicaStore`` over the same
/// SQL, without a file), its identity and what it may write.
final class SimulatedNode {
    let name: String
    let role: Role
    let department: String
    let key: NodeSecretKey
    let clock: SimulatedClock
    private(set) var store: ReplicaStore
    let planner: LocalWritePlanner
    /// Copies of the store taken as backups, oldest first.
    var backups: [ReplicaStore] = []
    /// Down (crashed) until restarted.
    var isUp = true
    /// Refused for good by the hub (its key revoked): it no longer syncs with anyone.
    var isCutOff = false
    /// Every change this node wrote and kept (its local writes that committed), with its department.
    var written: [(dot: Dot, department: String)] = []

    /// Salts for the node's new epochs, drawn from the run's seed.
    private let salts: @Sendable () -> [UInt8]

    /// A copy of `template` living by `clock`, its new epochs salted from `seed`.
    init(name: String, role: Role, department: String, clock: SimulatedClock, template: ReplicaStore, key: NodeSecretKey,
         seed: UInt64) throws {
        self.name = name
        self.role = role
        self.department = department
        self.key = key
        self.clock = clock
        let generator = Mutex(SeededGenerator(seed: seed))
        salts = { generator.withLock { g in (0..<8).map { _ in UInt8.random(in: 0...255, using: &g) } } }
        store = try template.memoryCopy(wallClock: { [clock, name] in clock.wall(of: name) }, epochSalt: salts)
        planner = LocalWritePlanner(schema: .siteSync, writer: WriterIdentity(role: role, department: department))
    }

    var identity: PeerIdentity {
        PeerIdentity(node: name, replica: store.identity.replica, role: role, department: department)
    }

    var scope: ReplicationScope { identity.scope }

    var directoryEntry: DirectoryEntry { DirectoryEntry(node: name, role: role, department: department, key: key.publicKey) }

    /// Writes `assignments` to a record as a person at this node would; a write the rules refuse
    /// here is simply not made (and not counted).
    @discardableResult
    func put(_ collection: String, _ id: String?, _ assignments: [String]) -> Change? {
        do {
            let parsed = try assignments.map { try FieldAssignment(parsing: $0) }
            let change = try store.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
            if let change { written.append((change.dot, change.department)) }
            return change
        } catch {
            return nil
        }
    }

    /// Replaces the store with an older copy of it, as a person copying a backup file back by
    /// hand would: the database does not know it went back.
    func copyBack(_ backup: ReplicaStore) throws {
        store = try backup.memoryCopy(wallClock: { [clock, name] in clock.wall(of: name) }, epochSalt: salts)
    }

    /// Opens the store again (after a new epoch), re-issuing set-aside work as `Node.open` does.
    /// Work set aside under a reused id is written again under the new one: what is owed
    /// from then on is the re-issued change.
    func reopen() throws {
        store = try store.reopened()
        try store.reissueCollided()
        var reissued: [Dot: Dot] = [:]
        for collision in try store.collisions() where collision.state == "reissued" {
            guard let text = collision.reissuedAs, let separator = text.lastIndex(of: ":"),
                  let replica = ReplicaID(hex: String(text[..<separator])), let counter = UInt64(text[text.index(after: separator)...])
            else { continue }
            reissued[collision.dot] = Dot(replica: replica, counter: counter)
        }
        // A dot written twice (before a copy was put back, and again after) was re-issued for
        // its second content only; the first stands at the replicas that hold it.
        for position in written.indices.reversed() {
            if let new = reissued.removeValue(forKey: written[position].dot) { written[position].dot = new }
        }
    }
}
