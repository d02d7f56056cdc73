import CSQLiteSession

/// SQLite's settings for the whole process, made once at a program's start.
public enum SQLiteProcess {
    /// Turns SQLite's memory statistics off, so that its allocations take no process-wide lock
    /// (5 – 7 % of a bulk apply's writer time). SQLite accepts this only before its first use,
    /// and `sqlite3_config` must not run beside any other SQLite call: a program's `main` calls
    /// it first thing, before any thread starts. Returns whether SQLite took it.
    @discardableResult
    public static func configure() -> Bool {
        sitesync_sqlite_configure_process() == 0
    }
}
