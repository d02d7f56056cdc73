import Dispatch
import Foundation
import Logging
import SiteSyncCore
import SiteSyncNet
import SiteSyncNode
import SiteSyncStore
import SiteSyncWire

/// The network figures of docs/design.md §9, measured with a real hub process on loopback ZeroMQ,
/// with security on (CURVE, the allow-list, signed and chained changes) as nodes run.
public struct NetworkBenchmarkResult: Sendable {
    /// Changes pushed node → hub per second, end to end (read, encoded, sent, decoded,
    /// signatures checked, authorized, applied, acknowledged).
    public var syncChangesPerSecond: Double
    /// The same push in plaintext (`insecure`), for `security_overhead_ratio`.
    public var insecureSyncChangesPerSecond: Double
    public var syncChanges: Int
    /// Bytes on the wire per change beyond its field values, in that push.
    public var wireOverheadBytesPerChange: Double
    /// Seconds until 20 nodes in 4 departments, each with offline edits, all hold the hub's
    /// data of their department after reconnecting together.
    public var convergeSeconds: Double
    public var convergeNodes: Int
    public var convergeEditsPerNode: Int
    /// The hub process's peak resident memory while a node pulls `rssChanges` changes.
    public var hubPeakRSSMegabytes: Double
    public var rssChanges: Int
    /// Seconds that pull took: a fresh node joining a hub of `rssChanges` changes in one
    /// `sync` round, its default timeout and window in force.
    public var joinSeconds: Double
}

/// A fresh node's first sync of a hub's changes, beside a plain upsert of the same rows.
public struct JoinBenchmarkResult: Sendable {
    public var changes: Int
    /// Seconds of the node's first `sync` round: every change pulled, checked, applied and
    /// acknowledged.
    public var joinSeconds: Double
    /// Seconds a plain batched upsert of the same rows takes (1,000 a transaction, FULL).
    public var baselineUpsertSeconds: Double
}

/// Scales for the network benchmark: the full one of docs/design.md §9, or a quick one.
public struct NetworkBenchmarkScale: Sendable {
    public var syncChanges: Int
    public var nodes: Int
    public var departments: Int
    public var editsPerNode: Int
    public var rssChanges: Int

    public static let full = NetworkBenchmarkScale(syncChanges: 100_000, nodes: 20, departments: 4, editsPerNode: 5_000,
                                                   rssChanges: 1_000_000)
    public static let quick = NetworkBenchmarkScale(syncChanges: 20_000, nodes: 8, departments: 4, editsPerNode: 1_000,
                                                    rssChanges: 100_000)
}

public enum NetworkBenchmark {
    /// Runs the three network measurements in a temporary directory.
    /// - Parameter executable: the `sitesync` binary, started as the hub (`sitesync serve`).
    public static func run(executable: URL, scale: NetworkBenchmarkScale, progress: (String) -> Void) throws -> NetworkBenchmarkResult {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-netbench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = quietLogger

        // Twice each, on fresh nodes, alternating; the faster counts, as in the replica benchmark.
        var rate = 0.0, overhead = 0.0, insecureRate = 0.0
        for round in 1...2 {
            progress("push \(round)/2: \(scale.syncChanges) changes node → hub, CURVE and signatures")
            let (r, o) = try measurePush(directory: directory + "/push\(round)", count: scale.syncChanges, executable: executable,
                                         secure: true, logger: logger)
            if r > rate { (rate, overhead) = (r, o) }
            progress("push \(round)/2: \(scale.syncChanges) changes node → hub, plaintext")
            let (plain, _) = try measurePush(directory: directory + "/plain\(round)", count: scale.syncChanges, executable: executable,
                                             secure: false, logger: logger)
            insecureRate = max(insecureRate, plain)
        }
        progress("converge: \(scale.nodes) nodes × \(scale.editsPerNode) offline edits")
        let converge = try measureConvergence(directory: directory + "/converge", scale: scale, executable: executable, logger: logger)
        progress("hub memory: a node pulls \(scale.rssChanges) changes")
        let (rss, join) = try measureHubMemory(directory: directory + "/rss", count: scale.rssChanges, executable: executable, logger: logger)
        return NetworkBenchmarkResult(
            syncChangesPerSecond: rate, insecureSyncChangesPerSecond: insecureRate, syncChanges: scale.syncChanges, wireOverheadBytesPerChange: overhead,
            convergeSeconds: converge, convergeNodes: scale.nodes, convergeEditsPerNode: scale.editsPerNode,
            hubPeakRSSMegabytes: rss, rssChanges: scale.rssChanges, joinSeconds: join)
    }

    /// A hub in a process of its own.
    final class HubProcess {
        /// `processes` hub processes serving `hub`: the first over its data directory, each
        /// other over a data directory of its own holding only `node.toml` and `node.key`, which
        /// builds its working copy from PostgreSQL (docs/design.md §18).
        static func serving(_ hub: Node, processes: Int, executable: URL, directory: String) throws -> [HubProcess] {
            var started: [HubProcess] = []
            do {
                for index in 0..<processes {
                    var dataDirectory = hub.dataDirectory
                    if index > 0 {
                        dataDirectory = directory + "/hub-process-\(index + 1)"
                        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
                        for file in ["node.toml", "node.key"] {
                            try FileManager.default.copyItem(atPath: hub.dataDirectory + "/" + file, toPath: dataDirectory + "/" + file)
                        }
                    }
                    started.append(try HubProcess(executable: executable, dataDirectory: dataDirectory))
                }
            } catch {
                for process in started { process.stop() }
                throw error
            }
            return started
        }

        let process = Process()
        let endpoint: String

        init(executable: URL, dataDirectory: String) throws {
            process.executableURL = executable
            process.arguments = ["serve", "--data-dir", dataDirectory, "--quiet"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                guard !chunk.isEmpty else { throw StoreError(.database, "the hub process did not start") }
                line.append(chunk)
            }
            let text = String(decoding: line, as: UTF8.self)
            guard let range = text.range(of: "listening on ") else { throw StoreError(.database, "the hub process did not start") }
            endpoint = String(text[range.upperBound...].prefix { $0 != "\n" })
        }

        /// The process's peak resident memory so far (`VmHWM`), in MiB.
        var peakRSSMegabytes: Double {
            guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                  let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
            return kilobytes / 1024
        }

        func stop() {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// A logger for the bench's own sync rounds: errors only.
    static var quietLogger: Logger {
        var logger = Logger(label: "sitesync.bench")
        logger.logLevel = .error
        return logger
    }

    /// A hub's data directory; with `storeURL`, its store in PostgreSQL (docs/design.md §18).
    static func hubNode(_ path: String, secure: Bool = true, storeURL: String? = nil) throws -> Node {
        var configuration = NodeConfiguration(name: "hub-1", department: "office", role: .hub,
                                              sync: NodeConfiguration.SyncSettings(listen: "tcp://127.0.0.1:*", insecure: !secure))
        configuration.storeURL = storeURL
        return try Node.initialize(at: path, configuration: configuration)
    }

    /// A node of the hub; when secure, it trusts the hub's key and the hub allows its own (the
    /// running hub rereads its allow-list when the file changes).
    /// With `otherHubs`, the node names the hub's further processes too (`[[sync.hubs]]`), each
    /// with the hub's key, and fails over between them.
    static func node(_ path: String, name: String, role: Role, department: String, hub: String, hubNode: Node,
                     secure: Bool = true, timeoutSeconds: Int = 600, otherHubs: [String] = []) throws -> Node {
        var sync = NodeConfiguration.SyncSettings(hub: hub, hubKey: secure ? try hubNode.publicKey() : nil, insecure: !secure,
                                                  timeoutSeconds: timeoutSeconds)
        if !otherHubs.isEmpty {
            try sync.setHubEndpoints(([hub] + otherHubs).map { NodeConfiguration.HubEndpoint(endpoint: $0, key: sync.hubKey) })
        }
        let node = try Node.initialize(at: path, configuration: NodeConfiguration(name: name, department: department, role: role, sync: sync))
        if secure { _ = try hubNode.allow(node: name, role: role, department: department, key: try node.publicKey()) }
        return node
    }

    /// `count` projects `p-1`, `p-2`… of `department`, written at `node`.
    static func planProjects(_ node: Node, count: Int, department: String) throws {
        let planner = node.planner
        try node.store.writeLocally { session in
            var assignments: [(String, String, [String])] = [("department", department, ["name=\(department)"])]
            for n in 1...count {
                assignments.append(("project", "p-\(n)", ["code=P-\(n)", "name=Works \(n)", "department=\(department)"]))
            }
            for (collection, id, fields) in assignments {
                let parsed = try fields.map { try FieldAssignment(parsing: $0) }
                try session.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
            }
        }
    }

    /// The office plans one project (`p-DEPT`) and activity (`a-DEPT`) per department.
    static func plan(_ office: Node, departments: [String]) throws {
        let planner = office.planner
        try office.store.writeLocally { session in
            for department in departments {
                let assignments: [(String, String?, [String])] = [
                    ("department", department, ["name=\(department)"]),
                    ("project", "p-\(department)", ["code=\(department.uppercased())", "name=Works of \(department)", "department=\(department)"]),
                    ("activity", "a-\(department)", ["project=p-\(department)", "name=Main works", "ev_method=units"]),
                ]
                for (collection, id, fields) in assignments {
                    let parsed = try fields.map { try FieldAssignment(parsing: $0) }
                    try session.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
                }
            }
        }
    }

    /// Fills a node's store with `count` generated changes (the apply benchmark's workload),
    /// signed with the node's key as its own replica's, as if it had written them.
    static func fill(_ node: Node, count: Int) throws -> ReplicaBenchmark.Workload {
        let workload = ReplicaBenchmark.makeWorkload(count: count, collection: Schema.siteSync.collection(named: "activity")!,
                                                     key: node.key!, credential: node.store.identity.credential)
        var index = 0
        while index < workload.envelopes.count {
            let end = min(index + 2000, workload.envelopes.count)
            try node.store.apply(workload.batch(index..<end, schema: node.store.schema), claim: .inOrder(vouched: workload.knowledge))
            index = end
        }
        return workload
    }

    static func measurePush(directory: String, count: Int, executable: URL, secure: Bool, logger: Logger) throws -> (Double, Double) {
        let hubNode = try hubNode(directory + "/hub", secure: secure)
        // The projects the pushed activities point at are the hub's already, as in a city's
        // plan: otherwise the hub would note each activity's missing project, one row per
        // change, to decide it when the project arrives (which made a secure push a quarter
        // slower than a plaintext one, where no one checks references).
        try planProjects(hubNode, count: ReplicaBenchmark.workloadProjects, department: "roads")
        let hub = try HubProcess(executable: executable, dataDirectory: hubNode.dataDirectory)
        defer { hub.stop() }
        // An office node (it vouches for everything it holds) with `count` changes to push.
        let office = try node(directory + "/office", name: "office-1", role: .office, department: "office", hub: hub.endpoint,
                              hubNode: hubNode, secure: secure)
        let workload = try fill(office, count: count)
        let client = try office.syncClient(logger: logger)
        let outcome = try client.round()
        guard outcome.summary.pushedApplied == count else {
            throw StoreError(.database, "benchmark check failed: the hub applied \(outcome.summary.pushedApplied) of \(count)")
        }
        let valueBytes = try workload.envelopes.reduce(0) { total, envelope in
            total + BatchCodec.valueBytes(try ChangeCodec.decode(origin: envelope.origin, counter: envelope.counter,
                                                                 payload: envelope.payload, schema: .siteSync))
        }
        let overhead = Double(outcome.bytesSent + outcome.bytesReceived - valueBytes) / Double(count)
        return (Double(count) / (Double(outcome.milliseconds) / 1000), overhead)
    }

    /// Seconds until every node holds the hub's data of its department. With `storeURL`, the
    /// hub's store is in PostgreSQL and `processes` hub processes serve it, the nodes spread over
    /// them in turn.
    static func measureConvergence(directory: String, scale: NetworkBenchmarkScale, executable: URL, logger: Logger,
                                   storeURL: String? = nil, processes: Int = 1) throws -> Double {
        let hubNode = try hubNode(directory + "/hub", storeURL: storeURL)
        let hubs = try HubProcess.serving(hubNode, processes: processes, executable: executable, directory: directory)
        defer { for hub in hubs { hub.stop() } }
        let hub = hubs[0]
        let departments = (1...scale.departments).map { "dept\($0)" }
        let office = try node(directory + "/office", name: "office-1", role: .office, department: "office", hub: hub.endpoint,
                              hubNode: hubNode)
        try plan(office, departments: departments)
        _ = try office.syncClient(logger: logger).round()
        // The field nodes take the plan, then write offline.
        let nodes = try (0..<scale.nodes).map { index in
            try node(directory + "/n\(index)", name: "site-\(index)", role: .field, department: departments[index % departments.count],
                     hub: hubs[index % hubs.count].endpoint, hubNode: hubNode)
        }
        // Every hub process rereads the allow-list within a second (DirectoryReload; over
        // PostgreSQL, after its copy caught up, StoreCatchUp).
        if storeURL != nil { Thread.sleep(forTimeInterval: 2.5) }
        for node in nodes {
            _ = try node.syncClient(logger: logger).round()
            let department = node.configuration.department
            let planner = node.planner
            try node.store.writeLocally { session in
                for n in 0..<scale.editsPerNode {
                    let fields = try ["activity=a-\(department)", "date=2026-11-\(n % 20 + 10)", "quantity=\(n % 90 + 1).25",
                                      "note=\(node.configuration.name) load \(n)"].map { try FieldAssignment(parsing: $0) }
                    try session.write { try planner.planUpsert(collection: "quantity_entry", id: nil, assignments: fields, reader: $0) }
                }
            }
        }
        // The hub's copy as any process of it sees it once caught up.
        let hubStore = storeURL == nil ? try ReplicaStore.open(at: hubNode.store.path) : try Node.open(at: hubNode.dataDirectory).store
        // All reconnect at once. Each sync round pushes a node's edits and pulls what the hub has
        // by then; rounds repeat, all nodes at once, until one moves nothing anywhere.
        let clients = Clients(try nodes.map { try $0.syncClient(logger: logger) })
        let start = DispatchTime.now().uptimeNanoseconds
        var rounds = 0
        while true {
            rounds += 1
            let moved = MovedCounter()
            let failures = FailureBox()
            DispatchQueue.concurrentPerform(iterations: clients.all.count) { index in
                do {
                    let outcome = try clients.all[index].round()
                    moved.add(outcome.summary.pushedApplied + outcome.summary.pulledApplied)
                } catch {
                    failures.record("\(error)")
                }
            }
            if let failure = failures.first { throw StoreError(.database, "benchmark sync failed: \(failure)") }
            if moved.total == 0 || rounds > 20 { break }
        }
        // Converged means equal digests, department by department.
        for node in nodes {
            let department = node.configuration.department
            guard try node.store.digest(department: department) == hubStore.digest(department: department) else {
                throw StoreError(.database, "benchmark check failed: \(node.configuration.name) differs from the hub after \(rounds) rounds")
            }
        }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The nodes' clients, handed to the threads that sync them.
    // @unchecked: a client owns a socket and must stay on one thread; each is used only by the
    // iteration of its own index, and one iteration at a time.
    struct Clients: @unchecked Sendable {
        let all: [SyncClient]
        init(_ all: [SyncClient]) { self.all = all }
    }

    final class MovedCounter: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        private let lock = NSLock()
        private var value = 0
        func add(_ count: Int) { lock.lock(); value += count; lock.unlock() }
        var total: Int { lock.lock(); defer { lock.unlock() }; return value }
    }

    /// The hub's peak memory while a fresh node joins it (pulls all `count` changes in one
    /// round), and the seconds the join took.
    static func measureHubMemory(directory: String, count: Int, executable: URL, logger: Logger) throws -> (Double, Double) {
        let hubNode = try hubNode(directory + "/hub")
        _ = try fill(hubNode, count: count)
        let hub = try HubProcess(executable: executable, dataDirectory: hubNode.dataDirectory)
        defer { hub.stop() }
        let seconds = try join(hub, of: hubNode, directory: directory, count: count, logger: logger)
        return (hub.peakRSSMegabytes, seconds)
    }

    /// Seconds a fresh office node takes to pull all `count` changes `hub` holds in one `sync`
    /// round, its default timeout and window in force; anything less fails the benchmark.
    static func join(_ hub: HubProcess, of hubNode: Node, directory: String, count: Int, logger: Logger) throws -> Double {
        let reader = try node(directory + "/reader", name: "reader", role: .office, department: "office", hub: hub.endpoint,
                              hubNode: hubNode, timeoutSeconds: NodeConfiguration.SyncSettings().timeoutSeconds)
        let outcome = try reader.syncClient(logger: logger).round()
        guard outcome.summary.pulledApplied == count, outcome.sessions == 1 else {
            throw StoreError(.database, "benchmark check failed: pulled \(outcome.summary.pulledApplied) of \(count) "
                             + "in \(outcome.sessions) sessions")
        }
        return Double(outcome.milliseconds) / 1000
    }

    /// A fresh node's first sync of `changes` changes from a hub over CURVE (the hub in a
    /// process of its own, on loopback), beside a plain batched upsert of the same rows into the
    /// same typed table at `synchronous=FULL`, 1,000 a transaction, the faster of two rounds.
    public static func measureJoin(executable: URL, changes: Int, progress: (String) -> Void) throws -> JoinBenchmarkResult {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-joinbench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        progress("join: filling a hub with \(changes) changes")
        let hubNode = try hubNode(directory + "/hub")
        let workload = try fill(hubNode, count: changes)
        var baseline = Double.infinity
        for round in 1...2 {
            progress("join: plain batched upsert of \(changes) rows, round \(round)/2")
            baseline = min(baseline, try ReplicaBenchmark.measureBaseline(workload, collection: Schema.siteSync.collection(named: "activity")!,
                                                                          path: directory + "/baseline\(round).db", batchSize: 1000).seconds)
        }
        let hub = try HubProcess(executable: executable, dataDirectory: hubNode.dataDirectory)
        defer { hub.stop() }
        progress("join: a fresh node pulls \(changes) changes over CURVE")
        let seconds = try join(hub, of: hubNode, directory: directory, count: changes, logger: quietLogger)
        return JoinBenchmarkResult(changes: changes, joinSeconds: seconds, baselineUpsertSeconds: baseline)
    }

    final class FailureBox: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        private let lock = NSLock()
        private var failures: [String] = []
        func record(_ failure: String) { lock.lock(); failures.append(failure); lock.unlock() }
        var first: String? { lock.lock(); defer { lock.unlock() }; return failures.first }
    }
}
