import Foundation
import Testing
@testable import SiteSyncCore
@testable import SiteSyncWire

/// The golden messages of `protocol/examples/`: every file decodes to the message described in
/// it and re-encodes to the same bytes, frame for frame. `SITESYNC_WRITE_EXAMPLES=1` rewrites
/// them after a deliberate change of the protocol.
@Suite struct ProtocolExamplesTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("protocol/examples")

    static let versions = ProtocolVersions(protocolVersion: 1, schemaVersion: Schema.siteSync.version, schemaHash: Schema.siteSync.hash)
    /// Fixed keys, so that every signature in the examples is the same on every run (Ed25519
    /// signatures are deterministic).
    static let siteKey = try! NodeSecretKey(curveSecret: [UInt8](repeating: 0x51, count: 32), signingSecret: [UInt8](repeating: 0x52, count: 32))
    static let hubKey = try! NodeSecretKey(curveSecret: [UInt8](repeating: 0x48, count: 32), signingSecret: [UInt8](repeating: 0x49, count: 32))
    static let siteCredential = ReplicaCredential.issue(node: "site-a", signingKey: siteKey.publicKey.signing,
                                                        salt: [0x5A, 0x17, 0xE0, 0xA0, 0, 0, 0, 1])
    static let hubCredential = ReplicaCredential.issue(node: "hub-1", signingKey: hubKey.publicKey.signing,
                                                       salt: [0x48, 0x55, 0x42, 0, 0, 0, 0, 1])
    static let site = PeerIdentity(node: "site-a", replica: siteCredential.replica, role: .field, department: "roads")
    static let hub = PeerIdentity(node: "hub-1", replica: hubCredential.replica, role: .hub, department: "office")
    static let allowList = Directory([
        DirectoryEntry(node: "hub-1", role: .hub, department: "office", key: hubKey.publicKey),
        DirectoryEntry(node: "site-a", role: .field, department: "roads", key: siteKey.publicKey),
    ])
    static let session: UInt64 = 0x0123_4567_89AB_CDEF

    /// Three changes of site-a: a new quantity entry, an update of an activity it had seen, and
    /// an assignee added to an issue.
    static var changes: [Change] {
        let activity = Schema.siteSync.collection(named: "activity")!, entry = Schema.siteSync.collection(named: "quantity_entry")!
        let issue = Schema.siteSync.collection(named: "issue")!
        let office = ReplicaID(rawValue: 0x0FF1_CE00_0000_0001)
        let hlc = HLCTimestamp(milliseconds: 1_764_489_600_000, logical: 0)
        return [
            Change(dot: Dot(replica: site.replica, counter: 41), hlc: hlc,
                   record: RecordKey(collection: entry.code, id: "0b6f2c1e-6d2a-4e3b-9a61-3c7d2f0e8b15"), department: "roads",
                   context: VersionVector(),
                   body: .upsert([.assign(1, .ref("a1")), .assign(2, .date(CalendarDate("2026-11-30")!)),
                                  .assign(3, .decimal(ExactDecimal("120.5")!)), .assign(4, .text("kerb stones, north side"))])),
            Change(dot: Dot(replica: site.replica, counter: 42), hlc: HLCTimestamp(rawValue: hlc.rawValue + 1),
                   record: RecordKey(collection: activity.code, id: "a1"), department: "roads",
                   context: VersionVector([(office, UInt64(3)), (site.replica, UInt64(17))]),
                   body: .upsert([.assign(11, .decimal(ExactDecimal(40))), .assign(10, .symbol("in_progress"), tag: 0),
                                  .assign(12, .date(CalendarDate("2026-03-05")!))])),
            Change(dot: Dot(replica: site.replica, counter: 43), hlc: HLCTimestamp(rawValue: hlc.rawValue + 2),
                   record: RecordKey(collection: issue.code, id: "i1"), department: "roads",
                   context: VersionVector([(office, UInt64(5))]),
                   body: .upsert([FieldWrite(field: 6, .updateSet(add: ["chen"], remove: []))])),
        ]
    }

    /// The proof of ``changes``: their chain (site-a, roads) continues from change 17, whose
    /// link is given, and site-a's seal covers change 43.
    static var proof: BatchProof {
        let chain = ChainKey(origin: site.replica, department: "roads")
        let start = ChainStart(chain: chain, counter: 17, link: ChainHash.of(payload: Array("site-a:17".utf8)))
        var link = start.link
        for change in changes { link = ChainHash.link(after: link, dot: change.dot, payloadHash: .of(payload: ChangeCodec.encode(change))) }
        return BatchProof(starts: [start], seals: [Seal.make(chain: chain, counter: 43, link: link, key: siteKey)],
                          credentials: [siteCredential])
    }

    /// The limits the golden Hello and Welcome carry: the defaults when they were made (a
    /// window of 4, since widened to 16); the examples' bytes stay as they were.
    static let exampleLimits = SessionLimits(window: 4)

    static var examples: [(name: String, about: String, message: SyncMessage)] {
        let knowledge = VersionVector([(ReplicaID(rawValue: 0x0FF1_CE00_0000_0001), UInt64(5)), (site.replica, UInt64(40))])
        return [
            ("01-hello", "site-a (field, roads) opens a session; it holds office:5, site-a:40; accepts batches of 1000 changes, 512 KiB, 4 in flight; it proves its replica id is its key's and has no copy of the allow-list yet",
             .hello(SyncMessage.Hello(versions: versions, peer: site, knowledge: knowledge, session: session, limits: Self.exampleLimits,
                                      credential: siteCredential))),
            ("02-welcome", "the hub accepts; it holds office:5, site-a:40; it knows site-a's key as field of roads, and hands over its allow-list",
             .welcome(SyncMessage.Welcome(versions: versions, peer: hub, knowledge: knowledge, session: session, limits: Self.exampleLimits,
                                          credential: hubCredential, client: site, directory: allowList))),
            ("03-batch-push", "site-a pushes its changes 41 to 43 (a new quantity entry, an activity update, an assignee added), the last push batch; it vouches for site-a:43; the chain (site-a, roads) continues from change 17 and site-a's seal covers 43",
             .batch(SyncMessage.Batch(session: session, pull: false, sequence: 1, changes: changes,
                                      vouched: VersionVector([(site.replica, UInt64(43))]), last: true, proof: proof))),
            ("04-ack-push", "the hub applied push batch 1: 3 new changes; it now holds office:5, site-a:43",
             .ack(SyncMessage.Ack(session: session, pull: false, sequence: 1,
                                  knowledge: VersionVector([(ReplicaID(rawValue: 0x0FF1_CE00_0000_0001), UInt64(5)), (site.replica, UInt64(43))]),
                                  applied: 3, known: 0))),
            ("05-pull", "site-a asks for what it lacks, holding office:5, site-a:43",
             .pull(SyncMessage.Pull(session: session, knowledge: VersionVector([(ReplicaID(rawValue: 0x0FF1_CE00_0000_0001), UInt64(5)),
                                                                                (site.replica, UInt64(43))])))),
            ("06-batch-pull", "the hub has nothing more for site-a: an empty last pull batch",
             .batch(SyncMessage.Batch(session: session, pull: true, sequence: 1, changes: [],
                                      vouched: VersionVector([(ReplicaID(rawValue: 0x0FF1_CE00_0000_0001), UInt64(5))]), last: true))),
            ("07-ack-pull", "site-a applied pull batch 1 (nothing new); it holds office:5, site-a:43, as after its push (04, 05)",
             .ack(SyncMessage.Ack(session: session, pull: true, sequence: 1, knowledge: knowledgeAfterPush, applied: 0, known: 0))),
            ("08-bye", "site-a ends the session", .bye(session: session)),
            ("09-failure-426", "a listener refuses a client of another protocol version, naming its own",
             .failure(SyncMessage.Failure(code: .upgradeRequired,
                                          reason: "this peer speaks protocol 1; the client speaks protocol 2: upgrade the older one",
                                          session: session, versions: versions))),
            ("10-hint", "the hub has new data for a subscribed client", .hint(knowledge: knowledge)),
            ("11-ack-refused", "the hub applied push batch 2 but refused change 44 of site-a: a plan field",
             .ack(SyncMessage.Ack(session: session, pull: false, sequence: 2,
                                  knowledge: VersionVector([(ReplicaID(rawValue: 0x0FF1_CE00_0000_0001), UInt64(5)), (site.replica, UInt64(44))]),
                                  applied: 0, known: 0,
                                  refusals: [Refusal(dot: Dot(replica: site.replica, counter: 44), code: .planField,
                                                     reason: "activity.budget is a plan field; only office and hub nodes write it")]))),
            ("12-failure-403-revoked", "the hub tells a node whose key was revoked, before it closes the connection",
             .failure(SyncMessage.Failure(code: .forbidden,
                                          reason: "this node's key (site-a) is no longer on the hub's allow-list: it was revoked; its changes stay on the node; ask the hub operator",
                                          session: 0))),
            ("13-batch-state-transfer", "a state transfer: site-a lacked changes the hub compacted, so the hub sends issue i-7 as it holds it (title by office:3, the assignee 'lin' added by site-a:12, a deletion by office:5 that lost to that concurrent edit); the transfer's last batch: it stands at office:5, site-a:43, and the chain (office, roads) continues from change 5",
             .batch(SyncMessage.Batch(session: session, pull: true, sequence: 1, changes: [],
                                      vouched: knowledgeAfterTransfer, last: false, states: [stateOfAnIssue], statesComplete: true,
                                      heads: [ChainStart(chain: ChainKey(origin: office, department: "roads"), counter: 5,
                                                         link: ChainHash(Array(repeating: 0xAB, count: 32))!)]))),
        ]
    }

    static let office = ReplicaID(rawValue: 0x0FF1_CE00_0000_0001)
    /// What site-a and the hub hold once the push of 03 is applied (04 and 05 say so).
    static var knowledgeAfterPush: VersionVector { VersionVector([(office, UInt64(5)), (site.replica, UInt64(43))]) }
    static var knowledgeAfterTransfer: VersionVector { VersionVector([(office, UInt64(5)), (site.replica, UInt64(43))]) }

    /// An issue as the hub holds it: two live versions and a deletion that lost to an edit.
    static var stateOfAnIssue: RecordState {
        let issue = Schema.siteSync.collection(named: "issue")!
        let hlc = HLCTimestamp(rawValue: 1_780_000_000_000 << 16)
        return RecordState(
            key: RecordKey(collection: issue.code, id: "i-7"), department: "roads",
            context: VersionVector([(office, UInt64(5)), (site.replica, UInt64(12))]),
            versions: [FieldVersion(field: issue.field(named: "title")!.code, dot: Dot(replica: office, counter: 3), hlc: hlc,
                                    value: .text("Drain blocked")),
                       FieldVersion(field: issue.field(named: "assignees")!.code, dot: Dot(replica: site.replica, counter: 12), hlc: hlc,
                                    value: .text("lin"))],
            tombstones: [Tombstone(dot: Dot(replica: office, counter: 5), hlc: hlc,
                                   context: VersionVector([(office, UInt64(3))]))])
    }

    static func text(_ about: String, _ message: SyncMessage) -> String {
        var lines = ["# " + about, "# Each line: one ZeroMQ frame, in hex (a ROUTER also sees the peer's routing id first)."]
        for frame in SyncFrames.encode(message) {
            lines.append("frame " + frame.map { String(format: "%02x", $0) }.joined())
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func frames(_ text: String) -> [Data] {
        text.split(separator: "\n").filter { $0.hasPrefix("frame ") }.map { line in
            let hex = Array(line.dropFirst(6))
            return Data(stride(from: 0, to: hex.count, by: 2).map { UInt8(String(hex[$0...$0 + 1]), radix: 16)! })
        }
    }

    @Test func theExamplesSignaturesCheckOut() throws {
        let entries = Self.changes.map { ChainEntry(dot: $0.dot, department: $0.department, payloadHash: .of(payload: ChangeCodec.encode($0))) }
        #expect(try ChainVerifier.links(of: entries, proof: Self.proof).count == 3)
        #expect(Self.siteCredential.isValid && Self.hubCredential.isValid)
    }

    @Test func everyGoldenMessageDecodesToItsDescriptionAndReencodesByteForByte() throws {
        if ProcessInfo.processInfo.environment["SITESYNC_WRITE_EXAMPLES"] == "1" {
            try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
            for example in Self.examples {
                try Self.text(example.about, example.message).write(to: Self.directory.appendingPathComponent(example.name + ".txt"),
                                                                    atomically: true, encoding: .utf8)
            }
        }
        for example in Self.examples {
            let text = try String(contentsOf: Self.directory.appendingPathComponent(example.name + ".txt"), encoding: .utf8)
            #expect(text == Self.text(example.about, example.message),
                    "\(example.name) is not what the generator writes: run with SITESYNC_WRITE_EXAMPLES=1 after a deliberate change")
            let frames = Self.frames(text)
            #expect(frames.count == 2 && frames[0] == Data("SSP1".utf8), "\(example.name)")
            let decoded = try SyncFrames.decode(frames, schema: .siteSync)
            #expect(decoded == example.message, "\(example.name) decodes to another message than it describes")
            #expect(SyncFrames.encode(decoded) == frames, "\(example.name) does not re-encode byte for byte")
        }
    }

    /// Every file in `examples/` is one the generator writes: none is left over or hand-made.
    @Test func theExamplesDirectoryHoldsExactlyTheGeneratedExamples() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".txt") }.sorted()
        #expect(files == Self.examples.map { $0.name + ".txt" }.sorted())
    }

    /// The examples tell one story: the knowledge in 04, 05 and 07 is the same after the push.
    @Test func theExamplesAgreeOnWhatIsHeldAfterThePush() throws {
        var held: [String: VersionVector] = [:]
        for example in Self.examples {
            switch example.message {
            case .ack(let ack) where example.name == "04-ack-push" || example.name == "07-ack-pull": held[example.name] = ack.knowledge
            case .pull(let pull): held[example.name] = pull.knowledge
            default: break
            }
        }
        #expect(held.count == 3 && Set(held.values).count == 1, "\(held)")
        #expect(held["07-ack-pull"]?[Self.site.replica] == 43)
    }

    /// §16.3: the directory digest is the SHA-256 of one line per entry, sorted by node, each
    /// line — the last included — ended by `\n`. The spec quotes this digest for example 02.
    @Test func theDirectoryDigestHashesLinesEachEndedByANewline() throws {
        let text = "hub-1 hub office \(Self.hubKey.publicKey) active\n" + "site-a field roads \(Self.siteKey.publicKey) active\n"
        #expect(Self.allowList.digest == SHA256Hex.digest(of: Array(text.utf8)))
        #expect(Self.allowList.digest != SHA256Hex.digest(of: Array(text.dropLast().utf8)), "the last line ends with \\n too")
        #expect(Directory([]).digest == SHA256Hex.digest(of: []))
        let spec = try String(contentsOf: Self.directory.deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        #expect(spec.contains("`\(Self.allowList.digest)`"), "protocol §16.3 should quote example 02's digest, \(Self.allowList.digest)")
    }

    /// §8: a batch with no changes still carries the 3-byte header (format 1, two empty tables),
    /// and an empty `changes` field does not decode.
    @Test func anEmptyBatchCarriesTheThreeByteHeader() throws {
        #expect(BatchCodec.encode([]) == Data([1, 0, 0]))
        #expect(try BatchCodec.decode(Data([1, 0, 0]), count: 0, schema: .siteSync).isEmpty)
        #expect(throws: WireError.self) { try BatchCodec.decode(Data(), count: 0, schema: .siteSync) }
    }

    /// §8: the tables list replicas (each change's origin, then its context's) and departments
    /// in order of first use; a receiver takes them in any order, as only the indices count.
    @Test func theBatchTablesAreInOrderOfFirstUseAndAnyOrderDecodes() throws {
        let encoded = BatchCodec.encode(Self.changes)
        // 01, R = 2: site-a (the first origin) before office (first seen in change 42's context).
        #expect(Array(encoded.prefix(2)) == [1, 2])
        let first = encoded[2..<10].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let second = encoded[10..<18].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(first == Self.site.replica.rawValue && second == Self.office.rawValue)
        // The same changes with the replica table swapped, and every replica index with it.
        var swapped = encoded
        swapped.replaceSubrange(2..<18, with: encoded[10..<18] + encoded[2..<10])
        for offset in Self.replicaIndexOffsets(in: encoded) { swapped[offset] = 1 - encoded[offset] }
        #expect(try BatchCodec.decode(swapped, count: 3, schema: .siteSync) == Self.changes)
        #expect(swapped != encoded)
    }

    /// Where the replica indices sit in `encoded` (``changes`` encoded, two replicas in the
    /// table), by reading the layout of §8 field by field.
    static func replicaIndexOffsets(in encoded: Data) -> Set<Int> {
        var offsets: Set<Int> = []
        let reader = Array(encoded)
        var at = 18
        func varint() -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                let byte = reader[at]; at += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }
        func string() { let length = Int(varint()); at += length }
        _ = varint()  // D
        string()  // "roads"
        for _ in 0..<3 {
            offsets.insert(at); _ = varint()  // origin
            _ = varint(); _ = varint()  // counter delta, hlc delta
            let flags = reader[at]; at += 1
            _ = varint()  // collection
            if flags & 2 != 0 { at += 16 } else { string() }
            _ = varint()  // department
            if flags & 4 != 0 {
                let entries = varint()
                for _ in 0..<entries { offsets.insert(at); _ = varint(); _ = varint() }
            }
            if flags & 1 == 0 {
                let writes = varint()
                for _ in 0..<writes {
                    _ = varint()
                    let kind = reader[at]; at += 1
                    if kind & 16 != 0 { _ = varint() }
                    switch kind & 7 {
                    case 0: break
                    case 2, 4: _ = varint()
                    case 7: for _ in 0..<2 { let n = varint(); for _ in 0..<n { string() } }
                    default: string()
                    }
                }
            }
        }
        return offsets
    }
}
