import Foundation
import GRDB
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

@Suite struct ApplyTests {
    @Test func reapplyingKnownChangesIsANoOp() throws {
        let office = try TestReplica(name: "office"), site = try TestReplica(name: "site", role: .field)
        try seedPlan(office, sendTo: [])
        let batch = try office.changes(lackedBy: VersionVector())
        #expect(try site.store.apply(batch) == ApplyReport(applied: 5, alreadyKnown: 0))
        let digest = try site.store.digest()
        #expect(try site.store.apply(batch) == ApplyReport(applied: 0, alreadyKnown: 5))
        #expect(try site.store.digest() == digest)
        #expect(try site.store.counts().changes == 5)
    }

    @Test func aBatchOutOfOrderIsRefusedWhole() throws {
        let office = try TestReplica(name: "office"), site = try TestReplica(name: "site")
        try seedPlan(office, sendTo: [])
        let batch = try office.changes(lackedBy: VersionVector())
        let digest = try site.store.digest()
        let reversed = try CheckedBatch(changes: batch.changes.reversed(), proof: batch.proof)
        #expect { try site.store.apply(reversed) } throws: { ($0 as? StoreError)?.code == .rejectedChange }
        // A change sent without those before it in its chain does not even check out.
        try office.put("activity", "a1", "actual_finish=2026-05-11")
        let update = try office.changes(lackedBy: VersionVector([(office.store.identity.replica, UInt64(5))]))
        #expect(update.changes.count == 1)
        #expect { try CheckedBatch(changes: Array(batch.changes.prefix(3)) + update.changes, proof: update.proof) }
            throws: { ($0 as? StoreError)?.code == .tampered }
        #expect(try site.store.digest() == digest)
        #expect(try site.store.counts().changes == 0)
        #expect(try site.store.knowledge().isEmpty)
    }

    /// A relay keeps every seal it receives, so it can pass a long run on in batches smaller
    /// than the one it came in (its receivers may accept fewer changes than its sender sent).
    @Test func aRelayCutsPagesWhereTheOriginSealedNotOnlyWhereItReceivedThem() throws {
        let office = try TestReplica(name: "office"), hub = try TestReplica(name: "hub", role: .hub)
        try office.store.writeLocally { session in
            for n in 0..<600 {
                let name = try FieldAssignment(parsing: "name=Department \(n)")
                try session.write { try office.planner.planUpsert(collection: "department", id: "d\(n)", assignments: [name], reader: $0) }
            }
        }
        try office.send(to: hub)
        let pages = try hub.batches(lackedBy: VersionVector(), size: 300)
        #expect(pages.map(\.changes.count) == [256, 256, 88], "sealed every 256 changes and at the end of the transaction")
        let site = try TestReplica(name: "site", role: .office)
        for page in pages { try site.store.apply(page, claim: .inOrder(vouched: hub.store.knowledge())) }
        #expect(try site.store.digest() == office.store.digest())
    }

    /// An origin seals every transaction; a page carries only the seals a relay needs (one at
    /// least every 256 changes, and the last), not ~100 bytes per transaction.
    @Test func aPageCarriesTheSealsARelayNeedsNotEveryOne() throws {
        let office = try TestReplica(name: "office"), hub = try TestReplica(name: "hub", role: .hub)
        for n in 0..<600 { try office.put("department", "d\(n)", "name=Department \(n)") }
        let batch = try office.changes(lackedBy: VersionVector())
        #expect(batch.changes.count == 600 && (2...4).contains(batch.proof.seals.count), "\(batch.proof.seals.count) seals")
        try office.send(to: hub)
        let pages = try hub.batches(lackedBy: VersionVector(), size: 300)
        #expect(pages.allSatisfy { $0.changes.count <= 300 } && pages.reduce(0) { $0 + $1.changes.count } == 600)
        let site = try TestReplica(name: "site", role: .office)
        for page in pages { try site.store.apply(page, claim: .inOrder(vouched: hub.store.knowledge())) }
        #expect(try site.store.digest() == office.store.digest())
    }

    @Test func knowledgeRisesOnlyAsFarAsTheSenderVouchesFor() throws {
        let office = try TestReplica(name: "office"), site = try TestReplica(name: "site")
        try seedPlan(office, sendTo: [])
        let batch = try office.changes(lackedBy: VersionVector())
        let me = office.store.identity.replica
        let pages = try office.batches(lackedBy: VersionVector(), size: 2)
        #expect(pages.map(\.changes.count) == [2, 2, 1])
        try site.store.apply(pages[0], claim: .inOrder(vouched: office.store.knowledge()))
        #expect(try site.store.knowledge()[me] == 2)
        // Within one chain (roads: 3, 4, 5) a segment may not skip what the receiver lacks
        // (protocol §16.4): change 5 alone, after 4, is refused.
        #expect(throws: StoreError.self) { try site.store.apply(pages[2], claim: .none) }
        // Across chains it may: change 6 begins the chain of water, while 3 to 5 (roads) are
        // not held yet. No one's word: 6 is held, but past a gap, so knowledge stays at 2.
        try office.put("project", "w1", "code=W-1", "name=Mains", "department=water")
        let water = try CheckedBatch(office.store.page(lackedBy: site.store.knowledge(), scope: .department("water"), after: 0,
                                                      limit: .max, maxBytes: .max), schema: .siteSync)
        #expect(water.changes.map(\.change.dot.counter) == [6])
        try site.store.apply(water, claim: .none)
        #expect(try site.store.knowledge()[me] == 2, "no claim: held, but past a gap")
        // Once the gap is filled, the changes held in an unbroken run prove themselves.
        try site.store.apply(pages[1], claim: .none)
        try site.store.apply(pages[2], claim: .none)
        #expect(try site.store.knowledge()[me] == 6, "the run 1…6 is held")
        // Offered again (as a hub would), the changes are recognised as held.
        #expect(try site.store.apply(batch, claim: .complete(vouched: office.store.knowledge())).applied == 0)
        #expect(try site.store.knowledge()[me] == 6)
    }

    @Test func anEditConcurrentWithADeleteWinsAndTheDeleteIsLogged() throws {
        let office = try TestReplica(name: "office"), site = try TestReplica(name: "site", role: .field)
        try seedPlan(office, sendTo: [site])
        try office.delete("activity", "a1")
        try site.put("activity", "a1", "actual_finish=2026-05-05")
        try office.send(to: site)
        try site.send(to: office)
        #expect(try office.store.digest() == site.store.digest())
        #expect(try office.value("activity", "a1", "actual_finish") == .date(CalendarDate("2026-05-05")!))
        #expect(try office.value("activity", "a1", "name") == .text("Earthworks"))
        let logged = try office.store.conflicts(activeOnly: true)
        #expect(logged.contains { $0.recordID == "a1" && $0.rule == "delete" })
    }

    @Test func theConflictLogKeepsAutoResolutionsAndOpenConflictsUntilResolved() throws {
        let office = try TestReplica(name: "office"), site = try TestReplica(name: "site", role: .field)
        try seedPlan(office, sendTo: [site])
        try office.put("activity", "a1", "remarks=office view")
        try site.put("activity", "a1", "remarks=site view", "actual_finish=2026-07-01")
        try office.put("activity", "a1", "actual_finish=2026-07-02")
        try office.send(to: site)
        try site.send(to: office)
        for replica in [office, site] {
            let open = try replica.store.conflicts(status: "open", activeOnly: true)
            #expect(open.map(\.field) == ["remarks"])
            #expect(open.first?.versions.count == 2)
            let auto = try replica.store.conflicts(status: "auto", activeOnly: true)
            #expect(auto.map(\.field) == ["actual_finish"])
        }
        try site.resolve("activity", "a1", "remarks", "agreed view")
        try site.send(to: office)
        for replica in [office, site] {
            #expect(try replica.store.conflicts(status: "open", activeOnly: true).isEmpty)
            #expect(try replica.store.conflicts(status: "resolved").map(\.field) == ["remarks"])
            #expect(try replica.value("activity", "a1", "remarks") == .text("agreed view"))
        }
        #expect(try office.store.digest() == site.store.digest())
    }

    @Test func exportLinesHashToTheDigest() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        var bytes: [UInt8] = []
        try office.store.exportLines { line in
            line.write(to: &bytes)
            bytes.append(0x0A)
        }
        #expect(SHA256Hex.digest(of: bytes) == (try office.store.digest()))
        #expect(try office.store.digest().count == 64)
    }

    /// An applied change that leaves an activity's project as it was does not set the indexed
    /// `project` column (SQLite rewrites an index entry for every indexed column an UPDATE
    /// sets, even to its own value: a page per change that a plain upsert writes); one whose
    /// change moves the visible project does, and the index then finds it under that project.
    @Test func anUpdateLeavingTheParentAsItWasLeavesItsIndexAlone() throws {
        let office = try TestReplica(name: "office"), site = try TestReplica(name: "site")
        try seedPlan(office, sendTo: [site])
        // Counts the updates of the typed row that set `project` (fired whatever the value).
        try site.store.pool.write { db in
            try db.execute(sql: """
                CREATE TABLE probe (id TEXT NOT NULL);
                CREATE TRIGGER probe_project AFTER UPDATE OF project ON activity BEGIN INSERT INTO probe VALUES (new.id); END;
                """)
        }
        let probed = { try site.store.rows([("SELECT id FROM probe", [])])[0].map { $0[0] ?? "" } }
        try office.put("activity", "a1", "remarks=on site")
        try office.put("activity", "a2", "remarks=kerbs laid", "budget=90000")
        try office.send(to: site)
        #expect(try probed() == [], "the project was set again though it did not change")
        #expect(try site.value("activity", "a1", "remarks") == .text("on site"))
        // Another office creates a1 under another project at the same time: the visible project
        // may move, and the index goes with it.
        let other = try TestReplica(name: "office-2", clock: { 1_700_000_009_000 })
        try other.put("department", "roads", "name=Roads Bureau")
        try other.put("project", "p2", "code=R-002", "name=Bypass", "department=roads")
        try other.put("activity", "a1", "project=p2", "name=Earthworks")
        try other.send(to: site)
        let visible = try site.value("activity", "a1", "project")
        #expect(try probed() == (visible == .ref("p2") ? ["a1"] : []))
        let found = try site.store.rows([("SELECT id FROM activity INDEXED BY activity_by_project WHERE project = ? ORDER BY id",
                                          [visible.displayText]), ("PRAGMA integrity_check", [])])
        #expect(found[0].contains(["a1"]) && found[1] == [["ok"]], "\(found)")
    }

    @Test func aDepartmentDigestMatchesBetweenAFieldNodeAndTheFullReplica() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        try office.put("project", "p2", "code=W-001", "name=Mains", "department=water")
        let site = try TestReplica(name: "site", role: .field, department: "roads")
        try site.store.apply(office.changes(lackedBy: VersionVector(), scope: .department("roads")))
        #expect(try site.store.digest(department: "roads") == office.store.digest(department: "roads"))
        #expect(try site.store.digest() != office.store.digest())
    }
}

/// How much page cache a store's connections may hold.
@Suite struct PageCacheTests {
    /// A listener (the hub) caps every connection at 2 MiB, so that its memory does not grow
    /// with its database; other commands keep the writer's 64 MiB for bulk applies.
    @Test func aListenersConnectionsHoldTwoMebibytesAndOtherStoresTheDefaults() throws {
        let directory = TemporaryDirectory()
        for (name, options, writer, reader) in [("listener", StoreOptions.listener, -2048, -2048),
                                                ("default", StoreOptions(), -65536, -8192)] {
            let store = try ReplicaStore.create(at: directory.file("\(name).db"), node: name, key: .generate(), options: options)
            #expect(try store.pool.write { try Int.fetchOne($0, sql: "PRAGMA cache_size") } == writer, "\(name)")
            #expect(try store.pool.read { try Int.fetchOne($0, sql: "PRAGMA cache_size") } == reader, "\(name)")
            // A savepoint's copies of the pages it touches stay in memory, not in a temporary file.
            #expect(try store.pool.write { try Int.fetchOne($0, sql: "PRAGMA temp_store") } == 2, "\(name)")
        }
    }
}
