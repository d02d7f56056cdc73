/// The type of a field's value.
public enum FieldType: Hashable, Sendable {
    case text
    case int
    case decimal
    /// ISO `YYYY-MM-DD`.
    case date
    /// One of a declared list of cases; the list's order is the rank order used by `state` and `max`.
    case enumeration([String])
    /// A set of short strings (tags, assignees).
    case set
    /// The id of a record in the named collection.
    case ref(String)

    /// The name used in the schema tables of docs/design.md §3.3.
    public var name: String {
        switch self {
        case .text: "text"
        case .int: "int"
        case .decimal: "decimal"
        case .date: "date"
        case .enumeration: "enum"
        case .set: "set"
        case .ref: "ref"
        }
    }
}

/// How concurrent writes to one field are resolved (docs/design.md §3.2).
public enum MergeRule: String, Hashable, Sendable, CaseIterable {
    /// The greater (HLC, replica) wins; the loser is logged.
    case lww
    /// Every concurrent value is kept; a person resolves the conflict.
    case mv
    /// The numerically (or by rank) greater value.
    case max
    /// The numerically (or by rank) smaller value.
    case min
    /// (epoch, value) lexicographic max: values only rise, a correction downwards bumps the epoch.
    case emax
    /// (cycle, rank) lexicographic max over the enum's order; going backwards bumps the cycle.
    case state
    /// Add-wins observed-remove set.
    case orset
    /// Set at creation; a different later value is a conflict, never an overwrite.
    case immutable
}

/// Extra checks on a field's values.
public enum FieldConstraint: Hashable, Sendable {
    /// A decimal between the bounds (inclusive).
    case decimalRange(ExactDecimal, ExactDecimal)
    /// An integer between the bounds (inclusive).
    case intRange(Int64, Int64)
    /// Text of the form `YYYY-MM`.
    case yearMonth
    /// A planning period: a year `YYYY`, a quarter `YYYY-QN` or a month `YYYY-MM`
    /// (``PlanPeriod``).
    case period
}

/// One field of a collection.
public struct FieldSpec: Hashable, Sendable {
    /// The public name (part of the schema contract; never renamed).
    public let name: String
    /// The stable number that identifies the field on the wire.
    public let code: UInt16
    public let type: FieldType
    public let rule: MergeRule
    /// Plan fields are written only by the `office` and `hub` roles.
    public let isPlan: Bool
    /// Must be given when the record is created.
    public let isRequired: Bool
    public let constraint: FieldConstraint?
    /// No longer written by anyone: every write of it is refused, its values already held are
    /// ignored, and its code stays taken (codes are never reused).
    public let isRetired: Bool

    public init(
        _ name: String, code: UInt16, _ type: FieldType, _ rule: MergeRule,
        plan: Bool = false, required: Bool = false, constraint: FieldConstraint? = nil, retired: Bool = false
    ) {
        self.name = name
        self.code = code
        self.type = type
        self.rule = rule
        self.isPlan = plan
        self.isRequired = required
        self.constraint = constraint
        self.isRetired = retired
    }
}

/// What kind of records a collection holds.
public enum CollectionKind: String, Hashable, Sendable {
    /// Ordinary mutable records, merged field by field.
    case standard
    /// Immutable entries: created once, never edited or deleted; corrections are new entries.
    case appendOnly = "append-only"
    /// Written only by the `office` and `hub` roles.
    case hubOwned = "hub-owned"
    /// Written only by the hub itself: what it derives or decides (refusals).
    case hubOnly = "hub-only"
}

/// Where a record's scoping department comes from.
public enum ScopeRule: Hashable, Sendable {
    /// Shared reference data, replicated to every node.
    case shared
    /// The value of this field is the department.
    case field(String)
    /// The value of this field is the department; without one the record is shared (a
    /// city-level objective, a member of the central staff).
    case fieldOrShared(String)
    /// Inherited from the record this `ref` field points to; `optional` refs fall back to the
    /// writer's department when empty.
    case inherited(from: String, optional: Bool)
}

/// A collection: one typed SQLite table.
public struct CollectionSpec: Hashable, Sendable {
    public let name: String
    /// The stable number that identifies the collection on the wire.
    public let code: UInt16
    public let kind: CollectionKind
    public let scope: ScopeRule
    /// How the id of a new record is derived from its fields, when it has a natural key.
    public let naturalKey: [String]?
    public let fields: [FieldSpec]

    private let byName: [String: Int]
    private let byCode: [UInt16: Int]

    public init(
        _ name: String, code: UInt16, kind: CollectionKind = .standard, scope: ScopeRule,
        naturalKey: [String]? = nil, fields: [FieldSpec]
    ) {
        self.name = name
        self.code = code
        self.kind = kind
        self.scope = scope
        self.naturalKey = naturalKey
        self.fields = fields
        var byName: [String: Int] = [:], byCode: [UInt16: Int] = [:]
        for (index, field) in fields.enumerated() {
            precondition(byName[field.name] == nil && byCode[field.code] == nil, "duplicate field \(field.name)")
            byName[field.name] = index
            byCode[field.code] = index
        }
        self.byName = byName
        self.byCode = byCode
    }

    public func field(named name: String) -> FieldSpec? {
        byName[name].map { fields[$0] }
    }

    public func field(code: UInt16) -> FieldSpec? {
        byCode[code].map { fields[$0] }
    }

    /// The position in ``fields`` of the field with wire code `code`: for hot paths that read
    /// one property of the field (`fields[i].rule`) without copying all of it.
    public func fieldIndex(code: UInt16) -> Int? {
        byCode[code]
    }
}

/// The set of collections every replica agrees on.
public struct Schema: Sendable {
    /// Bumped whenever a collection or field is added.
    public let version: UInt32
    public let collections: [CollectionSpec]
    private let byName: [String: Int]
    private let byCode: [UInt16: Int]

    public init(version: UInt32, collections: [CollectionSpec]) {
        self.version = version
        self.collections = collections
        var byName: [String: Int] = [:], byCode: [UInt16: Int] = [:]
        for (index, collection) in collections.enumerated() {
            precondition(byName[collection.name] == nil && byCode[collection.code] == nil)
            byName[collection.name] = index
            byCode[collection.code] = index
        }
        self.byName = byName
        self.byCode = byCode
    }

    public func collection(named name: String) -> CollectionSpec? {
        byName[name].map { collections[$0] }
    }

    public func collection(code: UInt16) -> CollectionSpec? {
        byCode[code].map { collections[$0] }
    }

    /// The collection names, sorted, for error messages.
    public var collectionNames: [String] { collections.map(\.name).sorted() }

    /// A SHA-256 over a canonical description of every collection and field (names, codes,
    /// types, rules, plan flags), as 64 hex digits. Two replicas with the same hash interpret
    /// every change identically.
    public var hash: String {
        var text = "sitesync-schema \(version)\n"
        for collection in collections.sorted(by: { $0.code < $1.code }) {
            text += "collection \(collection.code) \(collection.name) \(collection.kind.rawValue)\n"
            for field in collection.fields.sorted(by: { $0.code < $1.code }) {
                var typeText = field.type.name
                switch field.type {
                case .enumeration(let cases): typeText += "(" + cases.joined(separator: ",") + ")"
                case .ref(let target): typeText += "(" + target + ")"
                default: break
                }
                text += "  field \(field.code) \(field.name) \(typeText) \(field.rule.rawValue)"
                    + (field.isPlan ? " plan" : "") + (field.isRetired ? " retired" : "") + "\n"
            }
        }
        return SHA256Hex.digest(of: Array(text.utf8))
    }
}

extension Schema {
    /// The schema as a Markdown table (collection code, name, kind, and every field's code,
    /// name, type, rule and plan flag), as printed in `protocol/README.md`.
    public var markdownTable: String {
        var lines = ["| code | collection | kind | fields: code `name` type rule |", "|---|---|---|---|"]
        for collection in collections.sorted(by: { $0.code < $1.code }) {
            let fields = collection.fields.sorted { $0.code < $1.code }.map { field -> String in
                var type = field.type.name
                switch field.type {
                case .enumeration(let cases): type = "enum(" + cases.joined(separator: " < ") + ")"
                case .ref(let target): type = "ref(" + target + ")"
                default: break
                }
                return "\(field.code) `\(field.name)` \(type) \(field.rule.rawValue)" + (field.isPlan ? " plan" : "")
                    + (field.isRetired ? " retired" : "")
            }
            lines.append("| \(collection.code) | `\(collection.name)` | \(collection.kind.rawValue) | \(fields.joined(separator: "; ")) |")
        }
        return lines.joined(separator: "\n")
    }
}
