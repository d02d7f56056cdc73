import Foundation
import Testing

/// Whatever one `record import` writes can be sent: a transaction of any size, over any mix of
/// departments, is sealed so that it is cut into batches within every receiver's limits. Before,
/// 10,000 lines in runs of 250 per department failed every sync ("a run of more than 8000
/// changes without a seal; the database is damaged"), 7,000 were refused by the hub ("push batch
/// 2 holds 6786 changes, over the limit of 1000"), and long descriptions made a run of 105
/// changes too big for a message.
@Suite(.serialized) struct LargeImportTests {
    @Test func aTenThousandLineImportOverFourDepartmentsAndOneOfLongTextsReachEveryone() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, endpoint) = try NetworkSyncTests.startHub(cli)
        defer { hub.terminate() }
        try NetworkSyncTests.node(cli, "office", department: "office", role: "office", hub: endpoint)
        try NetworkSyncTests.node(cli, "site", department: "water", hub: endpoint)
        let departments = ["roads", "water", "parks", "power"]
        var plan = departments.map { #"{"collection": "department", "id": "\#($0)", "fields": {"name": "\#($0)"}}"# }
        plan += departments.map { #"{"collection": "project", "id": "p-\#($0)", "fields": {"code": "\#($0.uppercased())-1", "name": "Works", "department": "\#($0)"}}"# }
        try cli.ok("record", "import", "--data-dir", "office", "-", stdin: plan.joined(separator: "\n"))
        let issues = (0..<40).flatMap { run in
            (0..<250).map { item in
                #"{"collection": "issue", "id": "i-\#(run)-\#(item)", "fields": {"project": "p-\#(departments[run % 4])", "title": "Snag \#(item)", "opened_on": "2026-11-02"}}"#
            }
        }
        try cli.ok("record", "import", "--data-dir", "office", "-", stdin: issues.joined(separator: "\n"))
        let description = String(repeating: "d", count: 60_000)
        let long = (0..<120).map {
            #"{"collection": "issue", "id": "long-\#($0)", "fields": {"project": "p-water", "title": "Long \#($0)", "description": "\#(description)", "opened_on": "2026-11-02"}}"#
        }
        try cli.ok("record", "import", "--data-dir", "office", "-", stdin: long.joined(separator: "\n"))

        let pushed = try cli.ok("sync", "--data-dir", "office")
        #expect(pushed.contains("pushed 10128 (10128 new)"), "\(pushed)")
        // 2,500 issues and 120 long ones of water, its project, and the four departments (shared).
        let pulled = try cli.ok("sync", "--data-dir", "site")
        #expect(pulled.contains("pulled 2625 (2625 new)"), "\(pulled)")
        #expect(try cli.ok("digest", "--data-dir", "site", "--department", "water")
                == cli.ok("digest", "--data-dir", "office", "--department", "water"))
        #expect(try cli.digest("office") == cli.digest("hub"))
    }
}
