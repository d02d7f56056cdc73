import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore

/// Batches received while the writer was busy are applied in one transaction, each in a
/// savepoint of its own (protocol §7.5, §9.1): a refused batch leaves nothing of itself, the
/// others apply as they would alone, and each outcome carries the knowledge after its batch.
@Suite struct GroupedApplyTests {
    let peer = PeerIdentity(node: "office", replica: ReplicaID(rawValue: 9), role: .office, department: "office")

    /// The changes `office` holds beyond `base`, as the batch a session would receive.
    func request(_ office: TestReplica, beyond base: VersionVector, sequence: UInt64) throws -> ApplyRequest {
        let page = try office.changes(lackedBy: base)
        return ApplyRequest(sequence: sequence, changes: page.changes.map(\.change), holes: page.holes, proof: page.proof,
                            claim: .none, sender: peer)
    }

    @Test func aRefusedBatchAmongOthersLeavesNothingAndTheOthersApply() throws {
        let office = try TestReplica(name: "office")
        let site = try TestReplica(name: "site")
        let me = office.store.identity.replica
        try office.put("department", "roads", "name=Roads")
        try office.put("project", "p1", "code=R-001", "name=Ring road", "department=roads")
        let first = try request(office, beyond: VersionVector(), sequence: 1)
        let afterFirst = try office.store.knowledge()
        try office.put("activity", "a1", "project=p1", "name=Earthworks")
        try office.put("activity", "a2", "project=p1", "name=Kerbs")
        let second = try request(office, beyond: afterFirst, sequence: 2)
        let afterSecond = try office.store.knowledge()
        try office.put("activity", "a3", "project=p1", "name=Lighting")
        let third = try request(office, beyond: afterSecond, sequence: 3)

        // The third batch before the second: it would leave a gap in the chain, and is refused.
        let batches = try [first, third, second].map { ($0, try SessionStore.check($0)) }
        let outcomes = SessionStore(site.store).apply(batches)
        #expect(outcomes.count == 3)
        #expect(try outcomes[0].get().knowledge[me] == 2, "the first batch's knowledge is the one after it")
        #expect(throws: StoreError.self) { try outcomes[1].get() }
        #expect(try outcomes[2].get().knowledge[me] == 4)
        #expect(try outcomes[2].get().applied == 2)
        let ids = try site.store.rows([("SELECT id FROM activity ORDER BY id", [])])[0].compactMap { $0[0] }
        #expect(ids == ["a1", "a2"], "the refused batch left \(ids)")
        #expect(try site.store.knowledge()[me] == 4)
        #expect(try site.store.integrityCheck() == ["ok"])

        // Sent again in order, the refused batch applies.
        let again = SessionStore(site.store).apply([(third, try SessionStore.check(third))])
        #expect(try again[0].get().applied == 1)
        #expect(try site.store.knowledge()[me] == 5)
    }
}
