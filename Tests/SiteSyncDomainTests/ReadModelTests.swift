import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore
import SiteSyncTestSupport
import Testing

/// The read model an HTTP API serves: figures from cached snapshots, cut to a reader's scope.
@Suite struct ReadModelTests {
    typealias T = ReportDeterminismTests
    static let asOf = CalendarDate("2026-11-30")!
    static let departments = ["roads", "water"]

    /// A hub holding `perDepartment` projects in each of roads and water, each with an activity
    /// overdue by the cut-off (a red warning) and one under way; every tenth project is closed.
    static func city(_ root: TemporaryDirectory, perDepartment: Int = 2) throws -> Node {
        let hub = try T.node(root, "hub", .hub)
        for department in departments { try hub.writeEntry("department", id: department, ["name=\(department.capitalized)"]) }
        for index in 0..<perDepartment {
            for department in departments {
                let id = "p-\(department)-\(index)", code = "\(department.prefix(1).uppercased())-\(1000 + index)"
                try hub.writeEntry("project", id: id, ["code=\(code)", "name=Project \(index)", "department=\(department)", "budget=300000"]
                                   + (index % 10 == 9 ? ["stage=closed"] : []))
                try hub.writeEntry("activity", id: "\(id)-1", ["project=\(id)", "name=Survey", "budget=100000", "ev_method=manual",
                                                               "planned_start=2026-09-01", "planned_finish=2026-10-31"])
                try hub.writeEntry("activity", id: "\(id)-2", ["project=\(id)", "name=Earthworks", "budget=200000", "budget_quantity=1000",
                                                               "unit=m3", "ev_method=units", "planned_start=2026-10-01",
                                                               "planned_finish=2027-03-31"])
            }
        }
        return hub
    }

    static func cache(_ node: Node) throws -> FiguresCache {
        try FiguresCache(node: node, today: { ReadModelTests.asOf })
    }

    static func objects(_ value: JSONValue) -> [[String: JSONValue]] {
        guard case .array(let items) = value else { return [] }
        return items.compactMap { if case .object(let members) = $0 { members } else { nil } }
    }

    static func member(_ value: JSONValue, _ key: String) -> JSONValue? {
        if case .object(let members) = value { members[key] } else { nil }
    }

    // MARK: - Scope

    /// A roads reader sees roads only: its projects, warnings, conflicts and figures; a water
    /// project's detail is not found for it.
    @Test func aDepartmentScopeNeverShowsAnotherDepartment() throws {
        let root = TemporaryDirectory()
        let hub = try Self.city(root)
        let office = try T.node(root, "office", .office)
        try hub.writeEntry("kpi", id: "k-roads", ["project=p-roads-0", "name=Pass rate", "baseline=80", "target=98"])
        try hub.writeEntry("kpi", id: "k-water", ["project=p-water-0", "name=Pass rate", "baseline=80", "target=98"])
        try T.send(from: hub, to: office)
        // Concurrent readings of the same month on two nodes: an open conflict in each department.
        for kpi in ["k-roads", "k-water"] {
            try hub.writeEntry("kpi_reading", ["kpi=\(kpi)", "period=2026-11", "value=97"])
            try office.writeEntry("kpi_reading", ["kpi=\(kpi)", "period=2026-11", "value=91"])
        }
        try T.send(from: office, to: hub)

        let roads = ReadScope.department("roads")
        let snapshot = try Self.cache(hub).snapshot(asOf: Self.asOf)
        let projects = Self.objects(Self.member(snapshot.projects(roads), "items") ?? .null)
        #expect(projects.count == 2 && projects.allSatisfy { $0["department"] == .string("roads") }, "\(projects)")
        let warnings = Self.objects(snapshot.warnings(roads))
        #expect(!warnings.isEmpty && warnings.allSatisfy { $0["department"] == .string("roads") }, "\(warnings)")
        #expect(Self.objects(snapshot.warnings(.city)).count == 2 * warnings.count)
        #expect(Self.member(snapshot.city(roads), "projects") == .number("2"))
        #expect(Self.member(snapshot.city(.city), "projects") == .number("4"))
        #expect(Self.member(snapshot.city(.city), "departments") == .int(2))
        #expect(Self.objects(snapshot.departments(roads)).map { $0["department"] } == [.string("roads")])
        #expect(Self.objects(snapshot.departments(.city)).map { $0["department"] } == [.string("roads"), .string("water"), .string("")])

        let conflicts = Self.objects(try ReadModel.conflicts(hub, scope: roads))
        #expect(conflicts.count == 1 && conflicts.first?["department"] == .string("roads"), "\(conflicts)")
        #expect(Self.objects(try ReadModel.conflicts(hub, scope: .city)).count == 2)
        #expect(try ConflictReview.entries(hub, scope: .department("water")).map(\.department) == ["water"])

        #expect(try ReadModel.project(hub, code: "W-1000", asOf: Self.asOf, scope: roads) == nil)
        #expect(try ReadModel.project(hub, code: "W-1000", asOf: Self.asOf, scope: .city) != nil)
        #expect(try ReadModel.project(hub, code: "r-1000", asOf: Self.asOf, scope: roads) != nil, "codes are case-insensitive")

        let monthly = try ReadModel.monthly(hub, period: "2026-11", scope: roads, now: T.now)
        let rows = Self.objects(Self.member(monthly, "projects") ?? .null)
        #expect(rows.count == 2 && rows.allSatisfy { $0["department"] == .string("roads") }, "\(rows)")
        #expect(Self.objects(Self.member(try ReadModel.monthly(hub, period: "2026-11", scope: .city, now: T.now), "projects") ?? .null)
            .count == 4)
    }

    // MARK: - Snapshots

    /// Nothing changed: the same snapshot, computed once. A progress write changes the figures
    /// and the generation, seen by a request and by the background refresh.
    @Test func aSnapshotIsReusedUntilAWriteChangesIt() throws {
        let root = TemporaryDirectory()
        let hub = try Self.city(root)
        let cache = try Self.cache(hub)
        let first = try cache.snapshot(asOf: Self.asOf)
        let again = try cache.snapshot(asOf: Self.asOf)
        #expect(first === again && first.generation == again.generation)
        #expect(try cache.refreshIfChanged() == false, "nothing changed: nothing to recompute")
        #expect(cache.computations == 1)

        _ = try hub.recordProgress(ProgressEntry(activity: "p-roads-0-2", quantity: "500", date: CalendarDate("2026-11-20")!),
                                   today: Self.asOf)
        #expect(try cache.refreshIfChanged() == true)
        let after = try cache.snapshot(asOf: Self.asOf)
        #expect(after !== first && after.generation != first.generation)
        #expect(cache.computations == 2)
        func earned(_ snapshot: FiguresSnapshot) -> ExactDecimal? { snapshot.assessment("R-1000", scope: .city)?.figures.earnedValue }
        #expect(earned(first) == .zero && earned(after) == ExactDecimal(100_000), "500 of 1,000 m3 of a 200,000 activity")

        // Another date is computed on demand and kept; a write makes it stale too.
        let november = try cache.snapshot(asOf: CalendarDate("2026-11-15")!)
        #expect(try cache.snapshot(asOf: CalendarDate("2026-11-15")!) === november)
        try hub.writeEntry("cost_entry", ["activity=p-roads-0-2", "date=2026-11-10", "amount=1234.5"])
        let recomputed = try cache.snapshot(asOf: CalendarDate("2026-11-15")!)
        #expect(recomputed !== november && recomputed.assessment("R-1000", scope: .city)?.figures.actualCost == ExactDecimal("1234.5")!)
    }

    /// A write by another connection (here, another opening of the same database, as a
    /// `sitesync` command beside the server would) is seen too.
    @Test func aWriteByAnotherProcessIsSeen() throws {
        let root = TemporaryDirectory()
        let hub = try Self.city(root)
        let cache = try Self.cache(hub)
        let before = try cache.snapshot(asOf: Self.asOf)
        let other = try Node.open(at: hub.dataDirectory)
        _ = try other.recordProgress(ProgressEntry(activity: "p-water-0-2", quantity: "250", date: CalendarDate("2026-11-20")!),
                                     today: Self.asOf)
        let after = try cache.snapshot(asOf: Self.asOf)
        #expect(after.generation != before.generation)
        #expect(after.assessment("W-1000", scope: .city)?.figures.earnedValue == ExactDecimal(50_000))
    }

    // MARK: - Lists

    /// 200 projects: a page counts every project that passes, and filters count alike.
    static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .number(let text)?: Double(text)
        case .int(let number)?: Double(number)
        default: nil
        }
    }

    @Test func pagesAndFiltersCountTheWholeList() throws {
        let root = TemporaryDirectory()
        let hub = try Self.city(root, perDepartment: 100)
        let snapshot = try Self.cache(hub).snapshot(asOf: Self.asOf)
        let page = snapshot.projects(.city, limit: 20, offset: 40)
        #expect(Self.member(page, "total") == .int(200) && Self.member(page, "limit") == .int(20) && Self.member(page, "offset") == .int(40))
        let items = Self.objects(Self.member(page, "items") ?? .null)
        #expect(items.count == 20 && items.first?["code"] == .string("R-1040"), "code order: R-1000…R-1099 then W-…")
        let tail = Self.objects(Self.member(snapshot.projects(.city, limit: 20, offset: 190), "items") ?? .null)
        #expect(tail.count == 10)

        #expect(Self.member(snapshot.projects(.city, filter: ProjectFilter(department: "water"), limit: 0), "total") == .int(100))
        #expect(Self.member(snapshot.projects(.department("roads"), filter: ProjectFilter(department: "water")), "total") == .int(0))
        #expect(Self.member(snapshot.projects(.city, filter: ProjectFilter(stage: "closed")), "total") == .int(20))
        #expect(Self.member(page, "by_stage") == .object(["initiation": .int(180), "closed": .int(20)]),
                "the API groups the projects by stage, all pages counted")
        #expect(Self.member(snapshot.projects(.city, filter: ProjectFilter(department: "water"), limit: 0), "by_stage")
                == .object(["initiation": .int(90), "closed": .int(10)]))
        #expect(Self.member(snapshot.projects(.city, filter: ProjectFilter(stage: "initiation")), "total") == .int(180),
                "a project written without a stage is in initiation, for the filter as for the count")
        let reds = snapshot.assessments.filter { $0.color == .red }.count
        #expect(reds > 0)
        #expect(Self.member(snapshot.projects(.city, filter: ProjectFilter(color: "red"), limit: 5), "total") == .int(Int64(reds)))
        #expect(Self.member(snapshot.city(.city), "projects") == .number("180"), "closed projects are not counted in the headline")
        #expect(ProjectFilter.allowedStages.contains("execution") && ProjectFilter.allowedGrades == ["优", "良", "中", "差"])

        // The overview's shortened lists: the first few, and how many there are in all.
        guard case .array(let all) = snapshot.warnings(.city) else { Issue.record("warnings are not a list"); return }
        let firstFive = snapshot.warnings(.city, limit: 5)
        #expect(all.count > 5 && firstFive.total == all.count && firstFive.items == Array(all.prefix(5)))
        for grade in [Grade.excellent, .good, .fair, .poor] {
            let open = snapshot.assessments.filter { !$0.project.isClosed && $0.grade == grade }
            let best = snapshot.graded(.city, grade: grade, bestFirst: true, limit: 3)
            let worst = snapshot.graded(.department("water"), grade: grade, bestFirst: false, limit: 1_000)
            #expect(best.total == open.count && best.items.count == min(3, open.count), "\(grade)")
            let bestScores = best.items.compactMap { Self.number(Self.member($0, "score")) }
            #expect(bestScores == bestScores.sorted(by: >) && bestScores.first == open.compactMap(\.score).max(), "\(grade)")
            let worstScores = worst.items.compactMap { Self.number(Self.member($0, "score")) }
            #expect(worstScores == worstScores.sorted() && worst.items.allSatisfy { Self.member($0, "department") == .string("water") })
            #expect(worst.total == open.filter { $0.project.department == "water" }.count)
        }
    }

    // MARK: - One project

    @Test func aProjectsDetailHasEverySection() throws {
        let root = TemporaryDirectory()
        let hub = try Self.city(root)
        try hub.writeEntry("goal", id: "g1", ["project=p-roads-0", "title=Open the road", "weight=2"])
        try hub.writeEntry("goal", id: "g2", ["project=p-roads-0", "parent=g1", "title=Earthworks done", "weight=1"])
        try hub.writeEntry("activity", id: "p-roads-0-2", ["goal=g2"])
        try hub.writeEntry("kpi", id: "k1", ["project=p-roads-0", "name=Pass rate", "direction=higher_better", "baseline=80", "target=98"])
        try hub.writeEntry("kpi_reading", ["kpi=k1", "period=2026-10", "value=85"])
        try hub.writeEntry("kpi_reading", ["kpi=k1", "period=2026-11", "value=95"])
        try hub.writeEntry("risk", id: "r1", ["project=p-roads-0", "title=Flood", "probability=4", "impact=5", "raised_on=2026-11-02"])
        try hub.writeEntry("issue", id: "i1", ["project=p-roads-0", "title=Detour signs", "priority=high", "opened_on=2026-11-03",
                                               "assignees=ana,li"])
        try hub.writeEntry("daily_log", ["project=p-roads-0", "date=2026-11-20", "weather=rain", "crew_count=12", "summary=Drainage"])
        _ = try hub.recordProgress(ProgressEntry(activity: "p-roads-0-2", quantity: "250", date: CalendarDate("2026-11-20")!),
                                   today: Self.asOf)

        let detail = try #require(try ReadModel.project(hub, code: "R-1000", asOf: Self.asOf, scope: .department("roads")))
        guard case .object(let sections) = detail else { Issue.record("not an object: \(detail)"); return }
        #expect(Set(sections.keys) == ["project", "figures", "activities", "goals", "kpis", "warnings", "risks", "issues", "daily_logs", "as_of"])
        #expect(Self.member(sections["project"]!, "budget") == .string("300000"))
        #expect(Self.member(sections["figures"]!, "ev") == .number("50000.00"))
        let activity = try #require(Self.objects(sections["activities"]!).first { $0["id"] == .string("p-roads-0-2") })
        #expect(activity["percent_complete"] == .number("25.0") && activity["ev"] == .number("50000.00") && activity["goal"] == .string("g2"))
        #expect(activity["planned_finish"] == .string("2027-03-31") && activity["bac"] == .number("200000.00"))
        let goals = Self.objects(sections["goals"]!)
        #expect(goals.map { $0["id"] } == [.string("g1")] && goals.first?["weight"] == .number("2"))
        let child = Self.objects(goals.first?["children"] ?? .null)
        #expect(child.first?["id"] == .string("g2") && child.first?["score"] != .null)
        let kpi = try #require(Self.objects(sections["kpis"]!).first)
        #expect(kpi["value"] == .number("95") && kpi["score"] != .null)
        #expect(Self.objects(kpi["readings"] ?? .null).map { $0["period"] } == [.string("2026-10"), .string("2026-11")])
        let warnings = Self.objects(sections["warnings"]!)
        #expect(warnings.contains { $0["rule"] == .string("risk") && $0["subject"] == .string("r1") }, "\(warnings)")
        #expect(warnings.contains { $0["rule"] == .string("overdue") })
        let risk = try #require(Self.objects(sections["risks"]!).first)
        #expect(risk["probability"] == .int(4) && risk["raised_on"] == .string("2026-11-02") && risk["closed_on"] == .null)
        let issue = try #require(Self.objects(sections["issues"]!).first)
        #expect(issue["assignees"] == .array([.string("ana"), .string("li")]) && issue["priority"] == .string("high"))
        let log = try #require(Self.objects(sections["daily_logs"]!).first)
        #expect(log["crew_count"] == .int(12) && log["weather"] == .string("rain") && log["date"] == .string("2026-11-20"))
        #expect(try ReadModel.project(hub, code: "nope", asOf: Self.asOf, scope: .city) == nil)
    }

    // MARK: - CSV and the moved shapes

    @Test func csvOfASmallArray() throws {
        let rows = JSONValue.array([
            .object(["code": .string("R-1"), "ev": .number("10.50"), "note": .string("a, \"b\""), "tags": .array([.string("x")])]),
            .object(["code": .string("R-2"), "ev": .null, "late": .bool(true)]),
        ])
        #expect(ReadModel.csv(rows) == "\u{FEFF}code,ev,late,note,tags\r\nR-1,10.50,,\"a, \"\"b\"\"\",\"[\"\"x\"\"]\"\r\nR-2,,true,,\r\n")
        #expect(ReadModel.csv(rows, columns: ["ev", "code"]) == "\u{FEFF}ev,code\r\n10.50,R-1\r\n,R-2\r\n")
        #expect(ReadModel.csv(.array([.string("flat")])) == nil)
        #expect(ReadModel.csv(.object([:])) == nil)
    }

    @Test func theSyncFactsKeepTheirShapes() throws {
        #expect(SyncFactsJSON.timestamp(milliseconds: 1_797_292_800_000 + 3_723_000) == "2026-12-15T01:02:03Z")
        let root = TemporaryDirectory()
        let hub = try Self.city(root)
        guard case .object(let status) = try ReadModel.status(hub) else { Issue.record("status is not an object"); return }
        #expect(status["node"] == .string("hub") && status["fleet"] != .null && status["pending_changes"] == .int(0))
        #expect(try ReadModel.syncHistory(hub, limit: 5) == .array([]))
        guard case .object(let fleet) = try ReadModel.fleet(hub) else { Issue.record("fleet is not an object"); return }
        #expect(fleet["nodes"] == .array([]) && fleet["stale_after_seconds"] != nil)
    }
}
