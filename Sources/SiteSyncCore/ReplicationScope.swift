/// Which records a receiver is entitled to and wants.
public enum ReplicationScope: Sendable, Hashable {
    /// Every department.
    case everything
    /// One department's records plus shared reference data.
    case department(String)

    /// The scope of a node with `role` in `department` (docs/design.md §2).
    public init(role: Role, department: String) {
        self = role.readsEverything ? .everything : .department(department)
    }

    public func includes(department: String) -> Bool {
        switch self {
        case .everything: true
        case .department(let own): department.isEmpty || department == own
        }
    }

    /// Whether everything in `other` is also in `self`.
    public func covers(_ other: ReplicationScope) -> Bool {
        switch (self, other) {
        case (.everything, _): true
        case (.department, .everything): false
        case let (.department(a), .department(b)): a == b
        }
    }
}

/// What a batch lets the receiver claim about its own knowledge.
///
/// Knowledge `n` for an origin means "every change of that origin up to `n`, within my scope,
/// is here". A batch may raise it only for the origins its sender vouches for (see
/// ``vouched(senderKnowledge:sender:senderScope:cutFor:receiverScope:)``); overstating it
/// would lose changes, understating it only resends a few.
public enum KnowledgeClaim: Sendable, Hashable {
    /// Nothing: the changes are held, but prove nothing about earlier ones.
    case none
    /// The sender sends, in its log order, every change it holds in the receiver's scope that
    /// the receiver lacks, and holds every change of each origin in `vouched` up to its
    /// counter. After the batch the receiver raises each origin in the batch to the highest
    /// counter received, but not beyond what is vouched for.
    case inOrder(vouched: VersionVector)
    /// As `inOrder`, and this batch ends a complete transfer: the receiver takes on all of
    /// `vouched`.
    case complete(vouched: VersionVector)

    /// The part of a sender's knowledge it can vouch for to a receiver: all of it when the
    /// sender's view covers the receiver's scope; otherwise only its own changes, which a
    /// replica always holds completely; nothing when the changes were cut for a narrower
    /// scope than the receiver's. A receiver takes it only from its hub (protocol §10); from
    /// anyone else its knowledge rises only through the changes it holds.
    public static func vouched(
        senderKnowledge: VersionVector, sender: ReplicaID, senderScope: ReplicationScope,
        cutFor batchScope: ReplicationScope, receiverScope: ReplicationScope
    ) -> VersionVector {
        guard batchScope.covers(receiverScope) else { return VersionVector() }
        if senderScope.covers(receiverScope) { return senderKnowledge }
        return VersionVector([(sender, senderKnowledge[sender])])
    }
}
