import Foundation
import Testing
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance

/// A temporary directory removed when the value is released.
final class TemporaryDirectory {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-domain-\(UUID().uuidString)").path

    init() { try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Money in the reports is exact: amounts that binary floating point cannot add, and budgets of
/// 10¹² yuan, come out to the cent; what does not fit is an error, never a wrapped figure.
@Suite struct ExactMoneyTests {
    static func decimal(_ text: String) -> ExactDecimal { ExactDecimal(text)! }
    static func day(_ text: String) -> CalendarDate { CalendarDate(text)! }

    @Test func sumsOfTenthsAreExactWhereDoublesDrift() throws {
        let amounts = (0..<3000).map { Self.decimal($0 % 2 == 0 ? "0.1" : "0.2") }
        #expect(try ExactDecimal.sum(amounts) == 450)
        let binary = (0..<3000).reduce(0.0) { total, i in total + (i % 2 == 0 ? 0.1 : 0.2) }
        #expect(binary != 450, "the Double sum drifts (\(binary)): the reason sums are exact")
    }

    @Test func aBudgetTimesARatioIsRoundedOnceToWhatFits() throws {
        let trillion = ExactDecimal(1_000_000_000_000)
        #expect(try trillion.multiplied(by: 1, dividedBy: 3) == Self.decimal("333333333333.333333"), "18 significant digits kept")
        #expect(try ExactDecimal(1000).multiplied(by: 5, dividedBy: 30) == Self.decimal("166.666666667"), "9 decimals, half away from zero")
        #expect(try ExactDecimal(-1).multiplied(by: 1, dividedBy: 2)?.rounded(places: 0) == -1, "-0.5 rounds away from zero")
        #expect(try ExactDecimal(1).multiplied(by: 1, dividedBy: .zero) == nil)
        #expect(try trillion.multiplied(by: Self.decimal("123456.789"), dividedBy: Self.decimal("123456.789")) == trillion)
    }

    /// A derived amount is rounded once, from its exact value, to a fixed number of decimals:
    /// never to 9 first and then again (0.00004999999995 is 0.0000 at 4 decimals, where rounding
    /// its 9-decimal 0.00005 again would give 0.0001).
    @Test func anAmountTimesARatioIsRoundedOnceToFixedPlaces() throws {
        let third = try ExactDecimal(1).multiplied(by: 1, dividedBy: 3, places: 4)
        #expect(third == Self.decimal("0.3333") && third?.scale == 4)
        #expect(try ExactDecimal(2).multiplied(by: 1, dividedBy: 3, places: 4) == Self.decimal("0.6667"))
        #expect(try ExactDecimal(-2).multiplied(by: 1, dividedBy: 3, places: 4) == Self.decimal("-0.6667"), "half away from zero, both signs")
        #expect(try Self.decimal("0.0001").multiplied(by: 1, dividedBy: 2, places: 4) == Self.decimal("0.0001"))
        #expect(try Self.decimal("-0.0001").multiplied(by: 1, dividedBy: 2, places: 4) == Self.decimal("-0.0001"))
        let nearlyHalf = ExactDecimal(4_999_999_995), hundredTrillion = ExactDecimal(100_000_000_000_000)
        #expect(try nearlyHalf.multiplied(by: 1, dividedBy: hundredTrillion, places: 4) == 0, "rounded once")
        #expect(try nearlyHalf.multiplied(by: 1, dividedBy: hundredTrillion)?.rounded(places: 4) == Self.decimal("0.0001"),
                "what rounding twice would give")
        #expect(try ExactDecimal(90_000_000_000).multiplied(by: 3, dividedBy: 7, places: 4) == Self.decimal("38571428571.4286"))
        #expect(try Self.decimal("0.123456789").multiplied(by: Self.decimal("0.987654321"), dividedBy: Self.decimal("0.000000007"), places: 4)
                == Self.decimal("17418947.3018"), "more decimals in than out: 0.121932631112635269 / 0.000000007")
        #expect(try ExactDecimal(1).multiplied(by: 1, dividedBy: .zero, places: 4) == nil)
        #expect(try hundredTrillion.multiplied(by: 1, dividedBy: 3, places: 4) == Self.decimal("33333333333333.3333"), "18 digits")
        #expect(throws: ExactDecimal.Overflow.self, "10¹⁵ / 3 at 4 decimals needs 19 digits") {
            try ExactDecimal(1_000_000_000_000_000).multiplied(by: 1, dividedBy: 3, places: 4)
        }
        #expect(throws: ExactDecimal.Overflow.self, "past 128 bits") {
            try Self.decimal("999999999999999999").multiplied(by: 9_876_543_210, dividedBy: Self.decimal("0.000000001"), places: 4)
        }
    }

    @Test func overflowIsAnErrorNeverAWrapOrATrap() throws {
        let largest = Self.decimal("999999999999999999")
        #expect(throws: ExactDecimal.Overflow.self) { try largest.plus(1_000_000_000_000_000_000) }
        #expect(throws: ExactDecimal.Overflow.self) { try ExactDecimal.sum(Array(repeating: largest, count: 10)) }
        #expect(throws: ExactDecimal.Overflow.self) { try largest.multiplied(by: largest, dividedBy: 1) }
        #expect(throws: ExactDecimal.Overflow.self) { try Self.decimal("-999999999999999999").minus(largest) }
        do {
            _ = try largest.plus(largest)
        } catch {
            #expect(error.description.contains("more than 18 significant digits"))
        }
    }

    @Test func displayRoundsTheExactValueHalfAwayFromZero() {
        #expect(Self.decimal("0.125").fixed(2) == "0.13" && String(format: "%.2f", 0.125) == "0.12")
        #expect(Self.decimal("1.005").fixed(2) == "1.01" && String(format: "%.2f", 1.005) == "1.00")
        #expect(Self.decimal("-2.5").fixed(0) == "-3" && ExactDecimal(7).fixed(2) == "7.00" && Self.decimal("-0.001").fixed(2) == "0.00")
        #expect(Self.decimal("1234567.891").grouped(places: 0) == "1,234,568")
        #expect(Self.decimal("-999.5").grouped(places: 0) == "-1,000" && ExactDecimal(12).grouped(places: 2) == "12.00")
    }

    /// A 10¹² yuan activity, and 2,000 cost entries of 0.1 and 0.2 written at a site, read back
    /// through the store and the report: every figure exact to the cent.
    @Test func aReportOverTheStoreKeepsEveryCentOfATrillionYuanBudget() throws {
        let root = TemporaryDirectory()
        let office = try Self.officeWithAProject(in: root)
        try office.writeEntry("activity", id: "a1", ["project=p1", "name=Deck", "budget=1000000000000", "ev_method=manual",
                                                     "status=in_progress", "actual_start=2026-01-01",
                                                     "planned_start=2026-01-01", "planned_finish=2026-01-03"])
        try office.writeEntry("percent_entry", ["activity=a1", "date=2026-01-02", "percent=30"])
        let planner = office.planner
        try office.store.writeLocally { session in
            for i in 0..<2000 {
                _ = try Node.upsert("cost_entry", id: nil, ["activity=a1", "date=2026-01-02", "amount=\(i % 2 == 0 ? "0.1" : "0.2")"],
                                    planner: planner, in: session)
            }
        }
        let rows = try Reports.assessments(office.store, asOf: Self.day("2026-01-02"))
        let figures = try #require(rows.first).figures
        #expect(figures.budget == 1_000_000_000_000)
        #expect(figures.plannedValue == Self.decimal("666666666666.6667"), "two of three days: 2 × 10¹² / 3, rounded once to 4 decimals")
        #expect(figures.earnedValue == 300_000_000_000, "30 %")
        #expect(figures.actualCost == 300, "1,000 × 0.1 + 1,000 × 0.2, exactly")
        #expect(figures.plannedValue.fixed(2) == "666666666666.67" && figures.actualCost.fixed(2) == "300.00")
        #expect(figures.costPerformanceIndex == 1_000_000_000, "EV / AC of the exact sums")
    }

    @Test func aReportWhoseSumsDoNotFitSaysSoInsteadOfPrintingAWrongFigure() throws {
        let root = TemporaryDirectory()
        let office = try Self.officeWithAProject(in: root)
        for id in ["a1", "a2"] {
            try office.writeEntry("activity", id: id, ["project=p1", "name=\(id)", "budget=900000000000000000", "ev_method=manual"])
        }
        #expect { try Reports.assessments(office.store, asOf: Self.day("2026-01-02")) } throws: { error in
            (error as? NodeError)?.message.contains("cannot be computed exactly") == true
        }
    }

    /// An office node holding department roads and its project p1, in `root`.
    static func officeWithAProject(in root: TemporaryDirectory) throws -> Node {
        let office = try Node.initialize(at: root.path + "/office",
                                         configuration: NodeConfiguration(name: "office", department: "roads", role: .office, durability: .off))
        try office.writeEntry("department", id: "roads", ["name=Roads"])
        try office.writeEntry("project", id: "p1", ["code=R-1", "name=Bridge", "department=roads"])
        return office
    }
}
