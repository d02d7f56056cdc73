import Foundation
import Hummingbird
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance

/// The planning side of the API, read from the store: a project's stage gates and baselines,
/// the goal tree, the scorecards, the templates and the suggestion box. Templates are shared
/// plan data, read by any token; everything else is cut to the caller's scope (a department's
/// token sees its department's), and an anonymous suggestion names nobody.
struct PlanningRoutes {
    let node: Node
    /// The goal tree and the scorecards read every project's figures from its snapshot.
    let figures: FiguresCache

    var today: CalendarDate { CalendarDate(unixMilliseconds: node.store.wallClock()) }

    /// `?seed=`: the forecast's random seed (the documented default when missing).
    static func seed(_ query: Query) throws -> UInt64 {
        guard let text = query.text("seed") else { return ForecastSettings.defaultSeed }
        guard let seed = UInt64(text) else { throw Problem(.invalidField, "seed must be a whole number from 0 to 2^64-1", field: "seed") }
        return seed
    }

    /// `?period=`: a year, a quarter or a month.
    static func period(_ query: Query, required: Bool) throws -> PlanPeriod? {
        guard let text = query.text("period") else {
            if required { throw Problem(.invalidField, "give ?period= as a year (2026), a quarter (2026-Q2) or a month (2026-05)", field: "period") }
            return nil
        }
        guard let period = PlanPeriod(text) else {
            throw Problem(.invalidField, "'\(text)' is not a period: write a year (2026), a quarter (2026-Q2) or a month (2026-05)", field: "period")
        }
        return period
    }

    func add(to group: RouterGroup<APIContext>) {
        group.get("templates") { request, context in
            try await offPool {
                _ = try context.requireCaller()
                return try Representation.table(.array(try node.templates().map(\.summaryJSON))).response(to: request)
            }
        }
        group.get("templates/{name}") { request, context in
            try await offPool {
                _ = try context.requireCaller()
                let name = try context.parameters.require("name")
                guard let record = try node.templates().first(where: { $0.template.name == name.lowercased() }) else {
                    throw Problem(.notFound, "no template '\(name)' here: `GET /api/v1/templates` lists them")
                }
                guard case .object(var out) = record.summaryJSON else { throw Problem(.notFound, "no template '\(name)'") }
                out["template"] = JSONText.parse(record.template.canonicalJSON) ?? .null
                return try Representation(json: .object(out)).response(to: request)
            }
        }
        group.get("projects/{code}/stages") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let code = try context.parameters.require("code")
                let against = try Query(request).choice("against", ["current", "original"]) == "original" ? 1 : nil
                guard let stages = try ReadModel.stages(node, code: code, scope: caller.scope, against: against) else {
                    throw Problem(.notFound, "no project '\(code)' that this token may read: `GET /api/v1/projects` lists them")
                }
                return try Representation(json: stages).response(to: request)
            }
        }
        group.get("goals") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let query = Query(request)
                let period = try Self.period(query, required: false)
                do {
                    let snapshot = try figures.snapshot(asOf: ReadModel.cutOff(of: period, today: today))
                    let tree = try ReadModel.goals(node, scope: caller.scope, department: query.text("department"), project: query.text("project"),
                                                   period: period, today: today, snapshot: snapshot)
                    return try Representation(json: tree).response(to: request)
                } catch let error as NodeError where query.text("project") != nil {
                    throw Problem(.notFound, error.message, field: "project")
                }
            }
        }
        group.get("scorecards") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let query = Query(request)
                let period = try Self.period(query, required: true)!
                let snapshot = try figures.snapshot(asOf: ReadModel.cutOff(of: period, today: today))
                let cards = try ReadModel.scorecards(node, scope: caller.scope, department: query.text("department"), period: period,
                                                     today: today, snapshot: snapshot)
                // As CSV: HR's spreadsheet, one row per person (`sitesync scorecard --format csv`).
                let header = cards.rows.first ?? []
                let rows = cards.rows.dropFirst().map { row in JSONValue.object(Dictionary(uniqueKeysWithValues: zip(header, row.map(JSONValue.string)))) }
                return try Representation(json: cards.json, csvRows: .array(rows)).response(to: request)
            }
        }
        group.get("forecasts") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let query = Query(request)
                let settings = ForecastSettings(runs: try query.integer("runs", default: ForecastSettings.defaultRuns, in: 1...100_000),
                                                seed: try Self.seed(query))
                let project = query.text("project")
                let answer: JSONValue?
                do {
                    answer = try ReadModel.forecasts(node, scope: caller.scope, project: project, asOf: try query.asOf(today: today),
                                                     settings: settings)
                } catch let error as NodeError {
                    throw Problem(.invalidField, error.message, field: "project")
                }
                guard let answer else {
                    throw Problem(.notFound, "no project '\(project ?? "")' that this token may read: `GET /api/v1/projects` lists them")
                }
                return try Representation(json: answer).response(to: request)
            }
        }
        group.post("forecasts/what-if") { request, context in
            let body = try await request.body.collect(upTo: 64 * 1024)
            return try await offPool {
                let caller = try context.requireCaller()
                guard case .object(let object)? = JSONText.parse(String(buffer: body)) else {
                    throw Problem(.invalidField, "the body must be a JSON object: {\"project\": \"R-101\", \"what_if\": [\"crew Earthworks +30%\"]}",
                                  field: "body")
                }
                guard case .string(let project)? = object["project"], !project.isEmpty else {
                    throw Problem(.invalidField, "give the project's code as \"project\"", field: "project")
                }
                guard case .array(let items)? = object["what_if"], !items.isEmpty, items.count <= 20 else {
                    throw Problem(.invalidField, "give 1 to 20 changes as \"what_if\": [\"crew ACTIVITY +N%\", \"start ACTIVITY YYYY-MM-DD\", "
                                  + "\"rain-days N/month\"]", field: "what_if")
                }
                let clauses = try items.map { item -> String in
                    guard case .string(let clause) = item else { throw Problem(.invalidField, "each change is a text", field: "what_if") }
                    return clause
                }
                var runs = ForecastSettings.defaultRuns
                if let given = object["runs"] {
                    guard case .int(let number) = given, (1...100_000).contains(number) else {
                        throw Problem(.invalidField, "runs must be a whole number from 1 to 100000", field: "runs")
                    }
                    runs = Int(number)
                }
                let settings = ForecastSettings(runs: runs, seed: ForecastSettings.defaultSeed)
                let answer: JSONValue?
                do {
                    answer = try ReadModel.whatIf(node, scope: caller.scope, project: project, clauses: clauses, asOf: today, settings: settings)
                } catch let error as NodeError {
                    throw Problem(.invalidField, error.message, field: "what_if")
                }
                guard let answer else {
                    throw Problem(.notFound, "no project '\(project)' that this token may read: `GET /api/v1/projects` lists them")
                }
                return try Representation(json: answer).response(to: request)
            }
        }
        group.get("kpi-weights") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let project = Query(request).text("project")
                let answer: JSONValue?
                do {
                    answer = try ReadModel.suggestedWeights(node, scope: caller.scope, project: project)
                } catch let error as NodeError {
                    throw Problem(.invalidField, error.message, field: "project")
                }
                guard let answer else {
                    throw Problem(.notFound, "no project '\(project ?? "")' that this token may read: `GET /api/v1/projects` lists them")
                }
                return try Representation(json: answer).response(to: request)
            }
        }
        group.get("suggestions") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let status = try Query(request).choice("status", Suggestion.statuses)
                let seen = try node.suggestions(status: status).filter { caller.scope.includes(department: $0.department) }
                return try Representation.table(.array(seen.map(\.json))).response(to: request)
            }
        }
    }
}
