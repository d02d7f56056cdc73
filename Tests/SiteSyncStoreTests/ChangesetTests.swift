import Foundation
import GRDB
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// Changesets (``Changeset``): what a write transaction changed, taken before it commits and
/// applied to another copy of the same database, leaves that copy holding exactly the same —
/// the ground a hub process's working copy over PostgreSQL stands on (docs/design.md §18).
@Suite struct ChangesetTests {
    /// Every row of every table, in key order: two databases hold the same when these are equal.
    static func contents(_ store: ReplicaStore) throws -> [String: [String]] {
        try store.pool.read { db in
            var tables: [String: [String]] = [:]
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") {
                tables[table] = try Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\"").map(Self.text).sorted()
            }
            return tables
        }
    }

    /// A row as text, blobs in full (a row's description shows only their length).
    static func text(_ row: Row) -> String {
        row.databaseValues.map { value in
            switch value.storage {
            case .blob(let data): "x'" + data.map { String(format: "%02x", $0) }.joined() + "'"
            default: "\(value)"
            }
        }.joined(separator: "|")
    }

    /// One write transaction on `store`, recorded.
    static func recorded(_ store: ReplicaStore, _ body: (Database) throws -> Void) throws -> Changeset {
        try store.pool.write { db in
            let recorder = try Changeset.Recorder(db)
            try body(db)
            return try recorder.take()
        }
    }

    /// Local writes, a received batch with a concurrent edit (a conflict kept), a delete: a copy
    /// taken before them and given their changesets in order holds what the original holds.
    @Test func aCopyGivenEveryChangesetInOrderHoldsWhatTheOriginalHolds() throws {
        let hub = try TestReplica(name: "hub", role: .hub, department: "office")
        let office = try TestReplica(name: "office", role: .office, department: "office")
        try seedPlan(office, sendTo: [hub])
        let copy = try hub.store.memoryCopy()
        var changesets: [Changeset] = []
        // The hub's own writes, three in one transaction.
        changesets.append(try Self.recorded(hub.store) { db in
            let session = try LocalWriteSession(store: hub.store, db: db)
            for n in 1...3 {
                try session.write { try hub.planner.planUpsert(collection: "issue", id: "h\(n)", assignments: [
                    FieldAssignment(parsing: "project=p1"), FieldAssignment(parsing: "title=Hub snag \(n)"),
                    FieldAssignment(parsing: "opened_on=2026-11-05")], reader: $0) }
            }
            try session.finish()
        })
        // The office edits what the hub edits too: received, it is a conflict the hub keeps.
        try office.put("activity", "a1", "remarks=from the office")
        try office.put("issue", "o1", "project=p1", "title=Office snag", "opened_on=2026-11-05")
        changesets.append(try Self.recorded(hub.store) { db in
            let session = try LocalWriteSession(store: hub.store, db: db)
            try session.write { try hub.planner.planUpsert(collection: "activity", id: "a1",
                                                           assignments: [FieldAssignment(parsing: "remarks=from the hub")], reader: $0) }
            try session.finish()
        })
        let batch = try office.changes(lackedBy: hub.store.knowledge())
        changesets.append(try Self.recorded(hub.store) { db in
            try hub.store.apply(batch, claim: .complete(vouched: office.store.knowledge()), authorizer: nil, db)
        })
        changesets.append(try Self.recorded(hub.store) { db in
            let session = try LocalWriteSession(store: hub.store, db: db)
            try session.write { try hub.planner.planDelete(collection: "issue", id: "h2", reader: $0) }
            try session.finish()
        })
        #expect(try hub.store.conflicts().count >= 1, "the concurrent remarks are a conflict the changesets must carry")
        #expect(changesets.allSatisfy { !$0.isEmpty })

        try copy.applyChangesets(changesets)
        #expect(try copy.digest() == hub.store.digest())
        #expect(try Self.contents(copy) == Self.contents(hub.store))
        #expect(try hub.store.audit().broken == nil)
        let broken = try copy.audit().broken
        #expect(broken == nil, "\(String(describing: broken))")
    }

    /// A changeset taken from another state than the copy's is refused whole: nothing of it
    /// lands, and the error says to build the working copy again.
    @Test func aChangesetForAnotherStateIsRefusedWhole() throws {
        let hub = try TestReplica(name: "hub", role: .hub, department: "office")
        let office = try TestReplica(name: "office", role: .office, department: "office")
        try seedPlan(office, sendTo: [hub])
        let copy = try hub.store.memoryCopy()
        let first = try Self.recorded(hub.store) { db in
            let session = try LocalWriteSession(store: hub.store, db: db)
            try session.write { try hub.planner.planUpsert(collection: "activity", id: "a1",
                                                           assignments: [FieldAssignment(parsing: "remarks=one")], reader: $0) }
            try session.finish()
        }
        let second = try Self.recorded(hub.store) { db in
            let session = try LocalWriteSession(store: hub.store, db: db)
            try session.write { try hub.planner.planUpsert(collection: "activity", id: "a1",
                                                           assignments: [FieldAssignment(parsing: "remarks=two")], reader: $0) }
            try session.finish()
        }
        let before = try Self.contents(copy)
        #expect {
            try copy.applyChangesets([second])
        } throws: { error in
            "\(error)".contains("builds its working copy again")
        }
        #expect(try Self.contents(copy) == before)
        try copy.applyChangesets([first, second])
        #expect(try Self.contents(copy) == Self.contents(hub.store))
    }

    /// The operations read back from a changeset: table, kind, key columns, values before and after.
    @Test func operationsNameEachRowsTableKeyAndValues() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, x REAL, b BLOB, s TEXT)")
            try db.execute(sql: "INSERT INTO t VALUES ('gone', 1, NULL, NULL, NULL), ('kept', 2, 0.5, NULL, 'old')")
        }
        let blob = Data((0...255).map { UInt8($0) })
        let changeset = try queue.write { db in
            let recorder = try Changeset.Recorder(db)
            try db.execute(sql: "INSERT INTO t VALUES ('new', 3, 1.25, ?, '工程')", arguments: [blob])
            try db.execute(sql: "UPDATE t SET s = 'changed' WHERE id = 'kept'")
            try db.execute(sql: "DELETE FROM t WHERE id = 'gone'")
            return try recorder.take()
        }
        let operations = try changeset.operations().sorted { "\($0.old.first.map { "\($0!)" } ?? "\($0.new[0]!)")" < "\($1.old.first.map { "\($0!)" } ?? "\($1.new[0]!)")" }
        #expect(operations.map(\.table) == ["t", "t", "t"])
        #expect(operations.map(\.kind) == [.delete, .update, .insert])
        #expect(operations.allSatisfy { $0.primaryKey == [true, false, false, false, false] })
        #expect(operations[0].old == ["gone".databaseValue, 1.databaseValue, .null, .null, .null])
        #expect(operations[1].old == ["kept".databaseValue, nil, nil, nil, "old".databaseValue])
        #expect(operations[1].new == [nil, nil, nil, nil, "changed".databaseValue])
        #expect(operations[2].new == ["new".databaseValue, 3.databaseValue, 1.25.databaseValue, blob.databaseValue, "工程".databaseValue])
        #expect(try Changeset(bytes: Data()).operations().isEmpty)
    }
}
