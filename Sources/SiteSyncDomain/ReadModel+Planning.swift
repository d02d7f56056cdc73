import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance

/// The planning side as the HTTP API and the dashboard read it, cut to the reader's scope:
/// a project's stage gates and baselines, the goal tree, and the scorecards.
extension ReadModel {
    /// A project's stage, its stage transitions (who proposed and decided, when, why), its
    /// baselines (latest first) and its plan's variance against the current baseline (against
    /// baseline `against`, on request: 1 for the original); `nil` when there is no such project
    /// in `scope`.
    public static func stages(_ node: Node, code: String, scope: ReadScope, against: Int? = nil) throws -> JSONValue? {
        let rows = try node.store.rows([("""
            SELECT id, coalesce(code, id), coalesce(department, ''), coalesce(stage, 'initiation') FROM project
            WHERE id = ?1 OR lower(code) = lower(?1) ORDER BY id = ?1 DESC, id LIMIT 1
            """, [code])])[0]
        guard let row = rows.first, let id = row[0], let projectCode = row[1], let department = row[2],
              scope.includes(projectCode: projectCode, of: department) else { return nil }
        let transitions = try StageGates.transitions(node.store, project: id)
        return .object([
            "project": .string(projectCode), "department": .string(department), "stage": .string(row[3] ?? "initiation"),
            "waiting": transitions.first(where: \.isWaiting)?.json ?? .null,
            "transitions": .array(transitions.map(\.json)),
            "baselines": .array(try Baselines.list(node.store, project: id).map(\.json)),
            "variance": try Baselines.variance(node.store, project: id, against: against)?.json ?? .null,
        ])
    }

    /// The goal tree (`sitesync goal tree --json`) of `scope`: a department's reader sees its
    /// department's branches and the city objectives above them; `department` narrows a city
    /// reader's to one, `project` to one project's goals.
    /// - Throws: ``NodeError`` (`usage`) for a project not in scope.
    /// - Parameter snapshot: the figures as of the tree's date, when the caller holds them: its
    ///   projects are used instead of loading every project again (a city's worth of entries).
    public static func goals(_ node: Node, scope: ReadScope, department: String?, project: String?, period: PlanPeriod?,
                             today: CalendarDate, snapshot: FiguresSnapshot? = nil) throws -> JSONValue {
        let asOf = cutOff(of: period, today: today)
        if let project {
            let found = try node.findProject(project)
            let projectDepartment = try node.store.rows([("SELECT coalesce(department, '') FROM project WHERE id = ?1", [found.id])])[0]
                .first.flatMap { $0[0] } ?? ""
            guard scope.includes(projectCode: found.code, of: projectDepartment) else {
                throw NodeError(.usage, "no project '\(project)' that you may read")
            }
        }
        let roots = try node.goalTree(asOf: asOf, period: period, department: scope.department ?? department, project: project,
                                      thresholds: node.configuration.report, projects: projects(of: snapshot, asOf: asOf))
        return Node.goalTreeJSON(roots, asOf: asOf, period: period)
    }

    /// The scorecards of `period` (`sitesync scorecard --format json`) in `scope`: a
    /// department's reader sees its department's staff; `department` narrows a city reader's.
    /// `snapshot`: the figures as of the period's cut-off, when the caller holds them (``goals``).
    public static func scorecards(_ node: Node, scope: ReadScope, department: String?, period: PlanPeriod,
                                  today: CalendarDate, snapshot: FiguresSnapshot? = nil) throws -> (json: JSONValue, rows: [[String]]) {
        let (asOf, cards) = try node.scorecards(period: period, department: scope.department ?? department, today: today,
                                                thresholds: node.configuration.report,
                                                projects: projects(of: snapshot, asOf: cutOff(of: period, today: today)))
        return (Node.scorecardsJSON(cards, period: period, asOf: asOf), Node.scorecardRows(cards, period: period, asOf: asOf))
    }

    /// The date a period's goals and scores are read as of: its last day, or today while it runs;
    /// today without a period.
    public static func cutOff(of period: PlanPeriod?, today: CalendarDate) -> CalendarDate {
        period.map { min($0.lastDay, today) } ?? today
    }

    /// Every project of `snapshot`, in the order ``ProjectData/load(_:asOf:)`` gives them (code,
    /// then id), when it is of `asOf`; `nil` otherwise (they are then loaded).
    static func projects(of snapshot: FiguresSnapshot?, asOf: CalendarDate) -> [ProjectInput]? {
        guard let snapshot, snapshot.asOf == asOf else { return nil }
        return snapshot.assessments.map(\.project)
    }
}
