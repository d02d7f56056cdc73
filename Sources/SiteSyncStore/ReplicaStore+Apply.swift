import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// A change received from another replica: its decoded form and its bytes as the origin
/// encoded them (kept and relayed unchanged).
public struct IncomingChange: Sendable {
    public let change: Change
    public let payload: Data

    public init(change: Change, payload: Data) {
        self.change = change
        self.payload = payload
    }

    /// Decodes an envelope's change.
    public init(origin: UInt64, counter: UInt64, payload: Data, schema: Schema) throws(WireError) {
        change = try ChangeCodec.decode(origin: origin, counter: counter, payload: payload, schema: schema)
        self.payload = payload
    }
}

/// The outcome of applying one batch.
public struct ApplyReport: Sendable, Equatable {
    /// Changes that were new here.
    public var applied = 0
    /// Changes already held (re-sent or duplicated), skipped.
    public var alreadyKnown = 0

    public init(applied: Int = 0, alreadyKnown: Int = 0) {
        self.applied = applied
        self.alreadyKnown = alreadyKnown
    }

    public static func += (lhs: inout ApplyReport, rhs: ApplyReport) {
        lhs.applied += rhs.applied
        lhs.alreadyKnown += rhs.alreadyKnown
    }
}

extension ReplicaStore {
    /// Applies a batch of remote changes in one transaction, with the knowledge update.
    ///
    /// Changes already held are skipped, so delivery may repeat freely. Each origin's changes
    /// must come in counter order, and each change after the changes to its record that its
    /// context names; otherwise the whole batch is refused and nothing is written.
    /// - Throws: ``StoreError`` with code `rejectedChange` for a batch out of order or invalid
    ///   here, or a storage error; the replica is then exactly as before.
    @discardableResult
    public func apply(_ batch: [IncomingChange], claim: KnowledgeClaim = .none) throws -> ApplyReport {
        try StoreError.mapping {
            try pool.write { db in try self.apply(batch, claim: claim, db) }
        }
    }

    func apply(_ batch: [IncomingChange], claim: KnowledgeClaim, _ db: Database) throws -> ApplyReport {
        var report = ApplyReport()
        var clock = try loadClock(db)
        let now = clock.wallMilliseconds()
        var knowledge: [ReplicaID: (counter: UInt64, maxSeen: UInt64)] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT replica, counter, max_seen FROM sync_knowledge") {
            knowledge[ReplicaID(storageValue: row[0])] = (UInt64(bitPattern: row[1]), UInt64(bitPattern: row[2]))
        }
        // Each record the batch may touch gets a slot; all are loaded before any is changed.
        var slotOf: [RecordKey: Int] = [:]
        var keys: [RecordKey] = []
        var changeSlots = [Int](repeating: -1, count: batch.count)
        for (index, incoming) in batch.enumerated()
        where incoming.change.dot.counter > (knowledge[incoming.change.dot.replica]?.counter ?? 0) {
            let key = incoming.change.record
            if let slot = slotOf[key] {
                changeSlots[index] = slot
            } else {
                changeSlots[index] = keys.count
                slotOf[key] = keys.count
                keys.append(key)
            }
        }
        let statements = PreparedStatements(db)
        let stored = try loadStored(statements, keys)
        var states = zip(keys, stored).map { key, stored in stored?.state ?? RecordState(key: key) }
        var lastDots = [Dot?](repeating: nil, count: keys.count)
        var lastInBatch: [ReplicaID: UInt64] = [:]
        var clockLeads: [ReplicaID: UInt64] = [:]
        for (index, incoming) in batch.enumerated() {
            let change = incoming.change
            let origin = change.dot.replica
            if let last = lastInBatch[origin], change.dot.counter <= last {
                throw StoreError(.rejectedChange,
                    "the batch holds changes of replica \(origin) out of counter order (\(change.dot.counter) after \(last)); nothing was applied")
            }
            lastInBatch[origin] = change.dot.counter
            let known = knowledge[origin] ?? (0, 0)
            if change.dot.counter <= known.counter {
                report.alreadyKnown += 1
                continue
            }
            if change.dot.counter <= known.maxSeen, try changeExists(db, change.dot) {
                report.alreadyKnown += 1
                continue
            }
            let collection = try collection(change.record.collection)
            let slot = changeSlots[index]
            let applied: Bool
            do {
                applied = try states[slot].apply(change, in: collection)
            } catch {
                throw StoreError(.rejectedChange, error.message + "; nothing of this batch was applied", cause: error)
            }
            guard applied else {
                report.alreadyKnown += 1
                continue
            }
            lastDots[slot] = change.dot
            try insertChange(statements, change, payload: incoming.payload)
            knowledge[origin] = (known.counter, max(known.maxSeen, change.dot.counter))
            if let lead = clock.observe(change.hlc) { clockLeads[origin] = max(clockLeads[origin] ?? 0, lead) }
            report.applied += 1
        }
        for slot in keys.indices where lastDots[slot] != nil {
            try saveState(statements, states[slot], stored: stored[slot], settledBy: lastDots[slot], now: now)
        }
        switch claim {
        case .none:
            break
        case .inOrder(let vouched):
            for (origin, last) in lastInBatch {
                let current = knowledge[origin] ?? (0, 0)
                knowledge[origin] = (max(current.counter, min(last, vouched[origin])), current.maxSeen)
            }
        case .complete(let sender):
            for (origin, last) in lastInBatch {
                let current = knowledge[origin] ?? (0, 0)
                knowledge[origin] = (max(current.counter, min(last, sender[origin])), current.maxSeen)
            }
            for entry in sender.entries {
                let current = knowledge[entry.replica] ?? (0, 0)
                knowledge[entry.replica] = (max(current.counter, entry.counter), max(current.maxSeen, entry.counter))
            }
        }
        let statement = try db.cachedStatement(sql: """
            INSERT INTO sync_knowledge (replica, counter, max_seen) VALUES (?, ?, ?)
            ON CONFLICT(replica) DO UPDATE SET counter = excluded.counter, max_seen = excluded.max_seen
            """)
        for (replica, value) in knowledge where value.counter > 0 || value.maxSeen > 0 {
            try statement.execute(arguments: [replica.storageValue, Int64(bitPattern: value.counter), Int64(bitPattern: value.maxSeen)])
        }
        for (replica, lead) in clockLeads {
            try db.execute(sql: """
                INSERT INTO sync_replica (replica, node, learned_ms, clock_lead_ms) VALUES (?, '', ?, ?)
                ON CONFLICT(replica) DO UPDATE SET clock_lead_ms = max(clock_lead_ms, excluded.clock_lead_ms)
                """, arguments: [replica.storageValue, Int64(now), Int64(clamping: lead)])
        }
        try saveClock(db, clock)
        return report
    }

    func changeExists(_ db: Database, _ dot: Dot) throws -> Bool {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM sync_change WHERE replica = ? AND counter = ?"),
                         arguments: [dot.replica.storageValue, Int64(bitPattern: dot.counter)]) != nil
    }
}
