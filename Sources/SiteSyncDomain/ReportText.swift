import Foundation
import SiteSyncCore
import SiteSyncPerformance

/// The formats `report projects` and `report departments` print.
public enum ReportFormat: String, Sendable, CaseIterable {
    case table, json, csv
}

/// The text of the project and department reports, as bytes a face prints unchanged. Kept here,
/// beside the figures, so that what a replica prints is a function of its figures alone: two
/// replicas with equal figures print byte-identical reports, whichever face prints them.
public enum ReportText {
    /// A ratio (index, percent, score) to `places` decimals.
    static func fixed(_ value: Double, _ places: Int) -> String { String(format: "%.\(places)f", value) }

    static func csvField(_ text: String) -> String {
        // A cell a spreadsheet would run as a formula (`=HYPERLINK(…)` typed as a project's
        // name at a site) is written as text: prefixed with an apostrophe (CSV injection).
        var text = text
        if let first = text.first, "=+-@\t\r".contains(first), Double(text) == nil { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// CSV as spreadsheets open it: UTF-8 with a byte-order mark, CRLF line ends.
    public static func csv(_ rows: [[String]]) -> String {
        "\u{FEFF}" + rows.map { $0.map(csvField).joined(separator: ",") + "\r\n" }.joined()
    }

    /// Left-aligned columns (padded by what shows: colour codes take no room).
    public static func table(_ rows: [[String]]) -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        var widths = Array(repeating: 0, count: width)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], visibleWidth(cell)) } }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - visibleWidth(cell))
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// Characters shown, leaving out ANSI escape sequences (`ESC [ … m`).
    public static func visibleWidth(_ text: String) -> Int {
        var width = 0
        var inEscape = false
        for character in text {
            if inEscape {
                if character == "m" { inEscape = false }
            } else if character == "\u{1B}" {
                inEscape = true
            } else {
                width += 1
            }
        }
        return width
    }

    // MARK: - report projects

    static let projectsCSVHeader = ["project", "code", "name", "department", "percent_complete", "pv", "ev", "ac", "spi", "cpi", "spi_t",
                                    "score", "grade", "color", "warnings", "stage"]

    /// The whole `report projects` output on standard output, in `format`. The scope note of a
    /// JSON or CSV report goes to standard error (``note``), so the data stays parseable.
    public static func projects(_ assessments: [ProjectAssessment], asOf: CalendarDate, scope: String?, format: ReportFormat) throws -> String {
        switch format {
        case .json:
            return JSONValue.array(try assessments.map(projectJSON)).canonicalText + "\n"
        case .csv:
            return csv([projectsCSVHeader] + assessments.map(projectCSV))
        case .table:
            var out = "projects as of \(asOf)\(scope.map { " (\($0))" } ?? ""):\n"
            func rows(_ assessments: [ProjectAssessment]) -> String {
                var rows = [["code", "name", "dept", "stage", "done %", "PV", "EV", "AC", "SPI", "CPI", "SPI(t)", "score", "grade", "colour", "warnings"]]
                for row in assessments {
                    let names: [String] = [row.project.code, String(row.project.name.prefix(28)), row.project.department,
                                           row.project.stage ?? "initiation"]
                    let figures: [String] = figureColumns(row).map { $0.isEmpty ? "—" : $0 }
                    let score: String = row.score.map { fixed($0, 1) } ?? "not due"
                    rows.append(names + figures + [score, row.grade?.rawValue ?? "—", row.color.rawValue, String(row.warnings.count)])
                }
                return table(rows) + "\n"
            }
            let active = assessments.filter { !$0.project.isClosed }, closed = assessments.filter(\.project.isClosed)
            out += rows(active)
            out += stageCounts(active)
            if !closed.isEmpty {
                out += "\nclosed and archived (final figures, not in the department totals):\n" + rows(closed)
            }
            for row in active where !row.warnings.isEmpty {
                out += "\n\(row.project.code) \(row.project.name):\n"
                for warning in row.warnings { out += "  \(warning.level.rawValue): \(warning.reason)\n" }
            }
            return out
        }
    }

    /// The projects under way grouped by stage gate, in the stages' order: "by stage:
    /// initiation 2, execution 5" (docs/design.md §14).
    static func stageCounts(_ assessments: [ProjectAssessment]) -> String {
        guard !assessments.isEmpty else { return "" }
        let counts = Dictionary(grouping: assessments) { $0.project.stage ?? "initiation" }.mapValues(\.count)
        let ordered = Schema.projectStages.compactMap { stage in counts[stage].map { "\(stage) \($0)" } }
        return "by stage: " + ordered.joined(separator: ", ") + "\n"
    }

    /// A project's plan as it stands against a baseline (`project show`, `project baselines`):
    /// each activity's dates in days (positive: later than the baseline) and budget.
    public static func variance(_ variance: PlanVariance) -> String {
        let baseline = variance.baseline
        func days(_ value: Int?) -> String { value.map { $0 == 0 ? "0" : ($0 > 0 ? "+\($0)" : "\($0)") } ?? "—" }
        func amount(_ value: ExactDecimal?) -> String {
            guard let value else { return "—" }
            return value.isNegative || value == .zero ? value.fixed(2) : "+" + value.fixed(2)
        }
        var out = "variance against baseline \(baseline.number) (taken on \(baseline.takenOn) by \(baseline.takenBy): \(baseline.reason)):\n"
        out += "  budget \(amount(variance.budget)), last finish \(days(variance.finishDays)) days\n"
        let changes = variance.lines.contains { $0.change != nil }
        var rows = [["activity", "name", "start (days)", "finish (days)", "budget"] + (changes ? ["since"] : [])]
        for line in variance.lines {
            rows.append([line.activity, line.name, days(line.startDays), days(line.finishDays), amount(line.budget)]
                        + (changes ? [line.change ?? ""] : []))
        }
        return out + table(rows) + "\n"
    }

    /// What a JSON or CSV report says on standard error about its scope, if anything.
    public static func note(scope: String?, format: ReportFormat) -> String? {
        format == .table ? nil : scope.map { "report: \($0)" }
    }

    static func projectJSON(_ row: ProjectAssessment) throws -> JSONValue {
        func number(_ value: Double?, _ places: Int) -> JSONValue { value.map { .number(fixed($0, places)) } ?? .null }
        func amount(_ value: ExactDecimal) -> JSONValue { .number(value.fixed(2)) }
        let f = row.figures
        return .object([
            "project": .string(row.project.id), "code": .string(row.project.code), "name": .string(row.project.name),
            "department": .string(row.project.department), "as_of": .string(row.asOf.description),
            "stage": row.project.stage.map(JSONValue.string) ?? .null,
            "percent_complete": number(f.percentComplete, 1), "bac": amount(f.budget), "pv": amount(f.plannedValue),
            "ev": amount(f.earnedValue), "ac": amount(f.actualCost), "spi": number(f.schedulePerformanceIndex, 3),
            "cpi": number(f.costPerformanceIndex, 3), "spi_t": number(row.scheduleIndexByTime, 3),
            "eac": try f.estimateAtCompletion.map(amount) ?? .null, "score": number(row.score, 1),
            "grade": row.grade.map { .string($0.rawValue) } ?? .null, "color": .string(row.color.rawValue),
            "warnings": .array(row.warnings.map {
                .object(["id": .string($0.id), "rule": .string($0.rule.rawValue), "level": .string($0.level.rawValue),
                         "subject": .string($0.subject), "reason": .string($0.reason)])
            }),
        ])
    }

    /// percent_complete, pv, ev, ac, spi, cpi, spi_t; "" where not defined.
    static func figureColumns(_ row: ProjectAssessment) -> [String] {
        let f = row.figures
        func optional(_ value: Double?) -> String { value.map { fixed($0, 3) } ?? "" }
        return [fixed(f.percentComplete, 1), f.plannedValue.fixed(2), f.earnedValue.fixed(2), f.actualCost.fixed(2),
                optional(f.schedulePerformanceIndex), optional(f.costPerformanceIndex), optional(row.scheduleIndexByTime)]
    }

    static func projectCSV(_ row: ProjectAssessment) -> [String] {
        [row.project.id, row.project.code, row.project.name, row.project.department] + figureColumns(row)
            + [row.score.map { fixed($0, 1) } ?? "", row.grade?.rawValue ?? "", row.color.rawValue,
               row.warnings.map(\.reason).joined(separator: "; "), row.project.stage ?? ""]
    }

    // MARK: - report departments

    static let departmentsHeader = ["department", "projects", "percent_complete", "bac", "pv", "ev", "ac", "spi", "cpi", "spi_t", "score",
                                    "grade", "green", "amber", "red", "warnings"]

    static func departmentColumns(_ r: RollUp) -> [String] {
        func number(_ value: Double?, _ places: Int) -> String { value.map { fixed($0, places) } ?? "" }
        return [r.department.isEmpty ? "city" : r.department, String(r.projects), fixed(r.figures.percentComplete, 1),
                r.figures.budget.fixed(2), r.figures.plannedValue.fixed(2), r.figures.earnedValue.fixed(2),
                r.figures.actualCost.fixed(2), number(r.figures.schedulePerformanceIndex, 3),
                number(r.figures.costPerformanceIndex, 3), number(r.scheduleIndexByTime, 3), number(r.score, 1),
                r.grade?.rawValue ?? "", String(r.colors[.green] ?? 0), String(r.colors[.amber] ?? 0), String(r.colors[.red] ?? 0),
                String(r.warnings)]
    }

    /// One roll-up as `report departments --format json` prints it (the city's with department "").
    static func departmentJSON(_ r: RollUp) -> [String: JSONValue] {
        let values = departmentColumns(r)
        var object: [String: JSONValue] = [:]
        for (index, key) in departmentsHeader.enumerated() {
            let value = values[index]
            switch key {
            case "department": object[key] = .string(r.department)
            case "grade": object[key] = value.isEmpty ? .null : .string(value)
            default: object[key] = value.isEmpty ? .null : .number(value)
            }
        }
        return object
    }

    /// The whole `report departments` output on standard output, in `format`.
    public static func departments(_ rollUps: [RollUp], asOf: CalendarDate, scope: String?, format: ReportFormat) -> String {
        let header = departmentsHeader
        switch format {
        case .json:
            return JSONValue.array(rollUps.map { .object(departmentJSON($0)) }).canonicalText + "\n"
        case .csv:
            return csv([header] + rollUps.map(departmentColumns))
        case .table:
            return "departments as of \(asOf)\(scope.map { " (\($0))" } ?? ""):\n"
                + table([header] + rollUps.map { departmentColumns($0).map { $0.isEmpty ? "—" : $0 } }) + "\n"
        }
    }
}

extension ReportText {
    // MARK: - project show

    /// The whole `project show` output: the project's figures, its goal tree (each goal under
    /// its parent, in id order), its activities (in id order) and its warnings.
    public static func project(_ detail: Reports.ProjectDetail, asOf: CalendarDate) -> String {
        let row = detail.assessment, input = detail.project, f = row.figures
        var out = "\(input.code) \(input.name) (\(input.department)), as of \(asOf)\n"
        out += String(format: "  done %.1f%%", f.percentComplete)
            + "  PV \(f.plannedValue.fixed(2))  EV \(f.earnedValue.fixed(2))  AC \(f.actualCost.fixed(2))"
            + "  SPI \(f.schedulePerformanceIndex.map { String(format: "%.3f", $0) } ?? "not yet due")"
            + "  CPI \(f.costPerformanceIndex.map { String(format: "%.3f", $0) } ?? "—")"
            + "  score \(row.score.map { String(format: "%.1f", $0) } ?? "not yet due") \(row.grade?.rawValue ?? "")  \(row.color.rawValue)\n"
        func goals(under parent: String?, depth: Int) {
            for goal in input.goals where goal.parent == parent && goal.id != parent {
                let score = row.goalScores[goal.id].map { String(format: "%.1f", $0) } ?? "not yet due"
                out += String(repeating: "  ", count: depth + 1) + "goal \(goal.title) (weight \(goal.weight)): \(score)\n"
                if depth < 8 { goals(under: goal.id, depth: depth + 1) }
            }
        }
        goals(under: nil, depth: 0)
        var rows = [["activity", "name", "method", "status", "planned", "done %", "PV", "EV", "AC"]]
        for line in detail.activities {
            let activity = line.activity, figures = line.figures
            rows.append([activity.id, line.name, activity.method.rawValue, activity.status.rawValue,
                         "\(activity.plannedStart?.description ?? "?")…\(activity.plannedFinish?.description ?? "?")",
                         String(format: "%.1f", line.percentComplete),
                         figures.plannedValue.fixed(2), figures.earnedValue.fixed(2), figures.actualCost.fixed(2)])
        }
        out += table(rows) + "\n"
        for warning in row.warnings { out += "  \(warning.level.rawValue): \(warning.reason)\n" }
        return out
    }
}
