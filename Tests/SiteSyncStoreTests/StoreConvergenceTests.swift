import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore

/// Five SQLite replicas (an office and four field sites) write at random, exchange partial
/// batches in random order with duplicates, then heal: every digest must be equal and every
/// change held everywhere. Seeded; a failure prints the seed that replays it.
@Suite struct StoreConvergenceTests {
    struct Message {
        let to: Int
        let base: VersionVector
        let changes: CheckedBatch
        let claim: KnowledgeClaim
    }

    static func randomWrite<G: RandomNumberGenerator>(_ replica: TestReplica, office: Bool, using g: inout G) {
        let activity = ["a1", "a2", "a3"].randomElement(using: &g)!
        let date = "2026-11-0\(Int.random(in: 1...4, using: &g))"
        let text = ["x", "y", "z"].randomElement(using: &g)!
        let number = Int.random(in: 0...4, using: &g)
        let status = ["not_started", "in_progress", "completed"].randomElement(using: &g)!
        let issueStatus = ["open", "in_progress", "resolved"].randomElement(using: &g)!
        let priority = ["low", "high"].randomElement(using: &g)!
        // Refused edits (an absent set element, a deleted record...) are part of life; skip them.
        switch Int.random(in: 0..<12, using: &g) {
        case 0: _ = try? replica.put("percent_entry", nil, "activity=\(activity)", "date=\(date)", "percent=\(number * 25)")
        case 1: _ = try? replica.put("activity", activity, "status=\(status)", "actual_start=\(date)", "actual_finish=\(date)")
        case 2: _ = try? replica.put("activity", activity, "actual_start=\(date)", "actual_finish=\(date)")
        case 3: _ = try? replica.put("activity", activity, "remarks=\(text)")
        case 4: _ = try? replica.put("daily_log", nil, "project=p1", "date=\(date)", "crew_count=\(number + 1)", "weather=\(text)",
                                     "summary=\(text)")
        case 5: _ = try? replica.put("issue", "i1", "assignees+=\(text)", "priority=\(priority)")
        case 6: _ = try? replica.put("issue", "i1", "assignees-=\(text)")
        case 7: _ = try? replica.put("issue", "i1", "status=\(issueStatus)", "closed_on=\(date)")
        case 8: _ = try? replica.put("quantity_entry", nil, "activity=\(activity)", "date=\(date)", "quantity=\(number + 1)")
        case 9: _ = try? replica.delete("issue", "i2")
        case 10: _ = try? replica.put("issue", "i2", "project=p1", "title=\(text)", "opened_on=\(date)")
        default: if office { _ = try? replica.put("activity", activity, "name=\(text)", "budget=\(number + 1)000") }
        }
    }

    /// A field site's view covers only its department, so to the office it vouches only for
    /// its own changes.
    static func vouched(_ sender: TestReplica, to receiver: TestReplica, fromOffice: Bool, toOffice: Bool) throws -> VersionVector {
        KnowledgeClaim.vouched(
            senderKnowledge: try sender.store.knowledge(), sender: sender.store.identity.replica,
            senderScope: fromOffice ? .everything : .department("roads"), cutFor: .everything,
            receiverScope: toOffice ? .everything : .department("roads"))
    }

    static func run(seed: UInt64, steps: Int = 120) throws -> [TestReplica] {
        var g = SeededGenerator(seed: seed)
        let office = try TestReplica(name: "office", role: .office)
        let sites = try (1...4).map { try TestReplica(name: "site-\($0)", role: .field) }
        let replicas = [office] + sites
        try seedPlan(office, sendTo: sites)
        try office.put("issue", "i1", "project=p1", "title=Drain blocked", "opened_on=2026-11-01")
        try office.put("issue", "i2", "project=p1", "title=Fence", "opened_on=2026-11-01")
        for site in sites { try office.send(to: site) }
        let n = replicas.count
        var views = try replicas.map { _ in try replicas.map { try $0.store.knowledge() } }
        var network: [Message] = []
        for _ in 0..<steps {
            switch Int.random(in: 0..<10, using: &g) {
            case 0..<4:
                let i = Int.random(in: 0..<n, using: &g)
                randomWrite(replicas[i], office: i == 0, using: &g)
            case 4..<7:
                let from = Int.random(in: 0..<n, using: &g), to = Int.random(in: 0..<n, using: &g)
                guard from != to else { continue }
                // A random prefix of what the receiver lacks, cut (as every page is) where its chains are sealed.
                let lacking = try replicas[from].store.changes(lackedBy: views[from][to]).changes.count
                let page = try replicas[from].store.page(lackedBy: views[from][to], scope: .everything, after: 0,
                                                         limit: Int.random(in: 0...lacking, using: &g), maxBytes: .max)
                let vouched = try Self.vouched(replicas[from], to: replicas[to], fromOffice: from == 0, toOffice: to == 0)
                let claim: KnowledgeClaim = page.exhausted ? .complete(vouched: vouched) : .inOrder(vouched: vouched)
                network.append(Message(to: to, base: views[from][to], changes: try CheckedBatch(page, schema: .siteSync), claim: claim))
            case 7..<9:
                guard !network.isEmpty else { continue }
                let index = Int.random(in: 0..<network.count, using: &g)
                let message = network[index]
                if Bool.random(using: &g) { network.remove(at: index) }
                #expect(message.base.isCovered(by: try replicas[message.to].store.knowledge()), "seed \(seed)")
                try replicas[message.to].store.apply(message.changes, claim: message.claim)
            default:
                let from = Int.random(in: 0..<n, using: &g), to = Int.random(in: 0..<n, using: &g)
                views[to][from].merge(try replicas[from].store.knowledge())
            }
        }
        for _ in 0..<2 {
            for from in 0..<n {
                for to in 0..<n where from != to {
                    let batch = try replicas[from].changes(lackedBy: replicas[to].store.knowledge())
                    let claim = KnowledgeClaim.complete(vouched: try Self.vouched(replicas[from], to: replicas[to], fromOffice: from == 0,
                                                                                  toOffice: to == 0))
                    try replicas[to].store.apply(batch, claim: claim)
                }
            }
        }
        return replicas
    }

    @Test func fiveSQLiteReplicasConvergeUnderRandomSchedules() async {
        await seededCheck(count: 25) { seed in
            let replicas = try Self.run(seed: seed)
            let digest = try replicas[0].store.digest()
            let changes = try replicas[0].store.counts().changes
            for replica in replicas.dropFirst() {
                #expect(try replica.store.digest() == digest, "seed \(seed): \(replica.store.identity.node) differs")
                #expect(try replica.store.counts().changes == changes, "seed \(seed): \(replica.store.identity.node) lacks changes")
            }
            for replica in replicas {
                #expect(try replica.store.integrityCheck() == ["ok"])
            }
        }
    }
}
