import Foundation
import Testing

/// `sitesync forecast` as a person types it (docs/design.md §17): the JSON names, a what-if
/// that writes nothing, and a bad clause that says what is accepted.
@Suite struct ForecastCommandTests {
    @Test func aForecastAndAWhatIfFromTheCommandLine() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "office", "--node", "office", "--department", "office", "--role", "office")
        try cli.ok("record", "put", "--data-dir", "office", "department", "roads", "name=Roads Bureau")
        try cli.ok("project", "add", "--data-dir", "office", "R-002", "Ring road, east", "--department", "roads", "--budget", "200000",
                   "--start", "2026-04-01", "--finish", "2026-06-30")
        try cli.ok("activity", "add", "--data-dir", "office", "R-002", "Earthworks", "--budget", "100000", "--quantity", "1000", "--unit", "m3",
                   "--start", "2026-04-01", "--finish", "2026-04-30")
        try cli.ok("activity", "add", "--data-dir", "office", "R-002", "Paving", "--budget", "100000", "--quantity", "500", "--unit", "m2",
                   "--start", "2026-05-01", "--finish", "2026-06-30")
        for day in 1...14 {
            try cli.ok("progress", "--data-dir", "office", "R-002/Earthworks", "--qty", "20", "--date", String(format: "2026-04-%02d", day))
        }
        try cli.ok("log", "--data-dir", "office", "R-002", "--date", "2026-04-14", "--summary", "监理检查, inspection passed")
        let tags = try #require(try cli.json("forecast", "--data-dir", "office", "--tags", "--json", "--as-of", "2026-04-14") as? [[String: Any]])
        #expect(tags.first?["tags"] as? [String: Int] == ["inspection": 1], "\(tags)")
        let forecast = try #require(try cli.json("forecast", "--data-dir", "office", "R-002", "--as-of", "2026-04-14", "--json") as? [String: Any])
        #expect(forecast["runs"] as? Int == 10_000)
        let project = try #require((forecast["projects"] as? [[String: Any]])?.first)
        for key in ["finish_p50", "finish_p80", "finish_p95", "eac_p50", "eac_p80"] { #expect(project[key] != nil, "\(key)") }
        let activities = try #require(project["activities"] as? [[String: Any]])
        #expect(activities.map { $0["basis"] as? String } == ["observed", "planned"] || activities.map { $0["basis"] as? String } == ["planned", "observed"])
        let earthworks = try #require(activities.first { $0["name"] as? String == "Earthworks" })
        // 280 of 1,000 m³ at 20 a day, no spread: 36 days from 15 April.
        #expect(earthworks["finish_p50"] as? String == "2026-05-20" && earthworks["finish_p95"] as? String == "2026-05-20")
        let digest = try cli.ok("digest", "--data-dir", "office")
        let whatIf = try #require(try cli.json("forecast", "--data-dir", "office", "R-002", "--as-of", "2026-04-14", "--json",
                                               "--what-if", "crew Earthworks +25%") as? [String: Any])
        let difference = try #require(whatIf["difference"] as? [String: Any])
        // At 25 a day: 720 in 29 days, to 13 May, a week earlier; the project waits for Paving.
        let changed = try #require((whatIf["changed"] as? [String: Any])?["activities"] as? [[String: Any]])
        #expect(changed.first { $0["name"] as? String == "Earthworks" }?["finish_p50"] as? String == "2026-05-13")
        #expect((difference["finish_p50_days"] as? Int).map { $0 <= 0 } == true)
        #expect(try cli.ok("digest", "--data-dir", "office") == digest, "a what-if writes nothing")
        let error = try cli.fails("forecast", "--data-dir", "office", "R-002", "--what-if", "crew Earthworks faster")
        #expect(error.contains("crew Earthworks faster") && error.contains("'rain-days N/month'"), "\(error)")
        #expect(try cli.fails("forecast", "--data-dir", "office", "--what-if", "rain-days 8/month").contains("needs a PROJECT"))
    }

    /// A generated history, the model's evaluation and a project's delay probability, from the
    /// command line; before training, the forecast says there is no model.
    @Test func aHistoryTheModelAndADelayProbabilityFromTheCommandLine() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "hub", "--node", "hub", "--department", "office", "--role", "hub")
        try cli.ok("forecast", "history", "generate", "--data-dir", "hub", "--projects", "40", "--seed", "7", "--start", "2024-01-01", "--months", "24")
        // H-040 (seed 7) is still running at the history's end.
        let before = try #require(try cli.json("forecast", "--data-dir", "hub", "H-040", "--as-of", "2026-01-01", "--runs", "100", "--json") as? [String: Any])
        let project = try #require((before["projects"] as? [[String: Any]])?.first)
        #expect(project["delay_probability"] is NSNull, "no model yet: \(project["delay_probability"] ?? "missing")")
        let evaluation = try #require(try cli.json("forecast", "model", "evaluate", "--data-dir", "hub", "--as-of", "2026-01-01", "--json") as? [String: Any])
        #expect((evaluation["reliability"] as? [Any])?.count == 10 && (evaluation["model"] as? [String: Any])?["auc"] != nil, "\(evaluation)")
        try cli.ok("forecast", "model", "train", "--data-dir", "hub", "--as-of", "2026-01-01")
        let after = try #require(try cli.json("forecast", "--data-dir", "hub", "H-040", "--as-of", "2026-01-01", "--runs", "100", "--json") as? [String: Any])
        let predicted = try #require((after["projects"] as? [[String: Any]])?.first)
        let probability = try #require(predicted["delay_probability"] as? Double, "\(predicted["delay_probability"] ?? "missing")")
        #expect(probability >= 0 && probability <= 1 && (predicted["delay_factors"] as? [Any])?.count == 3)
        // The project's report carries the forecast, the logs' tags and the delay probability.
        let shown = try cli.ok("project", "show", "--data-dir", "hub", "H-040")
        #expect(shown.contains("forecast: finish P50") && shown.contains("daily-log tags (days): ") && shown.contains("rain ")
                && shown.contains("delay probability ") && shown.contains("moved most by: "), "\(shown)")
    }
}
