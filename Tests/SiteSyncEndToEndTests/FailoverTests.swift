import Foundation
import Glibc
import GRDB
import Testing
@testable import SiteSyncCore

/// A node that names several endpoints of one hub (`[[sync.hubs]]`): real `sitesync serve`
/// processes over one data directory, real ZeroMQ on loopback. A round moves on from an
/// endpoint that does not answer, never from one that answers with a refusal, and resumed at
/// another process it sends nothing the hub already holds.
@Suite(.serialized) struct FailoverTests {
    /// A loopback port nothing listens on: bound once by the system's choice, then closed.
    static func closedPort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw TestFailure("no free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// `serve` over the hub's data directory `hub` at `endpoint`, once it listens.
    static func serve(_ cli: SiteSyncBinary, at endpoint: String, environment: [String: String] = [:]) throws -> BackgroundProcess {
        let process = try BackgroundProcess(cli, ["serve", "--data-dir", "hub", "--listen", endpoint], environment: environment)
        _ = try process.waitForLine("listening on ")
        return process
    }

    /// An insecure hub with an office that wrote the plan (through `serving`, which the caller
    /// has started at one of `endpoints`), and a roads site that names `endpoints` as its hub's,
    /// synced once: it holds the plan.
    static func site(_ cli: SiteSyncBinary, endpoints: [String], through serving: String) throws {
        try NetworkSyncTests.node(cli, "office", department: "office", role: "office", hub: serving)
        try NetworkSyncTests.plan(cli, office: "office")
        try cli.ok("sync", "--data-dir", "office")
        let created = try cli.run(["init", "--data-dir", "site", "--node", "site", "--department", "roads", "--insecure"]
                                  + endpoints.flatMap { ["--hub", $0] })
        #expect(created.status == 0, "\(created.stderr)")
        try cli.ok("sync", "--data-dir", "site")
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    /// `sitesync ARGS --json` with `environment`, which must succeed: its object.
    static func jsonRun(_ cli: SiteSyncBinary, _ arguments: [String], environment: [String: String] = [:],
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let result = try cli.run(arguments + ["--json"], environment: environment)
        #expect(result.status == 0, "sitesync \(arguments.joined(separator: " ")): \(result.stderr)", sourceLocation: sourceLocation)
        return try json(result.stdout)
    }

    /// The site's counter as the hub's database holds it: what the hub holds of the site's
    /// changes. Read with the hub stopped (the read may recover the write-ahead log).
    static func held(_ cli: SiteSyncBinary, of replica: String) throws -> Int64 {
        try DatabaseQueue(path: cli.file("hub/sitesync.db")).read { db in
            try Row.fetchAll(db, sql: "SELECT replica, counter FROM sync_knowledge")
                .first { ReplicaID(storageValue: $0[0]).description == replica }?[1] ?? 0
        }
    }

    /// Short timeouts, so that a dead endpoint costs 2 s rather than 10.
    static let quick = ["SITESYNC_SYNC_TIMEOUT_SECONDS": "2"]

    /// Over CURVE, each endpoint with its key: the first has nothing listening, so the round
    /// goes through the second, says so, and `status` names the second as the one last reached;
    /// the next round starts there.
    @Test func aClosedFirstEndpointIsPassedOverForTheSecondAndStatusNamesIt() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try SecurityTests.fleet(cli)
        defer { hub.process.terminate() }
        let closed = "tcp://127.0.0.1:\(try Self.closedPort())"
        try cli.ok("init", "--data-dir", "site", "--node", "site", "--department", "roads",
                   "--hub", closed, "--hub-key=\(hub.key)", "--hub", hub.endpoint, "--hub-key=\(hub.key)")
        let key = try cli.ok("keys", "show", "--data-dir", "site").trimmingCharacters(in: .whitespacesAndNewlines)
        try cli.ok("keys", "allow", "--data-dir", "hub", "--node", "site", "--department", "roads", "--role", "field", "--key", key)

        // A refused connection is passed over at once, not after the connect timeout (10 s).
        let passing = Date()
        let first = try Self.jsonRun(cli, ["sync", "--data-dir", "site"])
        #expect(Date().timeIntervalSince(passing) < 5, "passing over the closed endpoint took the connect timeout")
        #expect(first["endpoint"] as? String == hub.endpoint)
        #expect(first["peer"] as? String == "hub-1")
        #expect((first["pulled_new"] as? Int ?? 0) >= 1, "the plan came down")
        let passed = try #require(first["passed_over"] as? [[String: Any]])
        #expect(passed.count == 1 && passed.first?["endpoint"] as? String == closed && passed.first?["code"] as? String == "unreachable")

        let status = try Self.json(try cli.run(["status", "--data-dir", "site", "--json"]).stdout)
        let hubFacts = try #require(status["hub"] as? [String: Any])
        #expect(hubFacts["endpoint"] as? String == hub.endpoint, "the endpoint the next round tries first")
        #expect(hubFacts["endpoints"] as? [String] == [closed, hub.endpoint])
        #expect((hubFacts["last_reached"] as? [String: Any])?["endpoint"] as? String == hub.endpoint)
        #expect((hubFacts["last_reached"] as? [String: Any])?["at"] is String)
        #expect(hubFacts["reachable"] as? Bool == true)
        #expect(status["state"] as? String == "in-sync")
        let text = try cli.run(["status", "--data-dir", "site"]).stdout
        #expect(text.contains("last reached \(hub.endpoint)"), "\(text)")
        // The hub's row is the hub's, whichever endpoint answered.
        #expect((status["peers"] as? [[String: Any]])?.map { $0["node"] as? String } == ["hub-1"])

        // The next round starts with the endpoint last reached: nothing passed over.
        try cli.ok("record", "put", "--data-dir", "site", "daily_log", "new", "project=p1", "date=2026-12-01", "weather=dry")
        let second = try Self.jsonRun(cli, ["sync", "--data-dir", "site"])
        #expect((second["passed_over"] as? [Any])?.isEmpty == true)
        #expect(second["endpoint"] as? String == hub.endpoint && second["pushed_new"] as? Int == 1)
    }

    /// A cold standby: the hub process is killed, and another `serve` over the same data
    /// directory starts at another port. The site's next sync moves on to it, pushes only what
    /// the hub did not acknowledge, and loses nothing.
    @Test func aHubKilledAndAStandbyOverTheSameStoreTakesOverWithoutResendingWhatWasAcknowledged() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let first = "tcp://127.0.0.1:\(try Self.closedPort())", standby = "tcp://127.0.0.1:\(try Self.closedPort())"
        try cli.ok("init", "--data-dir", "hub", "--node", "hub-1", "--department", "office", "--role", "hub", "--insecure")
        let primary = try Self.serve(cli, at: first)
        try Self.site(cli, endpoints: [first, standby], through: first)
        try NetworkSyncTests.importEntries(cli, "site", activity: "a1", count: 300)
        let before = try Self.jsonRun(cli, ["sync", "--data-dir", "site"], environment: Self.quick)
        #expect(before["endpoint"] as? String == first && before["pushed_new"] as? Int == 300)

        try NetworkSyncTests.importEntries(cli, "site", activity: "a1", count: 200, from: 300)
        primary.kill()
        let second = try Self.serve(cli, at: standby)
        defer { second.terminate() }
        let after = try Self.jsonRun(cli, ["sync", "--data-dir", "site"], environment: Self.quick)
        #expect(after["endpoint"] as? String == standby)
        #expect((after["passed_over"] as? [[String: Any]])?.first?["endpoint"] as? String == first)
        // Only the 200 the hub lacked went up: the 300 it acknowledged through the first process
        // were not sent again.
        #expect(after["sent"] as? Int == 200, "\(after)")
        #expect(after["pushed"] as? Int == 200 && after["pushed_new"] as? Int == 200, "\(after)")
        #expect(try cli.ok("digest", "--data-dir", "hub", "--department", "roads") == cli.ok("digest", "--data-dir", "site", "--department", "roads"))
        let status = try Self.json(try cli.run(["status", "--data-dir", "site", "--json"]).stdout)
        #expect(((status["hub"] as? [String: Any])?["last_reached"] as? [String: Any])?["endpoint"] as? String == standby)
        #expect(status["pending_changes"] as? Int == 0)
    }

    /// The hub process killed in the middle of a big push; a standby over the same data
    /// directory at another port. The `sync` already running moves on to it and sends only what
    /// the hub's database lacks: of what the killed process took, at most the window in flight
    /// (committed, but not acknowledged) goes again, and nothing it committed does.
    @Test func aPushBrokenOffByAKilledHubIsFinishedAtTheStandbySendingOnlyWhatTheHubLacks() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        // The receiver's limits govern a push: the hub takes batches of 256, two in flight.
        let hubLimits = ["SITESYNC_SYNC_BATCH_CHANGES": "256", "SITESYNC_SYNC_WINDOW": "2"]
        let first = "tcp://127.0.0.1:\(try Self.closedPort())", standby = "tcp://127.0.0.1:\(try Self.closedPort())"
        try cli.ok("init", "--data-dir", "hub", "--node", "hub-1", "--department", "office", "--role", "hub", "--insecure")
        let primary = try Self.serve(cli, at: first, environment: hubLimits)
        try Self.site(cli, endpoints: [first, standby], through: first)
        try NetworkSyncTests.importEntries(cli, "site", activity: "a1", count: 4_000)
        let status = try Self.json(try cli.run(["status", "--data-dir", "site", "--json"]).stdout)
        let replica = try #require(status["replica"] as? String)
        let total = try #require(status["pending_changes"] as? Int)

        let push = try BackgroundProcess(cli, ["sync", "--data-dir", "site", "--json"], environment: ["SITESYNC_SYNC_TIMEOUT_SECONDS": "3"])
        // Kill the hub once it holds part of the push.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, ((try? NetworkSyncTests.hubKnowledge(cli)[replica]) ?? 0) < 800 {
            Thread.sleep(forTimeInterval: 0.01)
        }
        primary.kill()
        let acknowledgedBefore = try Self.held(cli, of: replica)
        let committed = Int(acknowledgedBefore)
        #expect(committed > 0 && committed < total, "the push should have been in the middle: the hub held \(committed) of \(total)")
        let second = try Self.serve(cli, at: standby, environment: hubLimits)
        defer { second.terminate() }
        #expect(try push.waitForExit(seconds: 60) == 0, "\(push.stderr)")
        let outcome = try Self.json(push.stdout)
        #expect(outcome["endpoint"] as? String == standby)
        let passed = try #require((outcome["passed_over"] as? [[String: Any]])?.first)
        #expect(passed["endpoint"] as? String == first && ["silent", "unreachable"].contains(passed["code"] as? String ?? ""), "\(passed)")
        // The standby's Welcome said what the hub's database holds, and the rest went: every
        // change the hub lacked arrived new, none twice. Up to the hub's window (2 batches of
        // 256) may be sent again and arrive as known, as the test's summary allows: whether the
        // last batch was committed before the kill is the scheduler's, not the test's.
        let sent = try #require(outcome["sent"] as? Int, "\(outcome)")
        #expect(sent >= total - committed && sent <= total - committed + 2 * 256, "\(outcome)")
        #expect(outcome["pushed_new"] as? Int == total - committed, "\(outcome)")
        #expect(outcome["resent"] as? Int == 0)
        #expect(try cli.ok("digest", "--data-dir", "hub", "--department", "roads") == cli.ok("digest", "--data-dir", "site", "--department", "roads"))
    }

    /// `sitesync run` after its hub process died: its next round moves on to the standby, and
    /// the rounds after start there (no wait on the dead endpoint).
    @Test func aRunningNodeMovesOnToTheStandbyAndStaysThere() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let first = "tcp://127.0.0.1:\(try Self.closedPort())", standby = "tcp://127.0.0.1:\(try Self.closedPort())"
        try cli.ok("init", "--data-dir", "hub", "--node", "hub-1", "--department", "office", "--role", "hub", "--insecure")
        let primary = try Self.serve(cli, at: first)
        try Self.site(cli, endpoints: [first, standby], through: first)
        let runner = try BackgroundProcess(cli, ["run", "--data-dir", "site"],
                                           environment: ["SITESYNC_SYNC_INTERVAL_SECONDS": "300", "SITESYNC_SYNC_TIMEOUT_SECONDS": "4"])
        defer { runner.terminate() }
        let started = Date().addingTimeInterval(20)
        while !runner.stderr.contains("synced with") && Date() < started { Thread.sleep(forTimeInterval: 0.05) }
        #expect(runner.stderr.contains("synced with"), "\(runner.stderr.suffix(1000))")
        primary.kill()
        let second = try Self.serve(cli, at: standby)
        defer { second.terminate() }

        /// Seconds until a write at the site is at the hub (`nil`: not within 15 s).
        func carried(_ date: String) throws -> TimeInterval? {
            try cli.ok("record", "put", "--data-dir", "site", "activity", "a1", "actual_finish=\(date)")
            let written = Date()
            while Date().timeIntervalSince(written) < 15 {
                if try cli.ok("record", "get", "--data-dir", "hub", "activity", "a1").contains(date) { return Date().timeIntervalSince(written) }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return nil
        }
        let failedOver = try #require(try carried("2026-05-13"), "the write never reached the standby: \(runner.stderr.suffix(1500))")
        #expect(runner.stderr.contains("\(first) did not answer"), "\(runner.stderr.suffix(1500))")
        let settled = try #require(try carried("2026-05-14"), "the second write never reached the standby: \(runner.stderr.suffix(1500))")
        #expect(runner.stderr.components(separatedBy: "\(first) did not answer").count == 2,
                "the round after the failover tried the dead endpoint again: \(runner.stderr.suffix(1500))")
        #expect(failedOver < 4 && settled < 4, "a refused connection should be passed over at once: \(failedOver) s, then \(settled) s")
        runner.terminate()
        #expect(runner.process.terminationStatus == 0, "run should stop cleanly on SIGTERM: \(runner.stderr.suffix(500))")
    }

    /// A refusal is the hub's answer, and every process of it would give the same: the round
    /// ends there and does not fall through to the next endpoint. Here the first process
    /// refuses a second session in a row (503: over its Hello rate) while the second, over the
    /// same data directory, would have taken it.
    @Test func aRefusalFromTheFirstEndpointDoesNotFallThroughToTheSecond() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let first = "tcp://127.0.0.1:\(try Self.closedPort())", other = "tcp://127.0.0.1:\(try Self.closedPort())"
        try cli.ok("init", "--data-dir", "hub", "--node", "hub-1", "--department", "office", "--role", "hub", "--insecure")
        let strict = try Self.serve(cli, at: first, environment: ["SITESYNC_SYNC_HELLO_BURST": "1", "SITESYNC_SYNC_HELLOS_PER_SECOND": "0.1"])
        defer { strict.terminate() }
        let lenient = try Self.serve(cli, at: other)
        defer { lenient.terminate() }
        try Self.site(cli, endpoints: [first, other], through: other)
        let refused = try cli.run(["sync", "--data-dir", "site"], environment: Self.quick)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("too many sessions"), "\(refused.stderr)")
        #expect(!refused.stderr.contains(other), "the refusal named another endpoint: \(refused.stderr)")
        #expect(!lenient.stderr.contains("peer.node=site"), "the second process heard from the site: \(lenient.stderr.suffix(1000))")
        let status = try Self.json(try cli.run(["status", "--data-dir", "site", "--json"]).stdout)
        #expect((status["last_sync"] as? [String: Any])?["endpoint"] as? String == first)
        #expect((status["hub"] as? [String: Any])?["reachable"] as? Bool == true, "a refusal is an answer")
    }
}
