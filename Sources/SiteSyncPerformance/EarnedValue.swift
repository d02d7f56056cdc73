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

/// One dated amount: an installed quantity, or a cost.
public struct DatedAmount: Sendable, Equatable {
    public let date: CalendarDate
    public let amount: Double

    public init(_ date: CalendarDate, _ amount: Double) {
        self.date = date
        self.amount = amount
    }
}

/// What the earned-value formulas need of one activity: its plan (hub-owned) and its actuals
/// (field-owned), as replicated.
public struct ActivityInput: Sendable {
    public var id: String
    /// Budget at completion (BAC).
    public var budget: Double
    /// The planned quantity, for `units`; `nil` or 0 when none was planned.
    public var budgetQuantity: Double?
    public var plannedStart: CalendarDate?
    public var plannedFinish: CalendarDate?
    public var method: EarnedValueMethod
    public var status: ActivityStatus
    /// The typed-in percentage (0–100), for `manual`.
    public var percentComplete: Double?
    public var actualStart: CalendarDate?
    public var actualFinish: CalendarDate?
    public var quantities: [DatedAmount]
    public var costs: [DatedAmount]

    public init(id: String, budget: Double, budgetQuantity: Double? = nil, plannedStart: CalendarDate? = nil,
                plannedFinish: CalendarDate? = nil, method: EarnedValueMethod = .units, status: ActivityStatus = .notStarted,
                percentComplete: Double? = nil, actualStart: CalendarDate? = nil, actualFinish: CalendarDate? = nil,
                quantities: [DatedAmount] = [], costs: [DatedAmount] = []) {
        self.id = id
        self.budget = budget
        self.budgetQuantity = budgetQuantity
        self.plannedStart = plannedStart
        self.plannedFinish = plannedFinish
        self.method = method
        self.status = status
        self.percentComplete = percentComplete
        self.actualStart = actualStart
        self.actualFinish = actualFinish
        self.quantities = quantities
        self.costs = costs
    }

    /// Whether the activity was finished by the end of `date`: finished by status, with no
    /// actual finish recorded later than `date`.
    func isFinished(by date: CalendarDate) -> Bool {
        guard status.isFinished else { return false }
        return actualFinish.map { $0 <= date } ?? true
    }

    /// Whether work had started by the end of `date`.
    func isStarted(by date: CalendarDate) -> Bool {
        if let actualStart { return actualStart <= date }
        if isFinished(by: date) { return true }
        if status != .notStarted || (percentComplete ?? 0) > 0 { return true }
        return quantities.contains { $0.date <= date } || costs.contains { $0.date <= date }
    }
}

/// The earned-value formulas of one activity (domain.md §2.1). Every figure is "as of" the end
/// of a cut-off date: entries dated later do not count.
public enum ActivityEarnedValue {
    /// The planned fraction of the schedule elapsed by the end of `date`:
    /// `clamp((date − start + 1) / (finish − start + 1), 0, 1)`, counting days inclusively (the
    /// whole planned finish day is planned work). Without planned dates nothing is due.
    public static func plannedFraction(_ activity: ActivityInput, asOf date: CalendarDate) -> Double {
        guard let start = activity.plannedStart, let finish = activity.plannedFinish else { return 0 }
        if finish < start { return date >= start ? 1 : 0 }
        let duration = Double(finish.daysSinceEpoch - start.daysSinceEpoch + 1)
        let elapsed = Double(date.daysSinceEpoch - start.daysSinceEpoch + 1)
        return min(max(elapsed / duration, 0), 1)
    }

    /// PV: the budget spread linearly over the planned dates. `PV = BAC × planned fraction`.
    public static func plannedValue(_ activity: ActivityInput, asOf date: CalendarDate) -> Double {
        activity.budget * plannedFraction(activity, asOf: date)
    }

    /// The fraction complete `f` by `ev_method`:
    /// - `units`: `min(1, Σ installed quantity / budget quantity)`; with no quantity planned,
    ///   0 until finished;
    /// - `manual`: the entered percentage / 100 (clamped to 0…1);
    /// - `zero_hundred`: 0 until finished, then 1;
    /// - `fifty_fifty`: 0, 0.5 once started, 1 once finished;
    /// - `level_of_effort`: the planned fraction (EV := PV).
    /// A finished (completed or accepted) activity counts as 1 whatever its method.
    public static func fractionComplete(_ activity: ActivityInput, asOf date: CalendarDate) -> Double {
        if activity.isFinished(by: date) { return 1 }
        switch activity.method {
        case .units:
            guard let planned = activity.budgetQuantity, planned > 0 else { return 0 }
            let installed = activity.quantities.filter { $0.date <= date }.reduce(0) { $0 + $1.amount }
            return min(max(installed / planned, 0), 1)
        case .manual:
            return min(max((activity.percentComplete ?? 0) / 100, 0), 1)
        case .zeroHundred:
            return 0
        case .fiftyFifty:
            return activity.isStarted(by: date) ? 0.5 : 0
        case .levelOfEffort:
            return plannedFraction(activity, asOf: date)
        }
    }

    /// EV = f × BAC.
    public static func earnedValue(_ activity: ActivityInput, asOf date: CalendarDate) -> Double {
        fractionComplete(activity, asOf: date) * activity.budget
    }

    /// AC: the costs reported up to `date`.
    public static func actualCost(_ activity: ActivityInput, asOf date: CalendarDate) -> Double {
        activity.costs.filter { $0.date <= date }.reduce(0) { $0 + $1.amount }
    }

    /// PV, EV and AC of one activity.
    public static func figures(_ activity: ActivityInput, asOf date: CalendarDate) -> EarnedValueFigures {
        EarnedValueFigures(budget: activity.budget, plannedValue: plannedValue(activity, asOf: date),
                           earnedValue: earnedValue(activity, asOf: date), actualCost: actualCost(activity, asOf: date))
    }

    /// PV, EV and AC of a project: the sums of its activities'.
    public static func figuresOf(_ project: ProjectInput, asOf date: CalendarDate) -> EarnedValueFigures {
        .sum(project.activities.map { figures($0, asOf: date) })
    }
}
