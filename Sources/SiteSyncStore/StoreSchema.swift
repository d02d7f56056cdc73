import GRDB
import SiteSyncCore

/// The database layout: one typed table per collection (readable with the plain `sqlite3`
/// shell) and the replication bookkeeping in tables prefixed `sync_`.
///
/// - `sync_meta`: this replica's identity and the schema it was created with.
/// - `sync_change`: the change log, in the order changes were applied (a causal order), each
///   change's encoded bytes exactly as its origin wrote them (`payload`, a `sitesync.v1.Change`
///   which names the record), with the department that scopes it for filtered sends and its
///   `link` in its origin's hash chain. `status` (``ChangeStatus``) 0 is a change in force; 1 a change withheld
///   here (refused by this hub, or refused elsewhere and never held: `payload` is then a
///   `sitesync.v1.Hole`); 2 a change held but retracted (refused by the hub after it was
///   written or applied here: kept, shown, sent on only as a hole).
/// - `sync_seal`: origins' signatures over heads of their chains (one origin, one department).
/// - `sync_chain_start`: where this replica's holding of a chain begins (counter 0: at the
///   chain's beginning), so `audit verify` can check every link from there. Compaction and
///   state transfer move it up: the changes below are held as record state only.
/// - `sync_knowledge`: per origin replica, the highest counter held contiguously (`counter`),
///   the highest held at all (`max_seen`).
/// - `sync_record`: per record, its identity (`id`, also the rowid of a live record's typed row
///   and the order a state transfer pages in), its scoping department, whether it is deleted
///   and its number of fields in conflict. A record's replicated state (every field version
///   with its dot, the version vector, tombstones) is a compact blob: for a live record in its
///   typed row's `sync_state` column (v8), so that a change to it writes the one page its row
///   is on; for a deleted record (no typed row) in `sync_record.state`, found through a partial
///   index. A live record's `sync_record.state` is empty. See ``RecordTable``.
/// - `sync_conflict`: the conflict log: every automatic resolution that had a loser, and every
///   conflict waiting for a person.
/// - `sync_replica`: the node name behind each origin replica, as learned, and the key and salt
///   its id derives from.
/// - `sync_rejected`: changes refused: this node's, as the peer that refused them said; or, at
///   a hub, the ones it refused, with the reason (their content is not kept there).
/// - `sync_directory`: the hub's allow-list as this node last received it.
/// - `sync_peer`: per peer node, the knowledge it last reported or acknowledged (for bundles
///   cut for it and the fleet view), when it was last heard from (`exchanged_ms`), when a
///   session with it last completed (`synced_ms`), and how far its clock was off ours then;
///   (v3) `stable_knowledge`, what it held once its last push was through, which is what
///   counts towards the stability frontier log compaction stays below.
/// - `sync_session` (v2): the sync history: each session this node ran or served and each
///   bundle it wrote or read, with counts, bytes, duration and outcome. Consecutive idle rounds
///   with one peer share a row (`repeats`); the oldest rows go beyond ``SyncHistory/keep``.
/// - `sync_collision` (v2): change ids found reused with other content (a database restored
///   by copying it back): `kept`, the other content received for an id held here; `pending`
///   and `reissued`, this node's own work set aside to be re-issued under a new replica id
///   (see ``ReplicaStore/takeNewEpoch()``).
/// - `api_token` and `api_request` (v5): this node's own HTTP API access, never replicated
///   (not `sync_`-prefixed and no collection, so no change, export, digest, audit or
///   compaction reads them; a backup copies the whole file, so a restored node keeps its
///   tokens). `api_token`: each token's name, the role and department it acts as, and the
///   SHA-256 of its secret (the secret itself is never stored). `api_request`: each write
///   made through a token, with the request's idempotency key and hash, the answer given and
///   the changes written, so a retried request is answered again without writing twice. See
///   ``ApiAccessLog``.
/// - `person` and `person_session` (v6): the people who sign in to this node's web dashboard,
///   local and never replicated as `api_token` is (a backup keeps them). `person`: each
///   person's name, role, department, project codes (a JSON array, for a project lead), the
///   PHC string of their password's scrypt hash, and when they were made, disabled, last
///   changed their password and last signed in. `person_session`: each signed-in session, by
///   the SHA-256 of its secret (the secret itself lives only in the browser's cookie), with the
///   key its CSRF token derives from and when it began, was last seen and ends. See
///   ``PersonLog``.
enum StoreSchema {
    /// The SQLite `application_id` of a SiteSync database ("SSYC").
    static let applicationID: Int32 = 0x5353_5943

    static func migrator(schema: Schema) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: "PRAGMA application_id = \(applicationID)")
            try db.execute(sql: """
                CREATE TABLE sync_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE sync_change (
                    seq INTEGER PRIMARY KEY,
                    replica INTEGER NOT NULL,
                    counter INTEGER NOT NULL,
                    department TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    link BLOB NOT NULL,
                    status INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (replica, counter)
                );
                CREATE TABLE sync_seal (
                    replica INTEGER NOT NULL,
                    department TEXT NOT NULL,
                    counter INTEGER NOT NULL,
                    link BLOB NOT NULL,
                    signature BLOB NOT NULL,
                    PRIMARY KEY (replica, department, counter)
                ) WITHOUT ROWID;
                CREATE TABLE sync_chain_start (
                    replica INTEGER NOT NULL,
                    department TEXT NOT NULL,
                    counter INTEGER NOT NULL,
                    link BLOB NOT NULL,
                    PRIMARY KEY (replica, department, counter)
                ) WITHOUT ROWID;
                CREATE TABLE sync_knowledge (
                    replica INTEGER PRIMARY KEY,
                    counter INTEGER NOT NULL,
                    max_seen INTEGER NOT NULL
                );
                CREATE TABLE sync_record (
                    id INTEGER PRIMARY KEY,
                    collection TEXT NOT NULL,
                    record_id TEXT NOT NULL,
                    department TEXT NOT NULL,
                    deleted INTEGER NOT NULL,
                    conflicts INTEGER NOT NULL,
                    state BLOB NOT NULL
                );
                CREATE UNIQUE INDEX sync_record_deleted ON sync_record (collection, record_id) WHERE deleted = 1;
                CREATE TABLE sync_conflict (
                    id INTEGER PRIMARY KEY,
                    collection TEXT NOT NULL,
                    record_id TEXT NOT NULL,
                    field TEXT NOT NULL,
                    rule TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('open', 'auto', 'resolved')),
                    active INTEGER NOT NULL,
                    department TEXT NOT NULL,
                    winner TEXT NOT NULL,
                    versions TEXT NOT NULL,
                    detected_ms INTEGER NOT NULL,
                    updated_ms INTEGER NOT NULL,
                    settled_ms INTEGER,
                    settled_by TEXT
                );
                CREATE INDEX sync_conflict_by_record ON sync_conflict (collection, record_id, active);
                CREATE TABLE sync_replica (
                    replica INTEGER PRIMARY KEY,
                    node TEXT NOT NULL,
                    learned_ms INTEGER NOT NULL,
                    clock_lead_ms INTEGER NOT NULL DEFAULT 0,
                    signing_key BLOB,
                    salt BLOB
                );
                CREATE TABLE sync_rejected (
                    replica INTEGER NOT NULL,
                    counter INTEGER NOT NULL,
                    code TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    refused_by TEXT NOT NULL,
                    collection TEXT NOT NULL,
                    record_id TEXT NOT NULL,
                    rejected_ms INTEGER NOT NULL,
                    PRIMARY KEY (replica, counter)
                );
                CREATE TABLE sync_directory (
                    node TEXT PRIMARY KEY NOT NULL,
                    role TEXT NOT NULL,
                    department TEXT NOT NULL,
                    key TEXT NOT NULL,
                    active INTEGER NOT NULL
                );
                CREATE TABLE sync_peer (
                    node TEXT PRIMARY KEY NOT NULL,
                    replica INTEGER NOT NULL,
                    role TEXT NOT NULL,
                    department TEXT NOT NULL,
                    knowledge BLOB NOT NULL,
                    exchanged_ms INTEGER NOT NULL,
                    via TEXT NOT NULL
                );
                """)
            for collection in schema.collections {
                try db.execute(sql: createTableSQL(collection))
            }
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                CREATE TABLE sync_session (
                    id INTEGER PRIMARY KEY,
                    started_ms INTEGER NOT NULL,
                    ended_ms INTEGER NOT NULL,
                    duration_ms INTEGER NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('sync', 'served', 'bundle-in', 'bundle-out')),
                    peer TEXT NOT NULL,
                    endpoint TEXT NOT NULL,
                    pushed INTEGER NOT NULL,
                    pushed_new INTEGER NOT NULL,
                    pulled INTEGER NOT NULL,
                    pulled_new INTEGER NOT NULL,
                    refused INTEGER NOT NULL,
                    bytes_sent INTEGER NOT NULL,
                    bytes_received INTEGER NOT NULL,
                    ok INTEGER NOT NULL,
                    error_code TEXT,
                    error TEXT,
                    clock_offset_ms INTEGER,
                    repeats INTEGER NOT NULL DEFAULT 1
                );
                CREATE TABLE sync_collision (
                    replica INTEGER NOT NULL,
                    counter INTEGER NOT NULL,
                    payload BLOB NOT NULL,
                    detected_ms INTEGER NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('kept', 'pending', 'reissued')),
                    reissued_as TEXT,
                    PRIMARY KEY (replica, counter)
                );
                ALTER TABLE sync_rejected ADD COLUMN acknowledged_ms INTEGER;
                ALTER TABLE sync_peer ADD COLUMN synced_ms INTEGER;
                ALTER TABLE sync_peer ADD COLUMN clock_offset_ms INTEGER;
                """)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: "ALTER TABLE sync_peer ADD COLUMN stable_knowledge BLOB")
        }
        migrator.registerMigration("v4") { db in
            // At the hub: changes taken before the record they point at arrived, to be checked
            // against its department when it does (protocol §16.3).
            try db.execute(sql: """
                CREATE TABLE sync_pending_reference (
                    replica INTEGER NOT NULL, counter INTEGER NOT NULL,
                    target_collection INTEGER NOT NULL, target_id TEXT NOT NULL,
                    PRIMARY KEY (target_collection, target_id, replica, counter)
                ) WITHOUT ROWID;
                -- How far the hub vouched for each origin beyond the changes held here (knowledge
                -- no change backs: the hub's word for changes outside this node's scope).
                CREATE TABLE sync_vouch (replica INTEGER PRIMARY KEY NOT NULL, counter INTEGER NOT NULL, vouched_ms INTEGER NOT NULL);
                -- Knowledge taken before vouches were recorded stands as vouched (at time 0).
                INSERT INTO sync_vouch (replica, counter, vouched_ms) SELECT replica, counter, 0 FROM sync_knowledge WHERE counter > 0;
                """)
        }
        migrator.registerMigration("v5") { db in
            try db.execute(sql: """
                CREATE TABLE api_token (
                    name TEXT PRIMARY KEY NOT NULL,
                    role TEXT NOT NULL,
                    department TEXT,
                    read_only INTEGER NOT NULL,
                    secret_sha256 TEXT NOT NULL UNIQUE,
                    created_ms INTEGER NOT NULL,
                    revoked_ms INTEGER
                );
                CREATE TABLE api_request (
                    id INTEGER PRIMARY KEY,
                    token TEXT NOT NULL,
                    idempotency_key TEXT,
                    request_sha256 TEXT NOT NULL,
                    status INTEGER NOT NULL,
                    response TEXT NOT NULL,
                    changes TEXT NOT NULL,
                    at_ms INTEGER NOT NULL,
                    UNIQUE (token, idempotency_key)
                );
                """)
        }
        migrator.registerMigration("v6") { db in
            try db.execute(sql: """
                CREATE TABLE person (
                    name TEXT PRIMARY KEY NOT NULL,
                    role TEXT NOT NULL,
                    department TEXT,
                    projects TEXT NOT NULL DEFAULT '[]',
                    password_hash TEXT NOT NULL,
                    created_ms INTEGER NOT NULL,
                    disabled_ms INTEGER,
                    password_changed_ms INTEGER NOT NULL,
                    signed_in_ms INTEGER
                );
                CREATE TABLE person_session (
                    secret_sha256 TEXT PRIMARY KEY NOT NULL,
                    person TEXT NOT NULL REFERENCES person (name),
                    csrf_key BLOB NOT NULL,
                    client TEXT NOT NULL,
                    created_ms INTEGER NOT NULL,
                    last_seen_ms INTEGER NOT NULL,
                    expires_ms INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX person_session_by_person ON person_session (person);
                """)
        }
        migrator.registerMigration("v7") { db in
            // One project's figures (the API's project detail, an incremental refresh) read its
            // activities' entries: by activity, not by a scan of every entry in the city.
            for (table, column) in parentIndexes where try db.tableExists(table) {
                try db.execute(sql: parentIndexSQL(table, column))
            }
        }
        migrator.registerMigration("v8") { db in
            // A live record's state moves into its typed row: a change to a record then writes
            // the page its row is on, not that page and a random page of `sync_record` too.
            for collection in schema.collections where try db.tableExists(collection.name) {
                let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(\(quoted(collection.name)))").map { $0["name"] as String }
                if !columns.contains(stateColumn) {
                    try db.execute(sql: "ALTER TABLE \(quoted(collection.name)) ADD COLUMN \(stateColumn) BLOB")
                }
            }
            try moveLiveStates(db, schema: schema)
        }
        return migrator
    }

    /// The typed-table column that holds a live record's replicated state (v8).
    static let stateColumn = "sync_state"

    /// Moves the state of every live record still kept in `sync_record` (a database written
    /// before v8, or a hub's working copy filled from such rows) into its typed row, and leaves
    /// `sync_record.state` empty for it. A typed row that holds a state already keeps it: that
    /// one is newer.
    static func moveLiveStates(_ db: Database, schema: Schema) throws {
        for collection in schema.collections where try db.tableExists(collection.name) {
            let table = quoted(collection.name)
            try db.execute(sql: """
                UPDATE \(table) SET \(stateColumn) = (SELECT state FROM sync_record WHERE id = \(table).rowid AND deleted = 0)
                WHERE \(stateColumn) IS NULL
                """)
        }
        try db.execute(sql: "UPDATE sync_record SET state = x'' WHERE deleted = 0 AND length(state) > 0")
    }

    /// An expression for the state of the record `record` (an alias of `sync_record`): its
    /// `state` when deleted, else its typed row's state; NULL when a live record has no typed
    /// row (only where someone deleted it by hand, which `audit verify` reports).
    static func stateExpression(_ schema: Schema, record: String) -> String {
        let branches = schema.collections.map { collection in
            "WHEN '\(collection.name.replacingOccurrences(of: "'", with: "''"))' THEN "
                + "(SELECT \(stateColumn) FROM \(quoted(collection.name)) WHERE rowid = \(record).id)"
        }
        return "CASE WHEN \(record).deleted = 1 THEN \(record).state ELSE CASE \(record).collection "
            + branches.joined(separator: " ") + " END END"
    }

    /// Brings the typed tables of a database made by an older SiteSync up to `schema`: the
    /// tables of new collections and the columns of new fields (empty: no change wrote them
    /// yet), and the schema the database now holds in `sync_meta`. Fields and collections are
    /// only ever added (never renamed or dropped), so this is all a newer schema needs.
    static func addNewCollectionsAndFields(_ db: Database, schema: Schema) throws {
        for collection in schema.collections {
            let columns = Set(try Row.fetchAll(db, sql: "PRAGMA table_info(\(quoted(collection.name)))").map { $0["name"] as String })
            guard !columns.isEmpty else {
                try db.execute(sql: createTableSQL(collection))
                continue
            }
            for field in collection.fields where !columns.contains(field.name) {
                try db.execute(sql: "ALTER TABLE \(quoted(collection.name)) ADD COLUMN \(quoted(field.name)) \(sqlType(field.type))")
            }
        }
        for (key, value) in [("schema_version", String(schema.version)), ("schema_hash", schema.hash)] {
            try db.execute(sql: "INSERT INTO sync_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                           arguments: [key, value])
        }
    }

    /// `CREATE TABLE` for a collection's typed table: `id`, every field with its SQL type, and
    /// the scoping `department` where the collection has no field of that name.
    /// - Parameter withState: whether the table has the `sync_state` column a store keeps its
    ///   live records' states in (the benchmark's plain baseline has not).
    static func createTableSQL(_ collection: CollectionSpec, withState: Bool = true) -> String {
        var columns = ["id TEXT PRIMARY KEY NOT NULL"]
        if hasDepartmentColumn(collection) { columns.append("department TEXT NOT NULL") }
        for field in collection.fields {
            columns.append("\(quoted(field.name)) \(sqlType(field.type))")
        }
        if withState { columns.append("\(stateColumn) BLOB") }
        return "CREATE TABLE \(quoted(collection.name)) (\(columns.joined(separator: ", ")))"
    }

    /// The typed tables indexed by their parent record (v7), with the column that names it.
    static let parentIndexes = [("activity", "project"), ("quantity_entry", "activity"), ("cost_entry", "activity"),
                                ("percent_entry", "activity"), ("risk", "project"), ("kpi", "project"), ("goal", "project"),
                                ("daily_log", "project"), ("issue", "project"), ("kpi_reading", "kpi")]

    static func parentIndexSQL(_ table: String, _ column: String) -> String {
        "CREATE INDEX IF NOT EXISTS \(quoted(table + "_by_" + column)) ON \(quoted(table)) (\(quoted(column)))"
    }

    /// The statements that make a collection's typed table as a store holds it: the table and
    /// its indexes, without the store's `sync_state` column (for the benchmark's plain
    /// baseline, which writes the same rows into the same table).
    static func typedTableSQL(_ collection: CollectionSpec) -> [String] {
        [createTableSQL(collection, withState: false)] + parentIndexes.filter { $0.0 == collection.name && collection.field(named: $0.1) != nil }
            .map { parentIndexSQL($0.0, $0.1) }
    }

    /// Whether the typed table gets an extra `department` column (not for shared data, and not
    /// where a field already has that name).
    static func hasDepartmentColumn(_ collection: CollectionSpec) -> Bool {
        collection.scope != .shared && collection.field(named: "department") == nil
    }

    static func sqlType(_ type: FieldType) -> String {
        switch type {
        case .int: "INTEGER"
        default: "TEXT"
        }
    }

    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
