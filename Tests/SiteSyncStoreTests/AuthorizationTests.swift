import Foundation
import GRDB
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// A hub with an allow-list among stores, without sockets: what an origin may write follows
/// from its key at the hub, a refused change is stored nowhere and retracted at its origin, and
/// every replica still converges and passes `audit`.
@Suite struct AuthorizationTests {
    /// A node and its key, with the role the hub allows it (its own planner may claim more).
    struct Member {
        let replica: TestReplica
        let key: NodeSecretKey
        let allowed: WriterIdentity
        let scope: ReplicationScope

        init(_ name: String, claims: (Role, String), allowed: (Role, String)) throws {
            key = NodeSecretKey.generate()
            replica = try TestReplica(name: name, role: claims.0, department: claims.1, key: key)
            self.allowed = WriterIdentity(role: allowed.0, department: allowed.1)
            scope = ReplicationScope(role: allowed.0, department: allowed.1)
        }

        var store: ReplicaStore { replica.store }
        var entry: DirectoryEntry {
            DirectoryEntry(node: store.identity.node, role: allowed.role, department: allowed.department, key: key.publicKey)
        }
    }

    static func directory(_ members: [Member]) -> Directory { Directory(members.map(\.entry)) }

    /// One sync of `from` into `to`, in pages of `size`: `to` checks what it receives with
    /// `authorizer`; `from` marks its own changes that `to` refused, as the acknowledgement says.
    @discardableResult
    static func send(_ from: Member, to: Member, authorizer: ChangeAuthorizer?, size: Int = .max,
                     refusedBy: String = "hub") throws -> [Refusal] {
        let base = try to.store.knowledge()
        var refusals: [Refusal] = []
        var after: Int64 = 0
        let vouched = KnowledgeClaim.vouched(senderKnowledge: try from.store.knowledge(), sender: from.store.identity.replica,
                                             senderScope: from.scope, cutFor: to.scope, receiverScope: to.scope)
        while true {
            let page = try from.store.page(lackedBy: base, scope: to.scope, after: after, limit: size, maxBytes: .max)
            let claim: KnowledgeClaim = page.exhausted ? .complete(vouched: vouched) : .inOrder(vouched: vouched)
            let report = try to.store.apply(CheckedBatch(page, schema: .siteSync), claim: claim, authorizer: authorizer)
            refusals += report.refusals
            if page.exhausted { break }
            after = page.cursor
        }
        try from.store.markRejected(refusals, by: refusedBy)
        return refusals
    }

    static func hubAuthorizer(_ hub: Member, _ members: [Member], for from: Member) throws -> ChangeAuthorizer {
        let page = try from.store.changes(lackedBy: VersionVector())
        let (known, unknown) = directory(members + [hub]).writers(of: page.proof.credentials + [hub.store.identity.credential])
        return ChangeAuthorizer(writers: known, unknown: unknown, authoritative: true)
    }

    @Test func theHubRefusesWhatTheKeyDoesNotAllowAndTheOriginComesBackToWhatTheHubHolds() throws {
        let hub = try Member("hub", claims: (.hub, "office"), allowed: (.hub, "office"))
        let office = try Member("office", claims: (.office, "office"), allowed: (.office, "office"))
        // Claims office of water in its own configuration; the hub knows its key as field of roads.
        let mallory = try Member("mallory", claims: (.office, "water"), allowed: (.field, "roads"))
        let site = try Member("site", claims: (.field, "roads"), allowed: (.field, "roads"))
        let members = [office, mallory, site]
        try seedPlan(office.replica, sendTo: [])
        try office.replica.put("project", "w1", "code=W-1", "name=Mains", "department=water")
        try Self.send(office, to: hub, authorizer: Self.hubAuthorizer(hub, members, for: office))
        try Self.send(hub, to: mallory, authorizer: nil)

        try mallory.replica.put("project", "w2", "code=W-2", "name=Reservoir", "department=water")
        try mallory.replica.put("project", "p1", "budget=999")
        try mallory.replica.put("activity", "a1", "actual_finish=2026-05-03", "remarks=on site")
        let log = try #require(try mallory.replica.put("daily_log", nil, "project=p1", "date=2026-11-02", "status=approved")).record.id
        try mallory.replica.put("daily_log", log, "summary=made on top of a refused creation")
        let refusals = try Self.send(mallory, to: hub, authorizer: Self.hubAuthorizer(hub, members, for: mallory))
        #expect(refusals.map(\.code) == [.forbiddenDepartment, .planField, .approval, .dependsOnRefused])
        // Each refusal is published as a record the hub signs, for the whole department to see.
        #expect(try hub.store.records(in: Schema.siteSync.collection(named: "refusal")!).count == 4)
        try Self.send(hub, to: mallory, authorizer: nil)

        // The hub holds none of it; mallory's allowed edit is in.
        #expect(try hub.store.state(of: RecordKey(collection: Schema.siteSync.collection(named: "project")!.code, id: "w2")) == nil)
        #expect(try hub.replica.value("project", "p1", "budget") == .decimal(ExactDecimal(normalizing: 120000050, scale: 2)!))
        #expect(try hub.replica.value("activity", "a1", "actual_finish") == .date(CalendarDate("2026-05-03")!))
        // Mallory keeps its refused changes as rejected, and shows what the hub holds.
        #expect(try mallory.store.rejectedChanges().count == 4)
        #expect(try mallory.replica.value("project", "p1", "budget") == .decimal(ExactDecimal(normalizing: 120000050, scale: 2)!))
        #expect(try mallory.store.state(of: RecordKey(collection: Schema.siteSync.collection(named: "project")!.code, id: "w2")) == nil)
        #expect(try mallory.store.digest(department: "roads") == hub.store.digest(department: "roads"))
        // Nothing refused is offered again.
        #expect(try Self.send(mallory, to: hub, authorizer: Self.hubAuthorizer(hub, members, for: mallory)).isEmpty)

        // Another roads node gets the holes with the changes, checks every chain, and agrees.
        try Self.send(hub, to: site, authorizer: nil, size: 2)
        #expect(try site.store.digest(department: "roads") == hub.store.digest(department: "roads"))
        #expect(try site.store.digest(department: "water") == StateDigest().finalize(), "a roads node never receives water records")
        for member in [hub, mallory, site] { #expect(try member.store.audit().broken == nil, "\(member.store.identity.node)") }
    }

    @Test func aPeerThatTookARefusedChangeRetractsItWhenTheHolesArrive() throws {
        let hub = try Member("hub", claims: (.hub, "office"), allowed: (.hub, "office"))
        let office = try Member("office", claims: (.office, "office"), allowed: (.office, "office"))
        let mallory = try Member("mallory", claims: (.office, "roads"), allowed: (.field, "roads"))
        let peer = try Member("peer", claims: (.field, "roads"), allowed: (.field, "roads"))
        try seedPlan(office.replica, sendTo: [])
        try Self.send(office, to: hub, authorizer: Self.hubAuthorizer(hub, [office, mallory, peer], for: office))
        for member in [mallory, peer] { try Self.send(hub, to: member, authorizer: nil) }
        try mallory.replica.put("activity", "a1", "budget=1", "remarks=cheaper")
        // The peer has no copy of the allow-list yet: it takes the change on its signature.
        try Self.send(mallory, to: peer, authorizer: ChangeAuthorizer(writers: [:], authoritative: false), refusedBy: "peer")
        #expect(try peer.replica.value("activity", "a1", "budget") == .decimal(ExactDecimal(1)))
        // The peer relays it to the hub, which refuses it; the hole comes back to both.
        let refusals = try Self.send(peer, to: hub, authorizer: Self.hubAuthorizer(hub, [office, mallory, peer], for: peer))
        #expect(refusals.map(\.code) == [.planField])
        for member in [peer, mallory] { try Self.send(hub, to: member, authorizer: nil) }
        for member in [peer, mallory] {
            #expect(try member.replica.value("activity", "a1", "budget") == .decimal(ExactDecimal(300000)), "\(member.store.identity.node)")
            #expect(try member.store.digest(department: "roads") == hub.store.digest(department: "roads"))
            #expect(try member.store.audit().broken == nil)
        }
    }

    /// Field nodes (some claiming more than they are allowed) write at random, sync with each
    /// other and with the hub in random order and in random page sizes; then everyone syncs
    /// with the hub: every roads replica shows what the hub holds, every refused change is
    /// retracted at its origin, and every database passes `audit`.
    @Test func refusalsConvergeUnderRandomSchedules() async {
        await seededCheck(count: 12) { seed in
            var g = SeededGenerator(seed: seed)
            let hub = try Member("hub", claims: (.hub, "office"), allowed: (.hub, "office"))
            let office = try Member("office", claims: (.office, "office"), allowed: (.office, "office"))
            let nodes = try [
                Member("honest", claims: (.field, "roads"), allowed: (.field, "roads")),
                Member("mallory", claims: (.office, "roads"), allowed: (.field, "roads")),
                Member("mixed-up", claims: (.department, "water"), allowed: (.field, "roads")),
            ]
            let members = [office] + nodes
            try seedPlan(office.replica, sendTo: [])
            try office.replica.put("project", "w1", "code=W-1", "name=Mains", "department=water")
            try Self.send(office, to: hub, authorizer: Self.hubAuthorizer(hub, members, for: office))
            for node in nodes { try Self.send(hub, to: node, authorizer: nil) }
            for _ in 0..<60 {
                let node = nodes.randomElement(using: &g)!
                let text = ["x", "y", "z"].randomElement(using: &g)!
                let n = Int.random(in: 1...4, using: &g)
                switch Int.random(in: 0..<9, using: &g) {
                case 0: _ = try? node.replica.put("activity", "a\(n % 2 + 1)", "remarks=\(text)")
                case 1: _ = try? node.replica.put("activity", "a\(n % 2 + 1)", "budget=\(n)000")
                case 2: _ = try? node.replica.put("project", "w1", "stage=execution")
                case 3: _ = try? node.replica.put("quantity_entry", nil, "activity=a1", "date=2026-11-0\(n)", "quantity=\(n)")
                case 4: _ = try? node.replica.put("project", "p1", "remarks=\(text)")
                case 5:
                    let other = nodes.randomElement(using: &g)!
                    if other.store.identity.node != node.store.identity.node {
                        try Self.send(node, to: other, authorizer: ChangeAuthorizer(writers: [:], authoritative: false),
                                      size: Int.random(in: 1...5, using: &g), refusedBy: "peer")
                    }
                case 6, 7:
                    try Self.send(node, to: hub, authorizer: Self.hubAuthorizer(hub, members, for: node), size: Int.random(in: 1...5, using: &g))
                default:
                    try Self.send(hub, to: node, authorizer: nil, size: Int.random(in: 1...5, using: &g))
                }
            }
            for _ in 0..<2 {
                for node in nodes {
                    try Self.send(node, to: hub, authorizer: Self.hubAuthorizer(hub, members, for: node))
                    try Self.send(hub, to: node, authorizer: nil)
                }
            }
            let digest = try hub.store.digest(department: "roads")
            for node in nodes {
                #expect(try node.store.digest(department: "roads") == digest, "seed \(seed): \(node.store.identity.node) differs")
                #expect(try node.store.digest(department: "water") == StateDigest().finalize(), "seed \(seed)")
            }
            for member in [hub] + nodes {
                let audit = try member.store.audit()
                #expect(audit.broken == nil, "seed \(seed): \(member.store.identity.node): \(audit.broken ?? "")")
            }
        }
    }

    @Test func auditNamesTheFirstAlteredRow() throws {
        let office = try TestReplica(name: "office")
        try seedPlan(office, sendTo: [])
        try office.put("activity", "a1", "remarks=first", "actual_finish=2026-05-11")
        #expect(try office.store.audit().broken == nil)
        #expect(try office.store.audit().entries == 6)

        func altered(_ sql: String) throws -> String? {
            let copy = TemporaryDirectory()
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: office.store.path + suffix) {
                try FileManager.default.copyItem(atPath: office.store.path + suffix, toPath: copy.file("sitesync.db" + suffix))
            }
            let queue = try DatabaseQueue(path: copy.file("sitesync.db"))
            try queue.write { try $0.execute(sql: sql) }
            try queue.close()
            return try ReplicaStore.open(at: copy.file("sitesync.db")).audit().broken
        }
        #expect(try altered("UPDATE activity SET remarks = 'second' WHERE id = 'a1'")?.contains("row in table activity") == true)
        #expect(try altered("UPDATE sync_change SET payload = payload || x'00' WHERE counter = 3")?.contains("broken link") == true)
        #expect(try altered("DELETE FROM sync_change WHERE counter = 4")?.contains("broken link") == true)
        #expect(try altered("DELETE FROM sync_change WHERE counter = 6") != nil)
        #expect(try altered("UPDATE sync_seal SET signature = zeroblob(64) WHERE counter = 2")?.contains("seal") == true)
        #expect(try altered("UPDATE activity SET sync_state = (SELECT sync_state FROM activity WHERE id = 'a2') WHERE id = 'a1'") != nil)
        #expect(try altered("UPDATE sync_record SET state = (SELECT sync_state FROM activity WHERE id = 'a1') WHERE record_id = 'a1'")?
            .contains("sync_record holds a state") == true)
        #expect(try altered("DELETE FROM activity WHERE id = 'a1'")?.contains("row in table activity is missing") == true)
        #expect(try altered("INSERT INTO activity (id, department, project, name) VALUES ('ghost', 'roads', 'p1', 'Ghost')") != nil)
    }
}
