import Dispatch
import Foundation
import Logging
import Testing
@testable import SiteSyncCore
@testable import SiteSyncNet
@testable import SiteSyncNode
@testable import SiteSyncStore
@testable import SiteSyncWire

/// TEMPORARY: times each step of the Hello path on a hub holding many changes.
@Suite(.serialized) struct HelloCostProbe {
    static func ms(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    @Test func probe() throws {
        let count = Int(ProcessInfo.processInfo.environment["PROBE_CHANGES"] ?? "20000")!
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-probe-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let hub = try Node.initialize(at: root + "/hub", configuration: NodeConfiguration(
            name: "hub-1", department: "office", role: .hub, durability: .full,
            sync: NodeConfiguration.SyncSettings(listen: "tcp://127.0.0.1:*")))
        let office = try Node.initialize(at: root + "/office", configuration: NodeConfiguration(
            name: "office-1", department: "office", role: .office, durability: .off,
            sync: NodeConfiguration.SyncSettings(hubKey: try hub.publicKey(), timeoutSeconds: 600)))
        _ = try hub.allow(node: "office-1", role: .office, department: "office", key: try office.publicKey())
        let site = try Node.initialize(at: root + "/site", configuration: NodeConfiguration(
            name: "site-1", department: "roads", role: .field, durability: .off,
            sync: NodeConfiguration.SyncSettings(hubKey: try hub.publicKey())))
        _ = try hub.allow(node: "site-1", role: .field, department: "roads", key: try site.publicKey())
        for n in 0..<200 {
            let key = NodeSecretKey.generate()
            _ = try hub.allow(node: "n\(n)", role: .field, department: "roads", key: key.publicKey)
        }
        var logger = Logger(label: "probe")
        logger.logLevel = .critical
        let server = try hub.startListener(logger: logger)
        defer { server.stop(); server.wait() }
        let planner = office.planner
        let fill = try Self.ms {
            try office.store.writeLocally { session in
                for (collection, id, fields) in [("department", "roads", ["name=Roads"]), ("department", "water", ["name=Water"]),
                                                 ("project", "p1", ["code=R-1", "name=Ring", "department=roads"]),
                                                 ("project", "p2", ["code=W-1", "name=Pipes", "department=water"]),
                                                 ("activity", "a1", ["project=p1", "name=Earthworks"]),
                                                 ("activity", "a2", ["project=p2", "name=Trench"])] {
                    let parsed = try fields.map { try FieldAssignment(parsing: $0) }
                    try session.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
                }
                for n in 0..<count {
                    let fields = try ["activity=\(n % 2 == 0 ? "a1" : "a2")", "date=2026-11-\(n % 20 + 10)", "quantity=\(n % 90 + 1)",
                                      "note=load \(n) of the probe with some text"].map { try FieldAssignment(parsing: $0) }
                    try session.write { try planner.planUpsert(collection: "quantity_entry", id: nil, assignments: fields, reader: $0) }
                }
            }
        }
        let push = try Self.ms { _ = try office.syncClient(peer: server.boundEndpoint, peerKey: try hub.publicKey(), logger: logger).round() }
        print("PROBE fill \(count): \(fill) ms, push \(push) ms")
        let store = hub.store
        let allow = hub.allowList
        let helloEmpty = VersionVector()
        let helloFull = try store.knowledge()
        // The whole path through the listener: Hellos from site-1's key, answered one by one.
        let siteKey = site.key!
        for (label, digest, knowledge) in [("empty knowledge, no directory copy", "", helloEmpty),
                                           ("empty knowledge, current directory", allow.current().digest, helloEmpty),
                                           ("up-to-date knowledge, current directory", allow.current().digest, helloFull)] {
            let context = try ZMQContext()
            let socket = try ZMQSocket(context, .dealer)
            try SocketOptions.client(socket)
            try SocketOptions.curveClient(socket, key: siteKey, serverKey: try hub.publicKey())
            try socket.connect(server.boundEndpoint)
            let n = Int(ProcessInfo.processInfo.environment["PROBE_HELLOS"] ?? "200")!
            let start = DispatchTime.now().uptimeNanoseconds
            var answers = 0, welcomes = 0
            var sent = 0
            while answers < n && DispatchTime.now().uptimeNanoseconds - start < 60_000_000_000 {
                if sent < n {
                    let hello = SyncMessage.Hello(versions: SyncClient.versions, peer: PeerIdentity(node: "site-1", replica: site.store.identity.replica, role: .field, department: "roads"),
                                                  knowledge: knowledge, session: UInt64(sent + 1000), limits: SessionLimits(), credential: site.store.identity.credential,
                                                  directoryDigest: digest)
                    if try socket.send(SyncFrames.encode(.hello(hello)), dontWait: true) { sent += 1 }
                }
                while let message = try socket.receive() {
                    answers += 1
                    if case .welcome = try SyncFrames.decode(message.frames, schema: store.schema) { welcomes += 1 }
                }
                if sent >= n { usleep(1000) }
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            print("PROBE flood (\(label)): \(answers) answers (\(welcomes) welcomes) in \(elapsed) ms: \(elapsed / Double(max(answers, 1))) ms per Hello")
            socket.close()
        }
        for round in 0..<3 {
            let k = try Self.ms { _ = try store.knowledge() }
            let eEmptyRoads = try Self.ms { _ = try store.backlog(beyond: helloEmpty, scope: .department("roads"), detailed: false) }
            let eEmptyAll = try Self.ms { _ = try store.backlog(beyond: helloEmpty, scope: .everything, detailed: false) }
            let eFull = try Self.ms { _ = try store.backlog(beyond: helloFull, scope: .department("roads"), detailed: false) }
            let list = Self.ms { _ = allow.current() }
            var digest = ""
            let dig = Self.ms { digest = allow.current().digest }
            let cred = Self.ms { _ = store.identity.credential.isValid }
            let peer = try Self.ms {
                try store.recordPeer(PeerRecord(node: "site-1", replica: ReplicaID(rawValue: 7), role: .field, department: "roads",
                                                knowledge: helloEmpty, exchangedMilliseconds: 1, via: "sync"))
            }
            let hello = SyncMessage.Hello(versions: SyncClient.versions, peer: PeerIdentity(node: "site-1", replica: site.store.identity.replica, role: .field, department: "roads"),
                                          knowledge: helloEmpty, session: 5, limits: SessionLimits(), credential: site.store.identity.credential)
            var welcomeBytes = 0
            let accept = Self.ms {
                let (_, effects) = ServerSession.accept(hello, me: hub.identity, versions: SyncClient.versions, knowledge: helloFull, limits: SessionLimits(),
                    authenticated: allow.current().entry(node: "site-1"), credential: store.identity.credential, directory: allow.current(), wallClock: 1, pullEstimate: { _ in 0 })
                if case .send(let m) = effects[0] { welcomeBytes = SyncFrames.encode(m).reduce(0) { $0 + $1.count } }
            }
            let decode = try Self.ms {
                for _ in 0..<100 { _ = try SyncFrames.decode(SyncFrames.encode(.hello(hello)), schema: store.schema) }
            }
            print("PROBE round \(round): knowledge \(k) ms; estimate(empty, roads) \(eEmptyRoads) ms; estimate(empty, all) \(eEmptyAll) ms; "
                  + "estimate(up to date) \(eFull) ms; allowList \(list) ms; digest \(dig) ms (\(digest.prefix(6))); credential \(cred) ms; "
                  + "recordPeer \(peer) ms; accept+welcome encode \(accept) ms (\(welcomeBytes) B); hello encode+decode \(decode / 100) ms")
        }
    }
}
