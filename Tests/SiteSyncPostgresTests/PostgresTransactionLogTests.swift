import Foundation
import SiteSyncCore
import SiteSyncPostgres
@testable import SiteSyncStore
import SiteSyncTestSupport
import Synchronization
import Testing

/// Two hub processes' working copies over one PostgreSQL database (docs/design.md §18): the log
/// in `hub_log` orders their writes, and PostgreSQL restarted mid-run loses nothing committed.
@Suite struct PostgresTransactionLogTests {
    /// A hub's store on disk whose writes go through a log at `url`, and a second working copy
    /// of it, as a second process would open it, with its own connection.
    static func hubs(_ cluster: PostgresCluster, in directory: URL) throws -> [ReplicaStore] {
        let key = NodeSecretKey.generate()
        let logs = try ["a", "b"].map { try PostgresTransactionLog(connection: PostgresConnection(url: cluster.url), process: $0) }
        func options(_ index: Int) -> StoreOptions {
            var options = StoreOptions(durability: .normal)
            options.signer = key
            options.transactionLog = logs[index]
            return options
        }
        let first = try ReplicaStore.create(at: directory.appendingPathComponent("a.db").path, node: "hub", key: key, options: options(0))
        try first.backup(to: directory.appendingPathComponent("b.db").path)
        let copies = [first, try ReplicaStore.open(at: directory.appendingPathComponent("b.db").path, options: options(1))]
        for (log, copy) in zip(logs, copies) { try log.keepTables(of: copy) }
        return copies
    }

    static func write(_ store: ReplicaStore, _ collection: String, _ id: String, _ assignments: [String]) throws {
        let planner = LocalWritePlanner(schema: .siteSync, writer: WriterIdentity(role: .hub, department: "office"))
        try store.write { try planner.planUpsert(collection: collection, id: id, assignments: assignments.map { try FieldAssignment(parsing: $0) },
                                                 reader: $0) }
    }

    /// A private cluster and two working copies over it, holding a department and a project.
    static func withHub(_ body: (PostgresCluster, [ReplicaStore]) throws -> Void) throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let copies = try hubs(cluster, in: directory)
        try write(copies[0], "department", "roads", ["name=Roads Bureau"])
        try write(copies[0], "project", "p1", ["code=R-001", "name=Ring road", "department=roads"])
        try body(cluster, copies)
    }

    /// Two processes writing the same records at once, each over its own connection: no change
    /// id issued twice, and both copies caught up hold the same; `hub_log` holds every write.
    @Test func twoProcessesWriteAsOneHub() throws {
        try Self.withHub { cluster, copies in
            let errors = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { side in
                do {
                    for n in 1...25 {
                        try Self.write(copies[side], "project", "p1", ["remarks=process \(side) write \(n)"])
                        try Self.write(copies[side], "issue", "s\(side)-\(n)", ["project=p1", "title=Snag \(n)", "opened_on=2026-11-06"])
                    }
                } catch {
                    errors.withLock { $0.append("\(error)") }
                }
            }
            #expect(errors.withLock { $0 }.isEmpty, "\(errors.withLock { $0 })")
            for copy in copies { try copy.catchUp() }
            #expect(try copies[0].digest() == copies[1].digest())
            #expect(try copies[0].knowledge()[copies[0].identity.replica] == 102)
            #expect(try copies[0].audit().broken == nil && copies[1].audit().broken == nil)
            let postgres = try PostgresConnection(url: cluster.url)
            let logged = try postgres.execute("SELECT count(*), max(sequence) FROM hub_log")
            #expect(logged.rows.first?[0].int64 == 102 && logged.rows.first?[1].int64 == 102)
            // The tables in PostgreSQL hold what the copies hold, typed for SQL.
            for layout in try copies[0].tableLayouts() where layout.name != "sync_meta" {
                let here = try copies[0].pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \"\(layout.name)\"") ?? -1 }
                let there = try postgres.execute("SELECT count(*) FROM \"\(layout.name)\"").scalar?.int64
                #expect(there == Int64(here), "\(layout.name): \(here) rows here, \(String(describing: there)) in PostgreSQL")
            }
            let remarks = try postgres.execute("SELECT remarks, pg_typeof(budget)::text FROM project WHERE id = 'p1'")
            let expected = try copies[0].pool.read { db in try String.fetchOne(db, sql: "SELECT remarks FROM project WHERE id = 'p1'") }
            #expect(remarks.rows.first?[0].text == expected && remarks.rows.first?[1].text == "numeric")
            let issues = try postgres.execute("SELECT count(*) FROM issue WHERE opened_on = DATE '2026-11-06' AND project = 'p1'").scalar?.int64
            #expect(issues == 50)
        }
    }

    /// PostgreSQL restarted, and killed, between writes: a write that meets the broken connection
    /// before its copy's transaction ran runs again over a new connection, one that meets it
    /// after fails and changes nothing; every write that returned is in both copies.
    @Test func postgresRestartedMidRunLosesNothingThatWasCommitted() throws {
        try Self.withHub { cluster, copies in
            var committed: [String] = []
            for n in 1...30 {
                if n == 11 { try cluster.restart() }
                if n == 21 { try cluster.kill(); try cluster.restart() }
                let copy = copies[n % 2]
                do {
                    try Self.write(copy, "issue", "i\(n)", ["project=p1", "title=Snag \(n)", "opened_on=2026-11-06"])
                    committed.append("i\(n)")
                } catch {
                    #expect("\(error)".contains("PostgreSQL") || "\(error)".contains("connection"), "\(error)")
                }
            }
            #expect(committed.count >= 26, "only the writes meeting a broken connection fail: \(committed.count) of 30")
            for copy in copies {
                try copy.catchUp()
                let ids = try copy.records(in: Schema.siteSync.collection(named: "issue")!).map(\.key.id)
                #expect(Set(ids) == Set(committed))
            }
            #expect(try copies[0].digest() == copies[1].digest())
        }
    }

    /// A process that holds the write lock too long (hung): a write waiting for it gives up
    /// after the log's lock_timeout with a message saying so, and goes through once the lock is
    /// free. (The hub's 20 s is set to 1 s here.)
    @Test func aWriteWaitingTooLongForTheLockGivesUpAndSaysWhy() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = try PostgresTransactionLog(connection: PostgresConnection(url: cluster.url, settings: [("lock_timeout", "1s")]), process: "a")
        var options = StoreOptions(durability: .normal)
        options.transactionLog = log
        let store = try ReplicaStore.create(at: directory.appendingPathComponent("a.db").path, node: "hub", key: .generate(), options: options)
        try log.keepTables(of: store)
        let hung = try PostgresConnection(url: cluster.url)
        let release = DispatchSemaphore(value: 0), holding = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? hung.transaction { transaction in
                _ = try transaction.execute("SELECT sequence FROM hub_log_head FOR UPDATE")
                holding.signal()
                release.wait()
            }
        }
        holding.wait()
        #expect {
            try Self.write(store, "department", "roads", ["name=Roads Bureau"])
        } throws: { error in
            "\(error)".contains("held the store's write lock") && "\(error)".contains("Nothing of this write was acknowledged")
        }
        release.signal()
        try Self.write(store, "department", "roads", ["name=Roads Bureau"])
        #expect(try PostgresConnection(url: cluster.url).execute("SELECT name FROM department WHERE id = 'roads'").scalar?.text == "Roads Bureau")
    }

}
