import Foundation
import Testing
@testable import SiteSyncBench

/// The read model's figures at a city's scale (5,000 projects, 100,000 activities): run by
/// hand with `SITESYNC_FIGURES_BENCH=1` (and `SITESYNC_FIGURES_BENCH_DAYS`, default 10, for
/// the days of entries); it prints the times. One project more is written through the node, for a
/// progress write after the first snapshot. A small run checks the benchmark itself.
@Suite struct FiguresBenchmarkTests {
    @Test func theBenchmarkComputesEveryProject() throws {
        let result = try FiguresBenchmark.run(scale: .init(projects: 20, activitiesPerProject: 5, days: 5)) { _ in }
        #expect(result.projects == 21 && result.activities == 101 && result.recomputeSeconds > 0 && result.cityP99Seconds > 0
                && result.progressRefreshSeconds > 0)
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["SITESYNC_FIGURES_BENCH"] == "1"))
    func aCitysFigures() throws {
        let days = Int(ProcessInfo.processInfo.environment["SITESYNC_FIGURES_BENCH_DAYS"] ?? "") ?? 10
        let result = try FiguresBenchmark.run(scale: .init(projects: 5_000, activitiesPerProject: 20, days: days)) { print($0) }
        print("figures at \(result.projects) projects, \(result.activities) activities, \(days) days of entries: "
              + "recompute \(result.recomputeSeconds) s (assessments \(result.assessmentSeconds) s), "
              + "unchanged refresh \(result.unchangedRefreshSeconds) s, refresh after a progress write \(result.progressRefreshSeconds) s, p99 city \(result.cityP99Seconds) s, "
              + "p99 projects \(result.projectsP99Seconds) s")
        #expect(result.projects == 5_001)
    }
}
