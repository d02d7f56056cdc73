/// The replicated state of one record: every live field version, its tombstones and its
/// version vector.
///
/// The state is a join-semilattice: ``merge(_:)`` is commutative, associative and idempotent,
/// and applying a change (``apply(_:in:)``) is the same as merging the state with that change
/// alone. That is what makes every replica that has seen the same changes hold the same state,
/// whatever order they arrived in and however often. Which value a person sees is then a pure
/// function of the state (``FieldSpec/resolve(_:)``), so it is the same everywhere too.
///
/// The versions of all fields live in one array sorted by field code, so a record costs one
/// allocation, not one per field: applying changes is the store's hottest path.
public struct RecordState: Hashable, Sendable {
    public let key: RecordKey
    /// The department that scopes the record ("" for shared reference data).
    public private(set) var department: String
    /// The dots of every change applied to this record.
    public private(set) var context: VersionVector
    /// Every live version, in canonical order (field, then dot).
    public private(set) var versions: [FieldVersion]
    /// Deletions not yet superseded by a later write, in dot order.
    public private(set) var tombstones: [Tombstone]

    /// A record nobody has written yet.
    public init(key: RecordKey) {
        self.key = key
        department = ""
        context = VersionVector()
        versions = []
        tombstones = []
    }

    /// A state as stored (used by the store's decoder). Versions are put in canonical order
    /// (checked first: the store writes them in that order, and sorting copies them).
    public init(key: RecordKey, department: String, context: VersionVector, versions: [FieldVersion], tombstones: [Tombstone]) {
        self.key = key
        self.department = department
        self.context = context
        let inOrder = versions.indices.dropFirst().allSatisfy {
            !FieldVersion.canonicalOrder(versions[$0], versions[$0 - 1])
        }
        self.versions = inOrder ? versions : versions.sorted(by: FieldVersion.canonicalOrder)
        self.tombstones = tombstones.count < 2 ? tombstones : tombstones.sorted { $0.dot < $1.dot }
    }

    /// Whether no change has been applied yet.
    public var isEmpty: Bool { context.isEmpty }

    /// The versions of one field (empty when never written).
    public func versions(of field: UInt16) -> ArraySlice<FieldVersion> {
        let start = firstIndex(of: field)
        var end = start
        while end < versions.count && versions[end].field == field { end += 1 }
        return versions[start..<end]
    }

    /// The field codes that hold versions, ascending.
    public var fieldCodes: [UInt16] {
        var codes: [UInt16] = []
        for version in versions where codes.last != version.field { codes.append(version.field) }
        return codes
    }

    /// The index of the first version of `field`, or where it would go.
    private func firstIndex(of field: UInt16) -> Int {
        var low = 0, high = versions.count
        while low < high {
            let mid = (low + high) / 2
            if versions[mid].field < field { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// A record is deleted when it has a tombstone and every field version was seen by a
    /// deletion. An edit concurrent with every deletion keeps the record alive: losing a field
    /// report is worse than showing one twice.
    public var isDeleted: Bool {
        guard !tombstones.isEmpty else { return false }
        return versions.allSatisfy { version in tombstones.contains { $0.context.contains(version.dot) } }
    }

    /// A deletion lost to a concurrent edit: the record stays and the deletion is shown as a
    /// conflict until a later write settles it.
    public var hasLostDeletion: Bool { !tombstones.isEmpty && !isDeleted }

    /// Applies one change.
    /// - Returns: `false` when the change had already been applied (a no-op), `true` otherwise.
    /// - Throws: ``CoreError/Code/causalityViolation`` when the change's context holds a dot of
    ///   this record that has not been applied here yet (it must arrive first), and
    ///   ``CoreError/Code/invalidChange`` when it does not fit the schema.
    @discardableResult
    public mutating func apply(_ change: Change, in collection: CollectionSpec) throws(CoreError) -> Bool {
        guard change.record == key, collection.code == key.collection else {
            throw CoreError(.invalidChange, "change \(change.dot) does not belong to record \(key)")
        }
        if context.contains(change.dot) { return false }
        guard change.context.isCovered(by: context) else {
            throw CoreError(.causalityViolation,
                "change \(change.dot) to \(collection.name) \(key.id) depends on changes to that record that this replica "
                + "does not hold, and cannot be applied before them (whoever sent it should have sent them first)")
        }
        let covered = change.context
        switch change.body {
        case .upsert(let writes):
            for (index, write) in writes.enumerated() where writes[..<index].contains(where: { $0.field == write.field }) {
                throw CoreError(.invalidChange, "change \(change.dot) writes field \(write.field) twice")
            }
            // Room for every write at once: a state read from the store has no spare capacity,
            // and growing it one insertion at a time copied the versions once per write.
            versions.reserveCapacity(versions.count + writes.count)
            for write in writes {
                guard let field = collection.fieldIndex(code: write.field) else {
                    throw CoreError(.invalidChange,
                        "change \(change.dot) writes field \(write.field), unknown in \(collection.name); the sender uses another schema")
                }
                let rule = collection.fields[field].rule
                switch write.operation {
                case .assign(let value, let tag, let supersede):
                    guard rule != .orset, value.conforms(to: collection.fields[field].type) else {
                        throw CoreError(.invalidChange,
                                        "change \(change.dot) writes a value of the wrong type to \(collection.fields[field].name)")
                    }
                    // An immutable field keeps a differing value as a conflict instead of losing it,
                    // unless a person resolved that conflict.
                    let keepsDiffering = rule == .immutable && !supersede
                    let version = FieldVersion(field: write.field, dot: change.dot, hlc: change.hlc, value: value, tag: tag)
                    replace(in: write.field, adding: version) {
                        covered.contains($0.dot) && (!keepsDiffering || $0.value == value)
                    }
                case .updateSet(let add, let remove):
                    guard rule == .orset else {
                        throw CoreError(.invalidChange,
                                        "change \(change.dot) updates \(collection.fields[field].name) as a set, but it is not one")
                    }
                    let added = Set(add).map { FieldVersion(field: write.field, dot: change.dot, hlc: change.hlc, value: .text($0)) }
                    replace(in: write.field, adding: added) { version in
                        guard case .text(let element) = version.value else { return false }
                        return covered.contains(version.dot) && (add.contains(element) || remove.contains(element))
                    }
                }
            }
        case .delete:
            break
        }
        // Any change that had seen a deletion supersedes it: a re-creation or a later edit.
        if !tombstones.isEmpty { tombstones.removeAll { covered.contains($0.dot) } }
        if change.isDelete {
            tombstones.append(Tombstone(dot: change.dot, hlc: change.hlc, context: change.context))
            tombstones.sort { $0.dot < $1.dot }
        }
        adoptDepartment(change.department, wasEmpty: context.isEmpty)
        context.insert(change.dot)
        return true
    }

    /// Takes `dot` as seen but without effect: a change withheld everywhere (refused by the hub,
    /// or retracted). Changes made on top of it then apply, and it can never apply later.
    public mutating func withhold(_ dot: Dot) {
        versions.removeAll { $0.dot == dot }
        tombstones.removeAll { $0.dot == dot }
        context.insert(dot)
    }

    /// Removes the versions of `field` that `removed` selects and inserts `added`, keeping the
    /// canonical order.
    private mutating func replace(in field: UInt16, adding added: [FieldVersion], removing removed: (FieldVersion) -> Bool) {
        var end = remove(in: field, removed)
        for version in added {
            insert(version, in: field, before: end)
            end += 1
        }
    }

    /// The same for one version (an assignment: the hot path of applying changes, without a
    /// collection around the version to copy it into).
    private mutating func replace(in field: UInt16, adding version: FieldVersion, removing removed: (FieldVersion) -> Bool) {
        insert(version, in: field, before: remove(in: field, removed))
    }

    /// Removes the versions of `field` that `removed` selects; returns where the field's
    /// versions end now.
    private mutating func remove(in field: UInt16, _ removed: (FieldVersion) -> Bool) -> Int {
        var end = firstIndex(of: field)
        while end < versions.count && versions[end].field == field {
            if removed(versions[end]) { versions.remove(at: end) } else { end += 1 }
        }
        return end
    }

    /// Inserts `version` among the versions of `field` (which end at `end`) in canonical order.
    private mutating func insert(_ version: FieldVersion, in field: UInt16, before end: Int) {
        var position = firstIndex(of: field)
        while position < end && FieldVersion.canonicalOrder(versions[position], version) { position += 1 }
        // A new record's fields come in code order: each goes at the end.
        if position == versions.count { versions.append(version) } else { versions.insert(version, at: position) }
    }

    /// Merges another replica's state of the same record: the least upper bound of both.
    public mutating func merge(_ other: RecordState) {
        precondition(other.key == key, "merging states of different records")
        let wasEmpty = context.isEmpty
        if !other.context.isEmpty { adoptDepartment(other.department, wasEmpty: wasEmpty) }
        versions = Self.join(versions, context, other.versions, other.context, dot: \.dot).sorted(by: FieldVersion.canonicalOrder)
        tombstones = Self.join(tombstones, context, other.tombstones, other.context, dot: \.dot).sorted { $0.dot < $1.dot }
        context.merge(other.context)
    }

    /// A copy merged with `other`.
    public func merged(with other: RecordState) -> RecordState {
        var copy = self
        copy.merge(other)
        return copy
    }

    /// The causal join of two sets of dotted elements: keep what both hold, and what one holds
    /// that the other has not seen (and so cannot have removed).
    private static func join<T: Hashable>(
        _ a: [T], _ contextA: VersionVector, _ b: [T], _ contextB: VersionVector, dot: (T) -> Dot
    ) -> [T] {
        let setA = Set(a), setB = Set(b)
        var result = a.filter { setB.contains($0) || !contextB.contains(dot($0)) }
        result += b.filter { !setA.contains($0) && !contextA.contains(dot($0)) }
        return result
    }

    /// The scoping department never changes after creation; should two replicas ever create
    /// the same id under different departments, the smaller code wins everywhere.
    private mutating func adoptDepartment(_ incoming: String, wasEmpty: Bool) {
        if wasEmpty || incoming.utf8.lexicographicallyPrecedes(department.utf8) {
            department = incoming
        }
    }
}

extension FieldValue {
    /// Whether the value may be held by a field of `type`.
    public func conforms(to type: FieldType) -> Bool {
        switch (self, type) {
        case (.null, _): true
        case (.text, .text), (.int, .int), (.decimal, .decimal), (.date, .date), (.ref, .ref): true
        case (.symbol(let symbol), .enumeration(let cases)): cases.contains(symbol)
        default: false
        }
    }
}
