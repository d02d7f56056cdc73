import CPowerCut
import Foundation
import GRDB
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore

/// The write-ahead log is checkpointed off the writer's thread, kept within its bound, and a
/// power cut while a checkpoint runs loses nothing committed (docs/design.md §5, §10.2).
@Suite struct WalCheckpointTests {
    /// A store whose log is checkpointed every `frames` frames and bounded at `bound` bytes.
    static func store(_ directory: TemporaryDirectory, key: NodeSecretKey = .generate(), frames: Int, bound: Int,
                      durability: StoreOptions.Durability = .full) throws -> ReplicaStore {
        var options = StoreOptions(durability: durability, signer: key)
        options.checkpointFrames = frames
        options.walBoundBytes = bound
        return try ReplicaStore.create(at: directory.file("sitesync.db"), node: "site", key: key, options: options)
    }

    /// Writes a department, a project and `count` activities, each its own durable transaction.
    static func write(_ store: ReplicaStore, activities count: Int) throws {
        let planner = LocalWritePlanner(schema: .siteSync, writer: WriterIdentity(role: .office, department: "roads"))
        func put(_ collection: String, _ id: String, _ fields: [String]) throws {
            let parsed = try fields.map { try FieldAssignment(parsing: $0) }
            try store.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
        }
        try put("department", "roads", ["name=Roads"])
        try put("project", "p1", ["code=R-001", "name=Ring road", "department=roads"])
        for n in 0..<count {
            try put("activity", "a\(n)", ["project=p1", "name=Activity \(n) " + String(repeating: "x", count: 600)])
        }
    }

    static func walBytes(_ directory: TemporaryDirectory) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: directory.file("sitesync.db-wal"))[.size] as? Int) ?? 0
    }

    @Test func theWriterConnectionNeverCheckpointsItself() throws {
        let directory = TemporaryDirectory()
        let store = try Self.store(directory, frames: 1000, bound: 64 << 20)
        let automatic = try store.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") }
        #expect(automatic == 0, "SQLite's automatic checkpoint still runs inside the writer's commits")
        #expect(try store.writerSynchronous() == "FULL")
    }

    @Test func theBackgroundCheckpointsKeepTheLogWithinItsBound() throws {
        let directory = TemporaryDirectory()
        let bound = 256 << 10
        let store = try Self.store(directory, frames: 40, bound: bound)
        try Self.write(store, activities: 400)
        let checkpointer = try #require(store.checkpointer)
        checkpointer.settle()
        let counts = checkpointer.counts()
        #expect(counts.passive > 0, "no background checkpoint ran")
        #expect(counts.truncate > 0, "the log never passed its bound, so the test proves nothing: write more")
        let wal = Self.walBytes(directory)
        #expect(wal <= 2 * bound, "the log holds \(wal) bytes after the writes, past its bound of \(bound)")
        #expect(try store.rows([("SELECT count(*) FROM activity", [])])[0].first?[0] ?? nil == "400")
        #expect(try store.integrityCheck() == ["ok"])
    }

    /// The checkpointer prepares the log's next stretch ahead of the writer (allocated and in
    /// memory), within the log's bound; the zeros past the last frame mean nothing to SQLite,
    /// which reopens the store with every write.
    @Test func theLogIsPreparedAheadOfTheWriterWithinItsBound() throws {
        let directory = TemporaryDirectory()
        let bound = 32 << 20
        let key = NodeSecretKey.generate()
        let store = try Self.store(directory, key: key, frames: 40, bound: bound)
        try Self.write(store, activities: 300)
        let checkpointer = try #require(store.checkpointer)
        checkpointer.settle()
        #expect(checkpointer.counts().truncate == 0, "the log passed its bound, so its file was cut: write less")
        let frames = try store.pool.writeWithoutTransaction { db in try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")![1] as Int }
        let wal = Self.walBytes(directory)
        #expect(wal > 32 + frames * (4096 + 24), "the log's file (\(wal) bytes) is no longer than its \(frames) frames")
        #expect(wal <= bound, "the log's file holds \(wal) bytes, past its bound of \(bound)")
        try store.close()
        let reopened = try ReplicaStore.open(at: directory.file("sitesync.db"), options: StoreOptions(signer: key))
        #expect(try reopened.rows([("SELECT count(*) FROM activity", [])])[0].first?[0] ?? nil == "300")
        #expect(try reopened.integrityCheck() == ["ok"])
    }

    /// A checkpoint each time the log grows by its step, not one per commit: a writer that
    /// never pauses keeps the log from restarting, and a checkpoint per commit (each with an
    /// fsync of the database file) slowed durable local writes by half.
    @Test func checkpointsKeepThePaceOfTheLogsGrowthNotOfTheCommits() throws {
        let directory = TemporaryDirectory()
        let store = try Self.store(directory, frames: 40, bound: 64 << 20)
        try Self.write(store, activities: 400)
        let checkpointer = try #require(store.checkpointer)
        checkpointer.settle()
        let passive = checkpointer.counts().passive
        #expect(passive > 0)
        #expect(passive < 100, "\(passive) checkpoints for 402 commits of a few pages each: one per commit, not per 40 frames")
    }

    @Test func aClosedStoreLeavesNoLogBehind() throws {
        let directory = TemporaryDirectory()
        let store = try Self.store(directory, frames: 20, bound: 1 << 20)
        try Self.write(store, activities: 50)
        try store.close()
        // The last connection to close checkpoints the log and removes it: the checkpointer's
        // own connection must not outlive the store's.
        #expect(!FileManager.default.fileExists(atPath: directory.file("sitesync.db-wal")))
    }

    /// A power cut after a run of writes of random length, whose log was checkpointed and
    /// truncated in the background all the while (one may still be running at the cut): every
    /// acknowledged write survives, and the counter.
    @Test func aPowerCutDuringBackgroundCheckpointsLosesNoAcknowledgedWrite() throws {
        #expect(PowerCutTests.installed)
        for seed in UInt64(1)...4 {
            var g = SeededGenerator(seed: seed)
            let directory = TemporaryDirectory()
            sitesync_powercut_watch(directory.path + "/")
            let key = NodeSecretKey.generate()
            let store = try Self.store(directory, key: key, frames: 8, bound: 48 << 10)
            let count = Int.random(in: 60...160, using: &g)
            try Self.write(store, activities: count)
            let after = try PowerCutTests.cut(directory)
            let counts = try #require(store.checkpointer).counts()
            withExtendedLifetime(store) {}
            #expect(counts.truncate > 0, "seed \(seed): no checkpoint ran before the cut")
            let reopened = try PowerCutTests.open(after, key: key, durability: .full)
            #expect(try reopened.integrityCheck() == ["ok"], "seed \(seed)")
            let held = try reopened.rows([("SELECT count(*) FROM activity", [])])[0].first?[0] ?? nil
            #expect(held == String(count), "seed \(seed): \(count) writes acknowledged, \(held ?? "none") held after the cut")
            #expect(try reopened.knowledge()[reopened.identity.replica] == UInt64(count + 2), "seed \(seed)")
        }
    }
}
