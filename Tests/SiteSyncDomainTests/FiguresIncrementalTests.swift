import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore
import SiteSyncTestSupport
import Testing

/// Today's figures refreshed incrementally (``FiguresCache``): only the projects a logged change
/// touches are reassessed, and the result is the same, to the byte, as computing everything.
@Suite struct FiguresIncrementalTests {
    typealias R = ReadModelTests
    static let asOf = R.asOf

    /// A small deterministic generator (SplitMix64), so a failing sequence can be replayed.
    struct Seeded {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
    }

    /// Everything a reader can ask of a snapshot, as the bytes it is served as.
    static func served(_ snapshot: FiguresSnapshot) -> [String] {
        var out = [snapshot.city(.city), snapshot.departments(.city), snapshot.projects(.city, limit: 10_000), snapshot.warnings(.city),
                   .array(snapshot.curveJSON(.city) ?? [])]
        for department in R.departments {
            out += [snapshot.city(.department(department)), snapshot.departments(.department(department)),
                    .array(snapshot.curveJSON(.department(department)) ?? [])]
        }
        return out.map(\.canonicalText)
    }

    /// The served figures of the cache's snapshot equal those computed from everything, and
    /// each roll-up's SPI(t) equals the one-project formula over all its activities at once
    /// (what the roll-up computed before its planned values were kept per project).
    static func expectSameAsFull(_ cache: FiguresCache, _ hub: Node, step: String) throws {
        let incremental = try cache.snapshot(asOf: asOf)
        let full = try FiguresSnapshot.compute(hub, asOf: asOf, generation: incremental.generation)
        #expect(served(incremental) == served(full), "after \(step)")
        #expect(incremental.curve(.city)?.count == Int(asOf.description.dropFirst(5).prefix(2)), "one point a month, after \(step)")
        // This month's review taken from the snapshot is the one computed month end by month end.
        let now = Int64(asOf.daysSinceEpoch) * 86_400_000 + 43_200_000, period = String(asOf.description.prefix(7))
        for scope in [ReadScope.city, .department(R.departments[0])] {
            #expect(try ReadModel.monthly(hub, period: period, scope: scope, now: now, snapshot: incremental).canonicalText
                    == ReadModel.monthly(hub, period: period, scope: scope, now: now).canonicalText, "\(scope) review after \(step)")
        }
        let open = full.assessments.filter { !$0.project.isClosed }
        for rollUp in incremental.rollUps {
            let members = open.filter { rollUp.department.isEmpty || $0.project.department == rollUp.department }
            let all = ProjectInput(id: "", code: "", name: "", department: "", activities: members.flatMap(\.project.activities))
            #expect(rollUp.scheduleIndexByTime == (try ProjectAssessor.scheduleIndexByTime(all, asOf: asOf)),
                    "SPI(t) of \(rollUp.department) after \(step)")
        }
    }

    static func delete(_ hub: Node, _ collection: String, _ id: String) throws {
        try hub.store.write { try hub.planner.planDelete(collection: collection, id: id, reader: $0) }
    }

    /// Random sequences of writes (seeded): progress, costs, percentages, plan changes, a new
    /// activity, an activity deleted, a project closed, a project added, risks, KPIs and readings,
    /// a KPI moved to another project of its department, and a
    /// department record (not under a project: everything is recomputed). After each refresh
    /// the figures served equal a computation from everything.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func incrementalFiguresEqualAFullRecompute(seed: UInt64) throws {
        let root = TemporaryDirectory()
        let hub = try R.city(root, perDepartment: 4)
        let cache = try R.cache(hub)
        _ = try cache.snapshot(asOf: Self.asOf)
        var random = Seeded(state: seed)
        var projects = R.departments.flatMap { department in (0..<4).map { "p-\(department)-\($0)" } }
        var activities = projects.flatMap { ["\($0)-1", "\($0)-2"] }
        var added = 0
        var kpis: [String] = []
        func day() -> String { "2026-\(String(format: "%02d", 2 + random.next(10)))-\(10 + random.next(19))" }
        for step in 0..<24 {
            let project = projects[random.next(projects.count)]
            let what: String
            switch random.next(12) {
            case 0, 1:
                let activity = activities.filter { $0.hasSuffix("-2") }[random.next(activities.filter { $0.hasSuffix("-2") }.count)]
                try hub.writeEntry("quantity_entry", ["activity=\(activity)", "date=\(day())", "quantity=\(1 + random.next(90))"])
                what = "progress on \(activity)"
            case 2:
                let activity = activities[random.next(activities.count)]
                try hub.writeEntry("cost_entry", ["activity=\(activity)", "date=\(day())", "amount=\(100 + random.next(9000)).25"])
                what = "a cost on \(activity)"
            case 3:
                let activity = activities.filter { $0.hasSuffix("-1") }[random.next(activities.filter { $0.hasSuffix("-1") }.count)]
                try hub.writeEntry("percent_entry", ["activity=\(activity)", "date=\(day())", "percent=\(random.next(101))"])
                what = "a percentage on \(activity)"
            case 4:
                let activity = activities[random.next(activities.count)]
                try hub.writeEntry("activity", id: activity, ["budget=\(50_000 + random.next(200_000))", "planned_finish=2027-0\(1 + random.next(6))-15"])
                what = "the plan of \(activity)"
            case 5:
                let id = "\(project)-x\(step)"
                try hub.writeEntry("activity", id: id, ["project=\(project)", "name=Extra", "budget=\(10_000 + random.next(90_000))",
                                                        "ev_method=fifty_fifty", "planned_start=2026-08-0\(1 + random.next(9))",
                                                        "planned_finish=2027-01-20", "actual_start=2026-09-01"])
                activities.append(id)
                what = "a new activity in \(project)"
            case 6:
                let activity = activities.remove(at: random.next(activities.count))
                try Self.delete(hub, "activity", activity)
                what = "activity \(activity) deleted"
            case 7:
                try hub.writeEntry("project", id: project, ["stage=closed"])
                what = "\(project) closed"
            case 8:
                added += 1
                let id = "p-new-\(added)", department = R.departments[random.next(2)]
                try hub.writeEntry("project", id: id, ["code=N-\(added)", "name=New \(added)", "department=\(department)", "budget=90000"])
                try hub.writeEntry("activity", id: "\(id)-1", ["project=\(id)", "name=Lay", "budget=90000", "ev_method=level_of_effort",
                                                               "planned_start=2026-07-01", "planned_finish=2027-02-28"])
                projects.append(id)
                activities.append("\(id)-1")
                what = "project \(id) added in \(department)"
            case 9:
                try hub.writeEntry("risk", ["project=\(project)", "title=Flooding", "probability=\(1 + random.next(5))",
                                            "impact=\(1 + random.next(5))", "raised_on=2026-11-0\(1 + random.next(9))"])
                what = "a risk in \(project)"
            case 10:
                let kpi = try hub.writeEntry("kpi", ["project=\(project)", "name=Lanes", "baseline=0", "target=10", "weight=1"]).id
                kpis.append(kpi)
                try hub.writeEntry("kpi_reading", ["kpi=\(kpi)", "period=2026-11", "value=\(random.next(12))"])
                what = "a KPI with a reading in \(project)"
            default:
                // A KPI (with its readings) moved to a project of either department: the project
                // it left is touched too. (A project itself cannot move: its department is
                // immutable, and a project with activities cannot be deleted.)
                guard let kpi = kpis.last else { continue }
                let department = try hub.store.rows([("SELECT department FROM kpi WHERE id = ?", [kpi])])[0].first?[0] ?? ""
                let target = try #require(try hub.store.rows([("SELECT id FROM project WHERE department = ? ORDER BY id", [department])])[0]
                    .compactMap { $0[0] }.filter { $0 != project }.last)
                try hub.writeEntry("kpi", id: kpi, ["project=\(target)"])
                what = "KPI \(kpi) moved to \(target)"
            }
            if random.next(3) == 0 { continue }  // sometimes several writes before a refresh
            _ = try cache.refreshIfChanged()
            try Self.expectSameAsFull(cache, hub, step: "step \(step): \(what)")
        }
        _ = try cache.refreshIfChanged()
        try Self.expectSameAsFull(cache, hub, step: "the last step")
        // Not every refresh may fall back to everything: most went incrementally.
        #expect(cache.fullComputations < cache.computations / 2, "\(cache.fullComputations) of \(cache.computations) from everything")

        // A record not under a project: everything is recomputed, and still the same.
        let before = cache.fullComputations
        try hub.writeEntry("department", id: "parks", ["name=Parks"])
        #expect(try cache.refreshIfChanged() == true)
        #expect(cache.fullComputations == before + 1)
        try Self.expectSameAsFull(cache, hub, step: "a department record")
    }

    /// A commit that logs no change (a sync history row) moves the generation but touches no
    /// figure: nothing is recomputed, and the same figures are served under the new generation.
    @Test func aBookkeepingWriteRecomputesNothing() throws {
        let root = TemporaryDirectory()
        let hub = try R.city(root)
        let cache = try R.cache(hub)
        let first = try cache.snapshot(asOf: Self.asOf)
        let (computations, reassessments) = (cache.computations, cache.reassessments)
        try hub.store.recordHistory(SyncHistoryEntry(kind: .bundleOut, startedMilliseconds: 1, endedMilliseconds: 2, peer: "office",
                                                     endpoint: "/tmp/x.bundle", ok: true))
        #expect(try cache.generation() != first.generation, "the database changed")
        #expect(try cache.refreshIfChanged() == false, "but no figure did")
        #expect(cache.computations == computations && cache.reassessments == reassessments)
        let after = try cache.snapshot(asOf: Self.asOf)
        #expect(after.generation != first.generation && Self.served(after) == Self.served(first))
        #expect(cache.computations == computations, "the restamped snapshot is held")
    }

    /// One progress write reassesses its project only; the roll-ups still move with it.
    @Test func onlyTheTouchedProjectIsReassessed() throws {
        let root = TemporaryDirectory()
        let hub = try R.city(root, perDepartment: 5)
        let cache = try R.cache(hub)
        let first = try cache.snapshot(asOf: Self.asOf)
        #expect(cache.reassessments == 10 && cache.fullComputations == 1)
        try hub.writeEntry("quantity_entry", ["activity=p-water-3-2", "date=2026-11-20", "quantity=250"])
        #expect(try cache.refreshIfChanged() == true)
        #expect(cache.reassessments == 11, "one project reassessed")
        #expect(cache.fullComputations == 1, "nothing computed from everything")
        let after = try cache.snapshot(asOf: Self.asOf)
        #expect(after.assessment("p-water-3", scope: .city)?.figures.earnedValue == ExactDecimal(50_000))
        #expect(after.rollUps.last!.figures.earnedValue == (try first.rollUps.last!.figures.earnedValue.plus(ExactDecimal(50_000))))
        try Self.expectSameAsFull(cache, hub, step: "one progress write")
    }
}
