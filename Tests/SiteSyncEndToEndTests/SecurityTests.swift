import Foundation
import GRDB
import Testing
@testable import SiteSyncCore
@testable import SiteSyncNet
@testable import SiteSyncWire

/// Real `sitesync` processes over CURVE on loopback: who may connect, write and read follows
/// from keys at the hub; forged, tampered or revoked material gets nowhere.
@Suite(.serialized) struct SecurityTests {
    /// A secure hub (CURVE, allow-list) on a free loopback port.
    struct Hub {
        let process: BackgroundProcess
        let endpoint: String
        let key: String
    }

    static func startHub(_ cli: SiteSyncBinary) throws -> Hub {
        try cli.ok("init", "--data-dir", "hub", "--node", "hub-1", "--department", "office", "--role", "hub", "--listen", "tcp://127.0.0.1:*")
        let key = try cli.ok("keys", "show", "--data-dir", "hub").trimmingCharacters(in: .whitespacesAndNewlines)
        let process = try BackgroundProcess(cli, ["serve", "--data-dir", "hub"])
        return Hub(process: process, endpoint: try process.waitForLine("listening on "), key: key)
    }

    /// A node that trusts the hub's key; allowed at the hub as `allowed` (role, department) when given.
    @discardableResult
    static func node(_ cli: SiteSyncBinary, _ name: String, claims: (String, String), allowed: (String, String)?, hub: Hub) throws -> String {
        try cli.ok("init", "--data-dir", name, "--node", name, "--department", claims.1, "--role", claims.0, "--hub", hub.endpoint,
                   "--hub-key", hub.key)
        let key = try cli.ok("keys", "show", "--data-dir", name).trimmingCharacters(in: .whitespacesAndNewlines)
        if let allowed {
            try cli.ok("keys", "allow", "--data-dir", "hub", "--node", name, "--department", allowed.1, "--role", allowed.0, "--key", key)
        }
        return key
    }

    /// The hub with an office that wrote the plan of two departments, and an honest roads site.
    static func fleet(_ cli: SiteSyncBinary) throws -> Hub {
        let hub = try startHub(cli)
        try node(cli, "office", claims: ("office", "office"), allowed: ("office", "office"), hub: hub)
        try NetworkSyncTests.plan(cli, office: "office")
        try cli.ok("sync", "--data-dir", "office")
        try node(cli, "r1", claims: ("field", "roads"), allowed: ("field", "roads"), hub: hub)
        try cli.ok("sync", "--data-dir", "r1")
        return hub
    }

    static let emptyDigest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    @Test func anUnknownKeyGetsNothingAndAClearErrorWithinSeconds() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try Self.fleet(cli)
        defer { hub.process.terminate() }
        let key = try Self.node(cli, "stranger", claims: ("field", "roads"), allowed: nil, hub: hub)
        try cli.ok("bundle", "export", "--data-dir", "r1", "--all", "--output", cli.file("plan.bundle"))
        try cli.ok("bundle", "import", "--data-dir", "stranger", cli.file("plan.bundle"))
        let before = try cli.digest("hub")
        try cli.ok("record", "put", "--data-dir", "stranger", "daily_log", "new", "project=p1", "date=2026-11-30", "weather=sunny")
        let started = Date()
        let error = try cli.fails("sync", "--data-dir", "stranger")
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(error.contains("the hub refused this node's key"), "\(error)")
        #expect(error.contains("sitesync keys allow --data-dir HUB --node stranger") && error.contains(key))
        #expect(try cli.digest("hub") == before)
        #expect(try cli.digest("stranger") != before, "the hub took nothing from the stranger")
        #expect(hub.process.stderr.contains("refused a key not on the allow-list"))
        #expect(!hub.process.stderr.contains("sync with stranger"))
    }

    @Test func aPlaintextClientAndARandomCurveKeyGetNoAnswer() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try Self.fleet(cli)
        defer { hub.process.terminate() }
        // A node set to plaintext is told that the two sides disagree.
        try cli.ok("init", "--data-dir", "plain", "--node", "plain", "--department", "roads", "--hub", hub.endpoint, "--insecure")
        let plain = try cli.fails("sync", "--data-dir", "plain")
        #expect(plain.contains("uses CURVE but this node is set to plaintext"), "\(plain)")
        // Raw sockets: plaintext, and CURVE with a random key; both send a valid Hello.
        let context = try ZMQContext()
        let plaintext = try ZMQSocket(context, .dealer)
        let random = try ZMQSocket(context, .dealer)
        defer { plaintext.close(); random.close() }
        // Linger 0, or the hellos that never get through would hold the context open forever.
        try SocketOptions.client(plaintext)
        try SocketOptions.client(random)
        try SocketOptions.curveClient(random, key: .generate(), serverKey: NodePublicKey(text: hub.key)!)
        let hello = SyncFrames.encode(.hello(SyncMessage.Hello(
            versions: SyncClient.versions, peer: PeerIdentity(node: "r1", replica: ReplicaID(rawValue: 9), role: .office, department: "roads"),
            knowledge: VersionVector(), session: 1, limits: SessionLimits())))
        for socket in [plaintext, random] {
            try socket.connect(hub.endpoint)
            _ = try socket.send(hello, dontWait: true)
        }
        let deadline = Date().addingTimeInterval(3)
        var answers = 0
        while Date() < deadline {
            for socket in [plaintext, random] where try socket.receive() != nil { answers += 1 }
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(answers == 0)
        #expect(!hub.process.stderr.contains("bad message"), "nothing of theirs reached the application")
        #expect(hub.process.stderr.contains("refused a key not on the allow-list"))
    }

    /// mallory's node.toml says office of water; the hub knows its key as field of roads.
    @Test func whatANodeMayWriteAndReceiveFollowsItsKeyNotItsConfiguration() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try Self.fleet(cli)
        defer { hub.process.terminate() }
        try Self.node(cli, "mallory", claims: ("office", "water"), allowed: ("field", "roads"), hub: hub)
        // The plan reaches it by hand (a bundle of what r1 holds), so its own checks see office of water.
        try cli.ok("bundle", "export", "--data-dir", "r1", "--all", "--output", cli.file("plan.bundle"))
        try cli.ok("bundle", "import", "--data-dir", "mallory", cli.file("plan.bundle"))
        try cli.ok("record", "put", "--data-dir", "mallory", "project", "w9", "code=W-9", "name=Reservoir", "department=water")
        try cli.ok("record", "put", "--data-dir", "mallory", "project", "p1", "budget=999999")
        try cli.ok("record", "put", "--data-dir", "mallory", "activity", "a1", "remarks=checked on site")
        let hubBudget = try cli.ok("record", "get", "--data-dir", "hub", "project", "p1")
        let synced = try cli.ok("sync", "--data-dir", "mallory")
        #expect(synced.contains("2 refused"), "\(synced)")
        #expect(synced.contains("forbidden-department") && synced.contains("plan-field"))
        // The hub stores neither, and took the allowed edit.
        #expect(try cli.run(["record", "get", "--data-dir", "hub", "project", "w9"]).status != 0)
        #expect(try cli.ok("record", "get", "--data-dir", "hub", "project", "p1") == hubBudget)
        #expect(try cli.ok("record", "get", "--data-dir", "hub", "activity", "a1").contains("checked on site"))
        // mallory shows both as rejected, keeps them, and now shows what the hub holds.
        let rejected = try #require(try cli.json("conflicts", "--rejected", "--json", "--data-dir", "mallory") as? [[String: Any]])
        #expect(Set(rejected.compactMap { $0["code"] as? String }) == ["forbidden-department", "plan-field"])
        #expect(Set(rejected.compactMap { $0["refused_by"] as? String }) == ["hub-1"])
        #expect(try cli.run(["record", "get", "--data-dir", "mallory", "project", "w9"]).status != 0)
        #expect(try cli.ok("record", "get", "--data-dir", "mallory", "project", "p1") == hubBudget)
        // It receives only roads (and shared) records, whatever it claims; nothing is offered again.
        #expect(try cli.ok("digest", "--data-dir", "mallory", "--department", "water").trimmingCharacters(in: .newlines) == Self.emptyDigest)
        #expect(try cli.ok("digest", "--data-dir", "mallory", "--department", "roads")
                == cli.ok("digest", "--data-dir", "hub", "--department", "roads"))
        #expect(try cli.ok("sync", "--data-dir", "mallory").contains("pushed 0 (0 new)"))
        // From now on its own checks use the role the hub gave it.
        #expect(try cli.fails("record", "put", "--data-dir", "mallory", "project", "p1", "budget=1").contains("plan field"))
        // A roads node never receives a water record.
        try cli.ok("sync", "--data-dir", "r1")
        #expect(try cli.ok("digest", "--data-dir", "r1", "--department", "water").trimmingCharacters(in: .newlines) == Self.emptyDigest)
        #expect(try cli.ok("record", "list", "--data-dir", "r1", "project").contains("p1"))
        #expect(try !cli.ok("record", "list", "--data-dir", "r1", "project").contains("p2"))
        #expect(try cli.ok("record", "list", "--json", "--data-dir", "r1", "refusal").contains("plan-field"), "refusals reach the department")
        // Secret keys never appear in a log.
        for node in ["hub", "mallory", "r1"] {
            let secrets = try String(contentsOfFile: cli.file("\(node)/node.key"), encoding: .utf8)
                .split(separator: "\n").filter { $0.contains("secret =") }.map { String($0.split(separator: "\"")[1]) }
            for secret in secrets { #expect(!hub.process.stderr.contains(secret) && !synced.contains(secret)) }
        }
        for node in ["hub", "mallory", "r1"] { #expect(try cli.ok("audit", "verify", "--data-dir", node).hasPrefix("ok:")) }
    }

    @Test func anAuditorsWriteIsRefusedAndItReadsEverything() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try Self.fleet(cli)
        defer { hub.process.terminate() }
        try Self.node(cli, "audit", claims: ("office", "audit"), allowed: ("auditor", "audit"), hub: hub)
        try cli.ok("bundle", "export", "--data-dir", "r1", "--all", "--output", cli.file("plan.bundle"))
        try cli.ok("bundle", "import", "--data-dir", "audit", cli.file("plan.bundle"))
        try cli.ok("record", "put", "--data-dir", "audit", "activity", "a1", "remarks=looks fine to me")
        let synced = try cli.ok("sync", "--data-dir", "audit")
        #expect(synced.contains("1 refused") && synced.contains("read-only"), "\(synced)")
        #expect(try !cli.ok("record", "get", "--data-dir", "hub", "activity", "a1").contains("looks fine"))
        #expect(try cli.ok("digest", "--data-dir", "audit") == cli.ok("digest", "--data-dir", "hub"), "an auditor receives everything")
    }

    @Test func aChangeClaimingAnotherReplicasOriginIsRefused() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try Self.fleet(cli)
        defer { hub.process.terminate() }
        try cli.ok("record", "put", "--data-dir", "r1", "activity", "a1", "remarks=r1 wrote this")
        try cli.ok("sync", "--data-dir", "r1")
        try Self.node(cli, "forger", claims: ("field", "roads"), allowed: ("field", "roads"), hub: hub)
        try cli.ok("sync", "--data-dir", "forger")
        let before = try cli.digest("hub")
        // The forger writes a change in r1's name into its own log: r1's next dot, a proper
        // link, and a seal it can only sign with its own key.
        try Forgery.forge(database: cli.file("forger/sitesync.db"), keyFile: cli.file("forger/node.key"),
                          impersonating: "r1", remarks: "r1 never wrote this")
        let error = try cli.fails("sync", "--data-dir", "forger")
        #expect(error.contains("do not match their origin's signature"), "\(error)")
        #expect(try cli.digest("hub") == before)
        #expect(try !cli.ok("record", "get", "--data-dir", "hub", "activity", "a1").contains("never wrote"))
    }

    @Test func aTamperedSignedChangeOrBundleIsRefused() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try Self.fleet(cli)
        defer { hub.process.terminate() }
        try cli.ok("record", "put", "--data-dir", "r1", "activity", "a1", "remarks=exactly this")
        // Over the network: the change's bytes altered in r1's own log after it was signed.
        try cli.ok("bundle", "export", "--data-dir", "r1", "--all", "--output", cli.file("honest.bundle"))
        let queue = try DatabaseQueue(path: cli.file("r1/sitesync.db"))
        try queue.write { db in
            try db.execute(sql: "UPDATE sync_change SET payload = CAST(replace(CAST(payload AS TEXT), 'exactly this', 'exactly that') AS BLOB) WHERE seq = (SELECT max(seq) FROM sync_change)")
        }
        try queue.close()
        let before = try cli.digest("hub")
        let error = try cli.fails("sync", "--data-dir", "r1")
        #expect(error.contains("do not match their origin's signature"), "\(error)")
        #expect(try cli.digest("hub") == before)
        #expect(try cli.run(["audit", "verify", "--data-dir", "r1"]).stdout.contains("FAILED: broken link"))
        // On a USB stick: a change altered inside a bundle whose checksum was then made to match.
        let honest = try BundleCodec.read(Data(contentsOf: URL(fileURLWithPath: cli.file("honest.bundle"))), file: "honest", schema: .siteSync)
        var changes = honest.changes
        let index = try #require(changes.firstIndex { $0.change.range(of: Data("exactly this".utf8)) != nil })
        changes[index].change = Data(changes[index].change).replacing(Data("exactly this".utf8), with: Data("exactly that".utf8))
        // Whoever carries the stick can sign only with a key of their own, under a name of their own.
        let courier = BundleSigner.stranger(named: "courier")
        var header = honest.header
        header.sender.node = courier.credential.node
        header.sender.replica = courier.credential.replica.rawValue
        try BundleCodec.write(Bundle(header: header, changes: changes, holes: honest.holes, proof: honest.proof), signedBy: courier,
                              to: cli.file("tampered.bundle"))
        try Self.node(cli, "r2", claims: ("field", "roads"), allowed: ("field", "roads"), hub: hub)
        let refused = try cli.fails("bundle", "import", "--data-dir", "r2", cli.file("tampered.bundle"))
        #expect(refused.contains("does not match the signatures") && refused.contains("nothing"), "\(refused)")
        #expect(try cli.digest("r2").trimmingCharacters(in: .newlines) == Self.emptyDigest)
        #expect(try cli.ok("bundle", "import", "--data-dir", "r2", cli.file("honest.bundle")).contains("new"))
    }

    @Test func aRevokedKeyIsCutOffAndToldSo() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try Self.fleet(cli)
        defer { hub.process.terminate() }
        let run = try BackgroundProcess(cli, ["run", "--data-dir", "r1"])
        defer { run.terminate() }
        let deadline = Date().addingTimeInterval(10)
        while !run.stderr.contains("synced with hub-1") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        try cli.ok("record", "put", "--data-dir", "r1", "activity", "a2", "remarks=written before the revocation")
        try cli.ok("keys", "revoke", "--data-dir", "hub", "--node", "r1")
        let revoked = Date()
        #expect(try run.waitForExit(seconds: 10) != 0)
        #expect(Date().timeIntervalSince(revoked) < 5, "cut off within seconds")
        #expect(run.stderr.contains("revoked") || run.stderr.contains("refused this node's key"), "\(run.stderr.suffix(800))")
        // The hub's sweep (once a second) cuts the node off and re-binds, perhaps a moment after
        // the node's own next message was already refused.
        let sweep = Date().addingTimeInterval(5)
        while !hub.process.stderr.contains("cut off a revoked node") && Date() < sweep { Thread.sleep(forTimeInterval: 0.05) }
        #expect(hub.process.stderr.contains("cut off a revoked node"), "the hub's log: \(hub.process.stderr.suffix(3000))")
        let error = try cli.fails("sync", "--data-dir", "r1")
        #expect(error.contains("refused this node's key"))
        // The office keeps syncing; r1 keeps its work.
        #expect(try cli.ok("sync", "--data-dir", "office").contains("synced with hub-1"))
        #expect(try cli.ok("record", "get", "--data-dir", "r1", "activity", "a2").contains("written before"))
        #expect(try cli.ok("keys", "list", "--json", "--data-dir", "hub").contains(#""status":"revoked""#))
    }

    @Test func auditVerifyPassesOnHonestDataAndFailsOnAnAlteredRow() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try Self.fleet(cli)
        try cli.ok("record", "put", "--data-dir", "r1", "activity", "a1", "actual_finish=2026-05-21")
        try cli.ok("sync", "--data-dir", "r1")
        hub.process.terminate()
        for node in ["hub", "office", "r1"] {
            let report = try #require(try cli.json("audit", "verify", "--json", "--data-dir", node) as? [String: Any])
            #expect(report["ok"] as? Bool == true, "\(node): \(report)")
        }
        let queue = try DatabaseQueue(path: cli.file("hub/sitesync.db"))
        try queue.write { try $0.execute(sql: "UPDATE activity SET actual_finish = '2026-05-30' WHERE id = 'a1'") }
        try queue.close()
        let result = try cli.run(["audit", "verify", "--data-dir", "hub"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAILED: record activity a1") && result.stdout.contains("altered"), "\(result.stdout)")
    }

    @Test func aWrongHubKeyIsReportedAsAMismatchWithinSeconds() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        let hub = try Self.startHub(cli)
        defer { hub.process.terminate() }
        try Self.node(cli, "r1", claims: ("field", "roads"), allowed: ("field", "roads"), hub: hub)
        // A Z85 key may begin with '-' (one in 85), even with "-=" (one in 7,225, which the
        // argument parser alone refuses as an option with an empty name): each must still read
        // as a key, as an argument and as an option's value.
        func key(beginning prefix: String, not excluded: String? = nil) -> String {
            while true {
                let text = NodeSecretKey.generate().publicKey.description
                if text.hasPrefix(prefix), excluded.map({ !text.hasPrefix($0) }) ?? true { return text }
            }
        }
        let wrong = key(beginning: "-=")
        try cli.ok("keys", "trust-hub", key(beginning: "-", not: "-="), "--data-dir", "r1")
        try cli.ok("keys", "trust-hub", "--data-dir", "r1", wrong)
        try cli.ok("init", "--data-dir", "r2", "--node", "r2", "--department", "roads", "--hub", hub.endpoint, "--hub-key", wrong)
        try cli.ok("keys", "allow", "--data-dir", "hub", "--node", "r3", "--department", "roads", "--role", "field", "--key", wrong)
        try cli.ok("keys", "allow", "--data-dir", "hub", "--node", "r4", "--department", "roads", "--role", "field", "--key", key(beginning: "-", not: "-="))
        let started = Date()
        let error = try cli.fails("sync", "--data-dir", "r1")
        #expect(error.contains("hub key mismatch"), "\(error)")
        #expect(Date().timeIntervalSince(started) < 10)
    }
}

/// What a node with a stolen copy of someone else's changes could try: append a change in
/// their name to its own log, signed with its own key.
enum Forgery {
    static func forge(database: String, keyFile: String, impersonating node: String, remarks: String) throws {
        let text = try String(contentsOfFile: keyFile, encoding: .utf8)
        func secret(_ name: String) -> [UInt8] {
            let line = text.split(separator: "\n").first { $0.hasPrefix(name) }!
            return Z85.decode(String(line.split(separator: "\"")[1]))!
        }
        let key = try NodeSecretKey(curveSecret: secret("curve_secret"), signingSecret: secret("signing_secret"))
        let queue = try DatabaseQueue(path: database)
        try queue.write { db in
            let victim = ReplicaID(storageValue: try Int64.fetchOne(db, sql: "SELECT replica FROM sync_replica WHERE node = ?", arguments: [node])!)
            let counter = UInt64(try Int64.fetchOne(db, sql: "SELECT counter FROM sync_knowledge WHERE replica = ?",
                                                    arguments: [victim.storageValue]) ?? 0) + 1
            let activity = Schema.siteSync.collection(named: "activity")!
            let change = Change(dot: Dot(replica: victim, counter: counter), hlc: HLCTimestamp(milliseconds: 1_900_000_000_000, logical: 0),
                                record: RecordKey(collection: activity.code, id: "a1"), department: "roads", context: VersionVector(),
                                body: .upsert([.assign(activity.field(named: "remarks")!.code, .text(remarks))]))
            let payload = ChangeCodec.encode(change)
            let chain = ChainKey(origin: victim, department: "roads")
            let previous = try Data.fetchOne(db, sql: """
                SELECT link FROM sync_change WHERE replica = ? AND department = 'roads' ORDER BY counter DESC LIMIT 1
                """, arguments: [victim.storageValue]).flatMap { ChainHash(Array($0)) } ?? .genesis
            let link = ChainHash.link(after: previous, dot: change.dot, payloadHash: .of(payload: payload))
            try db.execute(sql: "INSERT INTO sync_change (replica, counter, department, payload, link) VALUES (?, ?, 'roads', ?, ?)",
                           arguments: [victim.storageValue, Int64(counter), payload, Data(link.bytes)])
            let seal = Seal.make(chain: chain, counter: counter, link: link, key: key)
            try db.execute(sql: "INSERT INTO sync_seal (replica, department, counter, link, signature) VALUES (?, 'roads', ?, ?, ?)",
                           arguments: [victim.storageValue, Int64(counter), Data(link.bytes), Data(seal.signature)])
            try db.execute(sql: "UPDATE sync_knowledge SET counter = ?, max_seen = ? WHERE replica = ?",
                           arguments: [Int64(counter), Int64(counter), victim.storageValue])
        }
        try queue.close()
    }
}

extension BundleSigner {
    /// A key of no node on any allow-list, such as whoever carries a USB stick can make.
    static func stranger(named node: String) -> BundleSigner {
        let key = NodeSecretKey.generate()
        return BundleSigner(credential: .issue(node: node, signingKey: key.publicKey.signing), key: key)
    }
}
