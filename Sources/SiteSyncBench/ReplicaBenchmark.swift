import Foundation
import GRDB
import SiteSyncCore
import SiteSyncStore
import SiteSyncWire

/// The replica engine's figures of docs/design.md §9, each beside the plain baseline it names.
public struct ReplicaBenchmarkResult: Sendable {
    /// Remote changes decoded and applied through the store's batch path, per second.
    public var applyChangesPerSecond: Double
    /// A plain batched SQLite upsert of the same rows into the same typed table, per second.
    public var baselineUpsertRowsPerSecond: Double
    /// The same changes applied as a session's receiver applies them (the batches waiting
    /// when the writer is free in one transaction, the sender's window in force), per second.
    public var sessionApplyChangesPerSecond: Double
    /// The transactions that took, in the fastest round.
    public var sessionTransactions: Int
    /// Pages each side's writer wrote to the log per change (per row), in its fastest round:
    /// the disk's work, counted, whatever else the machine was doing.
    public var applyPagesPerChange: Double
    public var baselinePagesPerRow: Double
    /// One durable local write (plan, apply, change log, commit), median and 99th percentile.
    public var localWriteP50Milliseconds: Double
    public var localWriteP99Milliseconds: Double
    public var changes: Int
    public var localWrites: Int
    public var batchSize: Int
    /// The `synchronous` setting both sides committed at, read back from their connections
    /// after the timed writes (``ReplicaBenchmark/synchronous``: the run fails otherwise).
    public var synchronous: String

    public var applyRatio: Double { applyChangesPerSecond / baselineUpsertRowsPerSecond }
    public var sessionApplyRatio: Double { sessionApplyChangesPerSecond / baselineUpsertRowsPerSecond }
}

/// Measures the replica engine on this machine, in a temporary directory.
///
/// The workload: `changes` remote changes to `activity` records from one origin, three in four
/// creating a record with seven fields and one in four updating three fields of an earlier one,
/// applied in batches of `batchSize` (one durable transaction each). The baseline upserts the
/// same rows (same ids, same values, same order) into the same typed table (the store's own
/// definition of it, its index on `project` included), with the same batches and the same
/// `synchronous=FULL`, through a cached prepared statement.
public enum ReplicaBenchmark {
    /// The `synchronous` setting both sides commit at: the store's default durability, under
    /// which a commit that returned survives a power cut.
    public static let synchronous = "FULL"

    public static func run(changes: Int, localWrites: Int, batchSize: Int = 1000, rounds: Int = 3,
                           progress: (String) -> Void = { _ in }) throws -> ReplicaBenchmarkResult {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let schema = Schema.siteSync
        let activity = schema.collection(named: "activity")!

        progress("generating \(changes) changes")
        let workload = makeWorkload(count: changes, collection: activity, key: NodeSecretKey.generate())

        // Several rounds, alternating, each on fresh files; the fastest of each side counts, so a
        // slow moment of the machine does not land on one side only.
        var baseline = Double.infinity, apply = Double.infinity, sessionApply = Double.infinity, sessionTransactions = 0
        var baselinePages = 0, applyPages = 0
        for round in 1...rounds {
            progress("round \(round)/\(rounds): plain batched upsert of \(changes) rows")
            let plain = try measureBaseline(workload, collection: activity, path: directory + "/baseline\(round).db", batchSize: batchSize)
            if plain.seconds < baseline { (baseline, baselinePages) = plain }
            progress("round \(round)/\(rounds): applying \(changes) changes through the store")
            let applied = try measureApply(workload, schema: schema, path: directory + "/apply\(round).db", batchSize: batchSize)
            if applied.seconds < apply { (apply, applyPages) = applied }
            progress("round \(round)/\(rounds): applying \(changes) changes as a session's receiver does")
            let session = try measureSessionApply(workload, schema: schema, path: directory + "/session\(round).db", batchSize: batchSize)
            if session.seconds < sessionApply { (sessionApply, sessionTransactions) = session }
        }

        progress("timing \(localWrites) durable local writes")
        let (p50, p99) = try measureLocalWrites(count: localWrites, schema: schema, path: directory + "/local.db")

        return ReplicaBenchmarkResult(
            applyChangesPerSecond: Double(changes) / apply, baselineUpsertRowsPerSecond: Double(changes) / baseline,
            sessionApplyChangesPerSecond: Double(changes) / sessionApply, sessionTransactions: sessionTransactions,
            applyPagesPerChange: Double(applyPages) / Double(changes), baselinePagesPerRow: Double(baselinePages) / Double(changes),
            localWriteP50Milliseconds: p50, localWriteP99Milliseconds: p99, changes: changes, localWrites: localWrites,
            batchSize: batchSize, synchronous: synchronous)
    }

    /// The hand-over of one checked batch between threads; `group.wait()` orders the accesses.
    final class DecodedBatch: @unchecked Sendable {
        var result: Result<CheckedBatch, any Error>?
    }

    /// Changes of one origin, signed as its local writes would be: one chain (department
    /// roads), sealed every ``sealInterval`` changes.
    struct Workload: Sendable {
        static let sealInterval = 250
        var envelopes: [(origin: UInt64, counter: UInt64, payload: Data)] = []
        /// The chain link after each change.
        var links: [ChainHash] = []
        var seals: [UInt64: Seal] = [:]
        var credential: ReplicaCredential
        /// The typed row after each change, for the baseline.
        var rows: [[DatabaseValue]] = []
        var knowledge = VersionVector()

        /// The proof for the changes at `range` (which must end on a sealed change).
        func proof(_ range: Range<Int>) -> BatchProof {
            let chain = ChainKey(origin: credential.replica, department: "roads")
            let start = range.lowerBound == 0 ? ChainStart(chain: chain, counter: 0, link: .genesis)
                : ChainStart(chain: chain, counter: envelopes[range.lowerBound - 1].counter, link: links[range.lowerBound - 1])
            let counters = UInt64(envelopes[range.lowerBound].counter)...UInt64(envelopes[range.upperBound - 1].counter)
            return BatchProof(starts: [start], seals: seals.filter { counters.contains($0.key) }.sorted { $0.key < $1.key }.map(\.value),
                              credentials: [credential])
        }

        /// Decodes and checks the changes at `range`, as a receiver does.
        func batch(_ range: Range<Int>, schema: Schema) throws -> CheckedBatch {
            try CheckedBatch(changes: envelopes[range].map {
                try IncomingChange(origin: $0.origin, counter: $0.counter, payload: $0.payload, schema: schema)
            }, proof: proof(range))
        }
    }

    /// `count` changes signed by `key`, as the replica `credential` (a fresh one by default).
    /// How many projects (`p-1`…) the workload's activities point at.
    static let workloadProjects = 500

    static func makeWorkload(count: Int, collection: CollectionSpec, key: NodeSecretKey, credential: ReplicaCredential? = nil) -> Workload {
        var generator = SystemRandomNumberGenerator()
        let credential = credential ?? ReplicaCredential.issue(node: "bench-origin", signingKey: key.publicKey.signing)
        let origin = credential.replica
        let chain = ChainKey(origin: origin, department: "roads")
        var link = ChainHash.genesis
        var clock = HybridLogicalClock(wallClock: { UInt64(Date().timeIntervalSince1970 * 1000) })
        var states: [RecordState] = []
        var workload = Workload(credential: credential)
        workload.envelopes.reserveCapacity(count)
        workload.rows.reserveCapacity(count)
        let field = { (name: String) in collection.field(named: name)!.code }
        for counter in 1...UInt64(max(1, count)) {
            let update = !states.isEmpty && Int.random(in: 0..<4, using: &generator) == 0
            let index = update ? Int.random(in: 0..<states.count, using: &generator) : states.count
            var state = update ? states[index] : RecordState(key: RecordKey(collection: collection.code, id: RecordID.random(using: &generator)))
            let writes: [FieldWrite] = update
                ? [.assign(field("actual_start"), .date(CalendarDate(year: 2026, month: 3, day: Int.random(in: 1...28, using: &generator))!)),
                   .assign(field("status"), .symbol("in_progress")),
                   .assign(field("remarks"), .text("updated on site, batch \(counter)"))]
                : [.assign(field("project"), .ref("p-\(Int.random(in: 1...workloadProjects, using: &generator))")),
                   .assign(field("name"), .text("Activity \(counter): kerbs and drainage")),
                   .assign(field("budget"), .decimal(ExactDecimal(normalizing: Int128(Int64.random(in: 10_000...9_000_000, using: &generator)), scale: 2)!)),
                   .assign(field("budget_quantity"), .decimal(ExactDecimal(Int64.random(in: 10...5000, using: &generator)))),
                   .assign(field("unit"), .text("m3")),
                   .assign(field("planned_start"), .date(CalendarDate(year: 2026, month: 3, day: 1)!)),
                   .assign(field("planned_finish"), .date(CalendarDate(year: 2026, month: 9, day: 30)!))]
            let change = Change(dot: Dot(replica: origin, counter: counter), hlc: clock.tick(), record: state.key,
                                department: "roads", context: state.context, body: .upsert(writes))
            try! state.apply(change, in: collection)
            if update { states[index] = state } else { states.append(state) }
            let payload = ChangeCodec.encode(change)
            workload.envelopes.append((origin.rawValue, counter, payload))
            link = ChainHash.link(after: link, dot: change.dot, payloadHash: .of(payload: payload))
            workload.links.append(link)
            if counter % UInt64(Workload.sealInterval) == 0 || counter == UInt64(max(1, count)) {
                workload.seals[counter] = Seal.make(chain: chain, counter: counter, link: link, key: key)
            }
            var row: [DatabaseValue] = [state.key.id.databaseValue, "roads".databaseValue]
            for spec in collection.fields { row.append(plainValue(state.value(of: spec))) }
            workload.rows.append(row)
        }
        workload.knowledge = VersionVector([(origin, UInt64(count))])
        return workload
    }

    static func plainValue(_ value: FieldValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .int(let i): i.databaseValue
        default: value.displayText.databaseValue
        }
    }

    /// Fails the run when `measured`, the setting read back from `side`'s connection, is not
    /// the ``synchronous`` the figures state: at another setting the two sides would not pay
    /// for the same fsyncs, and the ratio between them would mean nothing.
    static func requireSynchronous(_ measured: String, on side: String) throws {
        guard measured == synchronous else {
            throw StoreError(.database, "benchmark check failed: \(side) committed at synchronous=\(measured), not at the "
                + "synchronous=\(synchronous) the figures state; its figures are not comparable, so none are printed")
        }
    }

    /// A pool over `path` whose writer commits at ``synchronous``, with the store's page cache.
    ///
    /// GRDB sets `synchronous = NORMAL` when it turns WAL on, after `prepareDatabase` ran, so
    /// the setting is made again on the writer once the pool is open, as the store does.
    static func makeBaselinePool(path: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        return pool
    }

    /// Seconds to upsert every row, batched, into a plain table like the store's typed table,
    /// over the pool `makePool` opens (a test opens one otherwise to see the check fail), and
    /// the pages its writer wrote to the log.
    static func measureBaseline(_ workload: Workload, collection: CollectionSpec, path: String, batchSize: Int,
                                makePool: (String) throws -> DatabasePool = makeBaselinePool) throws -> (seconds: Double, pages: Int) {
        let pool = try makePool(path)
        let columns = ["id", "department"] + collection.fields.map(\.name)
        let quoted = columns.map { "\"\($0)\"" }
        // The store's own typed table, with the index it keeps on each activity's project.
        try pool.write { db in
            for sql in ReplicaStore.typedTableSQL(collection) { try db.execute(sql: sql) }
        }
        let sql = "INSERT INTO activity (\(quoted.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", "))) "
            + "ON CONFLICT(id) DO UPDATE SET " + quoted.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        let pagesBefore = try pool.writeWithoutTransaction { db in ReplicaStore.pagesWritten(by: db) }
        let start = DispatchTime.now().uptimeNanoseconds
        var index = 0
        while index < workload.rows.count {
            let end = min(index + batchSize, workload.rows.count)
            try pool.write { db in
                let statement = try db.cachedStatement(sql: sql)
                for row in workload.rows[index..<end] {
                    try statement.execute(arguments: StatementArguments(row))
                }
            }
            index = end
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        try requireSynchronous(try pool.writeWithoutTransaction { db in try ReplicaStore.synchronous(of: db) }, on: "the plain baseline")
        let pages = try pool.writeWithoutTransaction { db in ReplicaStore.pagesWritten(by: db) } - pagesBefore
        return (seconds, pages)
    }

    /// Seconds to decode, check and apply every change through ``ReplicaStore/apply(_:claim:authorizer:)``, and
    /// the pages the store's writer wrote to the log meanwhile.
    ///
    /// As a sync session does, the next batch is decoded and its signatures checked on another
    /// core while SQLite applies the current one.
    static func measureApply(_ workload: Workload, schema: Schema, path: String, batchSize: Int) throws -> (seconds: Double, pages: Int) {
        let store = try ReplicaStore.create(at: path, node: "bench-receiver", key: NodeSecretKey.generate())
        let pagesBefore = try store.writerPagesWritten()
        let batches = stride(from: 0, to: workload.envelopes.count, by: batchSize).map { $0..<min($0 + batchSize, workload.envelopes.count) }
        let decode = { @Sendable (range: Range<Int>) throws -> CheckedBatch in try workload.batch(range, schema: schema) }
        let start = DispatchTime.now().uptimeNanoseconds
        var next: CheckedBatch? = try decode(batches[0])
        for index in batches.indices {
            let current = next!
            next = nil
            let decoded = DecodedBatch()
            let group = DispatchGroup()
            if index + 1 < batches.count {
                let upcoming = batches[index + 1]
                DispatchQueue.global().async(group: group) { decoded.result = Result { try decode(upcoming) } }
            }
            try store.apply(current, claim: .inOrder(vouched: workload.knowledge))
            // As a session's receiver does, the batch applied is freed off the writer.
            Spent.free(current)
            group.wait()
            if index + 1 < batches.count { next = try decoded.result!.get() }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let held = try store.counts().changes
        guard held == workload.envelopes.count else {
            throw StoreError(.database, "benchmark check failed: \(held) of \(workload.envelopes.count) changes were stored")
        }
        try requireSynchronous(try store.writerSynchronous(), on: "the store's writer")
        return (seconds, try store.writerPagesWritten() - pagesBefore)
    }

    /// The most changes a receiver applies in one transaction (`ReceivedBatches` in SiteSyncNet).
    static let receiverChangesPerTransaction = 8_000

    /// Seconds to apply every change as a sync session's receiver does: the sender keeps at
    /// most `window` batches unacknowledged (the protocol's default, 4), each decoded and
    /// checked on another core as it arrives; the receiver applies every batch waiting when its
    /// writer is free in one transaction (each batch in a savepoint, up to
    /// ``receiverChangesPerTransaction`` changes) and acknowledges each only after that commit,
    /// which lets the sender send the next.
    static func measureSessionApply(_ workload: Workload, schema: Schema, path: String, batchSize: Int,
                                    window: Int = SessionLimits().window) throws -> (seconds: Double, transactions: Int) {
        let store = try ReplicaStore.create(at: path, node: "bench-receiver", key: NodeSecretKey.generate())
        let session = SessionStore(store, peerIsHub: true)
        let sender = PeerIdentity(node: "bench-origin", replica: workload.credential.replica, role: .office, department: "office")
        let ranges = stride(from: 0, to: workload.envelopes.count, by: batchSize).map { $0..<min($0 + batchSize, workload.envelopes.count) }
        let arrivals = Arrivals(window: window)
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.global().async {
            for (sequence, range) in ranges.enumerated() {
                arrivals.awaitSlot()
                arrivals.deliver(Result {
                    let checked = try workload.batch(range, schema: schema)
                    return (ApplyRequest(sequence: UInt64(sequence + 1), changes: checked.changes.map(\.change), proof: checked.proof,
                                         claim: .inOrder(vouched: workload.knowledge), sender: sender), checked)
                })
            }
        }
        var applied = 0, transactions = 0
        while applied < ranges.count {
            let group = try arrivals.takeWaiting(upTo: receiverChangesPerTransaction)
            for outcome in session.apply(group) { _ = try outcome.get() }
            transactions += 1
            applied += group.count
            arrivals.acknowledge(group.count)
            Spent.free(group)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let held = try store.counts().changes
        guard held == workload.envelopes.count else {
            throw StoreError(.database, "benchmark check failed: \(held) of \(workload.envelopes.count) changes were stored")
        }
        try requireSynchronous(try store.writerSynchronous(), on: "the store's writer")
        return (seconds, transactions)
    }

    /// Batches between a sender that keeps at most `window` unacknowledged and the receiver.
    final class Arrivals: @unchecked Sendable {
        typealias Batch = (request: ApplyRequest, checked: CheckedBatch)
        // @unchecked: everything below is guarded by `condition`.
        private let condition = NSCondition()
        private var waiting: [Result<Batch, any Error>] = []
        private var unacknowledged = 0
        private let window: Int

        init(window: Int) { self.window = window }

        /// Blocks the sender until it may send another batch.
        func awaitSlot() {
            condition.lock()
            while unacknowledged >= window { condition.wait() }
            unacknowledged += 1
            condition.unlock()
        }

        func deliver(_ batch: Result<Batch, any Error>) {
            condition.lock()
            waiting.append(batch)
            condition.broadcast()
            condition.unlock()
        }

        /// Every batch waiting (at least one, blocking until it comes), up to `limit` changes.
        func takeWaiting(upTo limit: Int) throws -> [Batch] {
            condition.lock()
            defer { condition.unlock() }
            while waiting.isEmpty { condition.wait() }
            var group: [Batch] = []
            var changes = 0
            while let next = waiting.first {
                let batch = try next.get()
                if !group.isEmpty && changes + batch.request.changes.count > limit { break }
                group.append(batch)
                changes += batch.request.changes.count
                waiting.removeFirst()
            }
            return group
        }

        func acknowledge(_ count: Int) {
            condition.lock()
            unacknowledged -= count
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Median and 99th-percentile milliseconds of single durable local writes, each planned
    /// and checked as `sitesync record put` does, in its own transaction.
    static func measureLocalWrites(count: Int, schema: Schema, path: String) throws -> (Double, Double) {
        let store = try ReplicaStore.create(at: path, node: "bench-site", key: NodeSecretKey.generate())
        let office = LocalWritePlanner(schema: schema, writer: WriterIdentity(role: .office, department: "roads"))
        let site = LocalWritePlanner(schema: schema, writer: WriterIdentity(role: .field, department: "roads"))
        try store.writeLocally { session in
            try session.write { try office.planUpsert(collection: "department", id: "roads", assignments: [
                FieldAssignment(field: "name", input: .text("Roads"))], reader: $0) }
            try session.write { try office.planUpsert(collection: "project", id: "p1", assignments: [
                FieldAssignment(field: "code", input: .text("R-1")), FieldAssignment(field: "name", input: .text("Ring road")),
                FieldAssignment(field: "department", input: .text("roads"))], reader: $0) }
            for n in 0..<20 {
                try session.write { try office.planUpsert(collection: "activity", id: "a\(n)", assignments: [
                    FieldAssignment(field: "project", input: .text("p1")), FieldAssignment(field: "name", input: .text("Activity \(n)"))],
                    reader: $0) }
            }
        }
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        for n in 0..<count {
            let assignments = [
                FieldAssignment(field: "actual_start", input: .text("2026-03-\(String(n % 28 + 1).count == 1 ? "0" : "")\(n % 28 + 1)")),
                FieldAssignment(field: "remarks", input: .text("progress report \(n)")),
            ]
            let start = DispatchTime.now().uptimeNanoseconds
            try store.write { try site.planUpsert(collection: "activity", id: "a\(n % 20)", assignments: assignments, reader: $0) }
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        try requireSynchronous(try store.writerSynchronous(), on: "the store of the local writes")
        latencies.sort()
        return (latencies[latencies.count / 2], latencies[min(latencies.count - 1, latencies.count * 99 / 100)])
    }
}
