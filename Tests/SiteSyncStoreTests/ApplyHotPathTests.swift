import Foundation
import GRDB
import GRDBSQLite
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore

/// The apply path's shortcuts: text and blobs bound in place from a buffer of the statement's
/// own (``BindingBuffer``), a record looked up in its typed table alone when its collection
/// holds no deleted record, and a creation's record prepared where it was decoded
/// (``CreatedRecord``), taken only where the record is held nowhere.
@Suite struct ApplyHotPathTests {
    /// Values of every size — empty, one byte, a block's worth and past it, several in one use
    /// filling more than a block — arrive whole, use after use of the same statement.
    @Test func textsAndBlobsBoundInPlaceArriveWhole() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (n INTEGER, a TEXT, b BLOB, c TEXT, d BLOB)")
            let statements = PreparedStatements(db)
            var expected: [[String]] = []
            var generator = SeededGenerator(seed: 7)
            for n in 0..<200 {
                let sizes = (0..<4).map { _ in [0, 1, 17, 4095, 4096, 4097, 9000, 70_000].randomElement(using: &generator)! }
                let a = String(repeating: "a", count: sizes[0]) + "é\(n)"
                let b = [UInt8]((0..<sizes[1]).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n) })
                let c = String(repeating: "数", count: sizes[2] / 3)
                let d = Data((0..<sizes[3]).map { UInt8(truncatingIfNeeded: $0 &+ n) })
                let insert = try statements.statement(1, "INSERT INTO t (n, a, b, c, d) VALUES (?, ?, ?, ?, ?)")
                insert.bind(1, Int64(n))
                insert.bind(2, a)
                insert.bind(3, blob: b)
                insert.bind(4, c)
                insert.bind(5, blob: d)
                try insert.run()
                expected.append([a, Data(b).base64EncodedString(), c, d.base64EncodedString()])
            }
            let rows = try Row.fetchAll(db, sql: "SELECT a, b, c, d, typeof(b), typeof(d) FROM t ORDER BY n")
            #expect(rows.count == 200)
            for (row, want) in zip(rows, expected) {
                let got = [row[0] as String, (row[1] as Data).base64EncodedString(), row[2] as String, (row[3] as Data).base64EncodedString()]
                #expect(got == want)
                // An empty blob stays a blob, not NULL.
                #expect(row[4] as String == "blob" && row[5] as String == "blob")
            }
        }
    }

    /// Once the statements of a transaction are gone, their cached SQLite statements point at
    /// none of the memory they were bound from: stepped again without binding, they insert NULL.
    @Test func statementsLeftInGRDBsCacheKeepNoBindingIntoFreedMemory() throws {
        let queue = try DatabaseQueue()
        let sql = "INSERT INTO t (a, b) VALUES (?, ?)"
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (a TEXT, b BLOB)")
            let statements = PreparedStatements(db)
            let insert = try statements.statement(1, sql)
            insert.bind(1, String(repeating: "x", count: 100))
            insert.bind(2, blob: [1, 2, 3])
            try insert.run()
        }
        try queue.write { db in
            let cached = try db.cachedStatement(sql: sql)
            #expect(sqlite3_step(cached.sqliteStatement) == SQLITE_DONE)
            sqlite3_reset(cached.sqliteStatement)
            let last = try Row.fetchOne(db, sql: "SELECT a IS NULL, b IS NULL FROM t ORDER BY rowid DESC LIMIT 1")!
            #expect(last[0] as Bool && last[1] as Bool, "the cached statement kept its bindings after its buffer went")
        }
    }

    /// A batch that touches a deleted record finds it among the deleted ones, and a batch into
    /// a collection with none finds live records in the typed table: both converge with the
    /// sender, whichever collection holds deletions.
    @Test func aBatchFindsDeletedRecordsWhereTheCollectionHoldsThemAndLiveOnesEverywhere() throws {
        let office = try TestReplica(name: "office"), site = try TestReplica(name: "site")
        try seedPlan(office, sendTo: [site])
        // No activity is deleted yet: edits to live records are found in the typed table.
        try office.put("activity", "a1", "remarks=kerbs laid")
        try office.send(to: site)
        #expect(try site.value("activity", "a1", "remarks") == .text("kerbs laid"))
        // a2 deleted at the office; the site edits it at the same time, unaware.
        try office.delete("activity", "a2")
        try site.put("activity", "a2", "remarks=still working on it")
        try office.send(to: site)
        try site.send(to: office)
        // The edit was concurrent with the deletion, so the record lives on at both.
        #expect(try site.value("activity", "a2", "remarks") == .text("still working on it"))
        #expect(try site.store.digest() == office.store.digest())
        // Deleted again, after seeing the edit; then re-created on top of the deletion, which the
        // site must find among its deleted records to apply.
        try office.delete("activity", "a2")
        try office.send(to: site)
        #expect(try site.store.rows([("SELECT count(*) FROM sync_record WHERE record_id = 'a2' AND deleted = 1", [])])[0] == [["1"]])
        try office.put("activity", "a2", "project=p1", "name=Drainage, again")
        try office.send(to: site)
        #expect(try site.value("activity", "a2", "name") == .text("Drainage, again"))
        #expect(try site.store.digest() == office.store.digest())
        #expect(try site.store.audit().broken == nil)
    }

    /// Two offices create the same record at once (a natural key: the same id). Whichever
    /// creation a site receives second finds the record held and merges into it, in one batch
    /// or two, so every order gives the same record, and the prepared state of the first is
    /// what the merge would have made.
    @Test func aCreationOfARecordHeldAlreadyMergesWhateverTheOrder() throws {
        let first = try TestReplica(name: "office-1"), second = try TestReplica(name: "office-2", clock: { 1_700_000_009_000 })
        for office in [first, second] {
            try office.put("department", "roads", "name=Roads Bureau")
            try office.put("project", "p1", "code=R-001", "name=Ring road", "department=roads")
        }
        try first.put("activity", "a1", "project=p1", "name=Earthworks", "budget=100")
        try second.put("activity", "a1", "project=p1", "name=Drainage", "budget=250")
        let oneThenTwo = try TestReplica(name: "site-1"), twoThenOne = try TestReplica(name: "site-2")
        let together = try TestReplica(name: "site-3")
        try first.send(to: oneThenTwo)
        try second.send(to: oneThenTwo)
        try second.send(to: twoThenOne)
        try first.send(to: twoThenOne)
        // Both offices' changes in one batch: the second creation finds the first in its slot.
        try first.send(to: second)
        try second.send(to: together)
        #expect(try oneThenTwo.store.digest() == twoThenOne.store.digest())
        #expect(try together.store.digest() == oneThenTwo.store.digest())
        #expect(try second.store.digest() == oneThenTwo.store.digest())
        for site in [oneThenTwo, twoThenOne, together] {
            #expect(try site.store.audit().broken == nil)
            #expect(try site.store.rows([("SELECT conflicts FROM sync_record WHERE record_id = 'a1'", [])])[0] != [["0"]],
                    "the two creations' differing values are a conflict")
        }
        // The record created by one batch and edited by the next, and created and edited in one.
        try first.put("activity", "a2", "project=p1", "name=Kerbs")
        try first.put("activity", "a2", "remarks=half done")
        try first.send(to: oneThenTwo)
        #expect(try oneThenTwo.value("activity", "a2", "remarks") == .text("half done"))
        #expect(try oneThenTwo.store.audit().broken == nil)
    }
}
