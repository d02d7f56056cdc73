import Foundation
import Logging
import Testing
@testable import SiteSyncCore
@testable import SiteSyncNet
@testable import SiteSyncNode
@testable import SiteSyncStore
@testable import SiteSyncWire

/// A client that builds its frames by hand (protocol §16.4): a hub over CURVE, an allow-listed
/// node whose key signs whatever it likes, and segments that do or do not continue the chain
/// the hub holds. A bad segment is refused with 409 and changes nothing the hub serves others.
@Suite(.serialized) struct CraftedSegmentTests {
    static var logger: Logger { ConcurrentSessionsTests.logger }

    /// A node with keys (CURVE), pinning `hubKey` when given.
    static func secureNode(_ root: String, _ name: String, role: Role, department: String, hub: String? = nil,
                           hubKey: NodePublicKey? = nil) throws -> Node {
        try Node.initialize(at: root + "/" + name, configuration: NodeConfiguration(
            name: name, department: department, role: role, durability: .off,
            sync: NodeConfiguration.SyncSettings(hub: hub, listen: "tcp://127.0.0.1:*", hubKey: hubKey)))
    }

    /// A hub over CURVE, an office that wrote and pushed the plan, and `mallet`, a field node of
    /// roads allowed at the hub, that pulled the plan and wrote 8 quantity entries it has not
    /// pushed (its chain (mallet, roads), counters 1 to 8).
    struct Fleet {
        let root: String
        let hub: Node
        let server: SyncServer
        let mallet: Node

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-crafted-\(UUID().uuidString)").path
            hub = try CraftedSegmentTests.secureNode(root, "hub", role: .hub, department: "office")
            server = try hub.startListener(logger: CraftedSegmentTests.logger)
            let office = try Self.join(root, hub, server, "office", role: .office, department: "office")
            try office.store.writeLocally { try ConcurrentSessionsTests.writePlan($0, office.planner) }
            _ = try office.syncClient(logger: CraftedSegmentTests.logger).round()
            mallet = try Self.join(root, hub, server, "mallet", role: .field, department: "roads")
            _ = try mallet.syncClient(logger: CraftedSegmentTests.logger).round()
            let planner = mallet.planner
            try mallet.store.writeLocally { session in
                for n in 0..<8 {
                    let fields = try ["activity=a1", "date=2026-11-\(n + 10)", "quantity=\(n + 1)"].map { try FieldAssignment(parsing: $0) }
                    try session.write { try planner.planUpsert(collection: "quantity_entry", id: nil, assignments: fields, reader: $0) }
                }
            }
        }

        /// A new node, allowed at the hub with the role and department it has.
        func join(_ name: String, role: Role, department: String) throws -> Node {
            try Self.join(root, hub, server, name, role: role, department: department)
        }

        static func join(_ root: String, _ hub: Node, _ server: SyncServer, _ name: String, role: Role, department: String) throws -> Node {
            let node = try CraftedSegmentTests.secureNode(root, name, role: role, department: department, hub: server.boundEndpoint,
                                                          hubKey: try hub.publicKey())
            try hub.allow(node: name, role: role, department: department, key: try node.publicKey())
            return node
        }

        func stop() {
            server.stop()
            server.wait()
            try? FileManager.default.removeItem(atPath: root)
        }

        /// mallet's own changes as its log holds them, by counter.
        func malletChanges() throws -> [UInt64: Change] {
            let replica = mallet.store.identity.replica
            var changes: [UInt64: Change] = [:]
            for logged in try mallet.store.changes(lackedBy: VersionVector()).changes where logged.dot.replica == replica {
                changes[logged.dot.counter] = try ChangeCodec.decode(origin: replica.rawValue, counter: logged.dot.counter,
                                                                     payload: logged.payload, schema: .siteSync)
            }
            return changes
        }

        /// A push batch of `changes` (one chain of mallet's) whose segment starts at `start`,
        /// sealed with mallet's own key over the links recomputed from that start: every
        /// signature checks out, whatever the start.
        func batch(_ changes: [Change], from start: (counter: UInt64, link: ChainHash), session: UInt64) throws -> SyncMessage.Batch {
            let chain = ChainKey(origin: mallet.store.identity.replica, department: "roads")
            var link = start.link
            for change in changes {
                link = ChainHash.link(after: link, dot: change.dot, payloadHash: .of(payload: ChangeCodec.encode(change)))
            }
            let proof = BatchProof(starts: [ChainStart(chain: chain, counter: start.counter, link: start.link)],
                                   seals: [Seal.make(chain: chain, counter: changes.last!.dot.counter, link: link, key: mallet.key!)],
                                   credentials: [mallet.store.identity.credential])
            return SyncMessage.Batch(session: session, pull: false, sequence: 1, changes: changes, vouched: VersionVector(),
                                     last: true, proof: proof)
        }

        /// Greets the hub as mallet over CURVE, pushes `batch`, and returns the hub's answer.
        func push(_ batch: SyncMessage.Batch) throws -> SyncMessage? {
            let client = try CraftedClient(endpoint: server.boundEndpoint, key: mallet.key!, hubKey: try hub.publicKey())
            defer { client.close() }
            try client.send(.hello(SyncMessage.Hello(
                versions: SyncClient.versions, peer: mallet.identity, knowledge: try mallet.store.knowledge(), session: batch.session,
                limits: SessionLimits(), credential: mallet.store.identity.credential)))
            guard case .welcome? = try client.next(seconds: 10) else { throw NetError(.unreachable, "no Welcome from the hub") }
            try client.send(.batch(batch))
            return try client.next(seconds: 10)
        }
    }

    /// A DEALER speaking the protocol by hand, over CURVE with `key`.
    final class CraftedClient {
        let context: ZMQContext
        let socket: ZMQSocket

        init(endpoint: String, key: NodeSecretKey, hubKey: NodePublicKey) throws {
            context = try ZMQContext()
            socket = try ZMQSocket(context, .dealer)
            try SocketOptions.client(socket)
            try SocketOptions.curveClient(socket, key: key, serverKey: hubKey)
            try socket.connect(endpoint)
        }

        func send(_ message: SyncMessage) throws {
            let deadline = Date().addingTimeInterval(5)
            while !(try socket.send(SyncFrames.encode(message))) {
                guard Date() < deadline else { throw NetError(.silent, "could not send to the hub") }
                Thread.sleep(forTimeInterval: 0.002)
            }
        }

        func next(seconds: Double) throws -> SyncMessage? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let message = try socket.receive() { return try SyncFrames.decode(message.frames, schema: .siteSync) }
                Thread.sleep(forTimeInterval: 0.002)
            }
            return nil
        }

        func close() { socket.close() }
    }

    /// The issue's case: a new origin's segment starting at counter 4 with a made-up link. The
    /// hub used to take it and record the chain as beginning there, and from then on served
    /// every new node a state transfer, as if it had compacted that chain.
    @Test func aSegmentStartingInTheMiddleOfAChainTheHubLacksIsRefusedAndChangesNothingItServes() throws {
        let fleet = try Fleet()
        defer { fleet.stop() }
        let mine = try fleet.malletChanges()
        let before = try fleet.hub.store.counts().changes
        let madeUp = ChainHash.of(payload: Array("no such change".utf8))
        let answer = try fleet.push(try fleet.batch((5...8).map { mine[$0]! }, from: (4, madeUp), session: 901))
        if case .failure(let failure)? = answer {
            #expect(failure.code == .outOfOrder)
            #expect(failure.reason.contains("holds none of that chain"), "\(failure.reason)")
        } else {
            Issue.record("the hub took a segment starting at counter 4 of a chain it holds none of: \(String(describing: answer))")
        }
        // Stored nowhere: no change, no knowledge, no chain beginning that would call for a state transfer.
        #expect(try fleet.hub.store.counts().changes == before)
        #expect(try fleet.hub.store.knowledge()[fleet.mallet.store.identity.replica] == 0)
        // Checked before any node syncs, so that a regression fails here rather than in a round
        // that does not end (a hub that believed the chain begins at 4 kept a fresh node's round
        // going past the test's time).
        try #require(try !fleet.hub.store.lacksCompacted(VersionVector(), scope: .everything),
                     "the hub now believes mallet's chain begins in the middle, and would serve every new node a state transfer")
        // A fresh node still gets changes, not a state transfer.
        let fresh = try fleet.join("newcomer", role: .office, department: "office")
        let outcome = try fresh.syncClient(logger: Self.logger).round()
        #expect(outcome.summary.pulledStates == 0, "the hub served a state transfer: \(outcome.summary)")
        #expect(outcome.summary.pulledApplied == 3)
        // mallet's honest push, from the chain's beginning, is taken, and relayed as changes.
        let honest = try fleet.mallet.syncClient(logger: Self.logger).round()
        #expect(honest.summary.pushedApplied == 8)
        let second = try fresh.syncClient(logger: Self.logger).round()
        #expect(second.summary.pulledStates == 0 && second.summary.pulledApplied == 8, "\(second.summary)")
    }

    /// A segment that skips what the hub holds (a gap), and one whose start link differs from
    /// the link the hub holds there (a fork), are refused whole.
    @Test func aSegmentLeavingAGapOrForkingTheHeldChainIsRefused() throws {
        let fleet = try Fleet()
        defer { fleet.stop() }
        let mine = try fleet.malletChanges()
        let first = try fleet.push(try fleet.batch((1...3).map { mine[$0]! }, from: (0, .genesis), session: 911))
        guard case .ack(let ack)? = first else { Issue.record("\(String(describing: first))"); return }
        #expect(ack.applied == 3 && ack.refusals.isEmpty)
        let held = try fleet.hub.store.counts().changes
        // Counter 5 onwards from 4: the hub holds up to 3.
        var link = ChainHash.genesis
        for counter: UInt64 in 1...4 {
            link = ChainHash.link(after: link, dot: mine[counter]!.dot, payloadHash: .of(payload: ChangeCodec.encode(mine[counter]!)))
        }
        let gap = try fleet.push(try fleet.batch((5...8).map { mine[$0]! }, from: (4, link), session: 912))
        guard case .failure(let gapFailure)? = gap else { Issue.record("a gap was taken: \(String(describing: gap))"); return }
        #expect(gapFailure.code == .outOfOrder && gapFailure.reason.contains("leave a gap"), "\(gapFailure.reason)")
        // Counter 4 onwards from 3 with another link than the hub holds at 3.
        let fork = try fleet.push(try fleet.batch((4...8).map { mine[$0]! }, from: (3, .genesis), session: 913))
        guard case .failure(let forkFailure)? = fork else { Issue.record("a fork was taken: \(String(describing: fork))"); return }
        #expect(forkFailure.code == .outOfOrder && forkFailure.reason.contains("link at 3 differs"), "\(forkFailure.reason)")
        #expect(try fleet.hub.store.counts().changes == held)
    }

    /// A re-push from counter 0 behind what the hub holds (§16.4, §9.5): the same bytes are
    /// known; other bytes under a held id are refused `reused-id` in the Ack, not with 409.
    @Test func aRepushFromTheChainsBeginningIsComparedIdById() throws {
        let fleet = try Fleet()
        defer { fleet.stop() }
        _ = try fleet.mallet.syncClient(logger: Self.logger).round()
        let mine = try fleet.malletChanges()
        let same = try fleet.push(try fleet.batch((1...3).map { mine[$0]! }, from: (0, .genesis), session: 921))
        guard case .ack(let sameAck)? = same else { Issue.record("\(String(describing: same))"); return }
        #expect(sameAck.known == 3 && sameAck.applied == 0 && sameAck.refusals.isEmpty)
        let original = mine[1]!
        let other = Change(dot: original.dot, hlc: original.hlc, record: RecordKey(collection: original.record.collection, id: "q-other"),
                           department: original.department, context: original.context, body: original.body)
        let reused = try fleet.push(try fleet.batch([other], from: (0, .genesis), session: 922))
        guard case .ack(let reusedAck)? = reused else { Issue.record("\(String(describing: reused))"); return }
        #expect(reusedAck.refusals.map(\.code) == [.reusedID], "\(reusedAck.refusals)")
        #expect(try fleet.hub.store.state(of: other.record) == nil, "the other content is kept aside, not applied")
    }
}
