import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncTestSupport
import Testing

/// A city's figures at a city's size (docs/design.md §11): budgets up to 10¹² yuan in total and
/// 10¹¹ an activity compute in every report and roll-up, exactly, in any order; what truly
/// exceeds 18 significant digits is still an error.
@Suite struct CityScaleTests {
    typealias T = ReportDeterminismTests
    static func decimal(_ text: String) -> ExactDecimal { ExactDecimal(text)! }
    static func day(_ text: String) -> CalendarDate { CalendarDate(text)! }
    static let asOf = day("2026-01-03")

    /// A hub holding three departments' projects, budgets 500,000,000,000.04 yuan in all:
    /// - roads R-1: a1 90,000,000,000 over 1–7 January, 30 % done, 12,345,678,901.23 spent;
    ///   a2 110,000,000,000 over 1–6 January, fifty-fifty, started;
    /// - water W-1: b1 200,000,000,000 over 2–4 January, 1 of 3 units installed, 0.01 + 0.02
    ///   spent; b2 0.05 over 1–8 January, zero-hundred;
    /// - parks P-1: c1 99,999,999,999.99 over 1–9 January, level of effort, 1,000,000,000.5 spent.
    static func city(_ root: TemporaryDirectory) throws -> Node {
        let hub = try T.node(root, "hub", .hub)
        for department in ["parks", "roads", "water"] { try hub.writeEntry("department", id: department, ["name=\(department.capitalized)"]) }
        try hub.writeEntry("project", id: "p-roads", ["code=R-1", "name=Ring road", "department=roads", "budget=200000000000"])
        try hub.writeEntry("project", id: "p-water", ["code=W-1", "name=Reservoir", "department=water", "budget=200000000000.05"])
        try hub.writeEntry("project", id: "p-parks", ["code=P-1", "name=Riverside park", "department=parks", "budget=99999999999.99"])
        try hub.writeEntry("activity", id: "a1", ["project=p-roads", "name=Viaduct", "budget=90000000000", "ev_method=manual",
                                                  "status=in_progress", "actual_start=2026-01-01",
                                                  "planned_start=2026-01-01", "planned_finish=2026-01-07"])
        try hub.writeEntry("percent_entry", ["activity=a1", "date=2026-01-02", "percent=30"])
        try hub.writeEntry("cost_entry", ["activity=a1", "date=2026-01-02", "amount=12345678901.23"])
        try hub.writeEntry("activity", id: "a2", ["project=p-roads", "name=Tunnel", "budget=110000000000", "ev_method=fifty_fifty",
                                                  "status=in_progress", "actual_start=2026-01-02",
                                                  "planned_start=2026-01-01", "planned_finish=2026-01-06"])
        try hub.writeEntry("activity", id: "b1", ["project=p-water", "name=Dam", "budget=200000000000", "budget_quantity=3", "unit=m3",
                                                  "ev_method=units", "planned_start=2026-01-02", "planned_finish=2026-01-04"])
        try hub.writeEntry("quantity_entry", ["activity=b1", "date=2026-01-03", "quantity=1"])
        try hub.writeEntry("cost_entry", ["activity=b1", "date=2026-01-03", "amount=0.01"])
        try hub.writeEntry("cost_entry", ["activity=b1", "date=2026-01-03", "amount=0.02"])
        try hub.writeEntry("activity", id: "b2", ["project=p-water", "name=Sign", "budget=0.05", "ev_method=zero_hundred",
                                                  "planned_start=2026-01-01", "planned_finish=2026-01-08"])
        try hub.writeEntry("activity", id: "c1", ["project=p-parks", "name=Upkeep", "budget=99999999999.99", "ev_method=level_of_effort",
                                                  "planned_start=2026-01-01", "planned_finish=2026-01-09"])
        try hub.writeEntry("cost_entry", ["activity=c1", "date=2026-01-01", "amount=1000000000.5"])
        return hub
    }

    /// By hand, as of 3 January (each PV and EV rounded once, half away from zero, to 4 decimals):
    /// PV a1 = 9·10¹⁰ × 3/7 = 38,571,428,571.4286, a2 = 1.1·10¹¹ × 3/6 = 55,000,000,000,
    /// b1 = 2·10¹¹ × 2/3 = 133,333,333,333.3333, b2 = 0.05 × 3/8 = 0.01875 → 0.0188,
    /// c1 = 99,999,999,999.99 × 3/9 = 33,333,333,333.33;
    /// EV a1 = 27,000,000,000, a2 = 55,000,000,000, b1 = 2·10¹¹ / 3 = 66,666,666,666.6667, b2 = 0,
    /// c1 = its PV. Every report and roll-up computes (before, the city's PV overflowed: a sum
    /// of amounts carried to 7 and 6 decimals).
    @Test func aHalfTrillionYuanCityComputesEveryReportAndRollUp() throws {
        let root = TemporaryDirectory()
        let hub = try Self.city(root)
        let expected: [String: EarnedValueFigures] = [
            "parks": .init(budget: Self.decimal("99999999999.99"), plannedValue: Self.decimal("33333333333.33"),
                           earnedValue: Self.decimal("33333333333.33"), actualCost: Self.decimal("1000000000.5")),
            "roads": .init(budget: 200_000_000_000, plannedValue: Self.decimal("93571428571.4286"), earnedValue: 82_000_000_000,
                           actualCost: Self.decimal("12345678901.23")),
            "water": .init(budget: Self.decimal("200000000000.05"), plannedValue: Self.decimal("133333333333.3521"),
                           earnedValue: Self.decimal("66666666666.6667"), actualCost: Self.decimal("0.03")),
            "": .init(budget: Self.decimal("500000000000.04"), plannedValue: Self.decimal("260238095238.1107"),
                      earnedValue: Self.decimal("181999999999.9967"), actualCost: Self.decimal("13345678901.76")),
        ]

        // report projects: one row per project, in code order.
        let projects = try Reports.projects(hub, asOf: Self.asOf).rows
        #expect(projects.map(\.project.code) == ["P-1", "R-1", "W-1"])
        for row in projects { #expect(row.figures == expected[row.project.department], "\(row.project.code)") }
        let projectsJSON = try ReportText.projects(projects, asOf: Self.asOf, scope: nil, format: .json)
        #expect(projectsJSON.contains("\"pv\":93571428571.43") && projectsJSON.contains("\"pv\":133333333333.35"), "\(projectsJSON)")
        #expect(projectsJSON.contains("\"eac\":30111411954.22"), "R-1's EAC = 2·10¹¹ × 12,345,678,901.23 / 8.2·10¹⁰, to the fen")
        #expect(try ReportText.projects(projects, asOf: Self.asOf, scope: nil, format: .table).contains("133333333333.35"))
        #expect(try ReportText.projects(projects, asOf: Self.asOf, scope: nil, format: .csv).contains("33333333333.33"))

        // report departments: each department, then the city; the city's row is the sum of theirs.
        let departments = try Reports.departments(hub, asOf: Self.asOf).rows
        #expect(departments.map(\.department) == ["parks", "roads", "water", ""])
        for row in departments { #expect(row.figures == expected[row.department], "department '\(row.department)'") }
        #expect(try EarnedValueFigures.sum(departments.dropLast().map(\.figures)) == departments.last?.figures)
        #expect(try EarnedValueFigures.sum(projects.map(\.figures)) == departments.last?.figures)
        #expect(departments.last?.scheduleIndexByTime != nil)
        let departmentsJSON = ReportText.departments(departments, asOf: Self.asOf, scope: nil, format: .json)
        #expect(departmentsJSON.contains("\"pv\":260238095238.11") && departmentsJSON.contains("\"bac\":500000000000.04"),
                "\(departmentsJSON)")
        #expect(ReportText.departments(departments, asOf: Self.asOf, scope: nil, format: .table).contains("13345678901.76"))

        // project show: each activity's figures, to the fen.
        let detail = try #require(try Reports.project(hub, "R-1", asOf: Self.asOf))
        #expect(detail.activities.map(\.figures.plannedValue) == [Self.decimal("38571428571.4286"), 55_000_000_000])
        #expect(ReportText.project(detail, asOf: Self.asOf).contains("38571428571.43"))

        // The hub's /api/v1/city and /api/v1/departments: the same roll-ups, from the figures cache.
        let snapshot = try FiguresCache(node: hub, today: { Self.asOf }).snapshot(asOf: Self.asOf)
        let city = snapshot.city(.city)
        #expect(ReadModelTests.member(city, "pv") == .number("260238095238.11"), "\(city)")
        #expect(ReadModelTests.member(city, "ev") == .number("182000000000.00"), "181,999,999,999.9967 to the fen: \(city)")
        #expect(ReadModelTests.member(city, "ac") == .number("13345678901.76"))
        #expect(ReadModelTests.objects(snapshot.departments(.city)).map { $0["pv"] }
                == [.number("33333333333.33"), .number("93571428571.43"), .number("133333333333.35"), .number("260238095238.11")])

        // The monthly review of January, its S-curve included, as of the 3rd.
        let now = Int64(Self.asOf.daysSinceEpoch) * 86_400_000 + 43_200_000
        let review = try MonthlyReview.gather(node: hub, period: "2026-01", now: now)
        #expect(review.asOf == Self.asOf)
        #expect(review.figures.curve == [ReviewFigures.CurvePoint(month: "2026-01", plannedValue: "260238095238.1107",
                                                                  earnedValue: "181999999999.9967", actualCost: "13345678901.76")])
        let headline = Dictionary(review.headline, uniquingKeysWith: { a, _ in a })
        #expect(headline["Budget (BAC)"] == "500,000,000,000" && headline["Planned value (PV)"] == "260,238,095,238"
                && headline["Earned value (EV)"] == "182,000,000,000" && headline["Actual cost (AC)"] == "13,345,678,902", "\(headline)")
        #expect(review.figures.projects.map(\.plannedValue) == ["33333333333.33", "93571428571.4286", "133333333333.3521"])
        #expect(review.markdown.contains("260,238,095,238") && review.html.contains("260,238,095,238"))
    }

    /// The city's PV (and BAC, EV, AC) is the sum of its departments' and of its projects' and
    /// of its activities', exactly, whatever the order the projects come in: random cities of
    /// up to 10¹² yuan (activities up to 10¹¹ with cents), each summed in shuffled orders.
    @Test func aCitysFiguresAreTheSumOfItsDepartmentsAndProjectsInAnyOrder() async {
        await seededCheck(count: 40) { seed in
            var random = SeededGenerator(seed: seed)
            let (projects, asOf) = Self.randomCity(&random)
            let assessments = try projects.map { try ProjectAssessor.assess($0, asOf: asOf) }
            let reference = try RollUp.byDepartment(assessments, asOf: asOf)
            let city = try #require(reference.last).figures
            #expect(try EarnedValueFigures.sum(reference.dropLast().map(\.figures)) == city, "seed \(seed): Σ departments")
            #expect(try EarnedValueFigures.sum(assessments.shuffled(using: &random).map(\.figures)) == city, "seed \(seed): Σ projects")
            let activities = projects.flatMap(\.activities).shuffled(using: &random)
            let perActivity = try activities.map { try ActivityEarnedValue.figures($0, asOf: asOf) }
            #expect(try EarnedValueFigures.sum(perActivity) == city, "seed \(seed): Σ activities")
            #expect(perActivity.allSatisfy { $0.plannedValue.scale <= 4 && $0.earnedValue.scale <= 4 }, "seed \(seed): 4 decimals at most")
            for _ in 0..<3 {
                let shuffled = try RollUp.byDepartment(assessments.shuffled(using: &random), asOf: asOf)
                #expect(shuffled.map(\.department) == reference.map(\.department), "seed \(seed)")
                #expect(shuffled.map(\.figures) == reference.map(\.figures), "seed \(seed): the same digits in any order")
                #expect(shuffled.map(\.scheduleIndexByTime) == reference.map(\.scheduleIndexByTime), "seed \(seed): SPI(t) of exact sums")
            }
        }
    }

    /// Up to 40 projects in five departments, one to eight activities each, budgets up to 10¹¹
    /// yuan with cents, every earned-value method, percentages, quantities and costs with
    /// decimals; a cut-off anywhere from before the first start to after the last finish.
    static func randomCity(_ random: inout SeededGenerator) -> (projects: [ProjectInput], asOf: CalendarDate) {
        let departments = ["housing", "parks", "roads", "transport", "water"]
        let base = day("2026-01-01")
        func amount(upTo yuan: Int64, places: Int) -> ExactDecimal {
            var power: Int64 = 1
            for _ in 0..<places { power *= 10 }
            return ExactDecimal(normalizing: Int128(Int64.random(in: 0...(yuan * power), using: &random)), scale: places)!
        }
        func date() -> CalendarDate { base.adding(days: Int.random(in: 0..<400, using: &random)) }
        var projects: [ProjectInput] = []
        for p in 0..<Int.random(in: 2...40, using: &random) {
            var activities: [ActivityInput] = []
            for a in 0..<Int.random(in: 1...8, using: &random) {
                let start = date(), finish = start.adding(days: Int.random(in: -2...300, using: &random))
                var activity = ActivityInput(id: "p\(p)a\(a)", budget: amount(upTo: 100_000_000_000, places: Int.random(in: 0...2, using: &random)),
                                             budgetQuantity: amount(upTo: 10_000, places: 3), plannedStart: start, plannedFinish: finish,
                                             method: EarnedValueMethod.allCases.randomElement(using: &random)!,
                                             status: ActivityStatus.allCases.randomElement(using: &random)!)
                if Bool.random(using: &random) { activity.actualStart = date() }
                if activity.status.isFinished { activity.actualFinish = date() }
                for _ in 0..<Int.random(in: 0...3, using: &random) {
                    activity.percents.append(DatedAmount(date(), amount(upTo: 100, places: 1)))
                    activity.quantities.append(DatedAmount(date(), amount(upTo: 4_000, places: 2)))
                    activity.costs.append(DatedAmount(date(), amount(upTo: 1_000_000_000, places: 2)))
                }
                activities.append(activity)
            }
            projects.append(ProjectInput(id: "p\(p)", code: "P-\(p)", name: "Project \(p)",
                                         department: departments.randomElement(using: &random)!, activities: activities))
        }
        return (projects, base.adding(days: Int.random(in: -10...750, using: &random)))
    }

    /// 9·10¹³ yuan over seven days is 12,857,142,857,142.8571 due on the first: seven such
    /// activities hold 89,999,999,999,999.9997, 18 significant digits; nine, or two such
    /// projects in a city, pass 10¹⁴ at 4 decimals and fail with the Overflow error, never a
    /// rounded figure or a trap.
    @Test func anAmountBeyondTheBoundStillFailsWithTheOverflowError() throws {
        let first = Self.day("2026-01-01")
        func project(_ id: String, activities: Int) -> ProjectInput {
            ProjectInput(id: id, code: id, name: id, department: "roads", activities: (0..<activities).map {
                ActivityInput(id: "\(id)a\($0)", budget: 90_000_000_000_000, plannedStart: first, plannedFinish: first.adding(days: 6))
            })
        }
        let fits = try ProjectAssessor.assess(project("p1", activities: 7), asOf: first)
        #expect(fits.figures.plannedValue == Self.decimal("89999999999999.9997"))
        #expect(throws: ExactDecimal.Overflow.self) { try ProjectAssessor.assess(project("p2", activities: 9), asOf: first) }
        let second = try ProjectAssessor.assess(project("p3", activities: 7), asOf: first)
        do {
            _ = try RollUp.byDepartment([fits, second], asOf: first)
            Issue.record("a city PV of 1.8·10¹⁴ at 4 decimals does not fit in 18 significant digits")
        } catch {
            #expect(error.description.contains("more than 18 significant digits"), "\(error)")
        }
    }
}
