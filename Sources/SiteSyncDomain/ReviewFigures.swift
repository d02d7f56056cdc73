import SiteSyncCore
import SiteSyncPerformance

/// The figures of a monthly review as it prints them: what a period close freezes (one record
/// for the city's part, one per project), and what the review of a closed month prints again,
/// unchanged, whatever arrives later. Numbers that are only shown are kept as the text shown;
/// scores and indices stay numbers, for ordering the lists.
public struct ReviewFigures: Codable, Sendable, Equatable {
    public struct Warning: Codable, Sendable, Equatable {
        public let level: String
        public let reason: String
    }

    /// One project's row.
    public struct ProjectRow: Codable, Sendable, Equatable {
        public let id: String
        public let code: String
        public let name: String
        public let department: String
        /// `project.stage`; "" when not set.
        public let stage: String
        public let color: String
        public let score: Double?
        public let grade: String?
        /// 0–100.
        public let percentComplete: Double
        public let scheduleIndexByTime: Double?
        public let costPerformanceIndex: Double?
        /// BAC, PV, EV and AC as exact decimals.
        public let budget: String
        public let plannedValue: String
        public let earnedValue: String
        public let actualCost: String
        public let warnings: [Warning]
        /// Whether its field reporting is stale (a data-quality warning).
        public let stale: Bool
        /// Its KPI scorecard: KPI, baseline, target, reading, achieved, score, weight.
        public let kpis: [[String]]

        /// Closed or archived: shown apart, outside the roll-ups and lists.
        public var isClosed: Bool { stage == "closed" || stage == "archived" }
    }

    /// Cumulative PV, EV and AC at one month end, as exact decimals.
    public struct CurvePoint: Codable, Sendable, Equatable {
        public let month: String
        public let plannedValue: String
        public let earnedValue: String
        public let actualCost: String

        /// As the review's JSON has it (`month`, `planned_value`, `earned_value`, `actual_cost`).
        public var json: JSONValue {
            .object(["month": .string(month), "planned_value": .string(plannedValue), "earned_value": .string(earnedValue),
                     "actual_cost": .string(actualCost)])
        }
    }

    /// (measure, value) pairs.
    public var headline: [[String]]
    /// #, department, projects, complete, SPI, CPI, score, grade, green/amber/red.
    public var league: [[String]]
    public var curve: [CurvePoint]
    /// Every project, in code order (then id).
    public var projects: [ProjectRow]

    /// The part a close keeps in its `period_close` record (the projects go one per record).
    var cityPart: ReviewFigures { ReviewFigures(headline: headline, league: league, curve: curve, projects: []) }
}

extension ReviewFigures.CurvePoint {
    init(month: String, figures: EarnedValueFigures) {
        self.init(month: month, plannedValue: figures.plannedValue.description, earnedValue: figures.earnedValue.description,
                  actualCost: figures.actualCost.description)
    }
}

extension ReviewFigures {
    /// Whole yuan with thousands separators (1,234,568), rounded half away from zero.
    static func money(_ value: ExactDecimal) -> String { value.grouped(places: 0) }

    static func index(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "not yet due" }

    static func trim(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }

    /// The figures of a review: `projects` assessed at the cut-off (closed and archived ones
    /// included: they are shown apart), `departments` the roll-ups of the others (the city's
    /// last), `curve` the month ends.
    static func of(projects: [ProjectAssessment], departments: [RollUp], curve: [(month: String, figures: EarnedValueFigures)],
                   departmentNames: [String: String], kpiCap: Double) -> ReviewFigures {
        let city = departments.last!
        let f = city.figures
        let active = projects.filter { !$0.project.isClosed }
        var headline = [["Projects", "\(active.count)"]]
        if active.count < projects.count { headline.append(["Closed or archived (apart)", "\(projects.count - active.count)"]) }
        headline += [["Budget (BAC)", money(f.budget)], ["Planned value (PV)", money(f.plannedValue)],
                     ["Earned value (EV)", money(f.earnedValue)], ["Actual cost (AC)", money(f.actualCost)],
                     ["Complete", String(format: "%.1f %%", f.percentComplete)], ["SPI", index(f.schedulePerformanceIndex)],
                     ["CPI", index(f.costPerformanceIndex)], ["SPI(t)", index(city.scheduleIndexByTime)],
                     ["Green / amber / red", "\(city.colors[.green] ?? 0) / \(city.colors[.amber] ?? 0) / \(city.colors[.red] ?? 0)"],
                     ["Early warnings", "\(city.warnings)"]]
        let league = departments.dropLast().sorted { ($0.score ?? -1, $1.department) > ($1.score ?? -1, $0.department) }
            .enumerated().map { place, d in
                ["\(place + 1)", departmentNames[d.department].map { "\($0) (\(d.department))" } ?? d.department, "\(d.projects)",
                 String(format: "%.1f %%", d.figures.percentComplete), index(d.figures.schedulePerformanceIndex),
                 index(d.figures.costPerformanceIndex), d.score.map { String(format: "%.1f", $0) } ?? "—", d.grade?.rawValue ?? "—",
                 "\(d.colors[.green] ?? 0)/\(d.colors[.amber] ?? 0)/\(d.colors[.red] ?? 0)"]
            }
        let rows = projects.map { row in
            let kpis = row.project.kpis.map { kpi in
                let achievement = kpi.value.flatMap {
                    KPIScore.achievement(value: $0, baseline: kpi.baseline, target: kpi.target, direction: kpi.direction)
                }
                return [kpi.name, trim(kpi.baseline), trim(kpi.target), kpi.value.map(trim) ?? "not reported",
                        achievement.map { String(format: "%.0f %%", $0 * 100) } ?? "—",
                        kpi.score(cap: kpiCap).map { String(format: "%.1f", $0) } ?? "—", trim(kpi.weight)]
            }
            return ProjectRow(id: row.project.id, code: row.project.code, name: row.project.name, department: row.project.department,
                              stage: row.project.stage ?? "", color: row.color.rawValue, score: row.score, grade: row.grade?.rawValue,
                              percentComplete: row.figures.percentComplete, scheduleIndexByTime: row.scheduleIndexByTime,
                              costPerformanceIndex: row.figures.costPerformanceIndex, budget: row.figures.budget.description,
                              plannedValue: row.figures.plannedValue.description, earnedValue: row.figures.earnedValue.description,
                              actualCost: row.figures.actualCost.description,
                              warnings: row.warnings.map { Warning(level: $0.level.rawValue, reason: $0.reason) },
                              stale: row.warnings.contains { $0.rule == .stale }, kpis: kpis)
        }
        return ReviewFigures(headline: headline, league: league, curve: curve.map(CurvePoint.init), projects: rows)
    }

    /// The projects under way (not closed or archived).
    public var activeProjects: [ProjectRow] { projects.filter { !$0.isClosed } }

    /// Closed and archived projects, with their figures, shown apart.
    public var closedProjects: [ProjectRow] { projects.filter(\.isClosed) }

    /// 红榜: projects under way graded 优, best first; equal scores in code order (then id), so
    /// that every replica lists them alike.
    public var commended: [ProjectRow] {
        activeProjects.filter { $0.grade == Grade.excellent.rawValue }
            .sorted { ($1.score ?? 0, $0.code, $0.id) < ($0.score ?? 0, $1.code, $1.id) }
    }

    /// 黑榜: projects under way graded 差, worst first.
    public var blackList: [ProjectRow] {
        activeProjects.filter { $0.grade == Grade.poor.rawValue }.sorted { ($0.score ?? 0, $0.code, $0.id) < ($1.score ?? 0, $1.code, $1.id) }
    }

    /// Red or amber projects under way, worst colour then lowest score first, then in code order.
    public var lagging: [ProjectRow] {
        func rank(_ color: String) -> Int { color == Color.red.rawValue ? 2 : color == Color.amber.rawValue ? 1 : 0 }
        return activeProjects.filter { $0.color != Color.green.rawValue }.sorted {
            (rank($1.color), $0.score ?? 0, $0.code, $0.id) < (rank($0.color), $1.score ?? 0, $1.code, $1.id)
        }
    }

    /// project, KPI, baseline, target, reading, achieved, score, weight.
    public var kpiRows: [[String]] { activeProjects.flatMap { row in row.kpis.map { [row.code] + $0 } } }

    public var staleProjects: [ProjectRow] { activeProjects.filter(\.stale) }
}
