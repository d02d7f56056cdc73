import Foundation
import Testing

/// The HTTP API through the built binary and curl: `serve --http` beside the ZeroMQ listener,
/// tokens and their scopes, each write path, idempotency, problems for bad input, ETags, CSV,
/// metrics, TLS, and SIGTERM.
@Suite(.serialized) struct HTTPAPITests {
    /// A hub serving HTTP on loopback, with the two-department plan written by an office that
    /// synced, and a roads field site.
    struct Fixture {
        let cli: SiteSyncBinary
        let hub: BackgroundProcess
        let endpoint: String
        let url: String

        init(extraServeArguments: [String] = []) throws {
            cli = try SiteSyncBinary()
            try cli.ok("init", "--data-dir", "hub", "--node", "hub-1", "--department", "office", "--role", "hub",
                       "--listen", "tcp://127.0.0.1:*", "--insecure")
            hub = try BackgroundProcess(cli, ["serve", "--data-dir", "hub", "--listen", "tcp://127.0.0.1:*", "--http", "127.0.0.1:0"]
                                        + extraServeArguments)
            endpoint = try hub.waitForLine("listening on ")
            url = try hub.waitForLine("http on ")
            try NetworkSyncTests.node(cli, "office", department: "office", role: "office", hub: endpoint)
            try NetworkSyncTests.plan(cli, office: "office")
            try cli.ok("sync", "--data-dir", "office")
            try NetworkSyncTests.node(cli, "r1", department: "roads", hub: endpoint)
            try cli.ok("sync", "--data-dir", "r1")
        }

        /// A new token's secret, from what `api token create` prints.
        func token(_ arguments: String...) throws -> String {
            let result = try cli.run(["api", "token", "create", "--data-dir", "hub"] + arguments)
            try #require(result.status == 0, "api token create failed: \(result.stderr)")
            let printed = result.stdout
            let secret = printed.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("sst_") }
            return String(try #require(secret, "no token in: \(printed)"))
        }

        func get(_ path: String, token: String?, headers: [String: String] = [:]) throws -> HTTPAnswer {
            try HTTPAnswer.request("GET", url + path, token: token, headers: headers)
        }

        func post(_ path: String, token: String?, json: String, headers: [String: String] = [:]) throws -> HTTPAnswer {
            try HTTPAnswer.request("POST", url + path, token: token, headers: ["Content-Type": "application/json"].merging(headers) { $1 }, body: json)
        }

        func stop() {
            hub.terminate()
            cli.remove()
        }
    }

    @Test func tokensReadOnlyTheirDepartmentAndWriteWhatTheirRoleMay() throws {
        let f = try Fixture()
        defer { f.stop() }
        let office = try f.token("--name", "finance", "--role", "office")
        let roads = try f.token("--name", "roads-site", "--role", "field", "--department", "roads")
        let viewer = try f.token("--name", "bi", "--role", "office", "--read-only")

        #expect(try f.get("/api/v1/city", token: nil).status == 401)
        #expect(try f.get("/api/v1/city", token: "sst_not-a-token").status == 401)
        let unauthorized = try f.get("/api/v1/projects", token: nil)
        #expect(unauthorized.header("content-type")?.hasPrefix("application/problem+json") == true)
        #expect(unauthorized.header("www-authenticate")?.hasPrefix("Bearer") == true)

        let all = try f.get("/api/v1/projects", token: office).json()
        #expect((all["items"] as? [[String: Any]])?.compactMap { $0["code"] as? String }.sorted() == ["R-001", "W-001"])
        let mine = try f.get("/api/v1/projects", token: roads).json()
        #expect((mine["items"] as? [[String: Any]])?.compactMap { $0["code"] as? String } == ["R-001"])
        #expect(try f.get("/api/v1/projects/W-001", token: roads).status == 404)
        #expect(try f.get("/api/v1/projects/R-001", token: roads).status == 200)
        #expect(try f.get("/api/v1/warnings", token: roads).text.contains("W-001") == false)

        // A roads site writes roads' costs, not water's; a read-only token writes nothing.
        #expect(try f.post("/api/v1/costs", token: roads, json: #"{"activity": "R-001/Kerbs", "amount": "120.50", "date": "2026-11-03"}"#).status == 201)
        let water = try f.post("/api/v1/costs", token: roads, json: #"{"activity": "W-001/Trench", "amount": "99.25", "date": "2026-11-03"}"#)
        #expect(water.status == 403 || water.status == 422, "\(water.status) \(water.text)")
        #expect(try f.post("/api/v1/costs", token: viewer, json: #"{"activity": "R-001/Kerbs", "amount": "5"}"#).status == 403)
        let costs = try f.cli.ok("record", "list", "--data-dir", "hub", "cost_entry")
        // (Amounts with a point: record ids are hex and have none.)
        #expect(costs.contains("120.5") && !costs.contains("99.25"), "\(costs)")

        // A revoked token is refused at once.
        try f.cli.ok("api", "token", "revoke", "--data-dir", "hub", "roads-site")
        #expect(try f.get("/api/v1/city", token: roads).status == 401)
    }

    /// Templates are shared plan data any token reads; suggestions are the caller's
    /// department's (the city's for an office token), and an anonymous one names nobody.
    @Test func templatesAndSuggestionsAreReadInTheCallersScope() throws {
        let f = try Fixture()
        defer { f.stop() }
        let office = try f.token("--name", "finance", "--role", "office")
        let roads = try f.token("--name", "roads-site", "--role", "field", "--department", "roads")
        let water = try f.token("--name", "water-site", "--role", "field", "--department", "water")
        let park = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config/templates/park.toml").path
        try f.cli.ok("template", "import", "--data-dir", "office", park)
        try f.cli.ok("suggestion", "add", "--data-dir", "r1", "--text", "Publish the closure plan", "--by", "Li Wei")
        try f.cli.ok("suggestion", "add", "--data-dir", "r1", "--text", "Fix the site fence", "--anonymous")
        for node in ["office", "r1"] { try f.cli.ok("sync", "--data-dir", node) }

        let listed = try JSONSerialization.jsonObject(with: try f.get("/api/v1/templates", token: water).body) as? [[String: Any]]
        #expect(listed?.compactMap { $0["name"] as? String } == ["park"] && listed?.first?["activities"] as? Int == 11)
        let one = try f.get("/api/v1/templates/PARK", token: roads).json()
        #expect(one["name"] as? String == "park" && ((one["template"] as? [String: Any])?["activities"] as? [Any])?.count == 11)
        #expect(try f.get("/api/v1/templates/no-such", token: roads).status == 404)

        func suggestions(_ token: String, _ query: String = "") throws -> [[String: Any]] {
            let answer = try f.get("/api/v1/suggestions" + query, token: token)
            return try #require(try JSONSerialization.jsonObject(with: answer.body) as? [[String: Any]], "\(answer.status) \(answer.text)")
        }
        let all = try suggestions(office)
        #expect(all.count == 2 && Set(all.compactMap { $0["department"] as? String }) == ["roads"])
        let anonymous = try #require(all.first { $0["anonymous"] as? Bool == true })
        #expect(anonymous["from"] as? String == "anonymous" && !"\(anonymous)".contains("r1") && !"\(anonymous)".contains("Li Wei"))
        #expect(all.contains { ($0["from"] as? String)?.contains("Li Wei") == true })
        #expect(try suggestions(roads).count == 2 && suggestions(water).isEmpty, "another department's token sees none")
        #expect(try suggestions(office, "?status=open").count == 2 && suggestions(office, "?status=done").isEmpty)
        #expect(try f.get("/api/v1/suggestions?status=maybe", token: office).status == 422)
        #expect(try f.get("/api/v1/suggestions?format=csv", token: office).text.contains("Fix the site fence"))
    }

    /// The office plans R-001's people and goals and takes it into execution (baseline 1);
    /// the API then gives its stages, the goal tree and the scorecards in each token's scope.
    static func plannedOwnersAndStages(_ f: Fixture) throws {
        let staff = try #require(try f.cli.json("staff", "add", "--data-dir", "office", "Wang Fang", "--department", "roads",
                                                "--role", "project_lead", "--json") as? [String: Any])
        let wang = try #require(staff["id"] as? String)
        try f.cli.ok("objective", "add", "--data-dir", "office", "Safer roads", "--department", "roads")
        try f.cli.ok("record", "put", "--data-dir", "office", "goal", "g1", "project=p1", "title=Capacity", "weight=2", "owner=\(wang)")
        for activity in ["a1", "a2"] {
            try f.cli.ok("record", "put", "--data-dir", "office", "activity", activity, "goal=g1", "owner=\(wang)", "budget=1000",
                         "planned_start=2026-10-01", "planned_finish=2026-12-20")
        }
        try f.cli.ok("project", "propose", "--data-dir", "office", "R-001", "--stage", "execution", "--note", "design signed off")
        try f.cli.ok("project", "approve", "--data-dir", "office", "R-001")
        try f.cli.ok("sync", "--data-dir", "office")
    }

    /// R-001's two KPIs, weighed 2 and 1, read three months: the pass rate 95, 95, 96 and the
    /// complaints 4, 2, 9 (the entropy-weight method gives the pass rate more).
    static func readKPIs(_ f: Fixture) throws {
        try f.cli.ok("record", "put", "--data-dir", "office", "kpi", "kw1", "project=p1", "name=Pass rate", "direction=higher_better",
                     "baseline=90", "target=98", "weight=2")
        try f.cli.ok("record", "put", "--data-dir", "office", "kpi", "kw2", "project=p1", "name=Complaints", "direction=lower_better",
                     "baseline=10", "target=0", "weight=1")
        for (month, pass, complaints) in [("2026-08", "95", "4"), ("2026-09", "95", "2"), ("2026-10", "96", "9")] {
            try f.cli.ok("kpi", "read", "--data-dir", "office", "kw1", pass, "--period", month)
            try f.cli.ok("kpi", "read", "--data-dir", "office", "kw2", complaints, "--period", month)
        }
        try f.cli.ok("sync", "--data-dir", "office")
    }

    @Test func stagesGoalsAndScorecardsAreReadInTheCallersScope() throws {
        let f = try Fixture()
        defer { f.stop() }
        let office = try f.token("--name", "finance", "--role", "office")
        let roads = try f.token("--name", "roads-site", "--role", "field", "--department", "roads")
        let water = try f.token("--name", "water-site", "--role", "field", "--department", "water")
        try Self.plannedOwnersAndStages(f)

        let stages = try f.get("/api/v1/projects/r-001/stages", token: roads).json()
        #expect(stages["stage"] as? String == "execution" && (stages["baselines"] as? [Any])?.count == 1)
        let transitions = try #require(stages["transitions"] as? [[String: Any]])
        #expect(transitions.count == 1 && transitions.first?["decision"] as? String == "approved", "\(transitions)")
        #expect((stages["variance"] as? [String: Any])?["baseline"] as? Int == 1 && stages["waiting"] is NSNull)
        #expect(try f.get("/api/v1/projects/W-001/stages", token: roads).status == 404)

        let tree = try f.get("/api/v1/goals", token: roads).text
        #expect(tree.contains("Safer roads") && tree.contains("Capacity") && tree.contains("Wang Fang"), "\(tree)")
        #expect(!(try f.get("/api/v1/goals", token: water).text.contains("Capacity")), "another department's goals are not shown")
        #expect(try f.get("/api/v1/goals?project=W-001", token: roads).status == 404)

        let cards = try f.get("/api/v1/scorecards?period=2026-Q4", token: office).json()
        let rows = try #require(cards["scorecards"] as? [[String: Any]])
        #expect(rows.map { $0["name"] as? String } == ["Wang Fang"] && cards["period"] as? String == "2026-Q4", "\(cards)")
        #expect(((try f.get("/api/v1/scorecards?period=2026-Q4", token: water).json())["scorecards"] as? [Any])?.isEmpty == true)
        #expect(try f.get("/api/v1/scorecards", token: office).status == 422)
        #expect(try f.get("/api/v1/scorecards?period=2026-Q5", token: office).status == 422)
        let csv = try f.get("/api/v1/scorecards?period=2026-Q4&format=csv", token: office)
        #expect(csv.header("content-type")?.hasPrefix("text/csv") == true && csv.text.contains("Wang Fang") && csv.text.contains("overdue_issues"))

        // Variance against the current baseline, and on request the original one.
        try f.cli.ok("record", "put", "--data-dir", "office", "activity", "a1", "planned_finish=2026-12-30")
        try f.cli.ok("baseline", "set", "R-001", "--reason", "scope change", "--data-dir", "office")
        try f.cli.ok("sync", "--data-dir", "office")
        let current = try f.get("/api/v1/projects/r-001/stages", token: roads).json()
        #expect((current["variance"] as? [String: Any])?["baseline"] as? Int == 2 && (current["baselines"] as? [Any])?.count == 2)
        let original = try #require(try f.get("/api/v1/projects/r-001/stages?against=original", token: roads).json()["variance"]
                                    as? [String: Any])
        #expect(original["baseline"] as? Int == 1 && original["finish_days"] as? Int == 10, "\(original)")
        #expect(try f.get("/api/v1/projects/r-001/stages?against=first", token: roads).status == 422)
    }

    /// Forecasts in the token's scope, and a what-if that changes no record.
    @Test func forecastsAndAWhatIfThroughTheAPI() throws {
        let f = try Fixture()
        defer { f.stop() }
        let roads = try f.token("--name", "roads-site", "--role", "field", "--department", "roads")
        let water = try f.token("--name", "water-site", "--role", "field", "--department", "water")
        try Self.plannedOwnersAndStages(f)

        let one = try f.get("/api/v1/forecasts?project=R-001&runs=2000", token: roads).json()
        let project = try #require((one["projects"] as? [[String: Any]])?.first, "\(one)")
        #expect(project["code"] as? String == "R-001" && project["finish_p50"] is String && project["eac_p80"] != nil)
        #expect(project["delay_probability"] is NSNull && (project["delay_factors"] as? [Any])?.isEmpty == true, "no model trained here")
        let activities = try #require(project["activities"] as? [[String: Any]])
        #expect(activities.count == 2 && activities.allSatisfy { $0["basis"] as? String == "planned" }, "no progress yet: the planned rate")
        #expect(try f.get("/api/v1/forecasts?project=R-001", token: water).status == 404)
        #expect(!(try f.get("/api/v1/forecasts", token: water).text.contains("R-001")))
        #expect(try f.get("/api/v1/forecasts?runs=0", token: roads).status == 422)

        let before = try f.cli.ok("digest", "--data-dir", "hub")
        let answer = try f.post("/api/v1/forecasts/what-if", token: roads, json: #"{"project": "R-001", "what_if": ["crew Kerbs +30%"], "runs": 2000}"#)
        #expect(answer.status == 200, "\(answer.status) \(answer.text)")
        let comparison = try answer.json()
        let base = try #require(comparison["base"] as? [String: Any]), changed = try #require(comparison["changed"] as? [String: Any])
        #expect((changed["finish_p50"] as? String ?? "") <= (base["finish_p50"] as? String ?? ""), "a bigger crew finishes no later")
        #expect(comparison["difference"] is [String: Any] && comparison["what_if"] as? [String] == ["crew Kerbs +30%"])
        #expect(try f.cli.ok("digest", "--data-dir", "hub") == before, "a what-if changes no record")
        let bad = try f.post("/api/v1/forecasts/what-if", token: roads, json: #"{"project": "R-001", "what_if": ["faster please"]}"#)
        #expect(bad.status == 422 && bad.text.contains("crew"), "\(bad.text)")
        #expect(try f.post("/api/v1/forecasts/what-if", token: water, json: #"{"project": "R-001", "what_if": ["rain-days 8/month"]}"#).status == 404)

        // Suggested KPI weights beside the current ones, read in scope; applying is an office's command.
        try Self.readKPIs(f)
        let unweighed = try f.cli.ok("digest", "--data-dir", "hub")
        let weights = try f.get("/api/v1/kpi-weights?project=R-001", token: roads)
        #expect(weights.status == 200, "\(weights.status) \(weights.text)")
        let suggestion = try weights.json()
        let kpis = try #require(suggestion["kpis"] as? [[String: Any]], "\(suggestion)")
        #expect(suggestion["method"] as? String == "entropy-weight" && suggestion["months_compared"] as? Int == 3)
        #expect(kpis.map { $0["name"] as? String } == ["Complaints", "Pass rate"] && (kpis[1]["current"] as? Double).map { abs($0 - 0.6667) < 1e-9 } == true,
                "the current weights 2 and 1 as shares: \(kpis)")
        #expect((kpis[1]["suggested"] as? Double ?? 0) > (kpis[0]["suggested"] as? Double ?? 1) && kpis.allSatisfy { ($0["reason"] as? String)?.isEmpty == false })
        #expect(try f.get("/api/v1/kpi-weights?project=R-001", token: water).status == 404)
        #expect(try f.get("/api/v1/kpi-weights", token: roads).status == 422, "a department's token names the project")
        #expect(try f.cli.ok("digest", "--data-dir", "hub") == unweighed, "a suggestion writes nothing")
    }

    @Test func eachWriteIsAnOrdinaryChangeThatReachesTheField() throws {
        let f = try Fixture()
        defer { f.stop() }
        let office = try f.token("--name", "integration", "--role", "office")
        try f.cli.ok("record", "import", "--data-dir", "office", "-", stdin: """
            {"collection": "kpi", "id": "k1", "fields": {"project": "p1", "name": "Local hires", "direction": "higher_better", "baseline": "0", "target": "20"}}
            """)
        try f.cli.ok("sync", "--data-dir", "office")

        #expect(try f.post("/api/v1/kpi-readings", token: office, json: #"{"kpi": "k1", "value": 12.75, "period": "2026-11"}"#).status == 201)
        #expect(try f.post("/api/v1/progress", token: office, json: #"{"activity": "R-001/Kerbs", "quantity": "25.5", "date": "2026-11-04"}"#).status == 201)
        #expect(try f.post("/api/v1/costs", token: office, json: #"{"activity": "a1", "amount": 300, "date": "2026-11-04", "note": "invoice 17"}"#).status == 201)
        let plan = "project_code,project_name,department,activity,activity_budget,start,finish\nR-002,Bridge deck,roads,Piers,50000,2027-01-04,2027-03-01\n"
        let imported = try HTTPAnswer.request("POST", f.url + "/api/v1/plans", token: office, headers: ["Content-Type": "text/csv"], body: plan)
        #expect(imported.status == 201, "\(imported.text)")
        #expect(try imported.json()["activities"] as? Int == 1)

        // Each request is recorded against the token, with the changes it wrote.
        let log = try #require(try f.cli.json("api", "log", "--data-dir", "hub", "--token", "integration", "--json") as? [[String: Any]])
        #expect(log.count == 4 && log.allSatisfy { $0["token"] as? String == "integration" && $0["status"] as? Int == 201 }, "\(log)")
        #expect(log.allSatisfy { !(($0["changes"] as? [String]) ?? []).isEmpty }, "\(log)")

        // The field site receives all four at its next sync, as changes written at the hub.
        try f.cli.ok("sync", "--data-dir", "r1")
        #expect(try f.cli.ok("record", "list", "--data-dir", "r1", "kpi_reading").contains("12.75"))
        #expect(try f.cli.ok("record", "list", "--data-dir", "r1", "quantity_entry").contains("25.5"))
        #expect(try f.cli.ok("record", "list", "--data-dir", "r1", "cost_entry").contains("invoice 17"))
        #expect(try f.cli.ok("record", "list", "--data-dir", "r1", "project").contains("R-002"))
        let roads = try f.cli.ok("digest", "--data-dir", "r1", "--department", "roads")
        #expect(try f.cli.ok("digest", "--data-dir", "hub", "--department", "roads") == roads)
    }

    @Test func aRetriedPostWithItsIdempotencyKeyCountsOnce() throws {
        let f = try Fixture()
        defer { f.stop() }
        let office = try f.token("--name", "finance", "--role", "office")
        let body = #"{"activity": "R-001/Kerbs", "amount": "700.25", "date": "2026-11-02"}"#
        let first = try f.post("/api/v1/costs", token: office, json: body, headers: ["Idempotency-Key": "inv-0042"])
        let again = try f.post("/api/v1/costs", token: office, json: body, headers: ["Idempotency-Key": "inv-0042"])
        #expect(first.status == 201 && again.status == 201)
        #expect(again.header("idempotent-replayed") == "true" && first.header("idempotent-replayed") == nil)
        #expect(again.text == first.text)
        let costs = try f.cli.ok("record", "list", "--data-dir", "hub", "cost_entry")
        #expect(costs.components(separatedBy: "700.25").count - 1 == 1, "\(costs)")
        // The same key for another request is refused, and writes nothing.
        let other = try f.post("/api/v1/costs", token: office, json: #"{"activity": "R-001/Kerbs", "amount": "800.25"}"#,
                               headers: ["Idempotency-Key": "inv-0042"])
        #expect(other.status == 422)
        let otherField = try other.json()["field"] as? String
        #expect(otherField == "Idempotency-Key")
        #expect(!(try f.cli.ok("record", "list", "--data-dir", "hub", "cost_entry")).contains("800.25"))
    }

    @Test func badInputIsAProblemNamingTheFieldAndStoresNothing() throws {
        let f = try Fixture()
        defer { f.stop() }
        let office = try f.token("--name", "finance", "--role", "office")
        let before = try f.cli.digest("hub")
        func problem(_ answer: HTTPAnswer, _ status: Int, field: String?, sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(answer.status == status, "\(answer.status) \(answer.text)", sourceLocation: sourceLocation)
            #expect(answer.header("content-type")?.hasPrefix("application/problem+json") == true, sourceLocation: sourceLocation)
            let json = try answer.json()
            #expect(json["status"] as? Int == status && json["detail"] is String && json["type"] is String, sourceLocation: sourceLocation)
            if let field { #expect(json["field"] as? String == field, "\(json)", sourceLocation: sourceLocation) }
        }
        try problem(try f.post("/api/v1/costs", token: office, json: #"{"activity": "R-001/Kerbs", "amount": "lots"}"#), 422, field: "amount")
        try problem(try f.post("/api/v1/costs", token: office, json: #"{"amount": "5"}"#), 422, field: "activity")
        try problem(try f.post("/api/v1/costs", token: office, json: #"{"activity": "R-001/Kerbs", "amount": "-5"}"#), 422, field: "amount")
        try problem(try f.post("/api/v1/costs", token: office, json: #"{"activity": "R-001/Kerbs", "amount": "5", "ammount": "5"}"#), 422,
                    field: "ammount")
        try problem(try f.post("/api/v1/costs", token: office, json: #"{"activity": "R-001/Kerbs", "amount": "5", "date": "2999-01-01"}"#), 422,
                    field: "date")
        try problem(try f.post("/api/v1/progress", token: office, json: #"{"activity": "R-001/Kerbs", "percent": "140"}"#), 422, field: nil)
        try problem(try f.post("/api/v1/costs", token: office, json: "{not json"), 400, field: nil)
        try problem(try f.post("/api/v1/costs", token: office, json: "5", headers: ["Content-Type": "text/plain"]), 415, field: nil)
        try problem(try f.get("/api/v1/city?as_of=yesterday", token: office), 422, field: "as_of")
        try problem(try f.get("/api/v1/projects?limit=0", token: office), 422, field: "limit")
        try problem(try f.get("/api/v1/projects?color=purple", token: office), 422, field: "color")
        try problem(try f.get("/api/v1/reports/monthly/2026-13", token: office), 422, field: "period")
        try problem(try f.get("/api/v1/nothing-here", token: office), 404, field: nil)
        try problem(try f.get("/api/v1/city", token: office, headers: ["Accept": "image/png"]), 406, field: nil)
        #expect(try f.cli.digest("hub") == before)
    }

    @Test func etagsLetAPollerPayOnlyForChangesAndTablesAnswerCSV() throws {
        let f = try Fixture()
        defer { f.stop() }
        let office = try f.token("--name", "bi", "--role", "office")
        let first = try f.get("/api/v1/projects?as_of=2026-11-30", token: office)
        let tag = try #require(first.header("etag"))
        let unchanged = try f.get("/api/v1/projects?as_of=2026-11-30", token: office, headers: ["If-None-Match": tag])
        #expect(unchanged.status == 304 && unchanged.text.isEmpty)

        // A change applied at the hub (a site's sync) shows within a second or so: the tag moves.
        try f.cli.ok("cost", "--data-dir", "r1", "R-001/Kerbs", "450", "--date", "2026-11-05")
        try f.cli.ok("sync", "--data-dir", "r1")
        var moved: HTTPAnswer?
        for _ in 0..<40 {
            let answer = try f.get("/api/v1/projects?as_of=2026-11-30", token: office, headers: ["If-None-Match": tag])
            if answer.status == 200 { moved = answer; break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let answer = try #require(moved, "the figures did not change within 4 s")
        let items = try answer.json()["items"] as? [[String: Any]]
        let row = try #require(items?.first { $0["code"] as? String == "R-001" })
        #expect(row["ac"] as? Double == 450)

        let csv = try f.get("/api/v1/projects", token: office, headers: ["Accept": "text/csv"])
        #expect(csv.status == 200 && csv.header("content-type")?.hasPrefix("text/csv") == true)
        let lines = csv.text.split(separator: "\r\n")
        #expect(lines.count == 3 && lines[0].contains("code") && csv.text.contains("R-001"))
        #expect(try f.get("/api/v1/departments?format=csv", token: office).header("content-type")?.hasPrefix("text/csv") == true)
        #expect(try f.get("/openapi.yaml", token: nil).text.hasPrefix("openapi: 3.1"))
    }

    @Test func metricsCountSyncAndRequestsForACityToken() throws {
        let f = try Fixture()
        defer { f.stop() }
        let office = try f.token("--name", "prometheus", "--role", "auditor")
        let roads = try f.token("--name", "roads", "--role", "department", "--department", "roads")
        try f.cli.ok("cost", "--data-dir", "r1", "R-001/Kerbs", "10", "--date", "2026-11-05")
        try f.cli.ok("sync", "--data-dir", "r1")
        _ = try f.get("/api/v1/city", token: office)
        let metrics = try f.get("/metrics", token: office)
        #expect(metrics.status == 200 && metrics.header("content-type")?.hasPrefix("text/plain") == true)
        func value(_ series: String) -> Double? {
            metrics.text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
        }
        #expect((value("sitesync_sync_changes_received_total") ?? 0) >= 1, "\(metrics.text)")
        #expect((value("sitesync_sync_changes_applied_total") ?? 0) >= 1)
        #expect(value("sitesync_conflicts_open") == 0)
        #expect(metrics.text.contains(#"sitesync_node_changes_behind{node="r1",department="roads"}"#))
        #expect(metrics.text.contains(#"sitesync_http_requests_total{route="/api/v1/city",method="GET",status="200"} 1"#))
        #expect(try f.get("/metrics", token: roads).status == 403)
        #expect(try f.get("/metrics", token: nil).status == 401)
        #expect(try f.get("/healthz", token: nil).status == 200 && (try f.get("/readyz", token: nil)).status == 200)
    }

    @Test func sigtermStopsTheHTTPServerAndTheListenerTogether() throws {
        let f = try Fixture()
        defer { f.cli.remove() }
        f.hub.terminate()
        #expect(f.hub.process.terminationStatus == 0, "\(f.hub.stderr)")
        // One process served both: its exit closed both.
        #expect(throws: (any Error).self) { try HTTPAnswer.request("GET", f.url + "/healthz", token: nil) }
        #expect(f.hub.stderr.contains("listener stopped"))
    }

    @Test func aNonLoopbackAddressNeedsTLSOrTheInsecureFlag() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "hub", "--node", "hub-1", "--department", "office", "--role", "hub", "--insecure",
                   "--listen", "tcp://127.0.0.1:*")
        let refused = try cli.run(["serve", "--data-dir", "hub", "--http", "0.0.0.0:0"])
        #expect(refused.status != 0 && refused.stderr.contains("TLS") && refused.stderr.contains("--http-insecure"), "\(refused.stderr)")
        #expect(try cli.run(["serve", "--data-dir", "hub", "--http", "localhost:80"]).stderr.contains("ADDRESS:PORT"))
        #expect(try cli.run(["serve", "--data-dir", "hub", "--http", "127.0.0.1:8080", "--http-tls-key", "k.pem"]).status != 0)
    }

    @Test func tlsFromACertificateAndKeyFile() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                             "-subj", "/CN=sitesync-test", "-addext", "subjectAltName=IP:127.0.0.1",
                             "-keyout", cli.file("key.pem"), "-out", cli.file("cert.pem")]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0, "openssl could not make a test certificate")
        try cli.ok("init", "--data-dir", "hub", "--node", "hub-1", "--department", "office", "--role", "hub", "--insecure",
                   "--listen", "tcp://127.0.0.1:*")
        let hub = try BackgroundProcess(cli, ["serve", "--data-dir", "hub", "--http", "127.0.0.1:0",
                                              "--http-tls-certificate", cli.file("cert.pem"), "--http-tls-key", cli.file("key.pem")])
        defer { hub.terminate() }
        let url = try hub.waitForLine("http on ")
        #expect(url.hasPrefix("https://127.0.0.1:"))
        let answer = try HTTPAnswer.request("GET", url + "/healthz", token: nil, curlOptions: ["--cacert", cli.file("cert.pem")])
        #expect(answer.status == 200)
        // Plain HTTP to the TLS port gets no answer.
        #expect(throws: (any Error).self) {
            try HTTPAnswer.request("GET", url.replacingOccurrences(of: "https://", with: "http://") + "/healthz", token: nil)
        }
    }
}

/// One HTTP exchange made with curl: the status, the headers (names lower-cased) and the body.
struct HTTPAnswer {
    let status: Int
    let headers: [String: String]
    let body: Data

    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? { headers[name.lowercased()] }

    func json() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any], "not a JSON object: \(text)")
    }

    /// Runs curl; throws when no HTTP answer came at all (refused, reset, TLS failure).
    static func request(_ method: String, _ url: String, token: String?, headers: [String: String] = [:], body: String? = nil,
                        curlOptions: [String] = []) throws -> HTTPAnswer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let headerFile = directory.appendingPathComponent("headers").path, bodyFile = directory.appendingPathComponent("body").path
        var arguments = ["-s", "-X", method, "-D", headerFile, "-o", bodyFile, "--max-time", "20"] + curlOptions
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        if let body {
            let file = directory.appendingPathComponent("request").path
            try Data(body.utf8).write(to: URL(fileURLWithPath: file))
            arguments += ["--data-binary", "@" + file]
        }
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = arguments + [url]
        try curl.run()
        curl.waitUntilExit()
        guard curl.terminationStatus == 0 else { throw TestFailure("curl \(method) \(url) failed with exit status \(curl.terminationStatus)") }
        let lines = (try String(contentsOfFile: headerFile, encoding: .utf8)).components(separatedBy: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPAnswer(status: status, headers: fields, body: FileManager.default.contents(atPath: bodyFile) ?? Data())
    }
}
