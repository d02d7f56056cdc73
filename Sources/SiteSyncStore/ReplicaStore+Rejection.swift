import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// A change refused: one of this node's, refused by a peer (usually the hub); or, at a hub, one
/// it refused.
public struct RejectedChange: Sendable, Equatable {
    public let dot: Dot
    public let code: RefusalCode
    public let reason: String
    /// The node that refused it ("" when this node did).
    public let refusedBy: String
    public let collection: String
    public let recordID: String
    public let rejectedMilliseconds: UInt64
}

/// The `refusal` records a hub writes, one per change it refused (id `origin:counter`).
enum RefusalRecord {
    static let collection = "refusal"

    static func id(_ dot: Dot) -> String { "\(dot.replica):\(dot.counter)" }

    static func dot(_ id: String) -> Dot? {
        let parts = id.split(separator: ":")
        guard parts.count == 2, let replica = ReplicaID(hex: String(parts[0])), let counter = UInt64(parts[1]), counter > 0 else { return nil }
        return Dot(replica: replica, counter: counter)
    }
}

extension ReplicaStore {
    /// At the hub: writes a `refusal` record for each change refused (signed like any local
    /// write), so every replica of the department learns of it — also one that took the change
    /// from a peer before the hub saw it, which then retracts it.
    func publishRefusals(_ db: Database, _ refusals: [Refusal], records: [Dot: Change], nodes: [ReplicaID: String]) throws {
        guard options.signer != nil, let collection = schema.collection(named: RefusalRecord.collection) else { return }
        let session = try LocalWriteSession(store: self, db: db)
        for refusal in refusals {
            guard let change = records[refusal.dot] else { continue }
            let key = RecordKey(collection: collection.code, id: RefusalRecord.id(refusal.dot))
            guard try loadState(db, key) == nil else { continue }
            let target = schema.collection(code: change.record.collection)?.name ?? "\(change.record.collection)"
            func text(_ name: String, _ value: FieldValue) -> FieldWrite { .assign(collection.field(named: name)!.code, value) }
            try session.write { _ in
                LocalEdit(record: key, department: change.department, body: .upsert([
                    text("change", .text(key.id)), text("node", .text(nodes[refusal.dot.replica] ?? "")),
                    text("collection", .text(target)), text("record", .text(change.record.id)),
                    text("department", .text(change.department)), text("code", .symbol(refusal.code.rawValue)),
                    text("reason", .text(refusal.reason)),
                ]))
            }
        }
        try session.finish()
    }

    /// Takes in a `refusal` record received from the hub: the change it names never applies
    /// here, and is retracted if it already did. A refusal record written by anyone but the
    /// hub changes nothing (only the hub's refusals are final).
    /// - Returns: the record to rebuild, when a change was retracted.
    func learnRefusal(_ db: Database, _ record: Change, now: UInt64) throws -> RecordKey? {
        guard try isHubReplica(db, record.dot.replica) else { return nil }
        guard case .upsert(let writes) = record.body, let refusals = schema.collection(named: RefusalRecord.collection) else { return nil }
        func text(_ name: String) -> String? {
            guard let code = refusals.field(named: name)?.code,
                  case .assign(let value, _, _)? = writes.first(where: { $0.field == code })?.operation else { return nil }
            return value.displayText
        }
        guard let dot = text("change").flatMap(RefusalRecord.dot), let collectionName = text("collection"),
              let target = schema.collection(named: collectionName), let id = text("record"),
              let code = text("code").flatMap(RefusalCode.init(rawValue:)) else { return nil }
        let key = RecordKey(collection: target.code, id: id)
        let by = try KnownReplicas(db).node(of: record.dot.replica)
        try RejectionLog(db, schema: schema).learn(dot, code: code, reason: text("reason") ?? "", refusedBy: by.isEmpty ? "hub" : by,
                                                   collection: collectionName, id: id, now: now)
        guard try ChangeLog(db).status(of: dot) == .inForce else { return nil }
        try ChangeLog(db).retract(dot)
        return key
    }

    /// Whether `replica` is the hub's, by the key it signs with: the hub key this node trusts,
    /// or the hub's entry in its copy of the allow-list. Where it has neither (plaintext, where
    /// no key is checked), every replica is taken as it presents itself.
    func isHubReplica(_ db: Database, _ replica: ReplicaID) throws -> Bool {
        let hubKeys = try String.fetchAll(db, sql: "SELECT key FROM sync_directory WHERE role = 'hub' AND active")
            .compactMap { NodePublicKey(text: $0)?.signing } + [options.hubSigningKey].compactMap { $0 }
        guard !hubKeys.isEmpty else { return true }
        guard let key = try KnownReplicas(db).signingKey(of: replica) else { return false }
        return hubKeys.contains(Array(key))
    }

    /// Marks this node's changes that `peer` refused as rejected: they stay in the log (shown by
    /// `conflicts --rejected`, never sent again except as holes), and the records they touched
    /// are rebuilt without them, so this node shows what the hub holds.
    ///
    /// Refusals `reused-id` mean this database was restored from an old copy behind SiteSync's
    /// back: its work from the first reused id on is set aside and the replica takes a new
    /// epoch (``setAsideReused(_:_:)``); the store must then be opened again, which re-issues it.
    /// - Returns: how many changes were newly marked (or set aside).
    @discardableResult
    public func markRejected(_ refusals: [Refusal], by peer: String) throws -> Int {
        let mine = refusals.filter { $0.dot.replica == identity.replica }
        guard !mine.isEmpty else { return 0 }
        if mine.contains(where: { $0.code == .reusedID }) {
            return try StoreError.mapping { try pool.write { db in try setAsideReused(db, mine) } }
        }
        return try StoreError.mapping {
            try pool.write { db in
                let now = options.wallClock()
                var records: Set<RecordKey> = []
                for refusal in mine {
                    guard let entry = try ChangeLog(db).entry(of: refusal.dot), entry.status == .inForce else { continue }
                    let change = try ChangeCodec.decode(origin: refusal.dot.replica.rawValue, counter: refusal.dot.counter,
                                                        payload: entry.payload, schema: schema)
                    try ChangeLog(db).retract(refusal.dot)
                    try recordRejection(db, refusal, record: change.record, refusedBy: peer, now: now)
                    records.insert(change.record)
                }
                if !records.isEmpty { try rebuild(db, records, now: now) }
                return records.isEmpty ? 0 : mine.count
            }
        }
    }

    /// The changes refused, newest first.
    public func rejectedChanges() throws -> [RejectedChange] {
        try StoreError.mapping {
            try pool.read { db in try RejectionLog(db, schema: schema).all() }
        }
    }

    /// The refusals this node (a hub) gave the changes of `node`'s replicas, to send back to it.
    public func refusalsIssued(to node: String) throws -> [Refusal] {
        try StoreError.mapping {
            try pool.read { db in try RejectionLog(db, schema: schema).issued(to: node) }
        }
    }

    /// Records a refusal of a change to `record` (``RejectionLog``).
    func recordRejection(_ db: Database, _ refusal: Refusal, record: RecordKey, refusedBy: String, now: UInt64) throws {
        try RejectionLog(db, schema: schema).record(refusal, record: record, refusedBy: refusedBy, now: now)
    }

    /// Recomputes records from the log, in log order, with every withheld or retracted change
    /// taken as seen but without effect. A record left with no change in force disappears.
    ///
    /// A record whose earlier changes are no longer logged (compacted, or received as state)
    /// cannot be replayed: its stored state is kept, with the withheld changes' versions taken
    /// out. What such a change had overwritten does not come back then; that is the price of a
    /// log that is not kept whole.
    func rebuild(_ db: Database, _ records: Set<RecordKey>, now: UInt64) throws {
        var states: [RecordKey: RecordState] = [:]
        var inForce: Set<RecordKey> = []
        var withheld: [RecordKey: [Dot]] = [:]
        let partial = try compactedChains(db)
        let rows = try Row.fetchCursor(db, sql: "SELECT replica, counter, payload, status FROM sync_change ORDER BY seq")
        while let row = try rows.next() {
            let dot = Dot(replica: ReplicaID(storageValue: row[0]), counter: UInt64(bitPattern: row[1]))
            let status = ChangeStatus.stored(row[3])
            let record: RecordKey
            var change: Change?
            if status == .withheld {
                record = try HoleCodec.decode(row[2]).record
            } else {
                let decoded = try ChangeCodec.decode(origin: dot.replica.rawValue, counter: dot.counter, payload: row[2], schema: schema)
                record = decoded.record
                change = decoded
            }
            guard records.contains(record) else { continue }
            if status != .inForce { withheld[record, default: []].append(dot) }
            var state = states[record] ?? RecordState(key: record)
            if status == .inForce, let change {
                do {
                    _ = try state.apply(change, in: collection(record.collection))
                } catch let error as CoreError where error.code == .causalityViolation && !partial.isEmpty {
                    continue  // its earlier changes are no longer logged: it keeps its stored state below
                }
                inForce.insert(record)
            } else {
                state.withhold(dot)
            }
            states[record] = state
        }
        let statements = PreparedStatements(db)
        for record in records {
            let stored = try loadStored(statements, record)
            if let stored, partial.contains(where: { $0.chain.department == stored.state.department && stored.state.context[$0.chain.origin] > 0 }) {
                var state = stored.state
                for dot in withheld[record] ?? [] { state.withhold(dot) }
                try saveState(statements, state, stored: stored, settledBy: nil, now: now)
            } else if inForce.contains(record), let state = states[record] {
                try saveState(statements, state, stored: stored, settledBy: nil, now: now)
            } else if let stored {
                try storedRecords.remove(statements, stored)
            }
        }
    }
}
