import Foundation
import GRDB

/// A changeset as a ``TransactionLog`` keeps it: its place in the log and its bytes.
public struct LoggedChangeset: Sendable, Equatable {
    public let sequence: Int64
    public let changeset: Changeset

    public init(sequence: Int64, changeset: Changeset) {
        self.sequence = sequence
        self.changeset = changeset
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
    /// - Returns: `work`'s value and the sequence number the copy is at after it.
    func append<T>(after applied: Int64, _ work: (_ missed: [LoggedChangeset]) throws -> (T, Changeset)) throws -> (value: T, sequence: Int64)
    /// The changesets logged after `applied`, without the right to write (a copy catching up
    /// between writes, to show the latest in its reports).
    func changesets(after applied: Int64) throws -> [LoggedChangeset]
}

/// A ``TransactionLog`` in memory, shared by working copies in one process: what the
/// PostgreSQL log does, without PostgreSQL, for tests of the copies' side of it.
public final class InMemoryTransactionLog: TransactionLog, @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [LoggedChangeset] = []

    public init() {}

    public func append<T>(after applied: Int64, _ work: ([LoggedChangeset]) throws -> (T, Changeset)) throws -> (value: T, sequence: Int64) {
        lock.lock()
        defer { lock.unlock() }
        let (value, changeset) = try work(entries.filter { $0.sequence > applied })
        guard !changeset.isEmpty else { return (value, Int64(entries.count)) }
        entries.append(LoggedChangeset(sequence: Int64(entries.count + 1), changeset: changeset))
        return (value, Int64(entries.count))
    }

    public func changesets(after applied: Int64) throws -> [LoggedChangeset] {
        lock.withLock { entries.filter { $0.sequence > applied } }
    }

    /// How many changesets the log holds.
    public var count: Int { lock.withLock { entries.count } }
}
