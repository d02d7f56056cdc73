import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore
import Testing

/// The generated histories, the delay model and its evaluation (docs/design.md §17), on data
/// written through the node's own write path.
@Suite struct DelayModelTests {
    static let start = CalendarDate("2024-01-01")!
    static let asOf = CalendarDate("2026-01-01")!

    static func hub(_ root: TemporaryDirectory, _ name: String = "hub", projects: Int, seed: UInt64 = 7,
                    parameters: HistoryParameters = HistoryParameters()) throws -> (Node, HistorySummary) {
        let hub = try TemplateTests.node(root, name, .hub)
        let summary = try HistoryGenerator.generate(into: hub, projects: projects, seed: seed, start: start, months: 24, parameters: parameters)
        return (hub, summary)
    }

    /// What a generated history holds, independent of the node's own ids and clocks.
    static func content(_ node: Node) throws -> [String] {
        try node.store.rows([
            ("SELECT id || ' ' || coalesce(status, '') || ' ' || coalesce(actual_start, '') || ' ' || coalesce(actual_finish, '') FROM activity ORDER BY id", []),
            ("SELECT id || ' ' || date || ' ' || quantity FROM quantity_entry ORDER BY id", []),
            ("SELECT project || ' ' || date || ' ' || coalesce(summary, '') FROM daily_log ORDER BY project, date", []),
        ]).flatMap { $0.map { $0[0] ?? "" } }
    }

    @Test func aGeneratedHistoryIsSeededRealisticAndWrittenOnce() throws {
        let root = TemporaryDirectory()
        let (a, summary) = try Self.hub(root, "a", projects: 30)
        let (b, _) = try Self.hub(root, "b", projects: 30)
        #expect(try Self.content(a) == Self.content(b), "the same seed writes the same history")
        #expect(summary.completed > 0 && summary.late > 0 && summary.late < summary.completed, "some late, some on time: \(summary)")
        #expect(summary.completed < summary.projects, "some still running at the end: \(summary)")
        let changes = try a.store.counts().changes
        _ = try HistoryGenerator.generate(into: a, projects: 30, seed: 7, start: Self.start, months: 24)
        #expect(try a.store.counts().changes == changes, "generating the same history again changes nothing")
        let (c, _) = try Self.hub(root, "c", projects: 30, seed: 8)
        #expect(try Self.content(c) != Self.content(a), "another seed, another history")
        // The tag list recognises the logs' weather and events, in both languages.
        let forecasts = try Forecasts.load(a.store, asOf: Self.asOf)
        let tags = forecasts.reduce(into: [String: Int]()) { total, project in total.merge(project.tagCounts, uniquingKeysWith: +) }
        #expect((tags["rain"] ?? 0) > 100 && (tags["breakdown"] ?? 0) > 0 && (tags["material_shortage"] ?? 0) > 0 && (tags["inspection"] ?? 0) > 0, "\(tags)")
        let completed = try a.store.rows([("SELECT count(*) FROM activity WHERE status = 'completed' AND actual_finish IS NOT NULL", [])])[0][0][0]
        #expect(Int(completed ?? "0")! > 0)
    }

    @Test func theModelBeatsChanceTheBaseRateAndTheRules() throws {
        let root = TemporaryDirectory()
        let (hub, _) = try Self.hub(root, projects: 60)
        let evaluation = try DelayHistory.evaluate(hub, upTo: Self.asOf)
        #expect(evaluation.testProjects >= 10 && evaluation.trainProjects >= 20, "\(evaluation)")
        #expect(evaluation.modelAUC > 0.7, "\(evaluation)")
        #expect(evaluation.modelBrier < evaluation.baseRateBrier && evaluation.modelBrier < evaluation.baselineBrier, "\(evaluation)")
        #expect(evaluation.reliability.count == 10 && evaluation.reliability.map(\.count).reduce(0, +) == evaluation.testExamples)
    }

    @Test func trainingIsDeterministicAndAPredictionNamesWhatMovedIt() throws {
        let root = TemporaryDirectory()
        let (hub, _) = try Self.hub(root, projects: 40)
        let first = try DelayHistory.train(hub, upTo: Self.asOf)
        let second = try DelayHistory.train(hub, upTo: Self.asOf)
        #expect(first == second && first.projects >= DelayModel.minimumProjects)
        #expect(try DelayHistory.load(hub) == first, "stored in the data directory, read back the same")
        // Slow work and falling SPI(t) pull towards late.
        #expect(first.coefficients[DelayFeatures.names.firstIndex(of: "spi_t")!] < 0, "\(first.coefficients)")
        let running = try hub.store.rows([("SELECT DISTINCT p.code FROM project p JOIN activity a ON a.project = p.id WHERE a.actual_finish IS NULL ORDER BY p.code", [])])[0]
        let code = try #require(running.first?[0])
        let features = try #require(try DelayHistory.features(hub, project: code, asOf: Self.asOf))
        let prediction = first.predict(features)
        #expect(prediction.probability > 0 && prediction.probability < 1 && prediction.contributions.count == DelayFeatures.names.count)
        #expect(abs(prediction.contributions[0].pull) >= abs(prediction.contributions[1].pull))
    }

    @Test func tooLittleHistoryPredictsNothing() throws {
        let root = TemporaryDirectory()
        let (hub, summary) = try Self.hub(root, projects: 12)
        #expect(summary.completed < DelayModel.minimumProjects)
        #expect { try DelayHistory.train(hub, upTo: Self.asOf) } throws: { "\($0)".contains("too little history") }
        #expect(try DelayHistory.load(hub) == nil, "no model stored")
        // One outcome only: every project late (no allowance at all, slow crews).
        var slow = HistoryParameters()
        slow.planAllowance = 0.8
        slow.productivityMean = -0.4
        let (late, lateSummary) = try Self.hub(root, "late", projects: 30, parameters: slow)
        #expect(lateSummary.late == lateSummary.completed && lateSummary.completed >= DelayModel.minimumProjects, "\(lateSummary)")
        #expect { try DelayHistory.train(late, upTo: Self.asOf) } throws: { "\($0)".contains("finished late") }
    }

    @Test func scoresAgreeWithCasesSolvedByHand() {
        let perfect: [(p: Double, late: Bool)] = [(0.1, false), (0.2, false), (0.8, true), (0.9, true)]
        #expect(ForecastScore.auc(perfect) == 1)
        #expect(ForecastScore.auc([(0.5, false), (0.5, true)]) == 0.5, "a tie counts half")
        #expect(ForecastScore.auc([(0.9, false), (0.1, true)]) == 0)
        #expect(abs(ForecastScore.brier(perfect) - (0.01 + 0.04 + 0.04 + 0.01) / 4) < 1e-12)
        let bins = ForecastScore.reliability(perfect + [(1.0, true)])
        #expect(bins[9].count == 2 && bins[9].observedLate == 1 && bins[1].count == 1 && bins[8].count == 1)
    }
}
