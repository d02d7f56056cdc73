import Foundation
import GRDB
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// The projects report at the hub over a city's worth of data (docs/design.md §9):
/// `report_seconds_500_projects`.
public enum ReportBenchmark {
    public struct Scale: Sendable {
        public var projects: Int
        public var activitiesPerProject: Int
        public var days: Int

        public static let full = Scale(projects: 500, activitiesPerProject: 40, days: 90)
        public static let quick = Scale(projects: 100, activitiesPerProject: 40, days: 90)

        /// A quantity entry every this many days (1: daily).
        public var entryEvery = 1

        public init(projects: Int, activitiesPerProject: Int, days: Int, entryEvery: Int = 1) {
            self.projects = projects
            self.activitiesPerProject = activitiesPerProject
            self.days = days
            self.entryEvery = entryEvery
        }

        public var entries: Int { projects * activitiesPerProject * ((days + entryEvery - 1) / entryEvery) }
    }

    /// Writes `scale`'s city straight into the typed tables of the database at `path`: each
    /// project in one of five departments, each activity with a plan, a quantity entry every
    /// `entryEvery` days and a cost entry a week for `days` days up to `asOf`. Each activity's
    /// budget is 10,000 to 19,750 yuan.
    public static func writeCity(at path: String, scale: Scale, asOf: CalendarDate) throws {
        let first = asOf.adding(days: -(scale.days - 1))
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            let departments = ["roads", "water", "parks", "housing", "transport"]
            // Rows far above any `sync_record` id: a typed row's rowid is its record's, so a record
            // the store writes later (a benchmark's probe) must not meet one of these.
            var rowid: Int64 = 1 << 40
            func next() -> Int64 { rowid += 1; return rowid }
            let project = try db.makeStatement(sql: "INSERT INTO project (rowid, id, code, name, department) VALUES (?, ?, ?, ?, ?)")
            let activity = try db.makeStatement(sql: """
                INSERT INTO activity (rowid, id, department, project, name, budget, budget_quantity, planned_start, planned_finish, ev_method, status)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'units', 'in_progress')
                """)
            let quantity = try db.makeStatement(sql: "INSERT INTO quantity_entry (rowid, id, department, activity, date, quantity) VALUES (?, ?, ?, ?, ?, ?)")
            let cost = try db.makeStatement(sql: "INSERT INTO cost_entry (rowid, id, department, activity, date, amount) VALUES (?, ?, ?, ?, ?, ?)")
            var entry = 0
            for p in 0..<scale.projects {
                let department = departments[p % departments.count]
                try project.execute(arguments: [next(), "p\(p)", "P-\(p)", "Project \(p)", department])
                for a in 0..<scale.activitiesPerProject {
                    let id = "p\(p)a\(a)"
                    let start = first.adding(days: a % 20), finish = first.adding(days: scale.days + a % 60)
                    try activity.execute(arguments: [next(), id, department, "p\(p)", "Activity \(a)", "\(10_000 + a * 250)", "\(scale.days * 10)",
                                                     start.description, finish.description])
                    for d in stride(from: 0, to: scale.days, by: scale.entryEvery) {
                        entry += 1
                        let date = first.adding(days: d).description
                        try quantity.execute(arguments: [next(), "q\(entry)", department, id, date, "\(5 + (p + a + d) % 9).5"])
                        if d % 7 == 0 { try cost.execute(arguments: [next(), "c\(entry)", department, id, date, "\(800 + (a * d) % 500)"]) }
                    }
                }
            }
        }
        try queue.close()
    }

    /// Gives `scale`'s city (``writeCity(at:scale:asOf:)``) its plan down to people: an
    /// objective per department under one city objective, a project lead per project owning the
    /// project's top goal and its activities, two weighted goals under it with half of the
    /// activities each, and a target per goal for `quarter`. The goal tree then reaches every
    /// activity, and every lead has a scorecard.
    public static func writePlanning(at path: String, scale: Scale, quarter: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            let departments = ["roads", "water", "parks", "housing", "transport"]
            var rowid: Int64 = 1 << 41
            func next() -> Int64 { rowid += 1; return rowid }
            let objective = try db.makeStatement(sql: "INSERT INTO objective (rowid, id, title, department, parent, weight) VALUES (?, ?, ?, ?, ?, ?)")
            let staff = try db.makeStatement(sql: "INSERT INTO staff (rowid, id, department, name, role, active) VALUES (?, ?, ?, ?, 'project_lead', 1)")
            let goal = try db.makeStatement(sql: """
                INSERT INTO goal (rowid, id, department, project, parent, title, weight, objective, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let target = try db.makeStatement(sql: "INSERT INTO goal_target (rowid, id, department, goal, period, target) VALUES (?, ?, ?, ?, ?, ?)")
            let activity = try db.makeStatement(sql: "UPDATE activity SET goal = ?, owner = ? WHERE id = ?")
            try objective.execute(arguments: [next(), "o-city", "A city that works", nil, nil, "1"])
            for (index, department) in departments.enumerated() {
                try objective.execute(arguments: [next(), "o-\(department)", "Deliver \(department)", department, "o-city", "\(index + 1)"])
            }
            for p in 0..<scale.projects {
                let department = departments[p % departments.count]
                try staff.execute(arguments: [next(), "s\(p)", department, "Lead \(p)"])
                try goal.execute(arguments: [next(), "g\(p)", department, "p\(p)", nil, "Deliver project \(p)", "1", "o-\(department)", "s\(p)"])
                for part in 1...2 {
                    try goal.execute(arguments: [next(), "g\(p)-\(part)", department, "p\(p)", "g\(p)", "Part \(part)", "\(part)", nil, "s\(p)"])
                    try target.execute(arguments: [next(), "t\(p)-\(part)", department, "g\(p)-\(part)", quarter, "100"])
                }
                for a in 0..<scale.activitiesPerProject {
                    try activity.execute(arguments: ["g\(p)-\(a % 2 + 1)", "s\(p)", "p\(p)a\(a)"])
                }
            }
        }
        try queue.close()
    }

    /// Seconds for what `sitesync report projects` does (read the tables, assess every project)
    /// over `scale`: each activity with a plan and one quantity entry a day, one cost entry a
    /// week, for `days` days before the cut-off. The fastest of three runs counts.
    ///
    /// The data is written straight into a real store's typed tables, which is all the report
    /// reads: replicating 1.8 million entries first would measure the apply path again.
    public static func run(scale: Scale, progress: (String) -> Void) throws -> Double {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-reportbench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/sitesync.db"
        let store = try ReplicaStore.create(at: path, node: "hub-1", key: .generate())
        let asOf = CalendarDate("2026-11-30")!
        progress("report: writing \(scale.projects) projects × \(scale.activitiesPerProject) activities × \(scale.days) days of entries")
        try writeCity(at: path, scale: scale, asOf: asOf)
        var best = Double.infinity
        for round in 1...3 {
            progress("report: round \(round)/3 over \(scale.projects) projects")
            let start = DispatchTime.now().uptimeNanoseconds
            let rows = try Reports.assessments(store, asOf: asOf)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            guard rows.count == scale.projects, rows.allSatisfy({ $0.figures.earnedValue > 0 }) else {
                throw StoreError(.database, "benchmark check failed: the report covered \(rows.count) of \(scale.projects) projects")
            }
            best = min(best, seconds)
        }
        return best
    }
}
