import Foundation
import Testing

/// Bad input gets a message saying what is wrong and what to do, a non-zero exit, and leaves
/// the replica exactly as it was.
@Suite(.serialized) struct BadInputTests {
    func prepared() throws -> SiteSyncBinary {
        let cli = try SiteSyncBinary()
        try cli.ok("init", "--data-dir", "office", "--node", "office-1", "--department", "office", "--role", "office")
        try cli.ok("init", "--data-dir", "site", "--node", "site-a", "--department", "roads")
        try cli.ok("record", "put", "--data-dir", "office", "department", "roads", "name=Roads")
        try cli.ok("record", "put", "--data-dir", "office", "project", "p1", "code=R-1", "name=Ring road", "department=roads")
        try cli.ok("record", "put", "--data-dir", "office", "activity", "a1", "project=p1", "name=Earthworks")
        try cli.ok("bundle", "export", "--data-dir", "office", "--output", "plan.bundle", "--all")
        try cli.ok("bundle", "import", "--data-dir", "site", "plan.bundle")
        return cli
    }

    @Test func badRecordWritesAreRefusedWithAReasonAndChangeNothing() throws {
        let cli = try prepared()
        defer { cli.remove() }
        let before = try cli.digest("site")
        let cases: [([String], String)] = [
            (["nosuch", "x", "a=1"], "unknown collection"),
            (["activity", "a1", "colour=red"], "has no field 'colour'"),
            (["percent_entry", "new", "activity=a1", "date=2026-11-02", "percent=lots"], "decimal number"),
            (["percent_entry", "new", "activity=a1", "date=2026-11-02", "percent=140"], "between 0 and 100"),
            (["activity", "a1", "percent_complete=40"], "retired"),
            (["activity", "a1", "status=completed"], "needs actual_start"),
            (["activity", "a1", "status=finished"], "must be one of not_started"),
            (["activity", "a1", "actual_start=2026-02-30"], "YYYY-MM-DD"),
            (["activity", "a1", "budget=5"], "plan field"),
            (["kpi", "k1", "name=x"], "hub-owned"),
            (["activity", "a1", "remarks"], "field=value"),
        ]
        for (arguments, expected) in cases {
            let stderr = try cli.run(["record", "put", "--data-dir", "site"] + arguments)
            #expect(stderr.status != 0, "\(arguments)")
            #expect(stderr.stderr.contains(expected), "\(arguments): \(stderr.stderr)")
        }
        #expect(try cli.digest("site") == before)
    }

    @Test func anInvalidImportLineNamesTheLineAndWritesNothing() throws {
        let cli = try prepared()
        defer { cli.remove() }
        let before = try cli.digest("office")
        let stderr = try cli.fails("record", "import", "--data-dir", "office", "-", stdin: """
            {"collection": "activity", "id": "a2", "fields": {"project": "p1", "name": "Kerbs"}}

            {"collection": "activity", "id": "a3", "fields": {"project": "p1", "name": "Drains", "ev_method": "guesswork"}}
            """)
        #expect(stderr.contains("line 3"))
        #expect(stderr.contains("ev_method"))
        #expect(try cli.digest("office") == before)
        let notJSON = try cli.fails("record", "import", "--data-dir", "office", "-", stdin: "{\"collection\": \"activity\", \n")
        #expect(notJSON.contains("line 1") && notJSON.contains("JSON"))
    }

    /// Before, a value of 65,537 bytes was written and then blocked the node for good: every
    /// later sync failed on it, and bundles of it were refused whole by every importer.
    @Test func aValueOverTheTravelLimitIsRefusedAndOneAtItTravels() throws {
        let cli = try prepared()
        defer { cli.remove() }
        let before = try cli.digest("site")
        let over = try cli.fails("record", "put", "--data-dir", "site", "activity", "a1", "remarks=" + String(repeating: "x", count: 65_537))
        #expect(over.contains("at most 65536 bytes") && over.contains("nothing was written"), "\(over)")
        let megabyte = #"{"collection": "activity", "id": "a1", "fields": {"remarks": "\#(String(repeating: "y", count: 1_000_000))"}}"#
        let imported = try cli.run(["record", "import", "--data-dir", "site", "-"], stdin: megabyte)
        #expect(imported.status == 1 && imported.stderr.contains("line 1") && imported.stderr.contains("at most 65536 bytes"),
                "\(imported.stderr)")
        #expect(!imported.stderr.contains("Usage:"), "a bad line is not a usage error")
        #expect(try cli.digest("site") == before)
        let atLimit = String(repeating: "z", count: 65_536)
        try cli.ok("record", "put", "--data-dir", "site", "activity", "a1", "remarks=" + atLimit)
        try cli.ok("bundle", "export", "--data-dir", "site", "--all", "--output", "site.bundle")
        try cli.ok("bundle", "import", "--data-dir", "office", "site.bundle")
        #expect(try cli.ok("record", "get", "--data-dir", "office", "activity", "a1").contains(atLimit))
    }

    @Test func damagedForeignOrMissingBundlesAreRefused() throws {
        let cli = try prepared()
        defer { cli.remove() }
        let before = try cli.digest("site")
        let good = try Data(contentsOf: URL(fileURLWithPath: cli.file("plan.bundle")))
        try good.prefix(good.count - 10).write(to: URL(fileURLWithPath: cli.file("cut.bundle")))
        var flipped = good
        flipped[good.count / 2] ^= 0xFF
        try flipped.write(to: URL(fileURLWithPath: cli.file("flipped.bundle")))
        try Data("hello, I am a spreadsheet".utf8).write(to: URL(fileURLWithPath: cli.file("foreign.bundle")))
        #expect(try cli.fails("bundle", "import", "--data-dir", "site", "cut.bundle").contains("truncated"))
        #expect(try cli.fails("bundle", "import", "--data-dir", "site", "flipped.bundle").contains("copy it again"))
        #expect(try cli.fails("bundle", "import", "--data-dir", "site", "foreign.bundle").contains("not a SiteSync bundle"))
        #expect(try cli.fails("bundle", "import", "--data-dir", "site", "nowhere.bundle").contains("cannot read"))
        #expect(try cli.digest("site") == before)
    }

    @Test func aMissingOrForeignDataDirectoryIsExplained() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        #expect(try cli.fails("digest", "--data-dir", "nowhere").contains("sitesync init"))
        try FileManager.default.createDirectory(atPath: cli.file("photos"), withIntermediateDirectories: true)
        #expect(try cli.fails("export", "--data-dir", "photos").contains("not a SiteSync data directory"))
        #expect(try cli.fails("init", "--data-dir", "x", "--node", "bad name!", "--department", "roads").contains("node name"))
        #expect(try cli.fails("init", "--data-dir", "x", "--node", "n", "--department", "Roads").contains("department code"))
        #expect(try cli.fails("init", "--data-dir", "x", "--node", "n", "--department", "roads", "--role", "boss").contains("not a role"))
        #expect(!FileManager.default.fileExists(atPath: cli.file("x")))
    }

    @Test func everyCommandExplainsItselfWithHelp() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        for command in [[], ["init"], ["record"], ["record", "put"], ["record", "get"], ["record", "list"], ["record", "delete"],
                        ["record", "import"], ["export"], ["digest"], ["conflicts"], ["resolve"], ["bundle"], ["bundle", "export"],
                        ["bundle", "import"], ["serve"], ["sync"], ["run"], ["keys"], ["keys", "show"], ["keys", "trust-hub"],
                        ["keys", "allow"], ["keys", "revoke"], ["keys", "list"], ["audit"], ["audit", "verify"], ["report"],
                        ["report", "projects"], ["report", "departments"], ["report", "monthly"], ["project"], ["project", "add"], ["project", "list"], ["project", "show"], ["activity"], ["activity", "add"],
                        ["activity", "list"], ["forecast"], ["kpi"], ["kpi", "define"], ["kpi", "read"], ["demo"], ["import"], ["import", "plan"], ["progress"], ["log"], ["history"], ["cost"], ["risk"], ["issue"]] {
            let result = try cli.run(command + ["--help"])
            #expect(result.status == 0, "\(command)")
            #expect(result.stdout.contains("USAGE"), "\(command)")
        }
        for command in [[], ["figures"], ["soak"]] {
            let result = try cli.runBench(command + ["--help"])
            #expect(result.status == 0, "sitesync-bench \(command)")
            #expect(result.stdout.contains("USAGE: sitesync-bench"), "sitesync-bench \(command): \(result.stdout)")
        }
    }

    /// The benchmarks are a binary of their own: the shipped `sitesync` lists no `bench`
    /// command, and holds no code of the SiteSyncBench module (whose Swift symbols all carry
    /// its mangled name, `13SiteSyncBench`), while `sitesync-bench` does.
    @Test func theShippedBinaryCarriesNoBenchmarks() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let help = try cli.run(["--help"])
        #expect(help.status == 0 && help.stdout.contains("SUBCOMMANDS"), "\(help.stderr)")
        #expect(!help.stdout.contains("bench"), "sitesync --help still lists the benchmarks:\n\(help.stdout)")
        let module = Data("13SiteSyncBench".utf8)
        let shipped = try Data(contentsOf: URL(fileURLWithPath: SiteSyncBinary.path), options: .alwaysMapped)
        #expect(shipped.range(of: module) == nil, "\(SiteSyncBinary.path) links the SiteSyncBench module")
        let bench = try Data(contentsOf: URL(fileURLWithPath: SiteSyncBinary.benchPath), options: .alwaysMapped)
        #expect(bench.range(of: module) != nil, "\(SiteSyncBinary.benchPath) should hold the benchmarks")
    }

    /// Without a `sitesync` to start as the hub, the network figures and the soak stop at
    /// once and say how to get one.
    @Test func theBenchmarksWithoutASitesyncBinarySayHowToGetOne() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let missing = cli.file("no-such-sitesync")
        let soak = try cli.runBench(["soak", "--nodes", "2", "--minutes", "0.1"], environment: ["SITESYNC_BINARY": missing])
        #expect(soak.status != 0)
        #expect(soak.stderr.contains("none at \(missing)") && soak.stderr.contains("swift build -c release")
                && soak.stderr.contains("--no-network"), "\(soak.stderr)")
    }
}
