import Foundation
import GRDB
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore

@Suite struct LocalWriteTests {
    @Test func aLocalWriteIsDurableAndLandsInTheTypedTableTheLogAndTheKnowledge() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        let path = office.directory.file("sitesync.db")
        let reopened = try ReplicaStore.open(at: path, options: StoreOptions(durability: .off))
        #expect(try reopened.counts().changes == 5)
        #expect(try reopened.knowledge()[office.store.identity.replica] == 5)
        // The typed table is plain SQL with typed columns.
        let queue = try DatabaseQueue(path: path)
        let row = try queue.read { db in try Row.fetchOne(db, sql: "SELECT name, budget, department, ev_method FROM activity WHERE id = 'a1'") }
        #expect(row?["name"] == "Earthworks")
        #expect(row?["budget"] == "300000")
        #expect(row?["department"] == "roads")
        #expect(row?["ev_method"] == "manual")
    }

    /// A bulk import is one transaction, sealed every 256 changes. A receiver that takes small
    /// batches gets pages that run on to the next seal; the log was once called damaged when
    /// such a run was longer than 8 of its batches (found when the property tests stopped
    /// dropping errors).
    @Test func smallPagesOverABulkImportRunOnToTheNextSeal() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        let entry = try FieldAssignment(parsing: "activity=a1"), date = try FieldAssignment(parsing: "date=2026-11-02")
        try office.store.writeLocally { session in
            for n in 0..<600 {
                try session.write {
                    try office.planner.planUpsert(collection: "quantity_entry", id: "q\(n)",
                                                  assignments: [entry, date, try FieldAssignment(parsing: "quantity=\(n + 1)")], reader: $0)
                }
            }
        }
        let site = try TestReplica(name: "site", role: .field)
        var after: Int64 = 0
        var pages = 0
        while true {
            let page = try office.store.page(lackedBy: site.store.knowledge(), scope: .everything, after: after, limit: 1, maxBytes: .max)
            if !page.changes.isEmpty {
                try site.store.apply(try CheckedBatch(page, schema: .siteSync), claim: .inOrder(vouched: office.store.knowledge()))
                pages += 1
            }
            if page.exhausted { break }
            after = page.cursor
        }
        #expect(try site.store.digest() == office.store.digest())
        #expect(pages >= 3, "pages end at the seals: every 256 changes and at the end")
    }

    @Test func writingTheSameValuesAgainIssuesNoChange() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        #expect(try office.put("activity", "a1", "name=Earthworks") == nil)
        #expect(try office.store.counts().changes == 5)
    }

    @Test func fieldNodesCannotWritePlanFieldsOtherDepartmentsOrHubOwnedCollections() throws {
        let office = try TestReplica(name: "office")
        let site = try TestReplica(name: "site", role: .field, department: "roads")
        let other = try TestReplica(name: "water-site", role: .field, department: "water")
        try seedPlan(office, sendTo: [site, other])
        let before = try site.store.digest()
        #expect { try site.put("activity", "a1", "budget=1") } throws: { ($0 as? CoreError)?.code == .permissionDenied }
        #expect { try site.put("kpi", "k1", "name=x") } throws: { ($0 as? CoreError)?.code == .permissionDenied }
        #expect { try site.put("daily_log", nil, "project=p1", "date=2026-11-30", "status=approved") } throws: {
            ($0 as? CoreError)?.code == .permissionDenied
        }
        #expect { try other.put("activity", "a1", "remarks=5 %") } throws: { ($0 as? CoreError)?.code == .permissionDenied }
        #expect(try site.store.digest() == before)
        // Its own actuals are fine.
        try site.put("activity", "a1", "status=in_progress", "actual_start=2026-03-04")
        try site.put("percent_entry", nil, "activity=a1", "date=2026-03-04", "percent=40")
        #expect(try site.value("activity", "a1", "status") == .symbol("in_progress"))
        let entry = RecordID.natural(collection: "percent_entry", key: ["a1", "2026-03-04"])
        #expect(try site.value("percent_entry", entry, "percent") == .decimal(ExactDecimal(40)))
    }

    @Test func anAuditorWritesNothing() throws {
        let auditor = try TestReplica(name: "audit", role: .auditor, department: "audit")
        #expect { try auditor.put("department", "roads", "name=x") } throws: { ($0 as? CoreError)?.code == .permissionDenied }
    }

    @Test(arguments: [
        ("nosuch", "x=1", CoreError.Code.unknownCollection),
        ("activity", "colour=red", .unknownField),
        ("percent_entry", "percent=abc", .invalidValue),
        ("percent_entry", "percent=120", .invalidValue),
        ("activity", "percent_complete=40", .invalidValue),
        ("activity", "status=completed", .invalidValue),
        ("activity", "status=finished", .invalidValue),
        ("activity", "actual_start=2026-02-30", .invalidValue),
        ("activity", "actual_start=30/11/2026", .invalidValue),
        ("percent_entry", "percent=1e2", .invalidValue),
    ])
    func badValuesAreRefusedAndChangeNothing(collection: String, assignment: String, code: CoreError.Code) throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        let before = try office.store.digest()
        // A percentage is an entry of activity a1 on a day; the rest are edits of a1 itself.
        let (id, given) = collection == "percent_entry" ? (nil, ["activity=a1", "date=2026-03-04", assignment]) : ("a1", [assignment])
        #expect { try office.put(collection, id, given) } throws: { ($0 as? CoreError)?.code == code }
        #expect(try office.store.digest() == before)
        #expect(try office.store.counts().changes == 5)
    }

    @Test func appendOnlyEntriesCannotBeChangedOrDeleted() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        try office.put("quantity_entry", "q1", "activity=a1", "date=2026-11-02", "quantity=120.5")
        #expect { try office.put("quantity_entry", "q1", "quantity=99") } throws: { ($0 as? CoreError)?.code == .appendOnly }
        #expect { try office.delete("quantity_entry", "q1") } throws: { ($0 as? CoreError)?.code == .appendOnly }
    }

    @Test func referencesMustExistAndRequiredFieldsBeGiven() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        #expect { try office.put("activity", "a9", "project=nope", "name=x") } throws: { ($0 as? CoreError)?.code == .notFound }
        #expect { try office.put("activity", "a9", "name=x") } throws: { ($0 as? CoreError)?.code == .missingField }
    }

    @Test func dailyLogIdsComeFromProjectAndDateSoTwoDevicesAgree() throws {
        let office = try TestReplica(name: "office")
        let a = try TestReplica(name: "a", role: .field), b = try TestReplica(name: "b", role: .field)
        try seedPlan(office, sendTo: [a, b])
        let fromA = try #require(try a.put("daily_log", nil, "project=p1", "date=2026-11-30", "weather=sunny", "crew_count=8"))
        let fromB = try #require(try b.put("daily_log", nil, "project=p1", "date=2026-11-30", "weather=rain", "crew_count=12"))
        #expect(fromA.record == fromB.record)
        try a.send(to: b)
        try b.send(to: a)
        #expect(try a.store.digest() == b.store.digest())
        #expect(try a.value("daily_log", fromA.record.id, "crew_count") == .int(12))
        #expect { try a.put("daily_log", "wrong-id", "project=p1", "date=2026-12-01") } throws: {
            ($0 as? CoreError)?.code == .invalidRecordID
        }
    }

    @Test func immutableFieldsRefuseADifferentValue() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        #expect { try office.put("project", "p1", "code=R-999") } throws: { ($0 as? CoreError)?.code == .immutableField }
    }

    @Test func aDeletedRecordLeavesTheTypedTableAndARecreationStartsEmpty() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        try office.delete("activity", "a2")
        #expect(try office.store.records(in: Schema.siteSync.collection(named: "activity")!).map(\.key.id) == ["a1"])
        try office.put("activity", "a2", "project=p1", "name=Kerbs again")
        #expect(try office.value("activity", "a2", "budget") == .null)
        #expect(try office.value("activity", "a2", "name") == .text("Kerbs again"))
    }
}

@Suite struct SetEditTests {
    @Test func addsAndRemovesOfOneSetCombineIntoOneChange() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        try office.put("issue", "i1", "project=p1", "title=Drain", "assignees=wang,zhao", "opened_on=2026-11-01")
        let change = try #require(try office.put("issue", "i1", "assignees+=li", "assignees-=wang", "assignees+=chen"))
        guard case .upsert(let writes) = change.body else { Issue.record("not an upsert"); return }
        #expect(writes.count == 1)
        #expect(try office.value("issue", "i1", "assignees") == .set(["chen", "li", "zhao"]))
        #expect { try office.put("issue", "i1", "assignees+=li", "assignees-=li") } throws: { ($0 as? CoreError)?.code == .invalidValue }
        #expect { try office.put("issue", "i1", "assignees-=nobody") } throws: { ($0 as? CoreError)?.code == .invalidValue }
    }
}
