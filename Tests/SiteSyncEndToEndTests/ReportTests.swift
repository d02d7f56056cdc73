import Foundation
import Testing

/// `sitesync report projects` over data replicated between real processes.
@Suite(.serialized) struct ReportTests {
    /// Ring road: kerbs (1,000 over 1–10 November, 200 m planned, by units) and paving (3,000
    /// over November, 10 % reported on 1 November).
    static func plan(_ cli: SiteSyncBinary, office: String) throws {
        try cli.ok("record", "import", "--data-dir", office, "-", stdin: """
            {"collection": "department", "id": "roads", "fields": {"name": "Roads Bureau"}}
            {"collection": "department", "id": "water", "fields": {"name": "Water Bureau"}}
            {"collection": "project", "id": "p1", "fields": {"code": "R-001", "name": "Ring road", "department": "roads"}}
            {"collection": "project", "id": "p2", "fields": {"code": "W-001", "name": "Mains renewal", "department": "water"}}
            {"collection": "activity", "id": "a1", "fields": {"project": "p1", "name": "Kerbs", "ev_method": "units", "budget": "1000", "budget_quantity": "200", "unit": "m", "planned_start": "2026-11-01", "planned_finish": "2026-11-10"}}
            {"collection": "activity", "id": "a2", "fields": {"project": "p1", "name": "Paving", "ev_method": "manual", "budget": "3000", "planned_start": "2026-11-01", "planned_finish": "2026-11-30"}}
            {"collection": "percent_entry", "fields": {"activity": "a2", "date": "2026-11-01", "percent": "10"}}
            {"collection": "activity", "id": "w1", "fields": {"project": "p2", "name": "Trench", "budget": "500", "planned_start": "2026-12-01", "planned_finish": "2026-12-31"}}
            """)
    }

    static func row(_ cli: SiteSyncBinary, _ node: String, _ project: String) throws -> [String: Any] {
        let rows = try #require(try cli.json("report", "projects", "--data-dir", node, "--as-of", "2026-11-05", "--format", "json") as? [[String: Any]])
        return try #require(rows.first { $0["project"] as? String == project })
    }

    @Test func quantitiesFromTwoSitesCountOnceAndTheRowMatchesAHandCalculation() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, endpoint) = try NetworkSyncTests.startHub(cli)
        defer { hub.terminate() }
        try NetworkSyncTests.node(cli, "office", department: "office", role: "office", hub: endpoint)
        try Self.plan(cli, office: "office")
        try cli.ok("sync", "--data-dir", "office")
        for site in ["r1", "r2"] {
            try NetworkSyncTests.node(cli, site, department: "roads", hub: endpoint)
            try cli.ok("sync", "--data-dir", site)
        }
        // Offline, each site records part of the kerbs and a cost.
        try cli.ok("record", "put", "--data-dir", "r1", "quantity_entry", "new", "activity=a1", "date=2026-11-02", "quantity=50")
        try cli.ok("record", "put", "--data-dir", "r1", "cost_entry", "new", "activity=a1", "date=2026-11-03", "amount=300")
        try cli.ok("record", "put", "--data-dir", "r2", "quantity_entry", "new", "activity=a1", "date=2026-11-04", "quantity=30")
        try cli.ok("record", "put", "--data-dir", "r2", "cost_entry", "new", "activity=a2", "date=2026-11-04", "amount=400")
        try cli.ok("record", "put", "--data-dir", "r2", "quantity_entry", "new", "activity=a1", "date=2026-11-06", "quantity=40")
        for _ in 0..<2 { for node in ["r1", "r2", "office"] { try cli.ok("sync", "--data-dir", node) } }

        // By hand, at the end of 5 November: PV = 1000 × 5/10 + 3000 × 5/30 = 1000;
        // EV = 1000 × 80/200 + 3000 × 10 % = 700 (the 40 m of the 6th do not count yet);
        // AC = 300 + 400 = 700; SPI 0.7; CPI 1; done 700 / 4000 = 17.5 %; the plan called for
        // 700 by day 3.5 (200 a day), so SPI(t) = 3.5 / 5 = 0.7 and the score 70.
        for node in ["hub", "office", "r1", "r2"] {
            let row = try Self.row(cli, node, "p1")
            #expect(row["pv"] as? Double == 1000 && row["ev"] as? Double == 700 && row["ac"] as? Double == 700, "\(node): \(row)")
            #expect(row["spi"] as? Double == 0.7 && row["cpi"] as? Double == 1 && row["spi_t"] as? Double == 0.7)
            #expect(row["percent_complete"] as? Double == 17.5 && row["score"] as? Double == 70)
            #expect(row["grade"] as? String == "中" && row["color"] as? String == "red")
            let warnings = try #require(row["warnings"] as? [[String: Any]])
            #expect(warnings.first?["id"] as? String == "schedule/p1/2026-11")
        }
        // Not yet due: PV = 0 gives no SPI and no score, not a division by zero.
        let water = try Self.row(cli, "hub", "p2")
        #expect(water["pv"] as? Double == 0 && water["spi"] is NSNull && water["score"] is NSNull && water["color"] as? String == "green")
        // Departments and the city: sums of their projects, indices of the sums.
        let departments = try #require(try cli.json("report", "departments", "--data-dir", "hub", "--as-of", "2026-11-05",
                                                    "--format", "json") as? [[String: Any]])
        #expect(departments.compactMap { $0["department"] as? String } == ["roads", "water", ""])
        #expect(departments[0]["pv"] as? Double == 1000 && departments[0]["spi"] as? Double == 0.7 && departments[0]["red"] as? Int == 1)
        #expect(departments[2]["bac"] as? Double == 4500 && departments[2]["projects"] as? Int == 2)
        // A field node reports what it holds, and says so.
        let field = try cli.run(["report", "projects", "--data-dir", "r1", "--as-of", "2026-11-05", "--format", "json"])
        #expect(field.stderr.contains("covers department roads only"))
        #expect(!field.stdout.contains("W-001"))
        // CSV opens in spreadsheets: UTF-8 with a byte-order mark.
        let csv = try cli.ok("report", "projects", "--data-dir", "hub", "--as-of", "2026-11-05", "--format", "csv")
        #expect(csv.hasPrefix("\u{FEFF}project,code,name,department,percent_complete"))
        #expect(try cli.fails("report", "projects", "--data-dir", "hub", "--as-of", "5 Nov").contains("YYYY-MM-DD"))
        // Thresholds are configuration: with 中 from 75, a score of 70 grades 差.
        let config = cli.file("office/node.toml")
        let original = try String(contentsOfFile: config, encoding: .utf8)
        try (original + "\n[report]\ngrade_fair = 75\n").write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try Self.row(cli, "office", "p1")["grade"] as? String == "差")
        try (original + "\n[report]\ngrade_fair = 95\n").write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try cli.fails("report", "projects", "--data-dir", "office").contains("thresholds must not cross"))
        try (original + "\n[report]\nschedule_green = \"high\"\n").write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try cli.fails("report", "projects", "--data-dir", "office").contains("[report] schedule_green: must be a number"))
    }

    @Test func progressIsOneShortCommandAndBadInputChangesNothing() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "site", "--node", "site", "--department", "roads", "--role", "department")
        try cli.ok("init", "--data-dir", "office", "--node", "office", "--department", "office", "--role", "office")
        try Self.plan(cli, office: "office")
        try cli.ok("record", "put", "--data-dir", "office", "activity", "w2", "project=p2", "name=Kerbs", "unit=m")
        try cli.ok("bundle", "export", "--data-dir", "office", "--all", "--output", cli.file("plan.bundle"))
        try cli.ok("bundle", "import", "--data-dir", "site", cli.file("plan.bundle"))
        #expect(try cli.fails("progress", "--data-dir", "site", "Kerbs", "--qty", "5").contains("names 2 activities"))
        #expect(try cli.ok("progress", "--data-dir", "site", "R-001/Kerbs", "--qty", "12.5m", "--date", "2026-11-02")
                == "R-001/Kerbs: 12.50 of 200 m installed (6%)\n")
        #expect(try cli.ok("progress", "--data-dir", "site", "a1", "--qty", "37.5", "--date", "2026-11-03", "--note", "north side")
                .contains("50 of 200 m installed (25%)"))
        let activity = try cli.ok("record", "get", "--data-dir", "site", "activity", "a1")
        #expect(activity.contains("in_progress") && activity.contains("2026-11-02"), "the first progress starts it")
        #expect(try cli.ok("progress", "--data-dir", "site", "Paving", "--percent", "35") == "R-001/Paving: 35% complete\n")
        let before = try cli.digest("site")
        #expect(try cli.fails("progress", "--data-dir", "site", "R-001/Kerbs", "--qty", "3m3").contains("is measured in m, not m3"))
        #expect(try cli.fails("progress", "--data-dir", "site", "R-001/Kerbs", "--qty", "3", "--date", "2099-01-01").contains("in the future"))
        #expect(try cli.fails("progress", "--data-dir", "site", "X-404/Kerbs", "--qty", "3").contains("no activity 'X-404/Kerbs'"))
        #expect(try cli.fails("progress", "--data-dir", "site", "a1", "--percent", "140").contains("from 0 to 100"))
        #expect(try cli.fails("progress", "--data-dir", "site", "a1", "--qty", "-3").contains("positive number"))
        #expect(try cli.fails("log", "--data-dir", "site", "X-404", "--crew", "3").contains("no project 'X-404'"))
        #expect(try cli.fails("cost", "--data-dir", "site", "a1", "0").contains("positive decimal"))
        #expect(try cli.fails("risk", "--data-dir", "site", "R-001", "Flood", "--probability", "9", "--impact", "1").contains("from 1 to 5"))
        #expect(try cli.digest("site") == before, "refused input changes nothing")

        // The day's log, a cost, a risk and an issue, each one short command.
        try cli.ok("log", "--data-dir", "site", "r-001", "--date", "2026-11-03", "--weather", "rain", "--crew", "12", "--summary", "kerbs north")
        try cli.ok("log", "--data-dir", "site", "R-001", "--date", "2026-11-03", "--crew", "9", "--submit")
        let logs = try cli.ok("record", "list", "--json", "--data-dir", "site", "daily_log")
        #expect(logs.split(separator: "\n").count == 1 && logs.contains("\"crew_count\":9") && logs.contains("submitted")
                && logs.contains("kerbs north"), "one log per project and day; a later write on the same laptop corrects it: \(logs)")
        try cli.ok("cost", "--data-dir", "site", "R-001/Kerbs", "250.50", "--date", "2026-11-03")
        try cli.ok("risk", "--data-dir", "site", "R-001", "Flooding of the trench", "--probability", "4", "--impact", "4", "--date", "2026-11-02")
        #expect(try cli.ok("issue", "--data-dir", "site", "R-001", "Cracked kerbs", "--assign", "Li Wei", "--assign", "Zhang San")
                .hasPrefix("opened issue "))
        let row = try Self.row(cli, "site", "p1")
        #expect(row["ac"] as? Double == 250.5)
        let warnings = try #require(row["warnings"] as? [[String: Any]]).compactMap { $0["reason"] as? String }
        #expect(warnings.contains { $0.contains("Flooding of the trench") && $0.contains("scores 16") }, "\(warnings)")
        #expect(try cli.ok("record", "list", "--json", "--data-dir", "site", "issue").contains("Zhang San"))
    }

    @Test func theOfficePlansWithCommandsAPersonTypesAndTheScoresFollow() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "office", "--node", "office", "--department", "office", "--role", "office")
        try cli.ok("record", "put", "--data-dir", "office", "department", "roads", "name=Roads Bureau")
        try cli.ok("project", "add", "--data-dir", "office", "R-002", "Ring road, east", "--department", "roads", "--budget", "2500000",
                   "--start", "2026-03-01", "--finish", "2026-10-31")
        #expect(try cli.fails("project", "add", "--data-dir", "office", "r-002", "Again", "--department", "roads").contains("already exists"))
        #expect(try cli.fails("project", "add", "--data-dir", "office", "R-003", "X", "--department", "roads", "--start", "2026-05-01",
                              "--finish", "2026-04-01").contains("before --start"))
        try cli.ok("activity", "add", "--data-dir", "office", "R-002", "Kerbs", "--budget", "120000", "--quantity", "800", "--unit", "m",
                   "--start", "2026-04-01", "--finish", "2026-04-30")
        try cli.ok("kpi", "define", "--data-dir", "office", "R-002", "Accidents", "--direction", "lower_better", "--baseline", "6",
                   "--target", "0", "--weight", "2")
        try cli.ok("kpi", "define", "--data-dir", "office", "R-002", "Local hires", "--direction", "higher_better", "--baseline", "0",
                   "--target", "50")
        try cli.ok("progress", "--data-dir", "office", "R-002/Kerbs", "--qty", "400", "--date", "2026-04-15")
        try cli.ok("kpi", "read", "--data-dir", "office", "R-002/Accidents", "3", "--period", "2026-04")
        // A negative reading is a value, not an unknown option (a June reading: the report below is as of April).
        #expect(try cli.ok("kpi", "read", "--data-dir", "office", "R-002/Local hires", "-1", "--period", "2026-06")
                    .contains("= -1 for 2026-06"))
        #expect(try cli.fails("kpi", "read", "--data-dir", "office", "R-002/Accidents", "many").contains("not a number"))
        #expect(try cli.ok("project", "list", "--data-dir", "office").contains("R-002  Ring road, east  roads"))
        // The installed quantity is the exact sum ("400", where a binary sum printed "400.0"); without a
        // project the list covers every project (it failed with "missing statement argument" before).
        let kerbs = try cli.ok("activity", "list", "--data-dir", "office", "R-002").split(separator: "\n").first { $0.contains("Kerbs") }
        #expect(kerbs?.split(separator: " ").contains("400") == true && kerbs?.contains("400.0") == false)
        #expect(try cli.ok("activity", "list", "--data-dir", "office").contains("Kerbs"))
        #expect(try cli.ok("project", "show", "--data-dir", "office", "R-002").contains("Kerbs"))
        // Accidents 6 → 3 against a target of 0: achievement 0.5, score 50, weight 2; local hires
        // not reported: 0, weight 1. The project scores (2 × 50 + 0) / 3.
        let rows = try #require(try cli.json("report", "projects", "--data-dir", "office", "--as-of", "2026-04-30", "--format", "json")
                                as? [[String: Any]])
        #expect(rows.first?["score"] as? Double == 33.3 && rows.first?["grade"] as? String == "差")
        #expect(rows.first?["ev"] as? Double == 60000 && rows.first?["pv"] as? Double == 120000)
        // A field laptop cannot plan.
        try cli.ok("init", "--data-dir", "site", "--node", "site", "--department", "roads")
        try cli.ok("bundle", "export", "--data-dir", "office", "--all", "--output", cli.file("plan.bundle"))
        try cli.ok("bundle", "import", "--data-dir", "site", cli.file("plan.bundle"))
        #expect(try cli.fails("activity", "add", "--data-dir", "site", "R-002", "Lights", "--budget", "5").contains("plan field"))
    }

    @Test func aPlanSpreadsheetImportsAllOrNothingAndTwiceChangesNothing() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "office", "--node", "office", "--department", "office", "--role", "office")
        try cli.ok("record", "put", "--data-dir", "office", "department", "roads", "name=Roads Bureau")
        try cli.ok("record", "put", "--data-dir", "office", "department", "water", "name=Water Bureau")
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config/plan.example.csv").path
        #expect(try cli.ok("import", "plan", "--data-dir", "office", example).contains("2 new projects, 2 new goals, 7 new activities"))
        let imported = try cli.digest("office")
        #expect(try cli.ok("import", "plan", "--data-dir", "office", example).contains("0 new projects, 0 new goals, 0 new activities"))
        #expect(try cli.digest("office") == imported, "the same sheet again changes nothing")
        // A wrong row stops everything, named; so does a missing column.
        let header = "project_code,project_name,department,activity,start\n"
        let bad = "\u{FEFF}" + header + "R-020,New road,roads,Survey,2026-05-01\nR-020,New road,roads,Design,2026-13-01\n"
        try bad.write(toFile: cli.file("bad.csv"), atomically: true, encoding: .utf8)
        let error = try cli.fails("import", "plan", "--data-dir", "office", cli.file("bad.csv"))
        #expect(error.contains("line 3") && error.contains("nothing was imported"), "\(error)")
        try "project_code,project_name,activity\nR-021,X,Y\n".write(toFile: cli.file("short.csv"), atomically: true, encoding: .utf8)
        #expect(try cli.fails("import", "plan", "--data-dir", "office", cli.file("short.csv")).contains("the column department is missing"))
        try "project_code,project_name,department,activity\nR-022,X,parks,Y\n".write(toFile: cli.file("dept.csv"), atomically: true, encoding: .utf8)
        #expect(try cli.fails("import", "plan", "--data-dir", "office", cli.file("dept.csv")).contains("line 2"))
        #expect(try cli.digest("office") == imported, "nothing of a refused sheet was written")
        #expect(try cli.ok("project", "list", "--data-dir", "office").contains("Jianshe Road, widening"))
    }

    @Test func theMonthlyReviewIsMarkdownOrOneSelfContainedHTMLFile() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "office", "--node", "office", "--department", "office", "--role", "office")
        try Self.plan(cli, office: "office")
        try cli.ok("progress", "--data-dir", "office", "R-001/Kerbs", "--qty", "80", "--date", "2026-11-02")
        let markdown = try cli.ok("report", "monthly", "--data-dir", "office", "--period", "2026-11")
        for part in ["# Monthly review 2026-11", "## Headline", "## League table of departments", "## 红榜", "## 黑榜",
                     "## Lagging projects and why", "### R-001 Ring road — red", "Kerbs was due 2026-11-10", "## KPI scorecard",
                     "## Data quality"] {
            #expect(markdown.contains(part), "\(part)")
        }
        try cli.ok("report", "monthly", "--data-dir", "office", "--period", "2026-11", "--format", "html", "--output", cli.file("review.html"))
        let html = try String(contentsOfFile: cli.file("review.html"), encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("<svg") && html.contains("@media print"))
        #expect(html.components(separatedBy: "<svg").count == 3, "the S-curve and the colours by department")
        #expect(!html.contains("src=") && !html.contains("href="), "one self-contained file")
        #expect(try cli.fails("report", "monthly", "--data-dir", "office", "--period", "2026-13").contains("YYYY-MM"))
    }
}

/// `sitesync demo`, the README's first command.
@Suite struct DemoTests {
    @Test func theDemoPlaysTheWholeStoryAndLeavesNothingRunning() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let started = Date()
        let output = try cli.ok("demo", "--dir", cli.file("city"))
        if !output.contains("the data stays in") {
            print((try? String(contentsOfFile: cli.file("city/hub.log"), encoding: .utf8)) ?? "no hub.log")
        }
        #expect(Date().timeIntervalSince(started) < 120)
        for part in ["import plan", "conflicts --data-dir hub", "OPEN (rule mv", "auto (rule min", "NOT IN SYNC", "IN SYNC —", "LAST SEEN", "resolve --data-dir office",
                     "report projects --data-dir hub", "R-101", "D-201", "P-301", "ok:", "the data stays in"] {
            #expect(output.contains(part), "\(part)")
        }
        // The roads digests printed are equal.
        var digests: [Substring] = []
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count == 2, ["hub", "site-r1", "site-r2"].contains(String(words[0])), words[1].count == 64 { digests.append(words[1]) }
        }
        #expect(digests.count == 3 && Set(digests).count == 1, "\(digests)")
        // The hub is gone: its port refuses connections.
        let endpoint = try #require(output.split(separator: "\n").first { $0.hasPrefix("hub listening on tcp://") })
        let port = try #require(UInt16(endpoint.split(separator: ":").last!))
        #expect(!Self.accepts(port: port))
        #expect(FileManager.default.fileExists(atPath: cli.file("city/site-w1/sitesync.db")))
        #expect(!output.contains("\u{1B}"), "piped, the demo prints no escape codes")
        #expect(try cli.fails("demo", "--dir", cli.file("city")).contains("is not empty"))
        // The hub remembers when each site last synced: the monthly review's data quality.
        let month = String(ISO8601DateFormatter().string(from: Date()).prefix(7))
        let review = try cli.ok("report", "monthly", "--data-dir", cli.file("city/hub"), "--period", month)
        for site in ["site-r1", "site-r2", "site-w1", "office"] { #expect(review.contains("| \(site) |"), "\(site)") }
        #expect(review.contains("| today | ok |"))
    }

    static func accepts(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
