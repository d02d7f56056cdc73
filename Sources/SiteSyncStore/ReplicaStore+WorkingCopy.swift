import Foundation
import GRDB
import SiteSyncCore

/// A hub process's working copy (docs/design.md §18): the changesets other processes wrote,
/// applied in order, bring it to the state they left.
extension ReplicaStore {
    /// Applies `changesets`, each taken from a copy of this database in the state the one before
    /// left, in one transaction; the first that does not fit aborts them all.
    public func applyChangesets(_ changesets: [Changeset]) throws {
        try StoreError.mapping {
            try pool.writer.write { db in
                for changeset in changesets { try pool.apply(changeset, db) }
            }
        }
    }

    /// Brings this working copy up to its ``TransactionLog``'s last changeset (nothing to do
    /// without one): a hub process does so between writes, so its reports show what the other
    /// processes wrote.
    public func catchUp() throws {
        try StoreError.mapping { try pool.catchUp() }
    }

    /// Where this working copy stands in its log (``HubLogPosition/start`` without one).
    public func logPosition() throws -> HubLogPosition {
        try StoreError.mapping { try pool.read { db in try StorePool.appliedPosition(db) } }
    }
}

/// A table of the store as SQL sees it: for keeping a copy of it elsewhere (the hub's tables in
/// PostgreSQL, docs/design.md §18).
public struct TableLayout: Sendable, Equatable {
    /// A column's type: SQLite's declared type, and for a typed table's decimal and date fields
    /// (stored as canonical text) what they hold.
    public enum ColumnType: Sendable, Equatable { case integer, text, blob, real, decimal, date }

    public struct Column: Sendable, Equatable {
        public let name: String
        public let type: ColumnType
        /// Part of the primary key.
        public let isKey: Bool
    }

    public let name: String
    public let columns: [Column]
}

extension ReplicaStore {
    /// Every table a changeset may name (all but SQLite's and the migrations' bookkeeping).
    public func tableLayouts() throws -> [TableLayout] {
        try StoreError.mapping { try pool.read { db in try Self.tableLayouts(db, schema: schema) } }
    }

    static func tableLayouts(_ db: Database, schema: Schema) throws -> [TableLayout] {
        let names = try String.fetchAll(db, sql: """
            SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations' ORDER BY name
            """)
        return try names.map { name in
            let collection = schema.collection(named: name)
            let columns = try Row.fetchAll(db, sql: "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", arguments: [name]).map { row in
                let column: String = row[0]
                let declared = (row[1] as String).uppercased()
                var type: TableLayout.ColumnType = declared.contains("INT") ? .integer : declared == "BLOB" ? .blob
                    : declared == "REAL" ? .real : .text
                switch collection?.field(named: column)?.type {
                case .decimal: type = .decimal
                case .date: type = .date
                default: break
                }
                return TableLayout.Column(name: column, type: type, isKey: (row[2] as Int) > 0)
            }
            return TableLayout(name: name, columns: columns)
        }
    }
}

extension ReplicaStore {
    /// Every row of the tables `layouts` names, as inserts: what a copy of the store elsewhere
    /// starts from (the hub's tables in PostgreSQL, when its first process starts). The
    /// working copy's own place in the log (``StorePool/positionKeys`` in `sync_meta`) is not
    /// among them.
    public func rowsAsInserts(_ layouts: [TableLayout]) throws -> [RowOperation] {
        try StoreError.mapping {
            try pool.read { db in
                var operations: [RowOperation] = []
                for layout in layouts {
                    let keys = layout.columns.map(\.isKey)
                    let rows = try Row.fetchCursor(db, sql: "SELECT * FROM \(StoreSchema.quoted(layout.name))")
                    while let row = try rows.next() {
                        if layout.name == "sync_meta", let key = String.fromDatabaseValue(row[0]),
                           StorePool.positionKeys.contains(key) { continue }
                        operations.append(RowOperation(table: layout.name, kind: .insert, primaryKey: keys, old: [], new: Array(row.databaseValues)))
                    }
                }
                return operations
            }
        }
    }
}

extension ReplicaStore {
    /// Builds a hub process's working copy at `path` from the store's record elsewhere (the
    /// hub's tables in PostgreSQL, docs/design.md §18): for a process that starts without one,
    /// or whose copy can no longer follow the log. The tables are this SiteSync's; `rows` hands
    /// `insert` every row of the tables `layouts` names, all from one snapshot of the record,
    /// and returns where in the log that snapshot stands, which becomes the copy's place in it. Typed rows get back their records' rowids (``RecordTable``).
    ///
    /// The copy is built beside `path` and moved there only once whole, so a process killed
    /// while building leaves no half-made copy for the next one to trust.
    /// - Throws: ``StoreError`` `.newerSchema` when the record was written by another version
    ///   of SiteSync, `.notSiteSync` when the rows hold no store's identity; nothing is left at
    ///   `path` then.
    public static func buildWorkingCopy(
        at path: String, schema: Schema = .siteSync,
        rows: (_ layouts: [TableLayout], _ insert: (_ table: String, _ values: [DatabaseValue]) throws -> Void) throws -> HubLogPosition
    ) throws {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: path) else {
            throw StoreError(.invalidWrite, "a database already exists at \(path); it was not changed")
        }
        let building = path + ".building"
        let files = ["", "-journal", "-wal", "-shm"]
        for suffix in files { try? fm.removeItem(atPath: building + suffix) }
        do {
            try StoreError.mapping {
                let queue = try DatabaseQueue(path: building)
                try StoreSchema.migrator(schema: schema).migrate(queue)
                try queue.write { db in try fill(db, schema: schema, rows: rows) }
                try queue.close()
            }
            try fm.moveItem(atPath: building, toPath: path)
        } catch {
            for suffix in files { try? fm.removeItem(atPath: building + suffix) }
            throw error
        }
    }

    /// The body of ``buildWorkingCopy(at:schema:rows:)``, in its one transaction: the tables
    /// emptied of what a new store starts with, then filled.
    private static func fill(
        _ db: Database, schema: Schema,
        rows: ([TableLayout], (String, [DatabaseValue]) throws -> Void) throws -> HubLogPosition
    ) throws {
        let layouts = try tableLayouts(db, schema: schema)
        var inserts: [String: Statement] = [:]
        for layout in layouts {
            try db.execute(sql: "DELETE FROM \(StoreSchema.quoted(layout.name))")
            inserts[layout.name] = try db.makeStatement(sql: "INSERT INTO \(StoreSchema.quoted(layout.name)) ("
                + layout.columns.map { StoreSchema.quoted($0.name) }.joined(separator: ", ") + ") VALUES ("
                + Array(repeating: "?", count: layout.columns.count).joined(separator: ", ") + ")")
        }
        let position = try rows(layouts) { table, values in
            guard let insert = inserts[table] else {
                throw StoreError(.newerSchema, "the store holds a table \(table) that this SiteSync does not know; "
                                 + "run the same SiteSync version in every hub process")
            }
            try insert.execute(arguments: StatementArguments(values))
        }
        for collection in schema.collections {
            let table = StoreSchema.quoted(collection.name)
            try db.execute(sql: "UPDATE \(table) SET rowid = -rowid")
            try db.execute(sql: """
                UPDATE \(table) SET rowid = (SELECT id FROM sync_record WHERE collection = ? AND record_id = \(table).id)
                """, arguments: [collection.name])
        }
        // Rows a SiteSync before schema v8 wrote keep live records' states in `sync_record`.
        try StoreSchema.moveLiveStates(db, schema: schema)
        try StorePool.setAppliedPosition(db, position)
        let meta = try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT key, value FROM sync_meta")
            .map { ($0["key"] as String, $0["value"] as String) })
        guard meta["format"] == "sitesync", meta["replica"] != nil else {
            throw StoreError(.notSiteSync, "the store holds no hub's identity (its sync_meta table is empty): "
                             + "make the hub's first process with `sitesync init --role hub --store URL`")
        }
        guard meta["schema_version"] == String(schema.version), meta["schema_hash"] == schema.hash else {
            throw StoreError(.newerSchema, "the store was written by a SiteSync with schema \(meta["schema_version"] ?? "?"), "
                             + "this one has schema \(schema.version); run the same SiteSync version in every hub process")
        }
    }
}

extension ReplicaStore {
    /// A setting of the hub's own, kept in its store (`sync_meta`) so that every process of a
    /// hub whose store is PostgreSQL reads the same (the allow-list); never sent to nodes.
    public func hubSetting(_ key: String) throws -> String? {
        try StoreError.mapping {
            try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM sync_meta WHERE key = ?", arguments: ["hub:" + key]) }
        }
    }

    public func setHubSetting(_ key: String, _ value: String) throws {
        try StoreError.mapping {
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO sync_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value
                    """, arguments: ["hub:" + key, value])
            }
        }
    }
}
