import Foundation
import GRDB
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore

/// Where a record's replicated state is kept (schema v8): a live record's in its typed row's
/// `sync_state`, a deleted record's in `sync_record`, and a database written before v8 moved
/// over when it is opened.
@Suite struct RecordStateStorageTests {
    /// A change to a live record's fields writes its typed row alone: `sync_record` is rewritten
    /// only when the record's department, deletion or conflict count changes (a random page of
    /// it per change was a third of what a bulk apply wrote beyond a plain upsert).
    @Test func aChangeToALiveRecordsFieldsLeavesItsSyncRecordRowAlone() throws {
        let office = try TestReplica(name: "office"), site = try TestReplica(name: "site")
        try seedPlan(office, sendTo: [site])
        try site.store.pool.write { db in
            try db.execute(sql: """
                CREATE TABLE probe (record_id TEXT NOT NULL);
                CREATE TRIGGER probe_record AFTER UPDATE ON sync_record BEGIN INSERT INTO probe VALUES (new.record_id); END;
                """)
        }
        let probed = { try site.store.rows([("SELECT record_id FROM probe ORDER BY rowid", [])])[0].map { $0[0] ?? "" } }
        try office.put("activity", "a1", "remarks=on site", "budget=310000")
        try office.send(to: site)
        #expect(try probed() == [], "a change to a live record's fields rewrote its sync_record row")
        #expect(try site.value("activity", "a1", "remarks") == .text("on site"))

        try office.delete("activity", "a2")
        try office.send(to: site)
        #expect(try probed() == ["a2"], "a deletion is kept in sync_record")
        let stored = try site.store.rows([
            ("SELECT record_id, deleted, length(state) > 0 FROM sync_record WHERE collection = 'activity' ORDER BY record_id", []),
            ("SELECT id, sync_state IS NOT NULL FROM activity ORDER BY id", []),
        ])
        // The live record's state is in its typed row, the deleted one's in sync_record.
        #expect(stored[0] == [["a1", "0", "0"], ["a2", "1", "1"]])
        #expect(stored[1] == [["a1", "1"]])
        #expect(try site.store.digest() == office.store.digest())
        #expect(try site.store.audit().broken == nil)
    }

    /// A database written before v8 (every record's state in `sync_record`, no `sync_state`
    /// column) opens with its live records' states moved into their typed rows, holding and
    /// exporting exactly what it did, and takes changes after.
    @Test func aDatabaseFromBeforeV8MovesLiveStatesIntoTheTypedRows() throws {
        let key = NodeSecretKey.generate()
        let office = try TestReplica(name: "office", key: key)
        try seedPlan(office, sendTo: [])
        try office.put("activity", "a3", "project=p1", "name=Drainage")
        try office.delete("activity", "a3")
        let digest = try office.store.digest()
        let path = office.store.path
        try office.store.close()

        // As SiteSync wrote it before v8.
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            for collection in Schema.siteSync.collections {
                let table = StoreSchema.quoted(collection.name)
                try db.execute(sql: """
                    UPDATE sync_record SET state = (SELECT sync_state FROM \(table) WHERE rowid = sync_record.id)
                    WHERE collection = ? AND deleted = 0
                    """, arguments: [collection.name])
                try db.execute(sql: "ALTER TABLE \(table) DROP COLUMN sync_state")
            }
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v8'")
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM sync_record WHERE length(state) = 0") == 0)
        }
        try queue.close()

        let reopened = try ReplicaStore.open(at: path, options: StoreOptions(durability: .off, signer: key))
        let moved = try reopened.rows([
            ("SELECT count(*) FROM sync_record WHERE deleted = 0 AND length(state) > 0", []),
            ("SELECT count(*) FROM activity WHERE sync_state IS NULL", []),
            ("SELECT count(*) FROM activity", []),
        ])
        #expect(moved.map { $0[0][0] } == ["0", "0", "2"])
        #expect(try reopened.digest() == digest)
        #expect(try reopened.audit().broken == nil)
        let planner = LocalWritePlanner(schema: .siteSync, writer: WriterIdentity(role: .office, department: "roads"))
        try reopened.write {
            try planner.planUpsert(collection: "activity", id: "a1", assignments: [try FieldAssignment(parsing: "remarks=after v8")], reader: $0)
        }
        #expect(try reopened.rows([("SELECT remarks FROM activity WHERE id = 'a1'", [])])[0] == [["after v8"]])
        #expect(try reopened.audit().broken == nil)
        try reopened.close()
    }

    /// A hub's working copy filled from rows written before v8 (a hub's tables in PostgreSQL
    /// keep them until each record changes: every state in `sync_record`, none in the typed
    /// rows) holds what the store holds, its live states in the typed rows.
    @Test func aWorkingCopyFilledWithRowsFromBeforeV8HoldsWhatTheStoreHolds() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        try office.delete("activity", "a2")
        let layouts = try office.store.tableLayouts()
        var operations = try office.store.rowsAsInserts(layouts)
        var states: [String: DatabaseValue] = [:]
        for (index, operation) in operations.enumerated() {
            let columns = layouts.first { $0.name == operation.table }!.columns.map(\.name)
            guard let state = columns.firstIndex(of: "sync_state"), let id = columns.firstIndex(of: "id") else { continue }
            states[operation.table + "/" + String.fromDatabaseValue(operation.new[id]!)!] = operation.new[state]!
            var row = operation.new
            row[state] = .null
            operations[index] = RowOperation(table: operation.table, kind: .insert, primaryKey: operation.primaryKey, old: [], new: row)
        }
        for (index, operation) in operations.enumerated() where operation.table == "sync_record" {
            var row = operation.new
            let key = String.fromDatabaseValue(row[1]!)! + "/" + String.fromDatabaseValue(row[2]!)!
            if let state = states[key] { row[6] = state }
            operations[index] = RowOperation(table: operation.table, kind: .insert, primaryKey: operation.primaryKey, old: [], new: row)
        }
        #expect(states.count >= 4)

        let directory = TemporaryDirectory()
        try ReplicaStore.buildWorkingCopy(at: directory.file("copy.db")) { _, insert in
            for operation in operations { try insert(operation.table, operation.new.map { $0 ?? .null }) }
            return HubLogPosition(sequence: 0, digest: nil)
        }
        let copy = try ReplicaStore.open(at: directory.file("copy.db"), options: StoreOptions(durability: .off))
        let moved = try copy.rows([
            ("SELECT count(*) FROM sync_record WHERE deleted = 0 AND length(state) > 0", []),
            ("SELECT count(*) FROM activity WHERE sync_state IS NULL", []),
        ])
        #expect(moved.map { $0[0][0] } == ["0", "0"])
        #expect(try copy.digest() == office.store.digest())
        #expect(try copy.audit().broken == nil)
        try copy.close()
    }
}
