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
        try byDepartment(assessments, asOf: asOf, thresholds: thresholds) { (index, date) throws(ExactDecimal.Overflow) in
            try plannedValue(of: assessments[index].project, asOf: date)
        }
    }

    /// ``byDepartment(_:asOf:thresholds:)`` with each project's planned value at a date taken
    /// from `plannedValue` (given the project's position in `assessments`), which must return
    /// ``plannedValue(of:asOf:)``: a caller that keeps figures between changes remembers the
    /// values of the projects that did not change instead of summing their activities again.
    /// SPI(t) of a department is the costly part of a roll-up: its earned-schedule search asks
    /// for the planned value of every activity at a dozen dates or more.
    public static func byDepartment(_ assessments: [ProjectAssessment], asOf: CalendarDate, thresholds: Thresholds = .standard,
                                    plannedValue: (Int, CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal)
        throws(ExactDecimal.Overflow) -> [RollUp] {
        let groups = Dictionary(grouping: assessments.indices, by: { assessments[$0].project.department })
        var rollUps: [RollUp] = []
        for department in groups.keys.sorted() {
            rollUps.append(try make(department, groups[department]!, of: assessments, asOf: asOf, thresholds: thresholds,
                                    plannedValue: plannedValue))
        }
        return rollUps + [try make("", Array(assessments.indices), of: assessments, asOf: asOf, thresholds: thresholds,
                                   plannedValue: plannedValue)]
    }

    /// A project's planned value at the end of `date`: the sum of its activities'.
    public static func plannedValue(of project: ProjectInput, asOf date: CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal {
        var planned = ExactDecimal.zero
        for activity in project.activities { planned = try planned.plus(ActivityEarnedValue.plannedValue(activity, asOf: date)) }
        return planned
    }

    /// The roll-up of the projects at `members` (positions in `assessments`).
    ///
    /// SPI(t) is that of all their activities together, as ``ProjectAssessor/scheduleIndexByTime(_:asOf:)``
    /// gives it for one project holding them all: over the joint planned window, with the
    /// earned value and the planned values summed per project first. Exact decimals add
    /// exactly, so the sums, and the index, are the same in any grouping.
    static func make(_ department: String, _ members: [Int], of assessments: [ProjectAssessment], asOf: CalendarDate,
                     thresholds: Thresholds,
                     plannedValue: (Int, CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal) throws(ExactDecimal.Overflow) -> RollUp {
        let rows = members.map { assessments[$0] }
        // The budget is a weight here: its Double is used for the weighted mean only.
        let score = KPIScore.weighted(rows.map { ($0.figures.budget.doubleValue, $0.score) })
        return RollUp(department: department, projects: rows.count, figures: try .sum(rows.map(\.figures)),
                      scheduleIndexByTime: try scheduleIndexByTime(members, of: assessments, asOf: asOf, plannedValue: plannedValue),
                      score: score,
                      grade: score.map { Grade.of(score: $0, thresholds: thresholds) },
                      colors: Dictionary(grouping: rows, by: \.color).mapValues(\.count),
                      warnings: rows.reduce(0) { $0 + $1.warnings.count })
    }

    /// SPI(t) of the activities of the projects at `members`, over their joint planned window
    /// (the earliest planned start to the latest planned finish; none when that is empty).
    static func scheduleIndexByTime(_ members: [Int], of assessments: [ProjectAssessment], asOf: CalendarDate,
                                    plannedValue: (Int, CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal)
        throws(ExactDecimal.Overflow) -> Double? {
        var start: CalendarDate?, finish: CalendarDate?
        var earned = ExactDecimal.zero
        for member in members {
            let row = assessments[member]
            for activity in row.project.activities {
                if let day = activity.plannedStart, start.map({ day < $0 }) ?? true { start = day }
                if let day = activity.plannedFinish, finish.map({ day > $0 }) ?? true { finish = day }
            }
            earned = try earned.plus(row.figures.earnedValue)
        }
        guard let start, let finish, start <= finish else { return nil }
        return try EarnedSchedule.index(earnedValue: earned, start: start, finish: finish, asOf: asOf) {
            (date) throws(ExactDecimal.Overflow) -> ExactDecimal in
            var planned = ExactDecimal.zero
            for member in members { planned = try planned.plus(plannedValue(member, date)) }
            return planned
        }
    }
}
