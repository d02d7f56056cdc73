import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// Every write a node accepts can travel (protocol §15): values and changes at the limits are
/// written and received; one byte over is refused before anything is written; and a single
/// transaction of any size, over any mix of departments, is cut into batches within a
/// receiver's limits.
@Suite struct TravelLimitTests {
    /// Sends everything `from` holds that `to` lacks in pages of at most `limit` changes and
    /// `maxBytes` bytes, as a session would, and returns the size of each page.
    @discardableResult
    static func sendInPages(_ from: TestReplica, to: TestReplica, scope: ReplicationScope = .everything, limit: Int = 1000,
                            maxBytes: Int = 512 << 10) throws -> [(changes: Int, bytes: Int)] {
        let base = try to.store.knowledge()
        var after: Int64 = 0
        var pages: [(changes: Int, bytes: Int)] = []
        while true {
            let page = try from.store.page(lackedBy: base, scope: scope, after: after, limit: limit, maxBytes: maxBytes)
            pages.append((page.changes.count, page.changes.map(\.payload.count).reduce(0, +)))
            let claim: KnowledgeClaim = page.exhausted ? .complete(vouched: try from.store.knowledge()) : .inOrder(vouched: try from.store.knowledge())
            try to.store.apply(CheckedBatch(page, schema: .siteSync), claim: claim)
            if page.exhausted { return pages }
            after = page.cursor
        }
    }

    @Test func aValueOfExactly64KiBTravelsAndOneByteMoreIsRefusedBeforeAnythingIsWritten() throws {
        let office = try TestReplica(name: "office", role: .office, department: "office")
        let other = try TestReplica(name: "other", role: .office, department: "office")
        try seedPlan(office, sendTo: [])
        let before = try office.store.knowledge()
        #expect {
            try office.put("activity", "a1", "remarks=" + String(repeating: "x", count: DecodeLimits.maxStringBytes + 1))
        } throws: { error in
            (error as? StoreError)?.code == .invalidWrite && "\(error)".contains("at most 65536 bytes")
        }
        #expect(try office.store.knowledge() == before, "nothing was written")
        // Multi-byte characters count in bytes: 21,845 × 3 bytes + 1 = 65,536.
        let atLimit = String(repeating: "路", count: 21_845) + "x"
        #expect(atLimit.utf8.count == DecodeLimits.maxStringBytes)
        try office.put("activity", "a1", "remarks=" + atLimit)
        try Self.sendInPages(office, to: other)
        #expect(try other.value("activity", "a1", "remarks") == .text(atLimit))
    }

    @Test func aChangeOverOneMebibyteIsRefusedAndOneJustUnderTravels() throws {
        let office = try TestReplica(name: "office", role: .office, department: "office")
        let other = try TestReplica(name: "other", role: .office, department: "office")
        try seedPlan(office, sendTo: [])
        // The planner keeps set elements short; a change written straight into the store (as
        // the hub's own derived records are) meets the same limit.
        let issue = Schema.siteSync.collection(named: "issue")!
        func addAssignees(_ count: Int) throws {
            let elements = (0..<count).map { String(repeating: "n", count: 60_000) + "\($0)" }
            try office.store.write { _ in
                LocalEdit(record: RecordKey(collection: issue.code, id: "i1"), department: "roads",
                          body: .upsert([FieldWrite(field: issue.field(named: "assignees")!.code, .updateSet(add: elements, remove: []))]))
            }
        }
        try office.put("issue", "i1", "project=p1", "title=Crew list", "opened_on=2026-11-01")
        let before = try office.store.knowledge()
        #expect { try addAssignees(18) } throws: { error in
            (error as? StoreError)?.code == .invalidWrite && "\(error)".contains("at most 1048576 bytes")
        }
        #expect(try office.store.knowledge() == before, "nothing was written")
        try addAssignees(17)
        try Self.sendInPages(office, to: other)
        #expect(try office.store.digest() == other.store.digest())
    }

    /// 10,000 records in one transaction, in runs of 250 per department over four departments:
    /// before, each department's chain was sealed every 256 of its own changes, the seals never
    /// lined up, and the log could not be cut into batches at all.
    @Test func oneTransactionOverFourDepartmentsIsCutIntoBatchesWithinTheLimits() throws {
        let office = try TestReplica(name: "office", role: .office, department: "office")
        let hub = try TestReplica(name: "hub", role: .hub, department: "office")
        let departments = ["roads", "water", "parks", "power"]
        for department in departments {
            try office.put("department", department, "name=\(department)")
            try office.put("project", "p-\(department)", "code=\(department.uppercased())-1", "name=Works", "department=\(department)")
        }
        try office.store.writeLocally { session in
            for run in 0..<40 {
                let department = departments[run % 4]
                for item in 0..<250 {
                    try session.write { try office.planner.planUpsert(
                        collection: "issue", id: "i-\(run)-\(item)",
                        assignments: try ["project=p-\(department)", "title=Snag \(item)", "opened_on=2026-11-02"].map { try FieldAssignment(parsing: $0) }, reader: $0) }
                }
            }
        }
        let pages = try Self.sendInPages(office, to: hub)
        #expect(pages.allSatisfy { $0.changes <= 1000 }, "\(pages.map(\.changes))")
        #expect(pages.map(\.changes).reduce(0, +) == 10_008)
        #expect(try office.store.digest() == hub.store.digest())
        // The hub relays them on to a receiver taking only one department, in small batches.
        let site = try TestReplica(name: "site", role: .field, department: "water")
        let relayed = try Self.sendInPages(hub, to: site, scope: .department("water"), limit: 300)
        #expect(relayed.allSatisfy { $0.changes <= 300 }, "\(relayed.map(\.changes))")
        #expect(try hub.store.digest(department: "water") == site.store.digest(department: "water"))
    }

    /// 300 issues of 60,000 characters each in one transaction (18 MB): cut into batches of
    /// about 512 KiB, never one over the 8 MiB a message may hold.
    @Test func aLargeImportIsCutIntoBatchesWithinTheByteLimit() throws {
        let office = try TestReplica(name: "office", role: .office, department: "office")
        let hub = try TestReplica(name: "hub", role: .hub, department: "office")
        try seedPlan(office, sendTo: [])
        let description = String(repeating: "d", count: 60_000)
        try office.store.writeLocally { session in
            for item in 0..<300 {
                try session.write { try office.planner.planUpsert(
                    collection: "issue", id: "big-\(item)",
                    assignments: try ["project=p1", "title=Long \(item)", "description=\(description)", "opened_on=2026-11-02"].map { try FieldAssignment(parsing: $0) },
                    reader: $0) }
            }
        }
        let pages = try Self.sendInPages(office, to: hub)
        #expect(pages.allSatisfy { $0.bytes <= (512 << 10) + DecodeLimits.maxChangeBytes }, "\(pages.map(\.bytes))")
        #expect(pages.count >= 30)
        #expect(try office.store.digest() == hub.store.digest())
    }
}
