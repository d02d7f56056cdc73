import Crypto
import Foundation
import SiteSyncTestSupport
@testable import SiteSyncCore
@testable import SiteSyncStore

/// The fleet every run starts from, made once: the hub, the central office, two sites of the
/// roads department (the second one open to the first as a peer) and one of water, each
/// holding the plan the office wrote. Each run copies it.
final class FleetTemplate: Sendable {
    struct Member: Sendable {
        let name: String
        let role: Role
        let department: String
        let key: NodeSecretKey
        let store: ReplicaStore
    }

    let members: [Member]
    let directory: Directory
    /// The member that listens for its department's peers.
    let peerListener = 3

    static let shared: FleetTemplate = {
        do { return try FleetTemplate() } catch { fatalError("the simulation's fleet could not be made: \(error)") }
    }()

    private init() throws {
        let fleet: [(String, Role, String)] = [
            ("hub", .hub, "office"), ("office", .office, "office"), ("roads-1", .field, "roads"), ("roads-2", .field, "roads"),
            ("water-1", .field, "water"),
        ]
        // Keys and salts from the names: the same replica ids in every process, so that a seed
        // replays the same run anywhere.
        func bytes(_ label: String) -> [UInt8] { Array(SHA256.hash(data: Data(label.utf8))) }
        let keys = try fleet.map { try NodeSecretKey(curveSecret: bytes("curve " + $0.0), signingSecret: bytes("signing " + $0.0)) }
        var members: [Member] = []
        for ((name, role, department), key) in zip(fleet, keys) {
            var options = StoreOptions(wallClock: { 1_780_000_000_000 })
            if role != .hub { options.hubSigningKey = keys[0].publicKey.signing }
            members.append(Member(name: name, role: role, department: department, key: key,
                                  store: try ReplicaStore.inMemory(node: name, key: key, salt: Array(bytes("salt " + name).prefix(8)),
                                                                   options: options)))
        }
        directory = Directory(members.map { DirectoryEntry(node: $0.name, role: $0.role, department: $0.department, key: $0.key.publicKey) })
        self.members = members
        try writePlan(at: members[1])
        let hub = members[0].store
        try Self.send(from: members[1].store, to: hub, scope: .everything)
        for member in members.dropFirst() {
            try member.store.saveDirectory(directory)
            try Self.send(from: hub, to: member.store, scope: ReplicationScope(role: member.role, department: member.department))
        }
    }

    private func writePlan(at office: Member) throws {
        let planner = LocalWritePlanner(schema: .siteSync, writer: WriterIdentity(role: office.role, department: office.department))
        func put(_ collection: String, _ id: String, _ assignments: String...) throws {
            let parsed = try assignments.map { try FieldAssignment(parsing: $0) }
            _ = try office.store.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
        }
        try put("department", "roads", "name=Roads Bureau")
        try put("department", "water", "name=Water Bureau")
        try put("project", "p1", "code=R-001", "name=Ring road", "department=roads", "budget=1200000",
                "planned_start=2026-03-01", "planned_finish=2026-12-31")
        try put("project", "p2", "code=W-001", "name=Mains", "department=water", "budget=400000")
        try put("activity", "a1", "project=p1", "name=Earthworks", "budget=300000", "ev_method=manual",
                "planned_start=2026-03-01", "planned_finish=2026-06-30")
        try put("activity", "a2", "project=p1", "name=Kerbs", "budget=80000", "budget_quantity=400", "unit=m", "ev_method=units")
        try put("activity", "b1", "project=p2", "name=Trench", "budget=90000", "ev_method=manual")
    }

    /// Everything `receiver` lacks within `scope`, in one checked batch.
    static func send(from sender: ReplicaStore, to receiver: ReplicaStore, scope: ReplicationScope) throws {
        let page = try sender.changes(lackedBy: receiver.knowledge(), scope: scope)
        try receiver.apply(CheckedBatch(page, schema: .siteSync), claim: .complete(vouched: sender.knowledge()))
    }
}

/// What people at each node write: the office edits the plan; sites report quantities,
/// percentages, daily logs, risks and issues, and edit the same fields as others do, so that
/// concurrent edits meet.
enum Workload {
    static func write<G: RandomNumberGenerator>(at node: SimulatedNode, using g: inout G) {
        let date = "2026-10-\(String(format: "%02d", Int.random(in: 1...20, using: &g)))"
        let n = Int.random(in: 1...999, using: &g)
        let activities = node.department == "water" ? ["b1"] : node.role == .field ? ["a1", "a2"] : ["a1", "a2", "b1"]
        let activity = activities.randomElement(using: &g)!
        let project = activity == "b1" ? "p2" : "p1"
        switch (node.role, Int.random(in: 0..<7, using: &g)) {
        case (.office, 0...2):
            node.put("activity", activity, ["budget=\(n * 100)", "remarks=office \(n)"])
        case (.office, 3):
            node.put("project", project, ["name=Project \(n)"])
        case (.office, _):
            node.put("activity", activity, ["planned_finish=2026-12-\(String(format: "%02d", n % 28 + 1))"])
        case (_, 0):
            node.put("quantity_entry", RecordID.random(using: &g), ["activity=\(activity)", "date=\(date)", "quantity=\(n)"])
        case (_, 1):
            node.put("percent_entry", nil, ["activity=\(activity)", "date=\(date)", "percent=\(n % 101)"])
        case (_, 2):
            node.put("daily_log", nil, ["project=\(project)", "date=\(date)", "crew_count=\(n % 40)", "summary=\(node.name) \(n)"])
        case (_, 3):
            node.put("activity", activity, ["remarks=\(node.name) \(n)", "actual_start=\(date)"])
        case (_, 4):
            node.put("risk", RecordID.random(using: &g), ["project=\(project)", "title=Risk \(n)", "raised_on=\(date)", "probability=\(n % 5 + 1)"])
        case (_, 5):
            node.put("issue", RecordID.random(using: &g), ["project=\(project)", "title=Issue \(n)", "opened_on=\(date)", "priority=high"])
        default:
            node.put("activity", activity, ["remarks=\(node.name) again \(n)"])
        }
    }
}
