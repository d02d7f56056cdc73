import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// Suggested KPI weights from the readings by the entropy-weight method (熵权法,
/// ``EntropyWeights``; docs/design.md §17.3), beside the current weights, and their application
/// at an office or hub through the ordinary write path.
public enum KPIWeights {
    /// One KPI of the set: its name, current share of the weights, suggested share, entropy.
    public struct Line: Sendable {
        public let name: String
        public let current: Double
        public let suggested: Double
        public let entropy: Double
        public let reason: String
    }

    public struct Suggestion: Sendable {
        /// The KPI records the suggestion covers (id → name), for `--apply`.
        public let kpis: [(id: String, name: String)]
        /// How many readings were compared (a project's month with every KPI read).
        public let rows: Int
        public let lines: [Line]
    }

    /// The suggestion for the KPIs of `project` (code or id), or of every project (KPIs of the
    /// same name are one indicator): each row is a project's month in which every KPI of the
    /// set has a reading.
    public static func suggest(_ node: Node, project: String? = nil) throws -> Suggestion {
        let projectID = try project.map { try node.findProject($0).id }
        // One project's KPIs by the parent indexes (the project page asks for each view), or all.
        let only = projectID == nil ? "1" : "project = ?1"
        let result = try node.store.rows([
            ("SELECT id, coalesce(project, ''), name, coalesce(direction, 'higher_better'), weight FROM kpi WHERE \(only) ORDER BY id",
             projectID.map { [$0] } ?? []),
            ("""
             SELECT r.kpi, r.period, r.value FROM kpi_reading r JOIN kpi k ON k.id = r.kpi
             WHERE \(projectID == nil ? "1" : "k.project = ?1") AND r.value IS NOT NULL ORDER BY r.kpi, r.period
             """, projectID.map { [$0] } ?? []),
        ])
        let kpis = result[0].compactMap { row -> (id: String, project: String, name: String, higher: Bool, weight: Double)? in
            guard let id = row[0], let name = row[2] else { return nil }
            return (id, row[1] ?? "", name, row[3] != "lower_better", row[4].flatMap(Double.init) ?? 1)
        }
        guard !kpis.isEmpty else {
            throw NodeError(.usage, "no KPI \(project.map { "of project \($0) " } ?? "")on this node: define some with `sitesync kpi define`")
        }
        let names = Array(Set(kpis.map(\.name))).sorted()
        let byID = Dictionary(uniqueKeysWithValues: kpis.map { ($0.id, $0) })
        var readings: [String: [String: Double]] = [:]   // "project period" → name → value
        for row in result[1] {
            guard let kpi = row[0].flatMap({ byID[$0] }), let period = row[1], let value = row[2].flatMap(Double.init) else { continue }
            readings[kpi.project + " " + period, default: [:]][kpi.name] = value
        }
        let rows = readings.keys.sorted().compactMap { key -> [Double]? in
            let values = names.compactMap { readings[key]?[$0] }
            return values.count == names.count ? values : nil
        }
        let higher = names.map { name in kpis.first { $0.name == name }!.higher }
        guard let result = EntropyWeights.weights(rows, higherBetter: higher) else {
            throw NodeError(.usage, "too few readings to suggest weights: \(rows.count) month(s) with every KPI of the set read "
                + "(\(names.joined(separator: ", "))), and the method needs at least two that differ; record more with `sitesync kpi read`")
        }
        var current = names.map { name in
            let weights = kpis.filter { $0.name == name }.map(\.weight)
            return weights.reduce(0, +) / Double(weights.count)
        }
        let total = current.reduce(0, +)
        current = current.map { total > 0 ? $0 / total : 0 }
        let lines = names.indices.map { j in
            let e = result.entropy[j]
            let reason = result.weights[j] == 0
                ? "reads the same in every month compared (entropy 1): it tells nothing apart"
                : String(format: "entropy %.3f, divergence %.3f: ", e, 1 - e)
                    + (result.weights[j] > current[j] ? "its readings differ more than its weight says" : "its readings differ less than its weight says")
            return Line(name: names[j], current: current[j], suggested: result.weights[j], entropy: e, reason: reason)
        }
        return Suggestion(kpis: kpis.map { ($0.id, $0.name) }, rows: rows.count, lines: lines)
    }

    /// The suggestion as the API gives it (`GET /api/v1/kpi-weights`): the method, the months
    /// compared and each KPI's current and suggested share with the reason. Applying stays a
    /// command at an office (`sitesync kpi weights suggest --apply`).
    public static func json(_ suggestion: Suggestion, project: String?) -> JSONValue {
        func share(_ value: Double) -> JSONValue { .number(String(format: "%.4f", value)) }
        return .object([
            "method": .string("entropy-weight"), "project": project.map(JSONValue.string) ?? .null,
            "months_compared": .int(Int64(suggestion.rows)),
            "kpis": .array(suggestion.lines.map {
                .object(["name": .string($0.name), "current": share($0.current), "suggested": share($0.suggested),
                         "entropy": share($0.entropy), "reason": .string($0.reason)])
            }),
        ])
    }

    /// Writes the suggested weights (shares, to four places) into every KPI of the set, at an
    /// office or hub only: weights are the plan's, set where plans are made.
    /// - Returns: how many KPI records changed.
    public static func apply(_ suggestion: Suggestion, node: Node) throws -> Int {
        guard [.office, .hub].contains(node.configuration.role) else {
            throw NodeError(.usage, "only an office or hub node applies KPI weights (this is a \(node.configuration.role.rawValue) node); "
                + "run `sitesync kpi weights suggest` without --apply to see them")
        }
        let shares = Dictionary(uniqueKeysWithValues: suggestion.lines.map { ($0.name, $0.suggested) })
        let planner = node.planner
        return try node.store.writeLocally { session in
            var changed = 0
            for kpi in suggestion.kpis {
                guard let share = shares[kpi.name] else { continue }
                if try Node.upsert("kpi", id: kpi.id, ["weight=\(String(format: "%.4f", share))"], planner: planner, in: session).changed { changed += 1 }
            }
            return changed
        }
    }
}
