import Foundation
import Logging
import Testing
@testable import SiteSyncCore
@testable import SiteSyncNet
@testable import SiteSyncNode
@testable import SiteSyncStore
@testable import SiteSyncWire

/// What a pull puts on the wire, seen by a client that speaks the protocol by hand: how many
/// batches the hub sends before an acknowledgement, and how big each is.
@Suite(.serialized) struct PullWindowTests {
    /// A client that asks for far more than the hub allows.
    static let greedy = SessionLimits(batchChanges: 10_000, batchBytes: 4 << 20, window: 16)

    /// How the hub came to hold what it sends.
    enum Fill: String, CaseIterable, CustomTestStringConvertible {
        /// Written in runs of 256, each sealed once: batches cut by bytes at the last seal.
        case sealedRuns
        /// Each change written and sealed on its own (as `record put` does): a seal per change.
        case sealedEach
        /// Then compacted away: the pull is a state transfer of the records.
        case compacted

        var testDescription: String { rawValue }
    }

    /// A hub holding `count` quantity entries of about 1.3 kB each (0.5 kB when sealed one by
    /// one, so that a batch holds about 1,000), written at an office and pushed.
    /// The hub's window: narrower than the greedy client's, so that the hub's is what holds.
    static let hubWindow = 4

    static func hub(_ root: String, count: Int, fill: Fill) throws -> (Node, SyncServer) {
        let hubNode = try Node.initialize(at: root + "/hub", configuration: NodeConfiguration(
            name: "hub", department: "office", role: .hub, durability: .off,
            sync: NodeConfiguration.SyncSettings(listen: "tcp://127.0.0.1:*", insecure: true, window: hubWindow)))
        let server = try hubNode.startListener(logger: ConcurrentSessionsTests.logger)
        let office = try ConcurrentSessionsTests.node(root, "office", role: .office, department: "office", hub: server.boundEndpoint)
        let planner = office.planner
        let note = String(repeating: "kerbs and drainage, chainage 2+400 to 2+650; ", count: fill == .sealedEach ? 10 : 28)
        let perWrite = fill == .sealedEach ? 1 : 256
        var written = 0
        try office.store.writeLocally { session in
            try ConcurrentSessionsTests.writePlan(session, planner)
        }
        while written < count {
            try office.store.writeLocally { session in
                for _ in 0..<min(perWrite, count - written) {
                    let fields = try ["activity=a1", "date=2026-11-\(written % 20 + 10)", "quantity=\(written % 90 + 1)",
                                      "note=\(written) \(note)"].map { try FieldAssignment(parsing: $0) }
                    try session.write { try planner.planUpsert(collection: "quantity_entry", id: nil, assignments: fields, reader: $0) }
                    written += 1
                }
            }
        }
        _ = try office.syncClient(logger: ConcurrentSessionsTests.logger).round()
        if fill == .compacted {
            let (_, report) = try hubNode.compact()
            try #require(report.removedChanges > count, "the hub should have compacted its log: \(report)")
        }
        return (hubNode, server)
    }

    /// One pull batch as it arrived.
    struct Received {
        let sequence: UInt64
        let bytes: Int
        /// Changes, or records of a state transfer.
        let items: Int
        let last: Bool
    }

    /// A hand-driven client: greets with `limits`, asks for everything, and acknowledges only
    /// when told, so the test sees exactly what the hub sends unacknowledged.
    final class RawClient {
        let socket: ZMQSocket
        let session: UInt64
        private let context: ZMQContext

        /// - Parameter pull: whether to ask for everything at once, after the Welcome.
        init(endpoint: String, limits: SessionLimits, session: UInt64 = 4242, pull: Bool = true) throws {
            self.session = session
            context = try ZMQContext()
            socket = try ZMQSocket(context, .dealer)
            try socket.connect(endpoint)
            let me = PeerIdentity(node: "reader", replica: ReplicaID(rawValue: 77), role: .office, department: "office")
            try send(.hello(SyncMessage.Hello(versions: SyncClient.versions, peer: me, knowledge: VersionVector(), session: session,
                                              limits: limits)))
            guard case .welcome? = try next(seconds: 10) else { throw NetError(.unreachable, "no Welcome from the hub") }
            if pull { try send(.pull(SyncMessage.Pull(session: session, knowledge: VersionVector()))) }
        }

        func send(_ message: SyncMessage) throws {
            let deadline = Date().addingTimeInterval(5)
            while !(try socket.send(SyncFrames.encode(message))) {
                guard Date() < deadline else { throw NetError(.silent, "could not send to the hub") }
                Thread.sleep(forTimeInterval: 0.001)
            }
        }

        /// The next message, or nil when none comes within `seconds`.
        func next(seconds: Double) throws -> SyncMessage? {
            try nextFrames(seconds: seconds).map { try SyncFrames.decode($0, schema: .siteSync) }
        }

        func nextFrames(seconds: Double) throws -> [Data]? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let message = try socket.receive() { return message.frames }
                Thread.sleep(forTimeInterval: 0.002)
            }
            return nil
        }

        /// The pull batches that arrive until the hub has sent nothing for `quiet` seconds.
        func batchesUntilQuiet(quiet: Double) throws -> [Received] {
            var received: [Received] = []
            while let frames = try nextFrames(seconds: quiet) {
                guard case .batch(let batch) = try SyncFrames.decode(frames, schema: .siteSync), batch.pull else { continue }
                received.append(Received(sequence: batch.sequence, bytes: frames.reduce(0) { $0 + $1.count },
                                         items: batch.changes.count + batch.states.count, last: batch.last))
                if batch.last { break }
            }
            return received
        }

        func acknowledge(_ sequence: UInt64) throws {
            try send(.ack(SyncMessage.Ack(session: session, pull: true, sequence: sequence, knowledge: VersionVector(), applied: 0, known: 0)))
        }
    }

    /// The README and protocol §15: a hub's pull holds at most its window (here 4; 16 by default)
    /// of batches of at most its `batch_bytes` (512 KiB) in flight, whatever the client asks for.
    /// Before, the hub took the client's limits as they came (up to 16 batches of 4 MiB).
    @Test(arguments: Fill.allCases)
    func aPullNeverHoldsMoreThanTheHubsWindowOfBatchesOfItsByteLimit(fill: Fill) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-window-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let count = fill == .sealedEach ? 4_000 : 3_000
        let (hubNode, server) = try Self.hub(root, count: count, fill: fill)
        defer { server.stop(); server.wait() }
        let hubLimits = hubNode.limits
        #expect(hubLimits == SessionLimits(window: Self.hubWindow), "the hub runs with the documented defaults but its window")

        let client = try RawClient(endpoint: server.boundEndpoint, limits: Self.greedy)
        // Nothing acknowledged: the hub stops at its window.
        let first = try client.batchesUntilQuiet(quiet: 1.5)
        #expect(first.count == hubLimits.window, "sent \(first.count) batches unacknowledged: \(first.map(\.bytes))")
        // Acknowledged one at a time, oldest first: never more than the window in flight.
        var inFlight = first
        var all = first
        while !inFlight.isEmpty {
            let oldest = inFlight.removeFirst()
            try client.acknowledge(oldest.sequence)
            guard all.last?.last != true else { continue }
            let more = try client.batchesUntilQuiet(quiet: 0.3)
            #expect(inFlight.count + more.count <= hubLimits.window,
                    "\(inFlight.count + more.count) batches unacknowledged after batch \(oldest.sequence) was")
            inFlight += more
            all += more
        }
        try client.send(.bye(session: client.session))
        #expect(all.last?.last == true, "the pull should end with a batch flagged last")
        #expect(all.reduce(0) { $0 + $1.items } == count + 3)
        // Every batch within the hub's byte limit, as the whole message on the wire.
        let largest = all.map(\.bytes).max() ?? 0
        #expect(largest > hubLimits.batchBytes / 2, "the batches should be cut by bytes, not by count: largest \(largest)")
        #expect(largest <= hubLimits.batchBytes, "a pull batch of \(largest) bytes, over the hub's \(hubLimits.batchBytes)")
    }
}
