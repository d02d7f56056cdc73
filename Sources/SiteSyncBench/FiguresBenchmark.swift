import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// The HTTP API's figures at a city's scale: how long ``FiguresCache`` takes to compute a
/// snapshot from nothing, and how long the requests served from it take.
public enum FiguresBenchmark {
    public struct Result: Sendable {
        public let projects: Int
        public let activities: Int
        /// The first snapshot, computed from the database.
        public let recomputeSeconds: Double
        /// Only the assessments (``Reports/assessments(_:asOf:thresholds:)``), the bulk of it.
        public let assessmentSeconds: Double
        /// `refreshIfChanged()` with nothing changed.
        public let unchangedRefreshSeconds: Double
        /// `refreshIfChanged()` after one progress write (an installed quantity): incremental,
        /// the written project only reassessed.
        public let progressRefreshSeconds: Double
        /// The 99th percentile of `city` and of a page of `projects` over the held snapshot.
        public let cityP99Seconds: Double
        public let projectsP99Seconds: Double
    }

    /// Writes a hub holding `scale` (``ReportBenchmark/writeCity(at:scale:asOf:)``) and measures.
    public static func run(scale: ReportBenchmark.Scale, progress: (String) -> Void) throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-figuresbench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try Node.initialize(at: directory, configuration: NodeConfiguration(name: "hub-1", department: "roads", role: .hub,
                                                                                        durability: .off))
        let asOf = CalendarDate("2026-11-30")!
        progress("figures: writing \(scale.projects) projects × \(scale.activitiesPerProject) activities × \(scale.days) days of entries")
        try ReportBenchmark.writeCity(at: directory + "/" + Node.databaseFile, scale: scale, asOf: asOf)
        // One project written through the node, for the progress write after the first snapshot
        // (the city above went straight into the typed tables, at rowids clear of the records').
        try node.writeEntry("department", id: "roads", ["name=Roads"])
        try node.writeEntry("project", id: "bench", ["code=BENCH", "name=Bench", "department=roads", "budget=1000"])
        try node.writeEntry("activity", id: "bench-1", ["project=bench", "name=Lay", "budget=1000", "budget_quantity=100",
                                                        "ev_method=units", "planned_start=2026-11-01", "planned_finish=2026-12-31"])
        let cache = try FiguresCache(node: node, today: { asOf })
        progress("figures: computing the first snapshot")
        let (snapshot, recompute) = try timed { try cache.snapshot(asOf: asOf) }
        guard snapshot.assessments.count == scale.projects + 1 else {
            throw StoreError(.database, "benchmark check failed: the snapshot holds \(snapshot.assessments.count) of \(scale.projects) projects")
        }
        let (_, assessment) = try timed { try Reports.assessments(node.store, asOf: asOf, thresholds: node.configuration.report) }
        let (_, unchanged) = try timed { try cache.refreshIfChanged() }
        try node.writeEntry("quantity_entry", ["activity=bench-1", "date=\(asOf)", "quantity=7.5"])
        let (refreshed, progress) = try timed { try cache.refreshIfChanged() }
        guard refreshed, try cache.snapshot(asOf: asOf).assessment("bench", scope: .city)?.figures.earnedValue == ExactDecimal(75) else {
            throw StoreError(.database, "benchmark check failed: the progress write did not reach the figures")
        }
        func p99(_ body: () throws -> JSONValue) throws -> Double {
            var samples: [Double] = []
            for _ in 0..<200 { samples.append(try timed { try body().canonicalText }.seconds) }
            return samples.sorted()[Int(Double(samples.count) * 0.99) - 1]
        }
        let city = try p99 { try cache.snapshot(asOf: asOf).city(.city) }
        let projects = try p99 { try cache.snapshot(asOf: asOf).projects(.department("water"), filter: ProjectFilter(color: "red"), limit: 50) }
        return Result(projects: scale.projects + 1, activities: scale.projects * scale.activitiesPerProject + 1, recomputeSeconds: recompute,
                      assessmentSeconds: assessment, unchangedRefreshSeconds: unchanged, progressRefreshSeconds: progress, cityP99Seconds: city, projectsP99Seconds: projects)
    }

    static func timed<T>(_ body: () throws -> T) rethrows -> (value: T, seconds: Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let value = try body()
        return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}
