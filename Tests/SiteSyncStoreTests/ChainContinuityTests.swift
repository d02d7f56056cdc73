import Foundation
import GRDB
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// Chain continuity at a receiver (protocol §16.4), between stores: a segment starts at the
/// chain's beginning, at a link the receiver holds, or below where its holding begins; anything
/// else is refused whole and leaves no trace — in particular no recorded chain beginning, which
/// would make a hub serve every new node a state transfer.
@Suite struct ChainContinuityTests {
    /// An office holding six issues in department roads (plus the plan), signed with `key`.
    static func origin(key: NodeSecretKey = .generate()) throws -> TestReplica {
        let office = try TestReplica(name: "office", role: .office, department: "office", key: key)
        try seedPlan(office, sendTo: [])
        for n in 1...6 { try office.put("issue", "i\(n)", "project=p1", "title=Snag \(n)", "opened_on=2026-11-02") }
        return office
    }

    static func chainStarts(_ store: ReplicaStore) throws -> Int {
        try store.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sync_chain_start")! }
    }

    /// What a sender that believed the receiver held the office's changes up to `counter` would
    /// send: a segment with the start the sender holds, every link and seal true.
    @Test func aSegmentStartingAboveZeroOfAChainTheReceiverHoldsNoneOfIsRefusedAndLeavesNoTrace() throws {
        let office = try Self.origin()
        let hub = try TestReplica(name: "hub", role: .hub, department: "office")
        let origin = office.store.identity.replica
        let page = try office.store.page(lackedBy: VersionVector([(origin, UInt64(7))]), scope: .everything, after: 0, limit: .max, maxBytes: .max)
        #expect(page.proof.starts.allSatisfy { $0.counter > 0 }, "\(page.proof.starts)")
        let chainsBefore = try Self.chainStarts(hub.store)
        #expect {
            try hub.store.apply(CheckedBatch(page, schema: .siteSync), claim: .none)
        } throws: { error in
            (error as? StoreError)?.code == .tampered && "\(error)".contains("holds none of that chain")
        }
        #expect(try hub.store.counts().changes == 0)
        #expect(try Self.chainStarts(hub.store) == chainsBefore)
        #expect(try !hub.store.lacksCompacted(VersionVector(), scope: .everything), "the hub would serve state transfers")
        // The whole chain, from its beginning, is taken.
        try office.send(to: hub)
        #expect(try hub.store.digest() == office.store.digest())
        #expect(try hub.store.audit().broken == nil)
    }

    /// Counter 0 means the chain's beginning: 32 zero bytes, and no other link.
    @Test func aStartAtCounterZeroWithAnotherLinkThanZeroBytesIsRefused() throws {
        let key = NodeSecretKey.generate()
        let office = try Self.origin(key: key)
        let hub = try TestReplica(name: "hub", role: .hub, department: "office")
        let page = try office.store.changes(lackedBy: VersionVector())
        let changes = try page.changes.map {
            try IncomingChange(origin: $0.dot.replica.rawValue, counter: $0.dot.counter, payload: $0.payload, schema: .siteSync)
        }
        // Every chain re-linked from a made-up "beginning", and sealed by the origin's own key.
        let fake = ChainHash.of(payload: Array("not zero".utf8))
        var starts: [ChainStart] = [], seals: [Seal] = []
        for chain in Set(changes.map { ChainKey(origin: $0.change.dot.replica, department: $0.change.department) }).sorted() {
            var link = fake
            var last: UInt64 = 0
            for change in changes where change.change.department == chain.department {
                link = ChainHash.link(after: link, dot: change.change.dot, payloadHash: .of(payload: change.payload))
                last = change.change.dot.counter
            }
            starts.append(ChainStart(chain: chain, counter: 0, link: fake))
            seals.append(Seal.make(chain: chain, counter: last, link: link, key: key))
        }
        let batch = try CheckedBatch(changes: changes, proof: BatchProof(starts: starts, seals: seals, credentials: page.proof.credentials))
        #expect {
            try hub.store.apply(batch, claim: .none)
        } throws: { error in
            (error as? StoreError)?.code == .tampered && "\(error)".contains("not from 32 zero bytes")
        }
        #expect(try hub.store.counts().changes == 0 && Self.chainStarts(hub.store) == 0)
    }

    /// A start offered for a chain the batch carries nothing of proves nothing: ignored, not kept.
    @Test func aStartForAChainWithoutChangesInTheBatchIsNotKept() throws {
        let office = try Self.origin()
        let hub = try TestReplica(name: "hub", role: .hub, department: "office")
        let page = try office.store.changes(lackedBy: VersionVector())
        var proof = page.proof
        let stranger = ChainKey(origin: ReplicaID(rawValue: 0xBAD), department: "roads")
        proof.starts.append(ChainStart(chain: stranger, counter: 4, link: ChainHash.of(payload: [1])))
        let changes = try page.changes.map {
            try IncomingChange(origin: $0.dot.replica.rawValue, counter: $0.dot.counter, payload: $0.payload, schema: .siteSync)
        }
        try hub.store.apply(CheckedBatch(changes: changes, holes: page.holes, proof: proof), claim: .none)
        #expect(try hub.store.counts().changes == page.changes.count)
        #expect(try !hub.store.lacksCompacted(VersionVector(), scope: .everything))
        #expect(try hub.store.pool.read {
            try Int.fetchOne($0, sql: "SELECT count(*) FROM sync_chain_start WHERE replica = ?", arguments: [stranger.origin.storageValue])
        } == 0)
    }

    /// Pages that continue what the receiver holds (the normal case), in small batches, and the
    /// same changes sent again from the chain's beginning, are all taken.
    @Test func segmentsContinuingTheHeldChainAndRepeatsFromTheBeginningAreTaken() throws {
        let office = try Self.origin()
        let site = try TestReplica(name: "site", role: .field, department: "roads")
        for batch in try office.batches(lackedBy: site.store.knowledge(), size: 2) {
            try site.store.apply(batch, claim: .none)
        }
        let again = try site.store.apply(office.changes(lackedBy: VersionVector()), claim: .none)
        #expect(again.applied == 0 && again.refusals.isEmpty && again.alreadyKnown == 11)
        #expect(try site.store.digest() == office.store.digest())
        #expect(try site.store.audit().broken == nil)
    }

    /// A change pushed under an id the receiver holds with other content (a database copied
    /// back by hand) is refused, and so is its seal: kept, it would stand beside the content
    /// held for that id, and every replica the receiver passes the chain on to would refuse it
    /// as altered (a fleet simulation seed found a hub stuck that way for six passes).
    @Test func theSealOfAChangeRefusedForAReusedIdIsNotKept() throws {
        let office = try Self.origin()
        let hub = try TestReplica(name: "hub", role: .hub, department: "office")
        try office.send(to: hub)
        let copy = try office.store.memoryCopy()
        // What the copy believes the hub holds (its record of the last sync).
        let hubHeld = try hub.store.knowledge()
        for n in 7...8 { try office.put("issue", "i\(n)", "project=p1", "title=Sent before the copy-back \(n)", "opened_on=2026-11-03") }
        try office.send(to: hub)
        // Written on the copy: the next id again, with other content, sealed there.
        let reused = try copy.write {
            try office.planner.planUpsert(collection: "issue", id: "i9", assignments: [
                FieldAssignment(parsing: "project=p1"), FieldAssignment(parsing: "title=Written after the copy-back"),
                FieldAssignment(parsing: "opened_on=2026-11-04")], reader: $0)
        }!
        let report = try hub.store.apply(CheckedBatch(copy.changes(lackedBy: hubHeld), schema: .siteSync), claim: .none)
        #expect(report.refusals.contains { $0.code == .reusedID && $0.dot == reused.dot }, "\(report.refusals)")
        let mismatched = try hub.store.pool.read { db in
            try Int.fetchOne(db, sql: """
                SELECT count(*) FROM sync_seal s JOIN sync_change c
                ON c.replica = s.replica AND c.counter = s.counter WHERE c.link != s.link
                """)!
        }
        #expect(mismatched == 0, "a seal kept over content the hub does not hold")
        // A new replica takes the chain from the hub, page by page (each page sealed where it ends).
        let site = try TestReplica(name: "site", role: .hub, department: "office")
        for batch in try hub.batches(lackedBy: site.store.knowledge(), size: 1) { try site.store.apply(batch, claim: .none) }
        #expect(try site.store.digest() == hub.store.digest())
        #expect(try hub.store.audit().broken == nil && site.store.audit().broken == nil)
    }
}
