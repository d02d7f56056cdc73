/// A planning period (docs/design.md §16): a year `YYYY`, a quarter `YYYY-QN` or a month
/// `YYYY-MM`. Goals are split into periods with a target for each (`goal_target`,
/// `objective_target`), and a scorecard is computed for one.
public struct PlanPeriod: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable { case year, quarter(Int), month(Int) }

    public let year: Int
    public let kind: Kind

    /// Parses `2026`, `2026-Q2` (or `2026-q2`) or `2026-05`; `nil` for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, first.count == 4, first.allSatisfy(\.isASCII), let year = Int(first), year >= 1 else { return nil }
        self.year = year
        switch parts.count {
        case 1:
            kind = .year
        case 2 where parts[1].count == 2 && (parts[1].first == "Q" || parts[1].first == "q"):
            guard let quarter = Int(parts[1].dropFirst()), (1...4).contains(quarter) else { return nil }
            kind = .quarter(quarter)
        case 2 where parts[1].count == 2 && parts[1].allSatisfy(\.isASCII):
            guard let month = Int(parts[1]), (1...12).contains(month) else { return nil }
            kind = .month(month)
        default:
            return nil
        }
    }

    /// The canonical text: `2026`, `2026-Q2`, `2026-05`.
    public var description: String {
        let yyyy = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        switch kind {
        case .year: return yyyy
        case .quarter(let quarter): return "\(yyyy)-Q\(quarter)"
        case .month(let month): return "\(yyyy)-" + (month < 10 ? "0" : "") + String(month)
        }
    }

    /// The first and last months of the period (1…12).
    var months: ClosedRange<Int> {
        switch kind {
        case .year: 1...12
        case .quarter(let quarter): (quarter * 3 - 2)...(quarter * 3)
        case .month(let month): month...month
        }
    }

    /// The period's first day.
    public var firstDay: CalendarDate { CalendarDate(year: year, month: months.lowerBound, day: 1)! }

    /// The period's last day: a scorecard for the period counts what was true then.
    public var lastDay: CalendarDate {
        let month = months.upperBound
        return CalendarDate(year: year, month: month, day: CalendarDate.daysIn(month: month, year: year))!
    }
}
