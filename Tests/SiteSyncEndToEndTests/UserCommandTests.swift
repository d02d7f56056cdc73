import Foundation
import Testing

/// `sitesync user`: a person added with the password on standard input is listed (never their
/// password), a disabled one is listed as such, and an account beyond the node's authority or
/// with a weak password is refused with the reason.
@Suite struct UserCommandTests {
    @Test func addListAndDisableAPersonThroughTheCommandLine() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let password = "Tall-Giraffe-Sunrise-42"
        try cli.ok("init", "--data-dir", "hub", "--node", "hub", "--department", "office", "--role", "hub")
        let added = try cli.ok("user", "add", "--data-dir", "hub", "--name", "chen", "--role", "project_lead", "--department", "roads",
                               "--project", "R-101", "--project", "R-102", stdin: password + "\n")
        #expect(added.contains("added chen (project_lead of roads: R-101, R-102)"), "\(added)")
        try cli.ok("user", "add", "--data-dir", "hub", "--name", "li.wei", "--role", "leader", stdin: "Another-Long-Password\n")

        let json = try #require(try cli.json("user", "list", "--data-dir", "hub", "--json") as? [[String: Any]])
        #expect(json.map { $0["name"] as? String } == ["chen", "li.wei"])
        #expect(json[0]["role"] as? String == "project_lead" && json[0]["department"] as? String == "roads")
        #expect(json[0]["projects"] as? [String] == ["R-101", "R-102"] && json[0]["disabled"] is NSNull && json[0]["last_sign_in"] is NSNull)
        #expect(json[1]["department"] is NSNull && json[1]["projects"] as? [String] == [])
        let listed = try cli.ok("user", "list", "--data-dir", "hub")
        #expect(listed.contains("chen") && listed.contains("R-101,R-102") && listed.contains("never") && !listed.contains(password), "\(listed)")
        let database = try #require(FileManager.default.contents(atPath: cli.file("hub/sitesync.db")))
            + (FileManager.default.contents(atPath: cli.file("hub/sitesync.db-wal")) ?? Data())
        #expect(database.range(of: Data(password.utf8)) == nil, "the password is in the database file")

        let disabled = try cli.ok("user", "disable", "--data-dir", "hub", "chen")
        #expect(disabled.contains("disabled chen"), "\(disabled)")
        let after = try #require(try cli.json("user", "list", "--data-dir", "hub", "--json") as? [[String: Any]])
        #expect(after[0]["disabled"] is String && after[1]["disabled"] is NSNull, "\(after)")
        try cli.ok("user", "password", "--data-dir", "hub", "li.wei", stdin: "A-Third-Long-Password\n")

        let short = try cli.fails("user", "add", "--data-dir", "hub", "--name", "zhao", "--role", "office", stdin: "short\n")
        #expect(short.contains("at least 10 characters"), "\(short)")
        let none = try cli.fails("user", "add", "--data-dir", "hub", "--name", "zhao", "--role", "office", stdin: "")
        #expect(none.contains("no password on standard input"), "\(none)")
        let role = try cli.fails("user", "add", "--data-dir", "hub", "--name", "zhao", "--role", "boss", stdin: password + "\n")
        #expect(role.contains("leader, department_head, project_lead, hrbp, auditor, office"), "\(role)")
        try cli.ok("init", "--data-dir", "site", "--node", "site", "--department", "roads", "--role", "department")
        let beyond = try cli.fails("user", "add", "--data-dir", "site", "--name", "boss", "--role", "leader", stdin: password + "\n")
        #expect(beyond.contains("department node of roads") && beyond.contains("not a leader account"), "\(beyond)")
    }
}
