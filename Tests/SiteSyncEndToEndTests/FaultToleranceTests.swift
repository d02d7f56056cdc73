import Foundation
import GRDB
import SiteSyncTestSupport
import Testing

/// Restores, hand-copied databases, kills at any instant and full disks, on real processes over
/// loopback (docs/design.md §10.1, §10.2, §10.6, §10.7). Every test ends the same way:
/// heal, stop writing, sync until every replica holds the same data — or fail with a dump of
/// each node's state (``Fleet/converge(_:deadline:)``).
@Suite(.serialized) struct FaultToleranceTests {
    /// A hub, an office with the plan and a field site, synced.
    static func start(_ cli: SiteSyncBinary, hubEnvironment: [String: String] = [:]) throws -> Fleet {
        let (hub, endpoint) = try NetworkSyncTests.plannedHub(cli, sites: ["north"], environment: hubEnvironment)
        return Fleet(cli: cli, hub: hub, endpoint: endpoint, environment: hubEnvironment)
    }

    static func sqlite(_ cli: SiteSyncBinary, _ node: String, _ sql: String) throws -> [Row] {
        let queue = try DatabaseQueue(path: cli.file("\(node)/sitesync.db"), configuration: { var c = Configuration(); c.readonly = true; return c }())
        return try queue.read { db in try Row.fetchAll(db, sql: sql) }
    }

    static func integrity(_ cli: SiteSyncBinary, _ node: String) throws -> String {
        try sqlite(cli, node, "PRAGMA integrity_check").map { $0[0] as String }.joined(separator: "; ")
    }

    static func field(_ cli: SiteSyncBinary, _ node: String, _ collection: String, _ id: String, _ field: String) throws -> String? {
        let result = try cli.run(["record", "get", "--data-dir", node, collection, id, "--json"])
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else { return nil }
        let fields = object["fields"] as? [String: Any] ?? object
        return fields[field].map { "\($0)" }
    }

    @Test func restoreTakesANewEpochAndWhatWasSentAfterTheBackupComesBack() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let fleet = try Self.start(cli)
        defer { fleet.stop() }
        try cli.ok("record", "put", "--data-dir", "north", "activity", "a1", "actual_finish=2026-05-11")
        try cli.ok("sync", "--data-dir", "north")
        // A backup taken while a large import writes: it holds all of the import or none of it.
        let lines = (0..<20_000).map { n in
            #"{"collection": "quantity_entry", "fields": {"activity": "a1", "date": "2026-11-03", "quantity": "1", "note": "bulk \#(n)"}}"#
        }
        try lines.joined(separator: "\n").write(toFile: cli.file("bulk.jsonl"), atomically: true, encoding: .utf8)
        let writer = try BackgroundProcess(cli, ["record", "import", "--data-dir", "north", "bulk.jsonl"])
        Thread.sleep(forTimeInterval: 0.3)
        try cli.ok("backup", "--data-dir", "north", "--output", cli.file("north.backup"))
        #expect(try writer.waitForExit() == 0, "the import: \(writer.stderr.suffix(800))")
        let bulkInBackup = try DatabaseQueue(path: cli.file("north.backup")).read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM quantity_entry WHERE note LIKE 'bulk %'") ?? -1
        }
        #expect(bulkInBackup == 0 || bulkInBackup == 20_000, "a backup is one snapshot: \(bulkInBackup)")
        let copy = try DatabaseQueue(path: cli.file("north.backup"), configuration: { var c = Configuration(); c.readonly = true; return c }())
        #expect(try copy.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
        let before = try Self.sqlite(cli, "north", "SELECT value FROM sync_meta WHERE key = 'replica'")[0][0] as String

        // After the backup: work that reaches the hub, then the laptop's disk dies.
        try cli.ok("record", "put", "--data-dir", "north", "activity", "a1", "remarks=after the backup")
        try NetworkSyncTests.importEntries(cli, "north", activity: "a2", count: 30)
        try cli.ok("sync", "--data-dir", "north")
        // A running node is not restored under its feet.
        let running = try BackgroundProcess(cli, ["serve", "--data-dir", "north", "--listen", "tcp://127.0.0.1:*"])
        _ = try running.waitForLine("listening on ")
        #expect(try cli.fails("restore", "--data-dir", "north", cli.file("north.backup")).contains("stop it first"))
        running.terminate()
        #expect(try cli.fails("restore", "--data-dir", "north", cli.file("north.backup") + ".missing").contains("no backup"))

        let restored = try cli.ok("restore", "--data-dir", "north", cli.file("north.backup"))
        #expect(restored.contains("epoch 2"), "\(restored)")
        let after = try Self.sqlite(cli, "north", "SELECT value FROM sync_meta WHERE key = 'replica'")[0][0] as String
        #expect(after != before, "a restored node writes under a new replica id")
        #expect(try Self.field(cli, "north", "activity", "a1", "remarks") == nil, "the backup predates the remark")
        // New work offline, then a sync: the work sent after the backup comes back, the new work goes up.
        try cli.ok("record", "put", "--data-dir", "north", "activity", "a2", "remarks=after the restore")
        try cli.ok("sync", "--data-dir", "north")
        #expect(try Self.field(cli, "north", "activity", "a1", "remarks") == "after the backup")
        try fleet.converge(["hub", "office", "north"])
        #expect(try Self.field(cli, "office", "activity", "a2", "remarks") == "after the restore")
        // No change id was ever offered with two contents.
        #expect(try Self.sqlite(cli, "hub", "SELECT count(*) FROM sync_collision")[0][0] as Int == 0)
        let replaced = try FileManager.default.contentsOfDirectory(atPath: cli.file("north")).filter { $0.contains(".replaced-") }
        #expect(!replaced.isEmpty, "the database a restore replaces is kept")
    }

    @Test func aDatabaseCopiedBackByHandIsCaughtAndItsNewWorkReissued() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let fleet = try Self.start(cli)
        defer { fleet.stop() }
        for percent in [10, 20, 30] { try cli.ok("record", "put", "--data-dir", "north", "activity", "a1", "actual_finish=2026-05-\(percent / 10 + 10)") }
        try cli.ok("sync", "--data-dir", "north")
        // An operator's "backup": the file, copied while the node is idle.
        try FileManager.default.copyItem(atPath: cli.file("north/sitesync.db"), toPath: cli.file("north.copy"))
        try cli.ok("record", "put", "--data-dir", "north", "activity", "a1", "remarks=sent before the disk died")
        try NetworkSyncTests.importEntries(cli, "north", activity: "a1", count: 20)
        try cli.ok("sync", "--data-dir", "north")
        // ... and copied back by hand, then written to offline: these reuse change ids.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: cli.file("north/sitesync.db" + suffix)) }
        try FileManager.default.copyItem(atPath: cli.file("north.copy"), toPath: cli.file("north/sitesync.db"))
        try cli.ok("record", "put", "--data-dir", "north", "activity", "a2", "remarks=written after the copy-back")
        try NetworkSyncTests.importEntries(cli, "north", activity: "a2", count: 5, from: 1_000)

        // One sync: the hub finds the reused ids, keeps both contents, refuses them; the node
        // takes a new epoch and re-issues its work by itself.
        let synced = try cli.run(["sync", "--data-dir", "north"])
        #expect(synced.status == 0, "\(synced.stderr)")
        #expect(synced.stderr.contains("restored from an old copy"), "\(synced.stderr)")
        let kept = try Self.sqlite(cli, "hub", "SELECT count(*) FROM sync_collision WHERE state = 'kept'")[0][0] as Int
        #expect(kept >= 2, "the hub keeps the other content of each reused id")
        let reissued = try Self.sqlite(cli, "north", "SELECT count(*) FROM sync_collision WHERE state = 'reissued'")[0][0] as Int
        #expect(reissued == 6, "the remark and the five entries written after the copy-back")
        #expect(try Self.sqlite(cli, "north", "SELECT value FROM sync_meta WHERE key = 'epoch'")[0][0] as String == "2")
        try fleet.converge(["hub", "office", "north"])
        // Nothing lost, either side of the copy-back.
        for node in ["hub", "office", "north"] {
            #expect(try Self.field(cli, node, "activity", "a1", "remarks") == "sent before the disk died", "\(node)")
            #expect(try Self.field(cli, node, "activity", "a2", "remarks") == "written after the copy-back", "\(node)")
            let entries = try Self.sqlite(cli, node, "SELECT count(*) FROM quantity_entry")[0][0] as Int
            #expect(entries == 25, "\(node): the 20 entries sent before and the 5 written after")
        }
        #expect(try Self.integrity(cli, "hub") == "ok" && Self.integrity(cli, "north") == "ok")
    }

    /// A node killed (SIGKILL) at random instants while it writes, one acknowledged write after
    /// another: each restart finds a sound database holding every acknowledged write.
    @Test func aNodeKilledAtAnyInstantOfALocalWriteKeepsEveryAcknowledgedWrite() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "site", "--node", "site", "--department", "roads", "--role", "office", "--insecure")
        try cli.ok("record", "put", "--data-dir", "site", "department", "roads", "name=Roads")
        try cli.ok("record", "put", "--data-dir", "site", "project", "p1", "code=R-001", "name=Ring road", "department=roads")
        var generator = SeededGenerator(seed: 7_2026)
        var acknowledged: [String] = []
        for round in 0..<12 {
            // A shell writes one record per command and says so only once the command returned.
            let script = "for i in $(seq 1 1000); do '\(SiteSyncBinary.path)' record put --data-dir site activity k\(round)-$i "
                + "project=p1 name=n$i >/dev/null && echo ack k\(round)-$i || exit 1; done"
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/bin/sh")
            writer.arguments = ["-c", script]
            writer.currentDirectoryURL = URL(fileURLWithPath: cli.directory)
            let out = Pipe()
            writer.standardOutput = out
            try writer.run()
            Thread.sleep(forTimeInterval: Double.random(in: 0.2...0.9, using: &generator))
            // The `sitesync` the shell is running, wherever it is in its write: the shell is stopped
            // first (so it starts no other), its child killed, then the shell.
            kill(writer.processIdentifier, SIGSTOP)
            let children = Process()
            children.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
            children.arguments = ["-KILL", "-P", "\(writer.processIdentifier)"]
            try children.run()
            children.waitUntilExit()
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
            Thread.sleep(forTimeInterval: 0.05)
            let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            acknowledged += lines.split(separator: "\n").compactMap { $0.hasPrefix("ack ") ? String($0.dropFirst(4)) : nil }
            #expect(try Self.integrity(cli, "site") == "ok", "round \(round)")
        }
        #expect(acknowledged.count > 12, "the writer got some writes acknowledged before each kill")
        let held = Set(try Self.sqlite(cli, "site", "SELECT id FROM activity").map { $0[0] as String })
        let lost = acknowledged.filter { !held.contains($0) }
        #expect(lost.isEmpty, "acknowledged writes lost: \(lost.prefix(10))")
        // The log and the tables agree: each change id once, each record's last write logged.
        #expect(try Self.sqlite(cli, "site", "SELECT count(*) FROM sync_change")[0][0] as Int == held.count + 2)
        try cli.ok("audit", "verify", "--data-dir", "site")
    }

    /// The hub killed at random instants of a push, and a node killed in the middle of a pull:
    /// each resumes, every database stays sound, no change id is held with two contents, and
    /// all converge.
    @Test func killsInTheMiddleOfPushesAndPullsResumeAndConverge() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let fleet = try Self.start(cli)
        defer { fleet.stop() }
        try NetworkSyncTests.node(cli, "south", department: "roads", hub: fleet.endpoint)
        var generator = SeededGenerator(seed: 30_11)
        for round in 0..<4 {
            try NetworkSyncTests.importEntries(cli, "north", activity: "a1", count: 4_000, from: round * 4_000)
            let push = try BackgroundProcess(cli, ["sync", "--data-dir", "north"])
            Thread.sleep(forTimeInterval: Double.random(in: 0.1...0.8, using: &generator))
            fleet.hub.kill()
            _ = try push.waitForExit()
            #expect(try Self.integrity(cli, "hub") == "ok", "round \(round)")
            try fleet.restartHub()
            // A pull killed halfway.
            let pull = try BackgroundProcess(cli, ["sync", "--data-dir", "south"])
            Thread.sleep(forTimeInterval: Double.random(in: 0.1...0.6, using: &generator))
            pull.kill()
            _ = try pull.waitForExit()
            #expect(try Self.integrity(cli, "south") == "ok", "round \(round)")
        }
        try fleet.converge(["hub", "office", "north", "south"])
        #expect(try Self.sqlite(cli, "hub", "SELECT count(*) FROM quantity_entry")[0][0] as Int == 16_000)
        #expect(try Self.sqlite(cli, "hub", "SELECT count(*) FROM sync_collision")[0][0] as Int == 0)
        for node in ["hub", "north", "south"] { try cli.ok("audit", "verify", "--data-dir", node) }
    }

    @Test func aDeviceWhoseClockIsAMonthAheadIsFlaggedAndDoesNotDragTheHubsClock() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let fleet = try Self.start(cli)
        defer { fleet.stop() }
        let month = ["SITESYNC_CLOCK_OFFSET_SECONDS": "\(30 * 86_400)"]
        #expect(try cli.run(["record", "put", "--data-dir", "north", "activity", "a1", "remarks=from the future"], environment: month).status == 0)
        #expect(try cli.run(["sync", "--data-dir", "north"], environment: month).status == 0)
        let result = try cli.run(["status", "--data-dir", "hub", "--fleet", "--json"])
        let fleetView = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let north = (fleetView?["nodes"] as? [[String: Any]])?.first { $0["node"] as? String == "north" }
        #expect(north?["clock_flagged"] as? Bool == true, "\(result.stdout)")
        #expect(((north?["clock_offset_ms"] as? Int) ?? 0) > 29 * 86_400_000)
        #expect(try cli.run(["status", "--data-dir", "hub", "--fleet"]).stdout.contains("WRONG CLOCK"))
        let own = try cli.run(["status", "--data-dir", "north", "--json"], environment: month)
        let status = try JSONSerialization.jsonObject(with: Data(own.stdout.utf8)) as? [String: Any]
        #expect(status?["clock_flagged"] as? Bool == true)
        // The hub's clock stays its own: the month-ahead time was clamped, not adopted.
        let hlc = UInt64(try Self.sqlite(cli, "hub", "SELECT value FROM sync_meta WHERE key = 'hlc'")[0][0] as String) ?? 0
        let hubMilliseconds = hlc >> 16
        #expect(hubMilliseconds > 0 && hubMilliseconds < UInt64(Date().timeIntervalSince1970 * 1000) + 11 * 60_000, "the hub's HLC jumped ahead")
        // A correct-clock node that saw the remark and wrote after it still wins: causality, not clocks.
        try cli.ok("sync", "--data-dir", "office")
        try cli.ok("record", "put", "--data-dir", "office", "activity", "a1", "remarks=corrected today")
        try fleet.converge(["hub", "office", "north"])
        #expect(try Self.field(cli, "north", "activity", "a1", "remarks") == "corrected today")
    }

    @Test func aFullDiskRefusesTheWriteExplicitlyAndLosesNothing() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        // The hub's database may not grow past 1 MB: a large push fills it.
        let fleet = try Self.start(cli, hubEnvironment: ["SITESYNC_STORAGE_MAX_MEGABYTES": "1"])
        defer { fleet.stop() }
        try NetworkSyncTests.node(cli, "south", department: "roads", hub: fleet.endpoint)
        try cli.ok("sync", "--data-dir", "south")
        try NetworkSyncTests.importEntries(cli, "north", activity: "a1", count: 6_000)
        let full = try cli.run(["sync", "--data-dir", "north"], environment: ["SITESYNC_SYNC_TIMEOUT_SECONDS": "10"])
        #expect(full.status != 0 && full.stderr.contains("storage full"), "\(full.stderr)")
        #expect(try Self.integrity(cli, "hub") == "ok")
        // The hub keeps serving: another node syncs (reads) meanwhile.
        try cli.ok("record", "put", "--data-dir", "office", "activity", "a2", "budget=1000")
        try cli.ok("sync", "--data-dir", "office")
        try cli.ok("sync", "--data-dir", "south")
        #expect(try Self.field(cli, "south", "activity", "a2", "budget") == "1000")
        // A node's own local write against its limit: an explicit error, nothing partial.
        let limited = ["SITESYNC_STORAGE_MAX_MEGABYTES": "1"]
        let bulk = (0..<6_000).map { n in
            #"{"collection": "quantity_entry", "fields": {"activity": "a2", "date": "2026-11-02", "quantity": "1", "note": "\#(String(repeating: "x", count: 300)) \#(n)"}}"#
        }.joined(separator: "\n")
        let refused = try cli.run(["record", "import", "--data-dir", "south", "-"], stdin: bulk, environment: limited)
        #expect(refused.status != 0 && refused.stderr.contains("storage full"), "\(refused.stderr)")
        #expect(try Self.sqlite(cli, "south", "SELECT count(*) FROM quantity_entry WHERE activity = 'a2'")[0][0] as Int == 0)
        #expect(try Self.integrity(cli, "south") == "ok")
        try cli.ok("record", "put", "--data-dir", "south", "activity", "a2", "remarks=a small write still fits")
        // Room again at the hub: the same push goes through.
        fleet.hub.terminate()
        fleet.environment = [:]
        try fleet.restartHub()
        try cli.ok("sync", "--data-dir", "north")
        // Applying a pull against the limit: refused whole, the node as it was; retried once there is room.
        let pull = try cli.run(["sync", "--data-dir", "south"], environment: limited.merging(["SITESYNC_SYNC_TIMEOUT_SECONDS": "10"]) { a, _ in a })
        #expect(pull.status != 0 && pull.stderr.contains("storage full"), "\(pull.stderr)")
        #expect(try Self.integrity(cli, "south") == "ok")
        try fleet.converge(["hub", "office", "north", "south"])
        #expect(try Self.sqlite(cli, "south", "SELECT count(*) FROM quantity_entry")[0][0] as Int == 6_000)
    }
}

extension FaultToleranceTests {
    /// A short `sitesync-bench soak`: nodes and the hub killed and restarted, clocks jumping, a node
    /// restored from its backup, while the nodes write; nothing acknowledged is lost and all
    /// agree soon after the last fault.
    @Test func aShortSoakLosesNothingAndConverges() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        // Seed 6's first fault restores a node from its backup (faults draw from their own generator).
        let result = try cli.runBench(["soak", "--nodes", "3", "--minutes", "0.4", "--seed", "6", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let figures = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(figures["soak_lost_writes"] as? Int == 0)
        #expect((figures["soak_acknowledged_writes"] as? Int ?? 0) > 100)
        let converge = (figures["soak_converge_seconds"] as? Double) ?? Double(figures["soak_converge_seconds"] as? Int ?? -1)
        #expect(converge >= 0 && converge < 60, "\(figures)")
        let faults = ["soak_node_kills", "soak_hub_kills", "soak_clock_jumps", "soak_restores"].reduce(0) { $0 + (figures[$1] as? Int ?? 0) }
        #expect(faults >= 2, "\(figures)")
        // A restored node writes under a new epoch: the hub's knowledge names one more replica id
        // (three nodes and the office, and one per restore).
        let restores = figures["soak_restores"] as? Int ?? 0
        #expect(restores >= 1, "\(figures)")
        #expect(figures["soak_hub_replica_ids"] as? Int == 4 + restores, "\(figures)")
    }

    /// The soak with the hub's store in PostgreSQL and two hub processes serving it, every node
    /// naming both (docs/design.md §18): seed 82's first fault restarts PostgreSQL under the
    /// running hub processes, its second kills one of them; nothing acknowledged is lost, and
    /// both processes' copies, the office and every node agree.
    @Test func aShortSoakOverPostgresWithTwoHubProcessesLosesNothingAndConverges() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let result = try cli.runBench(["soak", "--postgres", "--nodes", "3", "--minutes", "0.7", "--seed", "82", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let figures = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(figures["soak_lost_writes"] as? Int == 0, "\(figures)")
        #expect((figures["soak_acknowledged_writes"] as? Int ?? 0) > 100, "\(figures)")
        let converge = (figures["soak_converge_seconds"] as? Double) ?? Double(figures["soak_converge_seconds"] as? Int ?? -1)
        #expect(converge >= 0 && converge < 60, "\(figures)")
        #expect((figures["soak_postgres_restarts"] as? Int ?? 0) >= 1, "\(figures)")
    }
}

/// A hub and its nodes, healed and synced until they agree.
final class Fleet: @unchecked Sendable {
    let cli: SiteSyncBinary
    var hub: BackgroundProcess
    let endpoint: String
    var environment: [String: String]

    init(cli: SiteSyncBinary, hub: BackgroundProcess, endpoint: String, environment: [String: String]) {
        self.cli = cli
        self.hub = hub
        self.endpoint = endpoint
        self.environment = environment
    }

    /// Starts the hub again on the same port.
    func restartHub() throws {
        var started: (BackgroundProcess, String)?
        let deadline = Date().addingTimeInterval(20)
        // The port may take a moment to be free again.
        while started == nil && Date() < deadline {
            started = try? NetworkSyncTests.startHub(cli, environment: environment, endpoint: endpoint)
            if started == nil { Thread.sleep(forTimeInterval: 0.2) }
        }
        guard let started else { throw TestFailure("the hub did not start again on \(endpoint)") }
        hub = started.0
    }

    func stop() { hub.terminate() }

    /// Syncs every node with the hub, round after round, until all show the same data (each
    /// field node compared within its department) — within `deadline` seconds, or fails with a
    /// dump of each node's status.
    func converge(_ nodes: [String], deadline: Double = 120) throws {
        let until = Date().addingTimeInterval(deadline)
        var digests: [String: String] = [:]
        while Date() < until {
            for node in nodes where node != "hub" { _ = try cli.run(["sync", "--data-dir", node]) }
            digests = [:]
            for node in nodes { digests[node] = try cli.digest(node) }
            var roads: Set<String> = []
            for node in nodes { roads.insert(try cli.ok("digest", "--data-dir", node, "--department", "roads")) }
            let everything = Set(nodes.filter { ["hub", "office"].contains($0) }.compactMap { digests[$0] })
            if roads.count == 1 && everything.count <= 1 { return }
        }
        var dump = ""
        for node in nodes {
            let status = try cli.run(["status", "--data-dir", node, "--json"])
            dump += "\n\(node): digest \(digests[node] ?? "?")\n\(status.stdout)\(status.stderr)"
        }
        throw TestFailure("no convergence within \(deadline) s; each node's state:\(dump)")
    }
}
