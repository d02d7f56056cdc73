import Dispatch
import Foundation
import Logging
import Testing
@testable import SiteSyncCore
@testable import SiteSyncNet
@testable import SiteSyncNode
@testable import SiteSyncStore

/// A listener and many clients in one process, on loopback.
@Suite(.serialized) struct ConcurrentSessionsTests {
    static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    static func node(_ root: String, _ name: String, role: Role, department: String, hub: String? = nil) throws -> Node {
        try Node.initialize(at: root + "/" + name, configuration: NodeConfiguration(
            name: name, department: department, role: role, durability: .off,
            sync: NodeConfiguration.SyncSettings(hub: hub, listen: "tcp://127.0.0.1:*", insecure: true)))
    }

    @Test func aListenerServesFiftySessionsAtOnce() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-net-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let hubNode = try Self.node(root, "hub", role: .hub, department: "office")
        let server = try hubNode.startListener(logger: Self.logger)
        defer { server.stop(); server.wait() }
        let office = try Self.node(root, "office", role: .office, department: "office", hub: server.boundEndpoint)
        let planner = office.planner
        try office.store.writeLocally { session in
            try Self.writePlan(session, planner)
        }
        _ = try office.syncClient(logger: Self.logger).round()
        let sites = try (0..<50).map { try Self.node(root, "site-\($0)", role: .field, department: "roads", hub: server.boundEndpoint) }
        for site in sites {
            _ = try site.syncClient(logger: Self.logger).round()
            let planner = site.planner
            try site.store.writeLocally { session in
                for n in 0..<20 {
                    let fields = try ["activity=a1", "date=2026-11-\(n % 20 + 10)", "quantity=\(n + 1)"].map { try FieldAssignment(parsing: $0) }
                    try session.write { try planner.planUpsert(collection: "quantity_entry", id: nil, assignments: fields, reader: $0) }
                }
            }
        }
        // All fifty at once, twice: the second round brings each the others' entries.
        for _ in 0..<2 {
            let errors = Errors()
            DispatchQueue.concurrentPerform(iterations: sites.count) { index in
                do { _ = try sites[index].syncClient(logger: Self.logger).round() } catch { errors.add("\(error)") }
            }
            #expect(errors.all.isEmpty, "\(errors.all.prefix(3))")
        }
        let hubDigest = try hubNode.store.digest(department: "roads")
        #expect(try hubNode.store.counts().changes == 3 + 50 * 20)
        for site in sites {
            #expect(try site.store.digest(department: "roads") == hubDigest)
        }
    }

    final class Errors: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        private let lock = NSLock()
        private var list: [String] = []
        func add(_ error: String) { lock.lock(); list.append(error); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return list }
    }

    /// A department, a project and an activity, written in `session`.
    static func writePlan(_ session: LocalWriteSession, _ planner: LocalWritePlanner) throws {
        for (collection, id, fields) in [("department", "roads", ["name=Roads"]),
                                         ("project", "p1", ["code=R-1", "name=Ring", "department=roads"]),
                                         ("activity", "a1", ["project=p1", "name=Earthworks"])] {
            let parsed = try fields.map { try FieldAssignment(parsing: $0) }
            try session.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
        }
    }
}
