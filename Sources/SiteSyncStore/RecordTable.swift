import Foundation
import GRDB
import GRDBSQLite
import SiteSyncCore

/// A record's state as stored, with its `sync_record` id (also its typed row's rowid).
struct StoredRecord {
    let rowID: Int64
    var state: RecordState
}

/// What saving a record needs to know of it as it was stored, taken when it is loaded: then
/// the loaded state itself can change in place (the first change to a loaded state otherwise
/// copied all its versions, the stored copy still holding them).
struct StoredFacts {
    let rowID: Int64
    let wasLive: Bool
    let department: String
    let conflicts: Int
    /// The values of the fields the table's indexes cover, in ``RecordTable``'s order of them.
    let indexedValues: [FieldValue]
}

/// Where records live, and how they are found and saved. A class: the apply path reaches a
/// table once or twice per change, and a copy of this struct (a dozen strings and arrays) cost
/// 4 % of the writer's time in a profile.
///
/// A live record has a typed row (what people query, with its replicated state in the
/// `sync_state` column) and a `sync_record` row (its identity, department and conflict count)
/// with the same rowid; a deleted record has only its `sync_record` row, flagged `deleted` and
/// holding its state, and is found through the partial index `sync_record_deleted`. Looking a
/// record up by id therefore goes through the typed table's `id` index, the one index a plain
/// table of the same rows has too; a new record's `sync_record` row is an append, and a change
/// to a live record rewrites its typed row alone (its `sync_record` row only when its
/// department, deletion or conflict count changes). Nothing but the store writes these tables;
/// people and scripts read them.
final class RecordTable: Sendable {
    let collection: CollectionSpec
    private let withDepartment: Bool
    /// The fields in code order, each with its position among the typed columns.
    private let fieldsByCode: [(FieldSpec, Int32)]
    /// The same, reduced to what binding a single-valued field needs (no copy of the spec).
    private let columnsByCode: [(code: UInt16, column: Int32, isSet: Bool)]
    private let insertSQL: String
    private let updateSQL: String
    /// The update without the columns the table's indexes cover (``StoreSchema/parentIndexes``),
    /// for a change that leaves their values as they were; `nil` when no index covers a field.
    private let updateKeepingIndexedSQL: String?
    /// The fields an index of the table covers.
    private let indexedFields: [FieldSpec]
    private let deleteSQL: String
    private let loadSQL: String
    /// The live record alone, for a collection that holds no deleted one.
    private let loadLiveSQL: String

    init(_ collection: CollectionSpec) {
        self.collection = collection
        withDepartment = StoreSchema.hasDepartmentColumn(collection)
        fieldsByCode = collection.fields.enumerated().map { ($1, Int32($0)) }.sorted { $0.0.code < $1.0.code }
        columnsByCode = fieldsByCode.map { ($0.0.code, $0.1, $0.0.rule == .orset) }
        let table = StoreSchema.quoted(collection.name)
        let valueColumns = (withDepartment ? ["department"] : []) + collection.fields.map(\.name)
        let quoted = valueColumns.map(StoreSchema.quoted)
        let state = StoreSchema.stateColumn
        // The values, then the state, then the row: numbered parameters, so that both updates
        // and the insert bind the same values at the same places.
        insertSQL = "INSERT INTO \(table) (\(quoted.joined(separator: ", ")), \(state), rowid, id) VALUES ("
            + (1...quoted.count + 3).map { "?\($0)" }.joined(separator: ", ") + ")"
        let assignments = quoted.enumerated().map { "\($1) = ?\($0 + 1)" }
        let stateAndRow = ", \(state) = ?\(quoted.count + 1) WHERE rowid = ?\(quoted.count + 2)"
        updateSQL = "UPDATE \(table) SET " + assignments.joined(separator: ", ") + stateAndRow
        let indexedNames = Set(StoreSchema.parentIndexes.filter { $0.0 == collection.name }.map(\.1))
        indexedFields = collection.fields.filter { indexedNames.contains($0.name) }
        let kept = zip(valueColumns, assignments).filter { !indexedNames.contains($0.0) }
        updateKeepingIndexedSQL = indexedFields.isEmpty || kept.isEmpty ? nil
            : "UPDATE \(table) SET " + kept.map(\.1).joined(separator: ", ") + stateAndRow
        deleteSQL = "DELETE FROM \(table) WHERE rowid = ?"
        // A live record through its typed row, else a deleted one through the partial index. A
        // typed row without a state was written by hand, not by the store: no record of it.
        loadLiveSQL = "SELECT rowid, \(state) FROM \(table) WHERE id = ?1 AND \(state) IS NOT NULL"
        loadSQL = loadLiveSQL + " UNION ALL SELECT id, state FROM sync_record WHERE collection = ?2 AND deleted = 1 AND record_id = ?1"
    }

    /// Whether any record of the collection is deleted (through the partial index on them).
    func holdsDeleted(_ statements: PreparedStatements) throws -> Bool {
        let probe = try statements.statement(key(.holdsDeleted), "SELECT 1 FROM sync_record WHERE collection = ? AND deleted = 1 LIMIT 1")
        probe.bind(1, collection.name)
        var found = false
        while try probe.step() { found = true }
        return found
    }

    /// The stored record with this id (live or deleted), or `nil` when never seen.
    ///
    /// One prepared single-row probe per id: cheaper than an `IN` list, which makes SQLite sort
    /// the list into a temporary b-tree first.
    /// - Parameter orDeleted: look among the deleted records too; `false` only when the
    ///   collection holds none (``holdsDeleted(_:)``).
    func load(_ statements: PreparedStatements, id: String, orDeleted: Bool = true) throws -> StoredRecord? {
        let probe = try statements.statement(key(orDeleted ? .load : .loadLive), orDeleted ? loadSQL : loadLiveSQL)
        probe.bind(1, id)
        if orDeleted { probe.bind(2, collection.name) }
        var result: StoredRecord?
        while try probe.step() {
            let key = RecordKey(collection: collection.code, id: id)
            result = StoredRecord(rowID: probe.int64(0), state: try RecordStateCodec.decode(probe.bytes(1), key: key))
        }
        return result
    }

    /// Saves a record's new state and makes its typed row show it.
    /// What a save needs to know of `stored`.
    func facts(of stored: StoredRecord) -> StoredFacts {
        StoredFacts(rowID: stored.rowID, wasLive: !stored.state.isDeleted, department: stored.state.department,
                    conflicts: stored.state.conflictCount(in: collection), indexedValues: indexedFields.map { stored.state.value(of: $0) })
    }

    /// - Parameters:
    ///   - stored: the record as loaded before the change (``facts(of:)``), `nil` when new.
    ///   - conflicts: the record's number of fields in conflict, kept in `sync_record`.
    ///   - blob: the state's blob, when it was encoded beforehand (``CreatedRecord``).
    func save(_ statements: PreparedStatements, _ state: RecordState, stored: StoredFacts?, conflicts: Int, blob: [UInt8]? = nil) throws {
        let blob = blob ?? RecordStateCodec.encode(state)
        let live = !state.isDeleted
        let wasLive = stored?.wasLive ?? false
        // A live record's state goes in its typed row; `sync_record` keeps a deleted one's.
        let recordState = live ? [] : blob
        let rowID: Int64
        if let stored {
            rowID = stored.rowID
            // A live record changed in its fields alone leaves its `sync_record` row as it was:
            // one random page fewer per change.
            if !(wasLive && live && stored.department == state.department && stored.conflicts == conflicts) {
                let update = try statements.statement(key(.updateState),
                    "UPDATE sync_record SET department = ?, deleted = ?, conflicts = ?, state = ? WHERE id = ?")
                update.bind(1, state.department)
                update.bind(2, live ? 0 : 1)
                update.bind(3, Int64(conflicts))
                update.bind(4, blob: recordState)
                update.bind(5, rowID)
                try update.run()
            }
        } else {
            let insert = try statements.statement(key(.insertState),
                "INSERT INTO sync_record (collection, record_id, department, deleted, conflicts, state) VALUES (?, ?, ?, ?, ?, ?)")
            insert.bind(1, collection.name)
            insert.bind(2, state.key.id)
            insert.bind(3, state.department)
            insert.bind(4, live ? 0 : 1)
            insert.bind(5, Int64(conflicts))
            insert.bind(6, blob: recordState)
            try insert.run()
            rowID = sqlite3_last_insert_rowid(statements.db.sqliteConnection)
        }
        switch (wasLive, live) {
        case (true, true):
            let update = try statements.statement(key(.updateRow), updateSQL)
            // SQLite rewrites an index entry for every indexed column an UPDATE sets, even to the
            // value it had: a page of the index written per change to a record (a quarter of a
            // bulk apply's), where most changes leave the parent the index is on as it was.
            if let keepingIndexed = updateKeepingIndexedSQL, let stored,
               zip(indexedFields, stored.indexedValues).allSatisfy({ state.value(of: $0) == $1 }) {
                let update = try statements.statement(key(.updateRowKeepingIndexed), keepingIndexed)
                let next = bindValues(of: state, to: update, from: 1)
                update.bind(next, blob: blob)
                update.bind(next + 1, rowID)
                try update.run()
                break
            }
            let next = bindValues(of: state, to: update, from: 1)
            update.bind(next, blob: blob)
            update.bind(next + 1, rowID)
            try update.run()
        case (false, true):
            let insert = try statements.statement(key(.insertRow), insertSQL)
            let next = bindValues(of: state, to: insert, from: 1)
            insert.bind(next, blob: blob)
            insert.bind(next + 1, rowID)
            insert.bind(next + 2, state.key.id)
            try insert.run()
        case (true, false):
            let delete = try statements.statement(key(.deleteRow), deleteSQL)
            delete.bind(1, rowID)
            try delete.run()
        case (false, false):
            break
        }
    }

    /// Removes a record entirely: its typed row and its state (a record whose every change
    /// was retracted).
    func remove(_ statements: PreparedStatements, _ stored: StoredRecord) throws {
        if !stored.state.isDeleted {
            let delete = try statements.statement(key(.deleteRow), deleteSQL)
            delete.bind(1, stored.rowID)
            try delete.run()
        }
        try statements.db.execute(sql: "DELETE FROM sync_record WHERE id = ?", arguments: [stored.rowID])
    }

    /// Binds the typed row's values (the department where the table has that column, then
    /// every field's visible value) from parameter `index` on; returns the next index.
    private func bindValues(of state: RecordState, to statement: RawStatement, from index: Int32) -> Int32 {
        var first = index
        if withDepartment {
            statement.bind(first, state.department)
            first += 1
        }
        // One walk over the record's versions (sorted by field code) binds every column; a
        // column with no version stays NULL.
        let versions = state.versions
        var cursor = 0
        for (position, (code, column, isSet)) in columnsByCode.enumerated() {
            while cursor < versions.count && versions[cursor].field < code { cursor += 1 }
            var end = cursor
            while end < versions.count && versions[end].field == code { end += 1 }
            if end == cursor {
                statement.bindNull(first + column)
            } else if end - cursor == 1 && !isSet {
                statement.bind(first + column, versions[cursor].value)
            } else {
                statement.bind(first + column, fieldsByCode[position].0.resolve(versions[cursor..<end]).value)
            }
            cursor = end
        }
        return first + Int32(collection.fields.count)
    }

    /// Whether the typed row with `rowID` shows exactly what `state` says (for `audit verify`):
    /// the same binding as a save, compared with `IS` so that NULLs compare equal.
    func rowMatches(_ statements: PreparedStatements, _ state: RecordState, rowID: Int64) throws -> Bool {
        let valueColumns = (withDepartment ? ["department"] : []) + collection.fields.map(\.name)
        let conditions = valueColumns.enumerated().map { "\(StoreSchema.quoted($1)) IS ?\($0 + 1)" }
        let check = try statements.statement(key(.checkRow), "SELECT 1 FROM \(StoreSchema.quoted(collection.name)) WHERE "
            + (conditions + ["rowid = ?\(valueColumns.count + 1)", "id = ?\(valueColumns.count + 2)"]).joined(separator: " AND "))
        let next = bindValues(of: state, to: check, from: 1)
        check.bind(next, rowID)
        check.bind(next + 1, state.key.id)
        var found = false
        while try check.step() { found = true }
        return found
    }

    private enum Statement: Int {
        case load, updateState, insertState, updateRow, insertRow, deleteRow, checkRow, updateRowKeepingIndexed, loadLive, holdsDeleted
    }

    /// A statement's key: unique per collection and purpose.
    private func key(_ statement: Statement) -> Int { Int(collection.code) << 8 | statement.rawValue }

    /// Every live record, in id order.
    func live(_ db: Database) throws -> [RecordState] {
        let rows = try Row.fetchCursor(db, sql: """
            SELECT id, \(StoreSchema.stateColumn) FROM \(StoreSchema.quoted(collection.name))
            WHERE \(StoreSchema.stateColumn) IS NOT NULL ORDER BY id
            """)
        var result: [RecordState] = []
        while let row = try rows.next() {
            result.append(try RecordStateCodec.decode([UInt8](row[1] as Data), key: RecordKey(collection: collection.code, id: row[0])))
        }
        return result
    }
}
