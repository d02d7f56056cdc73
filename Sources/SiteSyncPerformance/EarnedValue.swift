import SiteSyncCore

/// How an activity's progress turns into earned value (`activity.ev_method`).
public enum EarnedValueMethod: String, Sendable, CaseIterable {
    case units
    case manual
    case zeroHundred = "zero_hundred"
    case fiftyFifty = "fifty_fifty"
    case levelOfEffort = "level_of_effort"
}

/// An activity's state of work (`activity.status`).
public enum ActivityStatus: String, Sendable, CaseIterable {
    case notStarted = "not_started"
    case inProgress = "in_progress"
    case completed
    case accepted

    public var isFinished: Bool { self == .completed || self == .accepted }
}

/// One dated amount: an installed quantity, or a cost, exact.
public struct DatedAmount: Sendable, Equatable {
    public let date: CalendarDate
    public let amount: ExactDecimal

    public init(_ date: CalendarDate, _ amount: ExactDecimal) {
        self.date = date
        self.amount = amount
    }
}

/// What the earned-value formulas need of one activity: its plan (hub-owned) and its actuals
/// (field-owned), as replicated.
public struct ActivityInput: Sendable {
    public var id: String
    /// Budget at completion (BAC).
    public var budget: ExactDecimal
    /// The planned quantity, for `units`; `nil` or 0 when none was planned.
    public var budgetQuantity: ExactDecimal?
    public var plannedStart: CalendarDate?
    public var plannedFinish: CalendarDate?
    public var method: EarnedValueMethod
    public var status: ActivityStatus
    /// The percentages reported (0–100), each as of its day, for `manual`.
    public var percents: [DatedAmount]
    public var actualStart: CalendarDate?
    public var actualFinish: CalendarDate?
    public var quantities: [DatedAmount]
    public var costs: [DatedAmount]

    public init(id: String, budget: ExactDecimal, budgetQuantity: ExactDecimal? = nil, plannedStart: CalendarDate? = nil,
                plannedFinish: CalendarDate? = nil, method: EarnedValueMethod = .units, status: ActivityStatus = .notStarted,
                percents: [DatedAmount] = [], actualStart: CalendarDate? = nil, actualFinish: CalendarDate? = nil,
                quantities: [DatedAmount] = [], costs: [DatedAmount] = []) {
        self.id = id
        self.budget = budget
        self.budgetQuantity = budgetQuantity
        self.plannedStart = plannedStart
        self.plannedFinish = plannedFinish
        self.method = method
        self.status = status
        self.percents = percents
        self.actualStart = actualStart
        self.actualFinish = actualFinish
        self.quantities = quantities
        self.costs = costs
    }

    /// Whether the activity was finished by the end of `date`: finished by status, on its
    /// actual finish or before `date`. A state counts from its day only (the value rules give
    /// every finished activity its `actual_finish`); one without it is not counted finished.
    func isFinished(by date: CalendarDate) -> Bool {
        guard status.isFinished, let actualFinish else { return false }
        return actualFinish <= date
    }

    /// Whether work had started by the end of `date`: by its actual start, or by anything
    /// reported up to `date`.
    func isStarted(by date: CalendarDate) -> Bool {
        if let actualStart, actualStart <= date { return true }
        if isFinished(by: date) { return true }
        return percents.contains { $0.date <= date && $0.amount > .zero }
            || quantities.contains { $0.date <= date } || costs.contains { $0.date <= date }
    }

    /// The percentage as of the end of `date`: the one reported for the latest day up to it.
    func percent(asOf date: CalendarDate) -> ExactDecimal? {
        percents.filter { $0.date <= date }.max { $0.date < $1.date }?.amount
    }
}

/// The earned-value formulas of one activity (docs/design.md §11). Every figure is "as of" the end
/// of a cut-off date: entries dated later do not count. Amounts are exact decimals: a share of a
/// budget (PV, EV) is the budget times an exact ratio (of days, or of quantities), rounded once,
/// half away from zero, to ``EarnedValueFigures/derivedPlaces`` decimals before it is summed
/// (``ExactDecimal/multiplied(by:dividedBy:places:)``); AC is a sum of entered costs, exact as
/// entered. Fractions shown as percentages are `Double`s derived from the same ratios.
public enum ActivityEarnedValue {
    /// The planned days elapsed by the end of `date` and the planned duration, both in days
    /// (inclusive: the whole planned finish day is planned work), elapsed clamped to 0…duration.
    /// Without planned dates nothing is due (0 of 1).
    static func plannedDays(_ activity: ActivityInput, asOf date: CalendarDate) -> (elapsed: Int64, duration: Int64) {
        guard let start = activity.plannedStart, let finish = activity.plannedFinish else { return (0, 1) }
        if finish < start { return (date >= start ? 1 : 0, 1) }
        let duration = Int64(finish.daysSinceEpoch - start.daysSinceEpoch + 1)
        let elapsed = Int64(date.daysSinceEpoch - start.daysSinceEpoch + 1)
        return (min(max(elapsed, 0), duration), duration)
    }

    /// The planned fraction of the schedule elapsed by the end of `date`:
    /// `clamp((date − start + 1) / (finish − start + 1), 0, 1)`.
    public static func plannedFraction(_ activity: ActivityInput, asOf date: CalendarDate) -> Double {
        let days = plannedDays(activity, asOf: date)
        return Double(days.elapsed) / Double(days.duration)
    }

    /// PV: the budget spread linearly over the planned dates. `PV = BAC × elapsed / duration`,
    /// to ``EarnedValueFigures/derivedPlaces`` decimals.
    public static func plannedValue(_ activity: ActivityInput, asOf date: CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal {
        let days = plannedDays(activity, asOf: date)
        return try activity.budget.multiplied(by: ExactDecimal(days.elapsed), dividedBy: ExactDecimal(days.duration),
                                              places: EarnedValueFigures.derivedPlaces) ?? .zero
    }

    /// The installed quantity up to `date`.
    static func installed(_ activity: ActivityInput, asOf date: CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal {
        try ExactDecimal.sum(activity.quantities.lazy.filter { $0.date <= date }.map(\.amount))
    }

    /// The fraction complete `f` as an exact ratio (numerator, denominator) by `ev_method`:
    /// - `units`: `min(1, Σ installed quantity / budget quantity)`; with no quantity planned,
    ///   0 until finished;
    /// - `manual`: the percentage reported for the latest day up to `date`, / 100 (clamped to 0…1);
    /// - `zero_hundred`: 0 until finished, then 1;
    /// - `fifty_fifty`: 0, 0.5 once started, 1 once finished;
    /// - `level_of_effort`: the planned fraction (EV := PV).
    /// A finished (completed or accepted) activity counts as 1 whatever its method.
    static func completion(_ activity: ActivityInput, asOf date: CalendarDate) throws(ExactDecimal.Overflow) -> (ExactDecimal, ExactDecimal) {
        if activity.isFinished(by: date) { return (1, 1) }
        func clamped(_ part: ExactDecimal, _ whole: ExactDecimal) -> (ExactDecimal, ExactDecimal) {
            part <= .zero ? (0, 1) : part >= whole ? (1, 1) : (part, whole)
        }
        switch activity.method {
        case .units:
            guard let planned = activity.budgetQuantity, planned > .zero else { return (0, 1) }
            return clamped(try installed(activity, asOf: date), planned)
        case .manual:
            return clamped(activity.percent(asOf: date) ?? .zero, 100)
        case .zeroHundred:
            return (0, 1)
        case .fiftyFifty:
            return activity.isStarted(by: date) ? (1, 2) : (0, 1)
        case .levelOfEffort:
            let days = plannedDays(activity, asOf: date)
            return (ExactDecimal(days.elapsed), ExactDecimal(days.duration))
        }
    }

    /// The fraction complete `f` (0…1), for display and for the goal tree's shares.
    public static func fractionComplete(_ activity: ActivityInput, asOf date: CalendarDate) throws(ExactDecimal.Overflow) -> Double {
        let (part, whole) = try completion(activity, asOf: date)
        return part.ratio(to: whole) ?? 0
    }

    /// EV = f × BAC, to ``EarnedValueFigures/derivedPlaces`` decimals.
    public static func earnedValue(_ activity: ActivityInput, asOf date: CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal {
        let (part, whole) = try completion(activity, asOf: date)
        return try activity.budget.multiplied(by: part, dividedBy: whole, places: EarnedValueFigures.derivedPlaces) ?? .zero
    }

    /// AC: the costs reported up to `date`, summed exactly.
    public static func actualCost(_ activity: ActivityInput, asOf date: CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal {
        try ExactDecimal.sum(activity.costs.lazy.filter { $0.date <= date }.map(\.amount))
    }

    /// PV, EV and AC of one activity.
    public static func figures(_ activity: ActivityInput, asOf date: CalendarDate) throws(ExactDecimal.Overflow) -> EarnedValueFigures {
        EarnedValueFigures(budget: activity.budget, plannedValue: try plannedValue(activity, asOf: date),
                           earnedValue: try earnedValue(activity, asOf: date), actualCost: try actualCost(activity, asOf: date))
    }

    /// PV, EV and AC of a project: the sums of its activities'.
    public static func figuresOf(_ project: ProjectInput, asOf date: CalendarDate) throws(ExactDecimal.Overflow) -> EarnedValueFigures {
        var total = EarnedValueFigures()
        for activity in project.activities { total = try total.plus(figures(activity, asOf: date)) }
        return total
    }
}
