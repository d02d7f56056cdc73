/// How two version vectors relate in the happened-before partial order.
public enum CausalOrder: Sendable, Equatable, CustomStringConvertible {
    /// The left side happened before the right side (it is strictly dominated).
    case before
    /// The left side happened after the right side (it strictly dominates).
    case after
    /// Both sides have seen exactly the same events.
    case equal
    /// Neither side has seen everything the other has.
    case concurrent

    public var description: String {
        switch self {
        case .before: "before"
        case .after: "after"
        case .equal: "equal"
        case .concurrent: "concurrent"
        }
    }
}
