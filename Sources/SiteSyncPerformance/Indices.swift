import SiteSyncCore

/// BAC, PV, EV and AC of an activity or of anything made of activities, and the indices
/// derived from them (domain.md §2.3). Roll-ups add the four sums and derive the indices from
/// the sums: ratios of sums, never averages of ratios.
public struct EarnedValueFigures: Sendable, Equatable {
    /// Budget at completion (BAC).
    public var budget: Double
    public var plannedValue: Double
    public var earnedValue: Double
    public var actualCost: Double

    public init(budget: Double = 0, plannedValue: Double = 0, earnedValue: Double = 0, actualCost: Double = 0) {
        self.budget = budget
        self.plannedValue = plannedValue
        self.earnedValue = earnedValue
        self.actualCost = actualCost
    }

    public static func + (a: Self, b: Self) -> Self {
        Self(budget: a.budget + b.budget, plannedValue: a.plannedValue + b.plannedValue,
             earnedValue: a.earnedValue + b.earnedValue, actualCost: a.actualCost + b.actualCost)
    }

    /// The roll-up of parts: each sum added up.
    public static func sum<S: Sequence>(_ parts: S) -> Self where S.Element == Self { parts.reduce(Self(), +) }

    /// SPI = EV / PV; `nil` while PV = 0 ("not yet due").
    public var schedulePerformanceIndex: Double? { plannedValue > 0 ? earnedValue / plannedValue : nil }
    /// CPI = EV / AC; `nil` while nothing was spent.
    public var costPerformanceIndex: Double? { actualCost > 0 ? earnedValue / actualCost : nil }
    /// SV = EV − PV.
    public var scheduleVariance: Double { earnedValue - plannedValue }
    /// CV = EV − AC.
    public var costVariance: Double { earnedValue - actualCost }
    /// EAC = BAC / CPI; `nil` without a CPI, or when nothing was earned yet (CPI = 0).
    public var estimateAtCompletion: Double? {
        guard let cpi = costPerformanceIndex, cpi > 0 else { return nil }
        return budget / cpi
    }
    /// Percent complete (0–100) = 100 × EV / BAC; 0 with no budget.
    public var percentComplete: Double { budget > 0 ? 100 * earnedValue / budget : 0 }
}

/// Earned schedule (domain.md §2.3): the time at which the plan called for the value earned
/// now, so that schedule performance keeps meaning late in a project (plain SPI drifts back to
/// 1 at completion).
public enum EarnedSchedule {
    /// ES in days since `start`: with cumulative PV known by day (`PV(d)` at the end of day
    /// `start + d − 1`, PV(0) = 0), `C` = the largest d with `PV(d) ≤ EV`, and
    /// `ES = C + (EV − PV(C)) / (PV(C+1) − PV(C))` (interpolated inside day C+1).
    /// - Parameter plannedValue: the cumulative PV at the end of a date.
    public static func earnedDays(earnedValue: Double, start: CalendarDate, finish: CalendarDate,
                                  plannedValue: (CalendarDate) -> Double) -> Double {
        let days = max(finish.daysSinceEpoch - start.daysSinceEpoch + 1, 0)
        func pv(_ d: Int) -> Double { d == 0 ? 0 : plannedValue(start.adding(days: d - 1)) }
        guard days > 0, earnedValue > 0 else { return 0 }
        if earnedValue >= pv(days) { return Double(days) }
        // PV is non-decreasing in d: binary search for C.
        var low = 0, high = days
        while low < high {
            let middle = (low + high + 1) / 2
            if pv(middle) <= earnedValue { low = middle } else { high = middle - 1 }
        }
        let c = low
        let step = pv(c + 1) - pv(c)
        return Double(c) + (step > 0 ? (earnedValue - pv(c)) / step : 0)
    }

    /// SPI(t) = ES / AT, with AT the days elapsed from `start` to the end of `asOf`; `nil`
    /// before the start ("not yet due").
    public static func index(earnedValue: Double, start: CalendarDate, finish: CalendarDate, asOf: CalendarDate,
                             plannedValue: (CalendarDate) -> Double) -> Double? {
        let actualDays = asOf.daysSinceEpoch - start.daysSinceEpoch + 1
        guard actualDays > 0 else { return nil }
        return earnedDays(earnedValue: earnedValue, start: start, finish: finish, plannedValue: plannedValue) / Double(actualDays)
    }
}
