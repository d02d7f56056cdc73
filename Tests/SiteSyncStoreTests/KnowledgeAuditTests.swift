import Foundation
import GRDB
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// `audit verify` checks the knowledge too: what a replica says it holds of each origin must be
/// backed by the changes it holds or by the hub's recorded word, since knowledge that runs
/// ahead of both silently stops it from pulling what it lacks.
@Suite struct KnowledgeAuditTests {
    @Test func knowledgeTheHubVouchedForPassesAndKnowledgeNothingBacksIsNamed() throws {
        let office = try TestReplica(name: "office", role: .office, department: "office")
        let site = try TestReplica(name: "site", role: .field, department: "roads")
        try seedPlan(office, sendTo: [])
        try office.put("project", "w1", "code=W-1", "name=Mains", "department=water")
        // The roads site receives the office's roads changes; the hub's word covers the water one.
        let page = try office.changes(lackedBy: VersionVector(), scope: .department("roads"))
        try site.store.apply(page, claim: .complete(vouched: office.store.knowledge()))
        let me = office.store.identity.replica
        #expect(try site.store.knowledge()[me] == office.store.knowledge()[me])
        #expect(try site.store.audit().broken == nil)

        let path = site.directory.file("sitesync.db")
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "UPDATE sync_knowledge SET counter = 1000000, max_seen = 1000000 WHERE replica = ?",
                           arguments: [me.storageValue])
        }
        try queue.close()
        let broken = try #require(try site.store.audit().broken)
        #expect(broken.contains("knowledge of \(me)") && broken.contains("stands at 1000000"), "\(broken)")
    }
}
