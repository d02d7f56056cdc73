import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// Only the hub's refusals are final: a `refusal` record signed by any other key — relayed by
/// a peer to a node that has no copy of the allow-list yet to refuse it with — retracts nothing.
@Suite struct HubWordTests {
    /// A refusal record of `dot`, written by `author` the way the hub publishes one.
    static func publishRefusal(by author: ReplicaStore, of change: Change) throws {
        let refusal = Refusal(dot: change.dot, code: .planField, reason: "activity.remarks is a plan field")
        try author.pool.write { db in
            try author.publishRefusals(db, [refusal], records: [change.dot: change], nodes: [change.dot.replica: "site"])
        }
    }

    @Test func aRefusalRecordRetractsOnlyWhenTheHubSignedIt() throws {
        let hubKey = NodeSecretKey.generate()
        let hub = try TestReplica(name: "hub", role: .hub, department: "office", key: hubKey)
        let office = try TestReplica(name: "office", role: .office, department: "office")
        let site = try TestReplica(name: "site", role: .field, department: "roads")
        let mallory = try TestReplica(name: "mallory", role: .field, department: "roads")
        let directory = TemporaryDirectory()
        var options = StoreOptions(durability: .off)
        options.hubSigningKey = hubKey.publicKey.signing
        let victim = try ReplicaStore.create(at: directory.file("sitesync.db"), node: "victim", key: .generate(), options: options)

        try seedPlan(office, sendTo: [hub, site, mallory])
        let change = try #require(try site.put("activity", "a1", "remarks=measured on site"))
        try site.send(to: mallory)
        try site.send(to: hub)
        try Self.publishRefusal(by: mallory.store, of: change)
        try Self.publishRefusal(by: hub.store, of: change)

        // From a peer: mallory's record arrives, the work stays.
        try victim.apply(mallory.changes(lackedBy: victim.knowledge()), claim: .none)
        let remarks = Schema.siteSync.collection(named: "activity")!
        func shown() throws -> FieldValue {
            try victim.state(of: RecordKey(collection: remarks.code, id: "a1"))!.value(of: remarks.field(named: "remarks")!)
        }
        #expect(try shown() == .text("measured on site"))
        #expect(try victim.rejectedChanges().isEmpty)
        // From the hub: the same refusal, signed by the hub's key, retracts it.
        try victim.apply(hub.changes(lackedBy: victim.knowledge()), claim: .none)
        #expect(try shown() == .null)
        #expect(try victim.rejectedChanges().map(\.dot) == [change.dot])
    }
}
