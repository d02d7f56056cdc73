/// What a replica holds of a change in its log (`sync_change.status`): the change itself, in
/// force; only its place in its origin's chain, because it was refused before it applied
/// (withheld, held as a hole); or the change, taken back after it applied because the hub
/// refused it (retracted: its bytes stay, for the chain and for `conflicts --rejected`).
///
/// Withheld and retracted changes count as seen in their records' contexts but have no effect,
/// and travel on as holes.
public enum ChangeStatus: Int64, Sendable, CaseIterable {
    case inForce = 0
    case withheld = 1
    case retracted = 2

    /// Whether the change has its effect on its record.
    public var isInForce: Bool { self == .inForce }

    /// The stored number as SQL text, for statements that compare or set it literally (so the
    /// query planner sees a constant, as it did before the number had a name).
    public var sql: String { String(rawValue) }
}
