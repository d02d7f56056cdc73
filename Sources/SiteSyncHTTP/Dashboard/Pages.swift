import Foundation
import Hummingbird
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance

/// The pages themselves. Each reads what it shows once — figures from the cache's snapshot,
/// records and sync facts from the read model — cut to the person's scope, and renders it with
/// the visit's catalog; every text from the data goes through ``html(_:)``.
extension DashboardRoutes {
    /// Department names by code (a shared collection; cheap to read).
    func departmentNames() throws -> [String: String] {
        Dictionary(try node.store.rows([("SELECT id, name FROM department", [])])[0].map { ($0[0] ?? "", $0[1] ?? "") }) { a, _ in a }
    }

    func departmentLabel(_ code: String, names: [String: String]) -> String {
        names[code].map { "\($0) (\(code))" } ?? code
    }

    // MARK: - /

    func overview(_ visit: Visit) throws -> Response {
        let c = visit.catalog, scope = visit.scope
        let snapshot = try figures.snapshot(asOf: today)
        let city = snapshot.city(scope)
        let names = try departmentNames()
        var body = "<p>\(html(c[.asOf])) \(html(c.date(city.text("as_of"))))</p><div id=\"figures\" aria-live=\"polite\">"
        body += headline(city, c)
        // Departments ranked by score (best first), each with its colour counts as words.
        let departments = snapshot.departments(scope).elements.filter { !($0.text("department") ?? "").isEmpty }
            .sorted { (Double($0.text("score") ?? "") ?? -1) > (Double($1.text("score") ?? "") ?? -1) }
        let rows = departments.enumerated().map { place, row in
            let code = row.text("department") ?? ""
            return ["\(place + 1)", "<a href=\"/departments/\(html(code))\">\(html(departmentLabel(code, names: names)))</a>",
                    html(c.number(row.text("projects"))), html(c.percent(row.text("percent_complete"))),
                    html(c.number(row.text("spi"))), html(c.number(row.text("cpi"))), html(c.number(row.text("score"), places: 1)),
                    html(c.grade(row.text("grade"))), colorCounts(row, c)]
        }
        body += table(caption: c[.departmentsRanked], headers: [c[.rank], c[.department], c[.projects], c[.percentComplete], "SPI", "CPI",
                                                               c[.score], c[.grade], c[.color]], rows: rows, numeric: [0, 2, 3, 4, 5, 6])
        // The S-curve of this month's review (the city's, or the department's own), computed
        // with the snapshot.
        let curve = try snapshot.curveJSON(scope)
            ?? monthlyJSON(period: String(today.description.prefix(7)), scope: scope, snapshot: snapshot).member("curve")?.elements ?? []
        body += "<h2>\(html(c[.sCurve]))</h2>" + Charts.sCurve(curve, catalog: c)
        // 红榜 and 黑榜 among the projects under way, the first of each.
        body += projectList(c[.redList], snapshot.graded(scope, grade: .excellent, bestFirst: true, limit: Self.listLength), c)
        body += projectList(c[.blackList], snapshot.graded(scope, grade: .poor, bestFirst: false, limit: Self.listLength), c)
        body += warningsFeed(snapshot.warnings(scope, limit: Self.warningsShown), c)
        body += "</div><p class=\"noprint\"><small>\(html(c[.liveUpdates]))</small></p>"
        return htmlResponse(visit.frame.render(title: c[.overview], body: body))
    }

    /// The headline figures as a definition list of boxes.
    func headline(_ row: JSONValue, _ c: Catalog) -> String {
        let warnings = row.member("warnings").map { $0.elements.isEmpty ? $0.plainText : String($0.elements.count) } ?? nil
        var figures: [(String, String)] = row.text("projects").map { [(c[.projects], c.number($0))] } ?? []
        figures += [
            (c[.percentComplete], c.percent(row.text("percent_complete"))),
            (c[.budget], c.money(row.text("bac"))), (c[.plannedValue], c.money(row.text("pv"))),
            (c[.earnedValue], c.money(row.text("ev"))), (c[.actualCost], c.money(row.text("ac"))),
            (c[.spi], c.number(row.text("spi"))), (c[.cpi], c.number(row.text("cpi"))), (c[.spiT], c.number(row.text("spi_t"))),
            (c[.score], c.number(row.text("score"), places: 1)), (c[.grade], c.grade(row.text("grade"))),
            (c[.warnings], c.number(warnings ?? "0")),
        ]
        return "<h2>\(html(c[.headline]))</h2><dl class=\"figures\">"
            + figures.map { "<div><dt>\(html($0.0))</dt><dd>\(html($0.1))</dd></div>" }.joined() + "</dl>"
    }

    func colorCounts(_ row: JSONValue, _ c: Catalog) -> String {
        ["green", "amber", "red"].map { "\(Charts.color($0, catalog: c)) \(html(c.number(row.text($0))))" }.joined(separator: " · ")
    }

    /// A 红榜 or 黑榜: the first ``listLength`` projects, the others counted (the department
    /// pages list them all).
    func projectList(_ title: String, _ list: (items: [JSONValue], total: Int), _ c: Catalog) -> String {
        let shown = list.items
        guard !shown.isEmpty else { return "<h2>\(html(title))</h2><p>\(html(c[.noneListed]))</p>" }
        let more = list.total > shown.count ? "<p>\(html(c[.moreNotShown])) \(html(c.number(String(list.total - shown.count))))</p>" : ""
        return "<h2>\(html(title))</h2>" + table(caption: title, headers: [c[.code], c[.project], c[.department], c[.score], c[.grade], c[.color]],
                                                 rows: shown.map { projectCells($0, c, columns: [.score, .grade, .color]) }, numeric: [3]) + more
    }

    /// How many projects a 红榜 or 黑榜 on the overview names.
    static let listLength = 20
    /// How many early warnings the overview lists (the rest are counted).
    static let warningsShown = 200

    enum Column { case percent, budget, pv, ev, ac, spi, cpi, score, grade, color, warnings }

    /// The cells of one project row: code (a link), name, department, then `columns`.
    func projectCells(_ row: JSONValue, _ c: Catalog, columns: [Column]) -> [String] {
        let code = row.text("code") ?? ""
        var cells = ["<a href=\"/projects/\(html(code))\">\(html(code))</a>", html(row.text("name") ?? ""), html(row.text("department") ?? "")]
        for column in columns {
            switch column {
            case .percent: cells.append(Charts.progress(row.text("percent_complete"), catalog: c))
            case .budget: cells.append(html(c.money(row.text("bac"))))
            case .pv: cells.append(html(c.money(row.text("pv"))))
            case .ev: cells.append(html(c.money(row.text("ev"))))
            case .ac: cells.append(html(c.money(row.text("ac"))))
            case .spi: cells.append(html(c.number(row.text("spi"))))
            case .cpi: cells.append(html(c.number(row.text("cpi"))))
            case .score: cells.append(html(c.number(row.text("score"), places: 1)))
            case .grade: cells.append(html(c.grade(row.text("grade"))))
            case .color: cells.append(Charts.color(row.text("color"), catalog: c))
            case .warnings: cells.append(html(c.number(String(row.member("warnings")?.elements.count ?? 0))))
            }
        }
        return cells
    }

    /// The early warnings with their reasons, red first as the snapshot orders them; at most 200
    /// (the rest are counted), so the page stays light in a city of thousands of projects.
    func warningsFeed(_ warnings: (items: [JSONValue], total: Int), _ c: Catalog) -> String {
        let shown = warnings.items
        guard !shown.isEmpty else { return "<h2>\(html(c[.warningsFeed]))</h2><p>\(html(c[.noWarnings]))</p>" }
        let rows = shown.map { warning in
            let code = warning.text("code") ?? ""
            return [Charts.color(warning.text("level"), catalog: c), "<a href=\"/projects/\(html(code))\">\(html(code))</a>",
                    html(warning.text("subject") ?? ""), html(c.warningReason(rule: warning.text("rule"), reason: warning.text("reason")))]
        }
        let more = warnings.total > shown.count ? "<p>\(html(c[.moreNotShown])) \(html(c.number(String(warnings.total - shown.count))))</p>" : ""
        return "<h2>\(html(c[.warningsFeed]))</h2>" + table(caption: c[.warningsFeed], headers: [c[.level], c[.project], c[.subject], c[.reason]], rows: rows) + more
    }

    /// The monthly review's JSON: an open month ending today or later from today's figures;
    /// another kept while the data has not changed.
    func monthlyJSON(period: String, scope: ReadScope, snapshot: FiguresSnapshot) throws -> JSONValue {
        try reviews.review("\(period)|\(scope.cacheKey)", generation: snapshot.generation) {
            try ReadModel.monthly(node, period: period, scope: scope, now: Int64(node.store.wallClock()), snapshot: snapshot)
        }
    }

    // MARK: - /departments/{code}

    /// A department's headline figures, then its projects in code order, a page at a time,
    /// all of them or those of one colour (`?color=`).
    func department(_ visit: Visit, code: String, page: String?, color: String?) throws -> Response {
        let c = visit.catalog, scope = visit.scope
        guard scope.department == nil || scope.department == code else { throw Refusal.page(.notFound, c[.notFound]) }
        let snapshot = try figures.snapshot(asOf: today)
        let names = try departmentNames()
        let color = color.flatMap { ["green", "amber", "red"].contains($0) ? $0 : nil }
        let all = snapshot.projects(scope, filter: ProjectFilter(department: code), limit: 0)
        guard all.text("total") != "0" || names[code] != nil else { throw Refusal.page(.notFound, c[.notFound]) }
        let path = "/departments/\(code)"
        let total = Int(snapshot.projects(scope, filter: ProjectFilter(department: code, color: color), limit: 0).text("total") ?? "") ?? 0
        let paging = Paging(asked: page, total: total, path: path, keep: color.map { [("color", $0)] } ?? [])
        let projects = snapshot.projects(scope, filter: ProjectFilter(department: code, color: color), limit: Paging.size,
                                         offset: paging.offset).member("items")?.elements ?? []
        var body = "<p>\(html(c[.asOf])) \(html(c.date(snapshot.asOf.description)))</p>"
        if let row = snapshot.departments(scope).elements.first(where: { $0.text("department") == code }) {
            body += headline(row, c) + "<p>\(colorCounts(row, c))</p>"
        }
        // The colours as filters: each a link with its word, the one shown marked.
        let filters = [(nil as String?, c[.allColors])] + ["green", "amber", "red"].map { (Optional($0), "\(c[.onlyColor]) \(c.color($0))") }
        body += "<p class=\"noprint\">" + filters.map { value, label in
            value == color ? "<strong aria-current=\"true\">\(html(label))</strong>"
                : "<a href=\"\(html(Paging(asked: nil, total: 0, path: path, keep: value.map { [("color", $0)] } ?? []).link(1)))\">\(html(label))</a>"
        }.joined(separator: " · ") + "</p>"
        body += paging.navigation(c)
        body += table(caption: c[.projectsOf], headers: [c[.code], c[.project], c[.department], c[.stage], c[.percentComplete], c[.budget],
                                                        c[.plannedValue], c[.earnedValue], c[.actualCost], "SPI", "CPI", c[.score], c[.grade],
                                                        c[.color], c[.warnings]],
                      rows: projects.map { row in
                          var cells = projectCells(row, c, columns: [.percent, .budget, .pv, .ev, .ac, .spi, .cpi, .score, .grade, .color, .warnings])
                          cells.insert(html(c.stageName(row.text("stage"))), at: 3)
                          return cells
                      }, numeric: [5, 6, 7, 8, 9, 10, 11, 14])
        return htmlResponse(visit.frame.render(title: "\(c[.department]): \(departmentLabel(code, names: names))", body: body))
    }

    // MARK: - /projects/{code}

    func project(_ visit: Visit, code: String) throws -> Response {
        let c = visit.catalog
        guard let detail = try ReadModel.project(node, code: code, asOf: today, scope: visit.scope) else {
            throw Refusal.page(.notFound, c[.notFound])
        }
        let project = detail.member("project") ?? .null, numbers = detail.member("figures") ?? .null
        var body = "<p>\(html(c[.asOf])) \(html(c.date(detail.text("as_of")))) · \(html(c[.department])): "
            + "<a href=\"/departments/\(html(project.text("department") ?? ""))\">\(html(project.text("department") ?? ""))</a> · "
            + "\(html(c[.color])): \(Charts.color(numbers.text("color"), catalog: c)) · \(html(c[.grade])): \(html(c.grade(numbers.text("grade"))))</p>"
        body += headline(numbers, c)
        body += try stageSection(visit, code: code)
        body += try forecastSection(visit, code: code)
        body += "<h2>\(html(c[.activities]))</h2>" + table(
            caption: c[.activities],
            headers: [c[.activity], c[.status], c[.progress], c[.plannedStart], c[.plannedFinish], c[.actualStart], c[.actualFinish],
                      c[.budget], c[.plannedValue], c[.earnedValue], c[.actualCost]],
            rows: (detail.member("activities")?.elements ?? []).map { a in
                [html(a.text("name") ?? ""), html(c.word(a.text("status"))), Charts.progress(a.text("percent_complete"), catalog: c),
                 html(c.date(a.text("planned_start"))), html(c.date(a.text("planned_finish"))), html(c.date(a.text("actual_start"))),
                 html(c.date(a.text("actual_finish"))), html(c.money(a.text("bac"))), html(c.money(a.text("pv"))), html(c.money(a.text("ev"))),
                 html(c.money(a.text("ac")))]
            }, numeric: [7, 8, 9, 10])
        body += "<h2>\(html(c[.goals]))</h2>" + goalRows(detail.member("goals")?.elements ?? [], c)
        body += kpiSection(detail.member("kpis")?.elements ?? [], c)
        let risks = detail.member("risks")?.elements ?? []
        body += "<h2>\(html(c[.risks]))</h2>" + Charts.riskMatrix(risks, catalog: c)
        if !risks.isEmpty {
            body += table(caption: c[.risks], headers: [c[.risk], c[.probability], c[.impact], c[.status], c[.mitigation]],
                          rows: risks.map { r in [html(r.text("title") ?? ""), html(r.text("probability") ?? "—"), html(r.text("impact") ?? "—"),
                                                  html(c.word(r.text("status"))), html(r.text("mitigation") ?? "")] }, numeric: [1, 2])
        }
        let open = (detail.member("issues")?.elements ?? []).filter { !["closed", "resolved"].contains($0.text("status") ?? "") }
        body += "<h2>\(html(c[.openIssues]))</h2>" + (open.isEmpty ? "<p>\(html(c[.noneYet]))</p>" : table(
            caption: c[.openIssues], headers: [c[.issues], c[.priority], c[.status], c[.assignees], c[.due], c[.opened]],
            rows: open.map { i in
                [html(i.text("title") ?? ""), html(c.word(i.text("priority"))), html(c.word(i.text("status"))),
                 html((i.member("assignees")?.elements ?? []).compactMap(\.plainText).joined(separator: ", ")),
                 html(c.date(i.text("due"))), html(c.date(i.text("opened_on")))]
            }))
        let logs = detail.member("daily_logs")?.elements ?? []
        body += "<h2>\(html(c[.dailyLogs]))</h2>" + (logs.isEmpty ? "<p>\(html(c[.noneYet]))</p>" : "<ol class=\"timeline\">" + logs.map { log in
            "<li><strong><time datetime=\"\(html(log.text("date") ?? ""))\">\(html(c.date(log.text("date"))))</time></strong> · "
                + "\(html(c[.weather])): \(html(log.text("weather") ?? "—")) · \(html(c[.crew])): \(html(c.number(log.text("crew_count"))))"
                + "<br>\(html(log.text("summary") ?? ""))</li>"
        }.joined() + "</ol>")
        let warnings = (numbers.member("warnings")?.elements ?? []).map { w in
            [Charts.color(w.text("level"), catalog: c), html(w.text("subject") ?? ""), html(c.warningReason(rule: w.text("rule"), reason: w.text("reason")))]
        }
        body += "<h2>\(html(c[.warnings]))</h2>" + (warnings.isEmpty ? "<p>\(html(c[.noWarnings]))</p>"
            : table(caption: c[.warnings], headers: [c[.level], c[.subject], c[.reason]], rows: warnings))
        let title = "\(project.text("code") ?? code) \(project.text("name") ?? "")"
        return htmlResponse(visit.frame.render(title: title, body: body))
    }

    /// The goal tree as a table, each goal indented under its parent.
    func goalRows(_ roots: [JSONValue], _ c: Catalog) -> String {
        guard !roots.isEmpty else { return "<p>\(html(c[.noneYet]))</p>" }
        var rows: [[String]] = []
        func walk(_ goal: JSONValue, depth: Int) {
            let indent = String(repeating: "— ", count: depth)
            rows.append(["<th scope=\"row\">\(indent)\(html(goal.text("title") ?? ""))</th>", html(c.number(goal.text("weight"))),
                         html(c.number(goal.text("score"), places: 1))])
            for child in goal.member("children")?.elements ?? [] { walk(child, depth: depth + 1) }
        }
        for root in roots { walk(root, depth: 0) }
        return table(caption: c[.goals], headers: [c[.goal], c[.weight], c[.score]], rows: rows, numeric: [1, 2])
    }

    /// Each KPI with its current reading and score, then its readings by period.
    func kpiSection(_ kpis: [JSONValue], _ c: Catalog) -> String {
        var out = "<h2>\(html(c[.kpis]))</h2>"
        guard !kpis.isEmpty else { return out + "<p>\(html(c[.noneYet]))</p>" }
        out += table(caption: c[.kpis], headers: [c[.kpi], c[.unit], c[.baseline], c[.target], c[.reading], c[.score], c[.weight], c[.readings]],
                     rows: kpis.map { k in
                         let readings = (k.member("readings")?.elements ?? []).map {
                             "\(html(c.month($0.text("period")))): \(html(c.number($0.text("value"))))"
                         }.joined(separator: "<br>")
                         return [html(k.text("name") ?? ""), html(k.text("unit") ?? ""), html(c.number(k.text("baseline"))),
                                 html(c.number(k.text("target"))), html(c.number(k.text("value"))), html(c.number(k.text("score"), places: 1)),
                                 html(c.number(k.text("weight"))), readings.isEmpty ? "—" : readings]
                     }, numeric: [2, 3, 4, 5, 6])
        return out
    }

    // MARK: - /fleet

    func fleet(_ visit: Visit) throws -> Response {
        let c = visit.catalog
        let fleet = ReadRoutes.fleet(try ReadModel.fleet(node), scope: visit.scope)
        let rows = (fleet.member("nodes")?.elements ?? []).map { n in
            let stale = n.member("stale") == .bool(true)
            return ["<th scope=\"row\">\(html(n.text("node") ?? ""))</th>", html(n.text("department") ?? ""), html(c.word(n.text("role"))),
                    html(c.moment(n.text("last_seen"))), html(c.number(n.text("behind"))),
                    stale ? "<strong>⚠ \(html(c[.staleYes]))</strong>" : html(c[.staleNo]), html(c.number(n.text("open_conflicts"))),
                    html(c.number(n.text("clock_offset_ms")))]
        }
        let body = "<p>\(html(c[.asOf])) \(html(c.moment(fleet.text("at"))))</p>"
            + table(caption: c[.fleet], headers: [c[.node], c[.department], c[.role], c[.lastSeen], c[.behind], c[.stale], c[.openConflicts],
                                                 c[.clockOffset]], rows: rows, numeric: [4, 6, 7])
        return htmlResponse(visit.frame.render(title: c[.fleet], body: body))
    }

    // MARK: - /conflicts

    func conflicts(_ visit: Visit, resolved: Bool) throws -> Response {
        let c = visit.catalog
        let open = try ReadModel.conflicts(node, scope: visit.scope).elements.filter { $0.member("active") != .bool(false) }
        var body = resolved ? "<p class=\"message\" role=\"status\">\(html(c[.resolved]))</p>" : ""
        if open.isEmpty { body += "<p>\(html(c[.noConflicts]))</p>" }
        for (number, conflict) in open.enumerated() {
            let collection = conflict.text("collection") ?? "", id = conflict.text("id") ?? "", field = conflict.text("field") ?? ""
            let values = conflict.member("values")?.elements ?? []
            body += "<section><h2>\(html(collection)) \(html(id)) · \(html(field))</h2>"
            body += "<p>\(html(c[.detectedAt])): \(html(c.moment(conflict.text("detected_at")))) · \(html(c[.status])): \(html(c.word(conflict.text("status"))))</p>"
            body += table(caption: "\(c[.value]) — \(collection) \(id) \(field)", headers: [c[.value], c[.writtenBy], c[.writtenAt]],
                          rows: values.map { v in
                              [html(v.member("value")?.plainText ?? "—"), html(v.text("node") ?? ""), html(c.moment(v.text("at")))]
                          })
            let suggested = conflict.member("value")?.plainText ?? values.first?.member("value")?.plainText ?? ""
            body += """
                <form method="post" action="/conflicts/resolve">
                <input type="hidden" name="csrf" value="\(html(visit.csrfToken ?? ""))">
                <input type="hidden" name="collection" value="\(html(collection))">
                <input type="hidden" name="id" value="\(html(id))"><input type="hidden" name="field" value="\(html(field))">
                <p><label for="value-\(number)">\(html(c[.keepThisValue]))</label><br>
                <input id="value-\(number)" name="value" size="60" value="\(html(suggested))">
                <button type="submit">\(html(c[.resolve]))</button></p></form></section>
                """
        }
        return htmlResponse(visit.frame.render(title: c[.conflicts], body: body))
    }

    // MARK: - /reports/monthly/{YYYY-MM}

    /// The monthly review of `period`: its figures, its projects a page at a time (print one
    /// page, or the whole review from `sitesync report monthly`), late entries and sites.
    func monthly(_ visit: Visit, period: String, page: String?) throws -> Response {
        let c = visit.catalog
        guard period.count == 7, CalendarDate(period + "-01") != nil else { throw Refusal.page(.notFound, c[.notFound]) }
        let review = try monthlyJSON(period: period, scope: visit.scope, snapshot: try figures.snapshot(asOf: today))
        let names = try departmentNames()
        var body = "<p>\(html(c[.asOf])) \(html(c.date(review.text("as_of")))) · \(html(c[.standing])): "
            + "\(html(review.member("closed") == .null ? c[.openPeriod] : c[.closedPeriod]))"
            + " <button type=\"button\" class=\"noprint\" data-print>\(html(c[.print]))</button></p>"
        if let headline = review.member("headline"), headline != .null {
            body += table(caption: c[.headline], headers: [c[.headline], c[.value]],
                          rows: headline.elements.map { pair in pair.elements.enumerated().map { index, cell in
                              let text = cell.plainText ?? ""
                              return html(index == 0 ? c.reviewLabel(text) : text)
                          } }, numeric: [1])
        }
        let all = (review.member("projects")?.elements ?? []).filter { !["closed", "archived"].contains($0.text("stage") ?? "") }
        let paging = Paging(asked: page, total: all.count, path: "/reports/monthly/\(period)")
        let projects = paging.slice(all)
        body += paging.navigation(c)
        body += table(caption: c[.projectsOf], headers: [c[.code], c[.project], c[.department], c[.percentComplete], c[.budget],
                                                        c[.earnedValue], c[.actualCost], c[.score], c[.grade], c[.color]],
                      rows: projects.map { p in
                          let code = p.text("code") ?? ""
                          return ["<a href=\"/projects/\(html(code))\">\(html(code))</a>", html(p.text("name") ?? ""),
                                  html(departmentLabel(p.text("department") ?? "", names: names)), html(c.percent(p.text("percent_complete"))),
                                  html(c.money(p.text("budget"))), html(c.money(p.text("earned_value"))), html(c.money(p.text("actual_cost"))),
                                  html(c.number(p.text("score"), places: 1)), html(c.grade(p.text("grade"))), Charts.color(p.text("color"), catalog: c)]
                      }, numeric: [3, 4, 5, 6, 7])
        if let curve = review.member("curve"), curve != .null {
            body += "<h2>\(html(c[.sCurve]))</h2>" + Charts.sCurve(curve.elements, catalog: c)
        }
        let late = review.member("late_entries")?.elements ?? []
        if !late.isEmpty {
            body += table(caption: c[.lateEntries], headers: [c[.date], c[.project], c[.entry], c[.value], c[.node]],
                          rows: late.map { e in [html(c.date(e.text("date"))), html(e.text("project") ?? ""), html(e.text("entry") ?? ""),
                                                 html(e.text("value") ?? ""), html(e.text("node") ?? "")] })
        }
        let freshness = review.member("freshness")?.elements ?? []
        if !freshness.isEmpty {
            body += table(caption: c[.freshness], headers: [c[.node], c[.role], c[.department], c[.daysSinceSync]],
                          rows: freshness.map { f in [html(f.text("node") ?? ""), html(c.word(f.text("role"))), html(f.text("department") ?? ""),
                                                      html(c.number(f.text("days_since_sync")))] }, numeric: [3])
        }
        return htmlResponse(visit.frame.render(title: "\(c[.monthlyReport]) · \(c.month(period))", body: body))
    }
}
