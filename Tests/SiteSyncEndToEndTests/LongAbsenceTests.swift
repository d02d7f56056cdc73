import Foundation
import Testing
@testable import SiteSyncCore

/// Issue 7, item 6 (docs/design.md §10.4, "tombstone GC versus a returning node"),
/// with real processes: node A is offline and edits an issue; node B deletes it; the hub
/// compacts. Within the horizon A holds compaction back; beyond it, A no longer does, and it
/// comes back through a state transfer. Either way A's edit is kept, the deletion is logged as
/// a conflict, and every replica converges: no silent resurrection, no loss.
@Suite(.serialized) struct LongAbsenceTests {
    typealias Fault = FaultToleranceTests

    /// `compact --json` at the hub, with the hub's clock `environment` says.
    static func compact(_ cli: SiteSyncBinary, horizon: String, environment: [String: String] = [:]) throws -> [String: Any] {
        let result = try cli.run(["compact", "--data-dir", "hub", "--json"],
                                 environment: environment.merging(["SITESYNC_COMPACTION_HORIZON": horizon]) { _, new in new })
        #expect(result.status == 0, "\(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
    }

    static func standing(_ plan: [String: Any], _ node: String) -> (standing: String, lacks: Int)? {
        guard let entry = (plan["nodes"] as? [[String: Any]])?.first(where: { $0["node"] as? String == node }) else { return nil }
        return (entry["standing"] as? String ?? "", entry["lacks"] as? Int ?? -1)
    }

    /// The deletion conflicts `node` logged for `issue`.
    static func deletionConflicts(_ cli: SiteSyncBinary, _ node: String, _ issue: String) throws -> [[String: Any]] {
        let entries = try cli.json("conflicts", "--data-dir", node, "--json", "--state", "auto") as? [[String: Any]] ?? []
        return entries.filter { $0["id"] as? String == issue && $0["field"] as? String == "(deleted)" }
    }

    /// Rows of the hub's change log written by `node`'s current replica.
    static func loggedChanges(_ cli: SiteSyncBinary, of node: String) throws -> Int {
        let replica = try #require(try cli.json("status", "--data-dir", node, "--json") as? [String: Any])["replica"] as? String ?? ""
        return try Fault.sqlite(cli, "hub", "SELECT replica FROM sync_change").filter {
            ReplicaID(storageValue: $0[0]).description == replica
        }.count
    }

    @Test func anEditMadeOfflineMeetsACompactedDeletionAsAConflictWithinAndBeyondTheHorizon() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let started = try NetworkSyncTests.plannedHub(cli, sites: ["a", "b"])
        var hub = started.0
        defer { hub.terminate() }
        try cli.ok("record", "put", "--data-dir", "b", "issue", "i1", "project=p1", "title=Drain blocked", "opened_on=2026-11-02")
        try cli.ok("record", "put", "--data-dir", "b", "issue", "i2", "project=p1", "title=Fence down", "opened_on=2026-11-02")
        for node in ["b", "a", "office"] { try cli.ok("sync", "--data-dir", node) }

        // Within the horizon: A edits offline, B deletes; A holds compaction back.
        try cli.ok("record", "put", "--data-dir", "a", "issue", "i1", "title=Drain blocked at km 3")
        try cli.ok("record", "delete", "--data-dir", "b", "issue", "i1")
        try cli.ok("sync", "--data-dir", "b")
        let within = try Self.compact(cli, horizon: "90d")
        #expect(Self.standing(within, "a")?.standing == "counted")
        #expect((Self.standing(within, "a")?.lacks ?? 0) >= 1, "A lacks B's deletion: \(within)")
        #expect(try Self.loggedChanges(cli, of: "b") >= 1, "the log keeps B's deletion for A")
        let back = try #require(try cli.json("sync", "--data-dir", "a", "--json") as? [String: Any])
        #expect(back["pulled_states"] as? Int == 0, "A came back within the horizon: changes, no state transfer")
        #expect(try Fault.field(cli, "a", "issue", "i1", "title") == "Drain blocked at km 3")
        #expect(try Self.deletionConflicts(cli, "a", "i1").count == 1, "the deletion that lost is logged at A")

        // Beyond the horizon: A edits offline and stays away; B deletes; the hub compacts past A.
        // A stays away a minute, by the hub's clock: rather than wait, the hub starts again with
        // its clock a minute on, and the compaction and the fleet view read that clock too.
        try cli.ok("record", "put", "--data-dir", "a", "issue", "i2", "title=Fence down near the school")
        let aMinuteLater = ["SITESYNC_CLOCK_OFFSET_SECONDS": "60"]
        hub.terminate()
        (hub, _) = try NetworkSyncTests.startHub(cli, environment: aMinuteLater, endpoint: started.1)
        try cli.ok("record", "delete", "--data-dir", "b", "issue", "i2")
        try cli.ok("sync", "--data-dir", "b")
        let beyond = try Self.compact(cli, horizon: "30s", environment: aMinuteLater)
        #expect(Self.standing(beyond, "a")?.standing == "beyond-horizon", "\(beyond)")
        #expect(Self.standing(beyond, "b")?.standing == "counted", "\(beyond)")
        #expect((beyond["removed_changes"] as? Int ?? 0) > 0)
        #expect(try Self.loggedChanges(cli, of: "b") == 0, "B's deletion of i2 is compacted away: only B counted")
        let fleet = try cli.run(["status", "--data-dir", "hub", "--fleet", "--json"],
                                environment: aMinuteLater.merging(["SITESYNC_COMPACTION_HORIZON": "30s"]) { _, new in new })
        let members = (try JSONSerialization.jsonObject(with: Data(fleet.stdout.utf8)) as? [String: Any])?["nodes"] as? [[String: Any]] ?? []
        #expect(members.first { $0["node"] as? String == "a" }?["compaction"] as? String == "beyond-horizon", "\(fleet.stdout)")
        let rebased = try #require(try cli.json("sync", "--data-dir", "a", "--json") as? [String: Any])
        #expect((rebased["pulled_states"] as? Int ?? 0) > 0, "A lacked compacted changes: it got the records' state: \(rebased)")
        #expect(try Fault.field(cli, "a", "issue", "i2", "title") == "Fence down near the school", "A's edit is kept")
        #expect(try Self.deletionConflicts(cli, "a", "i2").count == 1, "the deletion is logged at A: no silent resurrection")

        // Everyone agrees, and every database still checks out.
        for node in ["b", "office", "a", "b"] { try cli.ok("sync", "--data-dir", node) }
        #expect(try Fault.field(cli, "hub", "issue", "i2", "title") == "Fence down near the school")
        #expect(try Self.deletionConflicts(cli, "hub", "i2").count == 1, "the deletion is logged at the hub")
        #expect(try Self.deletionConflicts(cli, "b", "i2").count == 1, "and at B, which deleted it")
        let roads = try Set(["hub", "a", "b", "office"].map { try cli.ok("digest", "--data-dir", $0, "--department", "roads") })
        #expect(roads.count == 1, "every replica shows the same roads records")
        for node in ["hub", "a", "b", "office"] {
            let audit = try cli.run(["audit", "verify", "--data-dir", node])
            #expect(audit.status == 0, "\(node): \(audit.stdout)\(audit.stderr)")
        }
        // A bundle cannot carry record state: cutting one for a node that lacks compacted changes says so.
        try NetworkSyncTests.node(cli, "late", department: "roads", hub: "tcp://127.0.0.1:9")
        let bundle = try cli.run(["bundle", "export", "--data-dir", "hub", "--for", "late", "--output", cli.file("late.bundle")])
        #expect(bundle.status != 0 && bundle.stderr.contains("compacted"), "\(bundle.stderr)")
    }
}
