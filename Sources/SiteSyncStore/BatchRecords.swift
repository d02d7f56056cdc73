import Foundation
import GRDB
import SiteSyncCore

/// The records a received batch may touch, each given a slot and loaded once before any is
/// changed, as they stand while the batch applies; and the replica as the apply planner sees
/// it (``HeldFacts``): the log, and other records as held with the batch's changes so far.
final class BatchRecords: HeldFacts {
    typealias Content = Data

    let store: ReplicaStore
    let statements: PreparedStatements
    private(set) var keys: [RecordKey] = []
    private var slotOf: [RecordKey: Int] = [:]
    /// What saving each slot's record needs to know of it as stored (`nil` where never seen).
    private var stored: [StoredFacts?] = []
    /// Each slot's record as it stands now (empty when never seen).
    var states: [RecordState] = []
    private var dirty: [Bool] = []
    /// The last change applied to each slot's record: it settles the conflicts it resolves.
    private var lastDots: [Dot?] = []
    /// Each slot's state blob where it was prepared with the state (``CreatedRecord``) and
    /// nothing changed the record since; encoded on save otherwise.
    private var blobs: [[UInt8]?] = []

    init(store: ReplicaStore, statements: PreparedStatements) {
        self.store = store
        self.statements = statements
    }

    var db: Database { statements.db }

    /// The slot of `key`, given on first ask.
    func slot(_ key: RecordKey) -> Int {
        if let slot = slotOf[key] { return slot }
        slotOf[key] = keys.count
        keys.append(key)
        return keys.count - 1
    }

    /// Loads every slot's record, once all are given.
    func load() throws {
        let loaded = try store.loadStored(statements, keys)
        stored = try loaded.map { try $0.map(store.storedRecords.facts(of:)) }
        // Once `loaded` is gone, each state is the only holder of its versions, and changes in place.
        states = zip(keys, loaded).map { key, stored in stored?.state ?? RecordState(key: key) }
        dirty = [Bool](repeating: false, count: keys.count)
        lastDots = [Dot?](repeating: nil, count: keys.count)
        blobs = [[UInt8]?](repeating: nil, count: keys.count)
    }

    /// Whether the slot's record is held nowhere: neither stored nor touched by this batch.
    func holdsNothing(_ slot: Int) -> Bool {
        stored[slot] == nil && states[slot].isEmpty
    }

    /// Takes `dot` as seen without effect in the slot's record (if held at all).
    func withhold(_ dot: Dot, slot: Int) {
        guard !states[slot].isEmpty else { return }
        states[slot].withhold(dot)
        dirty[slot] = true
        blobs[slot] = nil
    }

    /// Notes that `dot` was applied to the slot's record, which `blob` encodes when it was
    /// prepared with the state (`nil`: encoded on save).
    func changed(_ slot: Int, by dot: Dot, blob: [UInt8]? = nil) {
        lastDots[slot] = dot
        dirty[slot] = true
        blobs[slot] = blob
    }

    /// The records changed, each with its department now.
    var changedRecords: [(key: RecordKey, department: String)] {
        keys.indices.filter { dirty[$0] }.map { (keys[$0], states[$0].department) }
    }

    /// Saves every changed record.
    func save(now: UInt64) throws {
        // Read from local arrays, which lend their elements to the call; elements of this
        // object's own arrays are copied out for it.
        let (states, stored, lastDots, dirty, blobs) = (self.states, self.stored, self.lastDots, self.dirty, self.blobs)
        for slot in states.indices where dirty[slot] {
            try store.saveState(statements, states[slot], facts: stored[slot], settledBy: lastDots[slot], now: now, blob: blobs[slot])
        }
    }

    // MARK: - HeldFacts

    func state(of key: RecordKey) throws -> RecordState? {
        if let slot = slotOf[key] {
            return states[slot].isEmpty ? try store.loadStored(statements, key)?.state : states[slot]
        }
        // A record the batch does not change (the project its activities point at) is read
        // once per batch, not once per change that looks at it: the hub's reference and value
        // checks asked for it twice per change, which cost a quarter of a secure push.
        if let read = outside[key] { return read }
        let read = try store.loadStored(statements, key)?.state
        outside[key] = .some(read)
        return read
    }

    /// Records looked up that the batch does not change, as read.
    private var outside: [RecordKey: RecordState?] = [:]

    func referrers(of key: RecordKey) throws -> [String: Int] {
        // This batch's changes count as they stand now, saved or not.
        try store.referrers(db, of: key, pending: keys.indices.filter { dirty[$0] }.map { states[$0] })
    }

    func status(of dot: Dot) throws -> ChangeStatus? {
        try ChangeLog(db).status(of: dot)
    }

    func isReused(_ dot: Dot, department: String, content: Data) throws -> Bool {
        try ChangeLog(db).isReused(dot, department: department, payload: content)
    }

    func refusalGiven(_ dot: Dot) throws -> Refusal? {
        try RejectionLog(db, schema: store.schema).given(dot)
    }

    func dependsOnWithheld(_ change: Change, state: RecordState) throws -> Bool {
        try ChangeLog(db).dependsOnWithheld(change, state: state)
    }
}
