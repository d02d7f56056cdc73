import Foundation
import SiteSyncPostgres
import SiteSyncTestSupport
import Testing

/// A hub whose store is PostgreSQL, through the command line (docs/design.md §18): `init
/// --store`, writes that land in PostgreSQL's tables, and two processes' working copies, each
/// bringing itself up to what the other wrote.
@Suite struct PostgresHubTests {
    /// The cluster's URL without its password, which travels in PGPASSWORD as the docs advise.
    static func url(_ cluster: PostgresCluster) -> String {
        "postgresql://\(cluster.user)@127.0.0.1:\(cluster.port)/\(cluster.database)"
    }

    static func sitesync(_ cli: SiteSyncBinary, _ cluster: PostgresCluster, _ arguments: String...) throws -> String {
        let result = try cli.run(arguments, environment: ["PGPASSWORD": cluster.password])
        #expect(result.status == 0, "sitesync \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        return result.stdout
    }

    /// A private cluster and a hub (`hub-a`) whose store is in it, holding one department.
    static func hubOverPostgres() throws -> (PostgresCluster, SiteSyncBinary) {
        let cluster = try PostgresCluster()
        let cli = try SiteSyncBinary()
        try sitesync(cli, cluster, "init", "--data-dir", "hub-a", "--node", "hub", "--department", "office", "--role", "hub",
                     "--insecure", "--store", url(cluster))
        try sitesync(cli, cluster, "record", "put", "--data-dir", "hub-a", "department", "roads", "name=Roads Bureau")
        return (cluster, cli)
    }

    @Test func twoHubProcessesShareOneStoreInPostgreSQL() throws {
        let (cluster, cli) = try Self.hubOverPostgres()
        defer { cluster.stop(); cli.remove() }
        // A second process: a copy of the first's data directory, made while no process runs.
        try FileManager.default.copyItem(atPath: cli.file("hub-a"), toPath: cli.file("hub-b"))
        try Self.sitesync(cli, cluster, "record", "put", "--data-dir", "hub-b", "project", "p1", "code=R-001", "name=Ring road",
                          "department=roads", "budget=1200000.50")
        try Self.sitesync(cli, cluster, "record", "put", "--data-dir", "hub-a", "project", "p1", "remarks=from process a")
        for process in ["hub-a", "hub-b"] {
            let shown = try Self.sitesync(cli, cluster, "record", "get", "--data-dir", process, "project", "p1")
            #expect(shown.contains("Ring road") && shown.contains("from process a"), "\(process): \(shown)")
        }
        let postgres = try PostgresConnection(url: cluster.url)
        let project = try postgres.execute("SELECT name, budget::text, remarks FROM project WHERE id = 'p1'")
        #expect(project.rows.first == [.text("Ring road"), .text("1200000.5"), .text("from process a")])
        #expect(try postgres.execute("SELECT count(*) FROM hub_log").scalar?.int64 == 3)
        #expect(try postgres.execute("SELECT name FROM department WHERE id = 'roads'").scalar?.text == "Roads Bureau")
    }

    /// A serving process brings its copy up to what another process wrote within a second or
    /// two, with no write of its own: its HTTP API, which only reads, shows that write.
    @Test func aServingProcessShowsWhatAnotherProcessWrote() throws {
        let (cluster, cli) = try Self.hubOverPostgres()
        defer { cluster.stop(); cli.remove() }
        let created = try Self.sitesync(cli, cluster, "api", "token", "create", "--data-dir", "hub-a", "--name", "bi", "--role", "office",
                                        "--read-only")
        let token = String(try #require(created.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("sst_") }))
        try FileManager.default.copyItem(atPath: cli.file("hub-a"), toPath: cli.file("hub-b"))
        let serving = try BackgroundProcess(cli, ["serve", "--data-dir", "hub-b", "--listen", "tcp://127.0.0.1:*", "--http", "127.0.0.1:0"],
                                            environment: ["PGPASSWORD": cluster.password])
        defer { serving.terminate() }
        _ = try serving.waitForLine("listening on ")
        let url = try serving.waitForLine("http on ")
        #expect(try !HTTPAnswer.request("GET", url + "/api/v1/projects", token: token).text.contains("R-001"))
        // Written through the other process, after this one started.
        try Self.sitesync(cli, cluster, "record", "put", "--data-dir", "hub-a", "project", "p1", "code=R-001", "name=Ring road",
                          "department=roads")
        var shown = false
        let deadline = Date().addingTimeInterval(10)
        while !shown, Date() < deadline {
            shown = try HTTPAnswer.request("GET", url + "/api/v1/projects", token: token).text.contains("R-001")
            if !shown { Thread.sleep(forTimeInterval: 0.25) }
        }
        #expect(shown, "process b's API never showed the project written through process a")
    }

    /// A new hub process on another machine needs only the hub's `node.toml` and `node.key`:
    /// it builds its working copy from PostgreSQL's tables and serves the same hub. Making a
    /// second hub in the same database is refused.
    @Test func aNewProcessBuildsItsWorkingCopyFromPostgreSQL() throws {
        let (cluster, cli) = try Self.hubOverPostgres()
        defer { cluster.stop(); cli.remove() }
        try Self.sitesync(cli, cluster, "record", "put", "--data-dir", "hub-a", "project", "p1", "code=R-001", "name=Ring road",
                          "department=roads", "budget=1200000.50", "planned_finish=2027-06-30")
        try Self.sitesync(cli, cluster, "record", "put", "--data-dir", "hub-a", "project", "p1", "remarks=from process a")
        try FileManager.default.createDirectory(atPath: cli.file("hub-b"), withIntermediateDirectories: false)
        for file in ["node.toml", "node.key"] {
            try FileManager.default.copyItem(atPath: cli.file("hub-a/\(file)"), toPath: cli.file("hub-b/\(file)"))
        }
        let shown = try Self.sitesync(cli, cluster, "record", "get", "--data-dir", "hub-b", "project", "p1")
        #expect(shown.contains("Ring road") && shown.contains("1200000.5") && shown.contains("from process a"), "\(shown)")
        #expect(try Self.sitesync(cli, cluster, "digest", "--data-dir", "hub-b") == Self.sitesync(cli, cluster, "digest", "--data-dir", "hub-a"))
        try Self.sitesync(cli, cluster, "record", "put", "--data-dir", "hub-b", "project", "p1", "name=Ring road east")
        #expect(try Self.sitesync(cli, cluster, "record", "get", "--data-dir", "hub-a", "project", "p1").contains("Ring road east"))

        let again = try cli.run(["init", "--data-dir", "hub-c", "--node", "hub", "--department", "office", "--role", "hub", "--insecure",
                                 "--store", Self.url(cluster)], environment: ["PGPASSWORD": cluster.password])
        #expect(again.status != 0 && again.stderr.contains("already holds a hub") && again.stderr.contains("node.key"), "\(again.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cli.file("hub-c")))
    }

    /// PostgreSQL restored to an earlier point (here: the database swapped for a copy taken
    /// before the last write, as a restore from a backup leaves it): the process's copy, now
    /// ahead of the log, is moved aside, built again from the database, and the hub takes a new
    /// replica epoch, so it never issues again a change id the lost write had.
    @Test func aDatabaseRestoredFromAnOlderBackupRebuildsTheCopyUnderANewEpoch() throws {
        let (cluster, cli) = try Self.hubOverPostgres()
        defer { cluster.stop(); cli.remove() }
        try Self.sitesync(cli, cluster, "record", "put", "--data-dir", "hub-a", "project", "p1", "code=R-001", "name=Ring road",
                          "department=roads")
        let maintenance = try PostgresConnection(url: cluster.url.replacingOccurrences(of: "/\(cluster.database)", with: "/postgres"))
        try maintenance.execute("CREATE DATABASE backup_copy TEMPLATE \(cluster.database)")
        try Self.sitesync(cli, cluster, "record", "put", "--data-dir", "hub-a", "project", "p2", "code=R-002", "name=Lost with the restore",
                          "department=roads")
        // A second process, which has applied the write the restore will lose.
        try FileManager.default.createDirectory(atPath: cli.file("hub-b"), withIntermediateDirectories: false)
        for file in ["node.toml", "node.key"] {
            try FileManager.default.copyItem(atPath: cli.file("hub-a/\(file)"), toPath: cli.file("hub-b/\(file)"))
        }
        #expect(try Self.sitesync(cli, cluster, "record", "list", "--data-dir", "hub-b", "project").contains("R-002"))
        let before = try Self.sitesync(cli, cluster, "status", "--json", "--data-dir", "hub-a")
        try maintenance.execute("DROP DATABASE \(cluster.database)")
        try maintenance.execute("ALTER DATABASE backup_copy RENAME TO \(cluster.database)")

        let after = try Self.sitesync(cli, cluster, "status", "--json", "--data-dir", "hub-a")
        func replica(_ text: String) throws -> String? {
            (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["replica"] as? String
        }
        #expect(try replica(before) != nil && replica(after) != nil && replica(before) != replica(after), "\(after)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: cli.file("hub-a")).filter { $0.hasPrefix("sitesync.db.replaced-") }
        #expect(aside.contains { !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }, "the copy replaced is kept: \(aside)")
        #expect(try !Self.sitesync(cli, cluster, "record", "list", "--data-dir", "hub-a", "project").contains("R-002"))
        try Self.sitesync(cli, cluster, "record", "put", "--data-dir", "hub-a", "project", "p3", "code=R-003", "name=After the restore",
                          "department=roads")
        let postgres = try PostgresConnection(url: cluster.url)
        #expect(try postgres.execute("SELECT name FROM project WHERE id = 'p3'").scalar?.text == "After the restore")
        // The second process's copy stands at a sequence number the log now holds with other
        // transactions: it is found out by the changeset's digest and built again too.
        let projects = try Self.sitesync(cli, cluster, "record", "list", "--data-dir", "hub-b", "project")
        #expect(projects.contains("R-003") && !projects.contains("R-002"), "\(projects)")
        #expect(try Self.sitesync(cli, cluster, "digest", "--data-dir", "hub-b") == Self.sitesync(cli, cluster, "digest", "--data-dir", "hub-a"))
    }

    /// A restore no working copy can notice (the copy built after it): `restore --from-store`
    /// builds the copy again and gives the hub a new epoch by hand; refused while the process
    /// runs, and at a hub whose store is its own file.
    @Test func restoreFromStoreRebuildsTheCopyUnderANewEpoch() throws {
        let (cluster, cli) = try Self.hubOverPostgres()
        defer { cluster.stop(); cli.remove() }
        let replica = { (dir: String) throws -> String? in
            let status = try Self.sitesync(cli, cluster, "status", "--json", "--data-dir", dir)
            return (try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])?["replica"] as? String
        }
        let before = try replica("hub-a")
        let restored = try Self.sitesync(cli, cluster, "restore", "--data-dir", "hub-a", "--from-store")
        #expect(restored.contains("rebuilt") && restored.contains("epoch"), "\(restored)")
        #expect(try replica("hub-a") != before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.file("hub-a")).contains { $0.hasPrefix("sitesync.db.replaced-") })
        #expect(try Self.sitesync(cli, cluster, "record", "get", "--data-dir", "hub-a", "department", "roads").contains("Roads Bureau"))
        try cli.ok("init", "--data-dir", "plain", "--node", "plain", "--department", "office", "--role", "hub", "--insecure")
        let plain = try cli.run(["restore", "--data-dir", "plain", "--from-store"])
        #expect(plain.status != 0 && plain.stderr.contains("[store] url"), "\(plain.stderr)")
        let both = try cli.run(["restore", "--data-dir", "plain", "--from-store", "x.db"])
        #expect(both.status != 0 && both.stderr.contains("takes no backup file"), "\(both.stderr)")
    }

    /// The allow-list lives in the store: a key allowed through one hub process is let in by
    /// the other within seconds, and a revocation made at the other shuts it out of the first.
    @Test func everyHubProcessEnforcesTheSameAllowList() throws {
        let cluster = try PostgresCluster()
        let cli = try SiteSyncBinary()
        defer { cluster.stop(); cli.remove() }
        try Self.sitesync(cli, cluster, "init", "--data-dir", "hub-a", "--node", "hub", "--department", "office", "--role", "hub",
                          "--listen", "tcp://127.0.0.1:*", "--store", Self.url(cluster))
        try FileManager.default.createDirectory(atPath: cli.file("hub-b"), withIntermediateDirectories: false)
        for file in ["node.toml", "node.key"] {
            try FileManager.default.copyItem(atPath: cli.file("hub-a/\(file)"), toPath: cli.file("hub-b/\(file)"))
        }
        let environment = ["PGPASSWORD": cluster.password]
        let a = try BackgroundProcess(cli, ["serve", "--data-dir", "hub-a"], environment: environment)
        defer { a.terminate() }
        let b = try BackgroundProcess(cli, ["serve", "--data-dir", "hub-b"], environment: environment)
        defer { b.terminate() }
        let endpoints = [try a.waitForLine("listening on "), try b.waitForLine("listening on ")]
        let hubKey = try Self.sitesync(cli, cluster, "keys", "show", "--data-dir", "hub-a").trimmingCharacters(in: .whitespacesAndNewlines)
        try Self.sitesync(cli, cluster, "init", "--data-dir", "r1", "--node", "r1", "--department", "roads", "--hub", endpoints[1],
                          "--hub-key", hubKey)
        let key = try Self.sitesync(cli, cluster, "keys", "show", "--data-dir", "r1").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!FileManager.default.fileExists(atPath: cli.file("hub-a/allow-list.toml")))
        // Allowed through process a (its CLI), synced with process b.
        try Self.sitesync(cli, cluster, "keys", "allow", "--data-dir", "hub-a", "--node", "r1", "--department", "roads", "--role", "field",
                          "--key", key)
        #expect(!FileManager.default.fileExists(atPath: cli.file("hub-a/allow-list.toml")), "kept in the store, not in a file")
        #expect(try Self.sitesync(cli, cluster, "keys", "list", "--data-dir", "hub-b").contains("r1"))
        func syncs() throws -> Bool { try cli.run(["sync", "--data-dir", "r1"]).status == 0 }
        func within(_ seconds: Double, _ condition: () throws -> Bool) throws -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if try condition() { return true }
                Thread.sleep(forTimeInterval: 0.5)
            }
            return false
        }
        #expect(try within(10) { try syncs() }, "process b never let in the node allowed through process a")
        // Revoked through process b's data directory, refused by process a.
        try Self.sitesync(cli, cluster, "keys", "revoke", "--data-dir", "hub-b", "--node", "r1")
        let toA = cli.file("r1/node.toml")
        let text = try String(contentsOfFile: toA, encoding: .utf8).replacingOccurrences(of: endpoints[1], with: endpoints[0])
        try text.write(toFile: toA, atomically: true, encoding: .utf8)
        #expect(try within(10) { try !syncs() }, "process a still let in the node revoked through process b")
        #expect(try cli.run(["sync", "--data-dir", "r1"]).stderr.contains("refused"))
    }

    /// A store URL nobody answers at: init says so, with what to do, and leaves no half-made node.
    @Test func anUnreachableStoreIsRefusedAndLeavesNoNode() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let port = try PostgresCluster.freeLoopbackPort()
        let result = try cli.run(["init", "--data-dir", "hub", "--node", "hub", "--department", "office", "--role", "hub", "--insecure",
                                  "--store", "postgresql://sitesync@127.0.0.1:\(port)/city"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("[store] url") && result.stderr.contains("127.0.0.1:\(port)"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cli.file("hub/node.toml")))
        let notHub = try cli.run(["init", "--data-dir", "site", "--node", "site", "--department", "roads", "--store", "postgresql://x@127.0.0.1/y"])
        #expect(notHub.status != 0 && notHub.stderr.contains("hub only"), "\(notHub.stderr)")
    }
}
