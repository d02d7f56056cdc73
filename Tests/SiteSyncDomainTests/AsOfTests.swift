import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore
import SiteSyncTestSupport
import Testing

/// Every figure as of its date (issue 14, item 3): percentages, states and risks count from
/// their day on, the S-curve is drawn from dated entries, and a closed month keeps its figures.
@Suite struct AsOfTests {
    typealias T = ReportDeterminismTests

    /// A hub and an office holding the plan of ``ReportDeterminismTests/seedPlan(hub:office:)``.
    static func city(_ root: TemporaryDirectory) throws -> (hub: Node, office: Node) {
        let hub = try T.node(root, "hub", .hub), office = try T.node(root, "office", .office)
        try T.seedPlan(hub: hub, office: office)
        try T.send(from: office, to: hub)
        return (hub, office)
    }

    static func project(_ node: Node, _ code: String, asOf: String) throws -> ProjectAssessment {
        try #require(try Reports.projects(node, asOf: CalendarDate(asOf)!).rows.first { $0.project.code == code })
    }

    /// The case of the issue: 30 % reported on 15 November counted as of any date. Now the
    /// percentage counts from its day on, and the S-curve's EV rises in November only.
    @Test func aPercentageCountsFromItsDayOn() throws {
        let root = TemporaryDirectory()
        let (_, office) = try Self.city(root)
        let outcome = try office.recordProgress(ProgressEntry(activity: "a3", percent: "30", date: CalendarDate("2026-11-15")!),
                                                today: CalendarDate("2026-12-15")!)
        #expect(outcome.percent == ExactDecimal(30))
        #expect(try Self.project(office, "R-102", asOf: "2026-01-31").figures.earnedValue == .zero, "nothing before it was reported")
        #expect(try Self.project(office, "R-102", asOf: "2026-11-14").figures.earnedValue == .zero)
        #expect(try Self.project(office, "R-102", asOf: "2026-11-15").figures.earnedValue == ExactDecimal(60_000), "30 % of 200,000")
        // A lower percentage on a later day is a correction: it is what counts from then on.
        _ = try office.recordProgress(ProgressEntry(activity: "a3", percent: "25", date: CalendarDate("2026-11-20")!),
                                      today: CalendarDate("2026-12-15")!)
        #expect(try Self.project(office, "R-102", asOf: "2026-11-19").figures.earnedValue == ExactDecimal(60_000))
        #expect(try Self.project(office, "R-102", asOf: "2026-11-30").figures.earnedValue == ExactDecimal(50_000))

        let review = try MonthlyReview.gather(node: office, period: "2026-11", now: T.now)
        let ev = Dictionary(uniqueKeysWithValues: review.figures.curve.map { ($0.month, $0.earnedValue) })
        #expect(ev["2026-10"] == "0" && ev["2026-08"] == "0", "the S-curve's EV before November: \(ev)")
        #expect(ev["2026-11"] == "50000")
    }

    @Test func aStateCountsFromItsActualDate() throws {
        let root = TemporaryDirectory()
        let (_, office) = try Self.city(root)
        // Record put without the day is refused, with the reason.
        #expect(throws: (any Error).self) { try office.writeEntry("activity", id: "a1", ["status=completed", "actual_start=2026-09-02"]) }
        _ = try office.recordProgress(ProgressEntry(activity: "a1", status: "completed", date: CalendarDate("2026-11-20")!),
                                      today: CalendarDate("2026-12-15")!)
        #expect(try Self.project(office, "R-101", asOf: "2026-11-19").figures.earnedValue == .zero, "not finished before its day")
        #expect(try Self.project(office, "R-101", asOf: "2026-11-20").figures.earnedValue == ExactDecimal(300_000))
    }

    /// The risk raised on 4 December is not in a report as of January; one closed on 25
    /// November still warns as of the 20th.
    @Test func aRiskCountsFromTheDayItWasRaisedUntilTheDayItWasClosed() throws {
        let root = TemporaryDirectory()
        let (_, office) = try Self.city(root)
        try office.writeEntry("risk", id: "r1", ["project=p2", "title=Flood", "probability=5", "impact=4", "raised_on=2026-12-04"])
        try office.writeEntry("risk", id: "r2", ["project=p2", "title=Strike", "probability=4", "impact=4", "raised_on=2026-11-02",
                                                 "status=closed", "closed_on=2026-11-25"])
        func risks(_ asOf: String) throws -> [String] { try Self.project(office, "R-102", asOf: asOf).warnings.filter { $0.rule == .risk }.map(\.subject) }
        #expect(try risks("2026-01-31") == [])
        #expect(try risks("2026-11-20") == ["r2"])
        #expect(try risks("2026-11-30") == [])
        #expect(try risks("2026-12-05") == ["r1"])
    }

    /// A month closed at the office keeps its figures at every replica; a crew's entry dated in
    /// it that arrives after the close is listed apart, never folded into the frozen figures.
    @Test func aClosedMonthKeepsItsFiguresAndListsLateEntriesApart() throws {
        let root = TemporaryDirectory()
        let (hub, office) = try Self.city(root)
        let site = try T.node(root, "site-a", .field)
        try T.send(from: hub, to: site)
        _ = try site.recordProgress(ProgressEntry(activity: "a1", quantity: "100", date: CalendarDate("2026-10-10")!),
                                    today: CalendarDate("2026-10-10")!)
        try T.send(from: site, to: hub)
        try T.send(from: hub, to: office)
        let today = CalendarDate(unixMilliseconds: UInt64(T.now))

        // Only a plan-writing node closes, and only a month that is over, once.
        #expect(throws: NodeError.self) { try PeriodClose.close(node: site, period: "2026-10", today: today) }
        #expect(throws: NodeError.self) { try PeriodClose.close(node: office, period: "2026-12", today: today) }
        let close = try PeriodClose.close(node: office, period: "2026-10", today: today)
        #expect(close.projects == 2 && close.heldProjects == 2 && close.asOf == CalendarDate("2026-10-31")!)
        #expect(throws: NodeError.self) { try PeriodClose.close(node: office, period: "2026-10", today: today) }
        let before = try MonthlyReview.gather(node: office, period: "2026-10", now: T.now)
        let frozenEV = try #require(before.figures.projects.first { $0.code == "R-101" }).earnedValue
        #expect(frozenEV == "30000", "100 of 1,000 m3 of a 300,000 activity")
        #expect(before.markdown.contains("Closed on 2026-12-15 by office"))

        // The crew comes back from a month offline with a quantity dated in October.
        _ = try site.recordProgress(ProgressEntry(activity: "a1", quantity: "200", date: CalendarDate("2026-10-28")!),
                                    today: CalendarDate("2026-11-02")!)
        try T.send(from: site, to: hub)
        try T.send(from: office, to: hub)
        try T.send(from: hub, to: office)
        #expect(try hub.store.digest() == office.store.digest())

        for node in [office, hub] {
            let review = try MonthlyReview.gather(node: node, period: "2026-10", now: T.now)
            #expect(review.close != nil)
            #expect(review.figures.projects.first { $0.code == "R-101" }?.earnedValue == frozenEV, "the frozen figure stands")
            #expect(review.lateEntries == [LateEntry(date: "2026-10-28", project: "R-101", what: "quantity, Earthworks", value: "200 m3",
                                                     node: "site-a")])
            #expect(review.markdown.contains("## Entries dated in 2026-10 that arrived after the close"))
        }
        #expect(try MonthlyReview.gather(node: hub, period: "2026-10", now: T.now).markdown
                == MonthlyReview.gather(node: office, period: "2026-10", now: T.now).markdown)
        // The live figures as of the month's end do count the late entry.
        #expect(try Self.project(hub, "R-101", asOf: "2026-10-31").figures.earnedValue == ExactDecimal(90_000))
        // An open month says it is open.
        #expect(try MonthlyReview.gather(node: hub, period: "2026-11", now: T.now).markdown.contains("This month is not closed"))
    }

    @Test func closedAndArchivedProjectsAreShownApart() throws {
        let root = TemporaryDirectory()
        let (_, office) = try Self.city(root)
        try office.writeEntry("project", id: "p2", ["stage=closed"])
        let asOf = CalendarDate("2026-11-30")!
        let departments = try Reports.departments(office, asOf: asOf).rows
        #expect(departments.last?.projects == 1, "the city's totals leave the closed project out")
        let table = try ReportText.projects(Reports.projects(office, asOf: asOf).rows, asOf: asOf, scope: nil, format: .table)
        let apart = try #require(table.range(of: "closed and archived"))
        #expect(table[apart.upperBound...].contains("R-102") && !table[..<apart.lowerBound].contains("R-102"), "\(table)")
        let review = try MonthlyReview.gather(node: office, period: "2026-11", now: T.now)
        #expect(review.markdown.contains("## Closed and archived projects"))
        #expect(review.figures.headline.contains(["Closed or archived (apart)", "1"]))
    }
}
