import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore
import Testing

/// The forecasts read from a node's records (docs/design.md §17): weekly progress from dated
/// entries, tags from daily logs, and a what-if that writes nothing.
@Suite struct ForecastStoreTests {
    static let asOf = CalendarDate("2026-03-15")!

    /// R-101 with Earthworks (5,000 m³) and 100 m³ a day reported 2–15 March with costs, Base
    /// (manual) at 10 % and 25 %, and a rainy log on 10 March.
    static func hub(_ root: TemporaryDirectory) throws -> Node {
        let hub = try TemplateTests.hub(root)
        for offset in 0..<14 {
            let day = CalendarDate("2026-03-02")!.adding(days: offset).description
            if day == "2026-03-10" { continue }
            try hub.writeEntry("quantity_entry", ["activity=a1", "date=\(day)", "quantity=100"])
            try hub.writeEntry("cost_entry", ["activity=a1", "date=\(day)", "amount=6000"])
        }
        try hub.writeEntry("percent_entry", ["activity=a2", "date=2026-03-04", "percent=10"])
        try hub.writeEntry("percent_entry", ["activity=a2", "date=2026-03-11", "percent=25"])
        try hub.writeEntry("daily_log", ["project=p1", "date=2026-03-10", "summary=大雨，全天停工"])
        try hub.writeEntry("daily_log", ["project=p1", "date=2026-03-11", "summary=Inspection by the supervisor; pump broke down"])
        try hub.writeEntry("daily_log", ["project=p1", "date=2026-03-12", "summary=土方开挖"])
        return hub
    }

    @Test func aForecastReadsWeeklyProgressAndTheLogsTags() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let forecast = try #require(try Forecasts.forecast(hub, project: "R-101", asOf: Self.asOf).first)
        let earthworks = try #require(forecast.activities.first { $0.id == "a1" })
        // 1,300 m³ over 13 working days (14 days from 2 March, less the rain day): 100 a day, two
        // whole weeks alike.
        #expect(earthworks.basis == .observed && earthworks.rate == 100 && earthworks.remaining == 3700 && earthworks.periods == 2)
        #expect(forecast.activities.first { $0.id == "a3" }?.basis == .planned)
        // Base (manual): 10 % by Wednesday 4 March, 25 % by 11 March: 25 points over 11 working
        // days (4–8 March, and 9–15 March less the rain day).
        let base = try #require(forecast.activities.first { $0.id == "a2" })
        #expect(base.basis == .observed && base.measure == "%" && base.remaining == 75 && abs(base.rate - 25.0 / 11) < 1e-12, "\(base)")
        #expect(forecast.tagCounts == ["rain": 1, "stoppage": 1, "inspection": 1, "breakdown": 1])
        #expect(abs(forecast.rainDaysPerMonth - 30.4375 / 3) < 1e-9, "one of three logged days rained")
        let json = ForecastJSON.forecasts([forecast], asOf: Self.asOf, settings: ForecastSettings()).canonicalText
        for name in ["\"finish_p50\"", "\"finish_p80\"", "\"finish_p95\"", "\"eac_p50\"", "\"eac_p80\"", "\"basis\":\"observed\"", "\"basis\":\"planned\""] {
            #expect(json.contains(name), "\(name) in \(json.prefix(300))")
        }
    }

    /// The same records and seed print the same forecast on two nodes, and the figures this
    /// code printed when they were pinned (a change to the reading or the runs that moves a
    /// forecast shows here, not only as a run differing from another of the same code).
    @Test func theSameDataAndSeedPrintTheSameForecast() throws {
        let settings = ForecastSettings()
        func printed(_ hub: Node) throws -> String {
            ForecastJSON.forecasts(try Forecasts.forecast(hub, asOf: Self.asOf, settings: settings), asOf: Self.asOf, settings: settings).canonicalText
        }
        let (rootA, rootB) = (TemporaryDirectory(), TemporaryDirectory())
        let first = try Self.hub(rootA), second = try Self.hub(rootB)
        #expect(try printed(first) == printed(second), "two nodes holding the same records")
        let forecast = try #require(try Forecasts.forecast(first, project: "R-101", asOf: Self.asOf, settings: settings).first)
        let pinned = [forecast.finish?.p50.description, forecast.finish?.p80.description, forecast.finish?.p95.description,
                      forecast.eac.map { String(format: "%.2f", $0.p50) }, forecast.eac.map { String(format: "%.2f", $0.p80) }]
        #expect(pinned == ["2026-07-27", "2026-08-02", "2026-08-09", "883448.98", "919476.80"], "\(pinned)")
    }

    @Test func aWhatIfChangesNoRecord() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let before = (try hub.store.digest(), try hub.store.counts().changes)
        let comparison = try Forecasts.whatIf(hub, project: "R-101", clauses: ["crew Earthworks +30%", "rain-days 0/month"], asOf: Self.asOf)
        #expect(comparison.changed.finish!.p50 < comparison.base.finish!.p50 || comparison.changed.activities[0].finish.p50 < comparison.base.activities[0].finish.p50)
        #expect(comparison.changed.activities.first { $0.id == "a1" }!.finish.p50 < comparison.base.activities.first { $0.id == "a1" }!.finish.p50)
        #expect(try hub.store.digest() == before.0 && hub.store.counts().changes == before.1, "the store is as it was")
        #expect(throws: NodeError.self) { try Forecasts.whatIf(hub, project: "R-101", clauses: ["crew Nothing +30%"], asOf: Self.asOf) }
        #expect(throws: NodeError.self) { try Forecasts.whatIf(hub, project: "R-101", clauses: ["hurry up"], asOf: Self.asOf) }
    }

    @Test func nodeTomlOverridesTheTagList() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let path = root.path + "/hub/node.toml"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text += "\n[forecast.tags]\nrain = [\"土方\"]\nfrost = [\"霜冻\", \"frost\"]\ninspection = []\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try NodeConfiguration.load(from: path, environment: [:])
        #expect(configuration.forecast.tags.phrases["rain"] == ["土方"] && configuration.forecast.tags.phrases["frost"] == ["霜冻", "frost"])
        #expect(configuration.forecast.tags.phrases["inspection"] == nil && configuration.forecast.tags.phrases["breakdown"] != nil)
        let reopened = try Node.open(at: root.path + "/hub")
        let forecast = try #require(try Forecasts.forecast(reopened, project: "R-101", asOf: Self.asOf, settings: ForecastSettings(runs: 100)).first)
        #expect(forecast.tagCounts == ["rain": 1, "stoppage": 1, "breakdown": 1], "土方 is rain now; 大雨 no longer; no inspection tag")
        try (text + "\n").replacingOccurrences(of: "frost = [\"霜冻\", \"frost\"]", with: "Frost = [\"x\"]").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: NodeError.self) { try NodeConfiguration.load(from: path, environment: [:]) }
    }
}
