import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// The reports of a node, as typed values: what `sitesync report` prints and what any other face
/// (an HTTP API) serves. Every figure is computed here; a face only formats and prints.
public enum Reports {
    /// What a report covers at a node that holds one department only; `nil` at a node that
    /// holds the whole city.
    public static func scopeNote(_ node: Node) -> String? {
        let writer = node.writer
        return writer.role.isDepartmentBound
            ? "covers department \(writer.department) only: what this \(writer.role.rawValue) node holds" : nil
    }

    /// Runs a computation of figures, turning an amount too large to hold exactly into an
    /// error that says which report could not be computed and why.
    static func computing<T>(asOf: CalendarDate, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let overflow as ExactDecimal.Overflow {
            throw NodeError(.usage, "the figures as of \(asOf) cannot be computed exactly: \(overflow)")
        }
    }

    /// Every project the store holds, assessed at the end of `asOf`, in code order.
    public static func assessments(_ store: ReplicaStore, asOf: CalendarDate,
                                   thresholds: Thresholds = .standard) throws -> [ProjectAssessment] {
        try computing(asOf: asOf) {
            try ProjectData.load(store, asOf: asOf).map { try ProjectAssessor.assess($0, asOf: asOf, thresholds: thresholds) }
        }
    }

    /// One row per project (`report projects`).
    public static func projects(_ node: Node, asOf: CalendarDate) throws -> (rows: [ProjectAssessment], scope: String?) {
        (try assessments(node.store, asOf: asOf, thresholds: node.configuration.report), scopeNote(node))
    }

    /// One row per department, then the city's (`report departments`): the projects under way
    /// (closed and archived projects are left out: their figures are final).
    public static func departments(_ node: Node, asOf: CalendarDate) throws -> (rows: [RollUp], scope: String?) {
        let thresholds = node.configuration.report
        let projects = try assessments(node.store, asOf: asOf, thresholds: thresholds).filter { !$0.project.isClosed }
        return (try computing(asOf: asOf) { try RollUp.byDepartment(projects, asOf: asOf, thresholds: thresholds) }, scopeNote(node))
    }

    /// One activity of a project's detail, with its figures.
    public struct ActivityLine: Sendable {
        public let activity: ActivityInput
        public let name: String
        /// 0–100.
        public let percentComplete: Double
        public let figures: EarnedValueFigures
    }

    /// One project in detail (`project show`): its assessment and each activity's figures.
    public struct ProjectDetail: Sendable {
        public let assessment: ProjectAssessment
        public let activities: [ActivityLine]
        public var project: ProjectInput { assessment.project }
    }

    /// The project named by `text` (code or id), assessed at the end of `asOf`; `nil` when the
    /// store holds its record but nothing to assess.
    public static func project(_ node: Node, _ text: String, asOf: CalendarDate) throws -> ProjectDetail? {
        let found = try node.findProject(text)
        guard let input = try ProjectData.load(node.store, asOf: asOf).first(where: { $0.id == found.id }) else { return nil }
        return try computing(asOf: asOf) {
            let assessment = try ProjectAssessor.assess(input, asOf: asOf)
            let lines = try input.activities.map { activity in
                ActivityLine(activity: activity, name: input.activityNames[activity.id] ?? "",
                             percentComplete: 100 * (try ActivityEarnedValue.fractionComplete(activity, asOf: asOf)),
                             figures: try ActivityEarnedValue.figures(activity, asOf: asOf))
            }
            return ProjectDetail(assessment: assessment, activities: lines)
        }
    }
}
