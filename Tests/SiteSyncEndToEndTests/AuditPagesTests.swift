import Foundation
import Testing

/// The dashboard's role-specific parts through the built binary: a project lead reads only
/// their projects (pages, lists, conflicts), the auditor's `/audit` views exist for the auditor
/// alone and show the logs newest first, and every page carries the Content-Security-Policy
/// with no inline script or event handler.
@Suite(.serialized) struct AuditPagesTests {
    typealias Browser = DashboardTests.Browser

    /// ``DashboardTests/fixture()`` with a second roads project (R-002, activity a3), a project
    /// lead of R-001 (`r1-lead`) and an auditor (`auditor-1`).
    static func fixture() throws -> HTTPAPITests.Fixture {
        let f = try DashboardTests.fixture()
        try f.cli.ok("record", "import", "--data-dir", "office", "-", stdin: """
            {"collection": "project", "id": "p3", "fields": {"code": "R-002", "name": "Bridge deck", "department": "roads"}}
            {"collection": "activity", "id": "a3", "fields": {"project": "p3", "name": "Deck pour"}}
            """)
        for node in ["office", "r1"] { try f.cli.ok("sync", "--data-dir", node) }
        let people: [[String]] = [["r1-lead", "--role", "project_lead", "--department", "roads", "--project", "R-001"],
                                  ["auditor-1", "--role", "auditor"]]
        for person in people {
            let added = try f.cli.run(["user", "add", "--data-dir", "hub", "--name"] + person, stdin: DashboardTests.password + "\n")
            try #require(added.status == 0, "user add \(person[0]): \(added.stderr)")
        }
        return f
    }

    /// Open conflicts at the hub on a2 (of R-001) and a3 (of R-002).
    static func conflicts(_ f: HTTPAPITests.Fixture) throws {
        for id in ["a2", "a3"] {
            try f.cli.ok("record", "put", "--data-dir", "office", "activity", id, "remarks=office: \(id) done")
            try f.cli.ok("record", "put", "--data-dir", "r1", "activity", id, "remarks=site: \(id) half done")
        }
        for node in ["r1", "office"] { try f.cli.ok("sync", "--data-dir", node) }
    }

    /// Waits until the page at `path` contains `text` (the figures refresh in the background).
    static func eventually(_ browser: Browser, _ path: String, contains text: String) throws -> HTTPAnswer {
        var page = try browser.get(path)
        for _ in 0..<40 where !page.text.contains(text) {
            Thread.sleep(forTimeInterval: 0.25)
            page = try browser.get(path)
        }
        return page
    }

    @Test func aProjectLeadSeesOnlyTheirProjects() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        try Self.conflicts(f)
        let head = Browser(url: f.url)
        try head.signIn("roads-head")
        // The department head sees both roads projects and both conflicts (the control).
        #expect(try Self.eventually(head, "/departments/roads?lang=en", contains: "/projects/R-002").text.contains("/projects/R-001"))
        let headQueue = try Self.eventually(head, "/conflicts?lang=en", contains: "activity a3")
        #expect(headQueue.text.contains("activity a2") && headQueue.text.contains("activity a3"), "\(headQueue.text)")

        let lead = Browser(url: f.url)
        try lead.signIn("r1-lead")
        #expect(try lead.get("/projects/R-001").status == 200)
        #expect(try lead.get("/projects/R-002").status == 404)
        #expect(try lead.get("/projects/r-002").status == 404)
        #expect(try lead.get("/projects/p3").status == 404)
        #expect(try lead.get("/projects/W-001").status == 404)
        let department = try lead.get("/departments/roads?lang=en")
        #expect(department.status == 200 && department.text.contains("/projects/R-001") && !department.text.contains("R-002"), "\(department.text)")
        #expect(!(try lead.get("/?lang=en").text.contains("R-002")))
        #expect(!(try lead.get("/reports/monthly/2026-11?lang=en").text.contains("R-002")))
        let queue = try lead.get("/conflicts?lang=en")
        #expect(queue.text.contains("activity a2") && !queue.text.contains("activity a3") && !queue.text.contains("a3 half done"), "\(queue.text)")
        // Nor can the lead settle the other project's conflict by posting the form.
        let refused = try lead.post("/conflicts/resolve", form: [("collection", "activity"), ("id", "a3"), ("field", "remarks"),
                                                                 ("value", "lead was here"), ("csrf", try lead.csrf(from: queue))])
        #expect(refused.status == 404, "\(refused.status)")
        #expect(try !f.cli.ok("record", "get", "--data-dir", "hub", "activity", "a3").contains("lead was here"))
    }

    /// The goal tree keeps to a project lead's projects too: their project's goal and work,
    /// not the other roads project's.
    @Test func aProjectLeadsGoalTreeIsTheirProjectsOnly() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        try f.cli.ok("record", "import", "--data-dir", "office", "-", stdin: """
            {"collection": "goal", "id": "g1", "fields": {"project": "p1", "title": "Ring road open", "weight": "1"}}
            {"collection": "goal", "id": "g3", "fields": {"project": "p3", "title": "Bridge deck poured", "weight": "1"}}
            """)
        try f.cli.ok("record", "put", "--data-dir", "office", "activity", "a3", "goal=g3")
        try f.cli.ok("sync", "--data-dir", "office")
        let head = Browser(url: f.url)
        try head.signIn("roads-head")
        let all = try head.get("/goals?lang=en")
        #expect(all.text.contains("Ring road open") && all.text.contains("Bridge deck poured") && all.text.contains("Deck pour"), "the control")
        let lead = Browser(url: f.url)
        try lead.signIn("r1-lead")
        let theirs = try lead.get("/goals?lang=en")
        #expect(theirs.status == 200 && theirs.text.contains("Ring road open"), "\(theirs.status)")
        #expect(!theirs.text.contains("Bridge deck poured") && !theirs.text.contains("Deck pour") && !theirs.text.contains("R-002"),
                "\(theirs.text)")
    }

    @Test func theAuditViewsAreTheAuditorsAloneAndListTheLogsNewestFirst() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        try Self.conflicts(f)
        let token = try f.token("--name", "finance", "--role", "office")
        #expect(try f.post("/api/v1/costs", token: token, json: #"{"activity": "R-001/Kerbs", "amount": "120.50", "date": "2026-11-03"}"#).status == 201)
        // office-staff settles a2 through the queue.
        let office = Browser(url: f.url)
        try office.signIn()
        let queue = try Self.eventually(office, "/conflicts", contains: "a2")
        let resolved = try office.post("/conflicts/resolve", form: [("collection", "activity"), ("id", "a2"), ("field", "remarks"),
                                                                    ("value", "a2 done, both sides"), ("csrf", try office.csrf(from: queue))])
        #expect(resolved.status == 303)
        let head = Browser(url: f.url)
        try head.signIn("roads-head")
        Thread.sleep(forTimeInterval: 0.01)
        let auditor = Browser(url: f.url)
        try auditor.signIn("auditor-1")

        // Nobody else has the views, nor the link to them.
        for (browser, name) in [(office, "office"), (head, "department head")] {
            for path in ["/audit", "/audit/sign-ins", "/audit/api", "/audit/rejections", "/audit/conflicts", "/audit/records?collection=activity&id=a2"] {
                #expect(try browser.get(path).status == 404, "\(name) \(path)")
            }
            #expect(!(try browser.get("/").text.contains(#"href="/audit""#)), "\(name)")
        }
        #expect(try auditor.get("/").text.contains(#"href="/audit""#))
        let index = try auditor.get("/audit?lang=en")
        #expect(index.status == 200 && index.text.contains("/audit/sign-ins") && index.text.contains("/audit/records"), "\(index.text)")
        #expect(try auditor.get("/audit?lang=zh-CN").text.contains("登录记录"))

        // Sign-ins: who signed in last first; the live sessions beside.
        let signIns = try auditor.get("/audit/sign-ins?lang=en")
        let people = try #require(signIns.text.range(of: "<caption>People</caption>")?.upperBound)
        let rows = String(signIns.text[people...])
        let (auditorRow, headRow, leadRow) = (rows.range(of: ">auditor-1<"), rows.range(of: ">roads-head<"), rows.range(of: ">r1-lead<"))
        #expect(auditorRow != nil && headRow != nil && leadRow != nil, "\(signIns.text)")
        if let auditorRow, let headRow, let leadRow {
            #expect(auditorRow.lowerBound < headRow.lowerBound && headRow.lowerBound < leadRow.lowerBound, "not newest first")
        }
        #expect(signIns.text.contains("Live sessions") && signIns.text.contains("127.0.0.1"), "\(signIns.text)")
        #expect(leadRow.map { rows[$0.upperBound...].prefix(600).contains("never") } == true)

        // The API's write log: the token, its status, its one change.
        let api = try auditor.get("/audit/api?lang=en")
        #expect(api.text.contains("<td>finance</td>") && api.text.contains(">201<"), "\(api.text)")

        // Conflicts, resolved and open, each linking to its record's history.
        let conflicts = try auditor.get("/audit/conflicts?lang=en")
        #expect(conflicts.text.contains("resolved") && conflicts.text.contains("open") && conflicts.text.contains("site: a3 half done"), "\(conflicts.text)")
        #expect(conflicts.text.contains("/audit/records?collection=activity&amp;id=a2"))

        // A record's history: every change, newest first; the resolution on top.
        let history = try auditor.get("/audit/records?collection=activity&id=a2&lang=en")
        let text = history.text
        let resolution = text.range(of: "a2 done, both sides")?.lowerBound, site = text.range(of: "site: a2 half done")?.lowerBound,
            created = text.range(of: "name = Kerbs")?.lowerBound
        #expect(resolution != nil && site != nil && created != nil, "\(text)")
        if let resolution, let site, let created { #expect(resolution < site && site < created, "not newest first") }
        #expect(try auditor.get("/audit/records?collection=activity&id=nothing-here").status == 404)
        #expect(try auditor.get("/audit/rejections?lang=en").text.contains("<caption>Refused changes</caption>"))
    }

    @Test func everyPageCarriesTheContentSecurityPolicyAndNoInlineScript() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        let auditor = Browser(url: f.url)
        let login = try auditor.get("/login")
        try auditor.signIn("auditor-1")
        var pages = [("/login", login)]
        for path in ["/", "/departments/roads", "/projects/R-001", "/fleet", "/conflicts", "/reports/monthly/2026-11", "/audit",
                     "/audit/sign-ins", "/audit/api", "/audit/rejections", "/audit/conflicts", "/audit/records?collection=activity&id=a2",
                     "/projects/NO-SUCH"] {
            pages.append((path, try auditor.get(path)))
        }
        for (path, page) in pages {
            let policy = page.header("content-security-policy") ?? ""
            for part in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"] {
                #expect(policy.contains(part), "\(path): \(policy)")
            }
            #expect(!policy.contains("unsafe-inline'; script") && !policy.contains("script-src 'self' 'unsafe"), "\(path): \(policy)")
            #expect(!page.text.contains("onclick="), "\(path)")
            #expect(!page.text.contains("<script>") && page.text.contains(#"<script src="/static/dashboard.js" defer></script>"#), "\(path)")
        }
        #expect(pages.last?.1.status == 404)
        // The monthly review's print button is the served script's.
        #expect(try auditor.get("/reports/monthly/2026-11").text.contains("data-print"))
        let script = try Browser(url: f.url).get("/static/dashboard.js")
        #expect(script.status == 200 && script.header("content-type")?.hasPrefix("text/javascript") == true)
        #expect(script.text.contains("window.print()") && script.text.contains("new EventSource('/events')"))
    }
}
