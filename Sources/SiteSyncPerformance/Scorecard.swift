import SiteSyncCore

/// One thing a person owns, scored (docs/design.md §16).
public struct ScorecardItem: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A city or department objective, or a project's goal: its goal-tree score.
        case goal
        /// A KPI: its achievement score (``KPIInput/score(cap:)``).
        case kpi
        /// An activity: its schedule performance, `100 × min(EV / PV, 1)`.
        case activity
    }

    public var kind: Kind
    public var id: String
    public var title: String
    /// Its weight within its kind: a goal's or KPI's own weight, an activity's budget.
    public var weight: Double
    /// 0…100; `nil` while nothing of it is due (it is left out, and the weights renormalised).
    public var score: Double?

    public init(kind: Kind, id: String, title: String, weight: Double, score: Double?) {
        self.kind = kind
        self.id = id
        self.title = title
        self.weight = weight
        self.score = score
    }
}

/// A person's weighted score from what they own (docs/design.md §16):
///
/// - within each kind, the weighted mean of the items' scores (``KPIScore/weighted(_:)``):
///   goals and objectives by their weights, KPIs by theirs, activities by their budgets;
/// - across the kinds, the weighted mean of those three means by ``kindWeights`` (goals 0.4,
///   KPIs 0.3, activities 0.3), renormalised over the kinds the person has a score in — a
///   person who owns only activities is scored on their activities alone.
///
/// Issues are listed on the scorecard (open, overdue) but never move the score: a person must
/// not score worse for raising a problem.
public enum ScorecardRule {
    /// How much each kind counts in a person's score.
    public static let kindWeights: [ScorecardItem.Kind: Double] = [.goal: 0.4, .kpi: 0.3, .activity: 0.3]

    /// The score of each kind the person has a scored item in.
    public static func kindScores(_ items: [ScorecardItem]) -> [ScorecardItem.Kind: Double] {
        var result: [ScorecardItem.Kind: Double] = [:]
        for kind in ScorecardItem.Kind.allCases {
            let parts = items.filter { $0.kind == kind }.map { (weight: $0.weight, score: $0.score) }
            if let score = KPIScore.weighted(parts) { result[kind] = score }
        }
        return result
    }

    /// The person's score, `nil` when nothing they own has a score yet.
    public static func score(_ items: [ScorecardItem]) -> Double? {
        let kinds = kindScores(items)
        return KPIScore.weighted(ScorecardItem.Kind.allCases.map { (kindWeights[$0] ?? 0, kinds[$0]) })
    }

    /// An activity's score as of a day: `100 × min(EV / PV, 1)`, as a leaf goal scores its
    /// activities (``GoalTree``); `nil` while none of it is due.
    public static func activityScore(_ activity: ActivityInput, asOf: CalendarDate) throws(ExactDecimal.Overflow) -> Double? {
        try ActivityEarnedValue.figures(activity, asOf: asOf).schedulePerformanceIndex.map { 100 * min($0, 1) }
    }

    /// A goal's score from its target and actual for a period: `100 × clamp(actual / target,
    /// 0, cap)`; `nil` for a target of zero (nothing to achieve).
    public static func measuredScore(target: Double, actual: Double, cap: Double) -> Double? {
        guard target != 0 else { return nil }
        return KPIScore.score(achievement: actual / target, cap: cap)
    }
}
