import Foundation
import Logging
import Testing
@testable import SiteSyncCore
@testable import SiteSyncNet
@testable import SiteSyncNode
@testable import SiteSyncStore
@testable import SiteSyncWire

/// The batch bound (protocol §7.4) over loopback, with a real listener: what a hub sends a
/// client asking for 5 changes per batch, that a client enforcing the bound syncs, and that a
/// listener takes a push of exactly its bound and refuses one more with 413.
@Suite(.serialized) struct BatchBoundNetTests {
    static var logger: Logger { ConcurrentSessionsTests.logger }

    static func root() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-bound-\(UUID().uuidString)").path
    }

    /// A plaintext hub holding the plan, an office's import of 60 entries in one transaction (one
    /// seal, at its end), then 20 entries written one at a time and pushed five at a time (so
    /// the hub holds a point where every chain is sealed after each five).
    static func hub(_ root: String) throws -> (Node, SyncServer) {
        let hub = try ConcurrentSessionsTests.node(root, "hub", role: .hub, department: "office")
        let server = try hub.startListener(logger: logger)
        let office = try ConcurrentSessionsTests.node(root, "office", role: .office, department: "office", hub: server.boundEndpoint)
        let planner = office.planner
        let client = try office.syncClient(logger: logger)
        try office.store.writeLocally { try ConcurrentSessionsTests.writePlan($0, planner) }
        _ = try client.round()
        func entry(_ n: Int) throws -> [FieldAssignment] {
            try ["activity=a1", "date=2026-11-\(n % 20 + 10)", "quantity=\(n + 1)"].map { try FieldAssignment(parsing: $0) }
        }
        try office.store.writeLocally { session in
            for n in 0..<60 { try session.write { try planner.planUpsert(collection: "quantity_entry", id: nil, assignments: entry(n), reader: $0) } }
        }
        _ = try client.round()
        for n in 60..<80 {
            try office.store.writeLocally { session in
                try session.write { try planner.planUpsert(collection: "quantity_entry", id: nil, assignments: entry(n), reader: $0) }
            }
            if n % 5 == 4 { _ = try client.round() }
        }
        return (hub, server)
    }

    /// The issue's case: a client asking for 5 got a batch of 60. It still does — the import
    /// carries one seal — and that is within the bound every receiver takes (256); every other
    /// batch is cut at 5.
    @Test func aClientAskingForFiveGetsBatchesOfFiveWhereTheSealsAllowAndNeverOverTheBound() throws {
        let root = Self.root()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (_, server) = try Self.hub(root)
        defer { server.stop(); server.wait() }
        let client = try PullWindowTests.RawClient(endpoint: server.boundEndpoint, limits: SessionLimits(batchChanges: 5, window: 1))
        var sizes: [Int] = []
        while true {
            let batches = try client.batchesUntilQuiet(quiet: 0.5)
            guard let batch = batches.first else { Issue.record("the hub went quiet after \(sizes)"); break }
            sizes += batches.map(\.items)
            try client.acknowledge(batch.sequence)
            if batches.last?.last == true { break }
        }
        try client.send(.bye(session: client.session))
        #expect(sizes.reduce(0, +) == 83, "\(sizes)")
        #expect(sizes.allSatisfy { $0 <= SessionLimits.batchFloor }, "\(sizes)")
        #expect(sizes == [3, 60, 5, 5, 5, 5], "the sealed import travels whole, the rest in batches of 5: \(sizes)")
    }

    /// A node whose client enforces the bound with `batch_changes` 5 syncs the same hub fully.
    @Test func aClientEnforcingTheBoundWithALimitOfFiveSyncs() throws {
        let root = Self.root()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (hub, server) = try Self.hub(root)
        defer { server.stop(); server.wait() }
        let strict = try ConcurrentSessionsTests.node(root, "strict", role: .office, department: "office", hub: server.boundEndpoint)
        var options = SyncClientOptions()
        options.limits = SessionLimits(batchChanges: 5)
        options.peerIsHub = true
        let outcome = try SyncClient(store: strict.store, me: strict.identity, endpoint: server.boundEndpoint, options: options,
                                     logger: Self.logger).round()
        #expect(outcome.summary.pulledApplied == 83)
        #expect(try strict.store.digest() == hub.store.digest())
    }

    /// A listener with `batch_changes` 256 takes a push of exactly 256 changes and refuses 257
    /// with 413, storing nothing of it.
    @Test func aListenerTakesAPushOfExactlyItsBoundAndRefusesOneMore() throws {
        let root = Self.root()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let hub = try Node.initialize(at: root + "/hub", configuration: NodeConfiguration(
            name: "hub", department: "office", role: .hub, durability: .off,
            sync: NodeConfiguration.SyncSettings(listen: "tcp://127.0.0.1:*", insecure: true, batchChanges: 256)))
        let server = try hub.startListener(logger: Self.logger)
        defer { server.stop(); server.wait() }
        #expect(hub.limits.batchBound == 256)
        let office = try ConcurrentSessionsTests.node(root, "office", role: .office, department: "office")
        let planner = office.planner
        try office.store.writeLocally { session in
            for n in 0..<257 {
                let fields = try ["name=Department \(n)"].map { try FieldAssignment(parsing: $0) }
                try session.write { try planner.planUpsert(collection: "department", id: "d\(n)", assignments: fields, reader: $0) }
            }
        }
        let replica = office.store.identity.replica
        let logged = try office.store.changes(lackedBy: VersionVector()).changes
        let changes = try logged.map {
            try ChangeCodec.decode(origin: replica.rawValue, counter: $0.dot.counter, payload: $0.payload, schema: .siteSync)
        }
        func push(_ count: Int, session: UInt64) throws -> SyncMessage? {
            let chain = ChainKey(origin: replica, department: "")
            var link = ChainHash.genesis
            for change in changes.prefix(count) {
                link = ChainHash.link(after: link, dot: change.dot, payloadHash: .of(payload: ChangeCodec.encode(change)))
            }
            let proof = BatchProof(starts: [ChainStart(chain: chain, counter: 0, link: .genesis)],
                                   seals: [Seal.make(chain: chain, counter: UInt64(count), link: link, key: office.key!)],
                                   credentials: [office.store.identity.credential])
            let client = try PullWindowTests.RawClient(endpoint: server.boundEndpoint, limits: SessionLimits(), session: session,
                                                       pull: false)
            defer { client.socket.close() }
            try client.send(.batch(SyncMessage.Batch(session: session, pull: false, sequence: 1, changes: Array(changes.prefix(count)),
                                                     vouched: VersionVector(), last: true, proof: proof)))
            return try client.next(seconds: 10)
        }
        guard case .failure(let failure)? = try push(257, session: 31) else { Issue.record("a push of 257 was not refused"); return }
        #expect(failure.code == .tooLarge && failure.reason.contains("holds 257 changes and holes, over the 256"), "\(failure.reason)")
        #expect(try hub.store.counts().changes == 0)
        guard case .ack(let ack)? = try push(256, session: 32) else { Issue.record("a push of exactly 256 was not taken"); return }
        #expect(ack.applied == 256)
    }
}
