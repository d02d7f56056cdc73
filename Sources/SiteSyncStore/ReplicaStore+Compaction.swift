import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// What a compaction removed, or would remove.
public struct CompactionReport: Sendable, Equatable {
    /// Log entries removed (changes in force and withheld ones alike).
    public var removedChanges = 0
    /// Their encoded bytes.
    public var removedBytes = 0
    /// Chains whose beginning moved up.
    public var chains = 0
    /// Log entries left.
    public var remainingChanges = 0

    public init() {}
}

/// Log compaction and state transfer (docs/design.md §6.6, §10.4).
///
/// The change log is what lets a peer catch up change by change; a record's state already
/// holds everything those changes did. Once every registered node holds a change (it is
/// below the *stability frontier*: what every node held once its last push was through), no
/// peer will ask for it again, and the log can let it go. Each chain's beginning
/// (`sync_chain_start`) moves up to the last change removed, with its link, so the rest of the
/// chain still checks, and `audit verify` checks from there.
///
/// A peer that lacks changes below a chain's beginning (a new node, or one away longer than
/// the horizon, which then no longer holds compaction back) cannot be sent them: it gets a
/// *state transfer* instead, the records of its scope as this replica holds them, which it
/// merges into its own (``RecordState/merge(_:)``, the same join a change applies). Its own
/// offline work meets the others' by the fields' merge rules, so conflicts are kept for review
/// as always, and nothing it wrote is dropped or resurrected behind its back.
///
/// Records themselves, deleted ones included, are never removed: a deleted record's state is
/// its tombstone, and its version vector is what tells a late concurrent edit from a
/// re-creation (see `protocol/README.md` §9.6).
extension ReplicaStore {
    /// Removes every log entry of origin `o` with counter up to `frontier[o]`.
    /// - Parameter dryRun: count what would go, change nothing.
    @discardableResult
    public func compact(below frontier: VersionVector, dryRun: Bool = false) throws -> CompactionReport {
        try StoreError.mapping {
            try pool.write { db in
                var report = CompactionReport()
                for entry in frontier.entries where entry.counter > 0 {
                    let origin = entry.replica.storageValue
                    let rows = try Row.fetchAll(db, sql: """
                        SELECT department, max(counter), count(*), sum(length(payload)) FROM sync_change
                        WHERE replica = ? AND counter <= ? GROUP BY department
                        """, arguments: [origin, Int64(bitPattern: entry.counter)])
                    for row in rows {
                        let department: String = row[0]
                        let last: Int64 = row[1]
                        report.chains += 1
                        report.removedChanges += row[2] as Int
                        report.removedBytes += row[3] as Int
                        guard !dryRun else { continue }
                        let link: Data = try Data.fetchOne(db, sql: """
                            SELECT link FROM sync_change WHERE replica = ? AND department = ? AND counter = ?
                            """, arguments: [origin, department, last])!
                        for table in ["sync_change", "sync_seal", "sync_chain_start"] {
                            try db.execute(sql: "DELETE FROM \(table) WHERE replica = ? AND department = ? AND counter <= ?",
                                           arguments: [origin, department, last])
                        }
                        try db.execute(sql: "INSERT INTO sync_chain_start (replica, department, counter, link) VALUES (?, ?, ?, ?)",
                                       arguments: [origin, department, last, link])
                    }
                }
                report.remainingChanges = try ChangeLog(db).count()
                if dryRun { report.remainingChanges -= report.removedChanges }
                return report
            }
        }
    }

    /// Whether a peer holding `base` lacks changes of a chain in `scope` that this replica no
    /// longer logs (the chain's holding here begins after what the peer holds).
    public func lacksCompacted(_ base: VersionVector, scope: ReplicationScope) throws -> Bool {
        try StoreError.mapping {
            try pool.read { db in try self.compactedChains(db).contains { scope.includes(department: $0.chain.department) && base[$0.chain.origin] < $0.counter } }
        }
    }

    /// Each chain held from the middle: where its holding here begins.
    func compactedChains(_ db: Database) throws -> [(chain: ChainKey, counter: UInt64)] {
        try Row.fetchAll(db.cachedStatement(sql: """
            SELECT replica, department, min(counter) FROM sync_chain_start GROUP BY replica, department HAVING min(counter) > 0
            """)).map { (ChainKey(origin: ReplicaID(storageValue: $0[0]), department: $0[1]), UInt64(bitPattern: $0[2])) }
    }

    /// One page of a state transfer: the records in `scope` after record position `after`,
    /// about `limit` of them and `maxBytes` of state.
    /// - Parameter standing: the knowledge the transfer stands at (`nil` on its first page:
    ///   this replica's knowledge now, returned in `knowledge`). On the last page, `heads` says
    ///   where each chain in scope stands at it.
    public func statePage(after: Int64, scope: ReplicationScope, limit: Int, maxBytes: Int, standing: VersionVector?) throws
        -> (states: [RecordState], cursor: Int64, exhausted: Bool, knowledge: VersionVector, heads: [ChainStart]) {
        try StoreError.mapping {
            try pool.read { db in
                let knowledge = try standing ?? StoredKnowledge(db).vector()
                var states: [RecordState] = []
                var bytes = 0
                var cursor = after
                var exhausted = true
                let rows = try Row.fetchCursor(db, sql: "SELECT r.id, r.collection, r.record_id, r.department, "
                                               + StoreSchema.stateExpression(self.schema, record: "r") + " FROM sync_record AS r WHERE r.id > ? ORDER BY r.id",
                                               arguments: [after])
                while let row = try rows.next() {
                    guard scope.includes(department: row[3]), let collection = self.schema.collection(named: row[1]) else {
                        cursor = row[0]
                        continue
                    }
                    guard let blob = row[4] as Data? else {
                        throw StoreError(.database, "record \(row[1] as String) \(row[2] as String) is live but its row in table \(row[1] as String) "
                                         + "is missing or holds no state: it was deleted or altered behind SiteSync's back; run `sitesync audit verify`")
                    }
                    let state = try RecordStateCodec.decode([UInt8](blob), key: RecordKey(collection: collection.code, id: row[2]))
                    // Measured as it travels (with its field's tag and length), so that the whole
                    // message stays within the receiver's bytes, a little kept for the batch's own.
                    let size = ((try? StateCodec.encode(state).serializedBytes() as [UInt8])?.count ?? blob.count) + 6
                    if !states.isEmpty && (states.count >= limit || bytes + size > maxBytes - min(maxBytes / 8, 4096)) {
                        exhausted = false
                        break
                    }
                    cursor = row[0]
                    states.append(state)
                    bytes += size
                }
                var heads: [ChainStart] = []
                if exhausted {
                    let chains = try Row.fetchAll(db, sql: """
                        SELECT replica, department FROM sync_change UNION SELECT replica, department FROM sync_chain_start
                        """)
                    for row in chains where scope.includes(department: row[1]) {
                        let chain = ChainKey(origin: ReplicaID(storageValue: row[0]), department: row[1])
                        let standingAt = knowledge[chain.origin]
                        guard standingAt > 0 else { continue }
                        let head = try ChangeLog(db).head(chain, before: standingAt + 1)
                        if head.counter > 0 { heads.append(ChainStart(chain: chain, counter: head.counter, link: head.link)) }
                    }
                    heads.sort { $0.chain < $1.chain }
                }
                return (states, cursor, exhausted, knowledge, heads)
            }
        }
    }

    /// Merges one batch of a state transfer, in one transaction. On its last batch
    /// (`complete`), each chain this replica holds less of than `heads` says continues from
    /// there (its older entries here, if any, go: the records hold them), and the knowledge
    /// rises to `vouched`.
    /// - Returns: the records that changed here (`applied`) and those already as sent (`alreadyKnown`).
    @discardableResult
    public func applyStates(_ states: [RecordState], complete: Bool, heads: [ChainStart], vouched: VersionVector) throws -> ApplyReport {
        try StoreError.mapping {
            try pool.write { db in
                var report = ApplyReport()
                let now = self.options.wallClock()
                let statements = PreparedStatements(db)
                let stored = try self.loadStored(statements, states.map(\.key))
                for (incoming, stored) in zip(states, stored) {
                    guard self.schema.collection(code: incoming.key.collection) != nil else { continue }
                    let merged = stored.map { $0.state.merged(with: incoming) } ?? incoming
                    if merged == stored?.state {
                        report.alreadyKnown += 1
                    } else {
                        try self.saveState(statements, merged, stored: stored, settledBy: nil, now: now)
                        report.applied += 1
                    }
                }
                guard complete else { return report }
                let storedKnowledge = StoredKnowledge(db)
                let knowledge = try storedKnowledge.vector()
                for head in heads where knowledge[head.chain.origin] < head.counter {
                    let origin = head.chain.origin.storageValue, department = head.chain.department, counter = Int64(bitPattern: head.counter)
                    for table in ["sync_change", "sync_seal", "sync_chain_start"] {
                        try db.execute(sql: "DELETE FROM \(table) WHERE replica = ? AND department = ? AND counter <= ?",
                                       arguments: [origin, department, counter])
                    }
                    try ChangeLog(db).recordStart(head)
                }
                for entry in vouched.entries where entry.counter > 0 {
                    try storedKnowledge.raise(entry.replica, to: entry.counter)
                    if entry.counter > knowledge[entry.replica] { try storedKnowledge.vouch(entry.replica, entry.counter, now: now) }
                }
                return report
            }
        }
    }
}
