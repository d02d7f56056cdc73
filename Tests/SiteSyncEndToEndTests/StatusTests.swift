import Foundation
import Testing

/// `sitesync status`, the hub's fleet view, the sync history and progress, on real processes
/// syncing over loopback.
@Suite(.serialized) struct StatusTests {
    /// A hub, an office holding the plan, and two field sites of one department, all synced.
    static func fleet(_ cli: SiteSyncBinary) throws -> (BackgroundProcess, String) {
        try NetworkSyncTests.plannedHub(cli, sites: ["north", "south"])
    }

    /// `status --json` of a node, with its exit status.
    static func status(_ cli: SiteSyncBinary, _ arguments: String...) throws -> (json: [String: Any], exit: Int32) {
        let result = try cli.run(["status", "--json"] + arguments)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        guard let object else { throw TestFailure("status printed no JSON object: \(result.stdout) \(result.stderr)") }
        return (object, result.status)
    }

    @Test func offlineWritesArePendingUntilASyncTakesThemUp() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, endpoint) = try Self.fleet(cli)
        defer { hub.terminate() }
        var (status, exit) = try Self.status(cli, "--data-dir", "north")
        #expect(status["pending_changes"] as? Int == 0)
        #expect(status["state"] as? String == "in-sync" && exit == 0, "\(status)")

        for percent in [10, 20, 30, 40, 50] {
            try cli.ok("record", "put", "--data-dir", "north", "activity", "a1", "actual_finish=2026-05-\(percent / 10 + 10)")
        }
        (status, exit) = try Self.status(cli, "--data-dir", "north")
        #expect(status["pending_changes"] as? Int == 5)
        #expect(status["state"] as? String == "behind" && exit == 2)
        #expect(status["node"] as? String == "north" && status["department"] as? String == "roads" && status["role"] as? String == "field")
        #expect((status["replica"] as? String)?.count == 16)
        #expect((status["peers"] as? [[String: Any]])?.first?["node"] as? String == "hub-1")
        let human = try cli.run(["status", "--data-dir", "north"])
        #expect(human.stdout.hasPrefix("NOT IN SYNC — 5 changes waiting to go up"), "\(human.stdout)")

        try cli.ok("sync", "--data-dir", "north")
        (status, exit) = try Self.status(cli, "--data-dir", "north")
        #expect(status["pending_changes"] as? Int == 0)
        let lastSync = status["last_sync"] as? [String: Any]
        #expect(lastSync?["ok"] as? Bool == true && lastSync?["peer"] as? String == "hub-1" && lastSync?["pushed"] as? Int == 5)
        #expect(lastSync?["at"] is String)
        let hubInfo = status["hub"] as? [String: Any]
        #expect(hubInfo?["endpoint"] as? String == endpoint && hubInfo?["reachable"] as? Bool == true)
        #expect((hubInfo?["clock_offset_ms"] as? Int).map { abs($0) < 5_000 } == true, "one machine, one clock: \(String(describing: hubInfo))")
        #expect(status["state"] as? String == "in-sync" && exit == 0)
        // The hub's own status: every node it knows, none stale.
        (status, exit) = try Self.status(cli, "--data-dir", "hub")
        #expect((status["fleet"] as? [String: Any])?["nodes"] as? Int == 3 && exit == 0, "\(status)")

        // The hub goes away: the next sync fails, and status says so without a network.
        hub.terminate()
        try cli.ok("record", "put", "--data-dir", "north", "activity", "a1", "actual_finish=2026-05-05")
        let failed = try cli.run(["sync", "--data-dir", "north"], environment: ["SITESYNC_SYNC_TIMEOUT_SECONDS": "2"])
        #expect(failed.status != 0)
        (status, exit) = try Self.status(cli, "--data-dir", "north")
        #expect((status["hub"] as? [String: Any])?["reachable"] as? Bool == false)
        #expect((status["last_sync"] as? [String: Any])?["ok"] as? Bool == false)
        #expect((status["last_successful_sync"] as? [String: Any])?["ok"] as? Bool == true)
        #expect(status["pending_changes"] as? Int == 1 && exit == 2)

        // The history shows both rounds, newest first, and the failure's reason.
        let history = try cli.json("history", "--data-dir", "north", "--json") as? [[String: Any]] ?? []
        #expect(history.first?["ok"] as? Bool == false && history.first?["error_code"] as? String == "unreachable", "\(history)")
        let pushed = history.first { $0["ok"] as? Bool == true && $0["pushed"] as? Int == 5 }
        #expect(pushed?["kind"] as? String == "sync" && pushed?["peer"] as? String == "hub-1")
        #expect((pushed?["bytes_sent"] as? Int ?? 0) > 0 && pushed?["duration_ms"] is Int)
        // A node that cannot be read exits 4 and says why.
        let unreadable = try cli.run(["status", "--data-dir", "nowhere"])
        #expect(unreadable.status == 4 && unreadable.stderr.contains("no data directory"))
    }

    @Test func aConcurrentEditIsAnOpenConflictOnBothNodesAndInTheReviewQueue() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, _) = try Self.fleet(cli)
        defer { hub.terminate() }
        try cli.ok("record", "put", "--data-dir", "north", "activity", "a1", "remarks=north: kerbs done")
        try cli.ok("record", "put", "--data-dir", "south", "activity", "a1", "remarks=south: kerbs half done")
        for node in ["north", "south", "north"] { try cli.ok("sync", "--data-dir", node) }
        for node in ["north", "south"] {
            let (status, exit) = try Self.status(cli, "--data-dir", node)
            #expect((status["open_conflicts"] as? Int ?? 0) >= 1 && status["state"] as? String == "review" && exit == 3, "\(node): \(status)")
        }
        // The review queue: every value with the node that wrote it, filtered by project and state.
        let queue = try cli.json("conflicts", "--data-dir", "north", "--json", "--project", "R-001", "--state", "open") as? [[String: Any]] ?? []
        #expect(queue.count == 1 && queue.first?["field"] as? String == "remarks" && queue.first?["rule"] as? String == "mv")
        let writers = Set((queue.first?["values"] as? [[String: Any]] ?? []).compactMap { $0["node"] as? String })
        #expect(writers == ["north", "south"])
        let atHub = try cli.json("conflicts", "--data-dir", "hub", "--json", "--project", "R-001") as? [[String: Any]]
        #expect(atHub?.count == 1)
        let elsewhere = try cli.json("conflicts", "--data-dir", "hub", "--json", "--project", "W-001") as? [[String: Any]]
        #expect(elsewhere?.isEmpty == true)
        let human = try cli.ok("conflicts", "--data-dir", "north")
        #expect(human.contains("OPEN") && human.contains("— north at") && human.contains("— south at"))
        // The fleet view counts it against both writers.
        let review = try cli.run(["status", "--data-dir", "hub", "--fleet", "--json"])
        #expect(review.status == 3)
        let fleet = try JSONSerialization.jsonObject(with: Data(review.stdout.utf8)) as? [String: Any]
        let members = fleet?["nodes"] as? [[String: Any]] ?? []
        for node in ["north", "south"] {
            #expect(members.first { $0["node"] as? String == node }?["open_conflicts"] as? Int == 1)
        }
        // Settled by a person, the conflict is gone everywhere after a sync.
        try cli.ok("resolve", "--data-dir", "north", "activity", "a1", "remarks", "--value", "kerbs done on the north side")
        for node in ["north", "south"] { try cli.ok("sync", "--data-dir", node) }
        for node in ["north", "south"] {
            let (status, exit) = try Self.status(cli, "--data-dir", node)
            #expect(status["open_conflicts"] as? Int == 0 && exit == 0, "\(node): \(status)")
        }
    }

    @Test func theFleetViewShowsWhoIsBehindAndWhoIsStale() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let started = try Self.fleet(cli)
        var hub = started.0
        defer { hub.terminate() }
        for n in 1...3 {
            try cli.ok("record", "put", "--data-dir", "south", "activity", "a2", "actual_finish=2026-05-\(n + 10)")
        }
        try cli.ok("sync", "--data-dir", "south")
        /// The hub's clock, from the moment it is moved on (no waiting for time to pass).
        var hubClock: [String: String] = [:]
        func member(_ name: String, _ arguments: String...) throws -> [String: Any] {
            let result = try cli.run(["status", "--data-dir", "hub", "--fleet", "--json"] + arguments, environment: hubClock)
            let fleet = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            let found = (fleet?["nodes"] as? [[String: Any]])?.first { $0["node"] as? String == name }
            guard let found else { throw TestFailure("\(name) is not in the fleet view: \(result.stdout) \(result.stderr)") }
            return found
        }
        var north = try member("north")
        #expect(north["behind"] as? Int == 3, "\(north)")
        #expect(north["stale"] as? Bool == false && north["holds_back_compaction"] as? Bool == true)
        #expect(north["department"] as? String == "roads" && north["role"] as? String == "field" && north["last_seen"] is String)
        #expect(try member("south")["behind"] as? Int == 0)
        #expect(try member("office")["behind"] as? Int == 3, "the office reads every department")
        #expect(try member("north", "--stale-after", "30s")["stale"] as? Bool == false, "heard from within 30 s")
        // Past the threshold, a node not heard from is stale. Rather than wait, the hub's clock
        // moves on a minute: the hub starts again with it, and the status reads it too.
        hubClock = ["SITESYNC_CLOCK_OFFSET_SECONDS": "60"]
        hub.terminate()
        (hub, _) = try NetworkSyncTests.startHub(cli, environment: hubClock, endpoint: started.1)
        try cli.ok("sync", "--data-dir", "south")
        north = try member("north", "--stale-after", "30s")
        #expect(north["stale"] as? Bool == true && north["behind"] as? Int == 3, "\(north)")
        #expect(try member("south", "--stale-after", "30s")["stale"] as? Bool == false)
        let stale = try cli.run(["status", "--data-dir", "hub", "--fleet", "--stale-after", "30s"], environment: hubClock)
        #expect(stale.status == 2 && stale.stdout.contains("STALE"), "\(stale.stdout)")
        // Pulling catches it up.
        try cli.ok("sync", "--data-dir", "north")
        north = try member("north", "--stale-after", "30s")
        #expect(north["behind"] as? Int == 0 && north["stale"] as? Bool == false && north["ahead"] as? Int == 0)
        // A bad duration is a usage error that says how to write one.
        let bad = try cli.run(["status", "--data-dir", "hub", "--fleet", "--stale-after", "soon"])
        #expect(bad.status == 64 && bad.stderr.contains("90s, 30m, 6h, 2d"))
    }

    @Test func pipedOutputHasNoEscapeCodes() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, _) = try Self.fleet(cli)
        defer { hub.terminate() }
        try cli.ok("record", "put", "--data-dir", "north", "activity", "a1", "remarks=north")
        try cli.ok("record", "put", "--data-dir", "south", "activity", "a1", "remarks=south")
        for node in ["north", "south"] { try cli.ok("sync", "--data-dir", node) }
        try NetworkSyncTests.importEntries(cli, "north", activity: "a1", count: 3_000)
        var outputs: [String] = []
        for arguments in [["status", "--data-dir", "south"], ["status", "--data-dir", "hub"], ["status", "--data-dir", "hub", "--fleet"],
                          ["conflicts", "--data-dir", "south"], ["history", "--data-dir", "north"], ["sync", "--data-dir", "north"]] {
            // As a terminal would have it, but piped: TERM alone must not bring colour.
            let result = try cli.run(arguments, environment: ["TERM": "xterm-256color"])
            outputs.append(result.stdout + result.stderr)
        }
        #expect(outputs[0].contains("NEEDS REVIEW") && outputs[3].contains("OPEN"))
        for (index, output) in outputs.enumerated() {
            #expect(!output.contains("\u{1B}"), "output \(index) holds an escape code: \(output.debugDescription)")
        }
    }

    @Test func aLongSyncShowsAProgressBarOnARealTerminal() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, _) = try Self.fleet(cli)
        defer { hub.terminate() }
        try NetworkSyncTests.importEntries(cli, "north", activity: "a1", count: 20_000)
        // tmux gives the command a real terminal; capture-pane reads back what it drew.
        let socket = "sitesync-test-\(ProcessInfo.processInfo.processIdentifier)"
        func tmux(_ arguments: String...) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["tmux", "-L", socket] + arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        // (NO_COLOR, which a test runner may set, would rightly turn the bar off.)
        let command = "unset NO_COLOR; cd '\(cli.directory)' && '\(SiteSyncBinary.path)' sync --data-dir north; echo SYNC-EXIT=$?; sleep 60"
        // The process that starts tmux's server is not waited for: the server inherits its
        // descriptors, so Foundation would see it end only when the server does.
        let starter = Process()
        starter.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        starter.arguments = ["tmux", "-L", socket, "new-session", "-d", "-x", "160", "-y", "40", "-s", "progress", command]
        starter.standardOutput = FileHandle.nullDevice
        starter.standardError = FileHandle.nullDevice
        try starter.run()
        defer { _ = try? tmux("kill-server") }
        var screen = ""
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            screen = try tmux("capture-pane", "-p", "-t", "progress")
            if screen.contains("SYNC-EXIT=") { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(screen.contains("SYNC-EXIT=0"), "\(screen)")
        #expect(screen.contains("pushing [########################] 20,000/20,000 changes"), "\(screen)")
        #expect(screen.contains("/s") && screen.contains("done in"), "\(screen)")
        // Piped, the same kind of sync prints no bar, only occasional plain lines.
        try NetworkSyncTests.importEntries(cli, "south", activity: "a2", count: 2_000)
        let piped = try cli.run(["sync", "--data-dir", "south"])
        #expect(piped.status == 0 && !piped.stderr.contains("[#") && !piped.stderr.contains("\u{1B}"))
    }
}
