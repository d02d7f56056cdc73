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
        try StoreError.mapping {
            try pool.read { db in
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
    }
}

extension ReplicaStore {
    /// Every row of the tables `layouts` names, as inserts: what a copy of the store elsewhere
    /// starts from (the hub's tables in PostgreSQL, when its first process starts). The
    /// working copy's own place in the log (`sync_meta` `log_applied`) is not among them.
    public func rowsAsInserts(_ layouts: [TableLayout]) throws -> [RowOperation] {
        try StoreError.mapping {
            try pool.read { db in
                var operations: [RowOperation] = []
                for layout in layouts {
                    let keys = layout.columns.map(\.isKey)
                    let rows = try Row.fetchCursor(db, sql: "SELECT * FROM \(StoreSchema.quoted(layout.name))")
                    while let row = try rows.next() {
                        if layout.name == "sync_meta", row[0] == "log_applied" { continue }
                        operations.append(RowOperation(table: layout.name, kind: .insert, primaryKey: keys, old: [], new: Array(row.databaseValues)))
                    }
                }
                return operations
            }
        }
    }
}
