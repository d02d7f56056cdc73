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

    public func referrers(of key: RecordKey) throws -> [String: Int] {
        try store.referrers(db, of: key)
    }
}

/// Local writes inside one transaction: each ``write(_:)`` issues one change with the next
/// dot and links it into this replica's hash chain for its department. Nothing is visible to
/// others, and nothing is durable, until the transaction commits; the chains touched are sealed
/// (signed) then.
///
/// A long transaction is also sealed on the way, every ``sealInterval`` changes or
/// ``sealBytes`` bytes of changes, and then every chain it left unsealed at once: a batch may
/// end only where every chain in it ends on a seal (protocol §16.4), so seals made at the same
/// point are what lets a transaction of any size, over any mix of departments, be cut into
/// batches within a receiver's limits.
///
/// Every change is checked against the limits a receiver enforces (protocol §15) before it is
/// written: what the node accepts, it can send.
public final class LocalWriteSession {
    /// How many changes may go unsealed inside a long transaction: the least batch every
    /// receiver takes (protocol §7.4), so that a batch can always be cut within it.
    static let sealInterval = SessionLimits.batchFloor
    /// How many bytes of encoded changes may go unsealed inside a long transaction: half the
    /// default batch of 512 KiB, so a cut point always falls within a default batch.
    static let sealBytes = 256 << 10

    let store: ReplicaStore
    let db: Database
    let statements: PreparedStatements
    let signer: NodeSecretKey
    var counter: UInt64
    var clock: HybridLogicalClock
    /// Each chain written in this session: its head, and whether it is sealed there.
    private var chains: [ChainKey: (counter: UInt64, link: ChainHash, sealed: Bool)] = [:]
    /// Changes and their bytes since every chain was last sealed at once.
    private var unsealed = (changes: 0, bytes: 0)
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
        counter = try StoredKnowledge(db).counter(of: store.identity.replica)
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
        let payload = ChangeCodec.encode(change)
        try Self.checkTravels(change, payload: payload, schema: store.schema)
        try state.apply(change, in: collection)
        let now = clock.wallMilliseconds()
        let chain = ChainKey(origin: change.dot.replica, department: change.department)
        var head = try chains[chain] ?? {
            let stored = try ChangeLog(db).head(chain, before: counter)
            if stored.counter == 0 { try ChangeLog(db).recordStart(ChainStart(chain: chain, counter: 0, link: .genesis)) }
            return (stored.counter, stored.link, true)
        }()
        head = (counter, ChainHash.link(after: head.link, dot: change.dot, payloadHash: .of(payload: payload)), false)
        chains[chain] = head
        try ChangeLog.insert(statements, dot: change.dot, department: change.department, payload: payload, link: head.link)
        unsealed = (unsealed.changes + 1, unsealed.bytes + payload.count)
        if unsealed.changes >= Self.sealInterval || unsealed.bytes >= Self.sealBytes { try sealAll() }
        try store.saveState(statements, state, stored: stored, settledBy: change.dot, now: now)
        changes.append(change)
        return change
    }

    /// Seals every chain this session left unsealed, at the change written last.
    private func sealAll() throws {
        for (chain, head) in chains where !head.sealed {
            try ChangeLog(db).insertSeal(Seal.make(chain: chain, counter: head.counter, link: head.link, key: signer))
            chains[chain] = (head.counter, head.link, true)
        }
        unsealed = (0, 0)
    }

    /// Refuses a change a receiver would refuse (protocol §15): a value over 64 KiB, over 256
    /// field writes, over 1 MiB encoded, or anything else its decoder rejects. Checked before
    /// anything is written, so nothing is left in the log that could never be sent.
    static func checkTravels(_ change: Change, payload: Data, schema: Schema) throws {
        let collection = schema.collection(code: change.record.collection)?.name ?? "record"
        if case .upsert(let writes) = change.body {
            for write in writes {
                let field = schema.collection(code: change.record.collection)?.field(code: write.field)?.name ?? "field \(write.field)"
                let longest = write.strings.map(\.utf8.count).max() ?? 0
                guard longest <= DecodeLimits.maxStringBytes else {
                    throw StoreError(.invalidWrite,
                        "\(collection).\(field) would hold \(longest) bytes; a value may hold at most \(DecodeLimits.maxStringBytes) bytes "
                        + "(64 KiB) so that every node can receive it: shorten it, or split it over several records; nothing was written")
                }
            }
            guard writes.count <= DecodeLimits.maxWritesPerChange else {
                throw StoreError(.invalidWrite, "one write to \(collection) \(change.record.id) sets \(writes.count) fields; at most "
                                 + "\(DecodeLimits.maxWritesPerChange) travel in one change: split it; nothing was written")
            }
        }
        guard payload.count <= DecodeLimits.maxChangeBytes else {
            throw StoreError(.invalidWrite,
                "one write to \(collection) \(change.record.id) would be \(payload.count) bytes encoded; a change may be at most "
                + "\(DecodeLimits.maxChangeBytes) bytes (1 MiB) so that every node can receive it: write its fields in several "
                + "commands; nothing was written")
        }
        do {
            _ = try ChangeCodec.decode(origin: change.dot.replica.rawValue, counter: change.dot.counter, payload: payload, schema: schema)
        } catch {
            throw StoreError(.invalidWrite, "\(collection) \(change.record.id) could not be received by other nodes (\(error.message)); "
                             + "nothing was written")
        }
    }

    func finish() throws {
        guard !changes.isEmpty else { return }
        try sealAll()
        try StoredKnowledge(db).issued(store.identity.replica, upTo: counter)
        try store.saveClock(db, clock)
    }
}

/// The local write session open in the running transaction, so that local writes made inside
/// another's body join its transaction (an API request and the writes it makes commit
/// together) instead of re-entering the database, which GRDB forbids.
enum OpenLocalWrite {
    @TaskLocal static var session: Handle?

    // @unchecked: set and read only on the thread running the transaction that opened it,
    // inside that transaction's closure.
    final class Handle: @unchecked Sendable {
        let session: LocalWriteSession
        init(_ session: LocalWriteSession) { self.session = session }
    }
}

extension ReplicaStore {
    /// Runs local writes in one durable transaction: all of them are committed, or none.
    ///
    /// Called inside another `writeLocally` of the same store, `body` joins the enclosing
    /// session: its writes commit or roll back with the enclosing transaction. An error thrown
    /// by a joined body must end the enclosing one too (it is not rolled back on its own).
    public func writeLocally<T>(_ body: (LocalWriteSession) throws -> T) throws -> T {
        if let open = OpenLocalWrite.session?.session, open.store === self { return try body(open) }
        return try StoreError.mapping {
            try pool.write { db in
                let session = try LocalWriteSession(store: self, db: db)
                let result = try OpenLocalWrite.$session.withValue(OpenLocalWrite.Handle(session)) { try body(session) }
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
