import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// The change log (`sync_change`) and what keeps its chains checkable: the origins' seals
/// (`sync_seal`) and where this replica's holding of each chain begins (`sync_chain_start`).
/// Every statement about them lives here; it works inside the caller's transaction.
///
/// Each entry is a change in force, a change withheld (refused before it applied: its payload
/// is then a hole's) or a change retracted (``ChangeStatus``).
struct ChangeLog {
    let db: Database

    init(_ db: Database) {
        self.db = db
    }

    // MARK: - Entries

    /// Appends an entry, through the caller's prepared statements (the apply path's hot loop).
    static func insert(_ statements: PreparedStatements, dot: Dot, department: String, payload: Data, link: ChainHash,
                       status: ChangeStatus = .inForce) throws {
        let insert = try statements.statement(0,
            "INSERT INTO sync_change (replica, counter, department, payload, link, status) VALUES (?, ?, ?, ?, ?, ?)")
        insert.bind(1, dot.replica.storageValue)
        insert.bind(2, Int64(bitPattern: dot.counter))
        insert.bind(3, department)
        insert.bind(4, blob: payload)
        insert.bind(5, blob: link.bytes)
        insert.bind(6, status.rawValue)
        try insert.run()
    }

    /// What the log holds of `dot`, or `nil` when it holds nothing of it.
    func status(of dot: Dot) throws -> ChangeStatus? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT status FROM sync_change WHERE replica = ? AND counter = ?"),
                           arguments: [dot.replica.storageValue, Int64(bitPattern: dot.counter)]).map(ChangeStatus.stored)
    }

    /// The entry for `dot`: its payload (a hole's, when withheld) and its status.
    func entry(of dot: Dot) throws -> (payload: Data, status: ChangeStatus)? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT payload, status FROM sync_change WHERE replica = ? AND counter = ?"),
                         arguments: [dot.replica.storageValue, Int64(bitPattern: dot.counter)]).map { ($0[0], ChangeStatus.stored($0[1])) }
    }

    private static let payloadInForceSQL =
        "SELECT payload FROM sync_change WHERE replica = ? AND counter = ? AND status = \(ChangeStatus.inForce.sql)"

    /// The payload of `dot` when the log holds it in force.
    func payloadInForce(_ dot: Dot) throws -> Data? {
        try Data.fetchOne(db.cachedStatement(sql: Self.payloadInForceSQL), arguments: [dot.replica.storageValue, Int64(bitPattern: dot.counter)])
    }

    /// How many entries the log holds.
    func count() throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM sync_change") ?? 0
    }

    /// Removes `replica`'s entries and seals from `counter` on (its work set aside).
    func remove(_ replica: ReplicaID, from counter: UInt64) throws {
        try db.execute(sql: "DELETE FROM sync_change WHERE replica = ? AND counter >= ?", arguments: [replica.storageValue, Int64(bitPattern: counter)])
        try db.execute(sql: "DELETE FROM sync_seal WHERE replica = ? AND counter >= ?", arguments: [replica.storageValue, Int64(bitPattern: counter)])
    }

    /// Whether `payload` is other content than what this replica holds for `dot`. A change
    /// this replica compacted away cannot be compared, and it is never sent again in the
    /// normal course (every registered node held it): its origin sending it again means its
    /// database went back in time, so it counts as reused and the origin takes a new epoch.
    func isReused(_ dot: Dot, department: String, payload: Data) throws -> Bool {
        guard let held = try entry(of: dot) else {
            return try Int.fetchOne(db.cachedStatement(sql: """
                SELECT 1 FROM sync_chain_start WHERE replica = ? AND department = ? AND counter >= ? AND counter > 0
                """), arguments: [dot.replica.storageValue, department, Int64(bitPattern: dot.counter)]) != nil
        }
        if held.status == .withheld {
            return try HoleCodec.decode(held.payload).payloadHash != ChainHash.of(payload: payload)
        }
        return held.payload != payload
    }

    /// Whether the log holds anything of `dot`.
    func holds(_ dot: Dot) throws -> Bool {
        try status(of: dot) != nil
    }

    private static let retractSQL = "UPDATE sync_change SET status = \(ChangeStatus.retracted.sql) WHERE replica = ? AND counter = ?"

    /// Takes back a change in force: the hub refused it. Its record is to be rebuilt.
    func retract(_ dot: Dot) throws {
        try db.cachedStatement(sql: Self.retractSQL).execute(arguments: [dot.replica.storageValue, Int64(bitPattern: dot.counter)])
    }

    private static let withheldBetweenSQL = """
        SELECT 1 FROM sync_change WHERE replica = ? AND counter > ? AND counter <= ? AND status <> \(ChangeStatus.inForce.sql) LIMIT 1
        """

    /// Whether a change that does not follow its record's context names a change withheld
    /// (or retracted) here.
    func dependsOnWithheld(_ change: Change, state: RecordState) throws -> Bool {
        for entry in change.context.entries where entry.counter > state.context[entry.replica] {
            if try Int.fetchOne(db.cachedStatement(sql: Self.withheldBetweenSQL),
                                arguments: [entry.replica.storageValue, Int64(bitPattern: state.context[entry.replica]),
                                            Int64(bitPattern: entry.counter)]) != nil {
                return true
            }
        }
        return false
    }

    /// The end of the unbroken run of `origin`'s counters held in the log after `counter`: how
    /// far this replica's knowledge of it rises on the changes alone, with no one's word for it.
    func heldRun(_ origin: ReplicaID, after counter: UInt64) throws -> UInt64 {
        var end = counter
        let counters = try Int64.fetchCursor(db.cachedStatement(sql: """
            SELECT counter FROM sync_change WHERE replica = ? AND counter > ? ORDER BY counter
            """), arguments: [origin.storageValue, Int64(bitPattern: counter)])
        while let next = try counters.next(), UInt64(bitPattern: next) == end + 1 { end += 1 }
        return end
    }

    /// The log position of the first change a receiver with knowledge `base` lacks, found
    /// through the (replica, counter) index instead of a scan of the log.
    func firstLackingSequence(base: VersionVector) throws -> Int64 {
        var first = Int64.max
        for replica in try StoredKnowledge(db).knownOrigins() {
            if let seq = try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT seq FROM sync_change WHERE replica = ? AND counter > ? ORDER BY counter LIMIT 1
                """), arguments: [replica.storageValue, Int64(bitPattern: base[replica])]) {
                first = min(first, seq)
            }
        }
        return first == .max ? (try Int64.fetchOne(db, sql: "SELECT max(seq) FROM sync_change") ?? 0) + 1 : first
    }

    /// The changes held in force within `scope` that a replica with knowledge `acknowledged`
    /// lacks, counted per origin through the (replica, counter) index: one index range per
    /// origin, not a scan of the log.
    /// - Parameter detailed: also sum the bytes and find the oldest (otherwise only count).
    func backlog(beyond acknowledged: VersionVector, scope: ReplicationScope, detailed: Bool, schema: Schema) throws -> Backlog {
        var backlog = Backlog()
        var scopeSQL = ""
        var scopeArguments: StatementArguments = []
        if case .department(let department) = scope {
            scopeSQL = " AND (department = '' OR department = ?)"
            scopeArguments = [department]
        }
        for replica in try StoredKnowledge(db).knownOrigins() {
            let origin = replica.storageValue
            let after = Int64(bitPattern: acknowledged[replica])
            let arguments: StatementArguments = [origin, after] + scopeArguments
            guard let row = try Row.fetchOne(db, sql: """
                SELECT count(*)\(detailed ? ", coalesce(sum(length(payload)), 0)" : "") FROM sync_change
                WHERE replica = ? AND counter > ? AND status = \(ChangeStatus.inForce.sql)\(scopeSQL)
                """, arguments: arguments), (row[0] as Int) > 0 else { continue }
            backlog.count += row[0]
            guard detailed else { continue }
            backlog.bytes += row[1]
            // An origin's first change is its oldest (its HLC rises); the oldest of all is
            // the oldest of those firsts. One that does not decode (`try?`) only leaves its
            // origin out of that figure, which is for status lines; `audit verify` stops on it.
            if let first = try Row.fetchOne(db, sql: """
                SELECT counter, payload FROM sync_change
                WHERE replica = ? AND counter > ? AND status = \(ChangeStatus.inForce.sql)\(scopeSQL) ORDER BY counter LIMIT 1
                """, arguments: arguments),
               let change = try? ChangeCodec.decode(origin: UInt64(bitPattern: origin), counter: UInt64(bitPattern: first[0]),
                                                    payload: first[1], schema: schema) {
                backlog.oldestMilliseconds = min(backlog.oldestMilliseconds ?? .max, change.hlc.milliseconds)
            }
        }
        return backlog
    }

    // MARK: - Chains

    /// Stores an origin's seal over one of its chains (once), when the log holds that link at
    /// its counter. A batch's seal can be over other content: a change refused because this
    /// replica holds its id with other content (a database copied back by hand) comes sealed,
    /// and its seal beside the content held would make every page cut there fail its check.
    func insertSeal(_ seal: Seal) throws {
        let origin = seal.chain.origin.storageValue, counter = Int64(bitPattern: seal.counter), link = Data(seal.link.bytes)
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO sync_seal (replica, department, counter, link, signature)
            SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sync_change WHERE replica = ? AND counter = ? AND link = ?)
            """).execute(arguments: [origin, seal.chain.department, counter, link, Data(seal.signature), origin, counter, link])
    }

    /// Whether this replica holds any of `chain`, and where its holding begins when that is
    /// not the chain's beginning (compaction or a state transfer moved it up). Every chain
    /// held has its beginning recorded (`sync_chain_start`; `audit verify` checks it), so that
    /// table alone answers, through its primary key.
    func holding(_ chain: ChainKey) throws -> (holdsAny: Bool, begins: UInt64?) {
        guard let begins = try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT min(counter) FROM sync_chain_start WHERE replica = ? AND department = ?
            """), arguments: [chain.origin.storageValue, chain.department]) else { return (false, nil) }
        return (true, begins > 0 ? UInt64(bitPattern: begins) : nil)
    }

    /// The link this replica holds for the chain at the start's counter: of the change (or
    /// hole) there, or of where its holding begins.
    func heldLink(_ start: ChainStart) throws -> ChainHash? {
        let arguments: StatementArguments = [start.chain.origin.storageValue, Int64(bitPattern: start.counter), start.chain.department]
        for table in ["sync_change", "sync_chain_start"] {
            if let link = try Data.fetchOne(db.cachedStatement(sql: """
                SELECT link FROM \(table) WHERE replica = ? AND counter = ? AND department = ?
                """), arguments: arguments) {
                guard let hash = ChainHash(Array(link)) else {
                    throw StoreError(.corrupt, "the link held for chain \(start.chain) at \(start.counter) is not 32 bytes: the database "
                                     + "was damaged; run `sitesync audit verify`")
                }
                return hash
            }
        }
        return nil
    }

    /// Records where this replica's holding of a chain begins (once).
    func recordStart(_ start: ChainStart) throws {
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO sync_chain_start (replica, department, counter, link) VALUES (?, ?, ?, ?)")
            .execute(arguments: [start.chain.origin.storageValue, start.chain.department, Int64(bitPattern: start.counter),
                                 Data(start.link.bytes)])
    }

    /// The last entry of `chain` before `counter`: its counter and link; where the log holds
    /// none (it was compacted, or the holding here begins later), where the holding begins;
    /// 0 and the genesis link when there is nothing.
    func head(_ chain: ChainKey, before counter: UInt64) throws -> (counter: UInt64, link: ChainHash) {
        let arguments: StatementArguments = [chain.origin.storageValue, chain.department, Int64(bitPattern: counter)]
        for table in ["sync_change", "sync_chain_start"] {
            if let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT counter, link FROM \(table) WHERE replica = ? AND department = ? AND counter < ? ORDER BY counter DESC LIMIT 1
                """), arguments: arguments), let link = ChainHash(Array(row[1] as Data)) {
                return (UInt64(bitPattern: row[0]), link)
            }
        }
        return (0, .genesis)
    }
}
