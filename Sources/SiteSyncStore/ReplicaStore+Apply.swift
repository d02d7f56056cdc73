import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// A change received from another replica: its decoded form, its bytes as the origin
/// encoded them (kept and relayed unchanged) and their SHA-256.
///
/// The hash is taken where the change is decoded or rebuilt, off the thread that writes, and
/// used for everything after: the batch's chain check and, for a change withheld, its hole.
///
/// A class: the writer passes each change around several times, and a copy of the struct (its
/// change's arrays and strings, its payload) cost 2 % of the writer's time in a profile.
public final class IncomingChange: Sendable {
    public let change: Change
    public let payload: Data
    public let payloadHash: ChainHash
    /// For a creation (a change made by an origin that had seen nothing of its record), the
    /// record as it stands if it is new where the change arrives, prepared where the change
    /// was decoded: the writer takes it as is when it holds nothing of the record.
    let created: CreatedRecord?

    public init(change: Change, payload: Data) {
        self.change = change
        self.payload = payload
        payloadHash = .of(payload: payload)
        created = nil
    }

    /// Decodes an envelope's change (and prepares it, if it creates its record).
    public init(origin: UInt64, counter: UInt64, payload: Data, schema: Schema) throws(WireError) {
        change = try ChangeCodec.decode(origin: origin, counter: counter, payload: payload, schema: schema)
        self.payload = payload
        payloadHash = .of(payload: payload)
        created = CreatedRecord(change, schema: schema)
    }

    /// The change's place in its chain, kept instead of it when it is withheld.
    var hole: Hole {
        Hole(dot: change.dot, department: change.department, record: change.record, payloadHash: payloadHash)
    }
}

/// A record as one change creates it from nothing, and its state blob: what the writer would
/// compute if it holds nothing of the record, computed beforehand off the writer's thread (the
/// apply planner's merge and the blob's encoding were a tenth of a bulk apply's writer time,
/// and most changes a site sends create records: entries, daily logs, new activities).
struct CreatedRecord: Sendable {
    let state: RecordState
    let blob: [UInt8]
    /// The schema the state was built under; the writer uses it only under the same one.
    let schemaVersion: UInt32

    /// `nil` unless `change` creates its record and applies to nothing cleanly.
    init?(_ change: Change, schema: Schema) {
        guard change.context.isEmpty, case .upsert = change.body, let collection = schema.collection(code: change.record.collection) else {
            return nil
        }
        var state = RecordState(key: change.record)
        guard (try? state.apply(change, in: collection)) == true else { return nil }
        self.state = state
        blob = RecordStateCodec.encode(state)
        schemaVersion = schema.version
    }
}

/// A received batch whose changes and holes hash, chain by chain, to seals their origins
/// signed: nothing in it was altered on the way. Checked off the thread that writes.
public struct CheckedBatch: Sendable {
    public let changes: [IncomingChange]
    public let holes: [Hole]
    public let proof: BatchProof
    /// The link of every change and hole in its origin's chain.
    let links: [Dot: ChainHash]

    /// Checks `changes` and `holes` against `proof`.
    /// - Throws: ``StoreError`` `tampered` naming the first chain that does not check out.
    public init(changes: [IncomingChange], holes: [Hole] = [], proof: BatchProof) throws(StoreError) {
        var entries = changes.map { ChainEntry(dot: $0.change.dot, department: $0.change.department, payloadHash: $0.payloadHash) }
        entries += holes.map { ChainEntry(dot: $0.dot, department: $0.department, payloadHash: $0.payloadHash) }
        do {
            links = try ChainVerifier.links(of: entries, proof: proof)
        } catch {
            throw StoreError(.tampered, error.message + "; nothing of it was applied")
        }
        self.changes = changes
        self.holes = holes
        self.proof = proof
    }

    private init(changes: [IncomingChange], holes: [Hole], proof: BatchProof, links: [Dot: ChainHash]) {
        self.changes = changes
        self.holes = holes
        self.proof = proof
        self.links = links
    }

    /// The batch cut into batches of at most `size` changes (each with the holes that go
    /// between them), to apply one transaction at a time.
    public func chunks(of size: Int) -> [CheckedBatch] {
        var result: [CheckedBatch] = []
        var start = 0
        repeat {
            let end = min(start + max(1, size), changes.count)
            let last = end == changes.count
            let holes = self.holes.filter { $0.position >= start && ($0.position < end || last) }.map { $0.at($0.position - start) }
            result.append(CheckedBatch(changes: Array(changes[start..<end]), holes: holes, proof: proof, links: links))
            start = end
        } while start < changes.count
        return result
    }

    /// A batch already in a log (for tests and tools that move a page between stores).
    public init(_ page: LogPage, schema: Schema) throws {
        try self.init(changes: page.changes.map {
            try IncomingChange(origin: $0.dot.replica.rawValue, counter: $0.dot.counter, payload: $0.payload, schema: schema)
        }, holes: page.holes, proof: page.proof)
    }
}

/// The outcome of applying one batch.
public struct ApplyReport: Sendable, Equatable {
    /// Changes that were new here.
    public var applied = 0
    /// Changes already held (re-sent or duplicated), skipped.
    public var alreadyKnown = 0
    /// Changes refused, with the reasons (held nowhere here, only their place in the chain).
    public var refusals: [Refusal] = []

    public init(applied: Int = 0, alreadyKnown: Int = 0, refusals: [Refusal] = []) {
        self.applied = applied
        self.alreadyKnown = alreadyKnown
        self.refusals = refusals
    }

    public static func += (lhs: inout ApplyReport, rhs: ApplyReport) {
        lhs.applied += rhs.applied
        lhs.alreadyKnown += rhs.alreadyKnown
        lhs.refusals += rhs.refusals
    }
}

extension ReplicaStore {
    /// Applies a checked batch of remote changes in one transaction, with the knowledge update.
    ///
    /// Changes already held are skipped, so delivery may repeat freely. Each origin's changes
    /// must come in counter order, and each change after the changes to its record that its
    /// context names; otherwise the whole batch is refused and nothing is written. A chain
    /// segment that does not continue the chain held here (a fork) is refused too.
    ///
    /// With an `authorizer`, each change is checked against what its origin may write: a
    /// refused change is not applied, only its place in its chain is kept (a hole), and the
    /// report lists it with the reason.
    /// - Throws: ``StoreError`` with code `rejectedChange` for a batch out of order or invalid
    ///   here, `tampered` for a fork, or a storage error; the replica is then exactly as before.
    @discardableResult
    public func apply(_ batch: CheckedBatch, claim: KnowledgeClaim = .none, authorizer: ChangeAuthorizer? = nil) throws -> ApplyReport {
        try StoreError.mapping {
            try pool.write { db in try self.apply(batch, claim: claim, authorizer: authorizer, db) }
        }
    }

    func apply(_ batch: CheckedBatch, claim: KnowledgeClaim, authorizer: ChangeAuthorizer?, _ db: Database) throws -> ApplyReport {
        var report = ApplyReport()
        var clock = try loadClock(db)
        let now = clock.wallMilliseconds()
        let storedKnowledge = StoredKnowledge(db)
        var knowledge = try storedKnowledge.origins()
        try KnownReplicas(db).learn(batch.proof.credentials, now: now)
        try checkContinuity(db, batch)
        // Each record the batch may touch gets a slot; all are loaded before any is changed.
        let records = BatchRecords(store: self, statements: PreparedStatements(db))
        var changeSlots = [Int](repeating: -1, count: batch.changes.count)
        for (index, incoming) in batch.changes.enumerated()
        where incoming.change.dot.counter > (knowledge[incoming.change.dot.replica]?.counter ?? 0) {
            changeSlots[index] = records.slot(incoming.change.record)
        }
        let holeSlots = batch.holes.map { records.slot($0.record) }
        try records.load()
        let planner = ApplyPlanner(schema: schema, authorizer: authorizer)
        let log = ChangeLog(db)
        var lastInBatch: [ReplicaID: UInt64] = [:]
        var highest: [ReplicaID: UInt64] = [:]
        var clockLeads: [ReplicaID: UInt64] = [:]
        var retracted: Set<RecordKey> = []
        // Changes the hub refused (learned from refusal records or acknowledgements) never apply.
        let refused = try RejectionLog(db, schema: schema).refusedDots()
        var refusalRecords: [Change] = []
        // Origins whose change ids were found reused: from the first such id on, their changes
        // continue a history this replica does not hold, and are refused.
        var reusedFrom = try self.reusedFrom(db)

        func refuseReused(_ incoming: IncomingChange, _ refusal: Refusal) throws {
            let dot = incoming.change.dot
            try keepCollision(db, dot, payload: incoming.payload, now: now)
            reusedFrom[dot.replica] = min(reusedFrom[dot.replica] ?? .max, dot.counter)
            try recordRejection(db, refusal, record: incoming.change.record, refusedBy: "", now: now)
            report.refusals.append(refusal)
        }
        /// Notes `dot` as held in the knowledge (a change's dot already counts in `highest`).
        func noteHeld(_ dot: Dot) {
            let known = knowledge[dot.replica] ?? OriginKnowledge()
            knowledge[dot.replica] = OriginKnowledge(counter: known.counter, maxSeen: max(known.maxSeen, dot.counter))
        }
        /// Keeps a withheld change's place in its chain; its dot stops counting in its record.
        func withhold(_ hole: Hole, slot: Int, refusal: Refusal?) throws {
            let link = batch.links[hole.dot] ?? .genesis
            try ChangeLog.insert(records.statements, dot: hole.dot, department: hole.department, payload: HoleCodec.encode(hole.at(0)),
                                 link: link, status: .withheld)
            records.withhold(hole.dot, slot: slot)
            if let refusal {
                try recordRejection(db, refusal, record: hole.record, refusedBy: "", now: now)
                report.refusals.append(refusal)
            }
            noteHeld(hole.dot)
            highest[hole.dot.replica] = max(highest[hole.dot.replica] ?? 0, hole.dot.counter)
        }
        func applyHole(_ index: Int) throws {
            let hole = batch.holes[index]
            switch try planner.admit(hole, known: knowledge[hole.dot.replica] ?? OriginKnowledge(), reusedFrom: reusedFrom[hole.dot.replica],
                                     facts: records) {
            case .ignore:
                break
            case .alreadyKnown:
                report.alreadyKnown += 1
            case .retract:
                report.alreadyKnown += 1
                try log.retract(hole.dot)
                retracted.insert(hole.record)
            case .withhold:
                try withhold(hole, slot: holeSlots[index], refusal: nil)
            }
        }

        var lastCollection: CollectionSpec?
        var nextHole = 0
        let holeOrder = batch.holes.indices.sorted { batch.holes[$0].position < batch.holes[$1].position }
        for (index, incoming) in batch.changes.enumerated() {
            while nextHole < holeOrder.count, batch.holes[holeOrder[nextHole]].position <= index {
                try applyHole(holeOrder[nextHole])
                nextHole += 1
            }
            let change = incoming.change
            let origin = change.dot.replica
            let admission = try planner.admit(change, content: incoming.payload, known: knowledge[origin] ?? OriginKnowledge(),
                                              lastInBatch: lastInBatch[origin], reusedFrom: reusedFrom[origin], facts: records)
            if case .outOfOrder(let last) = admission {
                throw StoreError(.rejectedChange,
                    "the batch holds changes of replica \(origin) out of counter order (\(change.dot.counter) after \(last)); nothing was applied")
            }
            lastInBatch[origin] = change.dot.counter
            highest[origin] = max(highest[origin] ?? 0, change.dot.counter)
            switch admission {
            case .outOfOrder, .new:
                break
            case .reusedID(let refusal):
                try refuseReused(incoming, refusal)
                continue
            case .alreadyKnown(let repeated):
                report.alreadyKnown += 1
                if let repeated { report.refusals.append(repeated) }
                continue
            }
            // The collection is looked up once per run of changes to it (a lookup copies it).
            if lastCollection?.code != change.record.collection { lastCollection = try collection(change.record.collection) }
            let collection = lastCollection!
            let slot = changeSlots[index]
            let hubRefused = !refused.isEmpty && refused.contains(change.dot)
            switch try planner.judge(change, in: collection, held: records.states[slot], hubRefused: hubRefused, facts: records) {
            case .withhold(let refusal, let noting):
                try notePendingReferences(db, change.dot, targets: noting)
                try withhold(incoming.hole, slot: slot, refusal: refusal)
                continue
            case .apply(let noting):
                try notePendingReferences(db, change.dot, targets: noting)
            }
            // A creation of a record held nowhere here merges into nothing: its state was
            // prepared off this thread, and is what the merge would give.
            let outcome: ApplyPlanner.MergeOutcome
            var preparedBlob: [UInt8]?
            if incoming.created?.schemaVersion == schema.version, records.holdsNothing(slot) {
                records.states[slot] = incoming.created!.state
                preparedBlob = incoming.created!.blob
                outcome = .applied(conflict: false)
            } else {
                outcome = try planner.merge(change, into: &records.states[slot], in: collection, facts: records)
            }
            switch outcome {
            case .unappliable(let error):
                throw StoreError(.rejectedChange, error.message + "; nothing of this batch was applied", cause: error)
            case .withhold(let refusal):
                try withhold(incoming.hole, slot: slot, refusal: refusal)
            case .alreadyInState(let logged):
                report.alreadyKnown += 1
                // Held as record state (received by state transfer) but not yet in the log:
                // log it now, so the chain held here goes on without a gap.
                if !logged {
                    try ChangeLog.insert(records.statements, dot: change.dot, department: change.department, payload: incoming.payload,
                                         link: batch.links[change.dot] ?? .genesis)
                    noteHeld(change.dot)
                }
            case .applied:
                records.changed(slot, by: change.dot, blob: preparedBlob)
                if collection.kind == .hubOnly && collection.name == RefusalRecord.collection { refusalRecords.append(change) }
                try ChangeLog.insert(records.statements, dot: change.dot, department: change.department, payload: incoming.payload,
                                     link: batch.links[change.dot] ?? .genesis)
                noteHeld(change.dot)
                if let lead = clock.observe(change.hlc) { clockLeads[origin] = max(clockLeads[origin] ?? 0, lead) }
                report.applied += 1
            }
        }
        while nextHole < holeOrder.count {
            try applyHole(holeOrder[nextHole])
            nextHole += 1
        }
        for seal in batch.proof.seals { try log.insertSeal(seal) }
        try records.save(now: now)
        for record in refusalRecords {
            if let key = try learnRefusal(db, record, now: now) { retracted.insert(key) }
        }
        // Changes taken earlier that point at a record that has arrived now, in another department.
        var late: [(refusal: Refusal, change: Change)] = []
        if authorizer?.authoritative == true {
            late = try refusePendingReferences(db, arrived: records.changedRecords, now: now)
            retracted.formUnion(late.map(\.change.record))
        }
        if !retracted.isEmpty { try rebuild(db, retracted, now: now) }
        switch claim {
        case .none:
            break
        case .inOrder(let vouched):
            for (origin, last) in highest where reusedFrom[origin] == nil {
                let current = knowledge[origin] ?? OriginKnowledge()
                knowledge[origin] = OriginKnowledge(counter: max(current.counter, min(last, vouched[origin])), maxSeen: current.maxSeen)
            }
        case .complete(let sender):
            for (origin, last) in highest where reusedFrom[origin] == nil {
                let current = knowledge[origin] ?? OriginKnowledge()
                knowledge[origin] = OriginKnowledge(counter: max(current.counter, min(last, sender[origin])), maxSeen: current.maxSeen)
            }
            for entry in sender.entries where reusedFrom[entry.replica] == nil {
                let current = knowledge[entry.replica] ?? OriginKnowledge()
                if entry.counter > current.counter, entry.counter > (highest[entry.replica] ?? 0) {
                    try storedKnowledge.vouch(entry.replica, entry.counter, now: now)
                }
                knowledge[entry.replica] = OriginKnowledge(counter: max(current.counter, entry.counter), maxSeen: max(current.maxSeen, entry.counter))
            }
        }
        // Whatever the sender claimed, the changes held here in an unbroken run prove themselves.
        for origin in highest.keys where reusedFrom[origin] == nil && origin != identity.replica {
            guard let current = knowledge[origin], current.maxSeen > current.counter else { continue }
            knowledge[origin] = OriginKnowledge(counter: try log.heldRun(origin, after: current.counter), maxSeen: current.maxSeen)
        }
        try storedKnowledge.save(knowledge)
        for (replica, lead) in clockLeads { try KnownReplicas(db).noteClockLead(replica, lead, now: now) }
        try saveClock(db, clock)
        // Refusals for reused ids are not published: the content held for those ids stands.
        let published = report.refusals.filter { $0.code != .reusedID }
        if authorizer?.authoritative == true, !published.isEmpty {
            try publishRefusals(db, published, records: Dictionary(batch.changes.map { ($0.change.dot, $0.change) }) { a, _ in a },
                                nodes: Dictionary(batch.proof.credentials.map { ($0.replica, $0.node) }) { a, _ in a })
        }
        if !late.isEmpty {
            try publishRefusals(db, late.map(\.refusal), records: Dictionary(late.map { ($0.change.dot, $0.change) }) { a, _ in a },
                                nodes: try KnownReplicas(db).names())
        }
        return report
    }

    /// Refuses a batch whose chain segments do not continue the chains held here (protocol
    /// §16.4), before anything of it is stored. A segment may start:
    /// - at counter 0 from the genesis link: the chain's beginning. Where this replica holds
    ///   none of the chain, its holding begins there; where it holds some, the segment is sent
    ///   again from the beginning (a client rechecking its own changes, §9.5), and each change
    ///   it holds already is compared by id: the same bytes are skipped, others refused
    ///   `reused-id`;
    /// - at a change (or hole) of the chain held here, with that change's link, or where the
    ///   holding here begins (compaction or a state transfer moved it up), with the link
    ///   recorded there;
    /// - below where the holding here begins, reaching it: changes this replica compacted
    ///   cannot be compared, so they are refused `reused-id` (§9.6) and nothing of them is kept.
    ///
    /// Anything else would make this replica record a chain beginning that no one can check —
    /// and a hub that believes an origin's chain begins in the middle serves every new node a
    /// state transfer — so it is refused whole (`tampered`: `Failure` 409).
    func checkContinuity(_ db: Database, _ batch: CheckedBatch) throws {
        var firstCounter: [ChainKey: UInt64] = [:]
        for dot in batch.changes.map({ ($0.change.dot, ChainKey(origin: $0.change.dot.replica, department: $0.change.department)) })
            + batch.holes.map({ ($0.dot, $0.chain) }) {
            firstCounter[dot.1] = min(firstCounter[dot.1] ?? .max, dot.0.counter)
        }
        let log = ChangeLog(db)
        for start in batch.proof.starts {
            // A start for a chain the batch holds nothing of proves nothing and is not kept.
            guard let first = firstCounter[start.chain] else { continue }
            let holding = try log.holding(start.chain)
            if start.counter == 0 {
                guard start.link == .genesis else {
                    throw continuityRefusal(start, "starts at counter 0 but not from 32 zero bytes, where every chain begins")
                }
                if !holding.holdsAny { try log.recordStart(start) }
                continue
            }
            if let link = try log.heldLink(start) {
                guard link == start.link else {
                    throw continuityRefusal(start, "does not continue the chain this node holds: its link at \(start.counter) differs; "
                                            + "someone altered that origin's history")
                }
                continue
            }
            if let begins = holding.begins, start.counter < begins, first <= begins { continue }
            throw continuityRefusal(start, holding.holdsAny
                ? "starts after counter \(start.counter), a change of that chain this node does not hold: it would leave a gap"
                : "starts after counter \(start.counter), but this node holds none of that chain: a chain's first segment starts at counter 0")
        }
    }

    private func continuityRefusal(_ start: ChainStart, _ what: String) -> StoreError {
        StoreError(.tampered, "the segment of chain \(start.chain) \(what); nothing of the batch was applied")
    }
}
