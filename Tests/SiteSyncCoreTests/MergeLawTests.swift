import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore

/// Laws of the record state lattice, over states reached by random writes and exchanges.
@Suite struct MergeLawTests {
    static let key = RecordKey(collection: 1, id: "r1")

    /// Runs a random history on four replicas and returns snapshots of the record's state
    /// taken along the way.
    static func reachableStates(seed: UInt64) -> [RecordState] {
        var g = SeededGenerator(seed: seed)
        var replicas = (1...4).map { SimReplica(id: ReplicaID(rawValue: UInt64($0) * 1000)) }
        var snapshots: [RecordState] = []
        for _ in 0..<40 {
            let i = Int.random(in: 0..<replicas.count, using: &g)
            if Bool.random(using: &g) {
                replicas[i].randomWrite(key, using: &g)
            } else {
                let j = Int.random(in: 0..<replicas.count, using: &g)
                let lacking = replicas[j].changes(lackedBy: replicas[i].knowledge)
                for change in lacking.prefix(Int.random(in: 0...lacking.count, using: &g)) {
                    try! replicas[i].receive(change)
                }
            }
            snapshots.append(replicas[i].state(key))
        }
        return snapshots
    }

    @Test func mergeIsCommutativeAssociativeAndIdempotent() async {
        await seededCheck(count: 200) { seed in
            var g = SeededGenerator(seed: seed ^ 0xA5A5)
            let states = Self.reachableStates(seed: seed)
            for _ in 0..<10 {
                let a = states.randomElement(using: &g)!, b = states.randomElement(using: &g)!, c = states.randomElement(using: &g)!
                #expect(a.merged(with: b) == b.merged(with: a), "commutative, seed \(seed)")
                #expect(a.merged(with: b.merged(with: c)) == a.merged(with: b).merged(with: c), "associative, seed \(seed)")
                #expect(a.merged(with: a) == a, "idempotent, seed \(seed)")
            }
        }
    }

    @Test func applyingAChangeEqualsMergingWithTheWritersState() async {
        await seededCheck(count: 200) { seed in
            var g = SeededGenerator(seed: seed)
            var writer = SimReplica(id: ReplicaID(rawValue: 7)), reader = SimReplica(id: ReplicaID(rawValue: 9))
            for _ in 0..<20 {
                if Bool.random(using: &g) {
                    writer.randomWrite(Self.key, using: &g)
                } else {
                    reader.randomWrite(Self.key, using: &g)
                }
                if Int.random(in: 0..<3, using: &g) == 0 {
                    // Op-based delivery to one copy, state-based merge into another: they must agree.
                    var opBased = reader
                    for change in writer.changes(lackedBy: reader.knowledge) { try opBased.receive(change) }
                    let stateBased = reader.state(Self.key).merged(with: writer.state(Self.key))
                    #expect(opBased.state(Self.key) == stateBased, "seed \(seed)")
                    reader = opBased
                }
            }
        }
    }

    @Test func reapplyingAKnownChangeIsANoOp() throws {
        var g = SeededGenerator(seed: 42)
        var a = SimReplica(id: ReplicaID(rawValue: 1))
        let change = a.randomWrite(Self.key, using: &g)
        var state = RecordState(key: Self.key)
        #expect(try state.apply(change, in: sample))
        let once = state
        #expect(try !state.apply(change, in: sample))
        #expect(state == once)
    }

    @Test func aChangeArrivingBeforeItsDependencyIsRefused() throws {
        var a = SimReplica(id: ReplicaID(rawValue: 1))
        a.write(Self.key, .upsert([.assign(1, .text("x"))]))
        let second = a.write(Self.key, .upsert([.assign(1, .text("y"))]))
        var state = RecordState(key: Self.key)
        #expect(throws: CoreError.self) { try state.apply(second, in: sample) }
        #expect(state.isEmpty)
    }
}
