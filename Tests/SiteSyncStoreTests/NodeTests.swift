import Foundation
import GRDB
import Testing
@testable import SiteSyncCore
@testable import SiteSyncNode
@testable import SiteSyncStore
@testable import SiteSyncWire

/// Nodes (data directories) and change bundles.
@Suite struct NodeTests {
    let root = TemporaryDirectory()

    func node(_ name: String, role: Role = .field, department: String = "roads") throws -> Node {
        try Node.initialize(at: root.file(name), configuration: NodeConfiguration(name: name, department: department, role: role,
                                                                                   durability: .off))
    }

    func put(_ node: Node, _ collection: String, _ id: String?, _ assignments: String...) throws {
        let parsed = try assignments.map { try FieldAssignment(parsing: $0) }
        let planner = node.planner
        try node.store.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
    }

    func plan(_ office: Node) throws {
        try put(office, "department", "roads", "name=Roads")
        try put(office, "project", "p1", "code=R-1", "name=Ring road", "department=roads")
        try put(office, "activity", "a1", "project=p1", "name=Earthworks")
    }

    @Test func bundlesCarryChangesBothWaysAndImportingTwiceIsHarmless() throws {
        let office = try node("office", role: .office, department: "office"), site = try node("site-a")
        try plan(office)
        let first = try office.exportBundle(to: root.file("o1.bundle"), for: .node("site-a"))
        #expect(first.changes == 3)
        #expect(first.note != nil, "nothing known of site-a yet")
        let imported = try site.importBundle(from: root.file("o1.bundle"))
        // The office is not the hub: its claims are not taken, but the changes held prove themselves.
        #expect((imported.newChanges, imported.alreadyKnown, imported.knowledgeAdopted) == (3, 0, false))
        #expect(try site.store.knowledge()[office.store.identity.replica] == 3)
        let again = try site.importBundle(from: root.file("o1.bundle"))
        #expect((again.newChanges, again.alreadyKnown) == (0, 3))
        // The site now knows what the office holds: its answer holds only its own change.
        try put(site, "activity", "a1", "actual_finish=2026-05-03")
        let answer = try site.exportBundle(to: root.file("s1.bundle"), for: .node("office"))
        #expect(answer.changes == 1)
        let back = try office.importBundle(from: root.file("s1.bundle"))
        #expect(back.newChanges == 1)
        #expect(!back.knowledgeAdopted, "a field site's view does not cover the office's scope")
        #expect(try office.store.digest() == site.store.digest())
        // And the office, having heard from the site, sends it nothing it already has...
        #expect(try office.exportBundle(to: root.file("o2.bundle"), for: .node("site-a")).changes == 0)
        // ...and once the site hears back, it does not resend its own changes either: a
        // replica vouches for its own changes even where its view is narrower.
        _ = try site.importBundle(from: root.file("o2.bundle"))
        #expect(try site.exportBundle(to: root.file("s2.bundle"), for: .node("office")).changes == 0)
    }

    @Test func aTruncatedCorruptedOrForeignBundleIsRefusedAndChangesNothing() throws {
        let office = try node("office", role: .office, department: "office"), site = try node("site-a")
        try plan(office)
        let path = root.file("good.bundle")
        _ = try office.exportBundle(to: path, for: .all)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        let digest = try site.store.digest()
        var flipped = good
        flipped[good.count / 2] ^= 0x40
        let cases: [(String, Data, WireError.Code)] = [
            ("truncated", good.prefix(good.count - 7), .corrupted),
            ("flipped", flipped, .corrupted),
            ("foreign", Data("PK\u{3}\u{4} this is a zip file".utf8), .foreign),
            ("empty", Data(), .foreign),
        ]
        for (name, data, code) in cases {
            let file = root.file(name + ".bundle")
            try data.write(to: URL(fileURLWithPath: file))
            #expect(throws: WireError.self, "\(name)") {
                do { _ = try site.importBundle(from: file) } catch let error as WireError {
                    #expect(error.code == code, "\(name)")
                    throw error
                }
            }
        }
        #expect(try site.store.digest() == digest)
        #expect(try site.store.counts().changes == 0)
    }

    @Test func aBundleFromAnotherSchemaIsRefusedNamingBothVersions() throws {
        let site = try node("site-a")
        var header = WireBundleHeader()
        header.formatVersion = BundleCodec.formatVersion
        header.protocolVersion = ProtocolVersion.current
        header.schemaVersion = 99
        header.schemaHash = String(repeating: "ab", count: 32)
        let key = NodeSecretKey.generate()
        let signer = BundleSigner(credential: .issue(node: "future", signingKey: key.publicKey.signing), key: key)
        header.sender = WirePeerInfo.with { $0.node = "future"; $0.replica = signer.credential.replica.rawValue; $0.role = "office" }
        let file = root.file("future.bundle")
        try BundleCodec.write(Bundle(header: header, changes: []), signedBy: signer, to: file)
        do {
            _ = try site.importBundle(from: file)
            Issue.record("a bundle of schema 99 was accepted")
        } catch let error as WireError {
            #expect(error.code == .incompatible)
            #expect(error.message.contains("99") && error.message.contains("\(Schema.siteSync.version)"))
        }
    }

    @Test func aBundleThatContinuesFromChangesNotHeldIsRefused() throws {
        let office = try node("office", role: .office, department: "office")
        let site = try node("site-a"), other = try node("site-b")
        try plan(office)
        _ = try office.exportBundle(to: root.file("all.bundle"), for: .all)
        _ = try site.importBundle(from: root.file("all.bundle"))
        // The office learns site-a's knowledge, then cuts an incremental bundle for it...
        _ = try site.exportBundle(to: root.file("ack.bundle"), for: .node("office"))
        _ = try office.importBundle(from: root.file("ack.bundle"))
        try put(office, "activity", "a1", "name=Earthworks, phase 2")
        _ = try office.exportBundle(to: root.file("delta.bundle"), for: .node("site-a"))
        // ...which site-b, lacking the earlier changes, must not take.
        #expect { try other.importBundle(from: root.file("delta.bundle")) } throws: { ($0 as? NodeError)?.code == .bundle }
        #expect(try other.store.counts().changes == 0)
        #expect(try site.importBundle(from: root.file("delta.bundle")).newChanges == 1)
    }

    @Test func initRefusesAnExistingNodeAndOpenExplainsAMissingOrForeignDirectory() throws {
        _ = try node("site-a")
        #expect { try node("site-a") } throws: { ($0 as? NodeError)?.code == .alreadyInitialized }
        #expect { try Node.open(at: root.file("nowhere")) } throws: { ($0 as? NodeError)?.code == .notANode }
        try FileManager.default.createDirectory(atPath: root.file("plain"), withIntermediateDirectories: true)
        #expect { try Node.open(at: root.file("plain")) } throws: { ($0 as? NodeError)?.code == .notANode }
    }

    @Test func configurationErrorsNameTheFileLineAndKey() throws {
        _ = try node("site-a")
        let config = root.file("site-a/node.toml")
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(of: "role = \"field\"", with: "role = \"foreman\"")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        do {
            _ = try Node.open(at: root.file("site-a"))
            Issue.record("a bad role was accepted")
        } catch let error as NodeError {
            #expect(error.code == .configuration)
            #expect(error.message.contains("node.toml:10:") && error.message.contains("role") && error.message.contains("foreman"))
        }
        // An environment override replaces the file's value.
        #expect(try Node.open(at: root.file("site-a"), environment: ["SITESYNC_NODE_ROLE": "field"]).configuration.role == .field)
        #expect { try Node.open(at: root.file("site-a"), environment: ["SITESYNC_STORAGE_DURABILITY": "sometimes", "SITESYNC_NODE_ROLE": "field"]) }
            throws: { ($0 as? NodeError)?.message.contains("SITESYNC_STORAGE_DURABILITY") == true }
    }

    @Test func aDatabaseFromANewerSchemaIsRefused() throws {
        let site = try node("site-a")
        let path = site.store.path
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: "UPDATE sync_meta SET value = '999' WHERE key = 'schema_version'") }
        #expect { try Node.open(at: root.file("site-a")) } throws: { ($0 as? StoreError)?.code == .newerSchema }
    }

    @Test func aFileThatIsNotSQLiteIsRefused() throws {
        _ = try node("site-a")
        try Data("not a database at all, just text that is long enough to be read".utf8)
            .write(to: URL(fileURLWithPath: root.file("site-a/sitesync.db")))
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: root.file("site-a/sitesync.db" + suffix)) }
        #expect { try Node.open(at: root.file("site-a")) } throws: { error in
            guard let error = error as? StoreError else { return false }
            return error.code == .notSiteSync || error.code == .corrupt
        }
    }
}
