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
    public func resolve(_ versions: [FieldVersion]) -> FieldResolution {
        guard !versions.isEmpty else {
            return FieldResolution(value: .null, winner: nil, losers: [], conflict: .none)
        }
        if versions.count == 1, rule != .orset {
            return FieldResolution(value: versions[0].value, winner: versions[0], losers: [], conflict: .none)
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
            let candidates = versions.contains { !$0.value.isNull } ? versions.filter { !$0.value.isNull } : versions
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
            guard let versions = fields[spec.code] else { return nil }
            return (spec, spec.resolve(versions))
        }
    }

    /// The visible value of one field.
    public func value(of field: FieldSpec) -> FieldValue {
        guard let versions = fields[field.code] else { return .null }
        if versions.count == 1, field.rule != .orset { return versions[0].value }
        return field.resolve(versions).value
    }

    /// How many fields hold differing concurrent values, plus one for a deletion lost to an
    /// edit: the record's entries in the conflict log.
    public func conflictCount(in collection: CollectionSpec) -> Int {
        var count = hasLostDeletion ? 1 : 0
        for (code, versions) in fields where versions.count > 1 {
            if let spec = collection.field(code: code), spec.resolve(versions).conflict != .none { count += 1 }
        }
        return count
    }
}
