import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// What an HTTP API serves, as `JSONValue`s with the snake_case keys the command line's JSON
/// prints: a project in detail, the monthly review, the sync facts, and CSV of any flat list.
/// The figures themselves come from ``FiguresCache``; every read takes a ``ReadScope``.
public enum ReadModel {
    // MARK: - One project

    /// One project in detail as of `asOf`: its fields, its figures (the `report projects`
    /// object), each activity with its figures, the goal tree with weights and scores, the KPIs
    /// with their readings by period, the warnings, risks, issues and daily logs (newest
    /// first). Records are listed as they stand now; figures are as of `asOf`.
    /// - Parameters:
    ///   - code: the project's code (case-insensitive) or id.
    /// - Returns: `nil` when there is no such project, or it is outside `scope`.
    public static func project(_ node: Node, code: String, asOf: CalendarDate, scope: ReadScope) throws -> JSONValue? {
        guard let id = try projectID(node, code: code, scope: scope) else { return nil }
        // The project's figures and its records, read in one transaction and assessed now: a
        // detail never pairs an activity with figures computed before it existed.
        let (inputs, result) = try node.store.reading { reader in
            (try ProjectData.load(reader, asOf: asOf, projects: [id]),
             try reader.rows([
                ("SELECT id, code, name, department, budget, planned_start, planned_finish, stage, remarks FROM project WHERE id = ?1", [id]),
                ("""
                 SELECT id, name, unit, goal, ev_method, status, budget, budget_quantity, planned_start, planned_finish,
                        actual_start, actual_finish, remarks FROM activity WHERE project = ?1 ORDER BY id
                 """, [id]),
                ("SELECT id, name, unit, direction, baseline, target, weight FROM kpi WHERE project = ?1 ORDER BY id", [id]),
                ("""
                 SELECT kpi, period, value, source FROM kpi_reading WHERE kpi IN (SELECT id FROM kpi WHERE project = ?1)
                 ORDER BY kpi, period, id
                 """, [id]),
                ("SELECT id, title, probability, impact, status, mitigation, raised_on, closed_on FROM risk WHERE project = ?1 ORDER BY id", [id]),
                ("""
                 SELECT id, title, description, priority, status, assignees, due, opened_on, closed_on FROM issue
                 WHERE project = ?1 ORDER BY id
                 """, [id]),
                ("SELECT id, date, weather, crew_count, summary, status FROM daily_log WHERE project = ?1 ORDER BY date DESC, id", [id]),
             ]))
        }
        guard let input = inputs.first else { return nil }
        let row = try Reports.computing(asOf: asOf) {
            try ProjectAssessor.assess(input, asOf: asOf, thresholds: node.configuration.report)
        }
        guard let fields = result[0].first else { return nil }
        let kpiCap = node.configuration.report.kpiCap
        return .object([
            "project": object(["id", "code", "name", "department", "budget", "planned_start", "planned_finish", "stage", "remarks"], fields),
            "figures": try Reports.computing(asOf: asOf) { try ReportText.projectJSON(row) },
            "activities": try activities(result[1], row: row, asOf: asOf),
            "goals": goalTree(row),
            "kpis": kpis(result[2], readings: result[3], row: row, kpiCap: kpiCap),
            "warnings": .array(row.warnings.map(warning)),
            "risks": .array(result[4].map {
                object(["id", "title", "probability", "impact", "status", "mitigation", "raised_on", "closed_on"], $0,
                       integers: ["probability", "impact"])
            }),
            "issues": .array(result[5].map {
                object(["id", "title", "description", "priority", "status", "assignees", "due", "opened_on", "closed_on"], $0,
                       lists: ["assignees"])
            }),
            "daily_logs": .array(result[6].map {
                object(["id", "date", "weather", "crew_count", "summary", "status"], $0, integers: ["crew_count"])
            }),
            "as_of": .string(asOf.description),
        ])
    }

    /// The id of the project `code` names (its id, or its code, case-insensitive) when `scope`
    /// may read it.
    static func projectID(_ node: Node, code: String, scope: ReadScope) throws -> String? {
        let rows = try node.store.rows([("SELECT id, coalesce(code, id), department FROM project", [])])[0]
        let match = rows.first { $0[0] == code } ?? rows.first { ($0[1] ?? "").lowercased() == code.lowercased() }
        guard let match, let id = match[0], scope.includes(projectCode: match[1] ?? id, of: match[2] ?? "") else { return nil }
        return id
    }

    /// An object of `keys` from one row of text (the store's canonical text of each value):
    /// text as strings (decimals too, so they stay exact), `integers` as numbers, `lists`
    /// (sets, stored as JSON arrays) as arrays, SQL NULL as `null`.
    static func object(_ keys: [String], _ row: [String?], integers: Set<String> = [], lists: Set<String> = []) -> JSONValue {
        var out: [String: JSONValue] = [:]
        for (index, key) in keys.enumerated() {
            guard index < row.count, let text = row[index] else { out[key] = .null; continue }
            if integers.contains(key), let value = Int64(text) {
                out[key] = .int(value)
            } else if lists.contains(key), let value = JSONText.parse(text) {
                out[key] = value
            } else {
                out[key] = .string(text)
            }
        }
        return .object(out)
    }

    static func money(_ value: ExactDecimal) -> JSONValue { .number(value.fixed(2)) }

    static func warning(_ warning: EarlyWarning) -> JSONValue {
        .object(["id": .string(warning.id), "rule": .string(warning.rule.rawValue), "level": .string(warning.level.rawValue),
                 "subject": .string(warning.subject), "reason": .string(warning.reason)])
    }

    /// Each activity's fields with its figures as of `asOf` (percent complete 0–100 to one
    /// decimal, BAC, PV, EV and AC as exact decimals to two places).
    static func activities(_ rows: [[String?]], row: ProjectAssessment, asOf: CalendarDate) throws -> JSONValue {
        let inputs = Dictionary(row.project.activities.map { ($0.id, $0) }) { a, _ in a }
        return .array(try Reports.computing(asOf: asOf) {
            try rows.map { fields in
                guard case .object(var out) = object(["id", "name", "unit", "goal", "ev_method", "status", "budget", "budget_quantity",
                                                      "planned_start", "planned_finish", "actual_start", "actual_finish", "remarks"],
                                                     fields) else { return .null }
                if let id = fields[0], let activity = inputs[id] {
                    let figures = try ActivityEarnedValue.figures(activity, asOf: asOf)
                    let done = try ActivityEarnedValue.fractionComplete(activity, asOf: asOf)
                    out["percent_complete"] = .number(ReportText.fixed(100 * done, 1))
                    out["bac"] = money(activity.budget)
                    out["pv"] = money(figures.plannedValue)
                    out["ev"] = money(figures.earnedValue)
                    out["ac"] = money(figures.actualCost)
                }
                return .object(out)
            }
        })
    }

    /// The goal tree: each goal with its weight, its score (`null` while nothing under it is
    /// due) and its children, in id order. A goal whose parent is missing is a root.
    static func goalTree(_ row: ProjectAssessment) -> JSONValue {
        let goals = row.project.goals
        let ids = Set(goals.map(\.id))
        func node(_ goal: GoalInput, depth: Int) -> JSONValue {
            let children = depth < 16 ? goals.filter { $0.parent == goal.id && $0.id != goal.id }.map { node($0, depth: depth + 1) } : []
            return .object([
                "id": .string(goal.id), "title": .string(goal.title), "weight": .number(ReviewFigures.trim(goal.weight)),
                "score": row.goalScores[goal.id].map { .number(ReportText.fixed($0, 1)) } ?? .null, "children": .array(children),
            ])
        }
        return .array(goals.filter { $0.parent.map { !ids.contains($0) } ?? true }.map { node($0, depth: 0) })
    }

    /// Each KPI with its latest reading as of the cut-off, its score and every reading by period.
    static func kpis(_ rows: [[String?]], readings: [[String?]], row: ProjectAssessment, kpiCap: Double) -> JSONValue {
        let inputs = Dictionary(row.project.kpis.map { ($0.id, $0) }) { a, _ in a }
        var byKPI: [String: [JSONValue]] = [:]
        for reading in readings {
            guard let kpi = reading[0] else { continue }
            byKPI[kpi, default: []].append(object(["kpi", "period", "value", "source"], reading))
        }
        return .array(rows.map { fields in
            guard case .object(var out) = object(["id", "name", "unit", "direction", "baseline", "target", "weight"], fields) else { return .null }
            let id = fields[0] ?? ""
            let input = inputs[id]
            out["value"] = input?.value.map { .number(ReviewFigures.trim($0)) } ?? .null
            out["score"] = input?.score(cap: kpiCap).map { .number(ReportText.fixed($0, 1)) } ?? .null
            out["readings"] = .array(byKPI[id] ?? [])
            return .object(out)
        })
    }

    // MARK: - The monthly review

    /// The monthly review of `period` (YYYY-MM) as JSON: its figures (``ReviewFigures``, keys in
    /// snake_case), whether it is closed, the late entries and each site's freshness.
    ///
    /// For a department scope: the department's projects, its row of the league, its late
    /// entries and sites; for an open month the headline and S-curve are the department's own;
    /// for a closed month they are the city's frozen ones, which are withheld (`null`).
    /// ``MonthlyReview/gather(node:period:now:)`` stays the way to its Markdown and HTML.
    /// - Parameter snapshot: today's figures, used for an open month that ends today or later.
    public static func monthly(_ node: Node, period: String, scope: ReadScope,
                               now: Int64 = Int64(StoreOptions.systemClock()), snapshot: FiguresSnapshot? = nil) throws -> JSONValue {
        // The city's figures are gathered only when the scope is the city's.
        let review = try MonthlyReview.gather(node: node, period: period, now: now, snapshot: snapshot)
        var figures = review.figures
        var lateEntries = review.lateEntries
        var freshness = review.freshness
        var cityPartWithheld = false
        if let department = scope.department {
            if review.close == nil, let month = Month(period) {
                figures = try MonthlyReview.figures(node, month: month, asOf: review.asOf, departmentNames: review.departmentNames,
                                                    department: department, snapshot: snapshot)
            } else {
                figures.projects = figures.projects.filter { $0.department == department }
                cityPartWithheld = true
            }
            let code = review.departmentNames[department].map { "\($0) (\(department))" } ?? department
            figures.league = figures.league.filter { $0.count > 1 && ($0[1] == code || $0[1] == department) }
            let departments = try projectDepartments(node)
            lateEntries = lateEntries.filter { departments[$0.project] == department }
            freshness = freshness.filter { $0.department == department }
        }
        if let codes = scope.projects {
            // A project lead's review lists their projects only; the headline stays the department's.
            figures.projects = figures.projects.filter { codes.contains($0.code.lowercased()) }
            lateEntries = lateEntries.filter { codes.contains($0.project.lowercased()) }
        }
        guard case .object(var out) = try encode(figures) else { return .null }
        if cityPartWithheld {
            out["headline"] = .null
            out["curve"] = .null
        }
        out["period"] = .string(review.period)
        out["as_of"] = .string(review.asOf.description)
        out["scope"] = scope.department.map(JSONValue.string) ?? .null
        out["standing"] = .string(review.standing)
        out["closed"] = review.close.map { close in
            .object(["closed_on": .string(close.closedOn.description), "closed_by": .string(close.closedBy),
                     "projects": .int(Int64(close.projects)), "held_projects": .int(Int64(close.heldProjects))])
        } ?? .null
        out["late_entries"] = .array(lateEntries.map {
            .object(["date": .string($0.date), "project": .string($0.project), "entry": .string($0.what), "value": .string($0.value),
                     "node": .string($0.node)])
        })
        out["freshness"] = .array(freshness.map {
            .object(["node": .string($0.node), "role": .string($0.role), "department": .string($0.department),
                     "days_since_sync": $0.daysSinceSync.map { .int(Int64($0)) } ?? .null])
        })
        return .object(out)
    }

    /// Each project's department by its code.
    static func projectDepartments(_ node: Node) throws -> [String: String] {
        Dictionary(try node.store.rows([("SELECT coalesce(code, id), department FROM project", [])])[0]
            .map { ($0[0] ?? "", $0[1] ?? "") }) { a, _ in a }
    }

    /// A Codable value as JSON with snake_case keys (numbers kept as the encoder wrote them).
    static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let text = String(decoding: try encoder.encode(value), as: UTF8.self)
        do {
            return try JSONText.parseOrThrow(text)
        } catch {
            throw NodeError(.usage, "the monthly review could not be turned into JSON (\(error)); report this as a bug")
        }
    }

    // MARK: - Sync facts

    /// `status --fleet --json` (at the hub: every node it knows).
    public static func fleet(_ node: Node, staleAfter: Int? = nil) throws -> JSONValue {
        SyncFactsJSON.fleet(try node.fleet(staleAfter: staleAfter))
    }

    /// `status --json` of this node.
    public static func status(_ node: Node) throws -> JSONValue {
        SyncFactsJSON.status(try node.status())
    }

    /// `conflicts --json`, cut to `scope`: the conflicts waiting for a person first.
    public static func conflicts(_ node: Node, scope: ReadScope, state: String? = nil, all: Bool = false,
                                 project: String? = nil) throws -> JSONValue {
        SyncFactsJSON.conflicts(try ConflictReview.entries(node, state: state, all: all, project: project, scope: scope),
                                names: try node.store.replicaNames())
    }

    /// `history --json`: the latest `limit` sessions and bundles, newest first.
    public static func syncHistory(_ node: Node, limit: Int = 20) throws -> JSONValue {
        SyncFactsJSON.history(try node.store.history(limit: max(1, limit)))
    }

    // MARK: - CSV

    /// An array of flat objects as CSV, the way spreadsheets open it (UTF-8 with a byte-order
    /// mark, CRLF line ends, as ``ReportText/csv(_:)``): a header row, then one row per object.
    /// Strings print as they are, numbers as written, `null` as an empty cell, and a nested
    /// array or object as its compact JSON text.
    /// - Parameter columns: the columns in order; by default every key met, sorted by UTF-8
    ///   bytes (the order of the JSON itself), so two calls over the same data agree.
    /// - Returns: `nil` when `rows` is not an array of objects.
    public static func csv(_ rows: JSONValue, columns: [String]? = nil) -> String? {
        guard case .array(let items) = rows else { return nil }
        var objects: [[String: JSONValue]] = []
        for item in items {
            guard case .object(let members) = item else { return nil }
            objects.append(members)
        }
        let header = columns ?? Set(objects.flatMap(\.keys)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        func cell(_ value: JSONValue?) -> String {
            switch value {
            case nil, .null?: ""
            case .string(let text)?: text
            case .number(let text)?: text
            case .int(let number)?: String(number)
            case .bool(let flag)?: flag ? "true" : "false"
            case let nested?: nested.canonicalText
            }
        }
        return ReportText.csv([header] + objects.map { object in header.map { cell(object[$0]) } })
    }
}
