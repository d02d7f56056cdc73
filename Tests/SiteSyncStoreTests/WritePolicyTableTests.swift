import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// One write policy (protocol §16.3): every cell of the table — every role × every collection ×
/// every field (every value of an enumeration) × every operation, and the deletion of a record
/// something refers to — is decided alike by the writer's own node and by the hub receiving the
/// same change over the wire, with the same code; and both say what ``WritePolicy`` says.
///
/// The change the hub receives is the one the node made when its planner allowed it, and
/// otherwise the same change written straight into the node's store, bypassing the planner (as
/// a crafted client or a node with a forged local role could).
@Suite struct WritePolicyTableTests {
    typealias Member = AuthorizationTests.Member

    /// One cell: a role doing an operation on a record of a collection (writing a field to a
    /// value), on a record of its own that no other cell touches.
    struct Cell: CustomStringConvertible {
        let role: Role
        let collection: CollectionSpec
        let operation: WriteOperation
        /// The field written and its input (none for a deletion).
        let field: FieldSpec?
        let input: String?
        /// The record referring to the target, for a deletion of a record in use.
        let referrer: (collection: CollectionSpec, field: FieldSpec)?
        let id: String

        var description: String {
            "\(role.rawValue) \(operation.rawValue) \(collection.name)" + (field.map { ".\($0.name)=\(input ?? "")" } ?? "")
                + (referrer.map { " referred to by \($0.collection.name).\($0.field.name)" } ?? "")
        }

        /// What the table says, on a record nothing else refers to unless `referrer` is given.
        var expected: RefusalCode? {
            WritePolicy.denial(role, operation, collection, field: field, value: field.flatMap { try? $0.parse(.text(input ?? "")) })?.code
                ?? (referrer == nil ? nil : .referenced)
        }
    }

    static let schema = Schema.siteSync

    /// A valid input for `field` of a record of roads; `n` makes dates and months (and so natural keys) distinct.
    static func input(_ field: FieldSpec, _ n: Int, alternative: Bool = false) -> String {
        switch field.type {
        // A department written as text (a suggestion's, its scope) is the record's own.
        case .text where field.name == "department": return "roads"
        // A name may be a natural key (a template's): one per cell, so no two cells share a record.
        case .text where field.name == "name": return (alternative ? "other-" : "text-") + String(n)
        // A counter in a natural key (a baseline's number, a stage proposal's attempt): one per
        // cell too.
        case .int where ["number", "attempt"].contains(field.name) && !alternative: return String(1 + n)
        // A plan period (a goal's target): months, one per cell.
        case .text where field.constraint == .period: return String(format: "%04d-%02d", 2026 + n / 12, 1 + n % 12)
        case .text: return field.constraint == .yearMonth ? String(format: "%04d-%02d", 2026 + n / 12, 1 + n % 12) : (alternative ? "other" : "text")
        case .int:
            if case .intRange(let low, let high) = field.constraint { return String(alternative ? high : low) }
            return alternative ? "7" : "5"
        case .decimal: return alternative ? "70" : "50"
        case .date: return String(format: "%04d-%02d-%02d", 2026 + n / 336, 1 + n / 28 % 12, 1 + n % 28)
        case .enumeration(let cases): return cases[alternative ? cases.count - 1 : 0]
        case .set: return alternative ? "b" : "a"
        case .ref(let target): return ["department": "roads", "project": "p1", "goal": "g1", "activity": "a1", "kpi": "k1", "staff": "s1",
                                           "objective": "o1"][target]!
        }
    }

    /// The inputs a cell writes to `field`: every case of an enumeration, otherwise another value.
    static func inputs(_ field: FieldSpec, _ n: Int) -> [String] {
        if case .enumeration(let cases) = field.type { return cases }
        // Far from the dates of the records the cells create, so that no natural key repeats.
        return [input(field, 20_000 + n, alternative: true)]
    }

    /// The assignments creating a record of roads: its required fields and the field its
    /// department comes from, then `extra`.
    static func creation(_ collection: CollectionSpec, _ n: Int, extra: [(String, String)] = []) -> [FieldAssignment] {
        var scopeField: String?
        if case .inherited(let name, _) = collection.scope { scopeField = name }
        // A record that may be shared or a department's is made roads' too, like every other.
        if case .fieldOrShared(let name) = collection.scope { scopeField = name }
        var values = collection.fields.filter { $0.isRequired || $0.name == scopeField }.map { ($0.name, input($0, n)) }
        // Activities are measured by percentage, so that percent entries may point at them.
        if collection.name == "activity" { values.append(("ev_method", "manual")) }
        for (name, value) in extra {
            values.removeAll { $0.0 == name }
            values.append((name, value))
        }
        return values.map { FieldAssignment(field: $0.0, input: .text($0.1)) }
    }

    static func department(of collection: CollectionSpec) -> String { collection.scope == .shared ? "" : "roads" }

    /// The write a cell stands for, as a change body on a record holding what creation gave it.
    static func body(_ cell: Cell, _ n: Int) throws -> Change.Body {
        func write(_ field: FieldSpec, _ input: String, supersede: Bool) throws -> FieldWrite {
            let value = try field.parse(.text(input))
            if field.rule == .orset, case .set(let elements) = value { return FieldWrite(field: field.code, .updateSet(add: elements, remove: [])) }
            return .assign(field.code, value, supersede: supersede)
        }
        switch cell.operation {
        case .delete:
            return .delete
        case .create:
            return .upsert(try creation(cell.collection, n, extra: [(cell.field!.name, cell.input!)]).map { assignment in
                guard case .text(let text) = assignment.input else { fatalError() }
                return try write(cell.collection.field(named: assignment.field)!, text, supersede: false)
            })
        case .update, .resolve:
            return .upsert([try write(cell.field!, cell.input!, supersede: cell.operation == .resolve)])
        }
    }

    static func cells() -> [Cell] {
        var cells: [Cell] = []
        for role in Role.allCases {
            for collection in schema.collections {
                for operation in WriteOperation.allCases {
                    if operation == .delete {
                        cells.append(Cell(role: role, collection: collection, operation: operation, field: nil, input: nil, referrer: nil,
                                          id: "c\(cells.count)"))
                        for referrer in schema.referringFields(to: collection) {
                            cells.append(Cell(role: role, collection: collection, operation: operation, field: nil, input: nil,
                                              referrer: referrer, id: "c\(cells.count)"))
                        }
                        continue
                    }
                    for field in collection.fields {
                        // A set is never resolved: concurrent additions and removals merge (add-wins).
                        if operation == .resolve, field.rule == .orset { continue }
                        for input in inputs(field, cells.count) {
                            cells.append(Cell(role: role, collection: collection, operation: operation, field: field, input: input,
                                              referrer: nil, id: "c\(cells.count)"))
                        }
                    }
                }
            }
        }
        return cells
    }

    @Test func aLocalWriteAndTheSameChangeAtTheHubAreDecidedAlikeInEveryCell() throws {
        let started = Date()
        let hub = try Member("hub", claims: (.hub, "office"), allowed: (.hub, "office"))
        let office = try Member("office", claims: (.office, "office"), allowed: (.office, "office"))
        let homes: [Role: String] = [.field: "roads", .department: "roads", .office: "office", .auditor: "audit", .hub: "office"]
        let writers = try Dictionary(uniqueKeysWithValues: Role.allCases.map { role in
            (role, try Member("\(role)-writer", claims: (role, homes[role]!), allowed: (role, homes[role]!)))
        })
        let members = [office] + Role.allCases.map { writers[$0]! }
        let cells = Self.cells()

        // The plan and every cell's own record, written by the office.
        var ids: [String: String] = [:]
        try office.store.writeLocally { session in
            let planner = office.replica.planner
            func put(_ collection: String, _ id: String?, _ assignments: [FieldAssignment]) throws -> String? {
                try session.write { try planner.planUpsert(collection: collection, id: id, assignments: assignments, reader: $0) }?.record.id
            }
            _ = try put("department", "roads", [FieldAssignment(field: "name", input: .text("Roads"))])
            _ = try put("project", "p1", Self.creation(Self.schema.collection(named: "project")!, 0))
            _ = try put("goal", "g1", Self.creation(Self.schema.collection(named: "goal")!, 0))
            _ = try put("activity", "a1", Self.creation(Self.schema.collection(named: "activity")!, 0))
            _ = try put("kpi", "k1", Self.creation(Self.schema.collection(named: "kpi")!, 0))
            _ = try put("staff", "s1", Self.creation(Self.schema.collection(named: "staff")!, 0))
            _ = try put("objective", "o1", Self.creation(Self.schema.collection(named: "objective")!, 0))
            for (n, cell) in cells.enumerated() where cell.operation != .create && cell.collection.kind != .hubOnly {
                let natural = cell.collection.naturalKey != nil
                ids[cell.id] = try put(cell.collection.name, natural ? nil : cell.id, Self.creation(cell.collection, n + 10))
                if let referrer = cell.referrer {
                    _ = try put(referrer.collection.name, referrer.collection.naturalKey != nil ? nil : cell.id + "-referrer",
                                Self.creation(referrer.collection, n + 5000, extra: [(referrer.field.name, ids[cell.id]!)]))
                }
            }
        }
        try AuthorizationTests.send(office, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, members, for: office))
        for role in Role.allCases { try AuthorizationTests.send(hub, to: writers[role]!, authorizer: nil) }

        // Each writer tries its cells locally; what its planner refuses is written all the same.
        var local: [String: CoreError?] = [:]
        var cellOfDot: [Dot: Cell] = [:]
        for role in Role.allCases {
            let writer = writers[role]!
            try writer.store.writeLocally { session in
                let planner = writer.replica.planner
                for (n, cell) in cells.enumerated() where cell.role == role {
                    let id = ids[cell.id] ?? cell.id
                    var made: Change?
                    do {
                        made = try session.write { reader in
                            switch cell.operation {
                            case .create:
                                return try planner.planUpsert(collection: cell.collection.name, id: cell.collection.naturalKey == nil ? id : nil,
                                                              assignments: Self.creation(cell.collection, n + 10, extra: [(cell.field!.name, cell.input!)]),
                                                              reader: reader)
                            case .update:
                                return try planner.planUpsert(collection: cell.collection.name, id: id,
                                                              assignments: [FieldAssignment(field: cell.field!.name, input: .text(cell.input!))], reader: reader)
                            case .resolve:
                                return try planner.planResolve(collection: cell.collection.name, id: id, field: cell.field!.name,
                                                               input: .text(cell.input!), reader: reader)
                            case .delete:
                                return try planner.planDelete(collection: cell.collection.name, id: id, reader: reader)
                            }
                        }
                        local[cell.id] = .some(nil)
                    } catch let error as CoreError {
                        local[cell.id] = error
                    }
                    // The hub's own records are written by its software, never by hand: not even
                    // the hub's planner takes them, though a change of the hub's is taken anywhere.
                    if role == .hub, cell.collection.kind == .hubOnly { continue }
                    if made == nil {
                        let key = RecordKey(collection: cell.collection.code, id: id)
                        let body = try Self.body(cell, n + 10)
                        made = try session.write { reader in
                            let department = try reader.state(of: key)?.department ?? Self.department(of: cell.collection)
                            return LocalEdit(record: key, department: department, body: body)
                        }
                    }
                    cellOfDot[made!.dot] = cell
                }
            }
        }

        var wire: [Dot: Refusal] = [:]
        for role in Role.allCases {
            let writer = writers[role]!
            for refusal in try AuthorizationTests.send(writer, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, members, for: writer)) {
                wire[refusal.dot] = refusal
            }
        }

        var checked = 0
        for (dot, cell) in cellOfDot.sorted(by: { $0.key < $1.key }) {
            let localCode = local[cell.id]!?.refusal
            #expect(localCode == wire[dot]?.code, "\(cell): locally \(localCode?.rawValue ?? "allowed"), at the hub \(wire[dot]?.code.rawValue ?? "allowed")")
            // A value rule (a state without its day) may refuse what the table allows: that the
            // node and the hub agree on it is checked above.
            if localCode != .invalidValue || cell.expected != nil {
                #expect(localCode == cell.expected, "\(cell): locally \(localCode?.rawValue ?? "allowed"), the table says \(cell.expected?.rawValue ?? "allowed")")
            }
            if let error = local[cell.id]!, error.refusal != nil, let refusal = wire[dot], refusal.code == error.refusal,
               refusal.code != .forbiddenDepartment {
                #expect(error.message == refusal.reason, "\(cell): the same reason at the node and at the hub")
            }
            checked += 1
        }
        // The one exception: the hub's records, which its planner never writes by hand.
        for cell in cells where cell.role == .hub && cell.collection.kind == .hubOnly {
            #expect(local[cell.id]!?.code == .permissionDenied && local[cell.id]!?.refusal == nil && cell.expected == nil, "\(cell)")
            checked += 1
        }
        #expect(checked == cells.count)
        #expect(cells.count > 1500, "every cell: \(cells.count)")
        #expect(Set(cells.compactMap(\.expected)) == [.readOnly, .hubOwned, .planField, .approval, .appendOnly, .referenced, .invalidValue])
        print("write policy table: \(cells.count) cells checked in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// What the issue saw: a field node deleted a project and an activity and closed a project,
    /// and its hub took it. Now its own node refuses, and so does the hub when the changes are
    /// written behind the planner's back; and no one deletes a project or an activity with
    /// entries, not even the office.
    @Test func aFieldNodeNeitherDeletesThePlanNorClosesAProjectAndNoOneDeletesARecordInUse() throws {
        let hub = try Member("hub", claims: (.hub, "office"), allowed: (.hub, "office"))
        let office = try Member("office", claims: (.office, "office"), allowed: (.office, "office"))
        let site = try Member("site", claims: (.field, "roads"), allowed: (.field, "roads"))
        let members = [office, site]
        try seedPlan(office.replica, sendTo: [])
        try office.replica.put("project", "p2", "code=R-002", "name=Spare", "department=roads")
        try AuthorizationTests.send(office, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, members, for: office))
        try AuthorizationTests.send(hub, to: site, authorizer: nil)
        try site.replica.put("quantity_entry", nil, "activity=a1", "date=2026-05-01", "quantity=10")

        for (collection, id) in [("project", "p1"), ("activity", "a1"), ("project", "p2")] {
            let error = try #require(throws: CoreError.self) { try site.replica.delete(collection, id) }
            #expect(error.refusal == .planField && error.message.contains("only office and hub nodes delete them"), "\(error)")
        }
        let closing = try #require(throws: CoreError.self) { try site.replica.put("project", "p1", "stage=closed") }
        #expect(closing.refusal == .planField && closing.message.contains("project.stage is a plan field"))

        let project = Self.schema.collection(named: "project")!, stage = project.field(named: "stage")!
        for edit in [LocalEdit(record: RecordKey(collection: project.code, id: "p2"), department: "roads", body: .delete),
                     LocalEdit(record: RecordKey(collection: project.code, id: "p1"), department: "roads",
                               body: .upsert([.assign(stage.code, .symbol("closed"))]))] {
            try site.store.write { _ in edit }
        }
        let refusals = try AuthorizationTests.send(site, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, members, for: site))
        #expect(refusals.map(\.code) == [.planField, .planField], "\(refusals)")
        #expect(try hub.store.records(in: Self.schema.collection(named: "refusal")!).count == 2, "both refusals are published")
        #expect(try hub.store.state(of: RecordKey(collection: project.code, id: "p2"))?.isDeleted == false, "the hub keeps the project")
        #expect(try hub.replica.value("project", "p1", "stage") == .null)

        // The office may delete a project nothing refers to, never one with activities or entries.
        try AuthorizationTests.send(hub, to: office, authorizer: nil)
        let inUse = try #require(throws: CoreError.self) { try office.replica.delete("activity", "a1") }
        #expect(inUse.refusal == .referenced && inUse.message.contains("records refer to it (1 quantity_entry)"), "\(inUse)")
        let project1 = try #require(throws: CoreError.self) { try office.replica.delete("project", "p1") }
        #expect(project1.refusal == .referenced && project1.message.contains("stage=closed"), "\(project1)")
        try office.replica.delete("project", "p2")
        let activity = Self.schema.collection(named: "activity")!
        try office.store.write { _ in LocalEdit(record: RecordKey(collection: activity.code, id: "a1"), department: "roads", body: .delete) }
        let officeRefusals = try AuthorizationTests.send(office, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, members, for: office))
        #expect(officeRefusals.map(\.code) == [.referenced], "\(officeRefusals)")
        #expect(try hub.replica.value("activity", "a1", "name") == .text("Earthworks"))
        #expect(try hub.store.state(of: RecordKey(collection: project.code, id: "p2"))?.isDeleted == true,
                "a project nothing refers to is deleted")
    }

    /// The race: the office deletes an activity it holds no entries of while a crew, offline,
    /// records a quantity on it. Whichever reaches the hub first, the entry never drops out of
    /// the figures silently: the entry first, and the deletion is refused (`referenced`); the
    /// deletion first, and the entry is refused (`deleted-target`), and its crew shown why.
    @Test func anEntryConcurrentWithItsActivitysDeletionNeverDropsOutSilently() throws {
        for entryFirst in [true, false] {
            let hub = try Member("hub", claims: (.hub, "office"), allowed: (.hub, "office"))
            let office = try Member("office", claims: (.office, "office"), allowed: (.office, "office"))
            let site = try Member("site", claims: (.field, "roads"), allowed: (.field, "roads"))
            let members = [office, site]
            try seedPlan(office.replica, sendTo: [])
            try AuthorizationTests.send(office, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, members, for: office))
            try AuthorizationTests.send(hub, to: site, authorizer: nil)
            try site.replica.put("quantity_entry", nil, "activity=a2", "date=2026-05-01", "quantity=10")
            try office.replica.delete("activity", "a2")
            let first = entryFirst ? site : office, second = entryFirst ? office : site
            let firstRefusals = try AuthorizationTests.send(first, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, members, for: first))
            let secondRefusals = try AuthorizationTests.send(second, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, members, for: second))
            #expect(firstRefusals.isEmpty)
            #expect(secondRefusals.map(\.code) == [entryFirst ? .referenced : .deletedTarget], "entry first: \(entryFirst): \(secondRefusals)")
            let activity = try #require(try hub.store.state(of: RecordKey(collection: Self.schema.collection(named: "activity")!.code, id: "a2")))
            let entries = try hub.store.records(in: Self.schema.collection(named: "quantity_entry")!)
            if entryFirst {
                #expect(!activity.isDeleted && entries.count == 1, "the activity stays, with its entry")
            } else {
                #expect(activity.isDeleted && entries.isEmpty, "the entry is withheld, not kept pointing nowhere")
                #expect(secondRefusals.first?.reason.contains("which was deleted before this change reached the hub") == true)
                // The crew learns of it: the refusal comes back to its node.
                try AuthorizationTests.send(hub, to: site, authorizer: nil)
                #expect(try site.store.rejectedChanges().contains { $0.code == .deletedTarget })
            }
        }
    }
}
