import Foundation
import GRDB
import Synchronization
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// Working copies over one ``TransactionLog`` (docs/design.md §18): several hub processes, each
/// with its SQLite file, writing as one hub replica. Here the log is in memory; the PostgreSQL
/// log keeps the same promises.
@Suite struct WorkingCopyTests {
    /// A hub's store whose writes go through `log`, and a second working copy of it.
    static func hub(_ directory: TemporaryDirectory, log: any TransactionLog) throws -> (ReplicaStore, ReplicaStore) {
        var options = StoreOptions(durability: .off, wallClock: { 1_700_000_000_000 })
        options.transactionLog = log
        let first = try ReplicaStore.create(at: directory.file("hub.db"), node: "hub", key: .generate(), options: options)
        return (first, try first.memoryCopy())
    }

    static func write(_ store: ReplicaStore, _ collection: String, _ id: String, _ assignments: String...) throws {
        let planner = LocalWritePlanner(schema: .siteSync, writer: WriterIdentity(role: .hub, department: "office"))
        try store.write { try planner.planUpsert(collection: collection, id: id, assignments: assignments.map { try FieldAssignment(parsing: $0) },
                                                 reader: $0) }
    }

    /// Two copies writing at once — the same records, received batches, each its own — issue
    /// no change id twice, and, caught up, hold exactly the same, table by table.
    @Test func twoCopiesWritingAtOnceIssueNoIdTwiceAndEndTheSame() throws {
        let directory = TemporaryDirectory()
        let log = InMemoryTransactionLog()
        let (first, second) = try Self.hub(directory, log: log)
        let office = try TestReplica(name: "office", role: .office, department: "office")
        try seedPlan(office, sendTo: [])
        try first.apply(office.changes(lackedBy: first.knowledge()), claim: .complete(vouched: office.store.knowledge()))
        try second.catchUp()
        let copies = [first, second]
        let errors = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { side in
            do {
                for n in 1...40 {
                    try Self.write(copies[side], "activity", "a1", "remarks=copy \(side) write \(n)")
                    try Self.write(copies[side], "issue", "c\(side)-\(n)", "project=p1", "title=Snag \(n)", "opened_on=2026-11-06")
                }
            } catch {
                errors.withLock { $0.append("\(error)") }
            }
        }
        #expect(errors.withLock { $0 }.isEmpty, "\(errors.withLock { $0 })")
        try first.catchUp()
        try second.catchUp()
        #expect(try ChangesetTests.contents(first) == ChangesetTests.contents(second))
        #expect(try first.digest() == second.digest())
        let own = try first.knowledge()[first.identity.replica]
        #expect(own == 160, "160 local writes, one change id each, whichever copy wrote it")
        #expect(try first.audit().broken == nil && second.audit().broken == nil)
        #expect(log.count == 161, "the received batch and the 160 writes")
    }

    /// A copy that dies after the log kept its transaction and before SQLite committed it finds
    /// its own change in the log at its next write: nothing the log holds is lost to it.
    @Test func aTransactionKeptInTheLogButNotCommittedHereComesBackAtTheNextWrite() throws {
        let directory = TemporaryDirectory()
        let log = DyingAfterKeeping()
        let (first, second) = try Self.hub(directory, log: log)
        log.dies = true
        #expect(throws: (any Error).self) { try Self.write(first, "department", "roads", "name=Roads Bureau") }
        log.dies = false
        #expect(try first.state(of: RecordKey(collection: Schema.siteSync.collection(named: "department")!.code, id: "roads")) == nil)
        try Self.write(first, "department", "water", "name=Water Bureau")
        try second.catchUp()
        for store in [first, second] {
            let names = try store.pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM department ORDER BY id") }
            #expect(names == ["Roads Bureau", "Water Bureau"])
        }
        #expect(try first.knowledge()[first.identity.replica] == 2)
    }
}

extension WorkingCopyTests {
    /// A transaction whose savepoints were rolled back (a grouped apply refusing one of its
    /// batches) logs only what stayed: the changeset is the rows' net change, and the other
    /// copy ends the same.
    @Test func aRolledBackSavepointLeavesNothingInTheChangeset() throws {
        let directory = TemporaryDirectory()
        let log = InMemoryTransactionLog()
        let (first, second) = try Self.hub(directory, log: log)
        try Self.write(first, "department", "roads", "name=Roads Bureau")
        try first.pool.write { db in
            try db.inSavepoint {
                try db.execute(sql: "UPDATE department SET name = 'Rolled back' WHERE id = 'roads'")
                try db.execute(sql: "INSERT INTO sync_meta (key, value) VALUES ('rolled_back', 'yes')")
                return .rollback
            }
            try db.execute(sql: "INSERT INTO sync_meta (key, value) VALUES ('kept', 'yes')")
        }
        let last = try #require(try log.changesets(after: .start).last)
        #expect(try last.changeset.operations().map(\.table) == ["sync_meta"], "only the row that stayed")
        try second.catchUp()
        #expect(try ChangesetTests.contents(first) == ChangesetTests.contents(second))
        let name = try second.pool.read { db in try String.fetchOne(db, sql: "SELECT name FROM department WHERE id = 'roads'") }
        #expect(name == "Roads Bureau")
    }
}

/// The in-memory log, made to fail after keeping a transaction, as a process killed between the
/// log's commit and SQLite's would.
final class DyingAfterKeeping: TransactionLog, @unchecked Sendable {
    let log = InMemoryTransactionLog()
    var dies = false

    func append<T>(after applied: HubLogPosition, _ work: ([LoggedChangeset]) throws -> (T, Changeset)) throws
        -> (value: T, position: HubLogPosition)
    {
        let kept = try log.append(after: applied, work)
        if dies { throw StoreError(.database, "the process died after the log kept its transaction") }
        return kept
    }

    func changesets(after applied: HubLogPosition) throws -> [LoggedChangeset] {
        try log.changesets(after: applied)
    }
}

extension WorkingCopyTests {
    /// A log that lost its last changeset (a database restored from an older backup) and was
    /// written again: a copy that had applied the lost one stands at a sequence number the log
    /// holds with another changeset. It is refused, never left silently different; so is a copy
    /// ahead of the log.
    @Test func aCopyThatFollowedALostTailIsRefused() throws {
        let directory = TemporaryDirectory()
        let log = InMemoryTransactionLog()
        let (first, second) = try Self.hub(directory, log: log)
        try Self.write(first, "department", "roads", "name=Roads Bureau")
        try Self.write(first, "department", "parks", "name=Parks")
        try second.catchUp()
        let lost = try #require(try log.changesets(after: .start).last)
        log.truncate(to: log.count - 1)
        #expect(throws: StoreError.self) { try second.catchUp() }
        let before = try log.changesets(after: .start)
        _ = try log.append(after: try #require(before.last).position) { _ in ((), try Self.changeset(of: "name=Parks and Gardens", lost)) }
        #expect(log.count == Int(lost.sequence))
        for copy in [first, second] {
            #expect {
                try copy.catchUp()
            } throws: { error in
                (error as? StoreError)?.code == .workingCopyUnfit && "\(error)".contains("restored from an older backup")
            }
            #expect(throws: StoreError.self) { try Self.write(copy, "department", "roads", "name=Roads") }
        }
    }

    /// A changeset other than `lost`, of the same size of work: `lost`'s department renamed.
    static func changeset(of assignment: String, _ lost: LoggedChangeset) throws -> Changeset {
        let directory = TemporaryDirectory()
        let store = try ReplicaStore.create(at: directory.file("other.db"), node: "other", key: .generate(),
                                            options: StoreOptions(durability: .off))
        return try store.pool.write { db in
            let recorder = try Changeset.Recorder(db)
            try db.execute(sql: "INSERT INTO sync_meta (key, value) VALUES ('other', ?)", arguments: [assignment])
            return try recorder.take()
        }
    }
}
