/// One event: the `counter`-th change issued by `replica`.
///
/// Every change carries exactly one dot, and a dot identifies exactly one change forever.
/// Counters start at 1 and rise by one per change of that replica.
public struct Dot: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let replica: ReplicaID
    public let counter: UInt64

    public init(replica: ReplicaID, counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    /// `replica:counter`, e.g. `3f2a9c0d1e4b5a67:12`.
    public var description: String { "\(replica):\(counter)" }

    /// A total order used only to make encodings canonical; it says nothing about causality.
    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        (lhs.replica, lhs.counter) < (rhs.replica, rhs.counter)
    }
}
