import SiteSyncCore

/// BAC, PV, EV and AC of an activity or of anything made of activities, and the indices
/// derived from them (docs/design.md §11). The four amounts are exact decimals; roll-ups add the
/// four sums exactly and derive the indices from the sums once: ratios of sums, never averages
/// of ratios. An index is a `Double` only as the final value of a ratio of exact sums.
public struct EarnedValueFigures: Sendable, Equatable {
    /// Budget at completion (BAC).
    public var budget: ExactDecimal
    public var plannedValue: ExactDecimal
    public var earnedValue: ExactDecimal
    public var actualCost: ExactDecimal

    /// The decimals of every derived amount (PV and EV of an activity, EAC): 4, a hundredth of
    /// a fen. Each is rounded once, half away from zero, from its exact value
    /// (``ExactDecimal/multiplied(by:dividedBy:places:)``), before any sum. Sums of amounts
    /// held to a fixed scale stay at that scale, so a city's totals need digits only for their
    /// size: 18 significant digits at 4 decimals hold 10¹⁴ yuan, a hundred times the largest
    /// city's budget (10¹² yuan), where 9 decimals overflowed past 10⁹. And they are exact, so
    /// every replica, adding in any order, gets the same digits. (Widening the sums to 128 bits
    /// instead would need a second decimal type through every figure, and digits nobody reads:
    /// the reports print the fen.)
    public static let derivedPlaces = 4

    public init(budget: ExactDecimal = .zero, plannedValue: ExactDecimal = .zero, earnedValue: ExactDecimal = .zero,
                actualCost: ExactDecimal = .zero) {
        self.budget = budget
        self.plannedValue = plannedValue
        self.earnedValue = earnedValue
        self.actualCost = actualCost
    }

    /// Each of the four sums added up exactly.
    public func plus(_ other: Self) throws(ExactDecimal.Overflow) -> Self {
        Self(budget: try budget.plus(other.budget), plannedValue: try plannedValue.plus(other.plannedValue),
             earnedValue: try earnedValue.plus(other.earnedValue), actualCost: try actualCost.plus(other.actualCost))
    }

    /// The roll-up of parts: each sum added up.
    public static func sum<S: Sequence>(_ parts: S) throws(ExactDecimal.Overflow) -> Self where S.Element == Self {
        var total = Self()
        for part in parts { total = try total.plus(part) }
        return total
    }

    /// SPI = EV / PV; `nil` while PV = 0 ("not yet due").
    public var schedulePerformanceIndex: Double? { plannedValue > .zero ? earnedValue.ratio(to: plannedValue) : nil }
    /// CPI = EV / AC; `nil` while nothing was spent.
    public var costPerformanceIndex: Double? { actualCost > .zero ? earnedValue.ratio(to: actualCost) : nil }
    /// SV = EV − PV.
    public var scheduleVariance: ExactDecimal { get throws(ExactDecimal.Overflow) { try earnedValue.minus(plannedValue) } }
    /// CV = EV − AC.
    public var costVariance: ExactDecimal { get throws(ExactDecimal.Overflow) { try earnedValue.minus(actualCost) } }
    /// EAC = BAC / CPI = BAC × AC / EV, to ``derivedPlaces`` decimals; `nil` without a CPI, or
    /// when nothing was earned yet (CPI = 0). EAC is never summed: past 10¹⁴ yuan (much spent
    /// for a sliver earned) it keeps the decimals that fit rather than fail the report, still
    /// rounded once from the exact value.
    public var estimateAtCompletion: ExactDecimal? {
        get throws(ExactDecimal.Overflow) {
            guard actualCost > .zero, earnedValue > .zero else { return nil }
            if let held = try? budget.multiplied(by: actualCost, dividedBy: earnedValue, places: Self.derivedPlaces) { return held }
            return try budget.multiplied(by: actualCost, dividedBy: earnedValue)
        }
    }
    /// Percent complete (0–100) = 100 × EV / BAC; 0 with no budget.
    public var percentComplete: Double {
        guard budget > .zero else { return 0 }
        return ((try? ExactDecimal(100).multiplied(by: earnedValue, dividedBy: budget)) ?? nil)?.doubleValue ?? 0
    }
}

/// Earned schedule (docs/design.md §11): the time at which the plan called for the value earned
/// now, so that schedule performance keeps meaning late in a project (plain SPI drifts back to
/// 1 at completion).
public enum EarnedSchedule {
    /// ES in days since `start`: with cumulative PV known by day (`PV(d)` at the end of day
    /// `start + d − 1`, PV(0) = 0), `C` = the largest d with `PV(d) ≤ EV`, and
    /// `ES = C + (EV − PV(C)) / (PV(C+1) − PV(C))` (interpolated inside day C+1).
    /// - Parameter plannedValue: the cumulative PV at the end of a date.
    public static func earnedDays(earnedValue: ExactDecimal, start: CalendarDate, finish: CalendarDate,
                                  plannedValue: (CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal) throws(ExactDecimal.Overflow) -> Double {
        let days = max(finish.daysSinceEpoch - start.daysSinceEpoch + 1, 0)
        func pv(_ d: Int) throws(ExactDecimal.Overflow) -> ExactDecimal { d == 0 ? .zero : try plannedValue(start.adding(days: d - 1)) }
        guard days > 0, earnedValue > .zero else { return 0 }
        if earnedValue >= (try pv(days)) { return Double(days) }
        // PV is non-decreasing in d: binary search for C.
        var low = 0, high = days
        while low < high {
            let middle = (low + high + 1) / 2
            if try pv(middle) <= earnedValue { low = middle } else { high = middle - 1 }
        }
        let c = low
        let (before, after) = (try pv(c), try pv(c + 1))
        let step = try after.minus(before)
        return Double(c) + (step > .zero ? (try earnedValue.minus(before)).ratio(to: step) ?? 0 : 0)
    }

    /// SPI(t) = ES / AT, with AT the days elapsed from `start` to the end of `asOf`; `nil`
    /// before the start ("not yet due").
    public static func index(earnedValue: ExactDecimal, start: CalendarDate, finish: CalendarDate, asOf: CalendarDate,
                             plannedValue: (CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal) throws(ExactDecimal.Overflow) -> Double? {
        let actualDays = asOf.daysSinceEpoch - start.daysSinceEpoch + 1
        guard actualDays > 0 else { return nil }
        return try earnedDays(earnedValue: earnedValue, start: start, finish: finish, plannedValue: plannedValue) / Double(actualDays)
    }
}
