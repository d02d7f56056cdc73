import Foundation
import SiteSyncCore
import SiteSyncPostgres
import SiteSyncStore

/// What `restore` did.
public struct RestoreSummary: Sendable {
    /// The replica id the backup was written under, and the one the node writes under now.
    public let previousReplica: ReplicaID
    public let replica: ReplicaID
    public let epoch: Int
    /// Changes the backup holds.
    public let changes: Int
    /// Where the database it replaced was moved (kept: nothing is deleted).
    public let replacedDatabase: String?
}

/// Holds a node's data directory against `restore` while a long-running command (`serve`,
/// `run`) uses it: a shared `flock` on `node.lock`, which `restore` takes exclusively.
public final class NodeLock: @unchecked Sendable {
    // @unchecked: the descriptor is only closed in deinit.
    public static let file = "node.lock"
    private let descriptor: Int32

    /// - Parameter exclusive: for `restore` (no one else may hold it); shared otherwise.
    /// - Throws: ``NodeError`` when it cannot be taken.
    public init(dataDirectory: String, exclusive: Bool) throws {
        let path = dataDirectory + "/" + Self.file
        descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw NodeError(.usage, "cannot open \(path): \(String(cString: strerror(errno))); check the directory's permissions")
        }
        guard flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            close(descriptor)
            throw NodeError(.usage, exclusive
                ? "\(dataDirectory) is in use by a running `sitesync serve` or `sitesync run`: stop it first"
                : "\(dataDirectory) is being restored; wait for `sitesync restore` to finish")
        }
    }

    deinit { close(descriptor) }
}

extension Node {
    /// Writes a consistent copy of the database to `path` through SQLite's backup API; the node
    /// may keep running (and writing) meanwhile.
    /// - Returns: the backup's size in bytes.
    public func backup(to path: String) throws -> Int {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw NodeError(.usage, "\(path) already exists; choose a new file for the backup (nothing was written)")
        }
        do {
            try store.backup(to: path)
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
        return (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    /// Installs a backup of this node and gives it a new replica epoch before anything is
    /// written, so no change id it issues can clash with one it issued after the backup was
    /// taken (those come back from the hub). The database it replaces is kept beside it. The
    /// node must not be running.
    /// - Throws: ``NodeError`` when the node runs, or the file is not a backup of this node
    ///   (nothing is changed then); ``StoreError`` when it cannot be read.
    public static func restore(at dataDirectory: String, from backup: String,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RestoreSummary {
        // The configuration and key, not the database: a damaged database is a reason to restore.
        let configPath = dataDirectory + "/" + configurationFile
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw NodeError(.notANode, "\(dataDirectory) is not a SiteSync data directory (it has no \(configurationFile)); check --data-dir")
        }
        let configuration = try NodeConfiguration.load(from: configPath, environment: environment)
        let name = configuration.name
        let key = try NodeKeyFile.load(at: dataDirectory + "/" + NodeKeyFile.name)
        let options = try storeOptions(configuration: configuration, key: key, environment: environment)
        let databasePath = dataDirectory + "/" + databaseFile
        let lock = try NodeLock(dataDirectory: dataDirectory, exclusive: true)
        defer { _ = lock }
        let fm = FileManager.default
        guard fm.fileExists(atPath: backup) else { throw NodeError(.usage, "there is no backup at \(backup); check the path") }
        // Checked on a copy: opening migrates a database, and the backup itself stays as it was.
        let staging = databasePath + ".restoring"
        for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: staging + suffix) }
        try fm.copyItem(atPath: backup, toPath: staging)
        var previous: ReplicaID
        var changes = 0
        do {
            let copy = try ReplicaStore.open(at: staging, options: options)
            guard copy.identity.node == name else {
                throw NodeError(.usage, "\(backup) is a backup of node '\(copy.identity.node)', not of '\(name)'; nothing was changed")
            }
            previous = copy.identity.replica
            changes = try copy.counts().changes
        } catch {
            for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: staging + suffix) }
            if let error = error as? StoreError, error.code == .key {
                throw NodeError(.usage, "\(backup) was written under another key than this node's: it is not a backup of '\(name)'; nothing was changed")
            }
            throw error
        }
        // The database replaced is moved aside, never deleted.
        let stamp = Int(Date().timeIntervalSince1970)
        let replaced = fm.fileExists(atPath: databasePath) ? databasePath + ".replaced-\(stamp)" : nil
        if let replaced {
            for suffix in ["", "-wal", "-shm"] where fm.fileExists(atPath: databasePath + suffix) {
                try fm.moveItem(atPath: databasePath + suffix, toPath: replaced + suffix)
            }
        }
        for suffix in ["", "-wal", "-shm"] where fm.fileExists(atPath: staging + suffix) {
            try fm.moveItem(atPath: staging + suffix, toPath: databasePath + suffix)
        }
        let replica: ReplicaID
        let epoch: Int
        do {
            let store = try ReplicaStore.open(at: databasePath, options: options)
            replica = try store.takeNewEpoch()
            epoch = try store.epoch()
        }
        return RestoreSummary(previousReplica: previous, replica: replica, epoch: epoch, changes: changes, replacedDatabase: replaced)
    }
}

extension Node {
    /// At a hub whose store is PostgreSQL, after the database was restored from a backup (to a
    /// point in time, or a standby promoted that had not received the last transactions): builds
    /// this process's working copy again from the database and gives the hub a new replica
    /// epoch, so no change id the hub issued after the restore point is ever issued again with
    /// other content (docs/postgresql.md). A process whose copy is ahead of the restored log
    /// does this by itself when it next opens; this is for when no copy can tell (all were
    /// lost, or built after the restore). The process must be stopped.
    /// - Throws: ``NodeError`` when the node is not a hub over PostgreSQL or runs.
    public static func restoreFromStore(at dataDirectory: String,
                                        environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RestoreSummary {
        let configPath = dataDirectory + "/" + configurationFile
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw NodeError(.notANode, "\(dataDirectory) is not a SiteSync data directory (it has no \(configurationFile)); check --data-dir")
        }
        let configuration = try NodeConfiguration.load(from: configPath, environment: environment)
        let key = try NodeKeyFile.load(at: dataDirectory + "/" + NodeKeyFile.name)
        let options = try storeOptions(configuration: configuration, key: key, environment: environment)
        guard let log = options.transactionLog as? PostgresTransactionLog else {
            throw NodeError(.usage, "--from-store is for a hub whose store is PostgreSQL ([store] url in node.toml); "
                            + "restore this node from a backup file instead")
        }
        let lock = try NodeLock(dataDirectory: dataDirectory, exclusive: true)
        defer { _ = lock }
        let previous = (try? ReplicaStore.open(at: dataDirectory + "/" + databaseFile))?.identity.replica
        let (store, replaced) = try rebuildWorkingCopy(dataDirectory, options: options, log: log, newEpoch: true)
        return RestoreSummary(previousReplica: previous ?? store.identity.replica, replica: store.identity.replica,
                              epoch: try store.epoch(), changes: try store.counts().changes, replacedDatabase: replaced)
    }
}
