import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance
import Testing

/// Suggested KPI weights by the entropy-weight method (docs/design.md §17.3).
@Suite struct KPIWeightsTests {
    @Test func theEntropyWeightsOfCasesSolvedByHand() throws {
        // A KPI that reads the same everywhere earns nothing; one that varies earns everything.
        let split = try #require(EntropyWeights.weights([[0, 5], [1, 5]], higherBetter: [true, true]))
        #expect(split.weights == [1, 0] && split.entropy == [0, 1])
        // 1, 2, 3 (higher better) and 3, 2, 1 (lower better) normalise alike: shares 0, 1/3, 2/3,
        // entropy −(⅓ ln ⅓ + ⅔ ln ⅔) / ln 3, equal weights.
        let mirrored = try #require(EntropyWeights.weights([[1, 3], [2, 2], [3, 1]], higherBetter: [true, false]))
        let e = -((1.0 / 3) * log(1.0 / 3) + (2.0 / 3) * log(2.0 / 3)) / log(3)
        #expect(abs(mirrored.entropy[0] - e) < 1e-12 && abs(mirrored.entropy[1] - e) < 1e-12)
        #expect(abs(mirrored.weights[0] - 0.5) < 1e-12)
        // More spread among the readings (one high, the rest low) is more information: lower entropy.
        let uneven = try #require(EntropyWeights.weights([[0, 0], [0, 1], [1, 2]], higherBetter: [true, true]))
        #expect(uneven.weights[0] > uneven.weights[1], "\(uneven)")
        #expect(EntropyWeights.weights([[1, 2]], higherBetter: [true, true]) == nil, "one row compares nothing")
        #expect(EntropyWeights.weights([[1, 2], [1, 2]], higherBetter: [true, true]) == nil, "nothing varies")
    }

    @Test func aSuggestionFromTheReadingsAppliedOnlyAtAnOffice() throws {
        let root = TemporaryDirectory()
        let hub = try TemplateTests.hub(root)
        try hub.writeEntry("kpi", id: "k2", ["project=p1", "name=Complaints", "direction=lower_better", "baseline=10", "target=0", "weight=1"])
        for (month, pass, complaints) in [("2026-03", "95", "4"), ("2026-04", "95", "2"), ("2026-05", "96", "9")] {
            try hub.writeEntry("kpi_reading", ["kpi=k1", "period=\(month)", "value=\(pass)"])
            try hub.writeEntry("kpi_reading", ["kpi=k2", "period=\(month)", "value=\(complaints)"])
        }
        let suggestion = try KPIWeights.suggest(hub, project: "R-101")
        #expect(suggestion.rows == 3 && suggestion.lines.map(\.name) == ["Complaints", "Pass rate"])
        #expect(abs(suggestion.lines[1].current - 2.0 / 3) < 1e-12, "current weights 2 and 1 as shares")
        #expect(abs(suggestion.lines.map(\.suggested).reduce(0, +) - 1) < 1e-12)
        // Pass rate reads 95, 95, 96: normalised 0, 0, 1, entropy 0; complaints 4, 2, 9 spread
        // more evenly (5/7, 1, 0): entropy above 0, so the pass rate earns more.
        #expect(suggestion.lines[1].suggested > suggestion.lines[0].suggested, "\(suggestion.lines.map(\.suggested))")
        #expect(try KPIWeights.apply(suggestion, node: hub) == 2)
        let weight = try hub.store.rows([("SELECT weight FROM kpi WHERE id = 'k1'", [])])[0][0][0]
        #expect(weight == String(format: "%.4f", suggestion.lines[1].suggested))
        let field = try TemplateTests.node(root, "site", .field)
        #expect { try KPIWeights.apply(suggestion, node: field) } throws: { "\($0)".contains("only an office or hub") }
        let few = try TemplateTests.hub(TemporaryDirectory())
        #expect { try KPIWeights.suggest(few, project: "R-101") } throws: { "\($0)".contains("too few readings") }
    }
}
