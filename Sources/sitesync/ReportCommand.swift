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

    struct Monthly: ParsableCommand {
        enum Format: String, ExpressibleByArgument, CaseIterable { case md, html }

        static let configuration = CommandConfiguration(
            abstract: "The monthly review for the leadership: headline, league table, 红榜/黑榜, lagging projects, KPIs, data quality.",
            discussion: """
                As of the month's last day (or today, for the month under way). Markdown, or one \
                self-contained HTML file with inline SVG charts (the S-curve of PV, EV and AC by month, and \
                projects by colour per department) that prints well. 红榜 lists projects graded 优, 黑榜 \
                those graded 差; lagging projects are those not green, each with its reasons and owner (its \
                department). Closed and archived projects are listed apart with their final figures, \
                outside the totals. Data quality gives each site's last sync with this node.

                A month the central office has closed (`sitesync period close`) prints the figures frozen \
                at the close, whatever has arrived since, and lists apart the entries dated inside the \
                month that arrived after the close. An open month's review says it is not closed.

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
            let format = ReportFormat(rawValue: cut.format.rawValue)!
            if let note = ReportText.note(scope: scope, format: format) { Output.note(note) }
            FileHandle.standardOutput.write(Data(ReportText.departments(rollUps, asOf: cut.date, scope: scope, format: format).utf8))
        }
    }

    struct Projects: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One row per project: stage, percent complete, PV, EV, AC, SPI, CPI, SPI(t), score, grade, colour, warnings.",
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
                what the node holds (its department), and says so. Everything counts as of its day: a \
                percentage from the day it was reported, a state (started, finished) from its actual date, \
                a risk from the day it was raised until the day it was closed. Closed and archived projects \
                (stage closed or archived) are listed apart, and left out of `report departments`; the table \
                ends with the projects under way counted by stage gate (docs/design.md §14).

                JSON (an array, one object per project): project, code, name, department, \
                percent_complete (0–100), bac, pv, ev, ac, spi, cpi, spi_t, eac (numbers, or null when \
                not defined), score, grade, color (green|amber|red), warnings (id, rule, level, subject, \
                reason), stage (or null). CSV is UTF-8 with a byte-order mark, so spreadsheets open it as such.
                """)
        @OptionGroup var cut: Cut

        func run() throws {
            let (rows, scope) = try Reports.projects(cut.node.open(), asOf: cut.date)
            let format = ReportFormat(rawValue: cut.format.rawValue)!
            if let note = ReportText.note(scope: scope, format: format) { Output.note(note) }
            FileHandle.standardOutput.write(Data(try ReportText.projects(rows, asOf: cut.date, scope: scope, format: format).utf8))
        }
    }
}
