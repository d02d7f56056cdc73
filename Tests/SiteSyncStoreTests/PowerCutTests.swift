import CPowerCut
import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore

/// A power cut loses what the disk had not synced. Under a VFS that keeps only what each file
/// held at its last sync (Tests/CPowerCut), a store with `durability = full` keeps every write
/// whose commit returned, and its counter, so no change id is issued twice
/// (docs/design.md §10.2). This test found that GRDB turns `synchronous` to NORMAL
/// when it enables WAL, after our own setting: see `ReplicaStore.makePool`.
@Suite struct PowerCutTests {
    static let installed: Bool = sitesync_powercut_install() == 0

    /// The files of `directory` as the disk holds them after a power cut now, in a new directory.
    static func cut(_ directory: TemporaryDirectory) throws -> TemporaryDirectory {
        let after = TemporaryDirectory()
        let written = sitesync_powercut_snapshot(directory.path + "/", after.path)
        guard written > 0 else { throw PowerCutError("no file of \(directory.path) was ever synced") }
        return after
    }

    struct PowerCutError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static func open(_ directory: TemporaryDirectory, key: NodeSecretKey, durability: StoreOptions.Durability) throws -> ReplicaStore {
        try ReplicaStore.open(at: directory.file("sitesync.db"), options: StoreOptions(durability: durability, signer: key))
    }

    /// Writes one at a time, cutting the power after a random number of them; returns the ids of
    /// the writes acknowledged before the cut and the store as it comes back.
    static func writeThenCut(seed: UInt64, durability: StoreOptions.Durability) throws -> (acknowledged: [String], after: ReplicaStore) {
        #expect(installed)
        var g = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        sitesync_powercut_watch(directory.path + "/")
        let key = NodeSecretKey.generate()
        let store = try ReplicaStore.create(at: directory.file("sitesync.db"), node: "site", key: key,
                                            options: StoreOptions(durability: durability, signer: key))
        let planner = LocalWritePlanner(schema: .siteSync, writer: WriterIdentity(role: .office, department: "roads"))
        func put(_ collection: String, _ id: String, _ fields: String...) throws {
            let parsed = try fields.map { try FieldAssignment(parsing: $0) }
            try store.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
        }
        try put("department", "roads", "name=Roads")
        try put("project", "p1", "code=R-001", "name=Ring road", "department=roads")
        var acknowledged: [String] = []
        let count = Int.random(in: 5...60, using: &g)
        for n in 0..<count {
            try put("activity", "a\(n)", "project=p1", "name=Activity \(n)")
            acknowledged.append("a\(n)")
        }
        let after = try cut(directory)
        // The store written to is abandoned as a crashed process would leave it.
        withExtendedLifetime(store) {}
        return (acknowledged, try open(after, key: key, durability: durability))
    }

    @Test func anAcknowledgedWriteSurvivesAPowerCut() async throws {
        for seed in UInt64(1)...6 {
            let (acknowledged, after) = try Self.writeThenCut(seed: seed, durability: .full)
            #expect(try after.integrityCheck() == ["ok"], "seed \(seed)")
            let held = Set(try after.rows([("SELECT id FROM activity", [])])[0].compactMap { $0[0] })
            let lost = acknowledged.filter { !held.contains($0) }
            #expect(lost.isEmpty, "seed \(seed): acknowledged writes lost in the cut: \(lost)")
            // Its counter goes on from where it was: the next write takes a new change id.
            let me = after.identity.replica
            let counter = try after.knowledge()[me]
            #expect(counter == UInt64(acknowledged.count + 2), "seed \(seed)")
        }
    }

    /// The model has teeth: without syncs (`durability = off`), a cut loses acknowledged writes.
    @Test func withoutSyncsAPowerCutLosesAcknowledgedWrites() throws {
        #expect(Self.installed)
        let directory = TemporaryDirectory()
        sitesync_powercut_watch(directory.path + "/")
        let key = NodeSecretKey.generate()
        let store = try ReplicaStore.create(at: directory.file("sitesync.db"), node: "site", key: key,
                                            options: StoreOptions(durability: .full, signer: key))
        let unsynced = try ReplicaStore.open(at: directory.file("sitesync.db"), options: StoreOptions(durability: .off, signer: key))
        let planner = LocalWritePlanner(schema: .siteSync, writer: WriterIdentity(role: .office, department: "roads"))
        for (collection, id, fields) in [("department", "roads", ["name=Roads"]), ("project", "p9", ["code=R-9", "name=Lost", "department=roads"])] {
            let parsed = try fields.map { try FieldAssignment(parsing: $0) }
            try unsynced.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
        }
        let after = try Self.cut(directory)
        withExtendedLifetime((store, unsynced)) {}
        let reopened = try Self.open(after, key: key, durability: .full)
        let projects = try reopened.rows([("SELECT count(*) FROM project", [])])[0].first?[0] ?? nil
        #expect(projects == "0", "the unsynced, acknowledged write survived: the model would catch nothing")
    }
}
