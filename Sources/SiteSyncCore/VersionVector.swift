/// A version vector: for each replica, the highest counter of its events that have been seen.
///
/// Under causal delivery, holding counter `n` for a replica means holding every event of that
/// replica up to `n` (within the scope that matters: one record, or one replica's replication
/// scope). A version vector is a partial order, so it is deliberately not `Comparable`: use
/// ``compare(_:)``.
///
/// Entries are kept sorted by replica with no zero counters, so equal vectors are equal values
/// and encode identically.
public struct VersionVector: Hashable, Sendable, CustomStringConvertible {
    /// The entries, sorted by replica; every counter is at least 1.
    public private(set) var entries: [Entry]

    public struct Entry: Hashable, Sendable {
        public let replica: ReplicaID
        public var counter: UInt64

        public init(replica: ReplicaID, counter: UInt64) {
            self.replica = replica
            self.counter = counter
        }
    }

    /// The empty vector: nothing seen.
    public init() {
        entries = []
    }

    /// A vector from `(replica, counter)` pairs in any order; repeated replicas keep the maximum.
    public init<S: Sequence>(_ pairs: S) where S.Element == (ReplicaID, UInt64) {
        entries = []
        for (replica, counter) in pairs { raise(replica, to: counter) }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// The counter held for `replica` (0 when none).
    public subscript(replica: ReplicaID) -> UInt64 {
        guard let index = index(of: replica) else { return 0 }
        return entries[index].counter
    }

    /// Whether the event `dot` has been seen.
    public func contains(_ dot: Dot) -> Bool {
        self[dot.replica] >= dot.counter
    }

    /// Raises the counter of `replica` to `counter` if it is lower.
    public mutating func raise(_ replica: ReplicaID, to counter: UInt64) {
        guard counter > 0 else { return }
        switch position(of: replica) {
        case .found(let index):
            if entries[index].counter < counter { entries[index].counter = counter }
        case .insertAt(let index):
            entries.insert(Entry(replica: replica, counter: counter), at: index)
        }
    }

    /// Records that `dot` has been seen.
    public mutating func insert(_ dot: Dot) {
        raise(dot.replica, to: dot.counter)
    }

    /// The least upper bound: every event seen by either side.
    public mutating func merge(_ other: VersionVector) {
        if other.entries.isEmpty { return }
        if entries.isEmpty {
            entries = other.entries
            return
        }
        var result: [Entry] = []
        result.reserveCapacity(entries.count + other.entries.count)
        var i = 0, j = 0
        while i < entries.count || j < other.entries.count {
            if j == other.entries.count || (i < entries.count && entries[i].replica < other.entries[j].replica) {
                result.append(entries[i]); i += 1
            } else if i == entries.count || other.entries[j].replica < entries[i].replica {
                result.append(other.entries[j]); j += 1
            } else {
                result.append(Entry(replica: entries[i].replica, counter: max(entries[i].counter, other.entries[j].counter)))
                i += 1; j += 1
            }
        }
        entries = result
    }

    /// A copy holding every event seen by either side.
    public func merged(with other: VersionVector) -> VersionVector {
        var copy = self
        copy.merge(other)
        return copy
    }

    /// Whether every event seen by `self` has also been seen by `other`.
    public func isCovered(by other: VersionVector) -> Bool {
        entries.allSatisfy { other[$0.replica] >= $0.counter }
    }

    /// Compares two vectors in the happened-before order, in one merge pass.
    public func compare(_ other: VersionVector) -> CausalOrder {
        var selfAhead = false, otherAhead = false
        var i = 0, j = 0
        while i < entries.count || j < other.entries.count {
            if j == other.entries.count || (i < entries.count && entries[i].replica < other.entries[j].replica) {
                selfAhead = true; i += 1
            } else if i == entries.count || other.entries[j].replica < entries[i].replica {
                otherAhead = true; j += 1
            } else {
                if entries[i].counter > other.entries[j].counter { selfAhead = true }
                if entries[i].counter < other.entries[j].counter { otherAhead = true }
                i += 1; j += 1
            }
            if selfAhead && otherAhead { return .concurrent }
        }
        switch (selfAhead, otherAhead) {
        case (false, false): return .equal
        case (true, false): return .after
        case (false, true): return .before
        case (true, true): return .concurrent
        }
    }

    /// `{replica:counter, …}`.
    public var description: String {
        "{" + entries.map { "\($0.replica):\($0.counter)" }.joined(separator: ", ") + "}"
    }

    private enum Position { case found(Int), insertAt(Int) }

    private func position(of replica: ReplicaID) -> Position {
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].replica == replica { return .found(mid) }
            if entries[mid].replica < replica { low = mid + 1 } else { high = mid }
        }
        return .insertAt(low)
    }

    private func index(of replica: ReplicaID) -> Int? {
        if case .found(let index) = position(of: replica) { return index }
        return nil
    }
}
