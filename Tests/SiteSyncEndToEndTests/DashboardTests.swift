import Foundation
import Testing

/// The web dashboard through the built binary and curl, as a browser would use it: sign-in and
/// its cookie, redirects without a session, CSRF on every form, both languages, escaping of
/// the data, resolving a conflict through the form, and the live-update stream.
@Suite(.serialized) struct DashboardTests {
    /// A browser: curl with a cookie jar of its own.
    struct Browser {
        let url: String
        let jar: String

        init(url: String) {
            self.url = url
            jar = FileManager.default.temporaryDirectory.appendingPathComponent("jar-\(UUID().uuidString)").path
        }

        func get(_ path: String, headers: [String: String] = [:]) throws -> HTTPAnswer {
            try HTTPAnswer.request("GET", url + path, token: nil, headers: headers, curlOptions: ["-b", jar, "-c", jar])
        }

        func post(_ path: String, form: [(String, String)], headers: [String: String] = [:]) throws -> HTTPAnswer {
            let body = form.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
            return try HTTPAnswer.request("POST", url + path, token: nil,
                                          headers: ["Content-Type": "application/x-www-form-urlencoded"].merging(headers) { $1 }, body: body,
                                          curlOptions: ["-b", jar, "-c", jar])
        }

        static func encode(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
        }

        @discardableResult
        func signIn(_ name: String = "office-staff") throws -> HTTPAnswer {
            try post("/login", form: [("name", name), ("password", DashboardTests.password)])
        }

        /// The CSRF token a page's forms carry.
        func csrf(from page: HTTPAnswer) throws -> String {
            let marker = #"name="csrf" value=""#
            let start = try #require(page.text.range(of: marker), "no csrf field in the page")
            return String(page.text[start.upperBound...].prefix { $0 != "\"" })
        }
    }

    static let password = "correct horse battery"

    /// The hub of ``HTTPAPITests/Fixture`` with three people: `office-staff` (office: the whole
    /// city, writes), `roads-head` (department head of roads) and `city-leader` (leader: the
    /// whole city, reads only), each added as a person would be, the password on standard input.
    static func fixture() throws -> HTTPAPITests.Fixture {
        let f = try HTTPAPITests.Fixture()
        let people: [[String]] = [["office-staff", "--role", "office"], ["roads-head", "--role", "department_head", "--department", "roads"],
                                  ["city-leader", "--role", "leader"]]
        for person in people {
            let added = try f.cli.run(["user", "add", "--data-dir", "hub", "--name"] + person, stdin: password + "\n")
            try #require(added.status == 0, "user add \(person[0]): \(added.stderr)")
        }
        return f
    }

    /// Two concurrent edits of one field at the office and at a roads site: an open conflict at
    /// the hub once both synced.
    static func conflict(_ f: HTTPAPITests.Fixture) throws {
        try f.cli.ok("record", "put", "--data-dir", "office", "activity", "a2", "remarks=office: kerbs done")
        try f.cli.ok("record", "put", "--data-dir", "r1", "activity", "a2", "remarks=site: kerbs half done")
        for node in ["r1", "office"] { try f.cli.ok("sync", "--data-dir", node) }
    }

    @Test func signingInSetsAStrictHttpOnlyCookieAndPagesNeedIt() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        let browser = Browser(url: f.url)
        for path in ["/", "/fleet", "/conflicts", "/projects/R-001", "/departments/roads", "/reports/monthly/2026-11", "/events"] {
            let answer = try browser.get(path)
            #expect(answer.status == 303 && answer.header("location") == "/login", "\(path): \(answer.status)")
        }
        let form = try browser.get("/login")
        #expect(form.status == 200 && form.text.contains(#"name="password""#))
        #expect(try browser.post("/login", form: [("name", "office-staff"), ("password", "wrong")]).status == 401)
        let signedIn = try browser.signIn()
        #expect(signedIn.status == 303 && signedIn.header("location") == "/")
        let cookie = try #require(signedIn.header("set-cookie"))
        #expect(cookie.hasPrefix("sitesync_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"))
        #expect(!cookie.contains("Secure"), "plain HTTP on loopback: \(cookie)")
        #expect(try browser.get("/").status == 200)

        // Signing out needs the form's token; then the session is gone.
        let page = try browser.get("/")
        #expect(try browser.post("/logout", form: []).status == 403)
        #expect(try browser.post("/logout", form: [("csrf", try browser.csrf(from: page))]).status == 303)
        #expect(try browser.get("/").status == 303)

        // The sign-in form has no token (no session yet): a browser that says the form came
        // from another site is refused, so another site cannot sign a visitor in as someone else.
        let host = String(f.url.dropFirst("http://".count))
        for header in [["Origin": "http://evil.example"], ["Sec-Fetch-Site": "cross-site"], ["Origin": "null"]] {
            let refused = try Browser(url: f.url).post("/login", form: [("name", "office-staff"), ("password", Self.password)], headers: header)
            #expect(refused.status == 403 && refused.header("set-cookie") == nil, "\(header): \(refused.status)")
        }
        for header in [["Origin": "http://\(host)"], ["Sec-Fetch-Site": "same-origin", "Origin": "http://\(host)"]] {
            let allowed = try Browser(url: f.url).post("/login", form: [("name", "office-staff"), ("password", Self.password)], headers: header)
            #expect(allowed.status == 303, "\(header): \(allowed.status)")
        }
    }

    @Test func signInAttemptsAreRateLimited() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        let browser = Browser(url: f.url)
        for _ in 0..<5 {
            #expect(try browser.post("/login", form: [("name", "roads-head"), ("password", "not the password")]).status == 401)
        }
        // The sixth try is refused before the password is looked at, the right one too.
        let refused = try browser.signIn("roads-head")
        #expect(refused.status == 429 && Int(refused.header("retry-after") ?? "") ?? 0 > 0, "\(refused.status)")
        // The page says why, in the hub's language: not "wrong password", which the right one would contradict.
        #expect(refused.text.contains("登录失败次数过多") && !refused.text.contains("用户名或密码不正确"), "\(refused.text)")
        #expect(try browser.get("/").status == 303)
        // Another person is not held up by it.
        #expect(try Browser(url: f.url).signIn().status == 303)
    }

    @Test func everyPageRendersInBothLanguagesUnderTheWeightLimit() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        let browser = Browser(url: f.url)
        try browser.signIn()
        let pages: [(path: String, zh: String, en: String)] = [
            ("/", "全市总览", "City overview"), ("/departments/roads", "项目列表", "Projects"), ("/projects/R-001", "目标树", "Goal tree"),
            ("/fleet", "待同步变更", "Changes behind"), ("/conflicts", "没有未决冲突", "No open conflicts"),
            ("/reports/monthly/2026-11", "月度报告", "Monthly report"),
        ]
        for page in pages {
            let zh = try browser.get(page.path, headers: ["Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"])
            #expect(zh.status == 200 && zh.text.contains(page.zh) && zh.text.contains(#"<html lang="zh-CN">"#), "\(page.path): \(zh.status)")
            let en = try browser.get(page.path, headers: ["Accept-Language": "en-GB,en;q=0.9"])
            #expect(en.status == 200 && en.text.contains(page.en) && !en.text.contains(page.zh), "\(page.path): \(en.status)")
            #expect(zh.body.count < 300_000 && en.body.count < 300_000, "\(page.path): \(zh.body.count) bytes")
            #expect(zh.text.contains("Noto Sans CJK SC") && (page.path == "/conflicts" || zh.text.contains("<th scope=\"col\"")), "\(page.path)")
        }
        // ?lang= overrides the browser and is remembered in a cookie.
        let switched = try browser.get("/fleet?lang=en", headers: ["Accept-Language": "zh-CN"])
        #expect(switched.text.contains("Changes behind") && switched.header("set-cookie")?.hasPrefix("sitesync_lang=en") == true)
        #expect(try browser.get("/fleet", headers: ["Accept-Language": "zh-CN"]).text.contains("Changes behind"))
        #expect(try browser.get("/fleet?lang=zh-CN", headers: ["Accept-Language": "en"]).text.contains("待同步变更"))
        // Dates in each language's way.
        let logged = try browser.get("/reports/monthly/2026-11?lang=en")
        #expect(logged.text.contains("Nov 2026"))
        #expect(try browser.get("/reports/monthly/2026-11?lang=zh-CN").text.contains("2026年11月"))
    }

    /// Chinese is the hub's language unless `[dashboard] language` says otherwise: a browser
    /// naming neither language gets it. In Chinese, no English leaks from the data's codes or
    /// the domain's sentences: statuses, roles and stages are words, the warnings' reasons are
    /// said in Chinese, and error pages have Chinese titles and messages.
    @Test func chineseIsTheDefaultAndNoEnglishLeaksIntoIt() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        try Self.conflict(f)
        // A late project: an activity past its finish and not started, a plan short of its
        // budget, a risk of 5 × 5 (warnings of three rules).
        try f.cli.ok("record", "import", "--data-dir", "office", "-", stdin: """
            {"collection": "project", "id": "p9", "fields": {"code": "R-009", "name": "Late bridge", "department": "roads", "budget": "1000"}}
            {"collection": "activity", "id": "a9", "fields": {"project": "p9", "name": "Deck", "budget": "600", "planned_start": "2026-01-05", "planned_finish": "2026-03-31", "status": "not_started"}}
            {"collection": "risk", "id": "k9", "fields": {"project": "p9", "title": "Flood", "probability": 5, "impact": 5, "status": "identified", "raised_on": "2026-01-05"}}
            """)
        try f.cli.ok("sync", "--data-dir", "office")
        let browser = Browser(url: f.url)
        try browser.signIn()
        // The figures refresh in the background: the overview follows within a few seconds.
        for _ in 0..<50 where !(try browser.get("/?lang=en").text.contains("R-009")) { Thread.sleep(forTimeInterval: 0.2) }
        let unchosen = Browser(url: f.url)   // has chosen no language (no cookie)
        try unchosen.signIn()
        for headers in [[:], ["Accept-Language": "fr-FR,fr;q=0.9"]] {
            #expect(try unchosen.get("/fleet", headers: headers).text.contains(#"<html lang="zh-CN">"#), "\(headers)")
        }
        // The stored codes of statuses and roles never show as they are.
        // (`office` is also the office's department code, data shown as it is.)
        let raw = ["not_started", "in_progress", "completed", "identified", "mitigating", "department_head", "field", "hub",
                   "open", "execution", "initiation", "medium", "high"]
        for path in ["/projects/R-009", "/fleet", "/departments/roads", "/conflicts"] {
            let zh = try browser.get(path + "?lang=zh-CN")
            #expect(zh.status == 200, "\(path)")
            for code in raw { #expect(!zh.text.contains("<td>\(code)</td>") && !zh.text.contains(": \(code)</p>"), "\(path): \(code)") }
        }
        #expect(try browser.get("/fleet?lang=zh-CN").text.contains("<td>现场</td>"))
        let late = try browser.get("/projects/R-009?lang=zh-CN").text
        #expect(late.contains("<td>未开工</td>") && late.contains("<td>已识别</td>"))
        // The warnings' reasons: the domain's English forms, said in Chinese.
        let phrases = [" was due ", " was to start ", "no field entry", " is below ", "each unit of value", "open risk", "activities cover",
                       "budgets add up"]
        let (overviewEN, overviewZH) = (try browser.get("/?lang=en"), try browser.get("/?lang=zh-CN"))
        #expect(phrases.contains { overviewEN.text.contains($0) }, "the fixture's overview has warnings to say")
        for phrase in phrases { #expect(!overviewZH.text.contains(phrase), "\(phrase)") }
        #expect(overviewZH.text.contains("至今") || overviewZH.text.contains("现场数据") || overviewZH.text.contains("预算合计"))
        // Error pages: a Chinese title and message.
        let missing = try browser.get("/projects/NO-SUCH?lang=zh-CN")
        #expect(missing.status == 404 && missing.text.contains("<h1>404 未找到</h1>") && !missing.text.contains("Not Found"))
        // An address the server has no page for, asked by a browser: the page, not the API's problem.
        for path in ["/no-such-page", "/projects/"] {
            let unknown = try browser.get(path + "?lang=zh-CN", headers: ["Accept": "text/html,application/xhtml+xml,*/*;q=0.8"])
            #expect(unknown.status == 404 && unknown.text.contains("<h1>404 未找到</h1>") && unknown.text.contains("没有找到"), "\(path)")
        }
        let apiClient = try browser.get("/no-such-page", headers: ["Accept": "application/json"])
        #expect(apiClient.status == 404 && apiClient.header("content-type")?.hasPrefix("application/problem+json") == true)
        let page = try browser.get("/conflicts")
        let incomplete = try browser.post("/conflicts/resolve", form: [("csrf", try browser.csrf(from: page)), ("collection", "activity")])
        #expect(incomplete.status == 422 && incomplete.text.contains("表单不完整") && !incomplete.text.contains("are all needed"),
                "\(incomplete.status)")

        // A hub whose configuration says English speaks English to a browser naming neither.
        f.hub.terminate()
        let english = try BackgroundProcess(f.cli, ["serve", "--data-dir", "hub", "--listen", "tcp://127.0.0.1:*", "--http", "127.0.0.1:0"],
                                            environment: ["SITESYNC_DASHBOARD_LANGUAGE": "en"])
        defer { english.terminate() }
        _ = try english.waitForLine("listening on ")
        let login = try Browser(url: try english.waitForLine("http on ")).get("/login")
        #expect(login.status == 200 && login.text.contains(#"<html lang="en">"#))
    }

    @Test func aDepartmentHeadSeesOnlyTheirDepartment() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        let browser = Browser(url: f.url)
        try browser.signIn("roads-head")
        #expect(try browser.get("/projects/W-001").status == 404)
        #expect(try browser.get("/departments/water").status == 404)
        #expect(try browser.get("/projects/R-001").status == 200)
        let overview = try browser.get("/?lang=en")
        #expect(overview.text.contains("/departments/roads") && !overview.text.contains("/departments/water"))
    }

    /// A department of 231 projects: its page shows them 100 at a time with links to the
    /// others, a page past the last shows the last, a colour filter shows only that colour;
    /// the monthly review pages its projects too.
    @Test func aLongDepartmentIsPagedAndFilteredByColour() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        // 230 more roads projects of one activity each: half far behind their plan (red), half
        // not due before next year.
        var lines: [String] = []
        for n in 0..<230 {
            let (start, finish) = n % 2 == 0 ? ("2026-01-05", "2026-06-30") : ("2027-03-01", "2027-09-30")
            lines.append(#"{"collection": "project", "id": "bulk\#(n)", "fields": {"code": "B-\#(String(format: "%03d", n))", "name": "Bulk \#(n)", "department": "roads"}}"#)
            lines.append(#"{"collection": "activity", "id": "bulk\#(n)-a", "fields": {"project": "bulk\#(n)", "name": "Works", "budget": "1000", "planned_start": "\#(start)", "planned_finish": "\#(finish)"}}"#)
        }
        try f.cli.ok("record", "import", "--data-dir", "office", "-", stdin: lines.joined(separator: "\n"))
        try f.cli.ok("sync", "--data-dir", "office")
        let browser = Browser(url: f.url)
        try browser.signIn()
        /// The project rows of a page's tables, each as its HTML.
        func rows(_ page: HTTPAnswer) -> [Substring] {
            page.text.components(separatedBy: "<tr>").dropFirst().map { Substring($0) }.filter { $0.hasPrefix("<td><a href=\"/projects/") }
        }
        // The figures refresh in the background: the page follows within a few seconds.
        var first = try browser.get("/departments/roads?lang=en")
        for _ in 0..<50 where !first.text.contains("1–100 of 231") {
            Thread.sleep(forTimeInterval: 0.2)
            first = try browser.get("/departments/roads?lang=en")
        }
        #expect(first.text.contains("1–100 of 231") && rows(first).count == 100, "\(rows(first).count)")
        #expect(first.text.contains(#"href="/departments/roads?page=2""#) && first.text.contains(#"href="/departments/roads?page=3""#))
        #expect(first.body.count < 300_000)
        let last = try browser.get("/departments/roads?page=3&lang=en")
        #expect(rows(last).count == 31 && last.text.contains("201–231 of 231") && last.text.contains(#"rel="prev""#))
        #expect(rows(try browser.get("/departments/roads?page=99")).count == 31, "a page past the last shows the last")
        // Only the red ones, every row red, as many as the department's count of red.
        let red = try browser.get("/departments/roads?color=red&lang=en")
        let redRows = rows(red)
        #expect(redRows.count == 100 && redRows.allSatisfy { $0.contains(#"class="swatch red""#) }, "\(redRows.count)")
        #expect(red.text.contains("of 115") || red.text.contains("of 116"), "the 115 late projects (and R-001 if red)")
        #expect(red.text.contains(#"href="/departments/roads?color=red&amp;page=2""#))
        // The month's review lists its projects a page at a time as well.
        let month = String(ISO8601DateFormatter().string(from: Date()).prefix(7))
        let review = try browser.get("/reports/monthly/\(month)?lang=en")
        #expect(review.status == 200 && rows(review).count == 100 && review.text.contains("1–100 of 23"), "\(rows(review).count)")
    }

    /// The template library and the suggestion box: a department head leaves an anonymous
    /// suggestion through the form, the office sees it naming nobody and answers it; a leader
    /// (who reads only) has no form and cannot post one; another department sees none of it.
    @Test func templatesAndTheSuggestionBox() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        let park = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config/templates/park.toml").path
        try f.cli.ok("template", "import", "--data-dir", "office", park)
        try f.cli.ok("sync", "--data-dir", "office")
        let added = try f.cli.run(["user", "add", "--data-dir", "hub", "--name", "water-head", "--role", "department_head",
                                   "--department", "water"], stdin: Self.password + "\n")
        try #require(added.status == 0, "\(added.stderr)")

        let head = Browser(url: f.url)
        try head.signIn("roads-head")
        let library = try head.get("/templates?lang=en")
        #expect(library.status == 200 && library.text.contains(#"href="/templates/park""#))
        let one = try head.get("/templates/park?lang=zh-CN")
        #expect(one.status == 200 && one.text.contains("模板") && one.text.contains("Site clearance") && one.text.contains("预算占比"))
        #expect(try head.get("/templates/none").status == 404)

        let box = try head.get("/suggestions?lang=en")
        #expect(box.text.contains(#"action="/suggestions""#))
        let left = try head.post("/suggestions", form: [("csrf", try head.csrf(from: box)), ("text", "Night work needs more lights"),
                                                        ("anonymous", "1")])
        #expect(left.status == 303 && left.header("location") == "/suggestions?done=left")
        #expect(try head.post("/suggestions", form: [("text", "no token")]).status == 403)
        // An empty one is refused in the page's language, without the command line's options.
        let empty = try head.post("/suggestions?lang=zh-CN", form: [("csrf", try head.csrf(from: box)), ("text", "  ")])
        #expect(empty.status == 422 && empty.text.contains("意见是空的") && !empty.text.contains("--text"), "\(empty.status)")
        _ = try head.get("/suggestions?lang=en")

        let office = Browser(url: f.url)
        try office.signIn()
        let listed = try office.get("/suggestions?lang=en")
        #expect(listed.text.contains("Night work needs more lights") && listed.text.contains("anonymous") && !listed.text.contains("roads-head"))
        let id = try #require(try f.cli.json("suggestion", "list", "--data-dir", "hub", "--json") as? [[String: Any]]).first?["id"] as? String
        let answered = try office.post("/suggestions/answer", form: [("csrf", try office.csrf(from: listed)), ("id", id ?? ""),
                                                                      ("status", "accepted"), ("reply", "Lights ordered for next week")])
        #expect(answered.status == 303, "\(answered.status) \(answered.text)")
        for (status, reply, says) in [("maybe", "x", "Choose the answer"), ("done", " ", "The reply is empty")] {
            let refused = try office.post("/suggestions/answer", form: [("csrf", try office.csrf(from: listed)), ("id", id ?? ""),
                                                                         ("status", status), ("reply", reply)])
            #expect(refused.status == 422 && refused.text.contains(says) && !refused.text.contains("--"), "\(refused.status) \(refused.text)")
        }
        let after = try office.get("/suggestions?lang=en")
        #expect(after.text.contains("Lights ordered for next week") && after.text.contains("office-staff"))

        let leader = Browser(url: f.url)
        try leader.signIn("city-leader")
        let read = try leader.get("/suggestions?lang=en")
        #expect(read.text.contains("Night work needs more lights") && !read.text.contains(#"action="/suggestions""#))
        #expect(try leader.post("/suggestions", form: [("csrf", try leader.csrf(from: read)), ("text", "x")]).status == 403)
        let water = Browser(url: f.url)
        try water.signIn("water-head")
        #expect(!(try water.get("/suggestions").text.contains("Night work")), "another department's suggestion is not shown")
        // The head's department head may not answer: it is the office's.
        #expect(try head.post("/suggestions/answer", form: [("csrf", try head.csrf(from: box)), ("id", id ?? ""), ("status", "done"),
                                                            ("reply", "x")]).status == 403)
    }

    /// A project's stage gates on its page, the goal tree and the scorecards: read by the
    /// people whose role reads them, in both languages; a project lead has no scorecards.
    @Test func stagesGoalsAndScorecardsPages() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        try HTTPAPITests.plannedOwnersAndStages(f)
        try HTTPAPITests.readKPIs(f)
        try f.cli.ok("log", "--data-dir", "r1", "R-001", "--date", "2026-11-20", "--weather", "heavy rain", "--summary", "kerbs stopped: rain")
        try f.cli.ok("sync", "--data-dir", "r1")
        let lead = try f.cli.run(["user", "add", "--data-dir", "hub", "--name", "r1-lead", "--role", "project_lead", "--department", "roads",
                                  "--project", "R-001"], stdin: Self.password + "\n")
        try #require(lead.status == 0, "\(lead.stderr)")
        let office = Browser(url: f.url)
        try office.signIn()
        let project = try office.get("/projects/R-001?lang=en")
        #expect(project.text.contains("Stage gates") && project.text.contains("<strong>execution</strong>")
                && project.text.contains("Variance against baseline 1") && project.text.contains("design signed off"))
        #expect(try office.get("/projects/R-001?lang=zh-CN").text.contains("<strong>执行</strong>"))
        #expect(project.text.contains("Completion forecast") && project.text.contains("planned rate (no progress yet)")
                && project.text.contains(#"aria-labelledby="fan-title""#) && project.text.contains("Daily-log tags (days): rain 1"))
        #expect(project.text.contains("Suggested KPI weights") && project.text.contains("<td>Pass rate</td><td class=\"num\">0.667</td>"),
                "the suggestion beside the current weights")
        // Each of the fan's dates is written beside its mark, not only in its title.
        #expect(["P50", "P80", "P95"].allSatisfy { project.text.contains("\">\($0) ") }, "the fan chart labels P50, P80 and P95")
        let goals = try office.get("/goals?lang=en")
        #expect(goals.text.contains("Safer roads") && goals.text.contains("Capacity") && goals.text.contains("Wang Fang"))
        #expect(try office.get("/goals?period=2026-Q9").status == 422)
        let cards = try office.get("/scorecards?period=2026-Q4&lang=zh-CN")
        #expect(cards.status == 200 && cards.text.contains("个人绩效") && cards.text.contains("Wang Fang"))
        let csv = try office.get("/scorecards?period=2026-Q4&format=csv")
        #expect(csv.header("content-type")?.hasPrefix("text/csv") == true && csv.text.contains("Wang Fang"))
        let head = Browser(url: f.url)
        try head.signIn("roads-head")
        #expect(try head.get("/scorecards?period=2026-Q4").text.contains("Wang Fang"))
        let leadBrowser = Browser(url: f.url)
        try leadBrowser.signIn("r1-lead")
        #expect(try leadBrowser.get("/scorecards").status == 404 && !(try leadBrowser.get("/goals").text.contains(#"href="/scorecards""#)))
    }

    /// A goal tree reaches every activity: 250 under one goal make three pages of 100 rows,
    /// the period kept in the links.
    @Test func aLongGoalTreeIsPaged() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        var lines = [#"{"collection": "goal", "id": "g1", "fields": {"project": "p1", "title": "Ring road open", "weight": "1"}}"#]
        for n in 0..<250 {
            lines.append(#"{"collection": "activity", "id": "ga\#(n)", "fields": {"project": "p1", "goal": "g1", "name": "Section \#(n)", "budget": "10"}}"#)
        }
        try f.cli.ok("record", "import", "--data-dir", "office", "-", stdin: lines.joined(separator: "\n"))
        try f.cli.ok("sync", "--data-dir", "office")
        let browser = Browser(url: f.url)
        try browser.signIn()
        func rows(_ page: HTTPAnswer) -> Int { page.text.components(separatedBy: "<tr><th scope=\"row\">").count - 1 }
        let first = try browser.get("/goals?period=2026&lang=en")
        #expect(first.status == 200 && rows(first) == 100 && first.text.contains("1–100 of 251"), "\(rows(first))")
        #expect(first.text.contains(#"href="/goals?period=2026&amp;page=3""#))
        let last = try browser.get("/goals?period=2026&page=3&lang=en")
        #expect(first.text.contains("Ring road open") && rows(last) == 51 && !last.text.contains("Ring road open"), "\(rows(last))")
        // Every activity on exactly one page.
        let all = try (1...3).map { try browser.get("/goals?period=2026&page=\($0)&lang=en").text }.joined()
        #expect((0..<250).allSatisfy { all.components(separatedBy: "Section \($0) [").count == 2 })
    }

    @Test func textFromTheDataIsEscaped() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        try f.cli.ok("record", "put", "--data-dir", "office", "project", "p1", "name=<script>alert(1)</script>")
        try f.cli.ok("sync", "--data-dir", "office")
        let browser = Browser(url: f.url)
        try browser.signIn()
        for path in ["/projects/R-001", "/departments/roads", "/reports/monthly/2026-11"] {
            var page = try browser.get(path)
            for _ in 0..<20 where !page.text.contains("alert(1)") {
                Thread.sleep(forTimeInterval: 0.2)
                page = try browser.get(path)
            }
            #expect(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "\(path)")
            #expect(!page.text.contains("<script>alert(1)"), "\(path)")
        }
    }

    @Test func aConflictIsResolvedThroughTheFormWithItsCSRFToken() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        try Self.conflict(f)
        let browser = Browser(url: f.url)
        try browser.signIn()
        let page = try browser.get("/conflicts?lang=en")
        #expect(page.text.contains("office: kerbs done") && page.text.contains("site: kerbs half done"), "\(page.text)")
        #expect(page.text.contains("hub-1") || page.text.contains("office"))
        let form: [(String, String)] = [("collection", "activity"), ("id", "a2"), ("field", "remarks"), ("value", "kerbs done, both sides")]
        // Without the token, or with another, nothing is written.
        #expect(try browser.post("/conflicts/resolve", form: form).status == 403)
        #expect(try browser.post("/conflicts/resolve", form: form + [("csrf", "forged")]).status == 403)
        #expect(try f.cli.ok("record", "get", "--data-dir", "hub", "activity", "a2").contains("kerbs done, both sides") == false)
        // A person who may not write is refused.
        let reader = Browser(url: f.url)
        try reader.signIn("city-leader")
        let readerPage = try reader.get("/conflicts")
        #expect(try reader.post("/conflicts/resolve", form: form + [("csrf", try reader.csrf(from: readerPage))]).status == 403)

        let resolved = try browser.post("/conflicts/resolve", form: form + [("csrf", try browser.csrf(from: page))])
        #expect(resolved.status == 303 && resolved.header("location") == "/conflicts?done=1", "\(resolved.status) \(resolved.text)")
        let after = try browser.get("/conflicts?done=1&lang=en")
        #expect(after.text.contains("The conflict is resolved") && after.text.contains("No open conflicts"), "\(after.text)")
        #expect(try f.cli.ok("record", "get", "--data-dir", "hub", "activity", "a2").contains("kerbs done, both sides"))
    }

    @Test func theEventStreamSaysWhenTheFiguresChange() throws {
        let f = try Self.fixture()
        defer { f.stop() }
        let browser = Browser(url: f.url)
        try browser.signIn()
        // The live update is the served script's (the page's Content-Security-Policy allows no inline script).
        #expect(try browser.get("/").text.contains(#"<script src="/static/dashboard.js" defer></script>"#))
        #expect(try browser.get("/static/dashboard.js").text.contains("new EventSource('/events')"))
        // A sync lands while the stream is open (curl reads the stream for 5 s, then stops).
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("sse-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output); try? FileManager.default.removeItem(atPath: output + ".headers") }
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-N", "-b", browser.jar, "--max-time", "5", "-D", output + ".headers", "-o", output, f.url + "/events"]
        try curl.run()
        Thread.sleep(forTimeInterval: 1.0)
        try f.cli.ok("cost", "--data-dir", "r1", "R-001/Kerbs", "450", "--date", "2026-11-05")
        try f.cli.ok("sync", "--data-dir", "r1")
        curl.waitUntilExit()
        let headers = (try? String(contentsOfFile: output + ".headers", encoding: .utf8)) ?? ""
        let stream = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(headers.lowercased().contains("content-type: text/event-stream"), "\(headers)")
        #expect(stream.hasPrefix("retry: ") && stream.contains("event: figures\ndata: "), "\(stream)")
    }
}
