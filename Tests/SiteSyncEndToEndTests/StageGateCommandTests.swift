import Foundation
import Testing

/// Stage gates between real processes over the real transport (docs/design.md §14): a
/// department node proposes offline, the proposal waits in `status`, the hub approves, and the
/// approval, the stage and baseline 1 come back with the next sync.
@Suite(.serialized) struct StageGateCommandTests {
    /// `status --json` (its exit code says in sync or behind, not whether it answered).
    static func status(_ cli: SiteSyncBinary, _ node: String) throws -> [String: Any] {
        let result = try cli.run(["status", "--json", "--data-dir", node])
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
    }

    @Test func aDepartmentProposesTheHubApprovesAndEverythingComesBack() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, endpoint) = try NetworkSyncTests.startHub(cli)
        defer { hub.terminate() }
        try cli.ok("record", "import", "--data-dir", "hub", "-", stdin: """
            {"collection": "department", "id": "roads", "fields": {"name": "Roads Bureau"}}
            {"collection": "project", "id": "p1", "fields": {"code": "R-001", "name": "Ring road", "department": "roads"}}
            {"collection": "activity", "id": "a1", "fields": {"project": "p1", "name": "Kerbs", "ev_method": "manual", "budget": "1000", "planned_start": "2026-11-01", "planned_finish": "2026-11-10"}}
            {"collection": "activity", "id": "a2", "fields": {"project": "p1", "name": "Paving", "ev_method": "manual", "planned_start": "2026-11-01", "planned_finish": "2026-11-30"}}
            """)
        try NetworkSyncTests.node(cli, "dept", department: "roads", role: "department", hub: endpoint)
        try NetworkSyncTests.node(cli, "site", department: "roads", hub: endpoint)
        for node in ["dept", "site"] { try cli.ok("sync", "--data-dir", node) }

        // The gate's criteria first: Paving has no budget.
        let refused = try cli.fails("project", "propose", "R-001", "--stage", "execution", "--data-dir", "dept")
        #expect(refused.contains("activity Paving has no budget") && refused.contains("nothing was proposed"), "\(refused)")
        try cli.ok("record", "put", "--data-dir", "hub", "activity", "a2", "budget=3000")
        try cli.ok("sync", "--data-dir", "dept")
        // Offline, the proposal waits and says so.
        try cli.ok("project", "propose", "R-001", "--stage", "execution", "--note", "design signed off", "--data-dir", "dept")
        let offline = try cli.run(["status", "--data-dir", "dept"])
        #expect(offline.status == 2 && offline.stdout.contains("stage proposals waiting  1"), "behind, one change pending: \(offline.stdout)")
        #expect(try cli.fails("project", "approve", "R-001", "--data-dir", "dept").contains("central office"))
        try cli.ok("sync", "--data-dir", "dept")
        try cli.ok("sync", "--data-dir", "site")
        #expect(try cli.fails("project", "approve", "R-001", "--data-dir", "site").contains("central office"))
        let waiting = try Self.status(cli, "hub")
        #expect(waiting["stage_proposals_waiting"] as? Int == 1, "\(waiting)")

        #expect(try cli.ok("project", "approve", "R-001", "--data-dir", "hub").contains("baseline 1 taken"))
        for node in ["dept", "site"] { try cli.ok("sync", "--data-dir", node) }
        for node in ["dept", "site"] {
            let stages = try #require(try cli.json("project", "stages", "R-001", "--json", "--data-dir", node) as? [[String: Any]])
            #expect(stages.count == 1 && stages[0]["decision"] as? String == "approved" && stages[0]["decided_by"] as? String == "hub-1"
                    && stages[0]["proposed_by"] as? String == "dept" && stages[0]["note"] as? String == "design signed off", "\(stages)")
            let baselines = try #require(try cli.json("project", "baselines", "R-001", "--json", "--data-dir", node) as? [[String: Any]])
            #expect(baselines.map { $0["number"] as? Int } == [1] && baselines[0]["activities"] as? Int == 2)
            let status = try Self.status(cli, node)
            #expect(status["stage_proposals_waiting"] as? Int == 0)
            let rows = try #require(try cli.json("report", "projects", "--format", "json", "--data-dir", node) as? [[String: Any]])
            #expect(rows.first?["stage"] as? String == "execution")
        }
        #expect(try cli.digest("dept") == cli.digest("hub"))
    }

    /// The commands under the names issue 19 gives them (`stage`, `baseline`, `person`,
    /// `suggest`), each with `--json`, doing what their longer spellings do, on one hub.
    @Test func theIssuesCommandNamesWorkAndAnswerInJSON() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "hub", "--node", "hub", "--department", "office", "--role", "hub")
        try cli.ok("record", "import", "--data-dir", "hub", "-", stdin: """
            {"collection": "department", "id": "roads", "fields": {"name": "Roads Bureau"}}
            {"collection": "project", "id": "p1", "fields": {"code": "R-001", "name": "Ring road", "department": "roads"}}
            {"collection": "activity", "id": "a1", "fields": {"project": "p1", "name": "Kerbs", "ev_method": "manual", "budget": "1000", "planned_start": "2026-11-01", "planned_finish": "2026-11-10"}}
            """)
        #expect(try cli.fails("stage", "propose", "R-001", "acceptance", "--data-dir", "hub").contains("next stage to propose is execution"))
        let proposed = try #require(try cli.json("stage", "propose", "R-001", "execution", "--note", "signed off", "--json", "--data-dir", "hub")
                                    as? [String: Any])
        #expect(proposed["to"] as? String == "execution" && proposed["decision"] is NSNull && proposed["note"] as? String == "signed off")
        let approved = try #require(try cli.json("stage", "approve", "R-001", "--reason", "budget confirmed", "--json", "--data-dir", "hub")
                                    as? [String: Any])
        #expect(approved["decision"] as? String == "approved" && approved["reason"] as? String == "budget confirmed", "\(approved)")

        try cli.ok("record", "put", "--data-dir", "hub", "activity", "a1", "planned_finish=2026-11-20")
        let second = try #require(try cli.json("baseline", "set", "R-001", "--reason", "scope change", "--json", "--data-dir", "hub")
                                  as? [String: Any])
        #expect(second["number"] as? Int == 2 && second["reason"] as? String == "scope change", "\(second)")
        let baselines = try #require(try cli.json("baseline", "list", "R-001", "--json", "--data-dir", "hub") as? [[String: Any]])
        #expect(baselines.map { $0["number"] as? Int } == [2, 1])
        #expect(try cli.ok("baseline", "list", "R-001", "--against", "original", "--data-dir", "hub").contains("+10"),
                "against baseline 1, Kerbs finishes 10 days later")

        try cli.ok("record", "put", "--data-dir", "hub", "activity", "a1", "status=completed", "actual_start=2026-11-01", "actual_finish=2026-11-18")
        try cli.ok("stage", "propose", "R-001", "acceptance", "--data-dir", "hub")
        let returned = try #require(try cli.json("stage", "return", "R-001", "--reason", "snag list open", "--json", "--data-dir", "hub")
                                    as? [String: Any])
        #expect(returned["decision"] as? String == "returned" && returned["reason"] as? String == "snag list open")
        let history = try #require(try cli.json("stage", "list", "R-001", "--json", "--data-dir", "hub") as? [[String: Any]])
        #expect(history.count == 2 && Set(history.compactMap { $0["to"] as? String }) == ["execution", "acceptance"], "\(history)")
        // A stage set directly by the office is a correction without the gate, recorded with who and when.
        try cli.ok("record", "put", "--data-dir", "hub", "project", "p1", "stage=closed")
        let corrected = try #require(try cli.json("stage", "list", "R-001", "--json", "--data-dir", "hub") as? [[String: Any]])
        let closing = corrected.first { $0["to"] as? String == "closed" }
        #expect(corrected.count == 3 && closing?["from"] as? String == "execution"
                && closing?["decision"] as? String == "approved" && closing?["decided_by"] as? String == "hub", "\(corrected)")

        let person = try #require(try cli.json("person", "add", "王芳", "--department", "roads", "--role", "project_lead", "--json",
                                               "--data-dir", "hub") as? [String: Any])
        #expect(person["name"] as? String == "王芳" && person["role"] as? String == "project_lead")
        let staff = try #require(try cli.json("person", "list", "--json", "--data-dir", "hub") as? [[String: Any]])
        #expect(staff.map { $0["name"] as? String } == ["王芳"])

        let left = try #require(try cli.json("suggest", "Publish the closure plan", "--anonymous", "--json", "--data-dir", "hub")
                                as? [String: Any])
        let listed = try #require(try cli.json("suggestion", "list", "--json", "--data-dir", "hub") as? [[String: Any]])
        #expect(listed.count == 1 && listed[0]["id"] as? String == left["id"] as? String && listed[0]["text"] as? String == "Publish the closure plan")
        #expect(try cli.fails("suggest", "x", "--anonymous", "--by", "Li", "--data-dir", "hub").contains("--anonymous"))

        // A goal's target split down the periods.
        try cli.ok("record", "put", "--data-dir", "hub", "goal", "g1", "project=p1", "title=Capacity", "weight=1")
        let split = try #require(try cli.json("goal", "target", "Capacity", "--project", "R-001", "--period", "2026", "--target", "100",
                                              "--split", "quarters", "--json", "--data-dir", "hub") as? [[String: Any]])
        #expect(split.map { $0["period"] as? String } == ["2026", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
                && split.map { "\($0["target"] ?? "")" } == ["100", "25", "25", "25", "25"], "\(split)")
        #expect(try cli.fails("goal", "target", "Capacity", "--period", "2026", "--target", "1", "--actual", "1", "--split", "months",
                              "--data-dir", "hub").contains("--split shares out --target"))
    }
}
