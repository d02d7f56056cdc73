import SiteSyncCore

/// An early warning (docs/design.md §11): deterministic, so every replica computing it for the same
/// data and cut-off names it the same, and explained.
public struct EarlyWarning: Sendable, Equatable, Comparable {
    public enum Rule: String, Sendable, CaseIterable {
        case schedule, cost, slipTrend = "slip-trend", overdue, notStarted = "not-started", stale, risk
        /// The project's budget and its activities' budgets disagree (a plan not fully broken down).
        case budgetCoverage = "budget-coverage"
    }

    /// `rule/subject/period`, e.g. `overdue/a17/2026-11`.
    public let id: String
    public let rule: Rule
    public let level: Color
    /// The project, activity or risk the warning is about.
    public let subject: String
    public let reason: String

    public init(rule: Rule, level: Color, subject: String, period: String, reason: String) {
        id = "\(rule.rawValue)/\(subject)/\(period)"
        self.rule = rule
        self.level = level
        self.subject = subject
        self.reason = reason
    }

    /// Red first, then by id.
    public static func < (a: Self, b: Self) -> Bool { a.level != b.level ? a.level > b.level : a.id < b.id }
}

/// An open risk of a project.
public struct RiskInput: Sendable {
    public var id: String
    public var title: String
    public var probability: Int
    public var impact: Int
    public var closed: Bool

    public init(id: String, title: String, probability: Int, impact: Int, closed: Bool = false) {
        self.id = id
        self.title = title
        self.probability = probability
        self.impact = impact
        self.closed = closed
    }

    /// Probability × impact, each 1–5.
    public var score: Int { probability * impact }
}

/// The rules, each a small function of the project's figures at the cut-off.
public enum WarningRules {
    static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    /// SPI(t) below the amber or red threshold.
    public static func schedule(project: String, spiT: Double?, period: String, thresholds: Thresholds) -> EarlyWarning? {
        guard let spiT else { return nil }
        let level = Color.of(spiT, green: thresholds.scheduleGreen, amber: thresholds.scheduleAmber)
        guard level != .green else { return nil }
        return EarlyWarning(rule: .schedule, level: level, subject: project, period: period,
                            reason: "SPI(t) \(String(format: "%.3f", spiT)) is below \(format(level == .red ? thresholds.scheduleAmber : thresholds.scheduleGreen)): "
                                + "the work done so far was planned to take \(String(format: "%.1f", spiT * 100))% of the time it took")
    }

    /// CPI below the thresholds, judged only once enough work is done for CPI to be stable.
    public static func cost(project: String, figures: EarnedValueFigures, period: String, thresholds: Thresholds) -> EarlyWarning? {
        guard figures.percentComplete >= thresholds.costFromPercent, let cpi = figures.costPerformanceIndex else { return nil }
        let level = Color.of(cpi, green: thresholds.costGreen, amber: thresholds.costAmber)
        guard level != .green else { return nil }
        return EarlyWarning(rule: .cost, level: level, subject: project, period: period,
                            reason: "CPI \(format(cpi)): each unit of value earned cost \(format(1 / max(cpi, 0.0001)))")
    }

    /// SPI(t) falling over the last cut-offs: a least-squares slope below −0.03 per period.
    /// - Parameter history: SPI(t) at successive cut-offs, oldest first (at least three).
    public static func slipTrend(project: String, history: [Double], period: String) -> EarlyWarning? {
        guard history.count >= 3 else { return nil }
        let n = Double(history.count)
        let meanX = (n - 1) / 2, meanY = history.reduce(0, +) / n
        var numerator = 0.0, denominator = 0.0
        for (x, y) in history.enumerated() {
            numerator += (Double(x) - meanX) * (y - meanY)
            denominator += (Double(x) - meanX) * (Double(x) - meanX)
        }
        let slope = numerator / denominator
        guard slope < -0.03 else { return nil }
        return EarlyWarning(rule: .slipTrend, level: .amber, subject: project, period: period,
                            reason: "SPI(t) fell by \(format(-slope)) a month over the last \(history.count) months "
                                + "(\(history.map(format).joined(separator: " → ")))")
    }

    /// Activities past their planned finish and not finished (red), or past their planned start
    /// and not started (amber; red after 90 days).
    public static func activities(_ activities: [ActivityInput], names: [String: String], asOf: CalendarDate,
                                  period: String) -> [EarlyWarning] {
        var warnings: [EarlyWarning] = []
        // Level-of-effort work (supervision, management) earns by time; it is never late or unstarted.
        for activity in activities where activity.method != .levelOfEffort {
            let name = names[activity.id] ?? activity.id
            if let finish = activity.plannedFinish, finish < asOf, !activity.isFinished(by: asOf) {
                warnings.append(EarlyWarning(rule: .overdue, level: .red, subject: activity.id, period: period,
                    reason: "\(name) was due \(finish) and is not finished (\(asOf.daysSinceEpoch - finish.daysSinceEpoch) days late)"))
            } else if let start = activity.plannedStart, start < asOf, !activity.isStarted(by: asOf) {
                let late = asOf.daysSinceEpoch - start.daysSinceEpoch
                warnings.append(EarlyWarning(rule: .notStarted, level: late >= 90 ? .red : .amber, subject: activity.id, period: period,
                    reason: "\(name) was to start \(start) and has not started (\(late) days)"))
            }
        }
        return warnings
    }

    /// No field entry (quantity, cost, daily log) for longer than the stale threshold while
    /// work is under way.
    public static func stale(project: String, lastEntry: CalendarDate?, underWay: Bool, asOf: CalendarDate, period: String,
                             thresholds: Thresholds) -> EarlyWarning? {
        guard underWay else { return nil }
        guard let lastEntry else {
            return EarlyWarning(rule: .stale, level: .amber, subject: project, period: period,
                                reason: "work is due but no field entry was ever recorded")
        }
        let age = asOf.daysSinceEpoch - lastEntry.daysSinceEpoch
        guard age > thresholds.staleDays else { return nil }
        return EarlyWarning(rule: .stale, level: .amber, subject: project, period: period,
                            reason: "no field entry for \(age) days (the last on \(lastEntry))")
    }

    /// A project whose activities' budgets (its BAC) do not add up to the project's budget: the
    /// plan is not broken down in full (or over-committed), so its PV, EV and percent complete
    /// measure only part of what the project was given. A data-quality warning: it does not
    /// colour the project.
    public static func budgetCoverage(project: String, budget: ExactDecimal?, activities: [ActivityInput], period: String)
        throws(ExactDecimal.Overflow) -> EarlyWarning? {
        guard let budget, budget > .zero, !activities.isEmpty else { return nil }
        var covered = ExactDecimal.zero
        for activity in activities { covered = try covered.plus(activity.budget) }
        guard covered != budget else { return nil }
        let short = covered < budget
        let places = covered.description.contains(".") || budget.description.contains(".") ? 2 : 0
        let (sum, total) = (covered.grouped(places: places), budget.grouped(places: places))
        let reason = short
            ? "activities cover \(sum) of the budget \(total): the rest is planned in no activity and earns no value"
            : "activities' budgets add up to \(sum), more than the budget \(total)"
        return EarlyWarning(rule: .budgetCoverage, level: .amber, subject: project, period: period, reason: reason)
    }

    /// Open risks: any with probability × impact at or above `riskHigh` (red), or three or more
    /// at or above `riskElevated` (amber).
    public static func risks(project: String, _ risks: [RiskInput], period: String, thresholds: Thresholds) -> [EarlyWarning] {
        let open = risks.filter { !$0.closed }
        var warnings = open.filter { $0.score >= thresholds.riskHigh }.map {
            EarlyWarning(rule: .risk, level: .red, subject: $0.id, period: period,
                         reason: "open risk \"\($0.title)\" scores \($0.score) (probability \($0.probability) × impact \($0.impact))")
        }
        let elevated = open.filter { $0.score >= thresholds.riskElevated && $0.score < thresholds.riskHigh }
        if elevated.count >= 3 {
            warnings.append(EarlyWarning(rule: .risk, level: .amber, subject: project, period: period,
                                         reason: "\(elevated.count) open risks score \(thresholds.riskElevated) or more"))
        }
        return warnings
    }
}
