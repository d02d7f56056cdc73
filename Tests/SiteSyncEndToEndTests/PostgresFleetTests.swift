import Foundation
import GRDB
import SiteSyncPostgres
import SiteSyncTestSupport
import Testing

/// A city served by two `sitesync serve` hub processes over one PostgreSQL database (docs/design.md
/// §18, issue 21 item 4), all real processes on loopback: the hub processes over CURVE with their
/// key pinned at the nodes, each field node naming both endpoints, and PostgreSQL a private
/// cluster. Hub processes are killed (SIGKILL) and PostgreSQL restarted amid writes and syncs:
/// nothing a `sync` acknowledged is lost, and after a quiet round every replica agrees.
@Suite(.serialized) struct PostgresFleetTests {
    @Test func killsOfEitherHubAndRestartsOfPostgreSQLLoseNothingAcknowledgedAndConverge() async throws {
        await seededCheck(count: 1) { seed in
            print("PostgresFleetTests: seed \(seed) (run it again with SITESYNC_TEST_SEED=\(seed))")
            let fleet = try PostgresFleet()
            defer { fleet.stop() }
            var schedule = FleetSchedule(fleet: fleet, generator: SeededGenerator(seed: seed))
            let started = Date()
            try schedule.run(steps: 36, hubKills: 4, postgresRestarts: 3)
            let scheduled = Date()
            try fleet.checkAcknowledgedAtBothHubs(schedule.acknowledged, seed: seed)
            try fleet.quietRound()
            let quiet = Date()
            try fleet.checkConverged(seed: seed)
            for (hub, process) in fleet.hubs {
                let errors = process.stderr.split(separator: "\n").filter { $0.contains(" error ") || $0.contains(" critical ") }
                #expect(!errors.contains { $0.contains(" critical ") }, "seed \(seed): \(hub) stopped listening: \(errors)")
                if !errors.isEmpty { print("PostgresFleetTests: \(hub) logged errors:\n" + errors.joined(separator: "\n")) }
            }
            print("PostgresFleetTests: seed \(seed): \(schedule.acknowledged.count) records acknowledged, \(schedule.faults) faults, "
                  + "\(schedule.failedSyncs.count) syncs failed; schedule \(scheduled.timeIntervalSince(started)) s, "
                  + "quiet round \(quiet.timeIntervalSince(scheduled)) s, checks \(Date().timeIntervalSince(quiet)) s\n"
                  + schedule.log.joined(separator: "\n") + "\nfailed syncs:\n" + schedule.failedSyncs.joined(separator: "\n"))
            #expect(schedule.faults >= 2, "seed \(seed): the schedule should have killed a hub or restarted PostgreSQL: \(schedule.log)")
            #expect(schedule.failedSyncs.allSatisfy { !$0.isEmpty }, "seed \(seed): a failed sync said nothing")
        }
    }

    /// With PostgreSQL down a hub process cannot commit what a node pushes: the node's `sync`
    /// fails saying so, keeps its changes pending, and once PostgreSQL is back the next `sync`
    /// carries them, through either hub process.
    @Test func aSyncWhilePostgreSQLIsDownFailsClearlyAndTheNextCarriesEverything() throws {
        let fleet = try PostgresFleet()
        defer { fleet.stop() }
        try fleet.cli.ok("record", "put", "--data-dir", "r1", "quantity_entry", "q-down-1", "activity=a1", "date=2026-11-02",
                         "quantity=3.5", "note=written before PostgreSQL went down")
        let pendingBefore = try fleet.pendingChanges("r1")
        #expect(pendingBefore >= 1)
        try fleet.cluster.kill()
        let failed = try fleet.sync("r1")
        #expect(failed.status != 0, "a push the hub could not commit was acknowledged: \(failed.stdout)")
        print("PostgresFleetTests: a sync while PostgreSQL is down: \(failed.stderr)")
        #expect(failed.stderr.contains("PostgreSQL") && failed.stderr.contains("try again once PostgreSQL answers"),
                "the failure should say the hub's store is out of reach, and what to do: \(failed.stderr)")
        #expect(try fleet.pendingChanges("r1") == pendingBefore, "the failed push lost the node's pending changes")
        try fleet.cluster.restart()
        let retried = try fleet.sync("r1")
        #expect(retried.status == 0, "the sync after PostgreSQL came back: \(retried.stderr)")
        #expect(try fleet.pendingChanges("r1") == 0)
        let postgres = try PostgresConnection(url: fleet.cluster.url)
        #expect(try postgres.execute("SELECT note FROM quantity_entry WHERE id = 'q-down-1'").scalar?.text
                == "written before PostgreSQL went down")
        try fleet.quietRound()
        try fleet.checkConverged(seed: 0)
    }

    /// A BI tool (or pg_dump) reading the hub's tables in a long transaction does not stop the
    /// hub: a hub process that starts (or any command at the hub) takes no lock on a table it
    /// finds as it needs it. An `ALTER TABLE … ADD COLUMN IF NOT EXISTS` per column (and one on
    /// hub_log) took each table's exclusive lock at every start, waiting behind the reader, and
    /// every write queued behind it.
    @Test func aCommandAtTheHubDoesNotWaitForAReaderOfItsTables() throws {
        let (cluster, cli) = try PostgresHubTests.hubOverPostgres()
        defer { cluster.stop(); cli.remove() }
        let reader = try PostgresConnection(url: cluster.url)
        try reader.transaction { transaction in
            #expect(try transaction.execute("SELECT count(*) FROM department").scalar?.int64 == 1)
            // As pg_dump would, the log too.
            #expect(try transaction.execute("SELECT count(*) FROM hub_log").scalar?.int64 ?? 0 > 0)
            let command = try BackgroundProcess(cli, ["record", "put", "--data-dir", "hub-a", "department", "water", "name=Water Bureau"],
                                                environment: ["PGPASSWORD": cluster.password])
            defer { command.kill() }
            let status = try? command.waitForExit(seconds: 10)
            #expect(status == 0, "the command waited for the reader's transaction (or failed): \(command.stderr.suffix(500))")
        }
        #expect(try reader.execute("SELECT name FROM department WHERE id = 'water'").scalar?.text == "Water Bureau")
    }

    /// A node syncing through one hub process right after another node pushed through the
    /// other gets what was pushed: the process brings its working copy up to PostgreSQL's head
    /// before it welcomes the session, rather than serving it from a copy up to a second old.
    @Test func aNodeSyncingThroughTheOtherProcessGetsWhatWasJustPushed() throws {
        let fleet = try PostgresFleet()
        defer { fleet.stop() }
        for round in 1...3 {
            try fleet.cli.ok("record", "put", "--data-dir", "office", "activity", "a2", "remarks=plan note \(round)")
            let pushed = try FailoverTests.json(try fleet.cli.run(["sync", "--data-dir", "office", "--json"], environment: fleet.nodeEnvironment).stdout)
            let pulled = try FailoverTests.json(try fleet.cli.run(["sync", "--data-dir", "r2", "--json"], environment: fleet.nodeEnvironment).stdout)
            #expect(pushed["endpoint"] as? String == fleet.endpoints[0] && pulled["endpoint"] as? String == fleet.endpoints[1])
            let remarks = try FaultToleranceTests.field(fleet.cli, "r2", "activity", "a2", "remarks")
            #expect(remarks?.contains("plan note \(round)") == true, "round \(round): r2 synced through hub b and got \(remarks ?? "nothing")")
        }
    }

    /// Two nodes push at the same time through different hub processes, editing the same fields
    /// of the same records: the row lock on `hub_log_head` serializes the two processes' applies,
    /// both pushes are acknowledged, and the hubs, the nodes and PostgreSQL's tables agree.
    @Test func twoHubProcessesApplyingTheSameRecordsAtOnceEndEqual() throws {
        // Pushes in batches of 256 changes (the least allowed) (the receiver's limit governs), so that the two
        // processes' applies take turns rather than one batch each.
        let fleet = try PostgresFleet(hubLimits: ["SITESYNC_SYNC_BATCH_CHANGES": "256"])
        defer { fleet.stop() }
        let activities = (1...40).map { "c\($0)" }
        try fleet.cli.ok("record", "import", "--data-dir", "office", "-", stdin: activities.map { id in
            #"{"collection": "activity", "id": "\#(id)", "fields": {"project": "p1", "name": "Culvert \#(id)"}}"#
        }.joined(separator: "\n"))
        #expect(try fleet.sync("office").status == 0)
        for node in ["r1", "r2"] { #expect(try fleet.sync(node).status == 0) }
        for (node, day) in [("r1", 10), ("r2", 20)] {
            try fleet.cli.ok("record", "import", "--data-dir", node, "-", stdin: activities.map { id in
                #"{"collection": "activity", "id": "\#(id)", "fields": {"remarks": "\#(node) on \#(id)", "actual_finish": "2026-06-\#(day)"}}"#
            }.joined(separator: "\n"))
            try NetworkSyncTests.importEntries(fleet.cli, node, activity: "a1", count: 700, from: node == "r1" ? 0 : 10_000)
        }
        let postgres = try PostgresConnection(url: fleet.cluster.url)
        let before = try #require(try postgres.execute("SELECT sequence FROM hub_log_head").scalar?.int64)
        // r1 names hub a first, r2 hub b: each push goes to its own process, at once.
        let pushes = try ["r1", "r2"].map { node in
            try BackgroundProcess(fleet.cli, ["sync", "--data-dir", node, "--json"], environment: fleet.nodeEnvironment)
        }
        for push in pushes { #expect(try push.waitForExit(seconds: 60) == 0, "\(push.stderr)") }
        let endpoints = try pushes.map { try FailoverTests.json($0.stdout)["endpoint"] as? String }
        #expect(endpoints == [fleet.endpoints[0], fleet.endpoints[1]], "each push should have gone to its own hub process: \(endpoints)")
        // Which process wrote each logged transaction of the pushes, in the log's order.
        let writers = try postgres.execute("SELECT process FROM hub_log WHERE sequence > $1 ORDER BY sequence", [.int64(before)])
            .rows.compactMap { $0[0].text }
        #expect(Set(writers).count == 2, "both hub processes should have written to hub_log: \(writers)")
        let turns = zip(writers, writers.dropFirst()).filter { $0 != $1 }.count
        print("PostgresFleetTests: \(writers.count) transactions in hub_log, the writing process changed \(turns) times")
        try fleet.quietRound()
        try fleet.checkConverged(seed: 0)
        // Every culvert holds both remarks (a multi-value field) and one of the finish dates.
        let conflicts = try fleet.activeConflicts("hub-a")
        #expect(conflicts.filter { $0.hasPrefix("activity/c") && $0.contains("remarks") }.count == activities.count, "\(conflicts)")
        #expect(try postgres.execute("SELECT count(*) FROM quantity_entry").scalar?.int64 == 1_400)
    }
}

/// The fleet: a private PostgreSQL cluster, hub processes `hub-a` and `hub-b` over it (`hub-b`
/// given only the hub's node.toml and node.key: it builds its working copy from PostgreSQL), an
/// office that wrote the plan, roads sites `r1`, `r2` and a water site `w1`, each naming both
/// hub endpoints with the hub's key.
final class PostgresFleet: @unchecked Sendable {
    let cluster: PostgresCluster
    let cli: SiteSyncBinary
    /// Hub a's endpoint, then hub b's.
    let endpoints: [String]
    private(set) var hubKey = ""
    private(set) var hubs: [String: BackgroundProcess] = [:]
    static let hubNames = ["hub-a", "hub-b"]
    static let sites = ["office": "office", "r1": "roads", "r2": "roads", "w1": "water"]
    /// Short timeouts, so that a killed hub costs a node 2 s rather than 10.
    let nodeEnvironment = ["SITESYNC_SYNC_TIMEOUT_SECONDS": "2"]
    /// What the hub processes run with besides the password (their session limits).
    let hubLimits: [String: String]
    var hubEnvironment: [String: String] { hubLimits.merging(["PGPASSWORD": cluster.password]) { $1 } }

    init(hubLimits: [String: String] = [:]) throws {
        self.hubLimits = hubLimits
        cluster = try PostgresCluster()
        cli = try SiteSyncBinary()
        endpoints = try (0..<2).map { _ in "tcp://127.0.0.1:\(try PostgresCluster.freeLoopbackPort())" }
        do {
            try Self.ok(cli, ["init", "--data-dir", "hub-a", "--node", "hub-1", "--department", "office", "--role", "hub",
                              "--listen", endpoints[0], "--store", PostgresHubTests.url(cluster)], environment: ["PGPASSWORD": cluster.password])
            let shown = try cli.run(["keys", "show", "--data-dir", "hub-a"], environment: hubEnvironment)
            guard shown.status == 0 else { throw TestFailure("keys show at the hub: \(shown.stderr)") }
            hubKey = shown.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            // Sites list the two endpoints in either order, so both processes take sessions.
            for (node, department) in Self.sites.sorted(by: { $0.key < $1.key }) {
                let order = node == "r2" || node == "w1" ? endpoints.reversed() : endpoints
                try Self.ok(cli, ["init", "--data-dir", node, "--node", node, "--department", department,
                                  "--role", node == "office" ? "office" : "field"] + order.flatMap { ["--hub", $0, "--hub-key=\(hubKey)"] })
                let key = try cli.ok("keys", "show", "--data-dir", node).trimmingCharacters(in: .whitespacesAndNewlines)
                try Self.ok(cli, ["keys", "allow", "--data-dir", "hub-a", "--node", node, "--department", department,
                                  "--role", node == "office" ? "office" : "field", "--key", key], environment: hubEnvironment)
            }
            // The second process: the hub's node.toml and node.key only; it builds its working
            // copy from PostgreSQL when it starts.
            try FileManager.default.createDirectory(atPath: cli.file("hub-b"), withIntermediateDirectories: true)
            for file in ["node.toml", "node.key"] {
                try FileManager.default.copyItem(atPath: cli.file("hub-a/\(file)"), toPath: cli.file("hub-b/\(file)"))
            }
            for hub in Self.hubNames { try startHub(hub) }
            try NetworkSyncTests.plan(cli, office: "office")
            for node in ["office", "r1", "r2", "w1"] {
                let synced = try sync(node)
                guard synced.status == 0 else { throw TestFailure("the first sync of \(node) failed: \(synced.stderr)") }
            }
        } catch {
            stop()
            throw error
        }
    }

    private static func ok(_ cli: SiteSyncBinary, _ arguments: [String], environment: [String: String] = [:]) throws {
        let result = try cli.run(arguments, environment: environment)
        guard result.status == 0 else { throw TestFailure("sitesync \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
    }

    func endpoint(of hub: String) -> String { endpoints[hub == "hub-a" ? 0 : 1] }

    /// Starts `serve` for `hub` at its endpoint, waiting until it listens (the port of a killed
    /// process may take a moment to be free).
    func startHub(_ hub: String) throws {
        let deadline = Date().addingTimeInterval(20)
        var lastError = ""
        while Date() < deadline {
            let process = try BackgroundProcess(cli, ["serve", "--data-dir", hub, "--listen", endpoint(of: hub)], environment: hubEnvironment)
            if (try? process.waitForLine("listening on ")) != nil {
                hubs[hub] = process
                return
            }
            lastError = process.stderr
            process.kill()
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw TestFailure("\(hub) did not start serving at \(endpoint(of: hub)): \(lastError.suffix(1500))")
    }

    func killHub(_ hub: String) {
        hubs[hub]?.kill()
        hubs[hub] = nil
    }

    func stop() {
        for hub in hubs.values { hub.terminate() }
        hubs = [:]
        cluster.stop()
        cli.remove()
    }

    func sync(_ node: String) throws -> SiteSyncBinary.Result {
        try cli.run(["sync", "--data-dir", node], environment: nodeEnvironment)
    }

    func pendingChanges(_ node: String) throws -> Int {
        let status = try FailoverTests.json(try cli.run(["status", "--data-dir", node, "--json"]).stdout)
        return try #require(status["pending_changes"] as? Int)
    }

    /// Every node syncs until none has anything pending and every hub process is up.
    func quietRound() throws {
        for hub in Self.hubNames where hubs[hub] == nil { try startHub(hub) }
        let deadline = Date().addingTimeInterval(40)
        var failures: [String] = []
        repeat {
            failures = []
            for node in ["office", "r1", "r2", "w1"] {
                let result = try sync(node)
                if result.status != 0 { failures.append("\(node): \(result.stderr)") }
            }
            // A second pass brings each node what the others pushed in the first.
            if failures.isEmpty {
                for node in ["office", "r1", "r2", "w1"] {
                    let result = try sync(node)
                    if result.status != 0 { failures.append("\(node): \(result.stderr)") }
                }
            }
            if !failures.isEmpty { print("PostgresFleetTests: a quiet round's syncs failed, again: \(failures)") }
        } while !failures.isEmpty && Date() < deadline
        guard failures.isEmpty else { throw TestFailure("the quiet round's syncs kept failing: \(failures)") }
    }

    /// What a hub process's own working copy holds, read from its SQLite file as the running
    /// process left it (it catches up with PostgreSQL every second by itself).
    func hubCopy<T>(_ hub: String, _ read: (Database) throws -> T) throws -> T {
        let queue = try DatabaseQueue(path: cli.file("\(hub)/sitesync.db"), configuration: { var c = Configuration(); c.readonly = true; return c }())
        return try queue.read(read)
    }

    /// Each acknowledged record is in PostgreSQL's table and, within a few seconds (the serving
    /// processes' catch-up), in both hub processes' working copies.
    func checkAcknowledgedAtBothHubs(_ acknowledged: Set<String>, seed: UInt64) throws {
        for hub in Self.hubNames where hubs[hub] == nil { try startHub(hub) }
        let postgres = try PostgresConnection(url: cluster.url)
        let inPostgres = Set(try postgres.execute("SELECT id FROM quantity_entry").rows.compactMap { $0[0].text })
        #expect(acknowledged.subtracting(inPostgres).isEmpty,
                "seed \(seed): acknowledged writes missing from PostgreSQL: \(acknowledged.subtracting(inPostgres).sorted())")
        for hub in Self.hubNames {
            var missing = acknowledged
            let deadline = Date().addingTimeInterval(10)
            while !missing.isEmpty && Date() < deadline {
                let held = Set(try hubCopy(hub) { db in try String.fetchAll(db, sql: "SELECT id FROM quantity_entry") })
                missing.subtract(held)
                if !missing.isEmpty { Thread.sleep(forTimeInterval: 0.2) }
            }
            #expect(missing.isEmpty, "seed \(seed): \(hub)'s working copy lacks acknowledged writes: \(missing.sorted()); its log: \(hubs[hub]?.stderr.suffix(1500) ?? "")")
        }
    }

    /// The open conflicts a node holds: `collection/id field: value value …`, values sorted.
    func activeConflicts(_ node: String, department: String? = nil) throws -> Set<String> {
        let result = try cli.run(["conflicts", "--data-dir", node, "--json"], environment: hubEnvironment)
        guard result.status == 0 else { throw TestFailure("conflicts at \(node): \(result.stderr)") }
        let entries = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
        return Set(entries.filter { department == nil || $0["department"] as? String == department }.map { entry in
            let values = (entry["values"] as? [[String: Any]] ?? []).map { "\($0["replica"] ?? "?"):\($0["counter"] ?? "?")=\($0["value"] ?? "")" }
            return "\(entry["collection"] ?? "?")/\(entry["id"] ?? "?") \(entry["field"] ?? "?"): \(values.sorted().joined(separator: " "))"
        })
    }

    func digest(_ node: String, department: String? = nil) throws -> String {
        let result = try cli.run(["digest", "--data-dir", node] + (department.map { ["--department", $0] } ?? []), environment: hubEnvironment)
        guard result.status == 0 else { throw TestFailure("digest at \(node): \(result.stderr)") }
        // PostgreSQL's notices (a table that exists already) are not the operator's business.
        #expect(!result.stderr.contains("NOTICE"), "digest at \(node) printed PostgreSQL's notices: \(result.stderr.prefix(300))")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Both hub processes and the office hold the same; each site holds what the hubs hold of
    /// its department; the open conflicts are the same everywhere they are seen; and
    /// PostgreSQL's typed tables hold what the hubs' copies hold.
    func checkConverged(seed: UInt64) throws {
        let whole = try ["hub-a", "hub-b", "office"].map { try digest($0) }
        #expect(Set(whole).count == 1, "seed \(seed): the hub processes and the office differ: \(whole)")
        for department in ["roads", "water"] {
            let nodes = ["hub-a", "hub-b", "office"] + Self.sites.filter { $0.value == department }.map(\.key).sorted()
            let digests = try nodes.map { try digest($0, department: department) }
            #expect(Set(digests).count == 1, "seed \(seed): \(department) differs: \(zip(nodes, digests).map { "\($0): \($1)" })")
            let conflicts = try nodes.map { try activeConflicts($0, department: department) }
            #expect(Set(conflicts).count == 1, "seed \(seed): \(department)'s conflicts differ: \(zip(nodes, conflicts).map { "\($0): \($1.sorted())" })")
        }
        let postgres = try PostgresConnection(url: cluster.url)
        let head = try postgres.execute("SELECT sequence FROM hub_log_head").scalar?.int64
        #expect(try postgres.execute("SELECT count(*) FROM hub_log").scalar?.int64 == head, "seed \(seed): hub_log has gaps")
        let pgEntries = try postgres.execute("SELECT count(*) FROM quantity_entry").scalar?.int64
        let pgRemarks = try postgres.execute("SELECT id, coalesce(remarks, ''), coalesce(actual_finish::text, '') FROM activity ORDER BY id")
            .rows.map { "\($0[0].text ?? "")|\($0[1].text ?? "")|\($0[2].text ?? "")" }
        for hub in Self.hubNames {
            // The copy a CLI command brought up to PostgreSQL's head (the digest above).
            let (entries, remarks) = try hubCopy(hub) { db in
                (try Int64.fetchOne(db, sql: "SELECT count(*) FROM quantity_entry"),
                 try Row.fetchAll(db, sql: "SELECT id, coalesce(remarks, ''), coalesce(actual_finish, '') FROM activity ORDER BY id")
                    .map { "\($0[0] as String)|\($0[1] as String)|\($0[2] as String)" })
            }
            #expect(entries == pgEntries, "seed \(seed): \(hub) holds \(entries ?? -1) quantity entries, PostgreSQL \(pgEntries ?? -1)")
            #expect(remarks == pgRemarks, "seed \(seed): \(hub)'s activities differ from PostgreSQL's table")
        }
        // Every table, row for row (but this copy's own place in the log, rows of sync_meta).
        let counts = try hubCopy("hub-a") { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'")
                .map { table in (table, try Int64.fetchOne(db, sql: "SELECT count(*) FROM \"\(table)\"" + (table == "sync_meta" ? " WHERE key NOT IN ('log_applied', 'log_applied_digest')" : "")) ?? -1) }
        }
        #expect(counts.count > 20, "seed \(seed): \(counts)")
        let differing = try counts.filter { table, count in try postgres.execute("SELECT count(*) FROM \"\(table)\"").scalar?.int64 != count }
        let metaInPostgres = try postgres.execute("SELECT key FROM sync_meta ORDER BY key").rows.compactMap { $0[0].text }
        let metaInCopy = try hubCopy("hub-a") { db in try String.fetchAll(db, sql: "SELECT key FROM sync_meta ORDER BY key") }
        #expect(differing.isEmpty, "seed \(seed): tables whose row counts differ between hub-a's copy and PostgreSQL: \(differing); sync_meta in PostgreSQL \(metaInPostgres), in the copy \(metaInCopy)")
    }
}

/// The seeded schedule of writes, syncs and faults over a ``PostgresFleet``.
struct FleetSchedule {
    let fleet: PostgresFleet
    var generator: SeededGenerator
    /// Records written whose node's `sync` later returned success.
    private(set) var acknowledged: Set<String> = []
    private var unacknowledged: [String: [String]] = [:]
    private(set) var faults = 0
    private(set) var failedSyncs: [String] = []
    private(set) var log: [String] = []
    private var written = 0

    init(fleet: PostgresFleet, generator: SeededGenerator) {
        self.fleet = fleet
        self.generator = generator
    }

    /// The activities each site may write, with the fields written concurrently from several.
    static let activities = ["office": ["a1", "w1"], "r1": ["a1", "a2"], "r2": ["a1", "a2"], "w1": ["w1"]]

    /// `steps` writes and syncs, `hubKills` of them kills of a hub process and `postgresRestarts`
    /// restarts of PostgreSQL, at steps the seed chooses (a restart after a crash costs
    /// PostgreSQL seconds of recovery: a bounded number keeps the test within its time).
    mutating func run(steps: Int, hubKills: Int = 3, postgresRestarts: Int = 2) throws {
        let faultSteps = Array((0..<steps).shuffled(using: &generator).prefix(hubKills + postgresRestarts))
        for step in 0..<steps {
            if let fault = faultSteps.firstIndex(of: step) {
                try fault < hubKills ? killHub() : restartPostgres()
            } else if Int.random(in: 0..<100, using: &generator) < 55 {
                try write()
            } else {
                try sync()
            }
        }
    }

    private let began = Date()
    private var stamp: String { String(format: "%5.1f", Date().timeIntervalSince(began)) }

    private mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &generator)] }

    /// New quantity entries (tracked: one, or a few hundred in one import, so that a push
    /// takes long enough for a fault to land inside it), or an edit of a field several sites
    /// edit (a conflict).
    private mutating func write() throws {
        let node = pick(["office", "r1", "r2", "w1"])
        let activity = pick(Self.activities[node]!)
        written += 1
        let kind = Int.random(in: 0..<10, using: &generator)
        if kind < 2 {
            let count = Int.random(in: 50...400, using: &generator)
            let ids = (0..<count).map { "q-\(node)-\(written)-\($0)" }
            let lines = ids.enumerated().map { n, id in
                #"{"collection": "quantity_entry", "id": "\#(id)", "fields": {"activity": "\#(activity)", "date": "2026-10-\#(String(format: "%02d", n % 28 + 1))", "quantity": "\#(n % 50 + 1)", "note": "bulk \#(written)"}}"#
            }
            let result = try fleet.cli.run(["record", "import", "--data-dir", node, "-"], stdin: lines.joined(separator: "\n"))
            #expect(result.status == 0, "record import at \(node): \(result.stderr)")
            if result.status == 0 { unacknowledged[node, default: []] += ids }
            log.append("\(stamp) write \(node) \(count) quantity entries")
            return
        }
        let arguments: [String]
        var tracked: String?
        if kind < 6 {
            let id = "q-\(node)-\(written)"
            arguments = ["quantity_entry", id, "activity=\(activity)", "date=2026-11-\(String(format: "%02d", written % 28 + 1))",
                         "quantity=\(written).25", "note=\(node) write \(written)"]
            tracked = id
        } else if kind < 8 {
            arguments = ["activity", activity, "remarks=\(node) says \(written)"]
        } else {
            arguments = ["activity", activity, "actual_finish=2026-07-\(String(format: "%02d", written % 28 + 1))"]
        }
        let result = try fleet.cli.run(["record", "put", "--data-dir", node] + arguments)
        #expect(result.status == 0, "record put at \(node): \(result.stderr)")
        if result.status == 0, let tracked { unacknowledged[node, default: []].append(tracked) }
        log.append("\(stamp) write \(node) \(arguments.prefix(3).joined(separator: " "))")
    }

    private mutating func acknowledge(_ node: String) {
        acknowledged.formUnion(unacknowledged[node] ?? [])
        unacknowledged[node] = []
    }

    private mutating func sync() throws {
        let node = pick(["office", "r1", "r2", "w1"])
        let result = try fleet.sync(node)
        log.append("\(stamp) sync \(node): \(result.status)")
        if result.status == 0 {
            acknowledge(node)
        } else {
            failedSyncs.append(result.stderr)
        }
    }

    /// SIGKILL to one hub process, between syncs or in the middle of a node's sync through it
    /// (which then moves on to the other process), started again now or left down until a
    /// later kill (which starts it) or the end.
    private mutating func killHub() throws {
        let hub = pick(PostgresFleet.hubNames)
        faults += 1
        guard fleet.hubs[hub] != nil else {
            log.append("\(stamp) start \(hub)")
            return try fleet.startHub(hub)
        }
        // The sites that try this hub first.
        let node = pick(hub == "hub-a" ? ["office", "r1"] : ["r2", "w1"])
        let during = Bool.random(using: &generator)
        let running = during ? try BackgroundProcess(fleet.cli, ["sync", "--data-dir", node], environment: fleet.nodeEnvironment) : nil
        if during { Thread.sleep(forTimeInterval: Double.random(in: 0.1...0.5, using: &generator)) }
        fleet.killHub(hub)
        log.append("\(stamp) kill \(hub)\(during ? " during a sync of \(node)" : "")")
        if Bool.random(using: &generator) {
            try fleet.startHub(hub)
            log.append("\(stamp) start \(hub)")
        }
        if let running { try finish(running, node) }
    }

    /// A sync that ran across a fault: acknowledged when it says so.
    private mutating func finish(_ running: BackgroundProcess, _ node: String) throws {
        let status = try running.waitForExit(seconds: 60)
        log.append("\(stamp) sync \(node) across the fault: \(status)")
        if status == 0 { acknowledge(node) } else { failedSyncs.append(running.stderr) }
    }

    /// PostgreSQL stopped fast or killed (then recovering from its write-ahead log), while a
    /// node's sync runs or between syncs.
    private mutating func restartPostgres() throws {
        faults += 1
        let node = pick(["office", "r1", "r2", "w1"])
        let during = Bool.random(using: &generator)
        let running = during ? try BackgroundProcess(fleet.cli, ["sync", "--data-dir", node], environment: fleet.nodeEnvironment) : nil
        if during { Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.4, using: &generator)) }
        let crash = Bool.random(using: &generator)
        let stopping = Date()
        if crash { try fleet.cluster.kill() }
        let starting = Date()
        try fleet.cluster.restart()
        log.append("\(stamp) postgres \(crash ? "killed" : "stopped") (\(String(format: "%.1f", starting.timeIntervalSince(stopping))) s) and started (\(String(format: "%.1f", Date().timeIntervalSince(starting))) s)\(during ? " during a sync of \(node)" : "")")
        if let running { try finish(running, node) }
    }
}
