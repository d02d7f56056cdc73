import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// What `audit verify` found.
public struct AuditReport: Sendable {
    public var chains = 0
    public var entries = 0
    public var seals = 0
    public var records = 0
    /// Chains held from the middle (earlier changes not held here): checked from there.
    public var partialChains = 0
    /// Records made partly by changes no longer logged (compacted, or received by state
    /// transfer): checked to hold every change the log has of them.
    public var partialRecords = 0
    /// The first problem found, naming the row; `nil` when everything checks out.
    public var broken: String?
}

extension ReplicaStore {
    /// Checks that nothing in the database was altered behind SiteSync's back:
    /// - every origin's chains: each entry's bytes hash to its link from the one before, and
    ///   every seal is its origin's signature over the link held at its counter;
    /// - every record: its state is what its changes in the log make, and its typed row shows
    ///   that state.
    /// - the knowledge: for every origin, the changes (or holes) held of it, where the holding
    ///   of its chains begins, or the hub's word recorded when it was taken, reach as far as
    ///   the knowledge claims, so that no inflated knowledge stops this node pulling.
    /// Stops at the first broken link and names it.
    public func audit() throws -> AuditReport {
        let names = try replicaNames()
        return try StoreError.mapping {
            try pool.read { db in
                var report = AuditReport()
                func origin(_ replica: ReplicaID) -> String { names[replica].map { "\(replica) (\($0))" } ?? "\(replica)" }
                if let broken = try self.auditChains(db, &report, origin) ?? self.auditKnowledge(db, origin) {
                    report.broken = broken
                    return report
                }
                report.broken = try self.auditRecords(db, &report)
                return report
            }
        }
    }

    private func auditChains(_ db: Database, _ report: inout AuditReport, _ origin: (ReplicaID) -> String) throws -> String? {
        var starts: [ChainKey: [(counter: UInt64, link: ChainHash)]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT replica, department, counter, link FROM sync_chain_start ORDER BY counter") {
            let chain = ChainKey(origin: ReplicaID(storageValue: row[0]), department: row[1])
            starts[chain, default: []].append((UInt64(bitPattern: row[2]), ChainHash(Array(row[3] as Data)) ?? .genesis))
        }
        var links: [ChainKey: [UInt64: ChainHash]] = [:]
        var current: ChainKey?
        var previous: (counter: UInt64, link: ChainHash)?
        let rows = try Row.fetchCursor(db, sql: """
            SELECT replica, department, counter, payload, status, link FROM sync_change ORDER BY replica, department, counter
            """)
        while let row = try rows.next() {
            let dot = Dot(replica: ReplicaID(storageValue: row[0]), counter: UInt64(bitPattern: row[2]))
            let chain = ChainKey(origin: dot.replica, department: row[1])
            if chain != current {
                current = chain
                previous = nil
                report.chains += 1
            }
            // Continue from the entry before, or from where this node's holding of the chain began.
            let start = starts[chain]?.last { $0.counter < dot.counter }
            if previous == nil || (start.map { $0.counter > previous!.counter } ?? false) {
                guard let start else {
                    return "chain \(chain) of \(origin(dot.replica)) has no recorded beginning before counter \(dot.counter): "
                        + "rows before it were removed"
                }
                if start.counter > 0 { report.partialChains += 1 }
                previous = start
            }
            let status = ChangeStatus.stored(row[4])
            let payload: Data = row[3]
            let payloadHash = status == .withheld ? try HoleCodec.decode(payload).payloadHash : ChainHash.of(payload: payload)
            let link = ChainHash.link(after: previous!.link, dot: dot, payloadHash: payloadHash)
            guard Array(row[5] as Data) == link.bytes else {
                return "broken link: change \(dot.counter) of chain \(chain) of \(origin(dot.replica)) does not hash to its recorded link: "
                    + "its row in sync_change (or the one before it) was altered after it was written"
            }
            links[chain, default: [:]][dot.counter] = link
            previous = (dot.counter, link)
            report.entries += 1
        }
        var keys: [ReplicaID: [UInt8]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT replica, signing_key, salt, node FROM sync_replica WHERE signing_key IS NOT NULL") {
            let credential = ReplicaCredential(replica: ReplicaID(storageValue: row[0]), node: row[3],
                                               signingKey: Array(row[1] as Data), salt: Array(row[2] as Data))
            guard credential.isValid else {
                return "the key recorded for replica \(credential.replica) does not make its id: sync_replica was altered"
            }
            keys[credential.replica] = credential.signingKey
        }
        for row in try Row.fetchAll(db, sql: "SELECT replica, department, counter, link, signature FROM sync_seal") {
            let chain = ChainKey(origin: ReplicaID(storageValue: row[0]), department: row[1])
            let counter = UInt64(bitPattern: row[2])
            guard let link = ChainHash(Array(row[3] as Data)),
                  let key = keys[chain.origin],
                  Seal(chain: chain, counter: counter, link: link, signature: Array(row[4] as Data)).isValid(signingKey: key) else {
                return "the seal of chain \(chain) of \(origin(chain.origin)) at \(counter) is not its origin's signature: sync_seal was altered"
            }
            guard let held = links[chain]?[counter] else {
                return "chain \(chain) of \(origin(chain.origin)) was sealed at \(counter), but that change is missing: it was deleted"
            }
            guard held == link else {
                return "broken link: chain \(chain) of \(origin(chain.origin)) up to \(counter) is not what its origin signed: "
                    + "a change in it was altered or removed"
            }
            report.seals += 1
        }
        for (chain, byCounter) in links {
            guard let head = byCounter.keys.max(), try Int.fetchOne(db, sql: """
                SELECT 1 FROM sync_seal WHERE replica = ? AND department = ? AND counter >= ?
                """, arguments: [chain.origin.storageValue, chain.department, Int64(bitPattern: head)]) != nil else {
                return "chain \(chain) of \(origin(chain.origin)) ends with changes no seal covers: they were added behind SiteSync's back"
            }
        }
        return nil
    }

    /// Finds knowledge that nothing backs: an origin known further than any change, hole or
    /// chain start held of it, and further than the hub ever vouched for.
    private func auditKnowledge(_ db: Database, _ origin: (ReplicaID) -> String) throws -> String? {
        let rows = try Row.fetchAll(db, sql: """
            SELECT k.replica, k.counter,
                   max(coalesce((SELECT max(counter) FROM sync_change c WHERE c.replica = k.replica), 0),
                       coalesce((SELECT max(counter) FROM sync_chain_start s WHERE s.replica = k.replica), 0),
                       coalesce((SELECT counter FROM sync_vouch v WHERE v.replica = k.replica), 0))
            FROM sync_knowledge k WHERE k.counter > 0
            """)
        for row in rows {
            let replica = ReplicaID(storageValue: row[0])
            let (counter, backed) = (UInt64(bitPattern: row[1]), UInt64(bitPattern: row[2]))
            guard counter <= backed else {
                return "this node's knowledge of \(origin(replica)) stands at \(counter), but it holds that origin's changes only up to "
                    + "\(backed) and no hub vouched for more: sync_knowledge was raised on someone's word or altered, and this node "
                    + "would not pull what it lacks; restore it from a backup, or ask for a new node to be set up"
            }
        }
        return nil
    }

    /// Rebuilds every record from the log and compares it with its stored state and typed row.
    private func auditRecords(_ db: Database, _ report: inout AuditReport) throws -> String? {
        var states: [RecordKey: RecordState] = [:]
        var inForce: Set<RecordKey> = []
        var logged: [RecordKey: VersionVector] = [:]
        var unreplayable: Set<RecordKey> = []
        let rows = try Row.fetchCursor(db, sql: "SELECT replica, counter, payload, status FROM sync_change ORDER BY seq")
        while let row = try rows.next() {
            let dot = Dot(replica: ReplicaID(storageValue: row[0]), counter: UInt64(bitPattern: row[1]))
            let status = ChangeStatus.stored(row[3])
            if status == .withheld {
                let hole = try HoleCodec.decode(row[2])
                if var state = states[hole.record] { state.withhold(dot); states[hole.record] = state }
                continue
            }
            let change = try ChangeCodec.decode(origin: dot.replica.rawValue, counter: dot.counter, payload: row[2], schema: schema)
            logged[change.record, default: VersionVector()].insert(dot)
            guard !unreplayable.contains(change.record) else { continue }
            var state = states[change.record] ?? RecordState(key: change.record)
            if status == .inForce {
                do {
                    _ = try state.apply(change, in: collection(change.record.collection))
                } catch let error as CoreError where error.code == .causalityViolation {
                    // Its earlier changes are no longer logged (compacted, or received as state).
                    unreplayable.insert(change.record)
                    continue
                }
                inForce.insert(change.record)
            } else {
                state.withhold(dot)
            }
            states[change.record] = state
        }
        let statements = PreparedStatements(db)
        let partial = try compactedChains(db)
        let stored = try Row.fetchCursor(db, sql: "SELECT r.id, r.collection, r.record_id, r.deleted, "
                                         + StoreSchema.stateExpression(schema, record: "r") + ", length(r.state) FROM sync_record AS r")
        var seen = 0, checked = 0
        while let row = try stored.next() {
            guard let collection = schema.collection(named: row[1]) else { continue }
            let key = RecordKey(collection: collection.code, id: row[2])
            guard let blob = row[4] as Data? else {
                return "record \(collection.name) \(key.id): it is live but its row in table \(collection.name) is missing or holds no state: it was deleted or altered"
            }
            // A live record's state is in its typed row alone.
            guard (row[3] as Int) == 1 || (row[5] as Int) == 0 else {
                return "record \(collection.name) \(key.id): it is live but sync_record holds a state for it: it was altered"
            }
            let state = try RecordStateCodec.decode([UInt8](blob), key: key)
            if inForce.contains(key), !unreplayable.contains(key), states[key] == state {
                seen += 1
            } else if partial.contains(where: { $0.chain.department == state.department && state.context[$0.chain.origin] > 0 }) {
                // Made partly by changes no longer logged (compacted, or received as state): the
                // changes that are logged must all be in it.
                guard logged[key].map({ $0.isCovered(by: state.context) }) ?? true else {
                    return "record \(collection.name) \(key.id): its stored state lacks changes of it the log holds: it was altered"
                }
                report.partialRecords += 1
                if inForce.contains(key) { seen += 1 }
            } else {
                return "record \(collection.name) \(key.id): its stored state is not what its changes make: it was altered"
            }
            if !state.isDeleted, try !tables[collection.code]!.rowMatches(statements, state, rowID: row[0]) {
                return "record \(collection.name) \(key.id): its row in table \(collection.name) does not show its state: it was altered"
            }
            checked += 1
        }
        guard seen == inForce.count else {
            return "\(inForce.count - seen) record(s) made by the log are missing from sync_record: rows were deleted"
        }
        for collection in schema.collections {
            let typed = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(StoreSchema.quoted(collection.name))") ?? 0
            let live = try Int.fetchOne(db, sql: "SELECT count(*) FROM sync_record WHERE collection = ? AND deleted = 0",
                                        arguments: [collection.name]) ?? 0
            guard typed == live else {
                return "table \(collection.name) holds \(typed) rows for \(live) live records: rows were added or deleted behind SiteSync's back"
            }
        }
        report.records = checked
        return nil
    }
}
