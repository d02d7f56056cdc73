import Foundation
import GRDB
import Testing

/// A sync that fails on the node's own side says so, and does not send the user after the hub.
@Suite(.serialized) struct LocalFailureTests {
    /// A pending change whose stored bytes no longer decode (a failing disk) stops the push on
    /// the node: the error names the node's database and what to do, and `status` does not say
    /// the hub did not answer. Before, the failure read as the hub's.
    @Test func aChangeThatDoesNotDecodeIsReportedAsThisNodesFaultNotTheHubs() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let (hub, _) = try NetworkSyncTests.plannedHub(cli, sites: ["north"])
        defer { hub.terminate() }
        try cli.ok("record", "put", "--data-dir", "north", "activity", "a1", "actual_finish=2026-05-03")
        // The node's own change, the last in its log, damaged as a failing disk would.
        let queue = try DatabaseQueue(path: cli.file("north/sitesync.db"))
        try queue.write { db in
            try db.execute(sql: "UPDATE sync_change SET payload = X'FFFFFFFF' WHERE seq = (SELECT max(seq) FROM sync_change)")
        }
        try queue.close()

        let failed = try cli.run(["sync", "--data-dir", "north"])
        #expect(failed.status != 0)
        #expect(!failed.stderr.contains("no answer") && !failed.stderr.contains("did not answer"), "\(failed.stderr)")
        #expect(failed.stderr.contains("this node could not read its own changes to send to hub-1, so hub-1 is not at fault"),
                "\(failed.stderr)")
        #expect(failed.stderr.contains("does not decode") && failed.stderr.contains("`sitesync audit verify`"), "\(failed.stderr)")

        let status = try cli.run(["status", "--data-dir", "north"])
        #expect(!status.stdout.contains("did not answer"), "\(status.stdout)")
        #expect(status.stdout.contains("the last sync failed on this node's side, not the hub's"), "\(status.stdout)")
        #expect(status.stdout.contains("the last try failed on this node, not at the hub"), "\(status.stdout)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try cli.run(["status", "--data-dir", "north", "--json"]).stdout.utf8))
            as? [String: Any])
        // The hub answered at the last try that reached it (the sync that set the node up).
        #expect((json["hub"] as? [String: Any])?["reachable"] as? Bool == true, "\(json)")
        #expect((json["last_sync"] as? [String: Any])?["ok"] as? Bool == false)
    }
}
