import Foundation
import SiteSyncCore
import SiteSyncTestSupport
import SiteSyncStore
import SiteSyncWire

/// A temporary directory removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// A store in a temporary directory, for tests (durability off: nothing here tests fsync).
struct TestReplica {
    let directory: TemporaryDirectory
    let store: ReplicaStore
    let planner: LocalWritePlanner

    init(name: String, role: Role = .office, department: String = "roads", key: NodeSecretKey = .generate(),
         clock: @escaping @Sendable () -> UInt64 = { 1_700_000_000_000 }) throws {
        directory = TemporaryDirectory()
        store = try ReplicaStore.create(at: directory.file("sitesync.db"), node: name, key: key,
                                        options: StoreOptions(durability: .off, wallClock: clock))
        planner = LocalWritePlanner(schema: .siteSync, writer: WriterIdentity(role: role, department: department))
    }

    /// `record put` in code: `put("activity", "a1", "name=Kerbs", "budget=12.5")`.
    @discardableResult
    func put(_ collection: String, _ id: String?, _ assignments: String...) throws -> Change? {
        try put(collection, id, assignments)
    }

    @discardableResult
    func put(_ collection: String, _ id: String?, _ assignments: [String]) throws -> Change? {
        let parsed = try assignments.map { try FieldAssignment(parsing: $0) }
        return try store.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
    }

    @discardableResult
    func delete(_ collection: String, _ id: String) throws -> Change? {
        try store.write { try planner.planDelete(collection: collection, id: id, reader: $0) }
    }

    @discardableResult
    func resolve(_ collection: String, _ id: String, _ field: String, _ value: String) throws -> Change? {
        try store.write { try planner.planResolve(collection: collection, id: id, field: field, input: .text(value), reader: $0) }
    }

    /// What a replica holding `base` lacks, decoded and checked as a receiver would.
    func changes(lackedBy base: VersionVector, scope: ReplicationScope = .everything) throws -> CheckedBatch {
        try CheckedBatch(store.changes(lackedBy: base, scope: scope), schema: .siteSync)
    }

    /// The same, in pages of about `size` changes (each ending where its chains are sealed).
    func batches(lackedBy base: VersionVector, size: Int) throws -> [CheckedBatch] {
        var result: [CheckedBatch] = []
        var after: Int64 = 0
        while true {
            let page = try store.page(lackedBy: base, scope: .everything, after: after, limit: size, maxBytes: .max)
            if !page.changes.isEmpty || !page.holes.isEmpty { result.append(try CheckedBatch(page, schema: .siteSync)) }
            if page.exhausted { return result }
            after = page.cursor
        }
    }

    /// Sends everything `other` lacks to it, in one batch, as a sync round would.
    func send(to other: TestReplica) throws {
        let batch = try changes(lackedBy: other.store.knowledge())
        try other.store.apply(batch, claim: .complete(vouched: store.knowledge()))
    }

    func value(_ collection: String, _ id: String, _ field: String) throws -> FieldValue {
        let spec = Schema.siteSync.collection(named: collection)!
        guard let state = try store.state(of: RecordKey(collection: spec.code, id: id)) else { return .null }
        return state.value(of: spec.field(named: field)!)
    }
}

/// A plan most tests start from: a department, a project and two activities, written by an
/// office replica and sent to the others.
func seedPlan(_ office: TestReplica, sendTo others: [TestReplica]) throws {
    try office.put("department", "roads", "name=Roads Bureau")
    try office.put("department", "water", "name=Water Bureau")
    try office.put("project", "p1", "code=R-001", "name=Ring road", "department=roads", "budget=1200000.50",
                   "planned_start=2026-03-01", "planned_finish=2026-12-31")
    try office.put("activity", "a1", "project=p1", "name=Earthworks", "budget=300000", "budget_quantity=5000", "unit=m3",
                   // Measured by percentage: the tests write its percent entries (refused on `units`).
                   "ev_method=manual", "planned_start=2026-03-01", "planned_finish=2026-06-30")
    try office.put("activity", "a2", "project=p1", "name=Kerbs", "budget=80000", "ev_method=manual")
    for other in others { try office.send(to: other) }
}
