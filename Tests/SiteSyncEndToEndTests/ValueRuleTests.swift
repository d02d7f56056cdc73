import Foundation
import Testing

/// The same value rules on every path (issue 14): what `activity add` refuses, `import plan`
/// and `record put` refuse too, and a value a node's own check let through is refused by the
/// hub with a reason and shown at the node as rejected.
@Suite(.serialized) struct ValueRuleTests {
    @Test func importPlanRefusesANegativeBudgetAndAFinishBeforeTheStart() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "office", "--node", "office-1", "--department", "office", "--role", "office")
        try cli.ok("record", "put", "--data-dir", "office", "department", "roads", "name=Roads")
        let before = try cli.digest("office")
        let header = "project_code,project_name,department,activity,project_budget,activity_budget,start,finish\n"
        try (header + "R-1,Ring road,roads,Survey,100000,-50000,2026-05-01,2026-06-01\n")
            .write(toFile: cli.file("negative.csv"), atomically: true, encoding: .utf8)
        let negative = try cli.fails("import", "plan", "--data-dir", "office", cli.file("negative.csv"))
        #expect(negative.contains("line 2") && negative.contains("negative budgets are refused") && negative.contains("nothing was imported"),
                "\(negative)")
        try (header + "R-1,Ring road,roads,Survey,100000,50000,2026-06-01,2026-05-01\n")
            .write(toFile: cli.file("dates.csv"), atomically: true, encoding: .utf8)
        let dates = try cli.fails("import", "plan", "--data-dir", "office", cli.file("dates.csv"))
        #expect(dates.contains("planned_finish 2026-05-01 is before planned_start 2026-06-01"), "\(dates)")
        #expect(try cli.digest("office") == before, "nothing of either sheet was written")
        // record put takes the same rules.
        let put = try cli.fails("record", "put", "--data-dir", "office", "project", "p9", "code=R-9", "name=X", "department=roads",
                                "budget=-1")
        #expect(put.contains("negative budgets are refused"), "\(put)")
    }

    @Test func costAndPercentAreRefusedWithTheirReasonAndTheBudgetGapIsReported() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "office", "--node", "office-1", "--department", "office", "--role", "office")
        try cli.ok("record", "put", "--data-dir", "office", "department", "roads", "name=Roads")
        try cli.ok("project", "add", "--data-dir", "office", "R-1", "Ring road", "--department", "roads", "--budget", "4200000")
        try cli.ok("activity", "add", "--data-dir", "office", "R-1", "Kerbs", "--budget", "3250000", "--quantity", "800", "--unit", "m",
                   "--start", "2026-01-05", "--finish", "2026-03-01")
        let cost = try cli.fails("cost", "--data-dir", "office", "R-1/Kerbs", "-500")
        #expect(cost.contains("negative costs are refused"), "\(cost)")
        #expect(!cost.contains("Missing expected argument"), "\(cost)")
        try cli.ok("cost", "--data-dir", "office", "R-1/Kerbs", "500", "--date", "2026-01-10")
        let percent = try cli.fails("progress", "--data-dir", "office", "R-1/Kerbs", "--percent", "90", "--date", "2026-01-10")
        #expect(percent.contains("measured by quantity (ev_method units"), "\(percent)")
        let report = try cli.ok("report", "projects", "--data-dir", "office", "--as-of", "2026-02-01")
        #expect(report.contains("activities cover 3,250,000 of the budget 4,200,000"), "\(report)")
        let show = try cli.ok("project", "show", "--data-dir", "office", "R-1")
        #expect(show.contains("activities cover 3,250,000 of the budget 4,200,000"), "\(show)")
        // Listing every activity needs no project.
        #expect(try cli.ok("activity", "list", "--data-dir", "office").contains("Kerbs"))
    }

    /// A reading of 150 on a percentage KPI, written at a crew whose copy of the KPI does not
    /// yet say it is a percentage: its own check lets it through, the hub refuses it
    /// (`invalid-value`), and the crew shows it as rejected.
    @Test func theHubRefusesAnOutOfRangeReadingAndTheNodeShowsItRejected() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try SecurityTests.fleet(cli)
        defer { hub.process.terminate() }
        try cli.ok("record", "put", "--data-dir", "office", "kpi", "k1", "project=p1", "name=Pass rate", "direction=higher_better",
                   "baseline=80", "target=100")
        try cli.ok("sync", "--data-dir", "office")
        try cli.ok("sync", "--data-dir", "r1")
        try cli.ok("record", "put", "--data-dir", "office", "kpi", "k1", "unit=%")
        try cli.ok("sync", "--data-dir", "office")
        // Locally the KPI has no unit yet: 150 passes the crew's own check.
        try cli.ok("kpi", "read", "--data-dir", "r1", "k1", "150", "--period", "2026-10")
        let synced = try cli.ok("sync", "--data-dir", "r1")
        #expect(synced.contains("1 refused") && synced.contains("invalid-value"), "\(synced)")
        #expect(synced.contains("outside the range of KPI Pass rate"), "\(synced)")
        #expect(try cli.ok("record", "list", "--data-dir", "hub", "kpi_reading").contains("0 kpi_reading records"))
        let rejected = try #require(try cli.json("conflicts", "--rejected", "--json", "--data-dir", "r1") as? [[String: Any]])
        #expect(rejected.compactMap { $0["code"] as? String } == ["invalid-value"], "\(rejected)")
        // The crew's own check now knows the range.
        let again = try cli.fails("kpi", "read", "--data-dir", "r1", "k1", "150", "--period", "2026-11")
        #expect(again.contains("outside the range of KPI Pass rate"), "\(again)")
    }
}
