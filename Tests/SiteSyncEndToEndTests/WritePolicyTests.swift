import Foundation
import Testing

/// One write policy, at the command line (issue 14): a field laptop neither deletes the plan
/// nor closes a project, and no one deletes a record its entries refer to.
@Suite(.serialized) struct WritePolicyTests {
    @Test func aFieldNodeCannotDeleteOrCloseThePlanAndNoOneDeletesAnActivityWithEntries() throws {
        // An office with a project and an activity of roads, and a roads site that imported them.
        let cli = try BadInputTests().prepared()
        defer { cli.remove() }
        let before = try cli.digest("site")

        let project = try cli.fails("record", "delete", "--data-dir", "site", "project", "p1")
        #expect(project.contains("project records are the plan: only office and hub nodes delete them"), "\(project)")
        let activity = try cli.fails("record", "delete", "--data-dir", "site", "activity", "a1")
        #expect(activity.contains("only office and hub nodes delete them"), "\(activity)")
        let closing = try cli.fails("record", "put", "--data-dir", "site", "project", "p1", "stage=closed")
        #expect(closing.contains("project.stage is a plan field"), "\(closing)")
        #expect(try cli.digest("site") == before, "nothing was written")

        // An entry from the site reaches the office: now even the office keeps the activity.
        try cli.ok("record", "put", "--data-dir", "site", "quantity_entry", "new", "activity=a1", "date=2026-05-01", "quantity=12")
        try cli.ok("bundle", "export", "--data-dir", "site", "--output", "site.bundle", "--all")
        try cli.ok("bundle", "import", "--data-dir", "office", "site.bundle")
        let inUse = try cli.fails("record", "delete", "--data-dir", "office", "activity", "a1")
        #expect(inUse.contains("activity a1 cannot be deleted: records refer to it (1 quantity_entry)"), "\(inUse)")
        let inUseProject = try cli.fails("record", "delete", "--data-dir", "office", "project", "p1")
        #expect(inUseProject.contains("stage=closed"), "\(inUseProject)")
        try cli.ok("record", "put", "--data-dir", "office", "project", "p1", "stage=closed")
    }
}
