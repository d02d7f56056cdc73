/// One value of a field together with the write that produced it.
///
/// A field normally holds one version; it holds several after concurrent writes (siblings), until
/// a later write that had seen them all replaces them. An `orset` field holds one version per
/// element addition.
public struct FieldVersion: Hashable, Sendable {
    /// The field's wire code.
    public let field: UInt16
    public let dot: Dot
    public let hlc: HLCTimestamp
    public let value: FieldValue
    /// The epoch of an `emax` field, the cycle of a `state` field, 0 otherwise.
    public let tag: UInt32

    public init(field: UInt16, dot: Dot, hlc: HLCTimestamp, value: FieldValue, tag: UInt32 = 0) {
        self.field = field
        self.dot = dot
        self.hlc = hlc
        self.value = value
        self.tag = tag
    }

    /// The canonical order of a record's versions: by field, then by dot, then by value for
    /// `orset` elements added by the same change.
    static func canonicalOrder(_ a: FieldVersion, _ b: FieldVersion) -> Bool {
        if a.field != b.field { return a.field < b.field }
        if a.dot != b.dot { return a.dot < b.dot }
        return a.value.displayText.utf8.lexicographicallyPrecedes(b.value.displayText.utf8)
    }

    /// The last-writer order among concurrent versions: HLC, then replica, then counter.
    static func writtenBefore(_ a: FieldVersion, _ b: FieldVersion) -> Bool {
        (a.hlc, a.dot.replica, a.dot.counter) < (b.hlc, b.dot.replica, b.dot.counter)
    }
}

/// A record deletion: its dot, when, and what the deleter had seen.
public struct Tombstone: Hashable, Sendable {
    public let dot: Dot
    public let hlc: HLCTimestamp
    public let context: VersionVector

    public init(dot: Dot, hlc: HLCTimestamp, context: VersionVector) {
        self.dot = dot
        self.hlc = hlc
        self.context = context
    }
}
