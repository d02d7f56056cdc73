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

/// `sitesync user enable | role | sessions | sign-out`, against a hub serving the dashboard: a
/// role change and a sign-out end the person's sessions in the running server at once.
@Suite(.serialized) struct UserManagementCommandTests {
    typealias Browser = DashboardTests.Browser

    @Test func enableRoleSessionsAndSignOutReachTheRunningServer() throws {
        let f = try DashboardTests.fixture()
        defer { f.stop() }
        let head = Browser(url: f.url)
        try head.signIn("roads-head")
        #expect(try head.get("/").status == 200)

        // Sessions: listed with their person and address, never their secret.
        let listed = try f.cli.ok("user", "sessions", "--data-dir", "hub")
        #expect(listed.contains("roads-head") && listed.contains("127.0.0.1"), "\(listed)")
        let json = try #require(try f.cli.json("user", "sessions", "--data-dir", "hub", "roads-head", "--json") as? [[String: Any]])
        #expect(json.count == 1 && json[0]["person"] as? String == "roads-head" && json[0]["expires"] is String, "\(json)")
        #expect(try f.cli.ok("user", "sessions", "--data-dir", "hub", "city-leader").contains("city-leader has no live session"))
        #expect(try f.cli.fails("user", "sessions", "--data-dir", "hub", "nobody").contains("no person named 'nobody'"))

        // Sign-out ends the session in the running server; they may sign in again.
        #expect(try f.cli.ok("user", "sign-out", "--data-dir", "hub", "roads-head").contains("1 session ended"))
        #expect(try head.get("/").status == 303)
        try head.signIn("roads-head")
        #expect(try head.get("/departments/water").status == 404)

        // A new role ends the sessions too; signed in again, the new reach applies.
        let changed = try f.cli.ok("user", "role", "--data-dir", "hub", "roads-head", "--role", "department_head", "--department", "water")
        #expect(changed.contains("roads-head is now department_head of water") && changed.contains("sessions have ended"), "\(changed)")
        #expect(try head.get("/").status == 303)
        try head.signIn("roads-head")
        #expect(try head.get("/departments/water").status == 200 && head.get("/departments/roads").status == 404)
        // A role's requirements are checked as `user add` checks them; nothing changes then.
        #expect(try f.cli.fails("user", "role", "--data-dir", "hub", "roads-head", "--role", "project_lead", "--department", "roads")
            .contains("--project"))
        #expect(try f.cli.fails("user", "role", "--data-dir", "hub", "roads-head", "--role", "leader", "--department", "roads")
            .contains("leave out --department"))
        #expect(try f.cli.fails("user", "role", "--data-dir", "hub", "roads-head", "--role", "boss").contains("not a person's role"))
        #expect(try head.get("/departments/water").status == 200, "a refused role change must leave the session alone")
        let lead = try f.cli.ok("user", "role", "--data-dir", "hub", "roads-head", "--role", "project_lead", "--department", "roads",
                                "--project", "R-001")
        #expect(lead.contains("project_lead of roads: R-001"), "\(lead)")

        // Disable, then enable: the old password works again.
        try f.cli.ok("user", "disable", "--data-dir", "hub", "city-leader")
        #expect(try Browser(url: f.url).signIn("city-leader").status == 401)
        #expect(try f.cli.ok("user", "enable", "--data-dir", "hub", "city-leader").contains("enabled city-leader (leader)"))
        #expect(try Browser(url: f.url).signIn("city-leader").status == 303)
        let people = try #require(try f.cli.json("user", "list", "--data-dir", "hub", "--json") as? [[String: Any]])
        #expect(people.first { $0["name"] as? String == "city-leader" }?["disabled"] is NSNull)
        #expect(try f.cli.fails("user", "enable", "--data-dir", "hub", "nobody").contains("no person named 'nobody'"))
        #expect(try f.cli.ok("user", "--help").contains("sign-out"))
    }
}
