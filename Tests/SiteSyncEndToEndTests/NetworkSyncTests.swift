import Foundation
import GRDB
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncNet
@testable import SiteSyncWire

/// Real `sitesync` processes replicating over ZeroMQ on loopback.
@Suite(.serialized) struct NetworkSyncTests {
    /// A hub listening on a free loopback port.
    static func startHub(_ cli: SiteSyncBinary, name: String = "hub", environment: [String: String] = [:],
                         endpoint: String = "tcp://127.0.0.1:*") throws -> (BackgroundProcess, String) {
        if !FileManager.default.fileExists(atPath: cli.file(name)) {
            try cli.ok("init", "--data-dir", name, "--node", "hub-1", "--department", "office", "--role", "hub",
                       "--listen", endpoint, "--insecure")
        }
        let hub = try BackgroundProcess(cli, ["serve", "--data-dir", name, "--listen", endpoint], environment: environment)
        return (hub, try hub.waitForLine("listening on "))
    }

    static func node(_ cli: SiteSyncBinary, _ name: String, department: String, role: String = "field", hub: String) throws {
        try cli.ok("init", "--data-dir", name, "--node", name, "--department", department, "--role", role, "--hub", hub, "--insecure")
    }

    /// A hub, an office holding the plan and field sites of `roads`, all synced.
    static func plannedHub(_ cli: SiteSyncBinary, sites: [String], environment: [String: String] = [:]) throws -> (BackgroundProcess, String) {
        let (hub, endpoint) = try startHub(cli, environment: environment)
        try node(cli, "office", department: "office", role: "office", hub: endpoint)
        for site in sites { try node(cli, site, department: "roads", hub: endpoint) }
        try plan(cli, office: "office")
        for node in ["office"] + sites { try cli.ok("sync", "--data-dir", node) }
        return (hub, endpoint)
    }

    /// Writes `count` quantity entries for activity `activity` through one `record import`.
    static func importEntries(_ cli: SiteSyncBinary, _ node: String, activity: String, count: Int, from start: Int = 0) throws {
        let lines = (start..<(start + count)).map { n in
            #"{"collection": "quantity_entry", "fields": {"activity": "\#(activity)", "date": "2026-11-\#(String(format: "%02d", n % 28 + 1))", "quantity": "\#(n % 97 + 1).5", "note": "load \#(n)"}}"#
        }
        try cli.ok("record", "import", "--data-dir", node, "-", stdin: lines.joined(separator: "\n"))
    }

    static func plan(_ cli: SiteSyncBinary, office: String) throws {
        try cli.ok("record", "import", "--data-dir", office, "-", stdin: """
            {"collection": "department", "id": "roads", "fields": {"name": "Roads Bureau"}}
            {"collection": "department", "id": "water", "fields": {"name": "Water Bureau"}}
            {"collection": "project", "id": "p1", "fields": {"code": "R-001", "name": "Ring road", "department": "roads"}}
            {"collection": "project", "id": "p2", "fields": {"code": "W-001", "name": "Mains renewal", "department": "water"}}
            {"collection": "activity", "id": "a1", "fields": {"project": "p1", "name": "Earthworks", "ev_method": "manual"}}
            {"collection": "activity", "id": "a2", "fields": {"project": "p1", "name": "Kerbs"}}
            {"collection": "activity", "id": "w1", "fields": {"project": "p2", "name": "Trench"}}
            """)
    }

    /// The counter the hub's database holds for a replica (read beside the running hub).
    static func hubKnowledge(_ cli: SiteSyncBinary, _ hub: String = "hub") throws -> [String: Int64] {
        let queue = try DatabaseQueue(path: cli.file("\(hub)/sitesync.db"), configuration: { var c = Configuration(); c.readonly = true; return c }())
        return try queue.read { db in
            var result: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT replica, counter FROM sync_knowledge") {
                result[ReplicaID(storageValue: row[0]).description] = row[1]
            }
            return result
        }
    }

    /// `serve` stops on SIGTERM whenever it comes: once it listens (exit status 0), and while it
    /// is still opening, when it stops as soon as it runs. A hub in the soak once ignored a
    /// SIGTERM for good: a thread started before the signal handling took the signal and
    /// dropped it.
    @Test func aHubStopsOnSIGTERMWheneverItComes() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (first, _) = try Self.startHub(cli)
        first.process.terminate()
        #expect(try first.waitForExit(seconds: 10) == 0)
        // Signals every 10 ms of start-up, so that some come while the node opens.
        for round in 0..<40 {
            // The compaction thread runs from the start, as at a hub that compacts often.
            let hub = try BackgroundProcess(cli, ["serve", "--data-dir", "hub", "--listen", "tcp://127.0.0.1:*"],
                                            environment: ["SITESYNC_COMPACTION_INTERVAL": "1s"])
            if round.isMultiple(of: 4) {
                _ = try hub.waitForLine("listening on ")
            } else {
                Thread.sleep(forTimeInterval: 0.01 * Double(round))
            }
            hub.process.terminate()
            let status = try hub.waitForExit(seconds: 5)
            // Before its handler is in place the default action ends it; after, it exits cleanly.
            if hub.process.terminationReason == .uncaughtSignal {
                #expect(status == SIGTERM, "round \(round)")
            } else {
                #expect(status == 0, "round \(round): \(hub.stderr.suffix(500))")
            }
        }
    }

    @Test func aHubWithNodesOfTwoDepartmentsConvergesWhateverTheSyncOrder() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, endpoint) = try Self.startHub(cli)
        defer { hub.terminate() }
        try Self.node(cli, "office", department: "office", role: "office", hub: endpoint)
        try Self.node(cli, "r1", department: "roads", hub: endpoint)
        try Self.node(cli, "r2", department: "roads", hub: endpoint)
        try Self.node(cli, "w1", department: "water", hub: endpoint)
        try Self.plan(cli, office: "office")
        try cli.ok("sync", "--data-dir", "office")
        for node in ["r1", "r2", "w1"] { try cli.ok("sync", "--data-dir", node) }
        // Offline edits everywhere, to the same records.
        try cli.ok("record", "put", "--data-dir", "r1", "activity", "a1", "actual_finish=2026-05-03", "remarks=r1 says")
        try cli.ok("record", "put", "--data-dir", "r2", "activity", "a1", "actual_finish=2026-05-18", "remarks=r2 says", "actual_start=2026-03-02")
        try cli.ok("record", "put", "--data-dir", "w1", "activity", "w1", "status=in_progress", "actual_start=2026-03-04")
        try cli.ok("record", "put", "--data-dir", "office", "activity", "a1", "budget=125000")
        try Self.importEntries(cli, "r1", activity: "a2", count: 40)
        try Self.importEntries(cli, "r2", activity: "a1", count: 40)
        try Self.importEntries(cli, "w1", activity: "w1", count: 40)
        var g = SeededGenerator(seed: 20261130)
        for _ in 0..<3 {
            for node in ["office", "r1", "r2", "w1"].shuffled(using: &g) { try cli.ok("sync", "--data-dir", node) }
        }
        let hubRoads = try cli.ok("digest", "--data-dir", "hub", "--department", "roads")
        let hubWater = try cli.ok("digest", "--data-dir", "hub", "--department", "water")
        #expect(try cli.ok("digest", "--data-dir", "r1", "--department", "roads") == hubRoads)
        #expect(try cli.ok("digest", "--data-dir", "r2", "--department", "roads") == hubRoads)
        #expect(try cli.ok("digest", "--data-dir", "w1", "--department", "water") == hubWater)
        #expect(try cli.ok("digest", "--data-dir", "office") == cli.ok("digest", "--data-dir", "hub"))
        // Field nodes receive nothing of the other department.
        #expect(!(try cli.ok("export", "--data-dir", "w1", "--json")).contains("\"department\":\"roads\""))
        #expect(!(try cli.ok("export", "--data-dir", "r1", "--json")).contains("\"department\":\"water\""))
    }

    @Test func peersSyncWithoutAHubAndOneCarriesTheOthersWorkToTheHub() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, endpoint) = try Self.startHub(cli)
        defer { hub.terminate() }
        try Self.node(cli, "office", department: "office", role: "office", hub: endpoint)
        try Self.plan(cli, office: "office")
        try cli.ok("sync", "--data-dir", "office")
        try cli.ok("init", "--data-dir", "a", "--node", "site-a", "--department", "roads", "--hub", endpoint, "--insecure")
        try cli.ok("init", "--data-dir", "b", "--node", "site-b", "--department", "roads", "--hub", endpoint,
                   "--listen", "tcp://127.0.0.1:*", "--insecure")
        try cli.ok("sync", "--data-dir", "a")
        try cli.ok("sync", "--data-dir", "b")
        hub.terminate()
        // The hub is gone: site B opens to its peer, site A syncs with it directly.
        try cli.ok("record", "put", "--data-dir", "b", "activity", "a1", "actual_finish=2026-05-05", "remarks=from B")
        try cli.ok("record", "put", "--data-dir", "a", "activity", "a2", "actual_finish=2026-05-21")
        let peer = try BackgroundProcess(cli, ["serve", "--data-dir", "b"])
        defer { peer.terminate() }
        let peerEndpoint = try peer.waitForLine("listening on ")
        let synced = try cli.ok("sync", "--data-dir", "a", "--peer", peerEndpoint)
        #expect(synced.contains("site-b"))
        #expect(try cli.ok("digest", "--data-dir", "a") == cli.ok("digest", "--data-dir", "b"))
        peer.terminate()
        // The hub comes back; A carries B's work there.
        let (hubAgain, _) = try Self.startHub(cli, endpoint: endpoint)
        defer { hubAgain.terminate() }
        try cli.ok("sync", "--data-dir", "a")
        try cli.ok("sync", "--data-dir", "office")
        let remarks = try cli.ok("record", "get", "--data-dir", "office", "activity", "a1", "--json")
        #expect(remarks.contains("from B"))
        #expect(try cli.ok("digest", "--data-dir", "hub", "--department", "roads") == cli.ok("digest", "--data-dir", "a", "--department", "roads"))
    }

    @Test func aHubKilledInTheMiddleOfABigPushIsResumedWithAtMostOneWindowResent() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        // The receiver's limits govern a push: the hub takes batches of 500, two in flight.
        let env = ["SITESYNC_SYNC_BATCH_CHANGES": "500", "SITESYNC_SYNC_WINDOW": "2", "SITESYNC_SYNC_TIMEOUT_SECONDS": "120"]
        let (hub, endpoint) = try Self.startHub(cli, environment: env)
        try Self.node(cli, "office", department: "office", role: "office", hub: endpoint)
        try Self.plan(cli, office: "office")
        try cli.ok("sync", "--data-dir", "office")
        try Self.node(cli, "site", department: "roads", hub: endpoint)
        try cli.ok("sync", "--data-dir", "site")
        try Self.importEntries(cli, "site", activity: "a1", count: 20_000)
        let push = try BackgroundProcess(cli, ["sync", "--data-dir", "site", "--json"], environment: env)
        // Wait until the hub holds part of the push, then kill it without warning.
        let site = try cli.ok("record", "list", "--data-dir", "site", "quantity_entry", "--json").isEmpty
        #expect(!site)
        var held: Int64 = 0
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            held = (try? Self.hubKnowledge(cli).values.max()) ?? 0
            if held > 3000 { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        hub.kill()
        #expect(held > 0 && held < 20_000, "the push should have been in the middle, the hub held \(held)")
        let (hubAgain, _) = try Self.startHub(cli, environment: env, endpoint: endpoint)
        defer { hubAgain.terminate() }
        #expect(try push.waitForExit(seconds: 120) == 0, "\(push.stderr)")
        let outcome = try #require(try JSONSerialization.jsonObject(with: Data(push.stdout.utf8)) as? [String: Any])
        let resent = try #require(outcome["resent"] as? Int), sent = try #require(outcome["sent"] as? Int)
        #expect((outcome["sessions"] as? Int ?? 0) >= 2, "the client should have resumed in a new session")
        #expect(sent - 20_000 <= 2 * 500, "sent \(sent) changes for 20,000: more than one window (1,000) again")
        // What the broken session had in flight goes again. A batch the hub committed but whose
        // acknowledgement was lost goes again too, for the hub to compare (protocol §9.5): it
        // comes back as already held.
        let pushed = try #require(outcome["pushed"] as? Int), pushedNew = try #require(outcome["pushed_new"] as? Int)
        #expect(resent <= sent - 20_000, "resent counts what the broken session had in flight")
        #expect(sent - 20_000 - resent <= pushed - pushedNew, "every other change sent again was answered as already held")
        #expect(try cli.ok("digest", "--data-dir", "hub", "--department", "roads") == cli.ok("digest", "--data-dir", "site", "--department", "roads"))
    }

    @Test func aNodeKilledInTheMiddleOfAPullResumesWhereItStopped() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, endpoint) = try Self.startHub(cli)
        defer { hub.terminate() }
        try Self.node(cli, "office", department: "office", role: "office", hub: endpoint)
        try Self.plan(cli, office: "office")
        try Self.importEntries(cli, "office", activity: "a1", count: 20_000)
        try cli.ok("sync", "--data-dir", "office")
        try Self.node(cli, "site", department: "roads", hub: endpoint)
        let env = ["SITESYNC_SYNC_BATCH_CHANGES": "500", "SITESYNC_SYNC_WINDOW": "2", "SITESYNC_SYNC_TIMEOUT_SECONDS": "120"]
        let pull = try BackgroundProcess(cli, ["sync", "--data-dir", "site"], environment: env)
        var held = 0
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let queue = try? DatabaseQueue(path: cli.file("site/sitesync.db"), configuration: { var c = Configuration(); c.readonly = true; return c }())
            held = (try? queue?.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sync_change") ?? 0 }) ?? 0
            if held > 3000 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        pull.kill()
        #expect(held > 0 && held < 20_007, "the pull should have been in the middle, the node held \(held)")
        let resumed = try cli.ok("sync", "--data-dir", "site", "--json")
        let outcome = try #require(try JSONSerialization.jsonObject(with: Data(resumed.utf8)) as? [String: Any])
        let pulled = try #require(outcome["pulled"] as? Int)
        #expect(pulled < 20_007 - 2000, "the resumed pull brought \(pulled): it should continue, not start over")
        #expect(try cli.ok("digest", "--data-dir", "hub", "--department", "roads") == cli.ok("digest", "--data-dir", "site", "--department", "roads"))
    }

    @Test func junkOnTheWireDoesNotDisturbAHealthySync() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, endpoint) = try Self.startHub(cli)
        defer { hub.terminate() }
        try Self.node(cli, "office", department: "office", role: "office", hub: endpoint)
        try Self.plan(cli, office: "office")
        try Self.importEntries(cli, "office", activity: "a1", count: 2000)
        let context = try ZMQContext()
        let junk = try ZMQSocket(context, .dealer)
        try junk.connect(endpoint)
        var answers = 0
        var g = SeededGenerator(seed: 7)
        let sync = try BackgroundProcess(cli, ["sync", "--data-dir", "office"])
        let oversized = Data(repeating: 0x41, count: 9 << 20)
        for round in 0..<300 {
            var frames: [Data]
            switch round % 6 {
            case 0: frames = [Data((0..<Int.random(in: 1...200, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) })]
            case 1: frames = [SyncFrames.signature, Data((0..<64).map { _ in UInt8.random(in: 0...255, using: &g) })]
            case 2: frames = [Data("SSP9".utf8), Data([1, 2, 3])]
            case 3: frames = SyncFrames.encode(.batch(SyncMessage.Batch(session: 42, pull: false, sequence: 7, changes: [],
                                                                         vouched: VersionVector(), last: false)))
            case 4: frames = [SyncFrames.signature, Data(), Data(), Data()]
            default: frames = round == 5 ? [SyncFrames.signature, oversized] : [SyncFrames.signature, Data([0x22, 0x02, 0x08])]
            }
            _ = try junk.send(frames)
            if let _ = try junk.receive() { answers += 1 }
        }
        #expect(try sync.waitForExit(seconds: 60) == 0, "\(sync.stderr)")
        #expect(try cli.ok("digest", "--data-dir", "office") == cli.ok("digest", "--data-dir", "hub"))
        // The junk got failures back, and the hub named the peer in its log.
        let deadline = Date().addingTimeInterval(5)
        while answers < 10 && Date() < deadline {
            if (try junk.receive()) != nil { answers += 1 } else { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(answers >= 10)
        #expect(hub.stderr.contains("bad message") && hub.stderr.contains("peer.address=127.0.0.1"))
        // A greeting in another protocol version is refused naming both versions.
        let stranger = try ZMQSocket(context, .dealer)
        try stranger.connect(endpoint)
        let other = ProtocolVersions(protocolVersion: 99, schemaVersion: 1, schemaHash: Schema.siteSync.hash)
        _ = try stranger.send(SyncFrames.encode(.hello(SyncMessage.Hello(
            versions: other, peer: PeerIdentity(node: "future", replica: ReplicaID(rawValue: 5), role: .field, department: "roads"),
            knowledge: VersionVector(), session: 77, limits: SessionLimits()))))
        var reply: ZMQMessage?
        let until = Date().addingTimeInterval(5)
        while reply == nil && Date() < until { reply = try stranger.receive(); if reply == nil { Thread.sleep(forTimeInterval: 0.01) } }
        guard case .failure(let failure)? = try reply.map({ try SyncFrames.decode($0.frames, schema: .siteSync) }) else {
            Issue.record("no failure for a greeting in protocol 99"); return
        }
        #expect(failure.code == .upgradeRequired && failure.reason.contains("protocol 99") && failure.reason.contains("protocol 1"))
    }

    @Test func aSyncAgainstAStoppedHubFailsPromptlyThenSucceedsOnceItIsBack() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, endpoint) = try Self.startHub(cli)
        hub.terminate()
        try Self.node(cli, "site", department: "roads", hub: endpoint)
        let started = Date()
        let failed = try cli.run(["sync", "--data-dir", "site"], environment: ["SITESYNC_SYNC_TIMEOUT_SECONDS": "5"])
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("no answer from \(endpoint)"), "\(failed.stderr)")
        #expect(failed.stderr.contains("Nothing was lost"))
        #expect(Date().timeIntervalSince(started) < 15)
        let (hubAgain, _) = try Self.startHub(cli, endpoint: endpoint)
        defer { hubAgain.terminate() }
        #expect(try cli.ok("sync", "--data-dir", "site").contains("synced with hub-1"))
    }

    @Test func aRunningNodePicksUpTheHubsNewDataWithinAboutASecond() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, endpoint) = try Self.startHub(cli)
        defer { hub.terminate() }
        try Self.node(cli, "office", department: "office", role: "office", hub: endpoint)
        try Self.plan(cli, office: "office")
        try cli.ok("sync", "--data-dir", "office")
        try Self.node(cli, "site", department: "roads", hub: endpoint)
        let runner = try BackgroundProcess(cli, ["run", "--data-dir", "site"], environment: ["SITESYNC_SYNC_INTERVAL_SECONDS": "300"])
        defer { runner.terminate() }
        // Wait for its first round.
        let first = Date().addingTimeInterval(20)
        while !runner.stderr.contains("synced with") && Date() < first { Thread.sleep(forTimeInterval: 0.05) }
        #expect(runner.stderr.contains("synced with"))
        try cli.ok("record", "put", "--data-dir", "office", "activity", "a1", "name=Earthworks, phase 2")
        let pushed = Date()
        try cli.ok("sync", "--data-dir", "office")
        var seen: TimeInterval?
        while Date().timeIntervalSince(pushed) < 10 {
            if (try cli.ok("record", "get", "--data-dir", "site", "activity", "a1")).contains("phase 2") {
                seen = Date().timeIntervalSince(pushed)
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let latency = try #require(seen, "the running node never picked up the change")
        #expect(latency < 3, "picked up after \(latency) s")
        // A local write goes up soon too, without waiting for the interval.
        try cli.ok("record", "put", "--data-dir", "site", "activity", "a1", "actual_finish=2026-05-13")
        let written = Date()
        var arrived = false
        while Date().timeIntervalSince(written) < 10 && !arrived {
            arrived = (try cli.ok("record", "get", "--data-dir", "hub", "activity", "a1")).contains("2026-05-13")
            if !arrived { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(arrived)
        runner.terminate()
        #expect(runner.process.terminationStatus == 0, "run should stop cleanly on SIGTERM: \(runner.stderr.suffix(500))")
    }
}
