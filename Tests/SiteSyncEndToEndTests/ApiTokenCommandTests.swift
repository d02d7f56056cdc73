import Foundation
import Testing

/// `sitesync api token`: the secret is printed once, the list never shows it, a revoked token
/// is listed as such, and a token beyond the node's authority is refused with the reason.
@Suite struct ApiTokenCommandTests {
    @Test func createListAndRevokeATokenThroughTheCommandLine() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "hub", "--node", "hub", "--department", "office", "--role", "hub")
        let made = try cli.run(["api", "token", "create", "--data-dir", "hub", "--name", "kpi-roads", "--role", "field",
                                "--department", "roads"])
        #expect(made.status == 0, "\(made.stderr)")
        let secret = made.stdout.trimmingCharacters(in: .newlines)
        #expect(secret.hasPrefix("sst_") && secret.count == 47, "the secret alone on standard output: \(made.stdout)")
        #expect(made.stderr.contains("not shown again"), "\(made.stderr)")

        let listed = try cli.ok("api", "token", "list", "--data-dir", "hub")
        #expect(listed.contains("kpi-roads") && listed.contains("field") && listed.contains("roads"), "\(listed)")
        #expect(!listed.contains(secret))
        try cli.ok("api", "token", "revoke", "--data-dir", "hub", "kpi-roads")
        let json = try #require(try cli.json("api", "token", "list", "--data-dir", "hub", "--json") as? [[String: Any]])
        #expect(json.count == 1 && json[0]["name"] as? String == "kpi-roads" && json[0]["read_only"] as? Bool == false)
        #expect(json[0]["revoked"] is String, "revoked now: \(json)")

        try cli.ok("init", "--data-dir", "site", "--node", "site", "--department", "roads", "--role", "department")
        let beyond = try cli.fails("api", "token", "create", "--data-dir", "site", "--name", "finance", "--role", "office")
        #expect(beyond.contains("department node of roads") && beyond.contains("not an office token"), "\(beyond)")
        let noDepartment = try cli.fails("api", "token", "create", "--data-dir", "site", "--name", "crew", "--role", "field")
        #expect(noDepartment.contains("--department"), "\(noDepartment)")
    }
}
