import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance

/// The completion forecasts (docs/design.md §17) as the HTTP API and the dashboard read them,
/// cut to the reader's scope.
extension ReadModel {
    /// The forecasts of the projects under way in `scope` (`sitesync forecast --json`), or of
    /// the one named by `project` (code or id); `nil` when that project is not in scope.
    public static func forecasts(_ node: Node, scope: ReadScope, project: String?, asOf: CalendarDate,
                                 settings: ForecastSettings) throws -> JSONValue? {
        let ids = try projectIDs(node, scope: scope, project: project)
        guard project == nil || !ids.isEmpty else { return nil }
        let inputs = try Forecasts.load(node.store, asOf: asOf, tags: node.configuration.forecast.tags, projects: ids)
        if project != nil && inputs.isEmpty {
            throw NodeError(.usage, "project \(project!) is closed or archived: its figures are final, there is nothing to forecast")
        }
        let answer = ForecastJSON.forecasts(inputs.map { Forecast.project($0, asOf: asOf, settings: settings) }, asOf: asOf, settings: settings)
        // One project's forecast also gives the delay model's prediction, as the command does.
        guard let id = ids.first, project != nil, let delay = try DelayHistory.prediction(node, project: id, asOf: asOf),
              case .object(var members) = answer, case .array(var projects) = members["projects"], case .object(var first)? = projects.first
        else { return answer }
        first["delay_probability"] = delay.json.probability
        first["delay_factors"] = delay.json.factors
        projects[0] = .object(first)
        members["projects"] = .array(projects)
        return .object(members)
    }

    /// A what-if of one project in `scope` (`sitesync forecast PROJECT --what-if …`): the base,
    /// the changed forecast and the difference; nothing stored changes. `nil` when the project
    /// is not in scope.
    public static func whatIf(_ node: Node, scope: ReadScope, project: String, clauses: [String], asOf: CalendarDate,
                              settings: ForecastSettings) throws -> JSONValue? {
        guard let id = try projectIDs(node, scope: scope, project: project).first else { return nil }
        let comparison = try Forecasts.whatIf(node, project: id, clauses: clauses, asOf: asOf, settings: settings)
        return ForecastJSON.comparison(comparison, asOf: asOf, settings: settings)
    }

    /// The suggested KPI weights (``KPIWeights``) of the project named (code or id) in `scope`,
    /// or, for a reader of the whole city only, of every KPI on the node; `nil` when the project
    /// is not in scope.
    public static func suggestedWeights(_ node: Node, scope: ReadScope, project: String?) throws -> JSONValue? {
        guard let project else {
            guard scope.department == nil, scope.projects == nil else {
                throw NodeError(.usage, "give ?project=CODE: a token of one department or of some projects reads the weights of one project at a time")
            }
            return KPIWeights.json(try KPIWeights.suggest(node), project: nil)
        }
        guard let id = try projectIDs(node, scope: scope, project: project).first else { return nil }
        return KPIWeights.json(try KPIWeights.suggest(node, project: id), project: try node.findProject(id).code)
    }

    /// The ids of the projects in `scope`, or of the one named (none when it is out of scope
    /// or unknown).
    static func projectIDs(_ node: Node, scope: ReadScope, project: String?) throws -> [String] {
        let rows = try node.store.rows([("SELECT id, coalesce(code, id), coalesce(department, '') FROM project ORDER BY code, id", [])])[0]
        return rows.compactMap { row -> String? in
            guard let id = row[0], let code = row[1], let department = row[2], scope.includes(projectCode: code, of: department) else { return nil }
            if let project, id != project && code.lowercased() != project.lowercased() { return nil }
            return id
        }
    }
}
