import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// What the monthly review (月度复盘) holds, gathered once: typed sections any face (the command
/// line, an HTTP API) can show, and the Markdown and HTML renderings of them.
public struct MonthlyReview: Sendable {
    public struct Freshness: Sendable {
        public let node: String
        public let role: String
        public let department: String
        public let daysSinceSync: Int?
    }

    public struct CurvePoint: Sendable {
        public let month: String
        public let figures: EarnedValueFigures
    }

    public let period: String
    public let asOf: CalendarDate
    public let scope: String?
    public let projects: [ProjectAssessment]
    public let departments: [RollUp]
    public let curve: [CurvePoint]
    public let freshness: [Freshness]
    public let departmentNames: [String: String]

    public var city: RollUp { departments.last! }

    /// Gathers the report of `period` (YYYY-MM) as of the month's last day (or today, for the
    /// month under way). The S-curve takes PV, EV and AC at each month end of the year so far.
    /// `now` (milliseconds since 1970, UTC) dates the month under way and the sync freshness.
    public static func gather(node: Node, period: String, now: Int64) throws -> MonthlyReview {
        guard let first = CalendarDate(period + "-01") else { throw NodeError(.usage, "--period '\(period)' is not a month: write YYYY-MM") }
        let today = CalendarDate(unixMilliseconds: UInt64(max(now, 0)))
        let monthEnd = first.adding(days: CalendarDate.daysIn(month: first.month, year: first.year) - 1)
        let asOf = min(monthEnd, today)
        let thresholds = node.configuration.report
        let projects = try Reports.assessments(node.store, asOf: asOf, thresholds: thresholds)
        var curve: [CurvePoint] = []
        for month in 1...first.month {
            let start = CalendarDate(year: first.year, month: month, day: 1)!
            let end = min(start.adding(days: CalendarDate.daysIn(month: month, year: first.year) - 1), asOf)
            let figures = try Reports.computing(asOf: end) {
                try EarnedValueFigures.sum(ProjectData.load(node.store, asOf: end).map { try ActivityEarnedValue.figuresOf($0, asOf: end) })
            }
            curve.append(CurvePoint(month: String(start.description.prefix(7)), figures: figures))
        }
        let rows = try node.store.rows([
            ("SELECT node, role, department, exchanged_ms FROM sync_peer ORDER BY department, node", []),
            ("SELECT id, coalesce(name, id) FROM department", []),
        ])
        let freshness = rows[0].map { row in
            Freshness(node: row[0] ?? "", role: row[1] ?? "", department: row[2] ?? "",
                      daysSinceSync: Int64(row[3] ?? "").map { Int((now - $0) / 86_400_000) })
        }
        let departments = try Reports.computing(asOf: asOf) { try RollUp.byDepartment(projects, asOf: asOf, thresholds: thresholds) }
        return MonthlyReview(period: period, asOf: asOf, scope: Reports.scopeNote(node), projects: projects,
                             departments: departments, curve: curve, freshness: freshness,
                             departmentNames: Dictionary(rows[1].map { ($0[0] ?? "", $0[1] ?? "") }) { a, _ in a })
    }

    // MARK: The parts, as rows of text

    /// Whole yuan with thousands separators (1,234,568), rounded half away from zero.
    static func money(_ value: ExactDecimal) -> String { value.grouped(places: 0) }

    static func index(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "not yet due" }

    public var headline: [(String, String)] {
        let f = city.figures
        return [("Projects", "\(projects.count)"), ("Budget (BAC)", Self.money(f.budget)), ("Planned value (PV)", Self.money(f.plannedValue)),
                ("Earned value (EV)", Self.money(f.earnedValue)), ("Actual cost (AC)", Self.money(f.actualCost)),
                ("Complete", String(format: "%.1f %%", f.percentComplete)), ("SPI", Self.index(f.schedulePerformanceIndex)),
                ("CPI", Self.index(f.costPerformanceIndex)), ("SPI(t)", Self.index(city.scheduleIndexByTime)),
                ("Green / amber / red", "\(city.colors[.green] ?? 0) / \(city.colors[.amber] ?? 0) / \(city.colors[.red] ?? 0)"),
                ("Early warnings", "\(city.warnings)")]
    }

    public var leagueTable: [[String]] {
        departments.dropLast().sorted { ($0.score ?? -1, $1.department) > ($1.score ?? -1, $0.department) }.enumerated().map { place, d in
            ["\(place + 1)", departmentNames[d.department].map { "\($0) (\(d.department))" } ?? d.department, "\(d.projects)",
             String(format: "%.1f %%", d.figures.percentComplete), Self.index(d.figures.schedulePerformanceIndex),
             Self.index(d.figures.costPerformanceIndex), d.score.map { String(format: "%.1f", $0) } ?? "—", d.grade?.rawValue ?? "—",
             "\(d.colors[.green] ?? 0)/\(d.colors[.amber] ?? 0)/\(d.colors[.red] ?? 0)"]
        }
    }

    /// 红榜: projects graded 优, best first; 黑榜: projects graded 差, worst first. Equal scores
    /// go in code order (then id), so that every replica lists them alike.
    public var commended: [ProjectAssessment] {
        projects.filter { $0.grade == .excellent }.sorted { ($1.score!, $0.project.code, $0.project.id) < ($0.score!, $1.project.code, $1.project.id) }
    }
    public var blackList: [ProjectAssessment] {
        projects.filter { $0.grade == .poor }.sorted { ($0.score!, $0.project.code, $0.project.id) < ($1.score!, $1.project.code, $1.project.id) }
    }
    /// Red or amber projects, worst colour then lowest score first, then in code order.
    public var lagging: [ProjectAssessment] {
        projects.filter { $0.color != .green }.sorted {
            ($1.color, $0.score ?? 0, $0.project.code, $0.project.id) < ($0.color, $1.score ?? 0, $1.project.code, $1.project.id)
        }
    }

    public var kpiRows: [[String]] {
        projects.flatMap { row in
            row.project.kpis.map { kpi in
                let achievement = kpi.value.flatMap {
                    KPIScore.achievement(value: $0, baseline: kpi.baseline, target: kpi.target, direction: kpi.direction)
                }
                return [row.project.code, kpi.name, Self.trim(kpi.baseline), Self.trim(kpi.target), kpi.value.map(Self.trim) ?? "not reported",
                        achievement.map { String(format: "%.0f %%", $0 * 100) } ?? "—",
                        kpi.score(cap: Thresholds.standard.kpiCap).map { String(format: "%.1f", $0) } ?? "—", Self.trim(kpi.weight)]
            }
        }
    }

    static func trim(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }

    public var freshnessRows: [[String]] {
        freshness.map { [$0.node, $0.role, $0.department, $0.daysSinceSync.map { $0 == 0 ? "today" : "\($0) days ago" } ?? "never",
                         ($0.daysSinceSync ?? 99) > Thresholds.standard.staleDays ? "STALE" : "ok"] }
    }

    public var staleProjects: [ProjectAssessment] { projects.filter { $0.warnings.contains { $0.rule == .stale } } }
}

// MARK: Markdown

extension MonthlyReview {
    static func markdownTable(_ header: [String], _ rows: [[String]]) -> String {
        func line(_ cells: [String]) -> String { "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |" }
        return ([line(header), line(header.map { _ in "---" })] + rows.map(line)).joined(separator: "\n")
    }

    public var markdown: String {
        var out = "# Monthly review \(period)\n\nAs of \(asOf)\(scope.map { "; \($0)" } ?? ""). "
        out += "Figures are cumulative to the cut-off; indices are ratios of sums.\n\n## Headline\n\n"
        out += Self.markdownTable(["measure", "value"], headline.map { [$0.0, $0.1] })
        out += "\n\n## League table of departments\n\n"
        out += Self.markdownTable(["#", "department", "projects", "complete", "SPI", "CPI", "score", "grade", "green/amber/red"], leagueTable)
        func list(_ projects: [ProjectAssessment]) -> String {
            projects.isEmpty ? "none\n" : projects.map {
                "- \($0.project.code) \($0.project.name) (\($0.project.department)): score \(String(format: "%.1f", $0.score ?? 0)) \($0.grade?.rawValue ?? "")\n"
            }.joined()
        }
        out += "\n\n## 红榜 (commended: grade 优)\n\n" + list(commended)
        out += "\n## 黑榜 (lagging: grade 差)\n\n" + list(blackList)
        out += "\n## Lagging projects and why\n\n"
        if lagging.isEmpty { out += "none\n" }
        for row in lagging {
            out += "### \(row.project.code) \(row.project.name) — \(row.color.rawValue)\n\n"
            out += "Owner: department \(departmentNames[row.project.department] ?? row.project.department). "
            out += "Complete \(String(format: "%.1f", row.figures.percentComplete)) %, SPI(t) \(Self.index(row.scheduleIndexByTime)), "
            out += "CPI \(Self.index(row.figures.costPerformanceIndex)).\n\n"
            out += row.warnings.map { "- \($0.level.rawValue): \($0.reason)\n" }.joined() + "\n"
        }
        out += "## KPI scorecard\n\n"
        out += kpiRows.isEmpty ? "no KPIs defined\n"
            : Self.markdownTable(["project", "KPI", "baseline", "target", "reading", "achieved", "score", "weight"], kpiRows) + "\n"
        out += "\n## Data quality\n\nSync freshness of each site (as this node last exchanged with it):\n\n"
        out += freshnessRows.isEmpty ? "no site has synced with this node\n"
            : Self.markdownTable(["node", "role", "department", "last sync", "status"], freshnessRows) + "\n"
        out += "\nProjects with stale field reporting: "
        out += staleProjects.isEmpty ? "none.\n" : staleProjects.map(\.project.code).joined(separator: ", ") + ".\n"
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
        // Chart geometry only: the amounts become Doubles to place points, never to add them.
        let peakAmount = max(curve.map { max($0.figures.plannedValue, $0.figures.earnedValue, $0.figures.actualCost) }.max() ?? 1, 1)
        let peak = peakAmount.doubleValue
        let step = curve.count > 1 ? (width - left - 10) / Double(curve.count - 1) : 0
        func x(_ i: Int) -> Double { left + Double(i) * step }
        func y(_ v: Double) -> Double { top + (height - top - bottom) * (1 - v / peak) }
        func line(_ value: (EarnedValueFigures) -> ExactDecimal, _ color: String, _ dash: String) -> String {
            let points = curve.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y(value($0.element.figures).doubleValue)) }
                .joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" stroke-dasharray=\"\(dash)\" points=\"\(points)\"/>"
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"S-curve of PV, EV and AC\">"
        svg += "<line x1=\"\(left)\" y1=\"\(y(0))\" x2=\"\(width - 10)\" y2=\"\(y(0))\" stroke=\"#888\"/>"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(y(0))\" stroke=\"#888\"/>"
        svg += "<text x=\"\(left - 6)\" y=\"\(top + 10)\" font-size=\"10\" text-anchor=\"end\">\(Self.escape(Self.money(peakAmount)))</text>"
        for (i, point) in curve.enumerated() {
            svg += "<text x=\(String(format: "\"%.1f\"", x(i))) y=\"\(height - 10)\" font-size=\"10\" text-anchor=\"middle\">\(point.month.suffix(2))</text>"
        }
        svg += line(\.plannedValue, "#1f4e9c", "6 3") + line(\.earnedValue, "#1a7f37", "") + line(\.actualCost, "#b35c00", "2 2")
        svg += "<text x=\"\(left + 10)\" y=\"\(top + 12)\" font-size=\"11\" fill=\"#1f4e9c\">PV (plan)</text>"
        svg += "<text x=\"\(left + 80)\" y=\"\(top + 12)\" font-size=\"11\" fill=\"#1a7f37\">EV (earned)</text>"
        svg += "<text x=\"\(left + 160)\" y=\"\(top + 12)\" font-size=\"11\" fill=\"#b35c00\">AC (spent)</text>"
        return svg + "</svg>"
    }

    /// Projects by colour, one stacked bar per department.
    var colorsSVG: String {
        let rows = departments.dropLast()
        let height = Double(max(rows.count, 1)) * 26 + 20, width = 640.0, left = 140.0
        let most = Double(max(rows.map(\.projects).max() ?? 1, 1))
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"Projects by colour per department\">"
        for (i, d) in rows.enumerated() {
            let y = 10 + Double(i) * 26
            svg += "<text x=\"\(left - 8)\" y=\"\(y + 14)\" font-size=\"11\" text-anchor=\"end\">\(Self.escape(departmentNames[d.department] ?? d.department))</text>"
            var x = left
            for (color, fill) in [(Color.green, "#2da44e"), (.amber, "#d4a72c"), (.red, "#cf222e")] {
                let count = d.colors[color] ?? 0
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
        var body = "<h1>Monthly review \(Self.escape(period))</h1><p>As of \(asOf)\(scope.map { "; " + Self.escape($0) } ?? ""). "
        body += "Figures are cumulative to the cut-off; indices are ratios of sums.</p>"
        body += "<h2>Headline</h2>" + Self.htmlTable(["measure", "value"], headline.map { [$0.0, $0.1] })
        body += "<h2>Progress against plan</h2><figure>\(sCurveSVG)<figcaption>Cumulative PV, EV and AC at each month end</figcaption></figure>"
        body += "<h2>League table of departments</h2>"
            + Self.htmlTable(["#", "department", "projects", "complete", "SPI", "CPI", "score", "grade", "green/amber/red"], leagueTable)
        body += "<figure>\(colorsSVG)<figcaption>Projects by colour</figcaption></figure>"
        func list(_ projects: [ProjectAssessment]) -> String {
            projects.isEmpty ? "<p>none</p>" : "<ul>" + projects.map {
                "<li>\(Self.escape($0.project.code)) \(Self.escape($0.project.name)) (\(Self.escape($0.project.department))): score \(String(format: "%.1f", $0.score ?? 0)) \($0.grade?.rawValue ?? "")</li>"
            }.joined() + "</ul>"
        }
        body += "<h2>红榜 (commended: grade 优)</h2>" + list(commended) + "<h2>黑榜 (lagging: grade 差)</h2>" + list(blackList)
        body += "<h2>Lagging projects and why</h2>"
        if lagging.isEmpty { body += "<p>none</p>" }
        for row in lagging {
            body += "<h3 class=\"\(row.color.rawValue)\">\(Self.escape(row.project.code)) \(Self.escape(row.project.name)) — \(row.color.rawValue)</h3>"
            body += "<p>Owner: department \(Self.escape(departmentNames[row.project.department] ?? row.project.department)). "
            body += "Complete \(String(format: "%.1f", row.figures.percentComplete)) %, SPI(t) \(Self.index(row.scheduleIndexByTime)), CPI \(Self.index(row.figures.costPerformanceIndex)).</p>"
            body += "<ul>" + row.warnings.map { "<li class=\"\($0.level.rawValue)\">\(Self.escape($0.reason))</li>" }.joined() + "</ul>"
        }
        body += "<h2>KPI scorecard</h2>" + (kpiRows.isEmpty ? "<p>no KPIs defined</p>"
            : Self.htmlTable(["project", "KPI", "baseline", "target", "reading", "achieved", "score", "weight"], kpiRows))
        body += "<h2>Data quality</h2><p>Sync freshness of each site:</p>" + (freshnessRows.isEmpty ? "<p>no site has synced with this node</p>"
            : Self.htmlTable(["node", "role", "department", "last sync", "status"], freshnessRows))
        body += "<p>Projects with stale field reporting: \(staleProjects.isEmpty ? "none" : Self.escape(staleProjects.map(\.project.code).joined(separator: ", "))).</p>"
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
