import Foundation
import GRDB
import SiteSyncCore

/// A changeset as a ``TransactionLog`` keeps it: its place in the log and its bytes.
public struct LoggedChangeset: Sendable, Equatable {
    public let sequence: Int64
    public let changeset: Changeset

    public init(sequence: Int64, changeset: Changeset) {
        self.sequence = sequence
        self.changeset = changeset
    }

    /// Where a copy stands once it has applied this changeset.
    public var position: HubLogPosition { HubLogPosition(sequence: sequence, digest: changeset.digest) }
}

/// Where a working copy stands in its ``TransactionLog``: the sequence number of the last
/// changeset it holds, and that changeset's digest. The digest tells a log that lost its tail
/// and went on (a database restored from an older backup, then written again) from the log the
/// copy followed: the same sequence number, another changeset.
public struct HubLogPosition: Sendable, Equatable {
    public let sequence: Int64
    /// SHA-256 of the changeset's bytes, in hex; `nil` at the start of the log.
    public let digest: String?

    public init(sequence: Int64, digest: String?) {
        self.sequence = sequence
        self.digest = digest
    }

    public static let start = HubLogPosition(sequence: 0, digest: nil)

    /// The error a log gives a copy whose position it does not hold.
    public func unfit(logHead head: Int64) -> StoreError {
        StoreError(.workingCopyUnfit, sequence > head
            ? "this hub process's working copy holds transaction \(sequence) of the store, whose log ends at \(head): "
                + "the database was restored from an older backup; open the hub process again: it builds its working copy "
                + "again from the database and takes a new replica epoch"
            : "this hub process's working copy holds a transaction \(sequence) that the store's log does not: the database "
                + "was restored from an older backup and written since; open the hub process again: it builds its working "
                + "copy again from the database and takes a new replica epoch")
    }
}

/// Where the write transactions of a hub whose store several hub processes share are kept, in
/// one order (docs/design.md §18): PostgreSQL for a real hub. Each process's SQLite file is a
/// working copy; each of its write transactions runs inside ``append(after:_:)``.
public protocol TransactionLog: AnyObject, Sendable {
    /// Runs `work` as the log's next transaction. Holds the right to write until it returns;
    /// hands `work` the changesets logged after `applied` (which the copy applies before its
    /// own work); keeps the changeset `work` returns, when not empty, under the next sequence
    /// number, durably, before returning. When `work` or the keeping throws, nothing is kept.
    /// - Returns: `work`'s value and where the copy stands after it.
    /// - Throws: ``StoreError/Code/workingCopyUnfit`` when the log does not hold `applied`.
    func append<T>(after applied: HubLogPosition, _ work: (_ missed: [LoggedChangeset]) throws -> (T, Changeset)) throws
        -> (value: T, position: HubLogPosition)
    /// The changesets logged after `applied`, without the right to write (a copy catching up
    /// between writes, to show the latest in its reports).
    /// - Throws: ``StoreError/Code/workingCopyUnfit`` when the log does not hold `applied`.
    func changesets(after applied: HubLogPosition) throws -> [LoggedChangeset]
}

/// A ``TransactionLog`` in memory, shared by working copies in one process: what the
/// PostgreSQL log does, without PostgreSQL, for tests of the copies' side of it.
public final class InMemoryTransactionLog: TransactionLog, @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [LoggedChangeset] = []

    public init() {}

    public func append<T>(after applied: HubLogPosition, _ work: ([LoggedChangeset]) throws -> (T, Changeset)) throws
        -> (value: T, position: HubLogPosition)
    {
        lock.lock()
        defer { lock.unlock() }
        try check(applied)
        let (value, changeset) = try work(Array(entries.dropFirst(Int(applied.sequence))))
        guard !changeset.isEmpty else { return (value, entries.last?.position ?? .start) }
        entries.append(LoggedChangeset(sequence: Int64(entries.count + 1), changeset: changeset))
        return (value, entries[entries.count - 1].position)
    }

    public func changesets(after applied: HubLogPosition) throws -> [LoggedChangeset] {
        try lock.withLock {
            try check(applied)
            return Array(entries.dropFirst(Int(applied.sequence)))
        }
    }

    private func check(_ applied: HubLogPosition) throws {
        guard applied.sequence <= entries.count else { throw applied.unfit(logHead: Int64(entries.count)) }
        guard applied.sequence == 0 || applied.digest == nil || entries[Int(applied.sequence) - 1].changeset.digest == applied.digest else {
            throw applied.unfit(logHead: Int64(entries.count))
        }
    }

    /// Forgets every changeset after the first `count`: the log as a restore from an older
    /// backup leaves it.
    public func truncate(to count: Int) {
        lock.withLock { entries.removeLast(max(0, entries.count - count)) }
    }

    /// How many changesets the log holds.
    public var count: Int { lock.withLock { entries.count } }
}
