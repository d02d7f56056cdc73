/// Why a receiver refused one change (protocol/README.md, "Refusals").
public enum RefusalCode: String, Sendable, CaseIterable, Codable {
    /// A record of another department, from a node bound to its own.
    case forbiddenDepartment = "forbidden-department"
    /// A plan field, or the creation or deletion of a plan record, from a node whose role does
    /// not write the plan.
    case planField = "plan-field"
    /// A hub-owned collection, from a node that is not the hub or the office.
    case hubOwned = "hub-owned"
    /// An approval, from a field node; a department's act (a stage-gate proposal) from a field
    /// node; the central office's decision on one from a field or department node.
    case approval = "approval"
    /// Anything, from an auditor.
    case readOnly = "read-only"
    /// A change whose origin replica is not the sending node's, and whose origin is not on the
    /// allow-list.
    case foreignActor = "foreign-actor"
    /// A change that could only apply on top of a change refused earlier.
    case dependsOnRefused = "depends-on-refused"
    /// A change or deletion of an append-only entry (a quantity, a cost, a KPI reading): entries
    /// are corrected by new entries, never rewritten or removed.
    case appendOnly = "append-only"
    /// The deletion of a record other records refer to (a project with entries, an activity
    /// with quantities): it would take them out of the figures without a trace.
    case referenced = "referenced"
    /// A change id this receiver holds with other content, or a later change of that origin:
    /// the sender's database was restored from an old copy behind its back. The sender must
    /// take a new replica id and re-issue its work under it.
    case reusedID = "reused-id"
    /// A value a record may not hold (``ValueRules``): a negative budget or cost, dates out of
    /// order, a KPI reading outside its KPI's range, a percent complete on an activity measured
    /// by quantity.
    case invalidValue = "invalid-value"
    /// A reference to a record the hub holds deleted (the deletion reached it first; the writer
    /// still held the record): taken, the new record would count in no figure.
    case deletedTarget = "deleted-target"

    /// The refusals a hub publishes as `refusal` records (so every replica retracts the change).
    /// A reused id is not one of them: the content held for that id stands.
    public static let published: [RefusalCode] = [
        .forbiddenDepartment, .planField, .hubOwned, .approval, .readOnly, .foreignActor, .dependsOnRefused, .appendOnly, .referenced,
        .invalidValue, .deletedTarget,
    ]
}
/// A change a receiver refused: answered to the sender, stored nowhere.
public struct Refusal: Hashable, Sendable, CustomStringConvertible {
    public let dot: Dot
    public let code: RefusalCode
    public let reason: String

    public init(dot: Dot, code: RefusalCode, reason: String) {
        self.dot = dot
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(dot) \(code.rawValue): \(reason)" }
}


/// What a write does to a record, as the write policy tells writes apart.
public enum WriteOperation: String, Sendable, CaseIterable, Codable {
    /// A record the writer (or the receiver) holds no live copy of: new, or deleted before.
    case create
    /// New values for fields of a live record.
    case update
    /// A tombstone.
    case delete
    /// A value that supersedes every concurrent value of a field (`sitesync resolve`).
    case resolve

    /// The operation `change` is for a receiver holding `held` (`nil` or empty when it has
    /// never seen the record): a deletion is `delete`; an upsert of a record it holds no live
    /// copy of is `create`; a write that supersedes concurrent values of a live record is
    /// `resolve`; anything else `update`.
    public static func of(_ change: Change, held: RecordState?) -> WriteOperation {
        guard case .upsert(let writes) = change.body else { return .delete }
        guard let held, !held.isEmpty, !held.isDeleted else { return .create }
        let supersedes = writes.contains { write in
            if case .assign(_, _, true) = write.operation { return true }
            return false
        }
        return supersedes ? .resolve : .update
    }
}

/// Why a write may not be made: a refusal code and a reason that reads the same to the person
/// whose write is stopped at their own node and in the refusal a receiver publishes.
public struct WriteDenial: Hashable, Sendable {
    public let code: RefusalCode
    public let reason: String

    public init(_ code: RefusalCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

extension CollectionSpec {
    /// Whether the records themselves are the plan (department, project, goal, activity, kpi):
    /// a collection with plan fields, other than the hub's own records. Only office and hub
    /// nodes create and delete them; other roles may write only their non-plan fields.
    public var isPlanRecord: Bool { kind != .hubOnly && fields.contains(where: \.isPlan) }
}

extension Schema {
    /// Every `ref` field that points into `collection`: where records referring to one of its
    /// records are found.
    public func referringFields(to collection: CollectionSpec) -> [(collection: CollectionSpec, field: FieldSpec)] {
        collections.flatMap { source in
            source.fields.compactMap { field -> (CollectionSpec, FieldSpec)? in
                guard case .ref(let target) = field.type, target == collection.name else { return nil }
                return (source, field)
            }
        }
    }
}

/// Who may write what (docs/design.md §2; protocol §16.3): the one table of role × collection ×
/// field × operation that both a node's own writes (``LocalWritePlanner``) and every receiver
/// (``ChangeAuthorizer``) apply, so that what a node lets its user write is exactly what its
/// hub takes. A receiver applies it to the authenticated role and department of the change's
/// origin, never to what the change claims.
///
/// First match wins: `read-only`, `hub-owned`, then the department rules (`forbidden-department`,
/// not part of the table: they compare the writer's department with the record's), then
/// `append-only`, `plan-field` and `approval`, and last `referenced`, which depends on what
/// the store holds.
public enum WritePolicy {
    /// State values only a `department`, `office` or `hub` node may set (approvals).
    public static let approvals: [String: [String: Set<String>]] = [
        "daily_log": ["status": ["approved"]],
        "activity": ["status": ["accepted"]],
    ]

    /// Collections that are a department's acts (a stage-gate proposal, docs/design.md §14):
    /// `department`, `office` and `hub` nodes write them, a `field` node nothing of them.
    public static let departmentActs: Set<String> = ["stage_transition"]

    /// Fields of a non-plan collection that only `office` and `hub` nodes write: the central
    /// office's decision on a department's proposal (approved or returned, by whom, when, why).
    public static let officeDecisions: [String: Set<String>] = [
        "stage_transition": ["decision", "decided_by", "decided_at", "reason"],
    ]

    /// Fields only `office` and `hub` nodes write, in collections every role writes: the
    /// office's answer to a suggestion (docs/design.md §15). Not plan fields, so a site may
    /// still create the record; refused as `hub-owned` to anyone else.
    public static let officeFields: [String: Set<String>] = [
        "suggestion": ["status", "reply", "answered_on", "answered_by"],
    ]

    /// What to write instead of a retired field.
    public static let retiredInstead: [String: String] = [
        "activity.percent_complete": "a percentage is true as of a day, so it is a dated entry now "
            + "(`sitesync progress ACTIVITY --percent N --date YYYY-MM-DD`, or a percent_entry record)",
    ]

    // MARK: - The table

    /// The rules of the collection itself, whatever the operation: auditors write nothing,
    /// hub-owned collections are the office's and the hub's, the hub-only one the hub's.
    public static func collectionDenial(_ role: Role, _ collection: CollectionSpec) -> WriteDenial? {
        if role == .auditor {
            return WriteDenial(.readOnly, "auditor nodes read everything and write nothing")
        }
        if collection.kind == .hubOnly, role != .hub {
            return WriteDenial(.hubOwned, "\(collection.name) records are written only by the hub itself")
        }
        if role == .field, departmentActs.contains(collection.name) {
            return WriteDenial(.approval, "\(collection.name) records are a department's proposals and the central office's decisions: "
                + "field nodes do not write them; ask your department office to propose (`sitesync project propose`)")
        }
        if collection.kind == .hubOwned, !role.writesPlan {
            return WriteDenial(.hubOwned,
                "\(collection.name) is hub-owned: only office and hub nodes write it; ask the central office to make this change")
        }
        return nil
    }

    /// The rules of the operation on a record of the collection: entries are only ever added,
    /// and plan records are created and deleted only by the office and the hub.
    public static func operationDenial(_ role: Role, _ operation: WriteOperation, _ collection: CollectionSpec) -> WriteDenial? {
        if collection.kind == .appendOnly, operation != .create {
            return WriteDenial(.appendOnly, "\(collection.name) entries are append-only and are never changed or deleted: "
                + "add a correcting entry (for example a negative quantity) instead")
        }
        if departmentActs.contains(collection.name), operation == .delete, !role.writesPlan {
            return WriteDenial(.approval, "\(collection.name) records say who proposed and decided what, and when: only office and hub "
                + "nodes delete one; ask the central office to return the proposal instead")
        }
        if collection.isPlanRecord, !role.writesPlan, operation == .create || operation == .delete {
            let what = operation == .create
                ? "a new \(collection.name) sets plan fields: only office and hub nodes create \(collection.name) records"
                : "\(collection.name) records are the plan: only office and hub nodes delete them"
            return WriteDenial(.planField, what + "; ask the central office to change the plan")
        }
        return nil
    }

    /// The rules of one field written (created, updated or resolved) to `value` (`nil`: any).
    public static func fieldDenial(_ role: Role, _ collection: CollectionSpec, _ field: FieldSpec, value: FieldValue?) -> WriteDenial? {
        if field.isRetired {
            return WriteDenial(.invalidValue, "\(collection.name).\(field.name) is retired and written by no one"
                + (retiredInstead[collection.name + "." + field.name].map { ": \($0)" } ?? ""))
        }
        if field.isPlan, !role.writesPlan {
            return WriteDenial(.planField,
                "\(collection.name).\(field.name) is a plan field: only office and hub nodes write it; ask the central office to change the plan")
        }
        if !role.writesPlan, officeDecisions[collection.name]?.contains(field.name) == true {
            return WriteDenial(.approval, "\(collection.name).\(field.name) is the central office's decision: only office and hub nodes "
                + "approve or return a proposal; it reaches this node when it syncs")
        }
        if !role.writesPlan, officeFields[collection.name]?.contains(field.name) == true {
            return WriteDenial(.hubOwned,
                "\(collection.name).\(field.name) is the central office's answer: only office and hub nodes write it")
        }
        if role == .field, case .symbol(let state)? = value, approvals[collection.name]?[field.name]?.contains(state) == true {
            return WriteDenial(.approval,
                "setting \(collection.name).\(field.name) to \(state) is an approval: only department, office and hub nodes may do it")
        }
        return nil
    }

    /// One cell of the table: may `role` do `operation` on a record of `collection` (writing
    /// `field` to `value`, for a create, update or resolve)? `nil` when it may.
    public static func denial(_ role: Role, _ operation: WriteOperation, _ collection: CollectionSpec,
                              field: FieldSpec? = nil, value: FieldValue? = nil) -> WriteDenial? {
        if let denial = collectionDenial(role, collection) ?? operationDenial(role, operation, collection) { return denial }
        guard operation != .delete, let field else { return nil }
        return fieldDenial(role, collection, field, value: value)
    }

    /// A record other records refer to is never deleted, by anyone: its referrers would drop
    /// out of the figures with it, silently. `referrers` counts the live records referring to
    /// it, by collection name.
    public static func referencedDenial(_ collection: CollectionSpec, id: String, referrers: [String: Int]) -> WriteDenial? {
        let counts = referrers.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        guard !counts.isEmpty else { return nil }
        let listed = counts.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let instead = switch collection.name {
        case "project": "close it instead (`sitesync record put project \(id) stage=closed`): a closed project keeps its figures"
        case "activity": "it stays in its project's figures: correct its entries with counter-entries, or close its project "
            + "(stage=closed) instead"
        default: "point those records elsewhere first, or keep it"
        }
        return WriteDenial(.referenced,
            "\(collection.name) \(id) cannot be deleted: records refer to it (\(listed)) and would drop out of the figures with it; \(instead)")
    }

    // MARK: - At a receiver

    /// Why `writer` may not have made `change`, or `nil` when it may.
    /// - Parameters:
    ///   - held: the record as the receiver holds it (`nil` or empty when never seen).
    ///   - referrers: counts the live records referring to a record, by collection, as the
    ///     receiver holds them; given by the hub, whose word is final, to refuse the deletion
    ///     of a record in use. `nil` at a receiver that does not decide this.
    public static func refusal(for change: Change, by writer: WriterIdentity, held: RecordState?, schema: Schema,
                               referrers: ((RecordKey) throws -> [String: Int])? = nil) throws -> Refusal? {
        func refuse(_ denial: WriteDenial) -> Refusal { Refusal(dot: change.dot, code: denial.code, reason: denial.reason) }
        guard let collection = schema.collection(code: change.record.collection) else { return nil }
        let what = "\(collection.name) \(change.record.id)"
        if let denial = collectionDenial(writer.role, collection) { return refuse(denial) }
        let recordDepartment = held.flatMap { $0.isEmpty ? nil : $0.department }
        if let recordDepartment, recordDepartment != change.department {
            return refuse(WriteDenial(.forbiddenDepartment,
                "\(what) belongs to \(name(recordDepartment)), but the change claims \(name(change.department))"))
        }
        if writer.role.isDepartmentBound, change.department != writer.department {
            return refuse(WriteDenial(.forbiddenDepartment,
                "\(what) belongs to \(name(change.department)); this \(writer.role.rawValue) node writes only department \(writer.department)"))
        }
        let operation = WriteOperation.of(change, held: held)
        if let denial = operationDenial(writer.role, operation, collection) { return refuse(denial) }
        guard case .upsert(let writes) = change.body else {
            guard let referrers, let denial = referencedDenial(collection, id: change.record.id, referrers: try referrers(change.record)) else {
                return nil
            }
            return refuse(denial)
        }
        for write in writes {
            guard let spec = collection.field(code: write.field) else { continue }
            var value: FieldValue?
            if case .assign(let assigned, _, _) = write.operation { value = assigned }
            if let denial = fieldDenial(writer.role, collection, spec, value: value) { return refuse(denial) }
            if spec.name == "department", let value, value != .text(change.department),
               value != .symbol(change.department), value != .ref(change.department) {
                return refuse(WriteDenial(.forbiddenDepartment, "\(what): the department field disagrees with the change's department"))
            }
        }
        return nil
    }

    static func name(_ department: String) -> String {
        department.isEmpty ? "shared reference data" : "department \(department)"
    }
}

/// Where a record may point (protocol §16.3): a reference is authorized by the department of
/// what it points at. A record may point at a record of its own department, at shared reference
/// data, or at a department (the city's tree of departments); never into another department,
/// whoever writes it — an entry of roads at an activity of parks would move parks' figures at
/// every replica that holds both, and at none of parks' own nodes.
public enum ReferencePolicy {
    /// The records `change` points at, each with the collection it must be in.
    public static func targets(of change: Change, schema: Schema) -> [(field: String, key: RecordKey)] {
        guard case .upsert(let writes) = change.body, let collection = schema.collection(code: change.record.collection) else { return [] }
        return writes.compactMap { write in
            guard let spec = collection.field(code: write.field), case .ref(let target) = spec.type,
                  case .assign(.ref(let id), _, _) = write.operation, let targetCollection = schema.collection(named: target),
                  target != "department" else { return nil }
            return (spec.name, RecordKey(collection: targetCollection.code, id: id))
        }
    }

    /// Why a change may not point at a record the hub holds deleted: a deletion it took before
    /// this change arrived (made concurrently: the writer still held the record). Taken, the
    /// record would count nowhere — an entry of a deleted activity is in no project's figures —
    /// so it is refused, and its writer shown why.
    public static func deletedTargetRefusal(_ dot: Dot, what: String, field: String, target: String, targetID: String) -> Refusal {
        Refusal(dot: dot, code: .deletedTarget, reason:
            "\(what): \(field) points at \(target) \(targetID), which was deleted before this change reached the hub, so it would count "
            + "in no figure; write it again against a \(target) that exists (`sitesync sync` shows the plan as it stands)")
    }

    /// Why a record of `department` may not point at a record of `targetDepartment`, or `nil`.
    public static func refusal(_ dot: Dot, what: String, field: String, target: String, targetID: String,
                               department: String, targetDepartment: String) -> Refusal? {
        guard targetDepartment != department, !targetDepartment.isEmpty else { return nil }
        return Refusal(dot: dot, code: .forbiddenDepartment, reason:
            "\(what): \(field) points at \(target) \(targetID) of department \(targetDepartment), but the record belongs to "
            + (department.isEmpty ? "shared reference data" : "department \(department)")
            + "; a record may point only at records of its own department or at shared reference data")
    }
}
