import Foundation
import Testing

/// `sitesync-bench`, the benchmarks' own binary, prints the figures of docs/design.md §9 with
/// the durability they were measured at.
@Suite struct BenchTests {
    /// A small run of the replica engine, the report and the forecasts: every figure of the
    /// replica engine is there, the forecasts' beside their baseline, and `synchronous` says FULL, read back from both sides' connections.
    @Test func theFiguresStateTheDurabilityTheyWereMeasuredAt() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let result = try cli.runBench(["--quick", "--changes", "1000", "--no-network", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let figures = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(figures["synchronous"] as? String == "FULL", "\(figures)")
        #expect(figures["changes"] as? Int == 1000, "\(figures)")
        for figure in ["apply_changes_per_s", "baseline_upsert_rows_per_s", "apply_ratio", "local_write_p50_ms",
                       "report_seconds_100_projects", "forecast_seconds_500_projects", "forecast_baseline_report_seconds"] {
            #expect(((figures[figure] as? NSNumber)?.doubleValue ?? 0) > 0, "\(figure): \(figures)")
        }
        #expect(figures["sync_changes_per_s"] == nil, "--no-network measured the network: \(figures)")
    }
}
