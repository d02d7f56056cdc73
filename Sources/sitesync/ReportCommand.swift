import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Earned value, scores and early warnings over the projects this node holds.",
        subcommands: [Projects.self, Departments.self, Monthly.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json, csv
    }

    /// The options every report shares.
    struct Cut: ParsableArguments {
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("The cut-off date (YYYY-MM-DD); default today (UTC).", valueName: "date")) var asOf: String?
        @Option(help: "table, json or csv.") var format: Format = .table

        func validate() throws {
            try OptionCheck.date(asOf, "--as-of")
        }

        var date: CalendarDate {
            asOf.flatMap(CalendarDate.init) ?? CalendarDate.today
        }

    }

    /// A ratio (index, percent, score) to `places` decimals.
    static func fixed(_ value: Double, _ places: Int) -> String { String(format: "%.\(places)f", value) }
    /// An amount to `places` decimals, rounded half away from zero from its exact value.
    static func fixed(_ value: ExactDecimal, _ places: Int) -> String { value.fixed(places) }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// CSV as spreadsheets open it: UTF-8 with a byte-order mark, CRLF line ends.
    static func writeCSV(_ rows: [[String]]) {
        let text = "\u{FEFF}" + rows.map { $0.map(csvField).joined(separator: ",") + "\r\n" }.joined()
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    struct Monthly: ParsableCommand {
        enum Format: String, ExpressibleByArgument, CaseIterable { case md, html }

        static let configuration = CommandConfiguration(
            abstract: "The monthly review for the leadership: headline, league table, 红榜/黑榜, lagging projects, KPIs, data quality.",
            discussion: """
                As of the month's last day (or today, for the month under way). Markdown, or one \
                self-contained HTML file with inline SVG charts (the S-curve of PV, EV and AC by month, and \
                projects by colour per department) that prints well. 红榜 lists projects graded 优, 黑榜 \
                those graded 差; lagging projects are those not green, each with its reasons and owner (its \
                department). Data quality gives each site's last sync with this node.

                Example: sitesync report monthly --period 2026-11 --format html --output review-2026-11.html
                """)
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("The month (YYYY-MM).", valueName: "month")) var period: String
        @Option(help: "md or html.") var format: Format = .md
        @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file")) var output: String?

        func validate() throws {
            guard period.count == 7, CalendarDate(period + "-01") != nil else {
                throw ValidationError("--period '\(period)' is not a month: write YYYY-MM")
            }
        }

        func run() throws {
            let report = try MonthlyReview.gather(node: node.open(), period: period, now: Int64(Date().timeIntervalSince1970 * 1000))
            let text = format == .md ? report.markdown : report.html
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: Data(text.utf8)) else {
                    throw NodeError(.usage, "cannot write \(output): check the directory and free space")
                }
                print("wrote the \(period) review to \(output)")
            } else {
                print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
            }
        }
    }

    struct Departments: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One row per department, and the city: the projects' sums, indices of the sums, budget-weighted score.",
            discussion: """
                PV, EV, AC and BAC are the sums of the department's projects; SPI, CPI and percent complete \
                are ratios of those sums, never averages of the projects' ratios; SPI(t) is that of all the \
                department's activities together. The score is the projects' scores weighted by budget. \
                The last row ("city") covers every department the node holds.

                JSON (an array): department ("" for the city), projects, percent_complete, bac, pv, ev, ac, \
                spi, cpi, spi_t, score, grade, green, amber, red (project counts), warnings.
                """)
        @OptionGroup var cut: Cut

        func run() throws {
            let (rollUps, scope) = try Reports.departments(cut.node.open(), asOf: cut.date)
            func number(_ value: Double?, _ places: Int) -> String { value.map { fixed($0, places) } ?? "" }
            func columns(_ r: RollUp) -> [String] {
                [r.department.isEmpty ? "city" : r.department, String(r.projects), fixed(r.figures.percentComplete, 1),
                 fixed(r.figures.budget, 2), fixed(r.figures.plannedValue, 2), fixed(r.figures.earnedValue, 2),
                 fixed(r.figures.actualCost, 2), number(r.figures.schedulePerformanceIndex, 3),
                 number(r.figures.costPerformanceIndex, 3), number(r.scheduleIndexByTime, 3), number(r.score, 1),
                 r.grade?.rawValue ?? "", String(r.colors[.green] ?? 0), String(r.colors[.amber] ?? 0), String(r.colors[.red] ?? 0),
                 String(r.warnings)]
            }
            let header = ["department", "projects", "percent_complete", "bac", "pv", "ev", "ac", "spi", "cpi", "spi_t", "score", "grade",
                          "green", "amber", "red", "warnings"]
            switch cut.format {
            case .json:
                if let scope { Output.note("report: \(scope)") }
                print(JSONValue.array(rollUps.map { r in
                    let values = columns(r)
                    var object: [String: JSONValue] = [:]
                    for (index, key) in header.enumerated() {
                        let value = values[index]
                        switch key {
                        case "department": object[key] = .string(r.department)
                        case "grade": object[key] = value.isEmpty ? .null : .string(value)
                        default: object[key] = value.isEmpty ? .null : .number(value)
                        }
                    }
                    return .object(object)
                }).canonicalText)
            case .csv:
                if let scope { Output.note("report: \(scope)") }
                writeCSV([header] + rollUps.map(columns))
            case .table:
                print("departments as of \(cut.date)\(scope.map { " (\($0))" } ?? ""):")
                print(Output.table([header] + rollUps.map { columns($0).map { $0.isEmpty ? "—" : $0 } }))
            }
        }
    }

    struct Projects: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One row per project: percent complete, PV, EV, AC, SPI, CPI, SPI(t), score, grade, colour, warnings.",
            discussion: """
                Figures are as of the end of --as-of (default: today, UTC): entries dated later do not \
                count. PV spreads each activity's budget linearly over its planned days; EV follows the \
                activity's ev_method (units: installed quantity over planned quantity); AC sums reported \
                costs. SPI and CPI are ratios of the sums (empty while PV or AC is 0: not yet due). The \
                score is the weighted KPI score when the project has KPIs (a missing reading scores 0), \
                else its goal tree's (each goal the weighted mean of its sub-goals; a goal without \
                sub-goals scores 100 × min(SPI, 1) of its activities), else 100 × min(SPI(t), 1); grades \
                优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 below (thresholds under [report] in node.toml). The colour is \
                the worst of the project's warnings. At a field or department node the report covers only \
                what the node holds (its department), and says so.

                JSON (an array, one object per project): project, code, name, department, \
                percent_complete (0–100), bac, pv, ev, ac, spi, cpi, spi_t, eac (numbers, or null when \
                not defined), score, grade, color (green|amber|red), warnings (id, rule, level, subject, \
                reason). CSV is UTF-8 with a byte-order mark, so spreadsheets open it as such.
                """)
        @OptionGroup var cut: Cut

        func run() throws {
            let (rows, scopeNote) = try Reports.projects(cut.node.open(), asOf: cut.date)
            let asOf = cut.date
            switch cut.format {
            case .json:
                if let scopeNote { Output.note("report: \(scopeNote)") }
                print(JSONValue.array(try rows.map(Self.json)).canonicalText)
            case .csv:
                if let scopeNote { Output.note("report: \(scopeNote)") }
                writeCSV([Self.csvHeader] + rows.map(Self.csv))
            case .table:
                print("projects as of \(asOf)\(scopeNote.map { " (\($0))" } ?? ""):")
                var table = [["code", "name", "dept", "done %", "PV", "EV", "AC", "SPI", "CPI", "SPI(t)", "score", "grade", "colour", "warnings"]]
                for row in rows {
                    let names: [String] = [row.project.code, String(row.project.name.prefix(28)), row.project.department]
                    let figures: [String] = Self.figureColumns(row).map { $0.isEmpty ? "—" : $0 }
                    let score: String = row.score.map { fixed($0, 1) } ?? "not due"
                    table.append(names + figures + [score, row.grade?.rawValue ?? "—", row.color.rawValue, String(row.warnings.count)])
                }
                print(Output.table(table))
                for row in rows where !row.warnings.isEmpty {
                    print("\n\(row.project.code) \(row.project.name):")
                    for warning in row.warnings { print("  \(warning.level.rawValue): \(warning.reason)") }
                }
            }
        }

        static func json(_ row: ProjectAssessment) throws -> JSONValue {
            func number(_ value: Double?, _ places: Int) -> JSONValue { value.map { .number(fixed($0, places)) } ?? .null }
            func amount(_ value: ExactDecimal) -> JSONValue { .number(value.fixed(2)) }
            let f = row.figures
            return .object([
                "project": .string(row.project.id), "code": .string(row.project.code), "name": .string(row.project.name),
                "department": .string(row.project.department), "as_of": .string(row.asOf.description),
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

        static let csvHeader = ["project", "code", "name", "department", "percent_complete", "pv", "ev", "ac", "spi", "cpi", "spi_t",
                                "score", "grade", "color", "warnings"]

        /// percent_complete, pv, ev, ac, spi, cpi, spi_t; "" where not defined.
        static func figureColumns(_ row: ProjectAssessment) -> [String] {
            let f = row.figures
            func optional(_ value: Double?) -> String { value.map { fixed($0, 3) } ?? "" }
            return [fixed(f.percentComplete, 1), fixed(f.plannedValue, 2), fixed(f.earnedValue, 2), fixed(f.actualCost, 2),
                    optional(f.schedulePerformanceIndex), optional(f.costPerformanceIndex), optional(row.scheduleIndexByTime)]
        }

        static func csv(_ row: ProjectAssessment) -> [String] {
            [row.project.id, row.project.code, row.project.name, row.project.department] + figureColumns(row)
                + [row.score.map { fixed($0, 1) } ?? "", row.grade?.rawValue ?? "", row.color.rawValue,
                   row.warnings.map(\.reason).joined(separator: "; ")]
        }

    }
}
