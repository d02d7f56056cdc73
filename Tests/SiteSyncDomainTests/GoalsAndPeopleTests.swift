import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore
import Testing

/// Goals down to people and periods (目标拆解, docs/design.md §16): staff who own work, city and
/// department objectives above the projects' goals, targets per period, the tree's roll-up and
/// each person's scorecard — every number below computed by hand.
@Suite struct GoalsAndPeopleTests {
    static let endOfQ1 = CalendarDate("2026-03-31")!
    static let q1 = PlanPeriod("2026-Q1")!

    static func node(_ root: TemporaryDirectory, _ name: String, _ role: Role, _ department: String = "office") throws -> Node {
        try TemplateTests.node(root, name, role, department)
    }

    /// The plan of the hand-computed example, as of 2026-03-31:
    ///
    /// - city objective 畅通 "Smooth traffic" (owner Li, an HRBP of the city), above
    /// - roads' "Widen arterials" (weight 2, owner Wang) and "Fix drains" (weight 1; its Q1
    ///   target 10, actual 7: it scores 70 whatever lies under it);
    /// - project R-1 (imported with its owners): goal Capacity (weight 3, owner Wang) over
    ///   Earthworks (1000, January, 80 % done: 80) and goal Safety (weight 1) over Drains
    ///   (3000, January, 50 %: 50), both under "Widen arterials";
    /// - KPI Flow owned by Wang: baseline 0, target 100, March reading 90 (90);
    /// - an issue owned by Wang, opened 2026-03-01, due 2026-03-15, still open (overdue).
    static func hub(_ root: TemporaryDirectory) throws -> (hub: Node, wang: String, li: String, project: String) {
        let hub = try node(root, "hub", .hub)
        try hub.writeEntry("department", id: "roads", ["name=Roads"])
        try hub.writeEntry("department", id: "water", ["name=Water"])
        let wang = try hub.addStaff(name: "Wang", department: "roads", role: "project_lead")
        let li = try hub.addStaff(name: "Li", department: nil, role: "hrbp")
        try hub.addObjective(title: "Smooth traffic", department: nil, parent: nil, weight: "1", owner: "Li")
        try hub.addObjective(title: "Widen arterials", department: "roads", parent: "Smooth traffic", weight: "2", owner: "Wang")
        try hub.addObjective(title: "Fix drains", department: "roads", parent: "Smooth traffic", weight: "1", owner: nil)
        try hub.setTarget("Fix drains", project: nil, period: "2026-q1", target: "10", actual: "7")
        let summary = try hub.importPlan(csv: """
            project_code,project_name,department,activity,goal,goal_weight,goal_objective,goal_owner,owner,activity_budget,start,finish,method
            R-1,Ring,roads,Earthworks,Capacity,3,Widen arterials,Wang,Wang,1000,2026-01-01,2026-01-31,manual
            R-1,Ring,roads,Drains,Safety,1,Widen arterials,,,3000,2026-01-01,2026-01-31,manual
            """)
        #expect(summary == PlanImportSummary(projects: 1, goals: 2, activities: 2))
        let project = try hub.findProject("R-1").id
        for (name, percent) in [("Earthworks", "80"), ("Drains", "50")] {
            try hub.writeEntry("percent_entry", ["activity=\(try activity(hub, name))", "date=2026-02-01", "percent=\(percent)"])
        }
        try hub.writeEntry("kpi", id: "k1", ["project=\(project)", "name=Flow", "direction=higher_better", "baseline=0", "target=100",
                                             "weight=1", "owner=\(wang)"])
        try hub.writeEntry("kpi_reading", ["kpi=k1", "period=2026-03", "value=90"])
        try hub.writeEntry("issue", ["project=\(project)", "title=Pothole", "status=open", "opened_on=2026-03-01", "due=2026-03-15",
                                     "owner=\(wang)"])
        return (hub, wang, li, project)
    }

    static func activity(_ node: Node, _ name: String) throws -> String {
        try #require(try node.store.rows([("SELECT id FROM activity WHERE name = ?1", [name])])[0].first?[0] ?? nil)
    }

    // MARK: - Owners and weights

    @Test func importPlanSetsOwnersAndTheObjectiveOfEachTopGoal() throws {
        let root = TemporaryDirectory()
        let (hub, wang, _, _) = try Self.hub(root)
        let goals = try hub.store.rows([("""
            SELECT g.title, g.weight, coalesce(g.owner, ''), o.title FROM goal g JOIN objective o ON o.id = g.objective ORDER BY g.title
            """, [])])[0]
        #expect(goals.map { $0.map { $0 ?? "" } } == [["Capacity", "3", wang, "Widen arterials"], ["Safety", "1", "", "Widen arterials"]])
        #expect(try hub.store.rows([("SELECT coalesce(owner, '') FROM activity ORDER BY name", [])])[0].map { $0[0] } == ["", wang],
                "Drains has none, Earthworks is Wang's")
        #expect(throws: NodeError.self, "an owner nobody registered stops the whole import") {
            try hub.importPlan(csv: "project_code,project_name,department,activity,owner\nR-2,Other,roads,Fence,Nobody\n")
        }
        #expect(try hub.store.rows([("SELECT count(*) FROM project", [])])[0][0][0] == "1", "nothing of R-2 was written")
    }

    @Test func aGoalRowWithoutActivityDefinesTheTreeByParentTitle() throws {
        let root = TemporaryDirectory()
        let (hub, _, _, _) = try Self.hub(root)
        _ = try hub.importPlan(csv: """
            project_code,project_name,department,activity,goal,goal_weight,goal_parent
            R-1,Ring,roads,,Lanes,2,Capacity
            R-1,Ring,roads,Kerbs,Kerb line,1,Lanes
            """)
        let tree = try hub.store.rows([("""
            SELECT g.title, g.weight, coalesce(p.title, '') FROM goal g LEFT JOIN goal p ON p.id = g.parent ORDER BY g.title
            """, [])])[0].map { $0.map { $0 ?? "" } }
        #expect(tree == [["Capacity", "3", ""], ["Kerb line", "1", "Lanes"], ["Lanes", "2", "Capacity"], ["Safety", "1", ""]])
    }

    @Test func zeroAndNegativeWeightsAreRefusedWithAReason() throws {
        let root = TemporaryDirectory()
        let (hub, _, _, project) = try Self.hub(root)
        for weight in ["0", "-1.5"] {
            do {
                try hub.writeEntry("goal", ["project=\(project)", "title=Bad \(weight)", "weight=\(weight)"])
                Issue.record("weight \(weight) was taken")
            } catch let error as CoreError {
                #expect(error.message.contains("a weight must be greater than 0"), "\(error.message)")
            }
        }
        #expect(throws: CoreError.self) { try hub.addObjective(title: "Nil", department: "roads", parent: nil, weight: "0", owner: nil) }
        #expect(throws: CoreError.self, "through the spreadsheet as well") {
            try hub.importPlan(csv: "project_code,project_name,department,activity,goal,goal_weight\nR-1,Ring,roads,Fence,Fencing,0\n")
        }
        #expect(try hub.store.rows([("SELECT count(*) FROM goal WHERE title LIKE 'Bad%' OR title = 'Fencing'", [])])[0][0][0] == "0")
        try hub.writeEntry("goal", ["project=\(project)", "title=Small", "weight=0.25"])
    }

    @Test func periodsAreAYearAQuarterOrAMonth() throws {
        #expect(PlanPeriod("2026")?.lastDay.description == "2026-12-31")
        #expect(PlanPeriod("2026-Q1")?.lastDay.description == "2026-03-31")
        #expect(PlanPeriod("2024-02")?.lastDay.description == "2024-02-29")
        #expect(PlanPeriod("2026-q4")?.description == "2026-Q4")
        for bad in ["2026-Q5", "2026-Q0", "2026-13", "26-01", "2026-1", "2026-01-01", ""] { #expect(PlanPeriod(bad) == nil, "\(bad)") }
        let root = TemporaryDirectory()
        let (hub, _, _, _) = try Self.hub(root)
        #expect(throws: (any Error).self) { try hub.setTarget("Capacity", project: "R-1", period: "2026-Q5", target: "1", actual: nil) }
        let written = try hub.setTarget("Capacity", project: "R-1", period: "2026-q2", target: "5", actual: nil)
        let again = try hub.setTarget("Capacity", project: "R-1", period: "2026-Q2", target: "6", actual: nil)
        #expect(written == again, "one record per goal and period, however the period is typed")
        #expect(try hub.store.rows([("SELECT period, target FROM goal_target", [])])[0] == [["2026-Q2", "6"]])
    }

    /// A goal splits into periods: a year into quarters or months, a quarter into months, each
    /// with a target of its own; the parts add up to the whole exactly, the last taking the
    /// rounding remainder, and the tree asked for a part shows the part's target.
    @Test func aTargetSplitsFromTheYearIntoQuartersAndMonthsExactly() throws {
        let root = TemporaryDirectory()
        let (hub, _, _, _) = try Self.hub(root)
        let quarters = try hub.splitTarget("Capacity", project: "R-1", period: "2026", target: "100", intoMonths: false)
        #expect(quarters.map(\.period.description) == ["2026", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"])
        #expect(quarters.map(\.target) == [100, 25, 25, 25, 25])
        let months = try hub.splitTarget("Capacity", project: "R-1", period: "2026-Q2", target: "10", intoMonths: true)
        #expect(months.map(\.period.description) == ["2026-Q2", "2026-04", "2026-05", "2026-06"])
        #expect(months.map(\.target.description) == ["10", "3.33", "3.33", "3.34"], "the last month takes the remainder")
        let year = try hub.splitTarget("Capacity", project: "R-1", period: "2026", target: "100", intoMonths: true)
        #expect(try ExactDecimal.sum(year.dropFirst().map(\.target)) == 100 && year.count == 13)
        let stored = try hub.store.rows([("SELECT period, target FROM goal_target WHERE period IN ('2026-Q2', '2026-05') ORDER BY period", [])])[0]
        #expect(stored == [["2026-05", "8.33"], ["2026-Q2", "10"]], "one record per goal and period: the later split rewrote May, not Q2")
        #expect(throws: (any Error).self) { try hub.splitTarget("Capacity", project: "R-1", period: "2026-05", target: "1", intoMonths: true) }
        #expect(throws: (any Error).self) { try hub.splitTarget("Capacity", project: "R-1", period: "2026-Q1", target: "1", intoMonths: false) }
        func capacity(_ nodes: [PlanTreeNode]) -> PlanTreeNode? {
            for each in nodes { if each.title == "Capacity" { return each } else if let found = capacity(each.children) { return found } }
            return nil
        }
        let april = try hub.goalTree(asOf: CalendarDate("2026-04-30")!, period: PlanPeriod("2026-04")!)
        #expect(capacity(april)?.target == "8.33")
    }

    // MARK: - The tree

    @Test func theTreeRollsUpByWeightedMeansComputedByHand() throws {
        let root = TemporaryDirectory()
        let (hub, _, _, _) = try Self.hub(root)
        let roots = try hub.goalTree(asOf: Self.endOfQ1, period: Self.q1)
        #expect(roots.map(\.title) == ["Smooth traffic"])
        let city = try #require(roots.first)
        func node(_ title: String, in nodes: [PlanTreeNode]) -> PlanTreeNode? {
            for each in nodes { if each.title == title { return each } else if let found = node(title, in: each.children) { return found } }
            return nil
        }
        func score(_ title: String) -> Double? { node(title, in: roots)?.score }
        #expect(score("Earthworks") == 80 && score("Drains") == 50, "EV/PV: 800/1000, 1500/3000")
        #expect(score("Capacity") == 80 && score("Safety") == 50, "leaves score their activities")
        #expect(score("Widen arterials") == 72.5, "(3·80 + 1·50) / (3 + 1)")
        #expect(score("Fix drains") == 70, "its Q1 target 10, actual 7")
        #expect(abs(city.score! - 215.0 / 3) < 1e-9, "(2·72.5 + 1·70) / (2 + 1) = 71.67")
        #expect(city.grade == .fair && city.owner == "Li")
        #expect(node("Capacity", in: roots)?.owner == "Wang" && node("Capacity", in: roots)?.project == "R-1")
        #expect(node("Fix drains", in: roots).map { [$0.target, $0.actual] } == ["10", "7"])
        // Without the period the measured score is gone: Fix drains has nothing under it.
        #expect(try hub.goalTree(asOf: Self.endOfQ1).first?.score == 72.5, "only Widen arterials scores: 72.5")
        let project = try hub.goalTree(asOf: Self.endOfQ1, project: "R-1")
        #expect(project.map(\.title) == ["Smooth traffic"] && project[0].children.map(\.title) == ["Widen arterials"],
                "a project's branch keeps the objectives above it, and not the others")
    }

    /// The dashboard and the API read the tree and the scorecards from the figures' snapshot of
    /// their date instead of loading every project again: what they show must not change.
    @Test func theTreeAndTheScorecardsFromTheFiguresSnapshotAreThoseLoaded() throws {
        let root = TemporaryDirectory()
        let (hub, _, _, _) = try Self.hub(root)
        let figures = try FiguresCache(node: hub) { Self.endOfQ1 }
        let snapshot = try figures.snapshot(asOf: Self.endOfQ1)
        for period in [Self.q1, nil] {
            let loaded = try ReadModel.goals(hub, scope: .city, department: nil, project: nil, period: period, today: Self.endOfQ1)
            let fromSnapshot = try ReadModel.goals(hub, scope: .city, department: nil, project: nil, period: period,
                                                   today: Self.endOfQ1, snapshot: snapshot)
            #expect(fromSnapshot == loaded, "period \(period?.description ?? "none")")
            guard case .object(let fields) = loaded, case .array(let tree)? = fields["tree"] else { Issue.record("no tree: \(loaded)"); continue }
            #expect(fields["as_of"] == .string(Self.endOfQ1.description) && !tree.isEmpty)
        }
        let cards = try ReadModel.scorecards(hub, scope: .city, department: nil, period: Self.q1, today: Self.endOfQ1)
        let cardsFromSnapshot = try ReadModel.scorecards(hub, scope: .city, department: nil, period: Self.q1, today: Self.endOfQ1,
                                                         snapshot: snapshot)
        #expect(cardsFromSnapshot.json == cards.json && cardsFromSnapshot.rows == cards.rows)
        // A snapshot of another date is not used: its projects are as of that date.
        let other = try figures.snapshot(asOf: CalendarDate("2026-01-16")!)
        #expect(try ReadModel.goals(hub, scope: .city, department: nil, project: nil, period: Self.q1, today: Self.endOfQ1,
                                    snapshot: other) == ReadModel.goals(hub, scope: .city, department: nil, project: nil,
                                                                         period: Self.q1, today: Self.endOfQ1))
    }

    // MARK: - Scorecards

    @Test func aScorecardIsTheWeightedScoreOfWhatThePersonOwns() throws {
        let root = TemporaryDirectory()
        let (hub, wang, li, _) = try Self.hub(root)
        let (asOf, cards) = try hub.scorecards(period: Self.q1, today: CalendarDate("2026-12-01")!)
        #expect(asOf == Self.endOfQ1, "the period's last day, not today")
        let byID = Dictionary(uniqueKeysWithValues: cards.map { ($0.staff.id, $0) })
        let card = try #require(byID[wang])
        #expect(card.kindScores[.goal] == 77, "Widen arterials 72.5 ×2 and Capacity 80 ×3: (145 + 240) / 5")
        #expect(card.kindScores[.kpi] == 90 && card.kindScores[.activity] == 80)
        #expect(abs(card.score! - 81.8) < 1e-9, "0.4·77 + 0.3·90 + 0.3·80")
        #expect(card.grade == .good && card.openIssues == 1 && card.overdueIssues == 1)
        let city = try #require(byID[li])
        #expect(abs(city.score! - 215.0 / 3) < 1e-9 && city.grade == .fair, "Li owns only the city objective")
        let roads = try hub.scorecards(period: Self.q1, department: "roads", today: CalendarDate("2026-12-01")!).cards
        #expect(roads.map(\.staff.name) == ["Wang"])
        // As of an earlier day inside the period: in mid-January only half of each activity is due.
        let early = try hub.scorecards(period: PlanPeriod("2026-01")!, person: "Wang", today: CalendarDate("2026-01-16")!)
        #expect(early.asOf.description == "2026-01-16" && early.cards.first?.kindScores[.activity] == 0,
                "half of Earthworks was due by 16 January and nothing reported (the percentage is dated 1 February): 0")
    }

    @Test func theScorecardCSVKeepsAFormulaAsText() throws {
        let root = TemporaryDirectory()
        let (hub, _, _, _) = try Self.hub(root)
        try hub.addStaff(name: "=HYPERLINK(\"http://x\",\"y\")", department: "roads", role: "other")
        let (asOf, cards) = try hub.scorecards(period: Self.q1, department: "roads", today: CalendarDate("2026-12-01")!)
        let csv = ReportText.csv(Node.scorecardRows(cards, period: Self.q1, asOf: asOf))
        #expect(csv.contains(",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",roads,other,"), "\(csv)")
        #expect(csv.contains(",Wang,roads,project_lead,77.0,90.0,80.0,81.8,良,1,1\r\n"), "\(csv)")
        #expect(csv.hasPrefix("\u{FEFF}period,as_of,staff_id,name,"))
    }

    // MARK: - Replication and the write policy

    @Test func staffAndObjectivesReplicateByDepartmentAndOnlyTheOfficeWritesThem() throws {
        let root = TemporaryDirectory()
        let (hub, wang, _, _) = try Self.hub(root)
        let roads = try Self.node(root, "roads-site", .field, "roads")
        let water = try Self.node(root, "water-office", .department, "water")
        try TemplateTests.send(from: hub, to: roads)
        try TemplateTests.send(from: hub, to: water)
        #expect(try roads.staffMembers().map(\.name) == ["Li", "Wang"], "its department's and the city's")
        #expect(try water.staffMembers().map(\.name) == ["Li"], "never another department's staff")
        #expect(try roads.goalTree(asOf: Self.endOfQ1, period: Self.q1).first?.score.map { abs($0 - 215.0 / 3) < 1e-9 } == true,
                "the roads site scores the same tree as the hub")
        #expect(try water.goalTree(asOf: Self.endOfQ1).map(\.title) == ["Smooth traffic"], "the city objective alone")
        do {
            try roads.addObjective(title: "Ours", department: "roads", parent: nil, weight: "1", owner: nil)
            Issue.record("a field node wrote an objective")
        } catch let error as CoreError {
            #expect(error.message.contains("objective is hub-owned"), "\(error.message)")
        }
        #expect(throws: CoreError.self, "nor a staff record") { try roads.addStaff(name: "Zhao", department: "roads", role: "other") }
        #expect(throws: CoreError.self, "nor a target") {
            try roads.setTarget("Capacity", project: "R-1", period: "2026-Q2", target: "3", actual: nil)
        }
        // An issue's owner is the site's to set; an owner from another department is refused.
        let project = try roads.findProject("R-1").id
        try roads.writeEntry("issue", ["project=\(project)", "title=Sign down", "opened_on=2026-03-02", "owner=\(wang)"])
        let waterStaff = try hub.addStaff(name: "Qian", department: "water", role: "other")
        #expect(throws: (any Error).self, "a roads goal cannot be owned by water's staff") {
            try hub.writeEntry("goal", ["project=\(project)", "title=Cross", "weight=1", "owner=\(waterStaff)"])
        }
    }
}
