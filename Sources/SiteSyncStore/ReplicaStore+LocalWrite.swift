import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// Reads record states inside a store transaction, for ``LocalWritePlanner``.
public struct StoreRecordReader: RecordReader {
    let store: ReplicaStore
    let db: Database

    public func state(of key: RecordKey) throws -> RecordState? {
        try store.loadState(db, key)
    }
}

/// Local writes inside one transaction: each ``write(_:)`` issues one change with the next
/// dot and links it into this replica's hash chain for its department. Nothing is visible to
/// others, and nothing is durable, until the transaction commits; the chains touched are sealed
/// (signed) then, and every ``sealInterval`` changes on the way, so a receiver never waits for
/// a very long unsealed run.
public final class LocalWriteSession {
    /// How many changes of one chain may go unsealed inside a long transaction.
    static let sealInterval = 256

    let store: ReplicaStore
    let db: Database
    let statements: PreparedStatements
    let signer: NodeSecretKey
    var counter: UInt64
    var clock: HybridLogicalClock
    /// Each chain written in this session: its head, and how many changes since its last seal.
    private var chains: [ChainKey: (counter: UInt64, link: ChainHash, unsealed: Int)] = [:]
    public private(set) var changes: [Change] = []

    init(store: ReplicaStore, db: Database) throws {
        guard let signer = store.options.signer else {
            throw StoreError(.key,
                "this node's key file (node.key) is missing, so it cannot sign local writes: restore it from the node's backup")
        }
        self.signer = signer
        self.store = store
        self.db = db
        statements = PreparedStatements(db)
        let me = store.identity.replica.storageValue
        counter = UInt64(bitPattern: try Int64.fetchOne(db, sql: "SELECT counter FROM sync_knowledge WHERE replica = ?", arguments: [me]) ?? 0)
        clock = try store.loadClock(db)
    }

    /// A reader of the current states, including this session's own writes.
    public var reader: StoreRecordReader { StoreRecordReader(store: store, db: db) }

    /// Plans and applies one local edit.
    /// - Parameter plan: builds the edit from the current states; returns `nil` when there is
    ///   nothing to change.
    /// - Returns: the change issued, or `nil` when nothing changed.
    @discardableResult
    public func write(_ plan: (StoreRecordReader) throws -> LocalEdit?) throws -> Change? {
        guard let edit = try plan(reader) else { return nil }
        let collection = try store.collection(edit.record.collection)
        let stored = try store.loadStored(statements, edit.record)
        let previous = stored?.state
        var state = previous ?? RecordState(key: edit.record)
        counter += 1
        let change = Change(dot: Dot(replica: store.identity.replica, counter: counter), hlc: clock.tick(),
                            record: edit.record, department: edit.department, context: state.context, body: edit.body)
        try state.apply(change, in: collection)
        let now = clock.wallMilliseconds()
        let payload = ChangeCodec.encode(change)
        let chain = ChainKey(origin: change.dot.replica, department: change.department)
        var head = try chains[chain] ?? {
            let stored = try store.chainHead(db, chain, before: counter)
            if stored.counter == 0 { try store.recordChainStart(db, ChainStart(chain: chain, counter: 0, link: .genesis)) }
            return (stored.counter, stored.link, 0)
        }()
        head = (counter, ChainHash.link(after: head.link, dot: change.dot, payloadHash: .of(payload: payload)), head.unsealed + 1)
        chains[chain] = head
        try store.insertChange(statements, dot: change.dot, department: change.department, payload: payload, link: head.link)
        if head.unsealed >= Self.sealInterval { try seal(chain) }
        try store.saveState(statements, state, stored: stored, settledBy: change.dot, now: now)
        changes.append(change)
        return change
    }

    private func seal(_ chain: ChainKey) throws {
        guard let head = chains[chain], head.unsealed > 0 else { return }
        try store.insertSeal(db, Seal.make(chain: chain, counter: head.counter, link: head.link, key: signer))
        chains[chain] = (head.counter, head.link, 0)
    }

    func finish() throws {
        guard !changes.isEmpty else { return }
        for chain in chains.keys { try seal(chain) }
        try db.cachedStatement(sql: """
            INSERT INTO sync_knowledge (replica, counter, max_seen) VALUES (?1, ?2, ?2)
            ON CONFLICT(replica) DO UPDATE SET counter = ?2, max_seen = max(max_seen, ?2)
            """).execute(arguments: [store.identity.replica.storageValue, Int64(bitPattern: counter)])
        try store.saveClock(db, clock)
    }
}

extension ReplicaStore {
    /// Runs local writes in one durable transaction: all of them are committed, or none.
    public func writeLocally<T>(_ body: (LocalWriteSession) throws -> T) throws -> T {
        try StoreError.mapping {
            try pool.write { db in
                let session = try LocalWriteSession(store: self, db: db)
                let result = try body(session)
                try session.finish()
                return result
            }
        }
    }

    /// One local write in its own durable transaction.
    @discardableResult
    public func write(_ plan: (StoreRecordReader) throws -> LocalEdit?) throws -> Change? {
        try writeLocally { session in try session.write(plan) }
    }
}
