/// What a person sees of one field, derived from its versions by the field's merge rule.
public struct FieldResolution: Hashable, Sendable {
    /// The visible value (for `mv`, the provisional winner; for `orset`, the set).
    public let value: FieldValue
    /// The version shown, when there is one (not for `orset`).
    public let winner: FieldVersion?
    /// The concurrent versions not shown.
    public let losers: [FieldVersion]
    public let conflict: ConflictState

    /// Whether the field's concurrent versions need a person.
    public enum ConflictState: String, Hashable, Sendable {
        /// One value, or an `orset`.
        case none
        /// Differing concurrent values were resolved by the rule; the losers are logged.
        case auto
        /// Differing concurrent values wait for a person (`mv`, or an `immutable` field).
        case open
    }
}

extension FieldSpec {
    /// Resolves a field's versions by this field's merge rule. Deterministic: it depends only on
    /// the versions, never on arrival order or on which replica computes it.
    public func resolve(_ versions: some RandomAccessCollection<FieldVersion>) -> FieldResolution {
        guard !versions.isEmpty else {
            return FieldResolution(value: .null, winner: nil, losers: [], conflict: .none)
        }
        if versions.count == 1, rule != .orset, let only = versions.first {
            return FieldResolution(value: only.value, winner: only, losers: [], conflict: .none)
        }
        if rule == .orset {
            var elements: Set<String> = []
            for version in versions { if case .text(let element) = version.value { elements.insert(element) } }
            return FieldResolution(
                value: .set(elements.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }),
                winner: nil, losers: [], conflict: .none)
        }
        let winner: FieldVersion
        switch rule {
        case .lww, .mv:
            winner = versions.max(by: FieldVersion.writtenBefore)!
        case .max:
            winner = versions.max { a, b in
                if a.value != b.value { return FieldValue.rankOrder(a.value, b.value, type: type) }
                return FieldVersion.writtenBefore(a, b)
            }!
        case .min:
            // A cleared value does not beat a reported one.
            let candidates = versions.contains { !$0.value.isNull } ? versions.filter { !$0.value.isNull } : Array(versions)
            winner = candidates.min { a, b in
                if a.value != b.value { return FieldValue.rankOrder(a.value, b.value, type: type) }
                return FieldVersion.writtenBefore(b, a)
            }!
        case .emax, .state:
            winner = versions.max { a, b in
                if a.tag != b.tag { return a.tag < b.tag }
                if a.value != b.value { return FieldValue.rankOrder(a.value, b.value, type: type) }
                return FieldVersion.writtenBefore(a, b)
            }!
        case .immutable:
            winner = versions.min(by: FieldVersion.writtenBefore)!
        case .orset:
            preconditionFailure("handled above")
        }
        let losers = versions.filter { $0 != winner }
        let differing = losers.contains { $0.value != winner.value }
        let conflict: FieldResolution.ConflictState =
            !differing ? .none : (rule == .mv || rule == .immutable ? .open : .auto)
        return FieldResolution(value: winner.value, winner: winner, losers: losers, conflict: conflict)
    }
}

extension RecordState {
    /// The visible value of every field that has one, by field code.
    public func resolvedFields(in collection: CollectionSpec) -> [(FieldSpec, FieldResolution)] {
        collection.fields.compactMap { spec in
            let versions = versions(of: spec.code)
            return versions.isEmpty ? nil : (spec, spec.resolve(versions))
        }
    }

    /// The visible value of one field.
    public func value(of field: FieldSpec) -> FieldValue {
        let versions = versions(of: field.code)
        if versions.count == 1, field.rule != .orset { return versions.first!.value }
        return field.resolve(versions).value
    }

    /// The visible value of every field of `collection`, in the collection's field order, in
    /// one pass over the versions (the typed row the store writes).
    public func values(in collection: CollectionSpec) -> [FieldValue] {
        collection.fields.map { value(of: $0) }
    }

    /// How many fields hold differing concurrent values, plus one for a deletion lost to an
    /// edit: the record's entries in the conflict log.
    public func conflictCount(in collection: CollectionSpec) -> Int {
        var count = hasLostDeletion ? 1 : 0
        var start = 0
        while start < versions.count {
            var end = start + 1
            while end < versions.count && versions[end].field == versions[start].field { end += 1 }
            if end - start > 1, let spec = collection.field(code: versions[start].field),
               spec.resolve(versions[start..<end]).conflict != .none {
                count += 1
            }
            start = end
        }
        return count
    }
}
