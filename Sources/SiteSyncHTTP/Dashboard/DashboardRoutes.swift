import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import ServiceLifecycle
import Synchronization
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// The web dashboard: server-rendered pages for people who read the figures, in Chinese and
/// English, behind a sign-in. Figures come from ``FiguresCache`` (never recomputed per
/// request); every page is cut to the person's ``ReadScope``. Forms that change something carry
/// the session's CSRF token; the session cookie is `HttpOnly` and `SameSite=Strict`.
struct DashboardRoutes {
    static let sessionCookie = "sitesync_session"
    static let languageCookie = "sitesync_lang"

    let node: Node
    let figures: FiguresCache
    /// The hub's language (`[dashboard] language`) when the browser names neither.
    let defaultLanguage: Language
    /// Cookies are marked `Secure` when the server answers HTTPS.
    let secure: Bool
    let reviews = ReviewCache()

    var today: CalendarDate { CalendarDate(unixMilliseconds: node.store.wallClock()) }

    func add(to router: Router<APIContext>) {
        router.add(middleware: PageNotFound(routes: self))
        router.get("login") { request, _ in try await answer(request, needsSession: false) { try loginPage($0, refusal: nil) } }
        router.post("login") { request, context in
            try await answer(request, needsSession: false) { try await signIn(request, $0, client: context.client) }
        }
        router.post("logout") { request, _ in
            try await answer(request) { visit in
                _ = try await form(request, visit)
                if let secret = visit.sessionSecret { try await offPool { [node] in try Sessions.signOut(node, sessionSecret: secret) } }
                var response = redirect("/login")
                response.headers.append(HTTPField(name: .setCookie, value: cookie(Self.sessionCookie, "", maxAge: 0, httpOnly: true)))
                return response
            }
        }
        router.get("/") { request, _ in try await answer(request) { visit in try await offPool { try overview(visit) } } }
        router.get("departments/{code}") { request, context in
            let code = try context.parameters.require("code")
            let (page, color) = (request.uri.queryParameters["page"].map(String.init), request.uri.queryParameters["color"].map(String.init))
            return try await answer(request) { visit in try await offPool { try department(visit, code: code, page: page, color: color) } }
        }
        router.get("projects/{code}") { request, context in
            let code = try context.parameters.require("code")
            return try await answer(request) { visit in try await offPool { try project(visit, code: code) } }
        }
        router.get("fleet") { request, _ in try await answer(request) { visit in try await offPool { try fleet(visit) } } }
        router.get("conflicts") { request, _ in
            let done = request.uri.queryParameters["done"] != nil
            return try await answer(request) { visit in try await offPool { try conflicts(visit, resolved: done) } }
        }
        router.post("conflicts/resolve") { request, _ in
            try await answer(request) { visit in
                let fields = try await form(request, visit)
                return try await offPool { try resolve(visit, fields) }
            }
        }
        router.get("reports/monthly/{period}") { request, context in
            let period = try context.parameters.require("period")
            let page = request.uri.queryParameters["page"].map(String.init)
            return try await answer(request) { visit in try await offPool { try monthly(visit, period: period, page: page) } }
        }
        router.get("events") { request, _ in try await answer(request) { _ in events() } }
        router.get("static/dashboard.js") { _, _ in script() }
        addAudit(to: router)
        addPlanning(to: router)
    }

    // MARK: - One visit

    /// What every page knows of the request: the language, the person signed in (if any) and
    /// the path, for the language switch.
    struct Visit: Sendable {
        let catalog: Catalog
        /// The language was chosen by `?lang=` now: the answer sets the cookie.
        let chosenNow: Bool
        let path: String
        let person: Person?
        let csrfToken: String?
        let sessionSecret: String?

        var scope: ReadScope { person?.scope ?? ReadScope(department: "\u{0}none") }
        var frame: PageFrame { PageFrame(catalog: catalog, path: path, person: person, csrfToken: csrfToken) }
    }

    /// Why a page is not shown: a redirect to the sign-in, or an error page with a status.
    enum Refusal: Error {
        case signIn
        case page(HTTPResponse.Status, String)
    }

    /// Builds the visit, then the page; a refusal becomes its page, any other error an error page
    /// in the visitor's language (its detail in the log only when unexpected).
    func answer(_ request: Request, needsSession: Bool = true, _ page: @escaping @Sendable (Visit) async throws -> Response) async throws -> Response {
        let cookies = Self.cookies(request)
        let (language, chosenNow) = language(request, cookies: cookies)
        let catalog = Catalog(language: language)
        var person: Person?, csrf: String?
        let secret = cookies[Self.sessionCookie].flatMap { $0.isEmpty ? nil : $0 }
        if let secret, let session = try await offPool({ [node] in try Sessions.authenticate(node, sessionSecret: secret) }) {
            (person, csrf) = (session.person, session.csrfToken)
        }
        let visit = Visit(catalog: catalog, chosenNow: chosenNow, path: request.uri.path, person: person, csrfToken: csrf,
                          sessionSecret: person == nil ? nil : secret)
        var response: Response
        do {
            if needsSession && person == nil { throw Refusal.signIn }
            response = try await page(visit)
        } catch Refusal.signIn {
            response = redirect("/login")
        } catch Refusal.page(let status, let message) {
            response = errorPage(visit, status: status, message: message)
        } catch let problem as Problem {
            response = errorPage(visit, status: problem.kind.status, message: "\(catalog[.refusedBecause]) \(problem.detail)")
        } catch {
            if let problem = Problem(domain: error) {
                // The domain says why in English: the page says in its own language that it was refused.
                response = errorPage(visit, status: problem.kind.status, message: "\(catalog[.refusedBecause]) \(problem.detail)")
            } else {
                response = errorPage(visit, status: .internalServerError, message: "\(error)")
            }
        }
        if chosenNow {
            response.headers.append(HTTPField(name: .setCookie, value: cookie(Self.languageCookie, language.rawValue, maxAge: 31_536_000, httpOnly: false)))
        }
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("Referrer-Policy")!] = "same-origin"
        response.headers[.init("Content-Security-Policy")!] = PageSecurity.policy
        return response
    }

    /// `?lang=` (remembered in a cookie), else the cookie, else `Accept-Language`, else the hub's.
    func language(_ request: Request, cookies: [String: String]) -> (Language, chosenNow: Bool) {
        if let asked = request.uri.queryParameters["lang"].flatMap({ Language(tag: String($0)) }) { return (asked, true) }
        if let remembered = cookies[Self.languageCookie].flatMap(Language.init(tag:)) { return (remembered, false) }
        return (Language.preferred(acceptLanguage: request.headers[.acceptLanguage]) ?? defaultLanguage, false)
    }

    static func cookies(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let name = parts[0].trimmingCharacters(in: .whitespaces)
                if out[name] == nil { out[name] = parts[1].trimmingCharacters(in: .whitespaces) }
            }
        }
        return out
    }

    func cookie(_ name: String, _ value: String, maxAge: Int?, httpOnly: Bool) -> String {
        var text = "\(name)=\(value); Path=/; SameSite=Strict"
        if let maxAge { text += "; Max-Age=\(maxAge)" }
        if httpOnly { text += "; HttpOnly" }
        if secure { text += "; Secure" }
        return text
    }

    func redirect(_ location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }

    func htmlResponse(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.vary] = "Cookie, Accept-Language"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func errorPage(_ visit: Visit, status: HTTPResponse.Status, message: String) -> Response {
        let body = "<p class=\"message error\" role=\"alert\">\(html(message))</p><p><a href=\"/\">\(html(visit.catalog[.back]))</a></p>"
        return htmlResponse(visit.frame.render(title: visit.catalog.statusTitle(status.code), body: body), status: status)
    }

    // MARK: - Forms

    /// The fields of a posted form (`application/x-www-form-urlencoded`), after its `csrf`
    /// field is checked against the session's token: 403 when missing or different.
    func form(_ request: Request, _ visit: Visit) async throws -> [String: String] {
        let fields = try await Self.formFields(request)
        guard let expected = visit.csrfToken, let given = fields["csrf"], Self.same(given, expected) else {
            throw Refusal.page(.forbidden, visit.catalog[.csrfRefused])
        }
        return fields
    }

    static func formFields(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        let body = String(buffer: buffer)
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
            guard let name = parts.first else { continue }
            fields[decode(name)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    /// Compares in time independent of where the texts differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    // MARK: - Signing in

    /// The sign-in form, under the message saying why the last try was refused (`refusal`).
    func loginPage(_ visit: Visit, refusal: Catalog.Key?) throws -> Response {
        let c = visit.catalog
        let message = refusal.map { "<p class=\"message error\" role=\"alert\">\(html(c[$0]))</p>" } ?? ""
        let body = """
            \(message)<form method="post" action="/login">
            <p><label for="name">\(html(c[.name]))</label><br><input id="name" name="name" autocomplete="username" required autofocus></p>
            <p><label for="password">\(html(c[.password]))</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
            <p><button type="submit">\(html(c[.signIn]))</button></p></form>
            """
        return htmlResponse(PageFrame(catalog: c, path: "/login", person: nil, csrfToken: nil).render(title: c[.signInTitle], body: body),
                            status: refusal == nil ? .ok : .unauthorized)
    }

    /// `POST /login`: the first form has no CSRF token (there is no session yet); the cookie it
    /// sets is `SameSite=Strict`, so no other site's form can use the session it opens.
    func signIn(_ request: Request, _ visit: Visit, client: String) async throws -> Response {
        guard !Self.postedFromAnotherSite(request) else { throw Refusal.page(.forbidden, visit.catalog[.crossSiteSignIn]) }
        let fields = try await Self.formFields(request)
        let name = fields["name"] ?? "", password = fields["password"] ?? ""
        let session: (sessionSecret: String, csrfToken: String, person: Person)
        do {
            session = try await offPool { [node] in try Sessions.signIn(node, name: name, password: password, client: client) }
        } catch let refusal as SignInRefusal where refusal.code == .tooManyAttempts {
            // Too many failures for this name or this address: refused, right password or not.
            var response = try loginPage(visit, refusal: .tooManyAttempts)
            response.status = .tooManyRequests
            if let seconds = refusal.retryAfterSeconds { response.headers[.retryAfter] = String(seconds) }
            return response
        } catch {
            return try loginPage(visit, refusal: .signInFailed)
        }
        var response = redirect("/")
        response.headers.append(HTTPField(name: .setCookie, value: cookie(Self.sessionCookie, session.sessionSecret, maxAge: nil, httpOnly: true)))
        return response
    }

    /// Whether a browser says the form was posted from another site: the sign-in form carries no
    /// CSRF token (there is no session yet), so a page elsewhere could otherwise sign a visitor
    /// in as someone else (login CSRF). `Sec-Fetch-Site` when the browser sends it (every
    /// current one does); else an `Origin` naming another host than the request's. A client
    /// that sends neither (curl, a script) is not a browser on another site's page.
    static func postedFromAnotherSite(_ request: Request) -> Bool {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!]?.lowercased() {
            return site != "same-origin" && site != "none"
        }
        guard let origin = request.headers[.origin] else { return false }
        guard let host = URL(string: origin)?.host(percentEncoded: false), let authority = request.head.authority else { return true }
        let port = URL(string: origin)?.port.map { ":\($0)" } ?? ""
        let named = host.contains(":") ? "[\(host)]" : host   // an IPv6 address, as a Host header writes it
        return (named + port).lowercased() != authority.lowercased()
    }

    // MARK: - Resolving a conflict

    /// `POST /conflicts/resolve`: the person's value for the field, written as an ordinary write
    /// whose context covers the concurrent values (as `sitesync resolve`), authorized as the
    /// person's writer identity; a person without one may not write (403).
    func resolve(_ visit: Visit, _ fields: [String: String]) throws -> Response {
        guard let person = visit.person, let writer = person.writer else { throw Refusal.page(.forbidden, visit.catalog[.noWriter]) }
        guard let collection = fields["collection"], let id = fields["id"], let field = fields["field"], let value = fields["value"],
              !collection.isEmpty, !id.isEmpty, !field.isEmpty else {
            throw Refusal.page(.unprocessableContent, visit.catalog[.formIncomplete])
        }
        // Only a conflict the person can see is theirs to settle.
        let visible = try ReadModel.conflicts(node, scope: person.scope).elements.contains {
            $0.text("collection") == collection && $0.text("id") == id && $0.text("field") == field
        }
        guard visible else { throw Refusal.page(.notFound, visit.catalog[.notFound]) }
        // A project lead settles conflicts on their own projects only.
        if let codes = person.projects {
            let theirs = try codes.contains { code in try node.recordIDs(ofProject: try node.findProject(code).id).contains(id) }
            guard theirs else { throw Refusal.page(.forbidden, visit.catalog[.noWriter]) }
        }
        let planner = LocalWritePlanner(schema: node.store.schema, writer: writer)
        _ = try node.store.write { reader in
            try planner.planResolve(collection: collection, id: id, field: field, input: .text(value), reader: reader)
        }
        return redirect("/conflicts?done=1")
    }

    /// `GET /static/dashboard.js`: the pages' one script, the same for everyone (no session needed).
    func script() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/javascript; charset=utf-8"
        headers[.cacheControl] = "public, max-age=300"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: PageSecurity.script)))
    }

    // MARK: - Live updates

    /// `GET /events`: Server-Sent Events, one `figures` event each time the figures' generation
    /// changes (polled every 300 ms), a comment every 5 s to keep proxies from closing the
    /// stream and to notice a browser that left. It ends when the server shuts down. A stream ends after 10 minutes (the browser reconnects by itself, after `retry`),
    /// so it never holds a server's shutdown for long.
    ///
    /// The generation watched is that of the figures a page would be given now, not the data's:
    /// while the background refresh computes, the cache serves the figures from before the
    /// change, and a page that reloaded on the data's generation would show those and hear of
    /// no later change (the browser tests saw the overview miss a site's sync that way).
    func events() -> Response {
        let figures = figures, node = node
        let shown: @Sendable () async throws -> UInt64 = {
            try await offPool { try figures.snapshot(asOf: CalendarDate(unixMilliseconds: node.store.wallClock())).generation }
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        let body = ResponseBody { writer in
            var seen = try await shown()
            try await writer.write(ByteBuffer(string: "retry: 1000\n: generation \(seen)\n\n"))
            let started = ContinuousClock.now
            var lastWrite = started
            while !Task.isCancelled, !Task.isShuttingDownGracefully, ContinuousClock.now - started < .seconds(600) {
                try await Task.sleep(for: .milliseconds(300))
                let generation = try await shown()
                if generation != seen {
                    seen = generation
                    try await writer.write(ByteBuffer(string: "event: figures\ndata: \(generation)\n\n"))
                    lastWrite = .now
                } else if ContinuousClock.now - lastWrite > .seconds(5) {
                    try await writer.write(ByteBuffer(string: ": still here\n\n"))
                    lastWrite = .now
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

/// The monthly review's JSON by month and scope, kept while the data has not changed: the
/// overview's S-curve comes from it, and gathering a review reads the whole month.
final class ReviewCache: Sendable {
    private let held = Mutex<[String: (generation: UInt64, review: JSONValue)]>([:])

    func review(_ key: String, generation: UInt64, compute: () throws -> JSONValue) throws -> JSONValue {
        if let entry = held.withLock({ $0[key] }), entry.generation == generation { return entry.review }
        let review = try compute()
        held.withLock { held in
            if held.count >= 32 { held.removeAll() }
            held[key] = (generation, review)
        }
        return review
    }
}

/// A browser that asks for a page at no path of the server (a mistyped address, an old
/// bookmark) gets the dashboard's "not found" page in its language, not the API's problem
/// document. Only a request for HTML outside `/api/` is a browser's: the API's clients get the
/// problem as before (``ProblemMiddleware``). The router sends an unknown path through its
/// middleware, so this sees the router's own "not found".
struct PageNotFound: RouterMiddleware {
    let routes: DashboardRoutes

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError where error.status == .notFound && Self.isPageRequest(request) {
            return try await routes.answer(request, needsSession: false) { visit in
                throw DashboardRoutes.Refusal.page(.notFound, visit.catalog[.notFound])
            }
        }
    }

    static func isPageRequest(_ request: Request) -> Bool {
        request.method == .get && !request.uri.path.hasPrefix("/api/") && (request.headers[.accept] ?? "").contains("text/html")
    }
}
