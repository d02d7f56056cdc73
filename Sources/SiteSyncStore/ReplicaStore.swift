import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// Who this replica is, and the proof that its id is its node's key's.
public struct ReplicaIdentity: Sendable, Equatable {
    public let replica: ReplicaID
    public let node: String
    public let credential: ReplicaCredential
}

/// One replica's durable state in one SQLite file: the typed tables people query, and the
/// version metadata, change log and knowledge that replication needs (docs/design.md §5).
///
/// Every local write is one transaction that updates the typed row, the record's version
/// metadata and the change log together. Remote changes are applied in batches, one
/// transaction per batch, with the replica's knowledge updated in the same transaction, so a
/// crash at any instant leaves either all of a batch or none of it. Mutable replication state
/// (the counter, the HLC, the knowledge) is read inside each write transaction and never cached,
/// so two processes writing the same database cannot issue the same dot.
public final class ReplicaStore: Sendable {
    public let path: String
    public let schema: Schema
    public let identity: ReplicaIdentity
    /// A WAL pool over the file; over memory (``inMemory(node:key:schema:options:)``), one
    /// connection.
    let pool: StorePool
    let options: StoreOptions
    /// Checkpoints the file's write-ahead log off the writer's thread; `nil` in memory.
    let checkpointer: WalCheckpointer?

    /// This device's wall clock, in milliseconds since 1970 (as the store was opened with it).
    public func wallClock() -> UInt64 { options.wallClock() }
    /// The records held, and the SQL that reads and writes them.
    let storedRecords: StoredRecords
    /// Each collection's typed table.
    var tables: [UInt16: RecordTable] { storedRecords.tables }

    private init(path: String, schema: Schema, pool: any DatabaseWriter, identity: ReplicaIdentity, options: StoreOptions,
                 checkpointer: WalCheckpointer? = nil) {
        self.path = path
        self.schema = schema
        self.pool = StorePool(pool, log: options.transactionLog, schema: schema)
        self.checkpointer = checkpointer
        self.identity = identity
        self.options = options
        storedRecords = StoredRecords(schema: schema)
    }

    /// Waits for a checkpoint in progress, so that the checkpointer's connection closes with
    /// the store's, on this thread, and the last of them checkpoints the log as SQLite does when
    /// a database closes; not later on the checkpointer's thread, competing with whatever writes
    /// next. (A store ``reopened()`` shares the checkpointer, so it is not closed here.)
    deinit {
        checkpointer?.settle()
    }

    /// Creates a new database for a new replica of the node holding `key`; the replica id
    /// derives from the key and a fresh salt (``ReplicaCredential``).
    /// - Throws: ``StoreError`` when a file already exists at `path` or it cannot be written.
    public static func create(
        at path: String, node: String, key: NodeSecretKey, schema: Schema = .siteSync, options: StoreOptions = StoreOptions()
    ) throws -> ReplicaStore {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.invalidWrite, "a database already exists at \(path); it was not changed")
        }
        let (pool, checkpointer) = try StoreError.mapping { try makePool(path, options) }
        return try make(path: path, pool: pool, checkpointer: checkpointer, node: node, key: key, schema: schema, options: options)
    }

    /// A new replica whose database lives in memory only and ends with the value: for the
    /// whole-fleet simulation, where hundreds of replicas come and go in a second. It is the
    /// same store over the same SQL, without a file (and so without durability to choose).
    /// - Parameter salt: the replica credential's salt (8 bytes), for a simulation that must
    ///   make the same replica ids from the same seed; fresh random bytes when `nil`.
    public static func inMemory(
        node: String, key: NodeSecretKey, salt: [UInt8]? = nil, schema: Schema = .siteSync, options: StoreOptions = StoreOptions()
    ) throws -> ReplicaStore {
        try make(path: ":memory:", pool: StoreError.mapping { try DatabaseQueue(configuration: configuration(options)) }, node: node,
                 key: key, salt: salt, schema: schema, options: options)
    }

    /// A copy of this store as it stands, in memory (SQLite's backup API): a backup to restore
    /// later, or a replica made once and copied for each run of a simulation.
    /// - Parameters:
    ///   - wallClock: the copy's clock, when not this store's.
    ///   - epochSalt: where the copy's new epochs take their salt (``StoreOptions/epochSalt``),
    ///     when not where this store's do.
    public func memoryCopy(wallClock: (@Sendable () -> UInt64)? = nil,
                           epochSalt: (@Sendable () -> [UInt8])? = nil) throws -> ReplicaStore {
        var options = options
        if let wallClock { options.wallClock = wallClock }
        if let epochSalt { options.epochSalt = epochSalt }
        let configuration = Self.configuration(options)
        return try StoreError.mapping {
            let destination = try DatabaseQueue(configuration: configuration)
            try pool.backup(to: destination)
            return ReplicaStore(path: ":memory:", schema: schema, pool: destination, identity: identity, options: options)
        }
    }

    /// The same database opened again, as the next opening of its file would see it: for an
    /// in-memory store that took a new epoch (its identity is read when it is opened).
    public func reopened() throws -> ReplicaStore {
        ReplicaStore(path: path, schema: schema, pool: pool.writer, identity: try Self.identity(pool.writer, path: path), options: options,
                     checkpointer: checkpointer)
    }

    private static func make(path: String, pool: any DatabaseWriter, checkpointer: WalCheckpointer? = nil, node: String, key: NodeSecretKey, salt: [UInt8]? = nil,
                             schema: Schema, options: StoreOptions) throws -> ReplicaStore {
        var options = options
        options.signer = key
        let credential = ReplicaCredential.issue(node: node, signingKey: key.publicKey.signing, salt: salt)
        let replica = credential.replica
        try StoreError.mapping {
            try StoreSchema.migrator(schema: schema).migrate(pool)
            try pool.write { db in
                let now = options.wallClock()
                for (key, value) in [
                    ("format", "sitesync"), ("schema_version", String(schema.version)), ("schema_hash", schema.hash),
                    ("replica", replica.description), ("node", node), ("created_ms", String(now)), ("hlc", "0"),
                    ("signing_key", SHA256Hex.hex(credential.signingKey)), ("salt", SHA256Hex.hex(credential.salt)),
                ] {
                    try db.execute(sql: "INSERT INTO sync_meta (key, value) VALUES (?, ?)", arguments: [key, value])
                }
                try KnownReplicas(db).register(credential, node: node, now: Int64(now))
            }
        }
        return ReplicaStore(path: path, schema: schema, pool: pool,
                            identity: ReplicaIdentity(replica: replica, node: node, credential: credential), options: options,
                            checkpointer: checkpointer)
    }

    /// Opens an existing database, migrating it forward if it was made by an older SiteSync.
    /// - Throws: ``StoreError`` when there is no database, it is not SiteSync's, or it was
    ///   written by a newer SiteSync.
    public static func open(at path: String, schema: Schema = .siteSync, options: StoreOptions = StoreOptions()) throws -> ReplicaStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.notFound, "there is no SiteSync database at \(path); create the node with `sitesync init`")
        }
        let pool: DatabasePool
        let checkpointer: WalCheckpointer
        do {
            (pool, checkpointer) = try makePool(path, options)
            let applicationID = try pool.read { db in try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0 }
            guard applicationID == StoreSchema.applicationID else {
                throw StoreError(.notSiteSync, "\(path) is a SQLite database, but not SiteSync's; check --data-dir")
            }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw StoreError(.notSiteSync, "\(path) is not a SQLite database; check --data-dir", cause: error)
        } catch {
            throw StoreError.wrap(error)
        }
        let migrator = StoreSchema.migrator(schema: schema)
        let identity: ReplicaIdentity = try StoreError.mapping {
            if try pool.read({ db in try migrator.hasBeenSuperseded(db) }) {
                throw StoreError(.newerSchema,
                    "\(path) was written by a newer SiteSync (its schema is newer than \(schema.version)); upgrade sitesync to open it")
            }
            let stored = try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM sync_meta WHERE key = 'schema_version'") }
            if let stored, let version = UInt32(stored), version > schema.version {
                throw StoreError(.newerSchema,
                    "\(path) uses schema version \(version), newer than this sitesync's \(schema.version); upgrade sitesync to open it")
            }
            // Migrating takes the write lock, even with nothing to do: only when something is to
            // do, so that opening a node (for a backup, a report) never waits on a long write.
            if try !pool.read({ db in try migrator.hasCompletedMigrations(db) }) { try migrator.migrate(pool) }
            // A schema that grew new collections or fields without a new version number (its
            // hash moved) needs their tables and columns too.
            let storedHash = try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM sync_meta WHERE key = 'schema_hash'") }
            if stored != String(schema.version) || storedHash != schema.hash {
                try pool.write { db in try StoreSchema.addNewCollectionsAndFields(db, schema: schema) }
            }
            return try Self.identity(pool, path: path)
        }
        if let signer = options.signer, signer.publicKey.signing != identity.credential.signingKey {
            throw StoreError(.key,
                "the node's key file holds another key than the one \(path) was created with: restore the node's own key file "
                + "(node.key) from its backup; a database cannot change keys")
        }
        return ReplicaStore(path: path, schema: schema, pool: pool, identity: identity, options: options, checkpointer: checkpointer)
    }

    /// Who the database at `pool` says it is, checked against its key.
    private static func identity(_ pool: any DatabaseWriter, path: String) throws -> ReplicaIdentity {
        try StoreError.mapping {
            try pool.read { db in
                let meta = try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT key, value FROM sync_meta")
                    .map { ($0["key"] as String, $0["value"] as String) })
                guard meta["format"] == "sitesync", let replicaText = meta["replica"], let replica = ReplicaID(hex: replicaText),
                      let node = meta["node"], let key = meta["signing_key"].flatMap(hexBytes), let salt = meta["salt"].flatMap(hexBytes) else {
                    throw StoreError(.notSiteSync, "\(path) lacks SiteSync's identity records; it is damaged or not SiteSync's")
                }
                let credential = ReplicaCredential(replica: replica, node: node, signingKey: key, salt: salt)
                guard credential.isValid else {
                    throw StoreError(.corrupt, "\(path): the replica id does not derive from the node's key; the database was altered")
                }
                return ReplicaIdentity(replica: replica, node: node, credential: credential)
            }
        }
    }

    /// The pool over `path`, its writer connection set to the durability asked for. GRDB sets
    /// `synchronous = NORMAL` when it turns WAL on, after `prepareDatabase` ran, so the setting
    /// is made again here (caught by the power-cut test: under NORMAL a commit that returned can
    /// be lost, and a sent change id reissued).
    ///
    /// The writer's page cache is ``StoreOptions/writerCacheKibibytes``; readers, up to five at
    /// a hub serving many pulls at once, get ``StoreOptions/readerCacheKibibytes`` each.
    ///
    /// The writer's commits never checkpoint the log themselves: ``WalCheckpointer`` does, from
    /// a connection of its own.
    static func makePool(_ path: String, _ options: StoreOptions) throws -> (DatabasePool, WalCheckpointer) {
        let pool = try DatabasePool(path: path, configuration: configuration(options))
        let checkpointer = WalCheckpointer(path: path, passiveFrames: options.checkpointFrames, boundBytes: options.walBoundBytes)
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(options.durability.rawValue.uppercased())")
            try db.execute(sql: "PRAGMA cache_size = -\(options.writerCacheKibibytes)")
            // A log reset after a checkpoint shrinks its file back to the bound.
            try db.execute(sql: "PRAGMA journal_size_limit = \(options.walBoundBytes)")
            // A receiver applies each batch of a transaction in a savepoint; SQLite keeps a copy
            // of every page a savepoint first touches in a sub-journal, which past 64 KiB spills
            // to a temporary file: a write per page, beside the log's own. In memory it costs
            // at most the pages of one transaction (a few MiB), and nothing of durability: the
            // sub-journal only serves a rollback to the savepoint, never recovery.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            try checkpointer.install(on: db)
        }
        return (pool, checkpointer)
    }

    static func configuration(_ options: StoreOptions) -> Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(options.busyTimeout)
        // GRDB opens DatabasePool writes with BEGIN IMMEDIATE, so two processes never deadlock
        // upgrading a read lock; the busy timeout makes the second one wait its turn.
        let synchronous = options.durability.rawValue.uppercased()
        let maxBytes = options.maxBytes
        let readerCache = options.readerCacheKibibytes
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            if let maxBytes, let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size"), pageSize > 0 {
                try db.execute(sql: "PRAGMA max_page_count = \(max(1, maxBytes / pageSize))")
            }
            // Readers' page cache; the writer's is set in makePool.
            try db.execute(sql: "PRAGMA cache_size = -\(readerCache)")
        }
        return configuration
    }

    /// The collection with wire code `code`.
    func collection(_ code: UInt16) throws -> CollectionSpec {
        guard let collection = schema.collection(code: code) else {
            throw StoreError(.rejectedChange, "collection code \(code) is not in schema \(schema.version)")
        }
        return collection
    }

    // MARK: - Reading

    /// The state of one record, or `nil` when this replica has never seen it.
    public func state(of key: RecordKey) throws -> RecordState? {
        try StoreError.mapping { try pool.read { db in try self.loadState(db, key) } }
    }

    /// The replica's knowledge: for each origin, the highest counter held contiguously.
    public func knowledge() throws -> VersionVector {
        try StoreError.mapping { try pool.read { db in try StoredKnowledge(db).vector() } }
    }

    /// Every live record of a collection (or all records, deleted included), in id order.
    public func records(in collection: CollectionSpec, includeDeleted: Bool = false, department: String? = nil) throws -> [RecordState] {
        try StoreError.mapping {
            try pool.read { db in
                var states = try self.storedRecords.all(in: collection, includeDeleted: includeDeleted, db)
                if let department { states.removeAll { $0.department != department } }
                return states
            }
        }
    }

    /// Counts of the change log and records, for status lines and tests.
    public func counts() throws -> (changes: Int, records: Int, openConflicts: Int) {
        try StoreError.mapping {
            try pool.read { db in
                (try ChangeLog(db).count(),
                 try self.storedRecords.liveCount(db),
                 try ConflictLog.openCount(db))
            }
        }
    }

    /// Runs SQLite's `PRAGMA integrity_check` and returns its findings ("ok" when sound).
    public func integrityCheck() throws -> [String] {
        try StoreError.mapping { try pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") } }
    }

    /// Closes the database now, instead of whenever the last reference goes. A process that
    /// replaces the file (a restore) must close its handles first: SQLite removes a WAL file by
    /// name when its last connection closes, and that name would then be the new database's.
    public func close() throws {
        checkpointer?.close()
        try StoreError.mapping { try pool.close() }
    }

    // MARK: - Internals shared by the write paths

    func loadState(_ db: Database, _ key: RecordKey) throws -> RecordState? {
        try loadStored(PreparedStatements(db), key)?.state
    }

    /// A record's stored state, or `nil` when never seen (``StoredRecords``).
    func loadStored(_ statements: PreparedStatements, _ key: RecordKey) throws -> StoredRecord? {
        try storedRecords.load(statements, key)
    }

    /// The stored states of many records, in the order of `keys` (`nil` where never seen).
    func loadStored(_ statements: PreparedStatements, _ keys: [RecordKey]) throws -> [StoredRecord?] {
        try storedRecords.load(statements, keys)
    }

    /// Writes a record's new state, inside the caller's transaction (``StoredRecords``).
    func saveState(_ statements: PreparedStatements, _ state: RecordState, stored: StoredRecord?, settledBy dot: Dot?, now: UInt64) throws {
        try storedRecords.save(statements, state, stored: stored, settledBy: dot, now: now)
    }

    /// The same from what was known of the record as stored (``StoredFacts``), with the
    /// state's blob when it was encoded beforehand.
    func saveState(_ statements: PreparedStatements, _ state: RecordState, facts: StoredFacts?, settledBy dot: Dot?, now: UInt64,
                   blob: [UInt8]?) throws {
        try storedRecords.save(statements, state, facts: facts, settledBy: dot, now: now, blob: blob)
    }

    func loadClock(_ db: Database) throws -> HybridLogicalClock {
        let text = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM sync_meta WHERE key = 'hlc'")) ?? "0"
        return HybridLogicalClock(last: HLCTimestamp(rawValue: UInt64(text) ?? 0),
                                  maxDriftMilliseconds: options.maxClockDriftMilliseconds, wallClock: options.wallClock)
    }

    func saveClock(_ db: Database, _ clock: HybridLogicalClock) throws {
        try db.cachedStatement(sql: "UPDATE sync_meta SET value = ? WHERE key = 'hlc'").execute(arguments: [String(clock.last.rawValue)])
    }
}

/// Bytes from lower-case hex, or `nil`.
func hexBytes(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    for index in stride(from: 0, to: digits.count, by: 2) {
        guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
        bytes.append(byte)
    }
    return bytes
}

extension StoreError {
    /// Runs `body`, turning SQLite failures into ``StoreError``s that say what to do.
    static func mapping<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw wrap(error)
        }
    }

    /// `error` as a ``StoreError`` when it is a SQLite failure; otherwise as it is.
    public static func wrap(_ error: any Error) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        switch error.resultCode {
        case .SQLITE_FULL:
            return StoreError(.storageFull,
                "storage full: the disk holding the database has no space left (or its size limit was reached); "
                + "nothing was written — free some space and retry", cause: error)
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return StoreError(.corrupt,
                "the database file is damaged (\(error.resultCode)); restore it from a backup, or re-initialise the node and sync",
                cause: error)
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError(.busy, "another process kept the database busy for too long; retry in a moment", cause: error)
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM:
            return StoreError(.database,
                "the database cannot be opened for writing (\(error.resultCode)); check the data directory's permissions", cause: error)
        default:
            return StoreError(.database, "database error: \(error.message ?? "\(error.resultCode)")", cause: error)
        }
    }
}
