import Foundation
import Hummingbird
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncStore

/// The auditor's pages under `/audit`: sign-ins, the API's write log, refused changes, the
/// conflicts (resolved and open) and one record's change history. Each is a real table,
/// newest first, ``pageSize`` rows a page (`?page=`). Only a person who may view the audit
/// (``Person/mayViewAudit``) sees them; for anyone else they do not exist (404), as a page out
/// of their scope does not.
extension DashboardRoutes {
    static let auditPageSize = Paging.size

    func addAudit(to router: Router<APIContext>) {
        let pages: [(path: String, page: @Sendable (DashboardRoutes, Visit, Request) throws -> Response)] = [
            ("audit", { routes, visit, _ in try routes.auditIndex(visit) }),
            ("audit/sign-ins", { routes, visit, request in try routes.auditSignIns(visit, page: Self.pageNumber(request)) }),
            ("audit/api", { routes, visit, request in try routes.auditAPI(visit, page: Self.pageNumber(request)) }),
            ("audit/rejections", { routes, visit, request in try routes.auditRejections(visit, page: Self.pageNumber(request)) }),
            ("audit/conflicts", { routes, visit, request in try routes.auditConflicts(visit, page: Self.pageNumber(request)) }),
            ("audit/records", { routes, visit, request in
                let query = request.uri.queryParameters
                return try routes.auditRecord(visit, collection: query["collection"].map(String.init) ?? "",
                                              id: query["id"].map(String.init) ?? "", page: Self.pageNumber(request))
            }),
        ]
        for (path, page) in pages {
            router.get(RouterPath(stringLiteral: path)) { request, _ in
                try await answer(request) { visit in
                    guard visit.person?.mayViewAudit == true else { throw Refusal.page(.notFound, visit.catalog[.notFound]) }
                    return try await offPool { try page(self, visit, request) }
                }
            }
        }
    }

    /// `?page=N` (1 when missing or not a positive number).
    static func pageNumber(_ request: Request) -> Int {
        max(1, request.uri.queryParameters["page"].flatMap { Int(String($0)) } ?? 1)
    }

    // MARK: - /audit

    func auditIndex(_ visit: Visit) throws -> Response {
        let c = visit.catalog
        let links: [(String, Catalog.Key)] = [("/audit/sign-ins", .signIns), ("/audit/api", .apiLog), ("/audit/rejections", .rejections),
                                              ("/audit/conflicts", .conflictHistory)]
        let body = "<p>\(html(c[.auditIntro]))</p><ul>" + links.map { "<li><a href=\"\($0.0)\">\(html(c[$0.1]))</a></li>" }.joined()
            + "</ul><h2>\(html(c[.recordHistory]))</h2>" + recordForm(c, collection: "", id: "")
        return htmlResponse(visit.frame.render(title: c[.audit], body: body))
    }

    // MARK: - /audit/sign-ins

    func auditSignIns(_ visit: Visit, page: Int) throws -> Response {
        let c = visit.catalog
        // Who signed in last first; those who never did after them, newest account first.
        let people = try People.list(node).sorted {
            ($0.lastSignInMilliseconds ?? 0, $0.createdMilliseconds) > ($1.lastSignInMilliseconds ?? 0, $1.createdMilliseconds)
        }
        let sessions = try People.sessions(node).sorted { $0.createdMilliseconds > $1.createdMilliseconds }
        let (shown, pager) = paged(people, page: page, path: visit.path, c)
        var body = "<p>\(html(c[.signInsNote]))</p>"
        body += table(caption: c[.people], headers: [c[.name], c[.role], c[.department], c[.projects], c[.lastSignIn], c[.created],
                                                    c[.passwordChanged], c[.disabled]],
                      rows: shown.map { p in
                          ["<th scope=\"row\">\(html(p.name))</th>", html(c.word(p.role.rawValue)), html(p.department ?? "—"),
                           html(p.projects.map { $0.sorted().joined(separator: ", ") } ?? "—"),
                           html(p.lastSignInMilliseconds.map { moment($0, c) } ?? c[.never]), html(moment(p.createdMilliseconds, c)),
                           html(moment(p.passwordChangedMilliseconds, c)), html(p.disabledMilliseconds.map { moment($0, c) } ?? "—")]
                      }) + pager
        body += table(caption: c[.liveSessions], headers: [c[.name], c[.from], c[.signedInAt], c[.lastUsed], c[.endsBy]],
                      rows: sessions.prefix(Self.auditPageSize).map { s in
                          [html(s.person), html(s.client), html(moment(s.createdMilliseconds, c)), html(moment(s.lastSeenMilliseconds, c)),
                           html(moment(s.expiresMilliseconds, c))]
                      })
        return htmlResponse(visit.frame.render(title: c[.signIns], body: body))
    }

    // MARK: - /audit/api

    func auditAPI(_ visit: Visit, page: Int) throws -> Response {
        let c = visit.catalog
        let requests = try node.store.apiRequests().sorted { $0.atMilliseconds > $1.atMilliseconds }
        let (shown, pager) = paged(requests, page: page, path: visit.path, c)
        let body = "<p>\(html(c[.apiLogNote]))</p>"
            + table(caption: c[.apiLog], headers: [c[.at], c[.token], c[.statusCode], c[.changeCount], c[.idempotencyKey]],
                    rows: shown.map { r in
                        [html(moment(r.atMilliseconds, c)), html(r.token), html(String(r.status)), html(c.number(String(r.changes.count))),
                         html(r.idempotencyKey ?? "—")]
                    }, numeric: [2, 3]) + pager
        return htmlResponse(visit.frame.render(title: c[.apiLog], body: body))
    }

    // MARK: - /audit/rejections

    func auditRejections(_ visit: Visit, page: Int) throws -> Response {
        let c = visit.catalog
        let names = try node.store.replicaNames()
        let refused = try node.store.rejectedChanges().sorted { $0.rejectedMilliseconds > $1.rejectedMilliseconds }
        let (shown, pager) = paged(refused, page: page, path: visit.path, c)
        let body = table(caption: c[.rejections], headers: [c[.at], c[.record], c[.origin], c[.refusedBy], c[.refusalCode], c[.reason]],
                         rows: shown.map { r in
                             [html(moment(r.rejectedMilliseconds, c)), recordLink(r.collection, r.recordID),
                              html(origin(r.dot.replica, names) + " #\(r.dot.counter)"), html(r.refusedBy), html("\(r.code)"), html(r.reason)]
                         }) + pager
        return htmlResponse(visit.frame.render(title: c[.rejections], body: body))
    }

    // MARK: - /audit/conflicts

    func auditConflicts(_ visit: Visit, page: Int) throws -> Response {
        let c = visit.catalog
        let names = try node.store.replicaNames()
        let conflicts = try node.store.conflicts()  // newest first
        let (shown, pager) = paged(conflicts, page: page, path: visit.path, c)
        let body = table(caption: c[.conflictHistory],
                         headers: [c[.detectedAt], c[.record], c[.field], c[.rule], c[.status], c[.stillSideBySide], c[.values], c[.settledAt],
                                   c[.settledBy]],
                         rows: shown.map { e in
                             let values = e.versions.map { v in
                                 "\(html(v.value.plainText ?? "—")) — \(html(origin(v.origin, names))), \(html(moment(v.atMilliseconds, c)))"
                             }.joined(separator: "<br>")
                             return [html(moment(e.detectedMilliseconds, c)), recordLink(e.collection, e.recordID), html(e.field), html(e.rule),
                                     html(e.status), html(e.isActive ? c[.yes] : c[.no]), values.isEmpty ? "—" : values,
                                     html(e.settledMilliseconds.map { moment($0, c) } ?? "—"), html(e.settledBy ?? "—")]
                         }) + pager
        return htmlResponse(visit.frame.render(title: c[.conflictHistory], body: body))
    }

    // MARK: - /audit/records?collection=&id=

    func auditRecord(_ visit: Visit, collection: String, id: String, page: Int) throws -> Response {
        let c = visit.catalog
        var body = "<p>\(html(c[.recordHistoryHelp]))</p>" + recordForm(c, collection: collection, id: id)
        guard !collection.isEmpty, !id.isEmpty else { return htmlResponse(visit.frame.render(title: c[.recordHistory], body: body)) }
        guard let changes = try node.store.recordChanges(collection: collection, id: id) else {
            throw Refusal.page(.notFound, c[.notFound])
        }
        let names = try node.store.replicaNames()
        let (shown, pager) = paged(changes, page: page, path: visit.path, keep: [("collection", collection), ("id", id)], c)
        body += table(caption: "\(c[.recordHistory]): \(collection) \(id)",
                      headers: [c[.writtenAt], c[.writtenBy], c[.logPosition], c[.status], c[.change]],
                      rows: shown.map { change in
                          let what = change.isDelete ? html(c[.deleted])
                              : change.fields.map { "\(html($0.name)) = \(html($0.value))" }.joined(separator: "<br>")
                          return [html(moment(change.writtenMilliseconds, c)), html(origin(change.dot.replica, names) + " #\(change.dot.counter)"),
                                  html(String(change.sequence)), html(change.inForce ? c[.inForce] : c[.notInForce]), what]
                      }, numeric: [2]) + pager
        return htmlResponse(visit.frame.render(title: "\(c[.recordHistory]): \(collection) \(id)", body: body))
    }

    // MARK: - Parts

    /// The form that asks for a record's history (a GET: it changes nothing).
    func recordForm(_ c: Catalog, collection: String, id: String) -> String {
        let options = node.store.schema.collections.map { spec in
            "<option\(spec.name == collection ? " selected" : "")>\(html(spec.name))</option>"
        }.joined()
        return """
            <form method="get" action="/audit/records"><p>
            <label for="audit-collection">\(html(c[.collection]))</label> <select id="audit-collection" name="collection">\(options)</select>
            <label for="audit-id">\(html(c[.record]))</label> <input id="audit-id" name="id" value="\(html(id))" required>
            <button type="submit">\(html(c[.show]))</button></p></form>
            """
    }

    func recordLink(_ collection: String, _ id: String) -> String {
        let query = "collection=\(Self.queryEscaped(collection))&id=\(Self.queryEscaped(id))"
        return "<a href=\"/audit/records?\(html(query))\">\(html(collection)) \(html(id))</a>"
    }

    static func queryEscaped(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? text
    }

    func origin(_ replica: ReplicaID, _ names: [ReplicaID: String]) -> String {
        names[replica].map { "\($0) (\(replica))" } ?? "\(replica)"
    }

    func moment(_ milliseconds: UInt64, _ c: Catalog) -> String {
        c.moment(SyncFactsJSON.timestamp(milliseconds: milliseconds))
    }

    /// Page `page` of `items` (``Paging/size`` a page) and the links to the others, keeping
    /// `keep` in their query.
    func paged<T>(_ items: [T], page: Int, path: String, keep: [(String, String)] = [], _ c: Catalog) -> (ArraySlice<T>, String) {
        let paging = Paging(asked: String(page), total: items.count, path: path, keep: keep)
        return (paging.slice(items), paging.navigation(c))
    }
}
