import Dispatch
import Foundation
import Logging
import SiteSyncCore
import SiteSyncNode
import SiteSyncPostgres
import SiteSyncPostgresCluster
import SiteSyncStore

/// A hub on PostgreSQL beside a hub on SQLite (docs/design.md §18), in one run on one machine:
/// the push rate and the convergence time of a SQLite hub, of one hub process over PostgreSQL
/// and of two. PostgreSQL is a private cluster on loopback (``PostgresCluster``), `fsync` on.
public struct PostgresBenchmarkResult: Sendable {
    public var syncChanges: Int
    /// Changes pushed per second by one office node to a SQLite hub (`sync_changes_per_s`'s
    /// measure, in this run).
    public var sqliteSyncChangesPerSecond: Double
    /// The same push to one hub process whose store is PostgreSQL.
    public var postgresSyncChangesPerSecond: Double
    /// Two office nodes pushing half the changes each at once, one to each of two hub
    /// processes over one PostgreSQL: all the changes over the time the slower took.
    public var twoHubsSyncChangesPerSecond: Double
    public var convergeNodes: Int
    public var convergeEditsPerNode: Int
    public var sqliteConvergeSeconds: Double
    public var postgresConvergeSeconds: Double
    /// The nodes spread over two hub processes over one PostgreSQL.
    public var twoHubsConvergeSeconds: Double
}

public enum PostgresBenchmark {
    public static func run(executable: URL, scale: NetworkBenchmarkScale, progress: (String) -> Void) throws -> PostgresBenchmarkResult {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-pgbench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        progress("starting a private PostgreSQL cluster")
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        // The hub processes are this one's children: they read the password where an operator
        // would keep it, never in node.toml.
        setenv("PGPASSWORD", cluster.password, 1)
        let maintenance = try PostgresConnection(url: cluster.url)
        var databases = 0
        func freshStore() throws -> String {
            databases += 1
            try maintenance.execute("CREATE DATABASE bench_\(databases)")
            return "postgresql://\(cluster.user)@127.0.0.1:\(cluster.port)/bench_\(databases)"
        }
        let logger = NetworkBenchmark.quietLogger
        let count = scale.syncChanges
        progress("push: \(count) changes to a SQLite hub")
        let (sqlitePush, _) = try NetworkBenchmark.measurePush(directory: directory + "/push-sqlite", count: count, executable: executable,
                                                               secure: true, logger: logger)
        progress("push: \(count) changes to one hub process over PostgreSQL")
        let postgresPush = try measurePush(directory: directory + "/push-pg1", count: count, storeURL: try freshStore(), processes: 1,
                                           executable: executable, logger: logger)
        progress("push: \(count) changes, half to each of two hub processes over PostgreSQL")
        let twoHubsPush = try measurePush(directory: directory + "/push-pg2", count: count, storeURL: try freshStore(), processes: 2,
                                          executable: executable, logger: logger)
        progress("converge: \(scale.nodes) nodes × \(scale.editsPerNode) offline edits, SQLite hub")
        let sqliteConverge = try NetworkBenchmark.measureConvergence(directory: directory + "/converge-sqlite", scale: scale,
                                                                     executable: executable, logger: logger)
        progress("converge: the same, one hub process over PostgreSQL")
        let postgresConverge = try NetworkBenchmark.measureConvergence(directory: directory + "/converge-pg1", scale: scale,
                                                                       executable: executable, logger: logger,
                                                                       storeURL: try freshStore(), processes: 1)
        progress("converge: the same, two hub processes over PostgreSQL")
        let twoHubsConverge = try NetworkBenchmark.measureConvergence(directory: directory + "/converge-pg2", scale: scale,
                                                                      executable: executable, logger: logger,
                                                                      storeURL: try freshStore(), processes: 2)
        return PostgresBenchmarkResult(
            syncChanges: count, sqliteSyncChangesPerSecond: sqlitePush, postgresSyncChangesPerSecond: postgresPush,
            twoHubsSyncChangesPerSecond: twoHubsPush, convergeNodes: scale.nodes, convergeEditsPerNode: scale.editsPerNode,
            sqliteConvergeSeconds: sqliteConverge, postgresConvergeSeconds: postgresConverge, twoHubsConvergeSeconds: twoHubsConverge)
    }

    /// `count` changes pushed by `processes` office nodes at once, each to its own hub process
    /// and each with its share: changes per second over the slowest push.
    static func measurePush(directory: String, count: Int, storeURL: String, processes: Int, executable: URL,
                            logger: Logger) throws -> Double {
        let hubNode = try NetworkBenchmark.hubNode(directory + "/hub", storeURL: storeURL)
        try NetworkBenchmark.planProjects(hubNode, count: ReplicaBenchmark.workloadProjects, department: "roads")
        let hubs = try NetworkBenchmark.HubProcess.serving(hubNode, processes: processes, executable: executable, directory: directory)
        defer { for hub in hubs { hub.stop() } }
        let share = count / processes
        let offices = try hubs.indices.map { index in
            try NetworkBenchmark.node(directory + "/office-\(index + 1)", name: "office-\(index + 1)", role: .office, department: "office",
                                      hub: hubs[index].endpoint, hubNode: hubNode)
        }
        for office in offices { _ = try NetworkBenchmark.fill(office, count: share) }
        // Every hub process rereads the allow-list within a second, once its copy caught up.
        Thread.sleep(forTimeInterval: 2.5)
        let clients = NetworkBenchmark.Clients(try offices.map { try $0.syncClient(logger: logger) })
        let seconds = Seconds(count: offices.count)
        let failures = NetworkBenchmark.FailureBox()
        DispatchQueue.concurrentPerform(iterations: offices.count) { index in
            do {
                let outcome = try clients.all[index].round()
                guard outcome.summary.pushedApplied == share else {
                    failures.record("the hub applied \(outcome.summary.pushedApplied) of \(share) pushed by office-\(index + 1)")
                    return
                }
                seconds.set(index, Double(outcome.milliseconds) / 1000)
            } catch {
                failures.record("\(error)")
            }
        }
        if let failure = failures.first { throw StoreError(.database, "benchmark push failed: \(failure)") }
        return Double(share * offices.count) / seconds.slowest
    }

    final class Seconds: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        private let lock = NSLock()
        private var values: [Double]
        init(count: Int) { values = Array(repeating: 0, count: count) }
        func set(_ index: Int, _ value: Double) { lock.lock(); values[index] = value; lock.unlock() }
        var slowest: Double { lock.lock(); defer { lock.unlock() }; return values.max() ?? 0 }
    }
}
