import Foundation
import Testing
@testable import SiteSyncCore

/// The one rule for a batch's size (protocol §7.4), as the session state machines enforce it at
/// both ends: a receiver takes every batch of up to its bound — its `batch_changes`, never less
/// than 256 — and refuses one more with 413. And where a plaintext listener takes a client's
/// scope from (§16.2): its Hello's claim.
@Suite struct BatchBoundTests {
    static let versions = ProtocolVersions(protocolVersion: 1, schemaVersion: 3, schemaHash: "test")
    static let hub = PeerIdentity(node: "hub", replica: ReplicaID(rawValue: 1), role: .hub, department: "office")
    static let site = PeerIdentity(node: "site", replica: ReplicaID(rawValue: 2), role: .field, department: "roads")

    /// `count` changes of `origin`, counters 1…count (the machines do not look inside them).
    static func changes(_ count: Int, origin: ReplicaID) -> [Change] {
        (1...max(1, count)).prefix(count).map { counter in
            Change(dot: Dot(replica: origin, counter: UInt64(counter)), hlc: HLCTimestamp(rawValue: UInt64(counter)),
                   record: RecordKey(collection: 8, id: "i\(counter)"), department: "roads", context: VersionVector(),
                   body: .upsert([]))
        }
    }

    static func refusal(in effects: [SessionEffect]) -> SyncMessage.Failure? {
        for case .send(.failure(let failure)) in effects { return failure }
        return nil
    }

    static func applies(_ effects: [SessionEffect]) -> Bool {
        effects.contains { if case .apply = $0 { true } else { false } }
    }

    @Test func theBoundIsTheReceiversLimitButNeverLessThanTheSealFloor() {
        #expect(SessionLimits.batchFloor == 256)
        #expect(SessionLimits(batchChanges: 5).batchBound == 256)
        #expect(SessionLimits(batchChanges: 256).batchBound == 256)
        #expect(SessionLimits(batchChanges: 1000).batchBound == 1000)
    }

    /// A listener asking for 7 changes per batch (as `SITESYNC_SYNC_BATCH_CHANGES=7` once did)
    /// takes a push of 256, and refuses 257 with 413 instead of taking 63 or 4,096 in silence.
    @Test(arguments: [(7, 256), (1000, 1000)])
    func aListenerTakesAPushOfExactlyItsBoundAndRefusesOneMore(limit: Int, bound: Int) {
        for (size, taken) in [(bound, true), (bound + 1, false)] {
            let hello = SyncMessage.Hello(versions: Self.versions, peer: Self.site, knowledge: VersionVector(), session: 7,
                                          limits: SessionLimits())
            var (server, _) = ServerSession.accept(hello, me: Self.hub, versions: Self.versions, knowledge: VersionVector(),
                                                   limits: SessionLimits(batchChanges: limit))
            let batch = SyncMessage.Batch(session: 7, pull: false, sequence: 1, changes: Self.changes(size - 1, origin: Self.site.replica),
                                          vouched: VersionVector(), last: true,
                                          holes: [Hole(dot: Dot(replica: Self.site.replica, counter: UInt64(size)), department: "roads",
                                                       record: RecordKey(collection: 8, id: "h"), payloadHash: .genesis,
                                                       position: size - 1)])
            let effects = server!.handle(.message(.batch(batch)))
            if taken {
                #expect(Self.applies(effects) && Self.refusal(in: effects) == nil, "a push of \(size) (holes count) was refused")
            } else {
                let failure = Self.refusal(in: effects)
                #expect(failure?.code == .tooLarge && !Self.applies(effects), "a push of \(size) over the bound \(bound) was taken")
                #expect(failure?.reason.contains("over the \(bound) this receiver takes") == true, "\(failure?.reason ?? "")")
            }
        }
    }

    /// A client asking for 5 takes a pull batch of 256 (an office's import sealed once may run
    /// that far), and refuses 257 with 413: a strict client can sync with any honest hub.
    @Test func aClientTakesAPullOfExactlyItsBoundAndRefusesOneMore() {
        for (size, taken) in [(256, true), (257, false)] {
            var client = ClientSession(session: 9, me: Self.site, versions: Self.versions, knowledge: VersionVector(),
                                       limits: SessionLimits(batchChanges: 5))
            _ = client.start()
            _ = client.handle(.message(.welcome(SyncMessage.Welcome(versions: Self.versions, peer: Self.hub, knowledge: VersionVector(),
                                                                    session: 9, limits: SessionLimits()))))
            // Nothing to push: straight to the pull.
            _ = client.handle(.read(ReadResult(changes: [], cursor: 0, exhausted: true, knowledge: VersionVector())))
            let batch = SyncMessage.Batch(session: 9, pull: true, sequence: 1, changes: Self.changes(size, origin: Self.hub.replica),
                                          vouched: VersionVector(), last: true)
            let effects = client.handle(.message(.batch(batch)))
            if taken {
                #expect(Self.applies(effects) && Self.refusal(in: effects) == nil, "a pull batch of \(size) was refused")
            } else {
                #expect(Self.refusal(in: effects)?.code == .tooLarge && !Self.applies(effects) && client.phase == .failed,
                        "a pull batch of \(size) was taken by a client bound to 256")
            }
        }
    }

    /// Plaintext (§16.2): no key to go by, so the listener takes the client's role and
    /// department from its Hello, and reads for that scope.
    @Test func aPlaintextListenerTakesTheClientsScopeFromItsHello() {
        let claimed = PeerIdentity(node: "site", replica: ReplicaID(rawValue: 2), role: .field, department: "water")
        let hello = SyncMessage.Hello(versions: Self.versions, peer: claimed, knowledge: VersionVector(), session: 11, limits: SessionLimits())
        var (server, effects) = ServerSession.accept(hello, me: Self.hub, versions: Self.versions, knowledge: VersionVector(),
                                                     limits: SessionLimits())
        #expect(server?.client == claimed)
        guard case .send(.welcome(let welcome))? = effects.first else { Issue.record("no Welcome: \(effects)"); return }
        #expect(welcome.client == nil, "a plaintext Welcome carries no client")
        let reads = server!.handle(.message(.pull(SyncMessage.Pull(session: 11, knowledge: VersionVector()))))
        guard case .read(let read)? = reads.first else { Issue.record("no read: \(reads)"); return }
        #expect(read.scope == ReplicationScope(role: .field, department: "water"))
    }
}
