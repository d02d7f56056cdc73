import Foundation
import Testing

/// One meaning per command: `sitesync history` is the sync history, `sitesync log PROJECT …`
/// writes a project's daily log and nothing else (issue 15, item 6).
@Suite struct CommandMeaningTests {
    @Test func historyShowsTheSyncHistoryAndLogOnlyWritesADailyLog() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "office", "--node", "office-1", "--department", "office", "--role", "office", "--insecure")
        try cli.ok("init", "--data-dir", "site", "--node", "site-a", "--department", "roads", "--insecure")
        try cli.ok("record", "put", "--data-dir", "office", "department", "roads", "name=Roads")
        try cli.ok("record", "put", "--data-dir", "office", "project", "p1", "code=R-001", "name=Ring road", "department=roads")

        // Before any exchange: the history says so, and its JSON is an empty list.
        #expect(try cli.ok("history", "--data-dir", "site").contains("no sync yet"))
        #expect((try cli.json("history", "--data-dir", "site", "--json") as? [Any])?.isEmpty == true)

        // A bundle carries the plan to the site; the history shows it, on both sides.
        try cli.ok("bundle", "export", "--data-dir", "office", "--all", "--output", cli.file("plan.bundle"))
        try cli.ok("bundle", "import", "--data-dir", "site", cli.file("plan.bundle"))
        let history = try #require(try cli.json("history", "--data-dir", "site", "--json") as? [[String: Any]])
        #expect(history.count == 1 && history.first?["kind"] as? String == "bundle-in" && history.first?["pulled"] as? Int == 2,
                "\(history)")
        #expect(try cli.ok("history", "--data-dir", "office", "--limit", "1").contains("bundle-out"))

        // `log` writes the day's log of a project, and only that.
        #expect(try cli.ok("log", "--data-dir", "site", "R-001", "--date", "2026-11-03", "--crew", "12") == "logged R-001 for 2026-11-03\n")
        #expect(try cli.ok("record", "list", "--json", "--data-dir", "site", "daily_log").contains("\"crew_count\":12"))
        let before = try cli.digest("site")
        // Without a project it is no longer the history: it says where the history went.
        #expect(try cli.fails("log", "--data-dir", "site").contains("sitesync history"))
        #expect(try cli.fails("log", "--data-dir", "site", "R-001").contains("sitesync history"))
        #expect(try cli.fails("log", "--data-dir", "site", "--limit", "5").contains("sitesync history"), "the history's old spelling")
        // And the history takes no project.
        #expect(try cli.fails("history", "--data-dir", "site", "R-001").contains("R-001"))
        #expect(try cli.digest("site") == before, "refused commands change nothing")
    }
}
