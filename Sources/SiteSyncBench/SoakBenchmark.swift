import Dispatch
import Foundation
import Logging
import SiteSyncCore
import SiteSyncNode
import SiteSyncPostgresCluster
import SiteSyncStore

/// What `bench soak` measured (docs/design.md §9).
public struct SoakResult: Sendable {
    public var nodes = 0
    public var minutes = 0.0
    /// Local writes acknowledged (committed) on the nodes, and those of them the hub lacks at
    /// the end (target 0).
    public var acknowledgedWrites = 0
    public var lostWrites = 0
    /// Seconds from the last fault (and the last write) until every replica showed the hub's
    /// data of its scope (target 60 s for 20 nodes × 10 minutes).
    public var convergeSeconds = 0.0
    /// The hub's resident memory, and its growth over the last half of the run (target < 10 %).
    public var hubRSSMegabytes = 0.0
    public var rssGrowthPercent = 0.0
    public var nodeKills = 0, hubKills = 0, clockJumps = 0
    /// Nodes restored from their backup (each takes a new replica epoch), and the replica ids
    /// the hub's knowledge names at the end: one per node and epoch, which is how epochs grow
    /// every version vector (docs/design.md §6.7).
    public var restores = 0, hubReplicaIDs = 0
    /// At the end: the changes the hub holds, and those still in its log (the rest compacted,
    /// the hub compacting every ``compactionInterval`` as it serves).
    public var hubChanges = 0, hubLoggedChanges = 0
    /// Over PostgreSQL: times PostgreSQL was restarted (half of them after a SIGKILL) under the
    /// running hub processes.
    public var postgresRestarts = 0
}

/// A bounded soak on loopback: a hub and N nodes as processes of their own (`sitesync serve`,
/// `sitesync run`), CURVE on, while this process writes on the nodes (each committed write
/// noted in a ledger) and, every few seconds, SIGKILLs a node or the hub and starts it again,
/// restarts a node with its clock days off, or restores a node from the backup taken at its
/// start. Then the faults and writes stop and it measures how
/// long until every replica agrees, and checks the ledger against the hub.
public enum SoakBenchmark {
    /// A `sitesync` child process, restartable.
    final class Child {
        let executable: URL
        let arguments: [String]
        let log: String
        var environment: [String: String]
        private(set) var process: Process?

        init(executable: URL, arguments: [String], log: String, environment: [String: String] = [:]) {
            self.executable = executable
            self.arguments = arguments
            self.log = log
            self.environment = environment
        }

        func start() throws {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            env["SITESYNC_DATA_DIR"] = nil
            for (key, value) in environment { env[key] = value }
            process.environment = env
            if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            handle.seekToEndOfFile()
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
            self.process = process
        }

        func kill() {
            guard let process, process.isRunning else { return }
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func stop() {
            guard let process, process.isRunning else { return }
            process.terminate()
            process.waitUntilExit()
        }

        /// Resident memory now (`VmRSS`), in MiB.
        var rssMegabytes: Double {
            guard let process, let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
            return kilobytes / 1024
        }
    }

    /// How often the soak's hub compacts its change log.
    public static let compactionInterval = "15s"

    /// - Parameter postgres: the hub's store in a private PostgreSQL cluster, served by two hub
    ///   processes that every node names (failing over between them); the faults then kill
    ///   either hub process, and restart or kill PostgreSQL itself (docs/design.md §18).
    public static func run(executable: URL, nodes count: Int, minutes: Double, seed: UInt64, postgres: Bool = false,
                           progress: (String) -> Void) throws -> SoakResult {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-soak-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var random = SoakRandom(seed: seed)
        // The faults draw from a generator of their own, so that a seed gives the same faults
        // in the same order however many writes fit between them.
        var faults = SoakRandom(seed: seed ^ 0xFA17)
        var result = SoakResult()
        result.nodes = count
        result.minutes = minutes

        // Over PostgreSQL: a private cluster; the hub processes, this process's children, read
        // its password where an operator keeps it.
        let cluster = postgres ? try PostgresCluster() : nil
        defer { cluster?.stop() }
        if let cluster { setenv("PGPASSWORD", cluster.password, 1) }
        let storeURL = cluster.map { "postgresql://\($0.user)@127.0.0.1:\($0.port)/\($0.database)" }
        // The hub, on a port of its own that it keeps across restarts; over PostgreSQL, two
        // processes of it, the second from the first's node.toml and node.key alone.
        let hubNode = try NetworkBenchmark.hubNode(directory + "/hub", storeURL: storeURL)
        let started = try NetworkBenchmark.HubProcess.serving(hubNode, processes: postgres ? 2 : 1, executable: executable,
                                                              directory: directory)
        let endpoints = started.map(\.endpoint)
        for process in started { process.stop() }
        let endpoint = endpoints[0]
        // The hub compacts its log as it serves, often, so that compaction runs amid the faults.
        let hubs = zip(endpoints.indices, endpoints).map { index, endpoint in
            Child(executable: executable, arguments: ["serve", "--data-dir", index == 0 ? hubNode.dataDirectory : directory + "/hub-process-\(index + 1)",
                                                      "--listen", endpoint, "--quiet"],
                  log: directory + "/hub-\(index + 1).log", environment: ["SITESYNC_COMPACTION_INTERVAL": Self.compactionInterval])
        }
        let hub = hubs[0]
        for process in hubs { try process.start() }
        defer { for process in hubs { process.stop() } }
        Thread.sleep(forTimeInterval: 0.5)

        progress("soak: a hub, an office and \(count) nodes in 4 departments")
        let departments = (1...4).map { "dept\($0)" }
        let otherHubs = Array(endpoints.dropFirst())
        let office = try NetworkBenchmark.node(directory + "/office", name: "office-1", role: .office, department: "office", hub: endpoint,
                                               hubNode: hubNode, otherHubs: otherHubs)
        try NetworkBenchmark.plan(office, departments: departments)
        let logger = NetworkBenchmark.quietLogger
        _ = try office.syncRound(office.syncClient(logger: logger))
        var nodes: [Node] = []
        for index in 0..<count {
            let node = try NetworkBenchmark.node(directory + "/n\(index)", name: "site-\(index)", role: .field,
                                                 department: departments[index % departments.count], hub: endpoint, hubNode: hubNode,
                                                 otherHubs: otherHubs)
            _ = try node.syncRound(node.syncClient(logger: logger))
            _ = try node.backup(to: node.dataDirectory + "/start.backup")
            nodes.append(node)
        }
        // Each node runs as `sitesync run`: it syncs on change, on the hub's hints, every 2 s.
        let runEnvironment = ["SITESYNC_SYNC_INTERVAL_SECONDS": "2", "SITESYNC_SYNC_TIMEOUT_SECONDS": "20"]
        // (The office runs too, never faulted: it must end with everything.)
        let runners = (nodes + [office]).map { node in
            Child(executable: executable, arguments: ["run", "--data-dir", node.dataDirectory, "--quiet"],
                  log: node.dataDirectory + "/run.log", environment: runEnvironment)
        }
        for runner in runners { try runner.start() }
        defer { for runner in runners { runner.stop() } }

        progress("soak: \(minutes) min of writes with kills, restarts and clock jumps")
        var ledger: [String: Set<String>] = [:]   // department → quantity entry ids acknowledged
        var sequence = 0
        let start = Date()
        let end = start.addingTimeInterval(minutes * 60)
        let half = start.addingTimeInterval(minutes * 30)
        // The hub is killed only in the first 30 %: by the midpoint it has run for at least a
        // fifth of the soak, so the memory measured over the second half is growth, not a fresh
        // process warming up (a restart at 40 % left the midpoint a minute into its warm-up,
        // which alone made the growth figure swing between 3 % and 12 % from run to run).
        let hubFaultsUntil = start.addingTimeInterval(minutes * 18)
        var nextFault = start.addingTimeInterval(faults.seconds(3...8))
        var rssSamples: [(at: Date, megabytes: Double)] = []
        var lastSample = Date.distantPast
        var lastFault = start
        while Date() < end {
            // A node writes: a few quantity entries in one transaction, noted once committed.
            let index = random.int(0..<count)
            let node = nodes[index]
            let department = node.configuration.department
            let planner = node.planner
            do {
                let ids = try node.store.writeLocally { session -> [String] in
                    var ids: [String] = []
                    for _ in 0..<random.int(1..<4) {
                        sequence += 1
                        let fields = try ["activity=a-\(department)", "date=2026-11-\(sequence % 20 + 10)", "quantity=\(sequence % 90 + 1)",
                                          "note=soak \(sequence)"].map { try FieldAssignment(parsing: $0) }
                        if let change = try session.write({ try planner.planUpsert(collection: "quantity_entry", id: nil, assignments: fields,
                                                                                   reader: $0) }) {
                            ids.append(change.record.id)
                        }
                    }
                    if random.int(0..<4) == 0 {
                        // A shared record edited from many sites: real concurrency.
                        let remark = try FieldAssignment(parsing: "remarks=\(node.configuration.name) at \(sequence)")
                        try session.write { try planner.planUpsert(collection: "activity", id: "a-\(department)", assignments: [remark],
                                                                   reader: $0) }
                    }
                    return ids
                }
                ledger[department, default: []].formUnion(ids)
                result.acknowledgedWrites += ids.count
            } catch {
                // A write the store refused (busy beyond its timeout): not acknowledged, not in the ledger.
            }
            if Date() >= nextFault {
                let target = faults.int(0..<count)
                switch faults.int(0..<(Date() < hubFaultsUntil ? 4 : 3)) {
                case 1:
                    // The clock jumps by days, either way; the node restarts with it.
                    let days = faults.int(1..<15) * (faults.int(0..<2) == 0 ? 1 : -1)
                    runners[target].kill()
                    runners[target].environment["SITESYNC_CLOCK_OFFSET_SECONDS"] = "\(days * 86_400)"
                    nodes[target] = try Node.open(at: nodes[target].dataDirectory,
                                                  environment: ProcessInfo.processInfo.environment.merging(
                                                      ["SITESYNC_CLOCK_OFFSET_SECONDS": "\(days * 86_400)"]) { _, new in new })
                    try runners[target].start()
                    result.clockJumps += 1
                case 2 where faults.int(0..<2) == 0:
                    // Half of these faults restore the node from its backup; the rest, and
                    // fault 0, kill it and start it again.
                    if try restore(target, nodes: &nodes, runner: runners[target], logger: logger) {
                        result.restores += 1
                    } else {
                        result.nodeKills += 1
                    }
                case 0, 2:
                    runners[target].kill()
                    result.nodeKills += 1
                    Thread.sleep(forTimeInterval: faults.seconds(0.5...2))
                    try runners[target].start()
                default:
                    // The hub, only in the first 30 %: memory is measured over the second half.
                    // Over PostgreSQL: either hub process, or (one time in three) PostgreSQL
                    // itself, restarted or killed, under the running hub processes.
                    if let cluster, faults.int(0..<3) == 0 {
                        if faults.int(0..<2) == 0 { try cluster.kill() }
                        try cluster.restart()
                        result.postgresRestarts += 1
                    } else {
                        let victim = hubs[faults.int(0..<hubs.count)]
                        victim.kill()
                        result.hubKills += 1
                        Thread.sleep(forTimeInterval: faults.seconds(0.5...2))
                        try victim.start()
                    }
                }
                lastFault = Date()
                nextFault = Date().addingTimeInterval(faults.seconds(4...10))
            }
            if Date().timeIntervalSince(lastSample) >= 1 {
                lastSample = Date()
                rssSamples.append((lastSample, hub.rssMegabytes))
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let quiet = Date()
        progress("soak: writes and faults stopped; waiting for every replica to agree")
        // Over PostgreSQL, the hub as the store holds it (a copy caught up at each look), and the
        // second process's copy must come to the same.
        let hubStore = try ReplicaStore.open(at: hubNode.store.path)
        let secondCopy = postgres ? try ReplicaStore.open(at: directory + "/hub-process-2/sitesync.db") : nil
        let deadline = quiet.addingTimeInterval(300)
        var converged = false
        while Date() < deadline {
            if try storeURL == nil || Node.open(at: hubNode.dataDirectory).store.digest() == secondCopy?.digest(),
               try agree(hub: hubStore, office: office, nodes: nodes) {
                converged = true
                break
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        result.convergeSeconds = converged ? Date().timeIntervalSince(max(lastFault, quiet)) : -1
        // The ledger against the hub.
        let held = Set(try hubStore.rows([("SELECT id FROM quantity_entry", [])])[0].compactMap { $0[0] })
        result.lostWrites = ledger.values.reduce(0) { $0 + $1.subtracting(held).count }
        let knowledge = try hubStore.knowledge()
        result.hubChanges = Int(knowledge.entries.reduce(0) { $0 + $1.counter })
        result.hubReplicaIDs = knowledge.entries.count
        result.hubLoggedChanges = try hubStore.counts().changes
        // Memory over the last half: the mean of the last fifth of the samples against that of
        // the fifth after the midpoint.
        let second = rssSamples.filter { $0.at >= half }.map(\.megabytes).filter { $0 > 0 }
        if second.count >= 4 {
            let slice = max(1, second.count / 5)
            let early = second.prefix(slice).reduce(0, +) / Double(slice)
            let late = second.suffix(slice).reduce(0, +) / Double(slice)
            result.rssGrowthPercent = early > 0 ? (late - early) / early * 100 : 0
            result.hubRSSMegabytes = second.last ?? 0
        }
        if !converged {
            throw StoreError(.database, "soak: the replicas did not agree within 300 s of the last fault; logs in \(directory) "
                             + "(kept: nothing was removed)")
        }
        return result
    }

    /// Restores node `target` from the backup taken at its start, as an operator would after a
    /// lost disk: the node is stopped, and first pushes what it has (what it had not pushed
    /// would be lost with the disk, and the ledger would count it lost); then `restore` gives it
    /// a new epoch, and the changes since the backup come back from the hub. Returns false, the
    /// node merely restarted, when the push did not go through (the hub restarting).
    static func restore(_ target: Int, nodes: inout [Node], runner: Child, logger: Logger) throws -> Bool {
        runner.kill()
        let directory = nodes[target].dataDirectory
        let environment = ProcessInfo.processInfo.environment.merging(runner.environment) { _, new in new }
        var pushed = false
        for _ in 0..<3 where !pushed {
            pushed = (try? nodes[target].syncRound(nodes[target].syncClient(logger: logger))) != nil
            if !pushed { Thread.sleep(forTimeInterval: 1) }
        }
        if pushed {
            // This process's own handle is closed first (see ReplicaStore.close).
            try nodes[target].store.close()
            _ = try Node.restore(at: directory, from: directory + "/start.backup", environment: environment)
            nodes[target] = try Node.open(at: directory, environment: environment)
        }
        try runner.start()
        return pushed
    }

    /// Whether every node shows the hub's data of its department, and the office all of it.
    static func agree(hub: ReplicaStore, office: Node, nodes: [Node]) throws -> Bool {
        guard try office.store.digest() == hub.digest() else { return false }
        var hubDigests: [String: String] = [:]
        for node in nodes {
            let department = node.configuration.department
            let expected = try hubDigests[department] ?? hub.digest(department: department)
            hubDigests[department] = expected
            guard try node.store.digest(department: department) == expected else { return false }
        }
        return true
    }
}

/// A small seeded generator (SplitMix64), so a soak's schedule of faults can be replayed.
struct SoakRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: Range<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    mutating func seconds(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + Double(next() % 1_000_000) / 1_000_000 * (range.upperBound - range.lowerBound)
    }
}
