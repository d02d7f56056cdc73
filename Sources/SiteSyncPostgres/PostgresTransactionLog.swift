import Foundation
import SiteSyncStore
import Synchronization

/// The ``TransactionLog`` of a hub whose store is PostgreSQL (docs/design.md §18): the write
/// transactions of every hub process over the database, in one order, in `hub_log`.
///
/// The right to write is the row lock on `hub_log_head`'s one row, held by a PostgreSQL
/// transaction from the moment a process reads the head until it commits the changeset after
/// it: the next writer waits for that commit, then sees the new head. Sequence numbers are
/// therefore given in commit order, and a reader that has applied up to N never meets an N + 1
/// committed later than N + 2.
public final class PostgresTransactionLog: TransactionLog {
    let connection: PostgresConnection
    /// Which process wrote each changeset (for the operator reading `hub_log`).
    private let process: String
    private let wallClock: @Sendable () -> UInt64
    /// The hub's tables in PostgreSQL, replayed in the transaction that logs each changeset
    /// (``keepTables(of:)``).
    private let mirror = Mutex<PostgresMirror?>(nil)

    /// Opens the log at `connection`, creating its two tables when the database has none.
    public init(connection: PostgresConnection, process: String,
                wallClock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }) throws {
        self.connection = connection
        self.process = process
        self.wallClock = wallClock
        try connection.executeScript(Self.schema)
    }

    static let schema = """
        CREATE TABLE IF NOT EXISTS hub_log_head (
            only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
            sequence BIGINT NOT NULL,
            -- Whether the hub's tables hold the first working copy's rows (keepTables(of:)).
            seeded BOOLEAN NOT NULL DEFAULT FALSE
        );
        INSERT INTO hub_log_head (only_row, sequence) VALUES (TRUE, 0) ON CONFLICT DO NOTHING;
        CREATE TABLE IF NOT EXISTS hub_log (
            sequence BIGINT PRIMARY KEY,
            changeset BYTEA NOT NULL,
            written_ms BIGINT NOT NULL,
            process TEXT NOT NULL
        );
        -- The changeset's SHA-256 in hex: a working copy checks the one it last applied is
        -- still the log's at that place (HubLogPosition). Added only when missing: an ALTER
        -- TABLE takes the table's exclusive lock even when it skips, and every process and
        -- command at the hub runs this script, so a long reader of hub_log (pg_dump) would hold
        -- them up, and every write queued behind them.
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                           WHERE table_schema = current_schema() AND table_name = 'hub_log' AND column_name = 'digest') THEN
                ALTER TABLE hub_log ADD COLUMN digest TEXT;
            END IF;
        END $$;
        """

    /// Creates in PostgreSQL the tables of `store`, this log's working copy, that it lacks (and
    /// their new columns), fills them from it when they are new (the hub's first process: what
    /// its store held before it wrote through the log, such as its own credential), and from
    /// now on replays each logged changeset into them. A hub process calls it once its store is
    /// open, before it serves.
    public func keepTables(of store: ReplicaStore) throws {
        let layouts = try store.tableLayouts()
        let mirror = PostgresMirror(layouts)
        var existing: PostgresMirror.ExistingColumns = [:]
        for row in try connection.execute(PostgresMirror.existingColumnsSQL).rows {
            guard let table = row[0].text, let column = row[1].text else { continue }
            existing[table, default: []].insert(column)
        }
        let missing = mirror.createSQL(existing: existing)
        if !missing.isEmpty { try connection.executeScript(missing) }
        try connection.transaction { transaction in
            guard let head = try transaction.execute("SELECT sequence, seeded FROM hub_log_head FOR UPDATE").rows.first,
                  head[1].bool == false else { return }
            guard head[0].int64 == 0 else {
                throw PostgresError(kind: .misuse, message: "hub_log holds transactions but the hub's tables were never filled",
                                    advice: "The database was altered by hand; start the hub's PostgreSQL database again from a backup")
            }
            try transaction.executeAll(try store.rowsAsInserts(layouts).map(mirror.statement(for:)))
            try transaction.execute("UPDATE hub_log_head SET seeded = TRUE")
        }
        self.mirror.withLock { $0 = mirror }
    }

    public func append<T>(after applied: HubLogPosition, _ work: ([LoggedChangeset]) throws -> (T, Changeset)) throws
        -> (value: T, position: HubLogPosition)
    {
        var workStarted = false
        return try reconnecting(retry: { !workStarted }, advice: Self.writeAdvice) {
            try connection.transaction { transaction in
                guard let head = try transaction.execute("SELECT sequence FROM hub_log_head FOR UPDATE").scalar?.int64 else {
                    throw PostgresError(kind: .misuse, message: "the database has no hub_log_head row",
                                        advice: "It is not a SiteSync hub's database, or its tables were altered")
                }
                try Self.check(applied, head: head, transaction)
                let missed = head > applied.sequence ? try Self.changesets(transaction.execute(
                    "SELECT sequence, changeset FROM hub_log WHERE sequence > $1 ORDER BY sequence", [.int64(applied.sequence)])) : []
                workStarted = true
                let (value, changeset) = try work(missed)
                guard !changeset.isEmpty else { return (value, missed.last?.position ?? applied) }
                let logged = LoggedChangeset(sequence: head + 1, changeset: changeset)
                try transaction.execute("""
                    INSERT INTO hub_log (sequence, changeset, written_ms, process, digest) VALUES ($1, $2, $3, $4, $5)
                    """, [.int64(logged.sequence), .bytea([UInt8](changeset.bytes)), .int64(Int64(wallClock())), .text(process),
                          .text(changeset.digest)])
                guard let mirror = mirror.withLock({ $0 }) else {
                    throw PostgresError(kind: .misuse, message: "the hub's tables in PostgreSQL are not kept yet",
                                        advice: "Call keepTables(of:) once the store is open, before it writes")
                }
                try transaction.executeAll(try changeset.operations().map(mirror.statement(for:)))
                try transaction.execute("UPDATE hub_log_head SET sequence = $1", [.int64(head + 1)])
                return (value, logged.position)
            }
        }
    }

    /// Whether the database already holds a hub (its tables were filled from a first process).
    public func holdsHub() throws -> Bool {
        try reconnecting(retry: { true }) { try connection.execute("SELECT seeded FROM hub_log_head").scalar?.bool ?? false }
    }

    public func changesets(after applied: HubLogPosition) throws -> [LoggedChangeset] {
        let rows = try reconnecting(retry: { true }, advice: Self.readAdvice) {
            try connection.transaction(isolation: .repeatableRead) { transaction in
                let head = try transaction.execute("SELECT sequence FROM hub_log_head").scalar?.int64 ?? 0
                try Self.check(applied, head: head, transaction)
                return try transaction.execute("SELECT sequence, changeset FROM hub_log WHERE sequence > $1 ORDER BY sequence",
                                               [.int64(applied.sequence)])
            }
        }
        return try Self.changesets(rows)
    }

    /// `body`, and once more over a new connection when the connection turns out broken (the
    /// server restarted) and `retry()` says nothing was done yet. When the working copy's
    /// transaction had already run, the error goes to the caller (its SQLite transaction rolls
    /// back; the node sends the batch again), and the next call finds the connection renewed.
    ///
    /// A connection still lost is told with `advice` when given, for whoever asked (a node's
    /// user, whose sync the hub answers with it), rather than the wrapper's advice to reconnect.
    func reconnecting<R>(retry: () -> Bool, advice: String? = nil, _ body: () throws -> R) throws -> R {
        func outOfReach(_ error: PostgresError) -> PostgresError {
            guard let advice else { return error }
            return PostgresError(kind: error.kind, sqlState: error.sqlState, message: error.message, detail: error.detail, advice: advice)
        }
        do {
            return try body()
        } catch let error as PostgresError where error.sqlState == "55P03" {
            // lock_timeout (connectionSettings): another process held the write lock too long.
            throw PostgresError(kind: error.kind, sqlState: error.sqlState,
                                message: "another process of the hub held the store's write lock for more than 20 s",
                                advice: "Nothing of this write was acknowledged: try again; a process that keeps it longer is hung "
                                    + "(PostgreSQL ends its transaction after five idle minutes)")
        } catch let error as PostgresError where error.kind == .connectionLost {
            try? connection.reconnect()
            guard retry() else { throw outOfReach(error) }
            do {
                return try body()
            } catch let error as PostgresError where error.kind == .connectionLost {
                throw outOfReach(error)
            }
        }
    }

    /// The settings of a hub process's connection to the log. A process that hangs (rather than
    /// dies) while it holds the write lock would stop every other process's writes: the server
    /// ends its transaction after five idle minutes, which rolls its write back and frees the
    /// lock. A write waiting for the lock gives up after 20 s, so that the node hears "retry
    /// later" before its own 30 s of silence end the round.
    public static let connectionSettings: [(name: String, value: String)] = [
        ("lock_timeout", "20s"), ("idle_in_transaction_session_timeout", "5min"),
    ]

    static let writeAdvice = "The hub's store is out of reach (PostgreSQL stopped or is restarting); nothing of this write was "
        + "acknowledged: try again once PostgreSQL answers"
    static let readAdvice = "The hub's store is out of reach (PostgreSQL stopped or is restarting); this process's copy stays as "
        + "it is until PostgreSQL answers"

    /// A working copy ahead of the log, or holding another changeset at its place than the
    /// log's, holds transactions the database lost: it was restored from an older backup.
    static func check(_ applied: HubLogPosition, head: Int64, _ transaction: PostgresTransaction) throws {
        guard applied.sequence <= head else { throw applied.unfit(logHead: head) }
        guard applied.sequence > 0, let digest = applied.digest else { return }
        let logged = try transaction.execute("SELECT digest FROM hub_log WHERE sequence = $1", [.int64(applied.sequence)]).scalar
        if let text = logged?.text, text != digest { throw applied.unfit(logHead: head) }
    }

    /// Whether the log holds `position`: a copy standing there can follow it.
    public func holds(_ position: HubLogPosition) throws -> Bool {
        try reconnecting(retry: { true }) {
            try connection.transaction(isolation: .repeatableRead) { transaction in
                let head = try transaction.execute("SELECT sequence FROM hub_log_head").scalar?.int64 ?? 0
                do {
                    try Self.check(position, head: head, transaction)
                    return true
                } catch let error as StoreError where error.code == .workingCopyUnfit {
                    return false
                }
            }
        }
    }

    private static func changesets(_ rows: PostgresRows) throws -> [LoggedChangeset] {
        try rows.rows.map { row in
            guard let sequence = row[0].int64, let bytes = row[1].bytes else {
                throw PostgresError(kind: .unsupported, message: "a row of hub_log is not a sequence number and a changeset")
            }
            return LoggedChangeset(sequence: sequence, changeset: Changeset(bytes: Data(bytes)))
        }
    }
}
