import Foundation
import GRDB
import SiteSyncCore
import SiteSyncDomain
import SiteSyncPerformance
import SiteSyncStore

/// The completion forecasts over 500 projects (docs/design.md §17): `forecast_seconds_500_projects`,
/// beside `report projects` over the same data in the same run as the baseline.
public enum ForecastBenchmark {
    public struct Result: Sendable {
        /// The fastest of the rounds: all forecasts (read, 10,000 runs each), and the projects report.
        public var forecastSeconds: Double
        public var reportSeconds: Double
        /// Of ``forecastSeconds``, the reading (the SQL and the tags), in the same round.
        public var readSeconds: Double
        public var projects: Int
        public var runs: Int
    }

    /// The full scale: ``ReportBenchmark``'s city (500 projects × 40 activities × 90 days of
    /// daily quantities and weekly costs); `--quick`: the same 500 projects with 28 days.
    public static let full = ReportBenchmark.Scale(projects: 500, activitiesPerProject: 40, days: 90)
    public static let quick = ReportBenchmark.Scale(projects: 500, activitiesPerProject: 40, days: 28)

    /// Writes the city with a daily log per project and day (one in seven says it rained), then
    /// times, in each of `rounds`, every project's forecast and the projects report.
    public static func run(scale: ReportBenchmark.Scale, rounds: Int = 2, progress: (String) -> Void) throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-forecastbench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/sitesync.db"
        let store = try ReplicaStore.create(at: path, node: "hub-1", key: .generate())
        let asOf = CalendarDate("2026-11-30")!
        progress("forecast: writing \(scale.projects) projects × \(scale.activitiesPerProject) activities × \(scale.days) days, with daily logs")
        try ReportBenchmark.writeCity(at: path, scale: scale, asOf: asOf)
        try writeLogs(at: path, scale: scale, asOf: asOf)
        let settings = ForecastSettings()
        var result = Result(forecastSeconds: .infinity, reportSeconds: .infinity, readSeconds: .infinity, projects: scale.projects, runs: settings.runs)
        for round in 1...rounds {
            progress("forecast: round \(round)/\(rounds): \(scale.projects) forecasts of \(settings.runs) runs, then the projects report")
            var start = DispatchTime.now().uptimeNanoseconds
            let inputs = try Forecasts.load(store, asOf: asOf)
            let read = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let forecasts = inputs.map { Forecast.project($0, asOf: asOf, settings: settings) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if seconds < result.forecastSeconds { (result.forecastSeconds, result.readSeconds) = (seconds, read) }
            guard forecasts.count == scale.projects, forecasts.allSatisfy({ $0.finish != nil && $0.activities.allSatisfy { $0.basis == .observed } }) else {
                throw StoreError(.database, "benchmark check failed: \(forecasts.count) of \(scale.projects) projects forecast from observed rates")
            }
            start = DispatchTime.now().uptimeNanoseconds
            let rows = try Reports.assessments(store, asOf: asOf)
            result.reportSeconds = min(result.reportSeconds, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            guard rows.count == scale.projects else {
                throw StoreError(.database, "benchmark check failed: the report covered \(rows.count) of \(scale.projects) projects")
            }
        }
        return result
    }

    /// One daily log per project and day; every seventh says it rained.
    static func writeLogs(at path: String, scale: ReportBenchmark.Scale, asOf: CalendarDate) throws {
        let first = asOf.adding(days: -(scale.days - 1))
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            let departments = ["roads", "water", "parks", "housing", "transport"]
            var rowid: Int64 = 1 << 41
            let log = try db.makeStatement(sql: "INSERT INTO daily_log (rowid, id, department, project, date, summary) VALUES (?, ?, ?, ?, ?, ?)")
            for p in 0..<scale.projects {
                for d in 0..<scale.days {
                    rowid += 1
                    let summary = (p + d) % 7 == 0 ? "下雨，停工半天" : "paving and kerbs as planned"
                    try log.execute(arguments: [rowid, "l\(p)-\(d)", departments[p % departments.count], "p\(p)",
                                                first.adding(days: d).description, summary])
                }
            }
        }
        try queue.close()
    }
}
