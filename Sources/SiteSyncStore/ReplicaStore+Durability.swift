import GRDB
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

    /// The `synchronous` setting of the connection `db`, by SQLite's name for it.
    public static func synchronous(of db: Database) throws -> String {
        let names = ["OFF", "NORMAL", "FULL", "EXTRA"]
        let level = try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
        return names.indices.contains(level) ? names[level] : "level \(level)"
    }
}

extension ReplicaStore {
    /// The SQL that makes `collection`'s typed table as a store holds it, with its indexes: a
    /// plain table of the same rows (the benchmark's baseline) pays for the same indexes.
    public static func typedTableSQL(_ collection: CollectionSpec) -> [String] {
        StoreSchema.typedTableSQL(collection)
    }
}
