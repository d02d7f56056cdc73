import Foundation
import GRDB
import SiteSyncCore
import SiteSyncPostgres
@testable import SiteSyncStore
import SiteSyncTestSupport
import Testing

/// A hub process's working copy built from the hub's tables in PostgreSQL (docs/design.md
/// §18): it holds what the other copies hold, row for row and type for type, so the changesets
/// they log apply to it, and it goes on writing as one of them.
@Suite struct WorkingCopyBuildTests {
    /// Every row of every table, each value with its SQLite type, typed rows with their rowids
    /// (a changeset names rows by key, so the copies must agree on every value's type too).
    static func contents(_ store: ReplicaStore) throws -> [String: [String]] {
        try store.pool.read { db in
            var tables: [String: [String]] = [:]
            for table in try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'
                """) {
                let typed = Schema.siteSync.collection(named: table) != nil
                tables[table] = try Row.fetchAll(db, sql: "SELECT \(typed ? "rowid, " : "")* FROM \"\(table)\"").map { row in
                    row.databaseValues.map(Self.typed).joined(separator: "|")
                }.sorted()
            }
            return tables
        }
    }

    static func typed(_ value: DatabaseValue) -> String {
        switch value.storage {
        case .null: "NULL"
        case .int64(let integer): "i:\(integer)"
        case .double(let real): "r:\(real)"
        case .string(let text): "t:\(text)"
        case .blob(let data): "b:" + data.map { String(format: "%02x", $0) }.joined()
        }
    }

    /// A working copy built from PostgreSQL at `path`, opened as a third process would.
    static func built(_ cluster: PostgresCluster, from copy: ReplicaStore, at path: String) throws -> ReplicaStore {
        let log = try PostgresTransactionLog(connection: PostgresConnection(url: cluster.url), process: "c")
        try log.buildWorkingCopy(at: path)
        var options = StoreOptions(durability: .normal)
        options.signer = copy.options.signer
        options.transactionLog = log
        let store = try ReplicaStore.open(at: path, options: options)
        try log.keepTables(of: store)
        return store
    }

    /// Decimals, dates, deletes, writes from both processes: the copy built from PostgreSQL
    /// holds exactly what the caught-up copies hold; then all three write, each changeset
    /// applies to the others, and they end the same.
    @Test func aCopyBuiltFromPostgresHoldsWhatTheOthersHoldAndWritesWithThem() throws {
        try PostgresTransactionLogTests.withHub { cluster, copies in
            let write = PostgresTransactionLogTests.write
            try write(copies[1], "project", "p1", ["budget=1200000.50", "planned_start=2026-03-01", "planned_finish=2027-06-30"])
            try write(copies[0], "project", "p2", ["code=R-002", "name=Culvert 环路", "department=roads", "budget=0.125"])
            for n in 1...12 {
                try write(copies[n % 2], "issue", "i\(n)", ["project=p\(1 + n % 2)", "title=Snag \(n)", "opened_on=2026-11-\(10 + n)"])
            }
            try copies[0].write { db in
                try LocalWritePlanner(schema: .siteSync, writer: WriterIdentity(role: .hub, department: "office"))
                    .planDelete(collection: "issue", id: "i3", reader: db)
            }
            for copy in copies { try copy.catchUp() }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-build-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let third = try Self.built(cluster, from: copies[0], at: directory.appendingPathComponent("c.db").path)
            #expect(try Self.contents(third) == Self.contents(copies[0]))
            #expect(try third.audit().broken == nil)

            let all = copies + [third]
            for n in 13...21 {
                try write(all[n % 3], "issue", "i\(n)", ["project=p1", "title=Snag \(n)", "opened_on=2026-12-01"])
                try write(all[(n + 1) % 3], "project", "p1", ["remarks=round \(n)"])
            }
            for copy in all { try copy.catchUp() }
            #expect(try Self.contents(third) == Self.contents(copies[0]))
            #expect(try Self.contents(copies[1]) == Self.contents(copies[0]))
            #expect(try third.digest() == copies[0].digest())
            #expect(try third.knowledge()[third.identity.replica] == copies[0].knowledge()[copies[0].identity.replica])
        }
    }

    /// A database with no hub in it yet: the build says what to do and leaves no file.
    @Test func anEmptyDatabaseBuildsNothing() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-build-\(UUID().uuidString).db").path
        let log = try PostgresTransactionLog(connection: PostgresConnection(url: cluster.url), process: "c")
        #expect {
            try log.buildWorkingCopy(at: path)
        } throws: { error in
            "\(error)".contains("holds no hub yet") && "\(error)".contains("sitesync init --role hub --store")
        }
        #expect(!FileManager.default.fileExists(atPath: path) && !FileManager.default.fileExists(atPath: path + ".building"))
    }
}
