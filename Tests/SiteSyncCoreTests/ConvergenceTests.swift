import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore

/// Every replica converges whatever the delivery order, duplication and partial exchanges;
/// nothing written is lost. Seeded: a failure prints the seed that replays it.
@Suite struct ConvergenceTests {
    /// A batch in flight: the prefix of what a sender found the receiver lacked.
    struct Message {
        let to: Int
        let base: VersionVector
        let changes: [Change]
    }

    static func run(seed: UInt64, replicaCount: Int = 5, steps: Int = 300) throws -> [SimReplica] {
        var g = SeededGenerator(seed: seed)
        var replicas = (0..<replicaCount).map { SimReplica(id: ReplicaID(rawValue: UInt64($0 + 1) << 40 | 0x1234)) }
        // What each replica last heard of each other's knowledge (acks may be lost or late).
        var views = Array(repeating: Array(repeating: VersionVector(), count: replicaCount), count: replicaCount)
        var network: [Message] = []
        let keys = (1...3).map { RecordKey(collection: 1, id: "r\($0)") }
        for _ in 0..<steps {
            switch Int.random(in: 0..<10, using: &g) {
            case 0..<4:
                let i = Int.random(in: 0..<replicaCount, using: &g)
                replicas[i].randomWrite(keys.randomElement(using: &g)!, using: &g)
            case 4..<7:
                // A sender cuts a (possibly partial) batch from its stale view of the receiver.
                let from = Int.random(in: 0..<replicaCount, using: &g), to = Int.random(in: 0..<replicaCount, using: &g)
                guard from != to else { continue }
                let lacking = replicas[from].changes(lackedBy: views[from][to])
                network.append(Message(to: to, base: views[from][to],
                                       changes: Array(lacking.prefix(Int.random(in: 0...lacking.count, using: &g)))))
            case 7..<9:
                // Deliver a random message; sometimes keep it around to deliver again.
                guard !network.isEmpty else { continue }
                let index = Int.random(in: 0..<network.count, using: &g)
                let message = network[index]
                if Bool.random(using: &g) { network.remove(at: index) }
                try deliver(message, to: &replicas[message.to])
            default:
                // An acknowledgement: a replica tells another what it holds.
                let from = Int.random(in: 0..<replicaCount, using: &g), to = Int.random(in: 0..<replicaCount, using: &g)
                views[to][from].merge(replicas[from].knowledge)
            }
        }
        // Heal: full exchanges until nothing moves.
        for _ in 0..<3 {
            for from in 0..<replicaCount {
                for to in 0..<replicaCount where from != to {
                    try deliver(Message(to: to, base: replicas[to].knowledge,
                                        changes: replicas[from].changes(lackedBy: replicas[to].knowledge)), to: &replicas[to])
                }
            }
        }
        return replicas
    }

    static func deliver(_ message: Message, to replica: inout SimReplica) throws {
        // A batch cut from a base the receiver does not hold would leave a gap.
        #expect(message.base.isCovered(by: replica.knowledge))
        for change in message.changes { try replica.receive(change) }
    }

    @Test func fiveReplicasConvergeUnderRandomSchedules() async {
        await seededCheck(count: 150) { seed in
            let replicas = try Self.run(seed: seed)
            let reference = canonicalLines(replicas[0].states)
            for replica in replicas.dropFirst() {
                #expect(replica.knowledge == replicas[0].knowledge, "knowledge differs, seed \(seed)")
                #expect(canonicalLines(replica.states) == reference, "visible state differs, seed \(seed)")
                #expect(replica.states == replicas[0].states, "replicated state differs, seed \(seed)")
            }
        }
    }

    @Test func noWriteIsLostOnlySuperseded() async {
        await seededCheck(count: 100) { seed in
            let replicas = try Self.run(seed: seed)
            let final = replicas[0]
            let allChanges = replicas.flatMap(\.log)
            for change in allChanges {
                guard case .upsert(let writes) = change.body else { continue }
                for write in writes {
                    let state = final.states[change.record]!
                    let present = state.versions(of: write.field).contains { $0.dot == change.dot }
                    // Superseded: a later change wrote the same field having seen this one.
                    let superseded = allChanges.contains { later in
                        guard later.record == change.record, later.context.contains(change.dot),
                              case .upsert(let laterWrites) = later.body else { return false }
                        return laterWrites.contains { $0.field == write.field }
                    }
                    if case .updateSet(let add, _) = write.operation, add.isEmpty { continue }
                    #expect(present || superseded, "write \(change.dot) to field \(write.field) lost, seed \(seed)")
                }
            }
        }
    }
}
