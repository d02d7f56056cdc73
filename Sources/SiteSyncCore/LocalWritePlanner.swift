/// Read access to current record states, for planning a local write.
public protocol RecordReader {
    /// The state of a record, or `nil` when this replica has never seen it.
    func state(of key: RecordKey) throws -> RecordState?

    /// How many live records refer to `key` through a `ref` field, by collection name (only
    /// collections with at least one): a record in use is never deleted.
    func referrers(of key: RecordKey) throws -> [String: Int]
}

/// A checked local write, ready to be given a dot, an HLC time and a context by the store.
public struct LocalEdit: Hashable, Sendable {
    public let record: RecordKey
    public let department: String
    public let body: Change.Body

    /// An edit the software itself makes (a record the hub derives), not one typed by a person.
    public init(record: RecordKey, department: String, body: Change.Body) {
        self.record = record
        self.department = department
        self.body = body
    }
}

/// Turns what a person asked for (`record put`, `record delete`, `resolve`) into a checked
/// ``LocalEdit``, or explains why it cannot be done.
///
/// It enforces the schema (fields, types, constraints, references) and the local role by the
/// same table every receiver applies (``WritePolicy``: plan records and fields and hub-owned
/// collections only for `office` and `hub`, a department-bound node only in its department,
/// nothing for `auditor`, entries never changed, a record in use never deleted), throwing the
/// reason a receiver would give; and it computes the
/// merge metadata a write needs: the epoch of an `emax` correction, the cycle of a backwards
/// `state` move, the additions and removals of a set.
public struct LocalWritePlanner {
    public let schema: Schema
    public let writer: WriterIdentity

    public init(schema: Schema, writer: WriterIdentity) {
        self.schema = schema
        self.writer = writer
    }

    /// Plans a create or update.
    /// - Parameters:
    ///   - id: the record id, or `nil` for a new record (a random UUID, or the natural-key id).
    /// - Returns: `nil` when the record already holds exactly these values.
    public func planUpsert(
        collection name: String, id: String?, assignments: [FieldAssignment], reader: some RecordReader
    ) throws -> LocalEdit? {
        let collection = try self.collection(named: name)
        try checkCollectionWritable(collection)
        var values: [(FieldSpec, FieldAssignment.Operation, FieldValue)] = []
        var setUpdates: [String: (add: [String], remove: [String])] = [:]
        for assignment in assignments {
            let spec = try field(assignment.field, in: collection)
            if assignment.operation != .set, spec.rule != .orset {
                throw CoreError(.invalidValue, "\(spec.name) is not a set: use \(spec.name)=value, not += or -=")
            }
            let value = try parse(assignment.input, spec, in: collection)
            // Several += and -= of one set combine into one update; anything else may appear once.
            if assignment.operation != .set, case .set(let elements) = value, !values.contains(where: { $0.0.name == spec.name }) {
                var update = setUpdates[spec.name] ?? ([], [])
                if assignment.operation == .add { update.add += elements } else { update.remove += elements }
                setUpdates[spec.name] = update
                continue
            }
            guard !values.contains(where: { $0.0.name == spec.name }), setUpdates[spec.name] == nil else {
                throw CoreError(.invalidValue, "\(spec.name) is given twice")
            }
            values.append((spec, assignment.operation, value))
        }
        for (name, update) in setUpdates.sorted(by: { $0.key < $1.key }) {
            let both = Set(update.add).intersection(update.remove)
            guard both.isEmpty else {
                throw CoreError(.invalidValue, "\(name): \(both.sorted().joined(separator: ", ")) is both added and removed")
            }
            let spec = collection.field(named: name)!
            if !update.add.isEmpty { values.append((spec, .add, .set(update.add))) }
            if !update.remove.isEmpty { values.append((spec, .remove, .set(update.remove))) }
        }

        let recordID = try resolveID(id, collection: collection, values: values)
        let key = RecordKey(collection: collection.code, id: recordID)
        let current = try reader.state(of: key)
        let live = current.map { !$0.isDeleted } ?? false
        try check(WritePolicy.operationDenial(writer.role, live ? .update : .create, collection))
        for (spec, _, value) in values {
            try check(WritePolicy.fieldDenial(writer.role, collection, spec, value: value))
        }
        if !live {
            guard !values.isEmpty else { throw CoreError(.missingField, "give at least one field=value to create \(collection.name) \(recordID)") }
            let missing = collection.fields.filter { spec in
                spec.isRequired && !values.contains { $0.0.name == spec.name && !$0.2.isNull && $0.2 != .set([]) }
            }
            if !missing.isEmpty {
                throw CoreError(.missingField,
                    "creating \(collection.name) \(recordID) needs \(missing.map(\.name).joined(separator: ", "))")
            }
        }

        let department = try live ? current!.department : newRecordDepartment(collection, values, reader: reader)
        try checkDepartment(department, collection: collection, id: recordID)
        try checkDepartmentField(values, department: department, collection: collection, id: recordID)
        for (spec, _, value) in values {
            try checkReference(spec, value, from: (collection.name, recordID, department), reader: reader)
        }

        try checkValues(collection, id: recordID, values, current: live ? current : nil, reader: reader)

        var writes: [FieldWrite] = []
        for (spec, operation, value) in values {
            let versions = live ? current!.versions(of: spec.code) : ArraySlice()
            guard let write = try fieldWrite(spec, operation, value, versions: versions, live: live, recordID: recordID) else { continue }
            // An add and a remove of the same set travel as one update.
            if let index = writes.firstIndex(where: { $0.field == write.field }),
               case .updateSet(let add, let remove) = writes[index].operation, case .updateSet(let add2, let remove2) = write.operation {
                writes[index] = FieldWrite(field: write.field, .updateSet(add: add + add2, remove: remove + remove2))
            } else {
                writes.append(write)
            }
        }
        // Re-creating a deleted record starts from empty: the deleted values must not come back.
        if let current, !live {
            let assigned = Set(values.map(\.0.code))
            for code in current.fieldCodes where !assigned.contains(code) {
                guard let spec = collection.field(code: code) else { continue }
                let versions = current.versions(of: code)
                writes.append(spec.rule == .orset
                    ? FieldWrite(field: code, .updateSet(add: [], remove: Self.elements(of: versions)))
                    : .assign(code, .null, supersede: true))
            }
        }
        if writes.isEmpty { return nil }
        return LocalEdit(record: key, department: department, body: .upsert(writes))
    }

    /// Plans a deletion (a tombstone).
    public func planDelete(collection name: String, id: String, reader: some RecordReader) throws -> LocalEdit {
        let collection = try self.collection(named: name)
        try checkCollectionWritable(collection)
        try check(WritePolicy.operationDenial(writer.role, .delete, collection))
        let key = RecordKey(collection: collection.code, id: id)
        guard let current = try reader.state(of: key), !current.isDeleted else {
            throw CoreError(.notFound, "there is no \(collection.name) \(id) on this node (check the id with `sitesync record list \(collection.name)`)")
        }
        try checkDepartment(current.department, collection: collection, id: id)
        try check(WritePolicy.referencedDenial(collection, id: id, referrers: reader.referrers(of: key)))
        return LocalEdit(record: key, department: current.department, body: .delete)
    }

    /// Plans the resolution of a conflict: a write of `input` whose context covers every
    /// concurrent value of the field, so that it settles the conflict wherever it arrives.
    public func planResolve(
        collection name: String, id: String, field fieldName: String, input: FieldAssignment.Input, reader: some RecordReader
    ) throws -> LocalEdit {
        let collection = try self.collection(named: name)
        try checkCollectionWritable(collection)
        let spec = try field(fieldName, in: collection)
        let key = RecordKey(collection: collection.code, id: id)
        guard let current = try reader.state(of: key), !current.isDeleted else {
            throw CoreError(.notFound, "there is no \(collection.name) \(id) on this node")
        }
        try checkDepartment(current.department, collection: collection, id: id)
        try check(WritePolicy.operationDenial(writer.role, .resolve, collection))
        let value = try parse(input, spec, in: collection)
        try check(WritePolicy.fieldDenial(writer.role, collection, spec, value: value))
        // The value first, as every receiver judges it, then whether there is a conflict.
        try checkDepartmentField([(spec, .set, value)], department: current.department, collection: collection, id: id)
        try checkReference(spec, value, from: (collection.name, id, current.department), reader: reader)
        try checkValues(collection, id: id, [(spec, .set, value)], current: current, reader: reader)
        let versions = current.versions(of: spec.code)
        guard versions.count > 1, spec.rule != .orset else {
            throw CoreError(.nothingToResolve,
                "\(collection.name) \(id) has no conflict on \(spec.name); change it with `sitesync record put` instead")
        }
        let tag = Self.tag(for: value, spec: spec, versions: versions)
        return LocalEdit(record: key, department: current.department,
                         body: .upsert([.assign(spec.code, value, tag: tag, supersede: true)]))
    }

    // MARK: - Checks

    func collection(named name: String) throws -> CollectionSpec {
        guard let collection = schema.collection(named: name) else {
            throw CoreError(.unknownCollection,
                "unknown collection '\(name)'; the collections are \(schema.collectionNames.joined(separator: ", "))")
        }
        return collection
    }

    func field(_ name: String, in collection: CollectionSpec) throws -> FieldSpec {
        guard let spec = collection.field(named: name) else {
            throw CoreError(.unknownField,
                "\(collection.name) has no field '\(name)'; its fields are \(collection.fields.map(\.name).joined(separator: ", "))")
        }
        return spec
    }

    /// Throws the write policy's denial, as the ``CoreError`` a person sees.
    func check(_ denial: WriteDenial?) throws {
        if let denial { throw CoreError(denial) }
    }

    /// The collection's own rules (``WritePolicy/collectionDenial(_:_:)``), and one rule only a
    /// node's own writes have: the hub's records (refusals) are written by the hub's software
    /// as it refuses changes, never by hand, not even at the hub.
    func checkCollectionWritable(_ collection: CollectionSpec) throws {
        try check(WritePolicy.collectionDenial(writer.role, collection))
        if collection.kind == .hubOnly {
            throw CoreError(.permissionDenied, "\(collection.name) records are written by the hub itself, not by hand")
        }
    }

    /// The value typed for a field; a value a plan field cannot take, typed at a node that may
    /// not write the plan anyway, is answered with the policy's reason rather than the value's.
    func parse(_ input: FieldAssignment.Input, _ spec: FieldSpec, in collection: CollectionSpec) throws -> FieldValue {
        do {
            return try spec.parse(input)
        } catch {
            try check(WritePolicy.fieldDenial(writer.role, collection, spec, value: nil))
            throw error
        }
    }

    /// The value rules (``ValueRules``) on the record as this write would leave it: the values
    /// given, over the values it holds.
    func checkValues(_ collection: CollectionSpec, id: String, _ values: [(FieldSpec, FieldAssignment.Operation, FieldValue)],
                     current: RecordState?, reader: some RecordReader) throws {
        let given = Dictionary(values.filter { $0.1 == .set }.map { ($0.0.name, $0.2) }) { a, _ in a }
        try check(ValueRules.denial(collection, id: id, value: { spec in given[spec.name] ?? current?.value(of: spec) ?? .null },
                                    written: Set(values.map(\.0.name)), schema: schema, lookup: { try reader.state(of: $0) }))
    }

    func checkDepartment(_ department: String, collection: CollectionSpec, id: String) throws {
        guard writer.role.isDepartmentBound, department != writer.department else { return }
        throw CoreError(WriteDenial(.forbiddenDepartment,
            "\(collection.name) \(id) belongs to \(department.isEmpty ? "shared reference data" : "department \(department)"); "
            + "this \(writer.role.rawValue) node writes only department \(writer.department)"))
    }

    /// A record's `department` field says the department it belongs to, which a write never
    /// changes: a value for it must be the record's (every receiver refuses it otherwise,
    /// ``WritePolicy/refusal(for:by:held:schema:referrers:)``).
    func checkDepartmentField(_ values: [(FieldSpec, FieldAssignment.Operation, FieldValue)], department: String,
                              collection: CollectionSpec, id: String) throws {
        guard let value = values.first(where: { $0.0.name == "department" })?.2,
              value != .text(department), value != .symbol(department), value != .ref(department) else { return }
        throw CoreError(WriteDenial(.forbiddenDepartment,
            "\(collection.name) \(id) belongs to \(department.isEmpty ? "shared reference data" : "department \(department)") and cannot "
            + "move to \(value.displayText): make a new record in that department instead"))
    }

    /// A reference must name a record this node holds, of a department the record may point
    /// into (``ReferencePolicy``): the same rule every receiver applies.
    func checkReference(_ spec: FieldSpec, _ value: FieldValue, from record: (collection: String, id: String, department: String)?,
                        reader: some RecordReader) throws {
        guard case .ref(let target) = spec.type, case .ref(let id) = value,
              let targetCollection = schema.collection(named: target) else { return }
        guard let state = try reader.state(of: RecordKey(collection: targetCollection.code, id: id)), !state.isDeleted else {
            throw CoreError(.notFound,
                "\(spec.name) refers to \(target) '\(id)', which is not on this node: create it first, or sync to receive it")
        }
        guard let record, target != "department",
              let refusal = ReferencePolicy.refusal(Dot(replica: ReplicaID(rawValue: 1), counter: 1), what: "\(record.collection) \(record.id)",
                                                    field: spec.name, target: target, targetID: id, department: record.department,
                                                    targetDepartment: state.department) else { return }
        throw CoreError(.permissionDenied, refusal.reason)
    }

    // MARK: - Building writes

    func resolveID(_ id: String?, collection: CollectionSpec, values: [(FieldSpec, FieldAssignment.Operation, FieldValue)]) throws -> String {
        if let naturalKey = collection.naturalKey {
            let parts = naturalKey.map { name in values.first { $0.0.name == name }?.2 }
            if parts.allSatisfy({ $0 != nil && !$0!.isNull }) {
                let natural = RecordID.natural(collection: collection.name, key: parts.map { $0!.displayText })
                if let id, id != natural {
                    throw CoreError(.invalidRecordID,
                        "\(collection.name) ids come from \(naturalKey.joined(separator: " and ")) so that devices agree on them: "
                        + "this record's id is \(natural) (or write `new`)")
                }
                return natural
            }
            if id == nil {
                throw CoreError(.missingField, "a new \(collection.name) needs \(naturalKey.joined(separator: " and ")), which make its id")
            }
        }
        guard let id else { return RecordID.random() }
        try RecordID.validate(id)
        return id
    }

    func newRecordDepartment(
        _ collection: CollectionSpec, _ values: [(FieldSpec, FieldAssignment.Operation, FieldValue)], reader: some RecordReader
    ) throws -> String {
        switch collection.scope {
        case .shared:
            return ""
        case .field(let name):
            guard let value = values.first(where: { $0.0.name == name })?.2, !value.isNull else {
                throw CoreError(.missingField, "a new \(collection.name) needs \(name)")
            }
            try DepartmentCode.validate(value.displayText)
            return value.displayText
        case .fieldOrShared(let name):
            guard let value = values.first(where: { $0.0.name == name })?.2, !value.isNull else { return "" }
            try DepartmentCode.validate(value.displayText)
            return value.displayText
        case .inherited(let name, let optional):
            let value = values.first(where: { $0.0.name == name })?.2 ?? .null
            guard case .ref(let id) = value else {
                if optional { return writer.department }
                throw CoreError(.missingField, "a new \(collection.name) needs \(name)")
            }
            guard case .ref(let target) = collection.field(named: name)?.type,
                  let targetCollection = schema.collection(named: target),
                  let parent = try reader.state(of: RecordKey(collection: targetCollection.code, id: id)), !parent.isDeleted else {
                throw CoreError(.notFound,
                    "\(name) refers to '\(id)', which is not on this node: create it first, or sync to receive it")
            }
            return parent.department
        }
    }

    func fieldWrite(
        _ spec: FieldSpec, _ operation: FieldAssignment.Operation, _ value: FieldValue,
        versions: ArraySlice<FieldVersion>, live: Bool, recordID: String
    ) throws -> FieldWrite? {
        if spec.rule == .orset {
            let present = Set(Self.elements(of: versions))
            let given: [String]
            if case .set(let elements) = value { given = elements } else { given = [] }
            switch operation {
            case .set:
                let target = Set(given)
                let add = target.subtracting(present).sorted(), remove = present.subtracting(target).sorted()
                if add.isEmpty && remove.isEmpty { return nil }
                return FieldWrite(field: spec.code, .updateSet(add: add, remove: remove))
            case .add:
                let add = Set(given).subtracting(present).sorted()
                return add.isEmpty ? nil : FieldWrite(field: spec.code, .updateSet(add: add, remove: []))
            case .remove:
                let absent = Set(given).subtracting(present)
                if !absent.isEmpty {
                    throw CoreError(.invalidValue, "\(spec.name) does not hold \(absent.sorted().joined(separator: ", "))")
                }
                return given.isEmpty ? nil : FieldWrite(field: spec.code, .updateSet(add: [], remove: given))
            }
        }
        if spec.rule == .immutable, live, let current = spec.resolve(versions).winner, !current.value.isNull {
            if current.value == value && versions.count == 1 { return nil }
            if current.value != value {
                throw CoreError(.immutableField,
                    "\(spec.name) of \(recordID) is set once and cannot be changed (it is \(current.value.displayText))")
            }
        }
        let tag = Self.tag(for: value, spec: spec, versions: versions)
        if versions.count == 1, let only = versions.first, only.value == value, only.tag == tag { return nil }
        return .assign(spec.code, value, tag: tag, supersede: !live)
    }

    /// The epoch or cycle a new value of an `emax` or `state` field needs: unchanged when the
    /// value rises, one more when it goes backwards (a correction or a reopening), so that the
    /// deliberate step back wins over concurrent forward steps of the previous epoch.
    public static func tag(for value: FieldValue, spec: FieldSpec, versions: some RandomAccessCollection<FieldVersion>) -> UInt32 {
        guard spec.rule == .emax || spec.rule == .state, let winner = spec.resolve(versions).winner else { return 0 }
        if !winner.value.isNull, FieldValue.rankOrder(value, winner.value, type: spec.type) {
            return winner.tag + 1
        }
        return winner.tag
    }

    static func elements(of versions: some Collection<FieldVersion>) -> [String] {
        Set(versions.compactMap { version -> String? in
            if case .text(let element) = version.value { return element }
            return nil
        }).sorted()
    }
}
