import Foundation
import GRDB
import Testing
@testable import SiteSyncCore
@testable import SiteSyncWire

/// A bundle's header is signed by its sender, and only the hub's word counts beyond the changes
/// a bundle carries: whoever carries a USB stick can neither speak for another node nor, under a
/// name of their own, make a receiver stop pulling, stop taking a node's pushes, or retract
/// anyone's work.
@Suite(.serialized) struct ForgedBundleTests {
    /// The replica id of `node` and the dot of its newest change, read from a bundle it exports.
    static func newest(_ cli: SiteSyncBinary, _ node: String) throws -> (replica: UInt64, counter: UInt64) {
        let file = cli.file("\(node)-all.bundle")
        try cli.ok("bundle", "export", "--data-dir", node, "--all", "--output", file)
        let bundle = try BundleCodec.read(Data(contentsOf: URL(fileURLWithPath: file)), file: file, schema: .siteSync)
        let replica = bundle.header.sender.replica
        return (replica, bundle.changes.filter { $0.origin == replica }.map(\.counter).max() ?? 0)
    }

    /// A header-only bundle claiming to come from `sender` with the role `role`, knowing
    /// `knowledge`, and saying that the hub refused `refusals`; signed by `signer`.
    static func forge(_ cli: SiteSyncBinary, _ name: String, sender: (node: String, replica: UInt64), role: String,
                      knowledge: [(UInt64, UInt64)], refusals: [(UInt64, UInt64)], signer: BundleSigner) throws -> String {
        var header = WireBundleHeader()
        header.formatVersion = BundleCodec.formatVersion
        header.protocolVersion = ProtocolVersion.current
        header.schemaVersion = Schema.siteSync.version
        header.schemaHash = Schema.siteSync.hash
        header.sender = WirePeerInfo.with { $0.node = sender.node; $0.replica = sender.replica; $0.role = role; $0.department = "office" }
        header.senderKnowledge = WireVersionVector(VersionVector(knowledge.map { (ReplicaID(rawValue: $0.0), $0.1) }))
        header.refusals = refusals.map { dot in
            WireRefusal(Refusal(dot: Dot(replica: ReplicaID(rawValue: dot.0), counter: dot.1), code: .planField, reason: "forged"))
        }
        let file = cli.file(name)
        try BundleCodec.write(Bundle(header: header, changes: []), signedBy: signer, to: file)
        return file
    }

    @Test func aForgedHeaderMovesNoKnowledgeAndRetractsNothing() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try SecurityTests.fleet(cli)
        defer { hub.process.terminate() }
        try SecurityTests.node(cli, "r2", claims: ("field", "roads"), allowed: ("field", "roads"), hub: hub)
        try cli.ok("sync", "--data-dir", "r2")
        try cli.ok("record", "put", "--data-dir", "r2", "activity", "a1", "remarks=measured by r2")
        try cli.ok("sync", "--data-dir", "r2")
        let r1 = try Self.newest(cli, "r1")
        let r2 = try Self.newest(cli, "r2")
        let hubReplica = try Self.newest(cli, "hub").replica

        // Under the hub's own name, signed by a key that is not the hub's: refused whole.
        let courier = BundleSigner.stranger(named: "hub-1")
        let impersonation = try Self.forge(cli, "impersonation.bundle", sender: ("hub-1", hubReplica), role: "hub",
                                           knowledge: [(r1.replica, 1_000_000)], refusals: [r2], signer: courier)
        for node in ["hub", "r2"] {
            let refused = try cli.fails("bundle", "import", "--data-dir", node, impersonation)
            #expect(refused.contains("is not signed by the node it names as its sender (hub-1)"), "\(refused)")
        }

        // Under a name of its own, claiming to be a hub: taken only as what it carries (nothing).
        let mallory = BundleSigner.stranger(named: "mallory")
        let claim = try Self.forge(cli, "claim.bundle", sender: ("mallory", mallory.credential.replica.rawValue), role: "hub",
                                   knowledge: [(r1.replica, 1_000_000), (r2.replica, 1_000_000)], refusals: [r2], signer: mallory)
        try cli.ok("bundle", "import", "--data-dir", "hub", claim)
        #expect(try NetworkSyncTests.hubKnowledge(cli)[ReplicaID(rawValue: r1.replica).description] ?? 0 == Int64(r1.counter))
        let ignored = try cli.ok("bundle", "import", "--data-dir", "r2", claim)
        #expect(ignored.contains("1 refusal of changes, ignored"), "\(ignored)")
        #expect(try cli.ok("record", "get", "--data-dir", "r2", "activity", "a1").contains("measured by r2"))

        // r1's next write still goes up as new, and r2 still pulls it.
        try cli.ok("record", "put", "--data-dir", "r1", "activity", "a2", "remarks=after the forgery")
        let pushed = try cli.ok("sync", "--data-dir", "r1")
        #expect(pushed.contains("pushed 1 (1 new)"), "\(pushed)")
        try cli.ok("sync", "--data-dir", "r2")
        #expect(try cli.ok("record", "get", "--data-dir", "r2", "activity", "a2").contains("after the forgery"))
        #expect(try cli.run(["status", "--data-dir", "r2"]).status == 0)
        #expect(try cli.ok("digest", "--data-dir", "r2", "--department", "roads") == cli.ok("digest", "--data-dir", "hub", "--department", "roads"))
    }
}
