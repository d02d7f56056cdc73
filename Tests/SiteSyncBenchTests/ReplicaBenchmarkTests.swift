import Foundation
import GRDB
import Testing
@testable import SiteSyncBench
import SiteSyncCore
import SiteSyncStore
import Dispatch

/// The apply benchmark says at which `synchronous` setting its two sides commit, and that is
/// the setting they run at (docs/design.md §9): a ratio between a store paying for FULL's
/// fsyncs and a baseline at NORMAL would flatter the baseline.
@Suite struct ReplicaBenchmarkTests {
    static let activity = Schema.siteSync.collection(named: "activity")!

    /// A fresh directory, removed by the caller.
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-benchtest-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A whole run at a small scale: both sides read FULL back from their connections after
    /// the timed writes, and the figures say so.
    @Test func bothSidesCommitAtTheSettingTheFiguresState() throws {
        // Batches end on a sealed change (every 250th of the workload's chain).
        let result = try ReplicaBenchmark.run(changes: 500, localWrites: 5, batchSize: 250, rounds: 1)
        #expect(result.synchronous == "FULL")
        #expect(result.changes == 500 && result.applyChangesPerSecond > 0 && result.baselineUpsertRowsPerSecond > 0)
        // Pages counted on both writers: the store's three rows per change against one.
        #expect(result.applyPagesPerChange > result.baselinePagesPerRow && result.baselinePagesPerRow > 0,
                "\(result.applyPagesPerChange) pages a change against \(result.baselinePagesPerRow) a row")
    }

    /// The baseline writes into the store's own typed table, indexes included: a table without
    /// the store's index on `project` paid for fewer pages per commit than the store's typed row.
    @Test func theBaselinesTableHasTheStoresIndexes() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workload = ReplicaBenchmark.makeWorkload(count: 100, collection: Self.activity, key: NodeSecretKey.generate())
        _ = try ReplicaBenchmark.measureBaseline(workload, collection: Self.activity, path: directory + "/baseline.db", batchSize: 50)
        let store = try ReplicaStore.create(at: directory + "/store.db", node: "n", key: NodeSecretKey.generate())
        let indexes = { (pool: any DatabaseReader) in
            try pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'activity' ORDER BY name") }
        }
        let baselineIndexes = try indexes(try DatabaseQueue(path: directory + "/baseline.db"))
        let storeIndexes = try store.rows([("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'activity' ORDER BY name", [])])[0]
            .map { $0[0] ?? "" }
        #expect(baselineIndexes.contains("activity_by_project"))
        #expect(baselineIndexes == storeIndexes)
    }

    /// Fed as a session's receiver is fed (the sender's default window, 16), the store takes the
    /// batches waiting in one transaction: fewer transactions than batches, every change stored.
    @Test func aSessionsReceiverGroupsTheBatchesWaiting() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workload = ReplicaBenchmark.makeWorkload(count: 2_000, collection: Self.activity, key: NodeSecretKey.generate())
        let (seconds, transactions) = try ReplicaBenchmark.measureSessionApply(workload, schema: .siteSync, path: directory + "/session.db",
                                                                             batchSize: 250)
        #expect(seconds > 0)
        #expect((1...8).contains(transactions))
    }

    /// The batches waiting when the writer is free are taken together, up to the limit of
    /// changes a transaction takes; the sender waits while its window is full.
    @Test func theReceiverTakesEveryBatchWaitingUpToItsLimit() throws {
        let workload = ReplicaBenchmark.makeWorkload(count: 1_000, collection: Self.activity, key: NodeSecretKey.generate())
        let sender = PeerIdentity(node: "bench-origin", replica: workload.credential.replica, role: .office, department: "office")
        let arrivals = ReplicaBenchmark.Arrivals(window: 4)
        for (sequence, start) in stride(from: 0, to: 1_000, by: 250).enumerated() {
            arrivals.awaitSlot()
            let checked = try workload.batch(start..<start + 250, schema: .siteSync)
            arrivals.deliver(.success((ApplyRequest(sequence: UInt64(sequence + 1), changes: checked.changes.map(\.change),
                                                    proof: checked.proof, claim: .none, sender: sender), checked)))
        }
        #expect(try arrivals.takeWaiting(upTo: 600).map(\.request.sequence) == [1, 2])
        #expect(try arrivals.takeWaiting(upTo: 8_000).map(\.request.sequence) == [3, 4])
        // The window is full until the receiver acknowledges.
        let freed = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { arrivals.awaitSlot(); freed.signal() }
        #expect(freed.wait(timeout: .now() + 0.2) == .timedOut)
        arrivals.acknowledge(1)
        #expect(freed.wait(timeout: .now() + 5) == .success)
    }

    /// The baseline's pool commits at FULL although GRDB turns its writer to NORMAL when it
    /// enables WAL: the setting is made again once the pool is open.
    @Test func theBaselinesWriterCommitsAtFull() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pool = try ReplicaBenchmark.makeBaselinePool(path: directory + "/baseline.db")
        #expect(try pool.writeWithoutTransaction { db in try ReplicaStore.synchronous(of: db) } == "FULL")
    }

    /// A baseline set up as it was before (FULL asked for only in `prepareDatabase`, which GRDB
    /// overrides when it enables WAL) runs at NORMAL; the run fails and says so, instead of
    /// printing figures that compare NORMAL with FULL.
    @Test func aBaselineAtAnotherSettingFailsTheRun() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workload = ReplicaBenchmark.makeWorkload(count: 100, collection: Self.activity, key: NodeSecretKey.generate())
        let asBefore = { (path: String) throws -> DatabasePool in
            var configuration = Configuration()
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            return try DatabasePool(path: path, configuration: configuration)
        }
        let error = try #require(throws: StoreError.self) {
            _ = try ReplicaBenchmark.measureBaseline(workload, collection: Self.activity, path: directory + "/baseline.db",
                                                     batchSize: 50, makePool: asBefore)
        }
        #expect(error.message.contains("the plain baseline committed at synchronous=NORMAL"), "\(error)")
        #expect(error.message.contains("synchronous=FULL the figures state"), "\(error)")
    }

    /// The store's writer reports the setting it really commits at, not the one asked for by
    /// rote: FULL by default, NORMAL when opened so.
    @Test func theStoresWriterReportsItsOwnSetting() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let full = try ReplicaStore.create(at: directory + "/full.db", node: "full", key: NodeSecretKey.generate())
        #expect(try full.writerSynchronous() == "FULL")
        let normal = try ReplicaStore.create(at: directory + "/normal.db", node: "normal", key: NodeSecretKey.generate(),
                                             options: StoreOptions(durability: .normal))
        #expect(try normal.writerSynchronous() == "NORMAL")
    }
}
