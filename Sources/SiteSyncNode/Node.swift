import Foundation
import SiteSyncCore
import SiteSyncPostgres
import SiteSyncStore

/// A SiteSync node: a data directory holding `node.toml`, the secret keys `node.key` and the
/// SQLite database `sitesync.db`, opened together.
public final class Node: Sendable {
    public static let configurationFile = "node.toml"
    public static let databaseFile = "sitesync.db"

    public let dataDirectory: String
    public let configuration: NodeConfiguration
    public let store: ReplicaStore
    /// The node's keys (`nil` when its key file is missing: it can then read, but not write or sync).
    public let key: NodeSecretKey?
    /// The hub's allow-list (a file, or in the store at a hub whose store is PostgreSQL), with
    /// the hub's own entry. One per node, so that its cache
    /// holds: every parse of the file leaks the parsed table inside TOMLKit 0.6.0, so a list
    /// read afresh for each compaction made a hub's memory grow (seen in the soak).
    public let allowList: AllowListFile

    init(dataDirectory: String, configuration: NodeConfiguration, store: ReplicaStore, key: NodeSecretKey?) {
        self.dataDirectory = dataDirectory
        self.configuration = configuration
        self.store = store
        self.key = key
        allowList = AllowListFile(path: dataDirectory + "/" + AllowListFile.name, hub: key.map {
            DirectoryEntry(node: configuration.name, role: .hub, department: configuration.department, key: $0.publicKey)
        }, store: configuration.storeURL == nil ? nil : store)
    }

    public var keyPath: String { dataDirectory + "/" + NodeKeyFile.name }

    /// Who writes from this node, for the local checks of ``LocalWritePlanner``: the role and
    /// department the hub knows its key by, once the hub has said; until then, its configuration.
    public var writer: WriterIdentity {
        (try? store.authorizedIdentity()) ?? WriterIdentity(role: configuration.role, department: configuration.department)
    }

    public var planner: LocalWritePlanner { LocalWritePlanner(schema: store.schema, writer: writer) }

    /// The records this node receives (docs/design.md §2).
    public var scope: ReplicationScope { ReplicationScope(role: configuration.role, department: configuration.department) }

    /// How this node's database is opened: `base` with the configuration's durability and size
    /// limit, the device's clock and the node's key.
    static func storeOptions(_ base: StoreOptions = StoreOptions(), configuration: NodeConfiguration, key: NodeSecretKey?,
                             environment: [String: String]) throws -> StoreOptions {
        var options = base
        options.durability = configuration.durability
        options.maxBytes = configuration.maxMegabytes > 0 ? configuration.maxMegabytes << 20 : nil
        options.wallClock = try deviceClock(environment)
        options.signer = key
        options.hubSigningKey = configuration.sync.hubKey?.signing
        if let url = configuration.storeURL {
            options.transactionLog = try postgres {
                try PostgresTransactionLog(connection: PostgresConnection(url: url, settings: PostgresTransactionLog.connectionSettings),
                                           process: "\(configuration.name)@\(ProcessInfo.processInfo.hostName):\(getpid())")
            }
        }
        return options
    }

    /// A hub whose store is PostgreSQL creates there the tables it lacks, fills them the first
    /// time, and brings its working copy up to what the other processes wrote (docs/design.md
    /// §18); nothing to do otherwise.
    static func keepTables(_ store: ReplicaStore, options: StoreOptions) throws {
        guard let log = options.transactionLog as? PostgresTransactionLog else { return }
        try postgres {
            try log.keepTables(of: store)
            try store.catchUp()
        }
    }

    /// The node's store. A hub whose store is PostgreSQL builds its working copy from the
    /// database when it has none (a new hub process: `node.toml` and `node.key` copied from the
    /// first), and again when its copy can no longer follow the log (docs/design.md §18). The
    /// copy replaced is moved aside, never deleted; when the log does not hold the copy's place
    /// (``HubLogPosition``), the database was restored from an older backup and may have lost
    /// some of the hub's own changes, so the hub takes a new replica epoch before it writes (the
    /// same rule as `sitesync restore`).
    static func openStore(_ dataDirectory: String, options: StoreOptions) throws -> ReplicaStore {
        let path = dataDirectory + "/" + databaseFile
        guard let log = options.transactionLog as? PostgresTransactionLog else { return try ReplicaStore.open(at: path, options: options) }
        if !FileManager.default.fileExists(atPath: path) { try postgres { try log.buildWorkingCopy(at: path) } }
        let store = try ReplicaStore.open(at: path, options: options)
        do {
            try keepTables(store, options: options)
            return store
        } catch let error as StoreError where error.code == .workingCopyUnfit {
            // Only with the directory to itself: a running process still reads this copy.
            guard let lock = try? NodeLock(dataDirectory: dataDirectory, exclusive: true) else {
                throw StoreError(.workingCopyUnfit, error.message + " (stop the other processes using \(dataDirectory) first)")
            }
            defer { _ = lock }
            let restored = try postgres { try !log.holds(store.logPosition()) }
            try store.close()
            return try rebuildWorkingCopy(dataDirectory, options: options, log: log, newEpoch: restored).store
        }
    }

    /// Moves the working copy aside (kept, never deleted), builds it again from PostgreSQL and,
    /// when `newEpoch`, gives the hub a new replica epoch before anything else is written. The
    /// caller holds the data directory to itself.
    /// - Returns: the new copy, and where the old one went (`nil` when there was none).
    static func rebuildWorkingCopy(_ dataDirectory: String, options: StoreOptions, log: PostgresTransactionLog,
                                   newEpoch: Bool) throws -> (store: ReplicaStore, replaced: String?) {
        let path = dataDirectory + "/" + databaseFile
        let fm = FileManager.default
        let aside = fm.fileExists(atPath: path) ? path + ".replaced-\(Int(Date().timeIntervalSince1970))" : nil
        if let aside {
            for suffix in ["", "-wal", "-shm"] where fm.fileExists(atPath: path + suffix) {
                try fm.moveItem(atPath: path + suffix, toPath: aside + suffix)
            }
        }
        try postgres { try log.buildWorkingCopy(at: path) }
        let rebuilt = try ReplicaStore.open(at: path, options: options)
        try keepTables(rebuilt, options: options)
        guard newEpoch else { return (rebuilt, aside) }
        _ = try rebuilt.takeNewEpoch()
        return (try rebuilt.reopened(), aside)  // its identity, read when opened, is the new epoch's
    }

    /// `body`, a PostgreSQL failure told as the store's, with what to do.
    static func postgres<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError {
            throw NodeError(.configuration, "the hub's store in PostgreSQL ([store] url): \(error)")
        }
    }

    /// The device's wall clock: the system's, or — for drills and tests of what a wrong clock
    /// does — off by `SITESYNC_CLOCK_OFFSET_SECONDS` (may be negative).
    static func deviceClock(_ environment: [String: String]) throws -> @Sendable () -> UInt64 {
        guard let text = environment["SITESYNC_CLOCK_OFFSET_SECONDS"] else { return StoreOptions.systemClock }
        guard let seconds = Int64(text), seconds.magnitude <= 10 * 365 * 86_400 else {
            throw NodeError(.configuration, "SITESYNC_CLOCK_OFFSET_SECONDS: '\(text)' is not a whole number of seconds within ten years")
        }
        return { UInt64(max(0, Int64(StoreOptions.systemClock()) + seconds * 1000)) }
    }

    /// Creates a new node: the directory, `node.toml`, fresh keys in `node.key` (mode 0600) and
    /// a database whose replica id derives from them.
    /// - Throws: ``NodeError`` when the directory already holds a node; nothing is changed then.
    public static func initialize(
        at dataDirectory: String, configuration: NodeConfiguration, options: StoreOptions = StoreOptions(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Node {
        let fm = FileManager.default
        let configPath = dataDirectory + "/" + configurationFile, databasePath = dataDirectory + "/" + databaseFile
        let keyPath = dataDirectory + "/" + NodeKeyFile.name
        if fm.fileExists(atPath: configPath) || fm.fileExists(atPath: databasePath) || fm.fileExists(atPath: keyPath) {
            throw NodeError(.alreadyInitialized,
                "\(dataDirectory) already holds a SiteSync node; nothing was changed (use another --data-dir for a new node)")
        }
        try NodeConfiguration.validateName(configuration.name)
        try DepartmentCode.validate(configuration.department)
        var isDirectory: ObjCBool = false
        let existed = fm.fileExists(atPath: dataDirectory, isDirectory: &isDirectory)
        if existed && !isDirectory.boolValue {
            throw NodeError(.usage, "\(dataDirectory) is a file, not a directory; choose another --data-dir")
        }
        do {
            try fm.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw NodeError(.usage, "cannot create \(dataDirectory): \(error.localizedDescription)")
        }
        let options = try storeOptions(options, configuration: configuration, key: nil, environment: environment)
        do {
            if let log = options.transactionLog as? PostgresTransactionLog, try postgres({ try log.holdsHub() }) {
                throw NodeError(.alreadyInitialized, "the database at the store URL already holds a hub; nothing was changed. "
                    + "To add a process to that hub, copy node.toml and node.key from one of its data directories into a new one "
                    + "and start it there: it builds its working copy from the database (docs/postgresql.md)")
            }
            guard fm.createFile(atPath: configPath, contents: Data(configuration.tomlText.utf8)) else {
                throw NodeError(.usage, "cannot write \(configPath); check permissions and free space")
            }
            let key = try NodeKeyFile.create(at: keyPath)
            let store = try ReplicaStore.create(at: databasePath, node: configuration.name, key: key, options: options)
            try keepTables(store, options: options)
            return Node(dataDirectory: dataDirectory, configuration: configuration, store: store, key: key)
        } catch {
            // Leave the directory as it was: no half-made node.
            for file in [configPath, keyPath, databasePath, databasePath + "-wal", databasePath + "-shm"] { try? fm.removeItem(atPath: file) }
            if !existed { try? fm.removeItem(atPath: dataDirectory) }
            throw error
        }
    }

    /// Opens an existing node.
    /// - Throws: ``NodeError`` when the directory is missing or not a node, or its
    ///   configuration is invalid; ``StoreError`` when its database cannot be opened.
    public static func open(
        at dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        options: StoreOptions = StoreOptions()
    ) throws -> Node {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: dataDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw NodeError(.notANode,
                "there is no data directory at \(dataDirectory); create a node with `sitesync init --data-dir \(dataDirectory) --node NAME --department DEPT`")
        }
        let configPath = dataDirectory + "/" + configurationFile
        guard fm.fileExists(atPath: configPath) else {
            throw NodeError(.notANode,
                "\(dataDirectory) is not a SiteSync data directory (it has no \(configurationFile)); check --data-dir or run `sitesync init`")
        }
        let configuration = try NodeConfiguration.load(from: configPath, environment: environment)
        let key = try NodeKeyFile.load(at: dataDirectory + "/" + NodeKeyFile.name)
        let options = try storeOptions(options, configuration: configuration, key: key, environment: environment)
        let store = try openStore(dataDirectory, options: options)
        guard store.identity.node == configuration.name else {
            throw NodeError(.configuration,
                "\(configPath) names the node '\(configuration.name)', but its database belongs to '\(store.identity.node)'; "
                + "restore the name in \(configurationFile)")
        }
        // Work set aside when this database's change ids were found reused goes out again
        // under its new replica id (see ReplicaStore+Epoch).
        if key != nil { try store.reissueCollided() }
        return Node(dataDirectory: dataDirectory, configuration: configuration, store: store, key: key)
    }
}
