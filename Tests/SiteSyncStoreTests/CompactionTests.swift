import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// Log compaction and state transfer (issue 7, item 6): the hub lets go of changes below the
/// stability frontier; a node that lacks them (new, or back from beyond the horizon) is brought
/// up to date by a state transfer. Sessions run through their frames against real stores, as
/// in ``SessionSimulationTests``.
@Suite struct CompactionTests {
    typealias Simulation = SessionSimulationTests

    /// A field site in the simulated fleet.
    final class Site {
        let name: String
        let replica: TestReplica
        /// Away: it writes but does not sync, and the frontier no longer counts it.
        var away = false
        /// What it held once its last push was through, as the hub recorded it.
        var stable: VersionVector?

        init(_ name: String) throws {
            self.name = name
            replica = try TestReplica(name: name, role: .field, department: "roads")
        }

        var party: Simulation.Party { Simulation.party(replica, role: .field, department: "roads") }
    }

    /// Law: whatever the schedule of offline writes, deletions, syncs, crashes, compactions,
    /// absences past the horizon and new nodes joining, once everyone syncs again every replica
    /// shows the same records as the hub, every site's own entries are all there, and every
    /// database still passes its audit. A node set up after a compaction starts with a state
    /// transfer. Most schedules must have compacted something and made a state transfer, or
    /// they proved nothing.
    @Test func compactionAndStateTransferConvergeUnderRandomSchedules() async {
        var provingSeeds = 0
        await seededCheck(count: 12) { seed in
            var g = SeededGenerator(seed: seed)
            let office = try TestReplica(name: "office", role: .office, department: "office")
            let hub = try TestReplica(name: "hub", role: .hub, department: "office")
            try seedPlan(office, sendTo: [hub])
            let server = Simulation.party(hub, role: .hub, department: "office")
            var sites = try (1...3).map { try Site("site-\($0)") }
            var entries: Set<String> = []      // quantity entries written at sites: none may be lost
            var issues: [String] = []          // issues created, which any site may edit or delete
            var removed = 0, transfers = 0
            let limits = SessionLimits(batchChanges: Int.random(in: 4...30, using: &g), batchBytes: 64 * 1024,
                                       window: Int.random(in: 1...3, using: &g))

            func sync(_ site: Site) throws {
                _ = try Simulation.sync(site.party, server, limits: limits, crashes: Int.random(in: 0...1, using: &g), using: &g) {
                    client, served in
                    if client.pulledStates > 0 { transfers += 1 }
                    if let stable = served?.peerStableKnowledge { site.stable = stable }
                }
            }
            func compact() throws {
                var frontier = try hub.store.knowledge()
                for site in sites where !site.away {
                    let stable = site.stable ?? VersionVector()
                    frontier = VersionVector(frontier.entries.map { ($0.replica, min($0.counter, stable[$0.replica])) })
                }
                removed += try hub.store.compact(below: frontier).removedChanges
            }

            for site in sites { try sync(site) }
            for step in 0..<70 {
                let site = sites.randomElement(using: &g)!
                switch Int.random(in: 0..<12, using: &g) {
                case 0...3:
                    let id = "q-\(site.name)-\(step)"
                    try site.replica.put("quantity_entry", id, "activity=a\(Int.random(in: 1...2, using: &g))", "date=2026-11-0\(step % 9 + 1)",
                                         "quantity=\(step + 1)")
                    entries.insert(id)
                case 4:
                    let id = "i-\(step)"
                    try site.replica.put("issue", id, "project=p1", "title=Issue \(step)", "priority=medium", "assignees+=\(site.name)", "opened_on=2026-11-02")
                    issues.append(id)
                case 5:
                    // Edit or delete an issue, if this site holds it live (it may be behind, or away).
                    guard let id = issues.randomElement(using: &g) else { break }
                    if Bool.random(using: &g) {
                        _ = try? site.replica.put("issue", id, "title=Edited at \(site.name) \(step)")
                    } else {
                        _ = try? site.replica.delete("issue", id)
                    }
                case 6:
                    try site.replica.put("activity", "a\(Int.random(in: 1...2, using: &g))", "actual_finish=2026-05-\(step % 18 + 10)",
                                         "remarks=\(site.name) at \(step)")
                case 7, 8:
                    if !site.away { try sync(site) }
                case 9:
                    try compact()
                case 10:
                    // A site goes quiet past the horizon, or comes back from it.
                    site.away.toggle()
                    if !site.away { try sync(site) }
                default:
                    if sites.count < 5, Int.random(in: 0..<3, using: &g) == 0 {
                        let newcomer = try Site("site-\(sites.count + 1)")
                        sites.append(newcomer)
                        try sync(newcomer)
                    } else if !site.away {
                        try sync(site)
                    }
                }
            }
            // A node set up now starts from the compacted log: it needs a state transfer.
            try compact()
            let newcomer = try Site("site-new")
            sites.append(newcomer)
            let newcomerNeedsOne = try hub.store.lacksCompacted(VersionVector(), scope: .department("roads"))
            try sync(newcomer)
            // Received as state: its holding of the compacted chains begins where the hub's does.
            let gotOne = try newcomer.replica.store.lacksCompacted(VersionVector(), scope: .department("roads"))
            #expect(gotOne || !newcomerNeedsOne, "seed \(seed): the new node got no state transfer")
            try newcomer.replica.put("quantity_entry", "q-new", "activity=a1", "date=2026-11-30", "quantity=1")
            entries.insert("q-new")
            // Heal: everyone back, everyone syncs until nothing moves; one more compaction on the way.
            for site in sites { site.away = false }
            for round in 0..<3 {
                for site in sites { try sync(site) }
                if round == 0 { try compact() }
            }
            let expected = try hub.store.digest(department: "roads")
            for site in sites {
                #expect(try site.replica.store.digest(department: "roads") == expected, "seed \(seed): \(site.name) differs from the hub")
                let audit = try site.replica.store.audit()
                #expect(audit.broken == nil, "seed \(seed): \(site.name): \(audit.broken ?? "")")
            }
            for id in entries {
                #expect(try hub.value("quantity_entry", id, "quantity") != .null, "seed \(seed): entry \(id) was lost")
            }
            let audit = try hub.store.audit()
            #expect(audit.broken == nil, "seed \(seed): hub: \(audit.broken ?? "")")
            if transfers > 0 && removed > 0 { provingSeeds += 1 }
        }
        #expect(provingSeeds >= 6, "too few schedules compacted and made a state transfer to prove anything")
    }
}
