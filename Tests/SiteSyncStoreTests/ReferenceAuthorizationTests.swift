import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// A reference is authorized by the department of what it points at (protocol §16.3): an entry
/// of roads at an activity of water is refused at the hub, whether the activity is there
/// already or arrives after the entry; a reference within its department is taken either way.
@Suite struct ReferenceAuthorizationTests {
    typealias Member = AuthorizationTests.Member

    /// A change the planner would never make: written straight into the store, as a crafted
    /// client or a node with a forged local role could.
    @discardableResult
    static func craft(_ member: Member, _ collection: String, _ id: String, department: String,
                      _ values: [(String, FieldValue)]) throws -> Change? {
        let spec = try #require(Schema.siteSync.collection(named: collection))
        let writes = values.map { FieldWrite.assign(spec.field(named: $0.0)!.code, $0.1) }
        return try member.store.write { _ in
            LocalEdit(record: RecordKey(collection: spec.code, id: id), department: department, body: .upsert(writes))
        }
    }

    static func entry(_ member: Member, _ id: String, activity: String) throws {
        try craft(member, "quantity_entry", id, department: "roads", [
            ("activity", .ref(activity)), ("date", .date(CalendarDate("2026-05-01")!)), ("quantity", .decimal(ExactDecimal("9000")!)),
        ])
    }

    @Test func anEntryPointingIntoAnotherDepartmentIsRefusedWhetherItsTargetCameFirstOrLater() throws {
        let hub = try Member("hub", claims: (.hub, "office"), allowed: (.hub, "office"))
        let office = try Member("office", claims: (.office, "office"), allowed: (.office, "office"))
        let site = try Member("site", claims: (.field, "roads"), allowed: (.field, "roads"))
        let members = [office, site]
        try seedPlan(office.replica, sendTo: [])
        try office.replica.put("project", "w1", "code=W-1", "name=Mains", "department=water")
        try office.replica.put("activity", "w1a", "project=w1", "name=Trench", "budget=9000", "ev_method=units", "budget_quantity=9000")
        try AuthorizationTests.send(office, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, members, for: office))
        try AuthorizationTests.send(hub, to: site, authorizer: nil)

        // The target is at the hub: refused at once.
        try Self.entry(site, "q-now", activity: "w1a")
        // The target is not at the hub yet: taken, then refused when it arrives in water.
        try Self.entry(site, "q-later", activity: "w1b")
        // A target of roads that arrives later: taken and kept.
        try Self.entry(site, "q-fine", activity: "a9")
        let refusals = try AuthorizationTests.send(site, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, members, for: site))
        #expect(refusals.map(\.code) == [.forbiddenDepartment], "\(refusals)")
        #expect(refusals.first?.reason.contains("points at activity w1a of department water") == true, "\(refusals)")

        try office.replica.put("activity", "w1b", "project=w1", "name=Pipes", "budget=1", "ev_method=manual")
        try office.replica.put("activity", "a9", "project=p1", "name=Signs", "budget=1", "ev_method=manual")
        try AuthorizationTests.send(office, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, members, for: office))
        let quantity = Schema.siteSync.collection(named: "quantity_entry")!.code
        func held(_ store: ReplicaStore, _ id: String) throws -> Bool {
            try store.state(of: RecordKey(collection: quantity, id: id)).map { !$0.isDeleted && !$0.versions.isEmpty } ?? false
        }
        #expect(try !held(hub.store, "q-now"))
        #expect(try !held(hub.store, "q-later"), "refused when its target arrived")
        #expect(try held(hub.store, "q-fine"))
        // The hub's refusal travels: the site retracts the late one too, and all converge.
        try AuthorizationTests.send(hub, to: site, authorizer: nil)
        #expect(try !held(site.store, "q-later"))
        #expect(try held(site.store, "q-fine"))
        #expect(try site.store.rejectedChanges().count == 2)
        #expect(try hub.store.digest(department: "roads") == site.store.digest(department: "roads"))
    }

    @Test func theLocalPlannerRefusesAReferenceIntoAnotherDepartment() throws {
        let office = try TestReplica(name: "office", role: .office, department: "office")
        try seedPlan(office, sendTo: [])
        try office.put("project", "w1", "code=W-1", "name=Mains", "department=water")
        try office.put("goal", "gw", "project=w1", "title=Water first", "weight=1")
        #expect(throws: CoreError.self) { try office.put("activity", "a1", "goal=gw") }
    }
}
