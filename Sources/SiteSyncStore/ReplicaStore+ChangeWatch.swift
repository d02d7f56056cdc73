import GRDB

/// Tells cheaply whether a database changed, for a reader that keeps figures computed from it
/// (an HTTP API's cache): `PRAGMA data_version` on a connection of its own, which changes
/// whenever another connection — this process's writer or another process's — commits. On a
/// connection that also wrote it would miss its own writes, hence the dedicated one.
public final class ChangeWatch: Sendable {
    /// The dedicated read-only connection; over an in-memory store, whose one connection does
    /// every write, the store's own, where `total_changes()` counts them.
    private let connection: any DatabaseReader
    private let inMemory: Bool

    init(connection: any DatabaseReader, inMemory: Bool) {
        self.connection = connection
        self.inMemory = inMemory
    }

    /// A number that differs from the last one read whenever the database changed since.
    /// It says nothing of what changed: sync bookkeeping counts as much as a field entry.
    public func version() throws -> Int64 {
        let sql = inMemory ? "SELECT total_changes()" : "PRAGMA data_version"
        return try StoreError.mapping {
            try connection.unsafeReentrantRead { db in try Int64.fetchOne(db, sql: sql) ?? 0 }
        }
    }
}

extension ReplicaStore {
    /// A watch for changes to this database (``ChangeWatch``).
    public func changeWatch() throws -> ChangeWatch {
        guard path != ":memory:" else { return ChangeWatch(connection: pool.writer, inMemory: true) }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(options.busyTimeout)
        return try StoreError.mapping { ChangeWatch(connection: try DatabaseQueue(path: path, configuration: configuration), inMemory: false) }
    }
}
