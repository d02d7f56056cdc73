import SiteSyncCore

/// A department's (or the whole city's) projects summed up: ratios of sums, never averages of
/// ratios (docs/design.md §11).
public struct RollUp: Sendable {
    /// The department code; "" for the whole city.
    public let department: String
    public let projects: Int
    public let figures: EarnedValueFigures
    /// SPI(t) of all the activities together, over their joint planned window.
    public let scheduleIndexByTime: Double?
    /// The projects' scores weighted by budget (BAC); projects without a score (nothing due)
    /// are left out.
    public let score: Double?
    public let grade: Grade?
    /// How many projects show each colour.
    public let colors: [Color: Int]
    public let warnings: Int

    /// One roll-up per department, in code order, then the city's (department "").
    public static func byDepartment(_ assessments: [ProjectAssessment], asOf: CalendarDate,
                                    thresholds: Thresholds = .standard) throws(ExactDecimal.Overflow) -> [RollUp] {
        let groups = Dictionary(grouping: assessments, by: \.project.department)
        var rollUps: [RollUp] = []
        for department in groups.keys.sorted() { rollUps.append(try make(department, groups[department]!, asOf: asOf, thresholds: thresholds)) }
        return rollUps + [try make("", assessments, asOf: asOf, thresholds: thresholds)]
    }

    static func make(_ department: String, _ assessments: [ProjectAssessment], asOf: CalendarDate,
                     thresholds: Thresholds) throws(ExactDecimal.Overflow) -> RollUp {
        let all = ProjectInput(id: department, code: department, name: department, department: department,
                               activities: assessments.flatMap(\.project.activities))
        // The budget is a weight here: its Double is used for the weighted mean only.
        let score = KPIScore.weighted(assessments.map { ($0.figures.budget.doubleValue, $0.score) })
        return RollUp(department: department, projects: assessments.count, figures: try .sum(assessments.map(\.figures)),
                      scheduleIndexByTime: try ProjectAssessor.scheduleIndexByTime(all, asOf: asOf), score: score,
                      grade: score.map { Grade.of(score: $0, thresholds: thresholds) },
                      colors: Dictionary(grouping: assessments, by: \.color).mapValues(\.count),
                      warnings: assessments.reduce(0) { $0 + $1.warnings.count })
    }
}
