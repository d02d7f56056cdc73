/// Why a receiver refused one change (protocol/README.md, "Refusals").
public enum RefusalCode: String, Sendable, CaseIterable, Codable {
    /// A record of another department, from a node bound to its own.
    case forbiddenDepartment = "forbidden-department"
    /// A plan field, from a node whose role does not write the plan.
    case planField = "plan-field"
    /// A hub-owned collection, from a node that is not the hub or the office.
    case hubOwned = "hub-owned"
    /// An approval, from a field node.
    case approval = "approval"
    /// Anything, from an auditor.
    case readOnly = "read-only"
    /// A change whose origin replica is not the sending node's, and whose origin is not on the
    /// allow-list.
    case foreignActor = "foreign-actor"
    /// A change that could only apply on top of a change refused earlier.
    case dependsOnRefused = "depends-on-refused"
    /// A change id this receiver holds with other content, or a later change of that origin:
    /// the sender's database was restored from an old copy behind its back. The sender must
    /// take a new replica id and re-issue its work under it.
    case reusedID = "reused-id"

    /// The refusals a hub publishes as `refusal` records (so every replica retracts the change).
    /// A reused id is not one of them: the content held for that id stands.
    public static let published: [RefusalCode] = [
        .forbiddenDepartment, .planField, .hubOwned, .approval, .readOnly, .foreignActor, .dependsOnRefused,
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

/// Who may write what (DESIGN §1), applied by a receiver to each change according to the
/// authenticated role and department of the change's origin, never to what the change claims.
/// The same rules ``LocalWritePlanner`` applies before a local write.
public enum WritePolicy {
    /// Why `writer` may not have made `change`, or `nil` when it may.
    /// - Parameter recordDepartment: the department of the record as the receiver holds it
    ///   (`nil` for a record it has never seen).
    public static func refusal(for change: Change, by writer: WriterIdentity, recordDepartment: String?, schema: Schema) -> Refusal? {
        func refuse(_ code: RefusalCode, _ reason: String) -> Refusal { Refusal(dot: change.dot, code: code, reason: reason) }
        guard let collection = schema.collection(code: change.record.collection) else { return nil }
        let what = "\(collection.name) \(change.record.id)"
        if writer.role == .auditor {
            return refuse(.readOnly, "\(what): auditor nodes write nothing")
        }
        if collection.kind == .hubOwned, !writer.role.writesPlan {
            return refuse(.hubOwned, "\(what): \(collection.name) is hub-owned; only office and hub nodes write it")
        }
        if collection.kind == .hubOnly, writer.role != .hub {
            return refuse(.hubOwned, "\(what): only the hub writes \(collection.name) records")
        }
        if let recordDepartment, recordDepartment != change.department {
            return refuse(.forbiddenDepartment,
                "\(what) belongs to \(name(recordDepartment)), but the change claims \(name(change.department))")
        }
        if writer.role.isDepartmentBound, change.department != writer.department {
            return refuse(.forbiddenDepartment,
                "\(what) belongs to \(name(change.department)); this \(writer.role.rawValue) node writes only department \(writer.department)")
        }
        guard case .upsert(let writes) = change.body else { return nil }
        for write in writes {
            guard let spec = collection.field(code: write.field) else { continue }
            if spec.isPlan, !writer.role.writesPlan {
                return refuse(.planField, "\(collection.name).\(spec.name) is a plan field; only office and hub nodes write it")
            }
            if spec.name == "department", case .assign(let value, _, _) = write.operation, value != .text(change.department),
               value != .symbol(change.department), value != .ref(change.department) {
                return refuse(.forbiddenDepartment, "\(what): the department field disagrees with the change's department")
            }
            if writer.role == .field, case .assign(.symbol(let state), _, _) = write.operation,
               LocalWritePlanner.approvals[collection.name]?[spec.name]?.contains(state) == true {
                return refuse(.approval,
                    "setting \(collection.name).\(spec.name) to \(state) is an approval; only department, office and hub nodes may")
            }
        }
        return nil
    }

    private static func name(_ department: String) -> String {
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
