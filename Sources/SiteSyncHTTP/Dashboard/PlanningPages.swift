import Foundation
import Hummingbird
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// The planning pages: the template library (模板库) and the suggestion box (意见箱).
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
        _ = try node.addSuggestion(text: fields["text"] ?? "", author: anonymous ? nil : person.name, anonymous: anonymous,
                                   today: today, as: writer)
        return redirect("/suggestions?done=left")
    }

    /// `POST /suggestions/answer`: an office person's answer, named as them.
    func answerSuggestion(_ visit: Visit, _ fields: [String: String]) throws -> Response {
        guard let person = visit.person, let writer = person.writer, writer.role.writesPlan else {
            throw Refusal.page(.forbidden, visit.catalog[.forbidden])
        }
        let found = try node.suggestion(fields["id"] ?? "")
        guard visit.scope.includes(department: found.department) else { throw Refusal.page(.notFound, visit.catalog[.notFound]) }
        _ = try node.answerSuggestion(found.id, status: fields["status"] ?? "", reply: fields["reply"] ?? "", today: today, as: writer,
                                      answeredBy: person.name)
        return redirect("/suggestions?done=answered")
    }
}
