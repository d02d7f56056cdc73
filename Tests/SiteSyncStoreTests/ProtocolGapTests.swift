import Foundation
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore

/// Rules the protocol once left unsaid (protocol §5, §16.3), as the code applies them.
@Suite struct ProtocolGapTests {
    /// "The record's department" (protocol §5) for collections without a department field:
    /// through the record the creating change points at.
    @Test func aRecordWithoutADepartmentFieldTakesItsDepartmentThroughWhatItPointsAt() throws {
        let office = try TestReplica(name: "office", role: .office, department: "office")
        try seedPlan(office, sendTo: [])
        try office.put("project", "w1", "code=W-1", "name=Mains", "department=water")
        try office.put("kpi", "k1", "project=w1", "name=Leaks", "unit=count", "direction=lower_better")
        #expect(try office.put("activity", "w1a", "project=w1", "name=Trench", "ev_method=manual")?.department == "water")
        #expect(try office.put("quantity_entry", nil, "activity=w1a", "date=2026-11-02", "quantity=4")?.department == "water")
        #expect(try office.put("issue", nil, "project=w1", "title=Leak", "opened_on=2026-11-02")?.department == "water")
        #expect(try office.put("kpi_reading", nil, "kpi=k1", "period=2026-11", "value=3")?.department == "water")
        #expect(try office.put("department", "parks", "name=Parks")?.department == "", "department records are shared")
        #expect(try office.put("project", "k2", "code=K-2", "name=Kiosk", "department=parks")?.department == "parks")
    }

    /// A refusal record's id (§16.3): the replica in 16 lower-case hex digits, zero-padded, and
    /// the counter in decimal; the record the hub publishes is found under exactly that id.
    @Test func aRefusalRecordsIdIsLowerCaseHexAndDecimal() throws {
        #expect(RefusalRecord.id(Dot(replica: ReplicaID(rawValue: 0x0FF1_CE00_0000_0001), counter: 44)) == "0ff1ce0000000001:44")
        #expect(RefusalRecord.id(Dot(replica: ReplicaID(rawValue: 0xABCD), counter: 7)) == "000000000000abcd:7")
        typealias Member = AuthorizationTests.Member
        let hub = try Member("hub", claims: (.hub, "office"), allowed: (.hub, "office"))
        let office = try Member("office", claims: (.office, "office"), allowed: (.office, "office"))
        let site = try Member("site", claims: (.office, "roads"), allowed: (.field, "roads"))
        try seedPlan(office.replica, sendTo: [])
        try AuthorizationTests.send(office, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, [office, site], for: office))
        try AuthorizationTests.send(hub, to: site, authorizer: nil)
        try site.replica.put("project", "p1", "budget=1")
        let refusals = try AuthorizationTests.send(site, to: hub, authorizer: AuthorizationTests.hubAuthorizer(hub, [office, site], for: site))
        let dot = try #require(refusals.first?.dot)
        let refusal = Schema.siteSync.collection(named: "refusal")!
        let ids = try hub.store.records(in: refusal).map(\.key.id)
        #expect(ids.count == 1)
        let id = try #require(ids.first)
        #expect(id == String(format: "%016llx:%llu", dot.replica.rawValue, dot.counter), "\(id)")
        #expect(id.allSatisfy { "0123456789abcdef:".contains($0) }, "\(id)")
        let state = try #require(try hub.store.state(of: RecordKey(collection: refusal.code, id: id)))
        #expect(state.value(of: refusal.field(named: "change")!) == .text(id))
    }
}
