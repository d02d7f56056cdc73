import SiteSyncCore

/// A KPI of a project with its latest reading up to the cut-off.
public struct KPIInput: Sendable {
    public var id: String
    public var name: String
    public var direction: KPIDirection
    public var baseline: Double
    public var target: Double
    public var weight: Double
    /// The latest reading up to the cut-off; `nil` when none (it scores 0: not reported).
    public var value: Double?

    public init(id: String, name: String, direction: KPIDirection, baseline: Double, target: Double, weight: Double, value: Double?) {
        self.id = id
        self.name = name
        self.direction = direction
        self.baseline = baseline
        self.target = target
        self.weight = weight
        self.value = value
    }

    /// 0…100 × cap; a missing reading scores 0 (government practice: not reported is 0); `nil`
    /// for an ill-defined KPI (target = baseline).
    public func score(cap: Double) -> Double? {
        guard let value else { return 0 }
        return KPIScore.achievement(value: value, baseline: baseline, target: target, direction: direction)
            .map { KPIScore.score(achievement: $0, cap: cap) }
    }
}

/// What the assessment needs of one project.
public struct ProjectInput: Sendable {
    public var id: String
    public var code: String
    public var name: String
    public var department: String
    public var activities: [ActivityInput]
    /// Activity names by id, for the warnings' reasons.
    public var activityNames: [String: String]
    public var risks: [RiskInput]
    public var kpis: [KPIInput]
    /// The date of the latest field entry (quantity, cost, percentage, daily log).
    public var lastEntry: CalendarDate?
    /// The project's goal tree, and the goal each activity serves.
    public var goals: [GoalInput]
    public var activityGoals: [String: String]
    /// The project's own budget, which its activities' budgets should add up to.
    public var budget: ExactDecimal?
    /// The project's stage (`project.stage`), if set.
    public var stage: String?

    /// Whether the project is closed or archived: its figures are final, and reports show it
    /// apart from the projects under way (outside the roll-ups and the lists of the review).
    public var isClosed: Bool { stage == "closed" || stage == "archived" }

    public init(id: String, code: String, name: String, department: String, activities: [ActivityInput],
                activityNames: [String: String] = [:], risks: [RiskInput] = [], kpis: [KPIInput] = [], lastEntry: CalendarDate? = nil,
                goals: [GoalInput] = [], activityGoals: [String: String] = [:]) {
        self.id = id
        self.code = code
        self.name = name
        self.department = department
        self.activities = activities
        self.activityNames = activityNames
        self.risks = risks
        self.kpis = kpis
        self.lastEntry = lastEntry
        self.goals = goals
        self.activityGoals = activityGoals
    }

    /// The planned window: the earliest planned start to the latest planned finish.
    public var plannedWindow: (start: CalendarDate, finish: CalendarDate)? {
        let starts = activities.compactMap(\.plannedStart), finishes = activities.compactMap(\.plannedFinish)
        guard let start = starts.min(), let finish = finishes.max(), start <= finish else { return nil }
        return (start, finish)
    }
}

/// One project at a cut-off: its figures, indices, score, grade, colour and warnings.
public struct ProjectAssessment: Sendable {
    public let project: ProjectInput
    public let asOf: CalendarDate
    public let figures: EarnedValueFigures
    /// SPI(t); `nil` before the planned start ("not yet due").
    public let scheduleIndexByTime: Double?
    /// 0–100: the KPIs' weighted score; without KPIs the goal tree's; without either, schedule
    /// performance. `nil` while nothing is due.
    public let score: Double?
    /// Each goal's score (goals with nothing due are absent).
    public let goalScores: [String: Double]
    public let grade: Grade?
    public let color: Color
    public let warnings: [EarlyWarning]
}

public enum ProjectAssessor {
    /// The cut-off's period, `YYYY-MM`, used in warning ids.
    public static func period(of date: CalendarDate) -> String { String(date.description.prefix(7)) }

    /// SPI(t) of a project's activities, over the project's planned window.
    public static func scheduleIndexByTime(_ project: ProjectInput, asOf: CalendarDate) throws(ExactDecimal.Overflow) -> Double? {
        guard let window = project.plannedWindow else { return nil }
        var earned = ExactDecimal.zero
        for activity in project.activities { earned = try earned.plus(ActivityEarnedValue.earnedValue(activity, asOf: asOf)) }
        return try EarnedSchedule.index(earnedValue: earned, start: window.start, finish: window.finish, asOf: asOf) {
            (date) throws(ExactDecimal.Overflow) -> ExactDecimal in
            var planned = ExactDecimal.zero
            for activity in project.activities { planned = try planned.plus(ActivityEarnedValue.plannedValue(activity, asOf: date)) }
            return planned
        }
    }

    /// Assesses a project at the end of `asOf`.
    /// - Score: the weighted KPI score when the project has KPIs (a missing reading scores 0);
    ///   else its goal tree's weighted score (``GoalTree``); else schedule performance
    ///   `100 × min(SPI(t), 1)`.
    /// - Colour: the worst level of its performance warnings (schedule, cost, slip trend,
    ///   overdue or unstarted activities, risks); green with none. Stale reporting is a
    ///   data-quality warning and does not colour the project.
    public static func assess(_ project: ProjectInput, asOf: CalendarDate,
                              thresholds: Thresholds = .standard) throws(ExactDecimal.Overflow) -> ProjectAssessment {
        let figures = try ActivityEarnedValue.figuresOf(project, asOf: asOf)
        let spiT = try scheduleIndexByTime(project, asOf: asOf)
        let period = period(of: asOf)
        let goalTree = try GoalTree.scores(goals: project.goals, activityGoals: project.activityGoals, activities: project.activities, asOf: asOf)
        let score: Double?
        if !project.kpis.isEmpty {
            score = KPIScore.weighted(project.kpis.map { ($0.weight, $0.score(cap: thresholds.kpiCap)) })
        } else if !project.goals.isEmpty {
            score = goalTree.tree
        } else {
            score = spiT.map { 100 * min(max($0, 0), 1) }
        }
        var warnings: [EarlyWarning] = []
        if let warning = WarningRules.schedule(project: project.id, spiT: spiT, period: period, thresholds: thresholds) { warnings.append(warning) }
        if let warning = WarningRules.cost(project: project.id, figures: figures, period: period, thresholds: thresholds) { warnings.append(warning) }
        var history: [Double] = []
        for days in [60, 30, 0] { if let index = try scheduleIndexByTime(project, asOf: asOf.adding(days: -days)) { history.append(index) } }
        if let warning = WarningRules.slipTrend(project: project.id, history: history, period: period) { warnings.append(warning) }
        warnings += WarningRules.activities(project.activities, names: project.activityNames, asOf: asOf, period: period)
        warnings += WarningRules.risks(project: project.id, project.risks, period: period, thresholds: thresholds)
        let underWay = figures.plannedValue > 0 && figures.percentComplete < 100
        let stale = WarningRules.stale(project: project.id, lastEntry: project.lastEntry, underWay: underWay, asOf: asOf, period: period,
                                       thresholds: thresholds)
        let color = warnings.map(\.level).max() ?? .green
        if let stale { warnings.append(stale) }
        if let coverage = try WarningRules.budgetCoverage(project: project.id, budget: project.budget, activities: project.activities,
                                                          period: period) {
            warnings.append(coverage)
        }
        return ProjectAssessment(project: project, asOf: asOf, figures: figures, scheduleIndexByTime: spiT, score: score,
                                 goalScores: goalTree.goals,
                                 grade: score.map { Grade.of(score: $0, thresholds: thresholds) }, color: color,
                                 warnings: warnings.sorted())
    }
}
