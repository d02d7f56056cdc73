import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// On the wire as in a bundle, a node takes nobody's word but its hub's (protocol §10, §16.3):
/// a peer's `Welcome` cannot change the node's role or its allow-list copy, its refusals retract
/// nothing, and what it vouches for does not raise the node's knowledge past the changes held.
@Suite struct PeerWordTests {
    @Test func aPeersWelcomeRefusalsAndVouchesChangeNothingTheHubsDo() throws {
        let office = try TestReplica(name: "office", role: .office, department: "office")
        let site = try TestReplica(name: "site", role: .field, department: "roads")
        try seedPlan(office, sendTo: [])
        try office.put("project", "w1", "code=W-1", "name=Mains", "department=water")
        let peer = PeerIdentity(node: "mallory", replica: ReplicaID(rawValue: 77), role: .office, department: "office")
        let welcome = SyncMessage.Welcome(
            versions: SessionSimulationTests.versions, peer: peer, knowledge: VersionVector(), session: 1, limits: SessionLimits(),
            client: PeerIdentity(node: "site", replica: site.store.identity.replica, role: .office, department: "office"),
            directory: Directory([DirectoryEntry(node: "mallory", role: .hub, department: "office", key: NodeSecretKey.generate().publicKey)]))
        // The roads part of the office's plan, vouched for as if it were all of it.
        let page = try office.changes(lackedBy: VersionVector(), scope: .department("roads"))
        let request = ApplyRequest(sequence: 1, changes: page.changes.map(\.change), holes: page.holes, proof: page.proof,
                                   claim: .complete(vouched: try office.store.knowledge()), sender: peer)
        let me = office.store.identity.replica

        let fromPeer = SessionStore(site.store, peerIsHub: false)
        _ = try fromPeer.apply(request)
        let mine = try #require(try site.put("activity", "a1", "remarks=measured"))
        let refusal = Refusal(dot: mine.dot, code: .planField, reason: "forged")
        try fromPeer.record(.welcomed(welcome))
        try fromPeer.record(.rejected([refusal], by: peer))
        #expect(try site.store.authorizedIdentity() == nil)
        #expect(try site.store.directory().isEmpty)
        #expect(try site.store.rejectedChanges().isEmpty)
        #expect(try site.store.knowledge()[me] < office.store.knowledge()[me], "the water project is beyond a gap")

        let fromHub = SessionStore(site.store, peerIsHub: true)
        try fromHub.record(.welcomed(welcome))
        try fromHub.record(.rejected([refusal], by: peer))
        _ = try fromHub.apply(request)
        #expect(try site.store.authorizedIdentity() == WriterIdentity(role: .office, department: "office"))
        #expect(try site.store.directory().entries.map(\.node) == ["mallory"])
        #expect(try site.store.rejectedChanges().map(\.dot) == [mine.dot])
        #expect(try site.store.knowledge()[me] == office.store.knowledge()[me])
    }
}
