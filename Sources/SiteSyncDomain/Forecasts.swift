import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// Reads what the completion forecasts need (docs/design.md §17) and runs them: each
/// activity's plan and state, its progress and costs summed per calendar week, and the
/// projects' daily logs with their tags. A pure function of the replica's records, the cut-off,
/// the tag list and the settings: replicas holding the same data print the same forecast.
public enum Forecasts {
    /// Every project under way this store holds (closed and archived ones have nothing left to
    /// forecast), or only those with the ids given, as of the end of `asOf`.
    public static func load(_ store: ReplicaStore, asOf: CalendarDate, tags: DailyLogTags = .standard,
                            projects: [String]? = nil) throws -> [ForecastProject] {
        try store.reading { try load($0, asOf: asOf, tags: tags, projects: projects) }
    }

    /// ``load(_:asOf:tags:projects:)`` in one snapshot.
    ///
    /// Entries are summed per activity and calendar week (Monday to Sunday) in one pass over
    /// each entry table (``SnapshotReader/weeklySums(table:amount:upTo:restriction:)``), as
    /// binary doubles: a forecast is a spread of outcomes, not an account, and the sums it
    /// starts from need no exactness the spread would not swamp.
    public static func load(_ reader: SnapshotReader, asOf: CalendarDate, tags: DailyLogTags,
                            projects: [String]?) throws -> [ForecastProject] {
        let day = asOf.description
        func only(_ column: String, from first: Int) -> String {
            guard let projects else { return "1" }
            return "\(column) IN (" + (0..<projects.count).map { "?\(first + $0)" }.joined(separator: ", ") + ")"
        }
        let ids = projects ?? []
        let ofActivity = projects == nil ? "1" : "activity IN (SELECT id FROM activity WHERE \(only("project", from: 2)))"
        let result = try reader.rows([
            ("""
             SELECT id, code, name FROM project WHERE coalesce(stage, '') NOT IN ('closed', 'archived')
             AND \(only("id", from: 1)) ORDER BY code, id
             """, ids),
            ("""
             SELECT id, project, name, budget, budget_quantity, planned_start, planned_finish, ev_method, status,
                    actual_start, actual_finish FROM activity WHERE \(only("project", from: 1)) ORDER BY id
             """, ids),
            ("""
             SELECT activity, date, percent FROM percent_entry WHERE date <= ?1 AND activity IS NOT NULL AND percent IS NOT NULL
             AND \(ofActivity) ORDER BY activity, date
             """, [day] + ids),
            ("SELECT project, date, coalesce(summary, ''), coalesce(weather, '') FROM daily_log WHERE date <= ?1 AND \(only("project", from: 2))",
             [day] + ids),
        ])
        let restriction = projects.map { _ in ("activity IN (SELECT id FROM activity WHERE \(only("project", from: 2)))", ids) }
        let quantities = try reader.weeklySums(table: "quantity_entry", amount: "quantity", upTo: day, restriction: restriction)
        let costs = try reader.weeklySums(table: "cost_entry", amount: "amount", upTo: day, restriction: restriction)
        var percents: [String: [Int: Double]] = [:], firstPercent: [String: CalendarDate] = [:]
        // A percentage is true as of its day: a week's progress is its last percentage less the
        // one before the week.
        var reached: [String: Double] = [:]
        for row in result[2] {
            guard let activity = row[0], let day = date(row[1]), let percent = row[2].flatMap(Double.init) else { continue }
            let week = Forecast.monday(of: day).daysSinceEpoch
            let before = reached[activity] ?? 0
            percents[activity, default: [:]][week, default: 0] += min(max(percent, 0), 100) - before
            reached[activity] = min(max(percent, 0), 100)
            if percent > 0, firstPercent[activity] == nil { firstPercent[activity] = day }
        }
        var activities: [String: [ForecastActivity]] = [:]
        for row in result[1] {
            guard let id = row[0], let project = row[1] else { continue }
            let method = row[7].flatMap(EarnedValueMethod.init(rawValue:)) ?? .units
            let progress = method == .manual ? percents[id] ?? [:] : method == .units ? quantities[id]?.weeks ?? [:] : [:]
            let spent = costs[id]?.weeks ?? [:]
            let weeks = Set(progress.keys).union(spent.keys).sorted().map {
                ForecastActivity.Week(monday: CalendarDate(daysSinceEpoch: $0), progress: progress[$0] ?? 0, cost: spent[$0] ?? 0)
            }
            activities[project, default: []].append(ForecastActivity(
                id: id, name: row[2] ?? id, method: method, status: row[8].flatMap(ActivityStatus.init(rawValue:)) ?? .notStarted,
                plannedStart: date(row[5]), plannedFinish: date(row[6]), actualStart: date(row[9]), actualFinish: date(row[10]),
                budget: row[3].flatMap(Double.init) ?? 0, plannedQuantity: row[4].flatMap(Double.init), weeks: weeks,
                firstProgress: method == .manual ? firstPercent[id] : quantities[id]?.firstPositive.map { CalendarDate(daysSinceEpoch: $0) }))
        }
        var rainDays: [String: Set<Int>] = [:], logged: [String: Int] = [:], tagCounts: [String: [String: Int]] = [:]
        // Logs repeat themselves ("晴", "as planned"): each distinct text is matched once.
        let matcher = DailyLogTags.Matcher(tags)
        var known: [String: [String]] = [:]
        func tagsOf(_ text: String) -> [String] {
            if let found = known[text] { return found }
            let found = matcher.tags(of: text)
            known[text] = found
            return found
        }
        for row in result[3] {
            guard let project = row[0], let day = date(row[1]) else { continue }
            logged[project, default: 0] += 1
            let found = Set(tagsOf(row[2] ?? "") + tagsOf(row[3] ?? ""))
            for tag in found { tagCounts[project, default: [:]][tag, default: 0] += 1 }
            if found.contains(DailyLogTags.rain) { rainDays[project, default: []].insert(day.daysSinceEpoch) }
        }
        return result[0].compactMap { row in
            guard let id = row[0] else { return nil }
            return ForecastProject(id: id, code: row[1] ?? id, name: row[2] ?? "", activities: activities[id] ?? [],
                                   rainDays: rainDays[id] ?? [], loggedDays: logged[id] ?? 0, tagCounts: tagCounts[id] ?? [:])
        }
    }

    /// The forecasts of every project under way at `node` (or of the one named by `project`,
    /// code or id), with the node's tag list.
    public static func forecast(_ node: Node, project: String? = nil, asOf: CalendarDate,
                                settings: ForecastSettings = ForecastSettings()) throws -> [ProjectForecast] {
        let inputs = try projects(node, project, asOf: asOf)
        return inputs.map { Forecast.project($0, asOf: asOf, settings: settings) }
    }

    /// The projects to forecast: all, or the one named (refused if closed: nothing is left to forecast).
    static func projects(_ node: Node, _ project: String?, asOf: CalendarDate) throws -> [ForecastProject] {
        guard let project else { return try load(node.store, asOf: asOf, tags: node.configuration.forecast.tags) }
        let found = try node.findProject(project)
        let inputs = try load(node.store, asOf: asOf, tags: node.configuration.forecast.tags, projects: [found.id])
        guard !inputs.isEmpty else {
            throw NodeError(.usage, "project \(found.code) is closed or archived: its figures are final, there is nothing to forecast")
        }
        return inputs
    }

    /// A what-if and its base, with the same seed (so their difference is the changes', not noise).
    public struct Comparison: Sendable {
        public let base: ProjectForecast
        public let changed: ProjectForecast
        public let clauses: [String]
    }

    /// ``forecast(_:project:asOf:settings:)`` of one project, and again with `clauses` applied
    /// (``WhatIf``): nothing stored changes.
    public static func whatIf(_ node: Node, project: String, clauses: [String], asOf: CalendarDate,
                              settings: ForecastSettings = ForecastSettings()) throws -> Comparison {
        let parsed: [WhatIf]
        do { parsed = try clauses.map { clause throws(WhatIf.ParseError) in try WhatIf.parse(clause) } } catch {
            throw NodeError(.usage, error.description)
        }
        let input = try projects(node, project, asOf: asOf)[0]
        let scenario: Scenario
        do { scenario = try WhatIf.scenario(parsed, for: input) } catch { throw NodeError(.usage, error.description) }
        return Comparison(base: Forecast.project(input, asOf: asOf, settings: settings),
                          changed: Forecast.project(input, asOf: asOf, scenario: scenario, settings: settings), clauses: clauses)
    }
}

/// The forecasts as JSON (`sitesync forecast --json`; the names are a public contract).
public enum ForecastJSON {
    static func money(_ value: Double) -> JSONValue { .number(String(format: "%.2f", value)) }
    static func number(_ value: Double, _ places: Int = 4) -> JSONValue { .number(String(format: "%.\(places)f", value)) }

    public static func project(_ forecast: ProjectForecast) -> JSONValue {
        var members: [String: JSONValue] = [
            "project": .string(forecast.id), "code": .string(forecast.code), "name": .string(forecast.name),
            "bac": money(forecast.budget), "ac": money(forecast.actualCost),
            "planned_finish": forecast.plannedFinish.map { .string($0.description) } ?? .null,
            "rain_days_per_month": number(forecast.rainDaysPerMonth, 2),
            "tags": .object(forecast.tagCounts.mapValues { .int(Int64($0)) }),
            "activities": .array(forecast.activities.map(activity)),
        ]
        for (name, value) in [("p50", forecast.finish?.p50), ("p80", forecast.finish?.p80), ("p95", forecast.finish?.p95)] {
            members["finish_" + name] = value.map { .string($0.description) } ?? .null
        }
        for (name, value) in [("p50", forecast.eac?.p50), ("p80", forecast.eac?.p80), ("p95", forecast.eac?.p95)] {
            members["eac_" + name] = value.map(money) ?? .null
        }
        return .object(members)
    }

    public static func activity(_ forecast: ActivityForecast) -> JSONValue {
        .object([
            "activity": .string(forecast.id), "name": .string(forecast.name), "basis": .string(forecast.basis.rawValue),
            "rate_per_day": number(forecast.rate), "rate_spread": number(forecast.rateSpread), "periods": .int(Int64(forecast.periods)),
            "remaining": number(forecast.remaining), "measure": .string(forecast.measure),
            "finish_p50": .string(forecast.finish.p50.description), "finish_p80": .string(forecast.finish.p80.description),
            "finish_p95": .string(forecast.finish.p95.description),
            "eac_p50": money(forecast.eac.p50), "eac_p80": money(forecast.eac.p80), "eac_p95": money(forecast.eac.p95),
            "ac": money(forecast.actualCost), "bac": money(forecast.budget),
        ])
    }

    /// The whole answer: the cut-off, the runs, the seed and the projects.
    public static func forecasts(_ forecasts: [ProjectForecast], asOf: CalendarDate, settings: ForecastSettings) -> JSONValue {
        .object(["as_of": .string(asOf.description), "runs": .int(Int64(settings.runs)), "seed": .number(String(settings.seed)),
                 "projects": .array(forecasts.map(project))])
    }

    /// A what-if: both forecasts and the difference, in days and in money.
    public static func comparison(_ comparison: Forecasts.Comparison, asOf: CalendarDate, settings: ForecastSettings) -> JSONValue {
        .object(["as_of": .string(asOf.description), "runs": .int(Int64(settings.runs)), "seed": .number(String(settings.seed)),
                 "what_if": .array(comparison.clauses.map(JSONValue.string)), "base": project(comparison.base),
                 "changed": project(comparison.changed), "difference": difference(comparison.base, comparison.changed)])
    }

    /// Changed minus base: days for the finishes, money for the costs.
    static func difference(_ base: ProjectForecast, _ changed: ProjectForecast) -> JSONValue {
        func days(_ a: CalendarDate?, _ b: CalendarDate?) -> JSONValue {
            guard let a, let b else { return .null }
            return .int(Int64(b.daysSinceEpoch - a.daysSinceEpoch))
        }
        func cost(_ a: Double?, _ b: Double?) -> JSONValue { (a != nil && b != nil) ? money(b! - a!) : .null }
        return .object([
            "finish_p50_days": days(base.finish?.p50, changed.finish?.p50), "finish_p80_days": days(base.finish?.p80, changed.finish?.p80),
            "finish_p95_days": days(base.finish?.p95, changed.finish?.p95),
            "eac_p50": cost(base.eac?.p50, changed.eac?.p50), "eac_p80": cost(base.eac?.p80, changed.eac?.p80),
        ])
    }
}
