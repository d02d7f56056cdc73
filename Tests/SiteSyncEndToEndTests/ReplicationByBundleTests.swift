import Foundation
import Testing

/// An office node and two field sites edit the same records offline and exchange bundles in
/// several orders, with repeats: every node ends with the same digest and the values docs/design.md §3.3
/// prescribes, and an `mv` conflict is shown, resolved once, and cleared everywhere.
@Suite(.serialized) struct ReplicationByBundleTests {
    @Test func officeAndTwoSitesConvergeByBundlesWhateverTheOrder() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "office", "--node", "office-1", "--department", "office", "--role", "office")
        try cli.ok("init", "--data-dir", "a", "--node", "site-a", "--department", "roads")
        try cli.ok("init", "--data-dir", "b", "--node", "site-b", "--department", "roads")

        // The office's plan, partly through JSON Lines.
        try cli.ok("record", "put", "--data-dir", "office", "department", "roads", "name=Roads Bureau")
        try cli.ok("record", "import", "--data-dir", "office", "-", stdin: """
            {"collection": "project", "id": "p1", "fields": {"code": "R-001", "name": "Ring road", "department": "roads", "budget": 1200000.50}}
            {"collection": "activity", "id": "a1", "fields": {"project": "p1", "name": "Earthworks", "budget": "300000", "ev_method": "manual"}}
            {"collection": "issue", "id": "i1", "fields": {"project": "p1", "title": "Drain blocked", "assignees": ["wang"], "priority": "low", "opened_on": "2026-11-02"}}
            """)
        try cli.ok("bundle", "export", "--data-dir", "office", "--output", "plan.bundle", "--all")
        try cli.ok("bundle", "import", "--data-dir", "a", "plan.bundle")
        try cli.ok("bundle", "import", "--data-dir", "b", "plan.bundle")

        // Offline, both sites report on the same records.
        try cli.ok("record", "put", "--data-dir", "a", "activity", "a1", "actual_start=2026-03-05",
                   "status=in_progress", "remarks=A: slow start")
        try cli.ok("record", "put", "--data-dir", "b", "activity", "a1", "actual_start=2026-03-03",
                   "status=completed", "actual_finish=2026-11-29", "remarks=B: done early")
        let percentA = try cli.ok("record", "put", "--data-dir", "a", "percent_entry", "new", "activity=a1", "date=2026-11-30", "percent=40")
        try cli.ok("record", "put", "--data-dir", "b", "percent_entry", "new", "activity=a1", "date=2026-11-30", "percent=55")
        let logA = try cli.ok("record", "put", "--data-dir", "a", "daily_log", "new", "project=p1", "date=2026-11-30",
                              "crew_count=8", "weather=sunny")
        try cli.ok("record", "put", "--data-dir", "b", "daily_log", "new", "project=p1", "date=2026-11-30", "crew_count=12", "weather=rain")
        try cli.ok("record", "put", "--data-dir", "a", "issue", "i1", "assignees+=chen", "priority=high")
        try cli.ok("record", "put", "--data-dir", "b", "issue", "i1", "assignees+=li", "assignees-=wang")
        try cli.ok("record", "put", "--data-dir", "a", "quantity_entry", "new", "activity=a1", "date=2026-11-30", "quantity=120.5")
        try cli.ok("record", "put", "--data-dir", "b", "quantity_entry", "new", "activity=a1", "date=2026-11-30", "quantity=80")

        // Bundles in several orders, with repeats.
        try cli.ok("bundle", "export", "--data-dir", "a", "--output", "a1.bundle", "--for", "office-1")
        try cli.ok("bundle", "export", "--data-dir", "b", "--output", "b1.bundle", "--for", "office-1")
        try cli.ok("bundle", "import", "--data-dir", "office", "b1.bundle")
        try cli.ok("bundle", "import", "--data-dir", "office", "a1.bundle")
        let repeated = try cli.ok("bundle", "import", "--data-dir", "office", "b1.bundle")
        #expect(repeated.contains("0 new"))
        try cli.ok("bundle", "export", "--data-dir", "a", "--output", "a2b.bundle", "--for", "site-b")
        try cli.ok("bundle", "import", "--data-dir", "b", "a2b.bundle", "--reply", "b2a.bundle")
        try cli.ok("bundle", "import", "--data-dir", "a", "b2a.bundle")
        try cli.ok("bundle", "import", "--data-dir", "a", "b2a.bundle")
        try cli.ok("bundle", "export", "--data-dir", "office", "--output", "o2a.bundle", "--for", "site-a")
        try cli.ok("bundle", "export", "--data-dir", "office", "--output", "o2b.bundle", "--for", "site-b")
        try cli.ok("bundle", "import", "--data-dir", "b", "o2b.bundle")
        try cli.ok("bundle", "import", "--data-dir", "a", "o2a.bundle")
        try cli.ok("bundle", "import", "--data-dir", "b", "o2b.bundle")

        let digest = try cli.digest("office")
        #expect(digest.count == 64)
        #expect(try cli.digest("a") == digest)
        #expect(try cli.digest("b") == digest)

        // The merged values follow the rules.
        for node in ["office", "a", "b"] {
            let activity = try #require(try cli.json("record", "get", "--data-dir", node, "activity", "a1", "--json") as? [String: Any])
            let fields = try #require(activity["fields"] as? [String: Any])
            let percentID = try #require(percentA.split(separator: " ").dropFirst(2).first.map(String.init))
            let percent = try #require(try cli.json("record", "get", "--data-dir", node, "percent_entry", percentID, "--json") as? [String: Any])
            #expect((percent["fields"] as? [String: Any])?["percent"] as? String == "55", "emax: the higher report of the day, one entry not two")
            #expect(fields["actual_start"] as? String == "2026-03-03", "min: the earliest start")
            #expect(fields["status"] as? String == "completed", "state: the furthest state")
            let conflicts = try #require(activity["conflicts"] as? [String: Any])
            let remarks = try #require(conflicts["remarks"] as? [String: Any])
            #expect(remarks["status"] as? String == "open")
            #expect((remarks["values"] as? [Any])?.count == 2, "mv: both remarks kept")

            let logID = try #require(logA.split(separator: " ").dropFirst(2).first.map(String.init))
            let log = try #require(try cli.json("record", "get", "--data-dir", node, "daily_log", logID, "--json") as? [String: Any])
            #expect((log["fields"] as? [String: Any])?["crew_count"] as? Int == 12, "max: the larger crew count, one log not two")

            let issue = try #require(try cli.json("record", "get", "--data-dir", node, "issue", "i1", "--json") as? [String: Any])
            #expect((issue["fields"] as? [String: Any])?["assignees"] as? [String] == ["chen", "li"], "orset: adds kept, the seen remove applied")
            #expect((issue["fields"] as? [String: Any])?["priority"] as? String == "high", "max over the enum's order")

            let entries = try cli.ok("record", "list", "--data-dir", node, "quantity_entry", "--json")
            #expect(entries.split(separator: "\n").count == 2, "append-only: both entries kept")

            let open = try #require(try cli.json("conflicts", "--data-dir", node, "--json", "--status", "open") as? [[String: Any]])
            #expect(open.count == 1 && open.first?["field"] as? String == "remarks")
            let values = open.first?["values"] as? [[String: Any]]
            #expect(Set(values?.compactMap { $0["node"] as? String } ?? []) == ["site-a", "site-b"], "each value names its node")
        }

        // One person resolves it at site A; the resolution travels and clears it everywhere.
        try cli.ok("resolve", "--data-dir", "a", "activity", "a1", "remarks", "--value", "Started 3 March, completed early")
        try cli.ok("bundle", "export", "--data-dir", "a", "--output", "a3.bundle", "--for", "office-1")
        try cli.ok("bundle", "import", "--data-dir", "office", "a3.bundle")
        try cli.ok("bundle", "export", "--data-dir", "office", "--output", "o3.bundle", "--for", "site-b")
        try cli.ok("bundle", "import", "--data-dir", "b", "o3.bundle")
        for node in ["office", "a", "b"] {
            let open = try #require(try cli.json("conflicts", "--data-dir", node, "--json", "--status", "open") as? [[String: Any]])
            #expect(open.isEmpty, "\(node) still shows the conflict")
            let export = try cli.ok("export", "--data-dir", node, "--json")
            #expect(export.contains("Started 3 March, completed early"))
        }
        #expect(try cli.digest("a") == cli.digest("office"))
        #expect(try cli.digest("b") == cli.digest("office"))
    }

    @Test func theDigestIsTheSHA256OfTheCanonicalExport() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "o", "--node", "o", "--department", "office", "--role", "office")
        try cli.ok("record", "put", "--data-dir", "o", "department", "roads", "name=Roads 道路")
        let export = try cli.ok("export", "--data-dir", "o", "--json")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(export.utf8))
        try input.fileHandleForWriting.close()
        let sum = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let digest = try cli.ok("digest", "--data-dir", "o")
        #expect(digest.count == 65 && digest.hasSuffix("\n"))
        #expect(sum.hasPrefix(digest.trimmingCharacters(in: .newlines)))
    }
}
