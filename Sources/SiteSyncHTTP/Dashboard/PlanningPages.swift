import Foundation
import Hummingbird
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance

/// The planning pages: the goal tree (目标拆解), the scorecards, a project's stage gates (on
/// its page), the template library (模板库) and the suggestion box (意见箱).
/// Templates are shared plan data every person reads. Suggestions are shown in the person's
/// scope; anyone who writes may leave one (anonymously too), and a person with the office's
/// rights answers them. Both forms are ordinary writes as the person's writer identity, which
/// replicate like any other.
extension DashboardRoutes {
    func addPlanning(to router: Router<APIContext>) {
        router.get("templates") { request, _ in try await answer(request) { visit in try await offPool { try templates(visit) } } }
        router.get("templates/{name}") { request, context in
            let name = try context.parameters.require("name")
            return try await answer(request) { visit in try await offPool { try template(visit, name: name) } }
        }
        router.get("goals") { request, _ in
            let query = request.uri.queryParameters
            let (period, department, page) = (query["period"].map(String.init), query["department"].map(String.init), query["page"].map(String.init))
            return try await answer(request) { visit in
                try await offPool { try goals(visit, period: period, department: department, page: page) }
            }
        }
        router.get("scorecards") { request, _ in
            let query = request.uri.queryParameters
            let (period, department, page) = (query["period"].map(String.init), query["department"].map(String.init), query["page"].map(String.init))
            return try await answer(request) { visit in
                try await offPool { try scorecards(visit, period: period, department: department, page: page, csv: query["format"] == "csv") }
            }
        }
        router.get("suggestions") { request, _ in
            let (page, done) = (request.uri.queryParameters["page"].map(String.init), request.uri.queryParameters["done"].map(String.init))
            return try await answer(request) { visit in try await offPool { try suggestions(visit, page: page, done: done) } }
        }
        router.post("suggestions") { request, _ in
            try await answer(request) { visit in
                let fields = try await form(request, visit)
                return try await offPool { try leaveSuggestion(visit, fields) }
            }
        }
        router.post("suggestions/answer") { request, _ in
            try await answer(request) { visit in
                let fields = try await form(request, visit)
                return try await offPool { try answerSuggestion(visit, fields) }
            }
        }
    }

    // MARK: - /templates

    func templates(_ visit: Visit) throws -> Response {
        let c = visit.catalog
        let records = try node.templates()
        let body = records.isEmpty ? "<p>\(html(c[.noneYet]))</p>" : table(
            caption: c[.templates], headers: [c[.name], c[.title], c[.activities], c[.goals], c[.kpis], c[.days], c[.savedOn]],
            rows: records.map { r in
                ["<a href=\"/templates/\(html(r.template.name))\">\(html(r.template.name))</a>", html(r.template.title),
                 html(c.number(String(r.template.activities.count))), html(c.number(String(r.template.goals.count))),
                 html(c.number(String(r.template.kpis.count))), html(c.number(String(r.template.finishDay))),
                 "\(html(c.date(r.savedOn))) · \(html(r.savedBy))"]
            }, numeric: [2, 3, 4, 5])
        return htmlResponse(visit.frame.render(title: c[.templates], body: "<p>\(html(c[.templatesIntro]))</p>" + body))
    }

    func template(_ visit: Visit, name: String) throws -> Response {
        let c = visit.catalog
        guard let record = try node.templates().first(where: { $0.template.name == name.lowercased() }) else {
            throw Refusal.page(.notFound, c[.notFound])
        }
        let t = record.template
        var body = "<p>\(html(t.description ?? "")) · \(html(c[.days])): \(html(c.number(String(t.finishDay))))</p>"
        body += table(caption: c[.activities], headers: [c[.activity], c[.startDay], c[.finishDay], c[.budgetShare], c[.unit], c[.quantity]],
                      rows: t.activities.map { a in
                          [html(a.name), html(c.number(String(a.startDay))), html(c.number(String(a.finishDay))),
                           html(c.percent(String((Double(a.budgetShare.description) ?? 0) * 100))), html(a.unit ?? "—"),
                           html(c.number(a.quantity?.description))]
                      }, numeric: [1, 2, 3, 5])
        if !t.goals.isEmpty {
            body += table(caption: c[.goals], headers: [c[.goal], c[.weight]],
                          rows: t.goals.map { [html(($0.parent == nil ? "" : "— ") + $0.title), html(c.number($0.weight.description))] },
                          numeric: [1])
        }
        if !t.kpis.isEmpty {
            body += table(caption: c[.kpis], headers: [c[.kpi], c[.unit], c[.baseline], c[.target], c[.weight]],
                          rows: t.kpis.map { k in
                              [html(k.name), html(k.unit ?? ""), html(c.number(k.baseline.description)), html(c.number(k.target.description)),
                               html(c.number(k.weight.description))]
                          }, numeric: [2, 3, 4])
        }
        return htmlResponse(visit.frame.render(title: "\(c[.template]): \(t.title)", body: body))
    }

    // MARK: - A project's stage gates (on its page)

    /// The project's stage, the proposal waiting for the office, its transitions and its
    /// plan's variance against the current baseline.
    func stageSection(_ visit: Visit, code: String) throws -> String {
        let c = visit.catalog
        guard let stages = try ReadModel.stages(node, code: code, scope: visit.scope) else { return "" }
        var out = "<h2>\(html(c[.stageGates]))</h2><p>\(html(c[.stage])): <strong>\(html(c.stageName(stages.text("stage"))))</strong>"
        if let waiting = stages.member("waiting"), waiting != .null {
            out += " · \(html(c[.waitingProposal])): \(html(c.stageName(waiting.text("to")))) (\(html(waiting.text("proposed_by") ?? "")), "
                + "\(html(c.moment(waiting.text("proposed_at")))))"
        }
        out += "</p>"
        let transitions = stages.member("transitions")?.elements ?? []
        if !transitions.isEmpty {
            out += table(caption: c[.stageGates], headers: [c[.stage], c[.proposedBy], c[.decision], c[.decidedBy], c[.reason]],
                         rows: transitions.map { t in
                             ["\(html(c.stageName(t.text("from")))) → \(html(c.stageName(t.text("to"))))",
                              "\(html(t.text("proposed_by") ?? "")) · \(html(c.moment(t.text("proposed_at"))))",
                              html(c.decision(t.text("decision"))),
                              t.text("decided_by").map { "\(html($0)) · \(html(c.moment(t.text("decided_at"))))" } ?? "—",
                              html(t.text("reason") ?? t.text("note") ?? "")]
                         })
        }
        if let variance = stages.member("variance"), variance != .null {
            let caption = "\(c[.varianceAgainst]) \(variance.text("baseline") ?? "")"
            out += "<p>\(html(caption)): \(html(c[.budget])) \(html(c.money(variance.text("budget")))) · "
                + "\(html(c[.finishDays])) \(html(c.number(variance.text("finish_days"))))</p>"
            let lines = (variance.member("lines")?.elements ?? []).filter {
                $0.text("change") != nil || ($0.text("start_days") ?? "0") != "0" || ($0.text("finish_days") ?? "0") != "0"
                    || !["0", nil].contains($0.text("budget"))
            }
            if !lines.isEmpty {
                out += table(caption: caption, headers: [c[.activity], c[.startDays], c[.finishDays], c[.budget], c[.sinceBaseline]],
                             rows: lines.map { l in
                                 [html(l.text("name") ?? ""), html(c.number(l.text("start_days"))), html(c.number(l.text("finish_days"))),
                                  html(c.money(l.text("budget"))), html(c.planChange(l.text("change")))]
                             }, numeric: [1, 2, 3])
            }
        }
        return out
    }

    // MARK: - A project's forecast (on its page)

    /// The completion forecast: the fan chart of the finish date, the P50/P80/P95 finishes and
    /// final costs, and each activity's, with where its rate comes from.
    func forecastSection(_ visit: Visit, code: String) throws -> String {
        let c = visit.catalog
        let answer: JSONValue?
        do {
            answer = try ReadModel.forecasts(node, scope: visit.scope, project: code, asOf: today, settings: ForecastSettings())
        } catch is NodeError {
            return ""   // closed or archived: nothing left to forecast
        }
        guard let forecast = answer?.member("projects")?.elements.first, let p50 = forecast.text("finish_p50").flatMap(CalendarDate.init),
              let p80 = forecast.text("finish_p80").flatMap(CalendarDate.init), let p95 = forecast.text("finish_p95").flatMap(CalendarDate.init)
        else { return "" }
        var out = "<h2>\(html(c[.finishForecast]))</h2>"
        out += Charts.finishFan(asOf: today, planned: forecast.text("planned_finish").flatMap(CalendarDate.init), p50: p50, p80: p80, p95: p95,
                                catalog: c)
        out += "<p>\(html(c[.forecastNote]))</p>"
        if let probability = forecast.text("delay_probability").flatMap(Double.init) {
            let factors = (forecast.member("delay_factors")?.elements ?? []).compactMap { $0.text("feature").map(c.delayFeature) }
                .joined(separator: c.language == .zhCN ? "、" : ", ")
            out += "<p><strong>\(html(c[.delayProbability])): \(html(c.percent(String(probability * 100))))</strong> · "
                + "\(html(c[.movedMostBy])): \(html(factors))</p>"
        }
        let tags = (forecast.member("tags").flatMap { value -> [(String, String)]? in
            guard case .object(let members) = value else { return nil }
            return members.sorted { $0.key < $1.key }.map { ($0.key, $0.value.plainText ?? "") }
        }) ?? []
        if !tags.isEmpty {
            out += "<p>\(html(c[.logTags])): " + tags.map { "\(html(c.tag($0.0))) \(html(c.number($0.1)))" }.joined(separator: " · ") + "</p>"
        }
        out += table(caption: c[.finishForecast], headers: [c[.activity], c[.basis], "P50", "P80", "P95", "EAC P50", "EAC P80"],
                     rows: [["<th scope=\"row\">\(html(c[.project]))</th>", "", html(c.date(p50.description)), html(c.date(p80.description)),
                             html(c.date(p95.description)), html(c.money(forecast.text("eac_p50"))), html(c.money(forecast.text("eac_p80")))]]
                        + (forecast.member("activities")?.elements ?? []).map { a in
                            [html(a.text("name") ?? ""), html(c.basis(a.text("basis"))), html(c.date(a.text("finish_p50"))),
                             html(c.date(a.text("finish_p80"))), html(c.date(a.text("finish_p95"))), html(c.money(a.text("eac_p50"))),
                             html(c.money(a.text("eac_p80")))]
                        }, numeric: [5, 6])
        return out + suggestedWeights(visit, code: code)
    }

    /// The project's suggested KPI weights beside its current ones, with the reason
    /// (docs/design.md §17.3); nothing while its KPIs have too few readings to compare.
    func suggestedWeights(_ visit: Visit, code: String) -> String {
        let c = visit.catalog
        guard let suggestion = try? ReadModel.suggestedWeights(node, scope: visit.scope, project: code),
              let kpis = suggestion.member("kpis")?.elements, !kpis.isEmpty else { return "" }
        return "<h2>\(html(c[.suggestedWeights]))</h2><p>\(html(c[.suggestedWeightsNote]))</p>"
            + table(caption: c[.suggestedWeights], headers: [c[.kpi], c[.currentWeight], c[.suggestedWeight], c[.reason]],
                    rows: kpis.map { k in
                        [html(k.text("name") ?? ""), html(c.number(k.text("current"), places: 3)), html(c.number(k.text("suggested"), places: 3)),
                         html(k.text("reason") ?? "")]
                    }, numeric: [1, 2])
    }

    // MARK: - /goals

    /// The goal tree from the city's objectives down to activities, in the person's scope, 100
    /// rows a page (a city's tree reaches every activity: a hundred thousand rows).
    func goals(_ visit: Visit, period text: String?, department: String?, page: String?) throws -> Response {
        let c = visit.catalog
        let period = try text.flatMap { $0.isEmpty ? nil : $0 }.map { text -> PlanPeriod in
            guard let period = PlanPeriod(text) else { throw Refusal.page(.unprocessableContent, c[.badPeriod]) }
            return period
        }
        let department = department.flatMap { $0.isEmpty ? nil : $0 }
        // The tree reaches every activity of the city: it is read from the figures' snapshot of
        // its date, and its rows kept while the data has not changed.
        let snapshot = try figures.snapshot(asOf: ReadModel.cutOff(of: period, today: today))
        let key = "\(c.language)|\(period?.description ?? "")|\(department ?? "")|\(visit.scope.cacheKey)"
        let tree = try goalTrees.value(key, generation: snapshot.generation) {
            try goalTreeRows(visit, ReadModel.goals(node, scope: visit.scope, department: department, project: nil, period: period,
                                                    today: today, snapshot: snapshot))
        }
        let rows = tree.rows
        var body = periodForm(c, action: "/goals", period: period?.description ?? "")
        body += "<p>\(html(c[.asOf])) \(html(c.date(tree.asOf))) · \(html(c[.goalLegend]))</p>"
        let paging = Paging(asked: page, total: rows.count, path: "/goals", keep: Self.kept(period: text, department: department))
        body += paging.navigation(c)
        body += rows.isEmpty ? "<p>\(html(c[.noneYet]))</p>"
            : table(caption: c[.goalTree], headers: [c[.goal], c[.weight], c[.score], c[.grade], c[.owner], c[.target], c[.actual]],
                    rows: Array(paging.slice(rows)), numeric: [1, 2, 5, 6])
        return htmlResponse(visit.frame.render(title: c[.goalTree], body: body))
    }

    /// The goal tree's rows as the page shows them, depth first, without what a project lead
    /// may not read.
    func goalTreeRows(_ visit: Visit, _ tree: JSONValue) -> GoalTreeRows {
        let c = visit.catalog
        var rows: [[String]] = []
        func walk(_ node: JSONValue, depth: Int) {
            // A project lead reads their projects' goals and work only (the department's
            // objectives above them stay: the lead reads how the department stands).
            if let code = node.text("project"), !visit.scope.includes(projectCode: code, of: node.text("department") ?? "") { return }
            let marker = switch node.text("kind") {
            case "objective": (node.text("department") ?? "").isEmpty ? "◆" : "◇"
            case "goal": "●"
            default: "·"
            }
            let project = node.text("project").map { " [<a href=\"/projects/\(html($0))\">\(html($0))</a>]" } ?? ""
            rows.append(["<th scope=\"row\">\(String(repeating: "— ", count: depth))\(marker) \(html(node.text("title") ?? ""))\(project)</th>",
                         html(c.number(node.text("weight"))), html(c.number(node.text("score"), places: 1)), html(c.grade(node.text("grade"))),
                         html(node.text("owner") ?? "—"), html(c.number(node.text("target"))), html(c.number(node.text("actual")))])
            for child in node.member("children")?.elements ?? [] { walk(child, depth: depth + 1) }
        }
        for root in tree.member("tree")?.elements ?? [] { walk(root, depth: 0) }
        return GoalTreeRows(asOf: tree.text("as_of"), rows: rows)
    }

    /// The query items a planning page's links keep from page to page.
    static func kept(period: String?, department: String?) -> [(String, String)] {
        [("period", period), ("department", department)].compactMap { name, value in value.flatMap { $0.isEmpty ? nil : (name, $0) } }
    }

    /// A small form choosing a period (a year, quarter or month).
    func periodForm(_ c: Catalog, action: String, period: String) -> String {
        """
        <form method="get" action="\(action)" class="noprint"><p><label for="period">\(html(c[.period]))</label>
        <input id="period" name="period" value="\(html(period))" size="10" placeholder="2026-Q4">
        <button type="submit">\(html(c[.show]))</button></p></form>
        """
    }

    // MARK: - /scorecards

    /// Who reads scorecards (they feed bonuses and promotion): HR business partners, the
    /// office, the city's leaders and auditors, and a department's head for their department.
    static func readsScorecards(_ person: Person) -> Bool {
        [.hrbp, .office, .leader, .auditor, .departmentHead].contains(person.role)
    }

    /// The scorecards of a period, 100 a page (the CSV download holds them all).
    func scorecards(_ visit: Visit, period text: String?, department: String?, page: String?, csv: Bool) throws -> Response {
        let c = visit.catalog
        guard let person = visit.person, Self.readsScorecards(person) else { throw Refusal.page(.notFound, c[.notFound]) }
        let quarter = "\(today.year)-Q\((today.month - 1) / 3 + 1)"
        guard let period = PlanPeriod(text.flatMap { $0.isEmpty ? nil : $0 } ?? quarter) else {
            throw Refusal.page(.unprocessableContent, c[.badPeriod])
        }
        let department = department.flatMap { $0.isEmpty ? nil : $0 }
        let snapshot = try figures.snapshot(asOf: ReadModel.cutOff(of: period, today: today))
        let cards = try scorecardLists.value("\(period)|\(department ?? "")|\(visit.scope.cacheKey)", generation: snapshot.generation) {
            let cards = try ReadModel.scorecards(node, scope: visit.scope, department: department, period: period, today: today,
                                                 snapshot: snapshot)
            return ScorecardList(json: cards.json, rows: cards.rows)
        }
        if csv {
            var headers = HTTPFields()
            headers[.contentType] = "text/csv; charset=utf-8"
            headers[.contentDisposition] = "attachment; filename=\"scorecards-\(period.description).csv\""
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: ReportText.csv(cards.rows))))
        }
        let list = cards.json.member("scorecards")?.elements ?? []
        var body = periodForm(c, action: "/scorecards", period: period.description)
        body += "<p>\(html(c[.asOf])) \(html(c.date(cards.json.text("as_of")))) · \(html(c[.scorecardRule])) · "
            + "<a href=\"/scorecards?period=\(html(period.description))&amp;format=csv\" download>\(html(c[.downloadCSV]))</a></p>"
        let paging = Paging(asked: page, total: list.count, path: "/scorecards",
                            keep: Self.kept(period: period.description, department: department))
        body += paging.navigation(c)
        body += list.isEmpty ? "<p>\(html(c[.noneYet]))</p>" : table(
            caption: "\(c[.scorecards]) · \(period.description)",
            headers: [c[.name], c[.department], c[.role], c[.goals], c[.kpis], c[.activities], c[.score], c[.grade], c[.openIssues]],
            rows: paging.slice(list).map { card in
                [html(card.text("name") ?? ""), html(card.text("department") ?? ""), html(c.word(card.text("role"))),
                 html(c.number(card.text("goals"), places: 1)), html(c.number(card.text("kpis"), places: 1)),
                 html(c.number(card.text("activities"), places: 1)), html(c.number(card.text("score"), places: 1)),
                 html(c.grade(card.text("grade"))), html(c.number(card.text("open_issues")))]
            }, numeric: [3, 4, 5, 6, 8])
        return htmlResponse(visit.frame.render(title: c[.scorecards], body: body))
    }

    // MARK: - /suggestions

    func suggestions(_ visit: Visit, page: String?, done: String?) throws -> Response {
        let c = visit.catalog
        guard let person = visit.person else { throw Refusal.signIn }
        let seen = try node.suggestions().filter { visit.scope.includes(department: $0.department) }
        var body = done.map { "<p class=\"message\" role=\"status\">\(html($0 == "answered" ? c[.suggestionAnswered] : c[.suggestionLeft]))</p>" } ?? ""
        if person.writer != nil {
            body += """
                <form method="post" action="/suggestions"><input type="hidden" name="csrf" value="\(html(visit.csrfToken ?? ""))">
                <p><label for="suggestion-text">\(html(c[.leaveSuggestion]))</label><br>
                <textarea id="suggestion-text" name="text" rows="3" cols="60" required maxlength="4000"></textarea></p>
                <p><input type="checkbox" id="suggestion-anonymous" name="anonymous" value="1">
                <label for="suggestion-anonymous">\(html(c[.anonymously]))</label>
                <button type="submit">\(html(c[.send]))</button></p></form>
                """
        }
        let paging = Paging(asked: page, total: seen.count, path: "/suggestions")
        let answers = person.writer?.role.writesPlan == true
        body += paging.navigation(c)
        body += seen.isEmpty ? "<p>\(html(c[.noneYet]))</p>" : table(
            caption: c[.suggestions], headers: [c[.madeOn], c[.department], c[.from], c[.suggestion], c[.status], c[.reply]],
            rows: paging.slice(seen).enumerated().map { number, s in
                let from = s.isAnonymous ? c[.anonymous] : s.from
                var reply = html(s.reply ?? "—")
                if let on = s.answeredOn { reply += "<br><small>\(html(c.date(on))) · \(html(s.answeredBy ?? ""))</small>" }
                if answers && s.status == "open" { reply = answerForm(visit, s, number: number) }
                return [html(c.date(s.madeOn)), html(s.department), html(from), html(s.text), html(c.suggestionStatus(s.status)), reply]
            })
        return htmlResponse(visit.frame.render(title: c[.suggestions], body: body))
    }

    /// The office's answer to one open suggestion: a status and a reply.
    func answerForm(_ visit: Visit, _ s: Suggestion, number: Int) -> String {
        let c = visit.catalog
        let options = Suggestion.answers.map { "<option value=\"\($0)\">\(html(c.suggestionStatus($0)))</option>" }.joined()
        return """
            <form method="post" action="/suggestions/answer"><input type="hidden" name="csrf" value="\(html(visit.csrfToken ?? ""))">
            <input type="hidden" name="id" value="\(html(s.id))">
            <label for="answer-status-\(number)">\(html(c[.status]))</label> <select id="answer-status-\(number)" name="status">\(options)</select>
            <label for="answer-reply-\(number)">\(html(c[.reply]))</label> <input id="answer-reply-\(number)" name="reply" required size="30">
            <button type="submit">\(html(c[.answerIt]))</button></form>
            """
    }

    /// `POST /suggestions`: left as the person's writer identity, scoped to their department
    /// (the hub's for a city-wide person); with `anonymous`, no name and no node stored.
    func leaveSuggestion(_ visit: Visit, _ fields: [String: String]) throws -> Response {
        guard let person = visit.person, let writer = person.writer else { throw Refusal.page(.forbidden, visit.catalog[.noWriter]) }
        let anonymous = fields["anonymous"] == "1"
        // Said here in the page's language (the domain's message names the command's options).
        guard !(fields["text"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw Refusal.page(.unprocessableContent, visit.catalog[.suggestionEmpty])
        }
        _ = try node.addSuggestion(text: fields["text"] ?? "", author: anonymous ? nil : person.name, anonymous: anonymous,
                                   today: today, as: writer)
        return redirect("/suggestions?done=left")
    }

    /// `POST /suggestions/answer`: an office person's answer, named as them.
    func answerSuggestion(_ visit: Visit, _ fields: [String: String]) throws -> Response {
        guard let person = visit.person, let writer = person.writer, writer.role.writesPlan else {
            throw Refusal.page(.forbidden, visit.catalog[.forbidden])
        }
        guard Suggestion.answers.contains(fields["status"] ?? "") else { throw Refusal.page(.unprocessableContent, visit.catalog[.notAnAnswer]) }
        guard !(fields["reply"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw Refusal.page(.unprocessableContent, visit.catalog[.replyEmpty])
        }
        let found = try node.suggestion(fields["id"] ?? "")
        guard visit.scope.includes(department: found.department) else { throw Refusal.page(.notFound, visit.catalog[.notFound]) }
        _ = try node.answerSuggestion(found.id, status: fields["status"] ?? "", reply: fields["reply"] ?? "", today: today, as: writer,
                                      answeredBy: person.name)
        return redirect("/suggestions?done=answered")
    }
}

/// The goal tree page's rows (``DashboardRoutes/goalTreeRows(_:_:)``) and the date they are of.
struct GoalTreeRows: Sendable {
    let asOf: String?
    let rows: [[String]]
}

/// The scorecards of a period in a scope, as JSON and as HR's spreadsheet rows.
struct ScorecardList: Sendable {
    let json: JSONValue
    let rows: [[String]]
}
