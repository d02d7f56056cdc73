import GRDB
import GRDBSQLite
import SiteSyncCore

extension ReplicaStore {
    /// The `synchronous` setting the writer connection commits with, as SQLite reports it
    /// (`OFF`, `NORMAL`, `FULL` or `EXTRA`).
    ///
    /// Read back rather than taken from ``StoreOptions/durability``: GRDB sets `NORMAL` when it
    /// turns WAL on, so what was asked for and what runs can differ. The benchmark uses it to
    /// state the durability its figures were measured at.
    public func writerSynchronous() throws -> String {
        try StoreError.mapping { try pool.writeWithoutTransaction { db in try Self.synchronous(of: db) } }
    }

    /// The pages the writer connection has written to the log since it opened (SQLite's
    /// `SQLITE_DBSTATUS_CACHE_WRITE`): what its commits cost the disk, counted rather than timed,
    /// for the benchmark to set beside a plain table's.
    public func writerPagesWritten() throws -> Int {
        try StoreError.mapping { try pool.writeWithoutTransaction { db in Self.pagesWritten(by: db) } }
    }

    /// The pages the connection `db` has written to its database or log since it opened.
    public static func pagesWritten(by db: Database) -> Int {
        var current: Int32 = 0, highest: Int32 = 0
        sqlite3_db_status(db.sqliteConnection, SQLITE_DBSTATUS_CACHE_WRITE, &current, &highest, 0)
        return Int(current)
    }

    /// The `synchronous` setting of the connection `db`, by SQLite's name for it.
    public static func synchronous(of db: Database) throws -> String {
        let names = ["OFF", "NORMAL", "FULL", "EXTRA"]
        let level = try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
        return names.indices.contains(level) ? names[level] : "level \(level)"
    }
}

extension ReplicaStore {
    /// The SQL that makes `collection`'s typed table as a store holds it, with its indexes but
    /// without the column of record states: a plain table of the same rows (the benchmark's
    /// baseline) pays for the same indexes.
    public static func typedTableSQL(_ collection: CollectionSpec) -> [String] {
        StoreSchema.typedTableSQL(collection)
    }
}
