import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// What the monthly review (月度复盘) holds, gathered once: typed sections any face (the command
/// line, an HTTP API) can show, and the Markdown and HTML renderings of them.
///
/// The review of a month that the central office has closed (`sitesync period close`) prints
/// the figures frozen at the close, and lists apart the entries dated inside the month that
/// arrived after it; the review of an open month computes them from what this node holds.
public struct MonthlyReview: Sendable {
    public struct Freshness: Sendable {
        public let node: String
        public let role: String
        public let department: String
        public let daysSinceSync: Int?
    }

    public let period: String
    public let asOf: CalendarDate
    public let scope: String?
    public let figures: ReviewFigures
    /// This node's own view of each site's last sync (not part of the frozen figures).
    public let freshness: [Freshness]
    public let departmentNames: [String: String]
    /// The close of the month, when it is closed.
    public let close: PeriodClose?
    /// Entries dated inside a closed month that arrived after its close, oldest first.
    public let lateEntries: [LateEntry]
    /// The suggestions of the month's quarter this node holds (its own view, like the sync
    /// freshness: never part of the frozen figures).
    public var suggestions: SuggestionDigest? = nil

    /// Gathers the report of `period` (YYYY-MM): the frozen figures of a closed month, or the
    /// figures as of the month's last day (or today, for the month under way). `now`
    /// (milliseconds since 1970, UTC) dates the month under way and the sync freshness.
    /// - Parameter snapshot: today's figures (``FiguresCache``), taken for an open month whose
    ///   cut-off is their date instead of computing them again.
    public static func gather(node: Node, period: String, now: Int64, snapshot: FiguresSnapshot? = nil) throws -> MonthlyReview {
        guard let month = Month(period) else { throw NodeError(.usage, "--period '\(period)' is not a month: write YYYY-MM") }
        let rows = try node.store.rows([("SELECT node, role, department, exchanged_ms FROM sync_peer ORDER BY department, node", [])])
        let freshness = rows[0].map { row in
            Freshness(node: row[0] ?? "", role: row[1] ?? "", department: row[2] ?? "",
                      daysSinceSync: Int64(row[3] ?? "").map { Int((now - $0) / 86_400_000) })
        }
        let names = try departmentNames(node.store)
        let today = CalendarDate(unixMilliseconds: UInt64(max(now, 0)))
        let suggestions = try SuggestionDigest.of(node, month: month, asOf: min(month.last, today))
        if let close = try PeriodClose.load(node.store, period: period) {
            return MonthlyReview(period: period, asOf: close.asOf, scope: Reports.scopeNote(node), figures: close.figures,
                                 freshness: freshness, departmentNames: names, close: close,
                                 lateEntries: try LateEntry.after(close, in: node.store), suggestions: suggestions)
        }
        let asOf = min(month.last, today)
        return MonthlyReview(period: period, asOf: asOf, scope: Reports.scopeNote(node),
                             figures: try figures(node, month: month, asOf: asOf, departmentNames: names, snapshot: snapshot),
                             freshness: freshness, departmentNames: names, close: nil, lateEntries: [], suggestions: suggestions)
    }

    /// The figures of the review as of `asOf`, from what the node holds. The S-curve takes
    /// PV, EV and AC of the projects under way at each month end of the year so far.
    /// - Parameter department: only this department's projects (a reader's scope), when given.
    /// - Parameter snapshot: figures already computed; used when they are as of `asOf` and hold
    ///   their S-curve (the same figures, without reading the month again).
    static func figures(_ node: Node, month: Month, asOf: CalendarDate, departmentNames: [String: String],
                        department: String? = nil, snapshot: FiguresSnapshot? = nil) throws -> ReviewFigures {
        let thresholds = node.configuration.report
        let scope = ReadScope(department: department)
        if let snapshot, snapshot.asOf == asOf, let curve = snapshot.curve(scope) {
            return ReviewFigures.of(projects: snapshot.assessments.filter { department == nil || $0.project.department == department },
                                    departments: try snapshot.rollUps(scope, thresholds: thresholds), curve: curve,
                                    departmentNames: departmentNames, kpiCap: thresholds.kpiCap)
        }
        func inScope(_ project: ProjectInput) -> Bool { department.map { $0 == project.department } ?? true }
        let projects = try Reports.assessments(node.store, asOf: asOf, thresholds: thresholds).filter { inScope($0.project) }
        var curve: [(month: String, figures: EarnedValueFigures)] = []
        for (name, end) in curvePoints(month: month, asOf: asOf) {
            let figures = try Reports.computing(asOf: end) {
                try EarnedValueFigures.sum(ProjectData.load(node.store, asOf: end).filter { !$0.isClosed && inScope($0) }
                    .map { try ActivityEarnedValue.figuresOf($0, asOf: end) })
            }
            curve.append((name, figures))
        }
        let departments = try Reports.computing(asOf: asOf) {
            try RollUp.byDepartment(projects.filter { !$0.project.isClosed }, asOf: asOf, thresholds: thresholds)
        }
        return ReviewFigures.of(projects: projects, departments: departments, curve: curve, departmentNames: departmentNames,
                                kpiCap: thresholds.kpiCap)
    }

    /// The points of the review's S-curve: each month of the year up to `month`, at its last
    /// day or at `asOf` if sooner.
    static func curvePoints(month: Month, asOf: CalendarDate) -> [(month: String, end: CalendarDate)] {
        (1...month.number).map { number in
            let start = CalendarDate(year: month.year, month: number, day: 1)!
            return (String(start.description.prefix(7)), min(start.adding(days: CalendarDate.daysIn(month: number, year: month.year) - 1), asOf))
        }
    }

    /// Each department's name by its code (the code where it has none).
    static func departmentNames(_ store: ReplicaStore) throws -> [String: String] {
        Dictionary(try store.rows([("SELECT id, coalesce(name, id) FROM department", [])])[0].map { ($0[0] ?? "", $0[1] ?? "") }) { a, _ in a }
    }

    // MARK: The parts, as rows of text

    public var headline: [(String, String)] { figures.headline.map { ($0[0], $0.count > 1 ? $0[1] : "") } }

    public var freshnessRows: [[String]] {
        freshness.map { [$0.node, $0.role, $0.department, $0.daysSinceSync.map { $0 == 0 ? "today" : "\($0) days ago" } ?? "never",
                         ($0.daysSinceSync ?? 99) > Thresholds.standard.staleDays ? "STALE" : "ok"] }
    }

    /// What the review says of its own standing: closed (frozen, by whom, how much of it this
    /// node holds), or open.
    public var standing: String {
        guard let close else {
            return "This month is not closed: its figures change as entries arrive "
                + "(`sitesync period close \(period)` at the central office freezes them)."
        }
        var text = "Closed on \(close.closedOn) by \(close.closedBy): the figures are frozen as they stood then."
        if close.heldProjects < close.projects {
            text += " This node holds the frozen figures of \(close.heldProjects) of the \(close.projects) projects "
                + "(the rest are other departments', or not yet received)."
        }
        return text
    }

    /// date, project, what, value, from: the late entries as rows.
    public var lateRows: [[String]] { lateEntries.map { [$0.date, $0.project, $0.what, $0.value, $0.node] } }

    static let lateHeader = ["date", "project", "entry", "value", "from"]
    static let closedHeader = ["project", "name", "stage", "complete", "BAC", "EV", "AC", "CPI"]

    var closedRows: [[String]] {
        figures.closedProjects.map {
            [$0.code, $0.name, $0.stage, String(format: "%.1f %%", $0.percentComplete), Self.money($0.budget), Self.money($0.earnedValue),
             Self.money($0.actualCost), ReviewFigures.index($0.costPerformanceIndex)]
        }
    }

    static func money(_ text: String) -> String { ExactDecimal(text).map(ReviewFigures.money) ?? text }

    /// A lagging project's standing in one line: "Complete 42.0 %, SPI(t) 0.81, CPI 0.95".
    static func standing(of row: ReviewFigures.ProjectRow) -> String {
        "Complete \(String(format: "%.1f", row.percentComplete)) %, SPI(t) \(ReviewFigures.index(row.scheduleIndexByTime)), "
            + "CPI \(ReviewFigures.index(row.costPerformanceIndex))"
    }
}

// MARK: Markdown

extension MonthlyReview {
    static func markdownTable(_ header: [String], _ rows: [[String]]) -> String {
        func line(_ cells: [String]) -> String { "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |" }
        return ([line(header), line(header.map { _ in "---" })] + rows.map(line)).joined(separator: "\n")
    }

    public var markdown: String {
        var out = "# Monthly review \(period)\(close == nil ? "" : " (closed)")\n\nAs of \(asOf)\(scope.map { "; \($0)" } ?? ""). "
        out += "Figures are cumulative to the cut-off; indices are ratios of sums. \(standing)\n\n## Headline\n\n"
        out += Self.markdownTable(["measure", "value"], headline.map { [$0.0, $0.1] })
        out += "\n\n## League table of departments\n\n"
        out += Self.markdownTable(["#", "department", "projects", "complete", "SPI", "CPI", "score", "grade", "green/amber/red"], figures.league)
        func list(_ projects: [ReviewFigures.ProjectRow]) -> String {
            projects.isEmpty ? "none\n" : projects.map {
                "- \($0.code) \($0.name) (\($0.department)): score \(String(format: "%.1f", $0.score ?? 0)) \($0.grade ?? "")\n"
            }.joined()
        }
        out += "\n\n## 红榜 (commended: grade 优)\n\n" + list(figures.commended)
        out += "\n## 黑榜 (lagging: grade 差)\n\n" + list(figures.blackList)
        out += "\n## Lagging projects and why\n\n"
        if figures.lagging.isEmpty { out += "none\n" }
        for row in figures.lagging {
            out += "### \(row.code) \(row.name) — \(row.color)\n\n"
            out += "Owner: department \(departmentNames[row.department] ?? row.department). "
            out += "\(Self.standing(of: row)).\n\n"
            out += row.warnings.map { "- \($0.level): \($0.reason)\n" }.joined() + "\n"
        }
        out += "## KPI scorecard\n\n"
        out += figures.kpiRows.isEmpty ? "no KPIs defined\n"
            : Self.markdownTable(["project", "KPI", "baseline", "target", "reading", "achieved", "score", "weight"], figures.kpiRows) + "\n"
        if !figures.closedProjects.isEmpty {
            out += "\n## Closed and archived projects (final figures, outside the totals above)\n\n"
            out += Self.markdownTable(Self.closedHeader, closedRows) + "\n"
        }
        if let close {
            out += "\n## Entries dated in \(period) that arrived after the close\n\n"
            out += lateEntries.isEmpty ? "none: the frozen figures hold every entry dated in \(period) that this node has.\n"
                : "\(lateEntries.count) entr\(lateEntries.count == 1 ? "y" : "ies") reached the office after \(close.closedOn): "
                    + "they count from next month's figures on, and are not in the figures above.\n\n"
                    + Self.markdownTable(Self.lateHeader, lateRows) + "\n"
        }
        if let suggestions {
            out += "\n## Suggestions of \(suggestions.quarter) (意见箱)\n\n"
            out += suggestions.counts.map { "\($0.status) \($0.count)" }.joined(separator: ", ") + ".\n"
            if !suggestions.latest.isEmpty {
                out += "\nThe latest \(suggestions.latest.count):\n\n" + Self.markdownTable(SuggestionDigest.header, suggestions.rows) + "\n"
            }
        }
        out += "\n## Data quality\n\nSync freshness of each site (as this node last exchanged with it):\n\n"
        out += freshnessRows.isEmpty ? "no site has synced with this node\n"
            : Self.markdownTable(["node", "role", "department", "last sync", "status"], freshnessRows) + "\n"
        out += "\nProjects with stale field reporting: "
        out += figures.staleProjects.isEmpty ? "none.\n" : figures.staleProjects.map(\.code).joined(separator: ", ") + ".\n"
        return out
    }
}

// MARK: HTML

extension MonthlyReview {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func htmlTable(_ header: [String], _ rows: [[String]]) -> String {
        "<table><thead><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead><tbody>"
            + rows.map { "<tr>" + $0.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }.joined() + "</tbody></table>"
    }

    /// The S-curve: cumulative PV, EV and AC at each month end.
    var sCurveSVG: String {
        let width = 640.0, height = 260.0, left = 70.0, bottom = 30.0, top = 10.0
        let curve = figures.curve
        func amount(_ text: String) -> ExactDecimal { ExactDecimal(text) ?? .zero }
        // Chart geometry only: the amounts become Doubles to place points, never to add them.
        let peakAmount = max(curve.map { max(amount($0.plannedValue), amount($0.earnedValue), amount($0.actualCost)) }.max() ?? 1, 1)
        let peak = peakAmount.doubleValue
        let step = curve.count > 1 ? (width - left - 10) / Double(curve.count - 1) : 0
        func x(_ i: Int) -> Double { left + Double(i) * step }
        func y(_ v: Double) -> Double { top + (height - top - bottom) * (1 - v / peak) }
        func line(_ value: (ReviewFigures.CurvePoint) -> String, _ color: String, _ dash: String) -> String {
            let points = curve.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y(amount(value($0.element)).doubleValue)) }
                .joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" stroke-dasharray=\"\(dash)\" points=\"\(points)\"/>"
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"S-curve of PV, EV and AC\">"
        svg += "<line x1=\"\(left)\" y1=\"\(y(0))\" x2=\"\(width - 10)\" y2=\"\(y(0))\" stroke=\"#888\"/>"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(y(0))\" stroke=\"#888\"/>"
        svg += "<text x=\"\(left - 6)\" y=\"\(top + 10)\" font-size=\"10\" text-anchor=\"end\">\(Self.escape(ReviewFigures.money(peakAmount)))</text>"
        for (i, point) in curve.enumerated() {
            svg += "<text x=\(String(format: "\"%.1f\"", x(i))) y=\"\(height - 10)\" font-size=\"10\" text-anchor=\"middle\">\(point.month.suffix(2))</text>"
        }
        svg += line(\.plannedValue, "#1f4e9c", "6 3") + line(\.earnedValue, "#1a7f37", "") + line(\.actualCost, "#b35c00", "2 2")
        svg += "<text x=\"\(left + 10)\" y=\"\(top + 12)\" font-size=\"11\" fill=\"#1f4e9c\">PV (plan)</text>"
        svg += "<text x=\"\(left + 80)\" y=\"\(top + 12)\" font-size=\"11\" fill=\"#1a7f37\">EV (earned)</text>"
        svg += "<text x=\"\(left + 160)\" y=\"\(top + 12)\" font-size=\"11\" fill=\"#b35c00\">AC (spent)</text>"
        return svg + "</svg>"
    }

    /// Projects under way by colour, one stacked bar per department (in code order).
    var colorsSVG: String {
        let byDepartment = Dictionary(grouping: figures.activeProjects, by: \.department)
        let rows = byDepartment.keys.sorted()
        let height = Double(max(rows.count, 1)) * 26 + 20, width = 640.0, left = 140.0
        let most = Double(max(byDepartment.values.map(\.count).max() ?? 1, 1))
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"Projects by colour per department\">"
        for (i, department) in rows.enumerated() {
            let y = 10 + Double(i) * 26
            svg += "<text x=\"\(left - 8)\" y=\"\(y + 14)\" font-size=\"11\" text-anchor=\"end\">\(Self.escape(departmentNames[department] ?? department))</text>"
            var x = left
            for (color, fill) in [(Color.green, "#2da44e"), (.amber, "#d4a72c"), (.red, "#cf222e")] {
                let count = byDepartment[department]!.filter { $0.color == color.rawValue }.count
                let w = (width - left - 20) * Double(count) / most
                if count > 0 {
                    svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"18\" fill=\"%@\"/>", x, y, w, fill)
                    svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#fff\">%d</text>", x + 3, y + 13, count)
                }
                x += w
            }
        }
        return svg + "</svg>"
    }

    public var html: String {
        var body = "<h1>Monthly review \(Self.escape(period))\(close == nil ? "" : " (closed)")</h1>"
        body += "<p>As of \(asOf)\(scope.map { "; " + Self.escape($0) } ?? ""). "
        body += "Figures are cumulative to the cut-off; indices are ratios of sums. \(Self.escape(standing))</p>"
        body += "<h2>Headline</h2>" + Self.htmlTable(["measure", "value"], headline.map { [$0.0, $0.1] })
        body += "<h2>Progress against plan</h2><figure>\(sCurveSVG)<figcaption>Cumulative PV, EV and AC at each month end</figcaption></figure>"
        body += "<h2>League table of departments</h2>"
            + Self.htmlTable(["#", "department", "projects", "complete", "SPI", "CPI", "score", "grade", "green/amber/red"], figures.league)
        body += "<figure>\(colorsSVG)<figcaption>Projects by colour</figcaption></figure>"
        func list(_ projects: [ReviewFigures.ProjectRow]) -> String {
            projects.isEmpty ? "<p>none</p>" : "<ul>" + projects.map {
                "<li>\(Self.escape($0.code)) \(Self.escape($0.name)) (\(Self.escape($0.department))): score \(String(format: "%.1f", $0.score ?? 0)) \($0.grade ?? "")</li>"
            }.joined() + "</ul>"
        }
        body += "<h2>红榜 (commended: grade 优)</h2>" + list(figures.commended) + "<h2>黑榜 (lagging: grade 差)</h2>" + list(figures.blackList)
        body += "<h2>Lagging projects and why</h2>"
        if figures.lagging.isEmpty { body += "<p>none</p>" }
        for row in figures.lagging {
            body += "<h3 class=\"\(row.color)\">\(Self.escape(row.code)) \(Self.escape(row.name)) — \(row.color)</h3>"
            body += "<p>Owner: department \(Self.escape(departmentNames[row.department] ?? row.department)). "
            body += "\(Self.standing(of: row)).</p>"
            body += "<ul>" + row.warnings.map { "<li class=\"\($0.level)\">\(Self.escape($0.reason))</li>" }.joined() + "</ul>"
        }
        body += "<h2>KPI scorecard</h2>" + (figures.kpiRows.isEmpty ? "<p>no KPIs defined</p>"
            : Self.htmlTable(["project", "KPI", "baseline", "target", "reading", "achieved", "score", "weight"], figures.kpiRows))
        if !figures.closedProjects.isEmpty {
            body += "<h2>Closed and archived projects (final figures, outside the totals above)</h2>" + Self.htmlTable(Self.closedHeader, closedRows)
        }
        if let close {
            body += "<h2>Entries dated in \(Self.escape(period)) that arrived after the close</h2>"
            body += lateEntries.isEmpty ? "<p>none: the frozen figures hold every entry dated in \(Self.escape(period)) that this node has.</p>"
                : "<p>\(lateEntries.count) entr\(lateEntries.count == 1 ? "y" : "ies") reached the office after \(close.closedOn): "
                    + "they count from next month's figures on, and are not in the figures above.</p>" + Self.htmlTable(Self.lateHeader, lateRows)
        }
        if let suggestions {
            body += "<h2>Suggestions of \(Self.escape(suggestions.quarter)) (意见箱)</h2><p>"
                + Self.escape(suggestions.counts.map { "\($0.status) \($0.count)" }.joined(separator: ", ")) + ".</p>"
            if !suggestions.latest.isEmpty { body += Self.htmlTable(SuggestionDigest.header, suggestions.rows) }
        }
        body += "<h2>Data quality</h2><p>Sync freshness of each site:</p>" + (freshnessRows.isEmpty ? "<p>no site has synced with this node</p>"
            : Self.htmlTable(["node", "role", "department", "last sync", "status"], freshnessRows))
        body += "<p>Projects with stale field reporting: \(figures.staleProjects.isEmpty ? "none" : Self.escape(figures.staleProjects.map(\.code).joined(separator: ", "))).</p>"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Monthly review \(Self.escape(period))</title>
            <style>
            body { font: 14px/1.45 system-ui, "Noto Sans CJK SC", sans-serif; margin: 2em auto; max-width: 60em; color: #1f2328; }
            table { border-collapse: collapse; margin: .5em 0 1em; } th, td { border: 1px solid #d0d7de; padding: .25em .6em; text-align: left; }
            th { background: #f6f8fa; } figure { margin: 1em 0; } svg { width: 100%; height: auto; }
            .red { color: #cf222e; } .amber { color: #9a6700; } .green { color: #1a7f37; }
            @media print { body { margin: 0; max-width: none; font-size: 11pt; } h2 { break-after: avoid; } table, figure { break-inside: avoid; } }
            </style></head><body>
            \(body)
            </body></html>
            """
    }
}
