/// What a node may do (docs/design.md §2). At the hub a node's role comes from its authenticated key;
/// locally it comes from the node's configuration and stops mistakes early.
public enum Role: String, Sendable, CaseIterable, Codable {
    /// A site laptop: writes the actuals of its own department.
    case field
    /// A department office: as `field`, plus approvals for its department.
    case department
    /// Central office staff: plan-side data for every department.
    case office
    /// Reads everything, writes nothing.
    case auditor
    /// The central server: relays, authorizes, writes derived records.
    case hub

    /// Whether the role may write plan fields and hub-owned collections.
    public var writesPlan: Bool { self == .office || self == .hub }

    /// Whether the role receives every department's records.
    public var readsEverything: Bool { self == .office || self == .auditor || self == .hub }

    /// Whether the role is limited to its own department's records.
    public var isDepartmentBound: Bool { self == .field || self == .department }
}

/// The node making a local write.
public struct WriterIdentity: Sendable, Equatable {
    public let role: Role
    public let department: String

    public init(role: Role, department: String) {
        self.role = role
        self.department = department
    }
}
