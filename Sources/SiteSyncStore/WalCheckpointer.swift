import CSQLiteSession
import Foundation
import Glibc
import GRDB
import GRDBSQLite

/// Copies the write-ahead log into the database file from a connection and a thread of its
/// own, so that the writer never waits for a checkpoint (docs/design.md §5).
///
/// SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, on the
/// writer's thread: a profile of a bulk apply found it 11–12 % of the writer's time, mostly one
/// fsync of the database file per checkpoint. Here the writer's commit only reports how many
/// frames the log holds (SQLite's WAL hook, which replaces the automatic checkpoint); each
/// time it has grown by ``StoreOptions/checkpointFrames`` a PASSIVE checkpoint is queued,
/// which copies what no reader still needs and never blocks the writer. The pace is the
/// automatic checkpoint's: a writer that never pauses keeps the log from restarting (a
/// checkpoint is never quite done), and one checkpoint per commit — each with an fsync of the
/// database file — slowed durable local writes by half in the benchmark. A log that keeps
/// growing (a writer that never pauses, a long read) is cut back by a TRUNCATE checkpoint once
/// it passes ``StoreOptions/walBoundBytes``: that one waits for the writer's transaction in
/// progress, and the writer waits for it, once per bound's worth of writes.
///
/// A checkpoint never loses a committed transaction: the connection checkpoints with
/// `synchronous = FULL`, so the log is synced before any of it is copied and the database file
/// before the log is reset (the power-cut tests cut the power while it runs).
final class WalCheckpointer: @unchecked Sendable {
    let path: String
    let passiveFrames: Int
    let boundBytes: Int
    private let queue = DispatchQueue(label: "sitesync.checkpoint", qos: .utility)
    private let lock = NSLock()
    /// A checkpoint is queued and has not started yet; commits meanwhile ask for no other.
    private var queued = false
    /// The frames the log held when the last checkpoint was asked for (0 once it restarted).
    private var askedAt = 0
    /// Touched on `queue` only.
    private var connection: DatabaseQueue?
    private var pageSize = 4096
    /// Set by ``close()``: no checkpoint runs after it (touched on `queue` only).
    private var closed = false
    /// Checkpoints run, by kind (touched on `queue` only).
    private var runs = (passive: 0, truncate: 0)

    init(path: String, passiveFrames: Int, boundBytes: Int) {
        self.path = path
        self.passiveFrames = max(1, passiveFrames)
        self.boundBytes = max(1, boundBytes)
    }

    /// Takes the automatic checkpoint off the writer connection `db`: its commits report the
    /// log's size here instead. The hook lives as long as the connection, which keeps this
    /// checkpointer alive.
    func install(on db: Database) throws {
        pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
        db.add(transactionObserver: Keeper(self), extent: .databaseLifetime)
        sqlite3_wal_hook(db.sqliteConnection, { context, _, _, frames in
            guard let context else { return SQLITE_OK }
            Unmanaged<WalCheckpointer>.fromOpaque(context).takeUnretainedValue().logHolds(frames: Int(frames))
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Called on the writer's thread after each commit, with the frames the log holds.
    private func logHolds(frames: Int) {
        lock.lock()
        if frames < askedAt { askedAt = 0 }  // the log restarted from its beginning
        let start = !queued && frames - askedAt >= passiveFrames
        if start {
            queued = true
            askedAt = frames
        }
        lock.unlock()
        if start { queue.async { self.run() } }
    }

    /// Waits until every checkpoint asked for so far has run (tests, and a clean close).
    func settle() {
        queue.sync {}
    }

    /// The checkpoints run so far, by kind, once those asked for have run (tests).
    func counts() -> (passive: Int, truncate: Int) {
        queue.sync { runs }
    }

    /// Closes this checkpointer's connection after the checkpoint in progress, for good: a
    /// store that closes leaves no handle on its files (a restore replaces them by name).
    func close() {
        queue.sync {
            closed = true
            try? connection?.close()
            connection = nil
        }
    }

    private func run() {
        lock.lock()
        queued = false
        lock.unlock()
        checkpoint()
    }

    /// A PASSIVE checkpoint, then a TRUNCATE one if the log is still past its bound. A failure
    /// (busy, the file gone with the store) is left for the next commit to retry.
    private func checkpoint() {
        guard !closed else { return }
        do {
            let connection = try openConnection()
            try connection.inDatabase { db in
                let passive = try Self.checkpoint(db, "PASSIVE")
                runs.passive += 1
                var frames = passive.logFrames
                if frames * pageSize > boundBytes {
                    frames = try Self.checkpoint(db, "TRUNCATE").logFrames
                    runs.truncate += 1
                }
                prepareLog(after: frames)
            }
        } catch {
            // Nothing is lost: the log keeps every commit until a checkpoint succeeds.
        }
    }

    /// How far past its frames the log's file is prepared (``prepareLog(after:)``).
    static let preparedBytes = 16 << 20

    /// Makes the log's next stretch ready for the writer: allocated, and in memory. Without
    /// it, a writer that never pauses (a bulk apply) keeps the log from restarting, so every
    /// commit writes into new pages of a growing file, which the kernel allocates and zeroes
    /// as it writes: in a profile, a quarter of the writer's time went to writing the log,
    /// half of it to that. Here the file is extended ahead of the writer (`fallocate`, which
    /// never alters a byte already written, so it cannot race the writer's frames) and the
    /// kernel asked to bring the new stretch into memory (`posix_fadvise`, `WILLNEED`), off the
    /// writer's thread; the writer's frames then land in pages already there. SQLite reads a
    /// log only up to its last valid frame, so the zeros past it mean nothing; they stay within
    /// the log's bound, and the next truncation removes them. Best effort: where the file
    /// system cannot allocate ahead, nothing is prepared.
    private func prepareLog(after frames: Int) {
        let wanted = min(boundBytes, 32 + frames * (pageSize + 24) + Self.preparedBytes)
        let fd = open(path + "-wal", O_RDWR)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        let size = Int(lseek(fd, 0, SEEK_END))
        guard size >= 0, wanted > size, sitesync_reserve(fd, Int64(size), Int64(wanted - size)) == 0 else { return }
        _ = posix_fadvise(fd, off_t(size), off_t(wanted - size), POSIX_FADV_WILLNEED)
    }

    private static func checkpoint(_ db: Database, _ mode: String) throws -> (busy: Bool, logFrames: Int) {
        guard let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(\(mode))") else { return (true, 0) }
        return (row[0] as Int != 0, row[1] as Int)
    }

    private func openConnection() throws -> DatabaseQueue {
        if let connection { return connection }
        var configuration = Configuration()
        // Waits this long for the writer and readers before a TRUNCATE gives up until next time.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // This connection never writes, so its own automatic checkpoint never runs.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
        }
        let opened = try DatabaseQueue(path: path, configuration: configuration)
        connection = opened
        return opened
    }

    /// Holds the checkpointer for as long as the writer connection lives.
    private final class Keeper: TransactionObserver {
        let checkpointer: WalCheckpointer
        init(_ checkpointer: WalCheckpointer) { self.checkpointer = checkpointer }
        func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
        func databaseDidChange(with event: DatabaseEvent) {}
        func databaseDidCommit(_ db: Database) {}
        func databaseDidRollback(_ db: Database) {}
    }
}
