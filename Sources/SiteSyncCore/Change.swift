/// One write to one field inside a ``Change``.
public struct FieldWrite: Hashable, Sendable {
    /// The field's wire code within the change's collection.
    public let field: UInt16
    public let operation: Operation

    public enum Operation: Hashable, Sendable {
        /// Replace every version of the field that the writer had seen with `value`.
        /// - `tag`: the epoch of an `emax` field or the cycle of a `state` field (0 otherwise).
        /// - `supersede`: set by a conflict resolution, so that it may replace differing
        ///   values of an `immutable` field too.
        case assign(FieldValue, tag: UInt32, supersede: Bool)
        /// Add and remove elements of an `orset` field. A removal removes only the additions
        /// the writer had seen, so a concurrent addition survives (add wins).
        case updateSet(add: [String], remove: [String])
    }

    public init(field: UInt16, _ operation: Operation) {
        self.field = field
        self.operation = operation
    }

    public static func assign(_ field: UInt16, _ value: FieldValue, tag: UInt32 = 0, supersede: Bool = false) -> FieldWrite {
        FieldWrite(field: field, .assign(value, tag: tag, supersede: supersede))
    }

    /// The strings the write carries (a text, a symbol, a record id, set elements), each of
    /// which travels within the protocol's per-value limit.
    public var strings: [String] {
        switch operation {
        case .assign(.text(let s), _, _), .assign(.symbol(let s), _, _), .assign(.ref(let s), _, _): [s]
        case .assign(.set(let elements), _, _): elements
        case .assign: []
        case .updateSet(let add, let remove): add + remove
        }
    }
}

/// One change: a replica's write to one record, identified forever by its dot.
///
/// The change carries its *context*, the record's version vector as the writer saw it: every
/// field version whose dot is in the context had been seen by the writer and is replaced; any
/// other version is concurrent and the field's merge rule decides (docs/design.md §4).
public struct Change: Hashable, Sendable {
    public let dot: Dot
    /// When it was written, by the writer's hybrid logical clock.
    public let hlc: HLCTimestamp
    public let record: RecordKey
    /// The department that scopes the record (empty for shared reference data).
    public let department: String
    /// The record's version vector as the writer saw it.
    public let context: VersionVector
    public let body: Body

    public enum Body: Hashable, Sendable {
        case upsert([FieldWrite])
        case delete
    }

    public init(dot: Dot, hlc: HLCTimestamp, record: RecordKey, department: String, context: VersionVector, body: Body) {
        self.dot = dot
        self.hlc = hlc
        self.record = record
        self.department = department
        self.context = context
        self.body = body
    }

    public var isDelete: Bool {
        if case .delete = body { return true }
        return false
    }
}
