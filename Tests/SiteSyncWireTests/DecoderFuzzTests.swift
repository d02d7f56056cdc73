import Foundation
import SiteSyncTestSupport
import SwiftProtobuf
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// A decoder under fuzz: valid inputs to start from, and what a receiver does with bytes.
struct FuzzTarget: Sendable, CustomTestStringConvertible {
    let name: String
    /// Valid encodings, each of which must decode.
    let seeds: @Sendable () throws -> [[UInt8]]
    /// Decodes `input` and runs the checks that follow decoding where they are pure.
    /// Throws ``WireError`` when the input is refused, ``FuzzFinding`` when something decoded
    /// that breaks a property.
    let decode: @Sendable ([UInt8]) throws -> Void
    /// Whether some mutants should decode (a bundle's checksum refuses nearly all of them).
    var someMutantsDecode = true

    var testDescription: String { name }
}

/// A decoded value that breaks a property (it does not survive re-encoding, say).
struct FuzzFinding: Error, CustomStringConvertible {
    let description: String
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw FuzzFinding(description: message()) }
}

/// What a fuzz run saw.
struct FuzzReport {
    var ran = 0
    var accepted = 0
    var refused = 0
    var slowest: Duration = .zero
}

/// Every byte that crosses a trust boundary (a ZeroMQ message, a bundle file) is mutated from
/// valid encodings, and each decoder must either decode it or throw its typed error with a
/// message: never trap, hang or allocate by a length it was handed. What decodes must pass the
/// checks that follow (re-encoding to the same value, the chain check) or be refused by them.
///
/// Seeded and bounded: each target runs at most ``iterations`` inputs and at most ``budget``
/// of time. `SITESYNC_FUZZ_TRACE=<path>` writes each input (in hex) to `<path>.<target>` before
/// it is decoded, so a crash leaves the input that caused it (without a time limit, so that the
/// run replays the same inputs); `SITESYNC_FUZZ_ITERATIONS` and
/// `SITESYNC_FUZZ_SECONDS` (per target) run longer, `SITESYNC_FUZZ_SEED` other inputs.
@Suite struct DecoderFuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let iterations = environment["SITESYNC_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 25_000
    static let budget = Duration.milliseconds(environment["SITESYNC_FUZZ_SECONDS"].flatMap { Double($0) }.map { Int($0 * 1000) } ?? 2500)
    static let seed = environment["SITESYNC_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5175_7A7A
    /// Longer than any input may take in a debug build: a decoder that takes this long is hanging.
    static let hangLimit = Duration.seconds(2)
    static let trace = environment["SITESYNC_FUZZ_TRACE"]

    static let targets: [FuzzTarget] = [
        FuzzTarget(name: "bundle file", seeds: { try FuzzSeeds.bundles().map { $0.file } }, decode: FuzzDecode.bundle,
                   someMutantsDecode: false),
        FuzzTarget(name: "bundle frames, resealed", seeds: { try FuzzSeeds.bundles().map { $0.unsealed } }, decode: FuzzDecode.resealedBundle),
        FuzzTarget(name: "change", seeds: FuzzSeeds.changes, decode: FuzzDecode.change),
        FuzzTarget(name: "compact batch", seeds: FuzzSeeds.compactBatches, decode: FuzzDecode.compactBatch),
        FuzzTarget(name: "sync message", seeds: FuzzSeeds.messages, decode: FuzzDecode.message),
        FuzzTarget(name: "record state", seeds: FuzzSeeds.states, decode: FuzzDecode.state),
        FuzzTarget(name: "security records", seeds: FuzzSeeds.securityRecords, decode: FuzzDecode.securityRecord),
        FuzzTarget(name: "version vector", seeds: FuzzSeeds.vectors, decode: FuzzDecode.vector),
    ]

    @Test(arguments: targets)
    func mutatedInputsDecodeOrAreRefusedCleanly(_ target: FuzzTarget) throws {
        let seeds = try target.seeds()
        #expect(!seeds.isEmpty)
        for (index, seed) in seeds.enumerated() {
            do { try target.decode(seed) } catch { Issue.record("seed \(index) of \(target.name) does not decode: \(error)") }
        }
        let report = Self.fuzz(target, seeds: seeds, seed: Self.seed)
        print("fuzz \(target.name): \(report.ran) inputs in at most \(Self.budget) (\(report.accepted) decoded, "
              + "\(report.refused) refused), slowest \(report.slowest), process peak \(Self.peakResidentMegabytes()) MB")
        #expect(report.ran >= min(Self.iterations, 300), "\(target.name) ran only \(report.ran) inputs")
        #expect(report.refused > 0, "\(target.name): no mutant was refused")
        #expect(report.accepted > 0 || !target.someMutantsDecode, "\(target.name): no mutant decoded, so none reached the checks after decoding")
    }

    /// Runs mutants of `seeds` through `target`: each mutant comes from a seed or from an
    /// earlier mutant that decoded (so the fuzz goes past the first check a mutation breaks).
    static func fuzz(_ target: FuzzTarget, seeds: [[UInt8]], seed: UInt64) -> FuzzReport {
        var mutator = ByteMutator(seed: seed)
        var pool = seeds
        var report = FuzzReport()
        let clock = ContinuousClock()
        // A traced run replays the inputs of an untraced one, however slowly: no time limit.
        let deadline = clock.now + (trace == nil ? budget : .seconds(3600))
        while report.ran < iterations, clock.now < deadline {
            let base = pool.randomElement(using: &mutator.generator)!
            let other = pool.randomElement(using: &mutator.generator)!
            let input = mutator.mutate(base, splicingWith: other)
            if let trace {
                try? Data(hex(input).utf8).write(to: URL(fileURLWithPath: trace + "." + target.name.replacingOccurrences(of: " ", with: "-")))
            }
            let started = clock.now
            do {
                try target.decode(input)
                report.accepted += 1
                if pool.count < 256 { pool.append(input) } else { pool[Int.random(in: seeds.count..<pool.count, using: &mutator.generator)] = input }
            } catch let error as WireError {
                report.refused += 1
                if error.message.isEmpty { Issue.record("\(target.name): a refusal without a message for \(hex(input))") }
                // A message goes to logs and terminals: a peer's bytes must not put escape sequences there.
                if error.message.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    Issue.record("\(target.name): the refusal \(error.message.debugDescription) quotes control characters of \(hex(input))")
                }
            } catch {
                Issue.record("\(target.name) input \(report.ran), \(hex(input)): \(type(of: error)): \(error)")
            }
            let took = clock.now - started
            report.slowest = max(report.slowest, took)
            if took > hangLimit { Issue.record("\(target.name) took \(took) on \(hex(input))") }
            report.ran += 1
        }
        return report
    }

    /// The test process's peak resident memory (all tests, not only this one): a decoder that
    /// allocates by a length it was handed shows here first.
    static func peakResidentMegabytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024
    }

    /// Inputs that crashed a decoder once, each with the target it crashed.
    static let regressions: [(target: String, hex: String, note: String)] = [
        // Found by the fuzz: a field write's tag of 2^32 (a compact batch's tag is a varint; a
        // Change's is 32 bits).
        ("compact batch",
         "0d011af7d6fc88e28a26b2e19d4a31f53565821f12a9a0470bb0feea76acd4950324d3de7dadde8cd8704ce0cc69fc8e676f7e55b46a09"
         + "6b6e1fc2ffc7a6208deb741e129984ce1af3dff922898788d29c0a1ff2a9819627d8570a37328be93c2a93c888ed362ea80d6049c28d85"
         + "c6e94238c6a61cf65ca14f38606304cf61e5a8a5b196fdc101982cadb3380ba10260ef9617598a225c608582ce83a1eb1a96c633e1fabf"
         + "ecfe22f66d808080800862a8aa2cdb0bb31dac2c8820b7a3599071bce6c2e324fb92f03a9f6e0a8bfe0d82804d8b020577617465720572"
         + "6f61647300029487b7de99c29abb6a040205783a79407a000201a9c52802ffb50b070306027031041b010936393330322e333431010910"
         + "4b65727b7320616e6420647261696e730715010a696e6974696174696f6e051c0394eb04060ca4ed0202010ce8b7afe99da2203320e6ae"
         + "b50303fd8497a383ce9de245040b04702d3137000304b496370585ee1206abd2070301168080808080808080800103612d320210010401"
         + "0a6c696e650a627265616b0302eafefa8ee0d1a6f49001060a86748c5fe0c44d50b7181ae4132acb47000207bfbb08089fb10b02060b0a"
         + "37383734382e33373631011e030270310902c98af4eea9d4e5d9ac01060cc2a9021723f64a3786da8e8f40626a0500020adfbb030b97fe"
         + "2d010219010ce8b7afe99da2203320e6aeb50302a8ea8fdac1a2d3d4ed01040b04702d313701010ccde532030419030a6c696e650a6272"
         + "65616b010603612d32031b020a3932333638382e3531310301c38f949be0d986c28001060c1610979b6b344a7f86aebea97f1049900001"
         + "0da2c723060610010310020511010a6c696e650a627265616b0201104b6572627320616e6420647261696e73041101104b657262732061"
         + "6e6420647261696e73071103104b6572627320616e6420647261696e730902abecde9ab1cfe4ab1e060c708d0b063cdd4aab9f025d758a"
         + "d1041b00030ec7e8010f9ea21c10d0af1c01051902000903b4cbe5ebd1e8ace394010606da4f03e811c24b1982ca47210551334f000311"
         + "98831312d3f62913f990340204010ce8b7afe99da2203320e6aeb501080903d19bb2e3fc928cb10b040c04702d3137010114a8862b0302"
         + "100303080401000303ef8192cfadb987e5b60106071a7c753798734cb18258f820009b37ae000115f43406020480ac0206150308617070"
         + "726f7665640301104b6572627320616e6420647261696e73050100011e0203612d32041a02a233090286a9a9e684a8aec78401060ce0ed"
         + "75599e614944a7d4dbf13a9d1743000116d9a83c0306000510020719010a6c696e650a627265616b0302d3948c9bfadce1ee7b050c0470"
         + "2d31370001178884290901dcf5fb90f39ca7d32c070837bc214936b244d3b14bde300fa35cd300021890fb0d19bf9218",
         "a tag of 2^32 in a field write"),
        ("compact batch", "ffffffffffffffffff01" + hex([UInt8](BatchCodec.encode(ProtocolExamplesTests.changes))),
         "a count of 2^64 - 1, -1 as an Int"),
    ]

    @Test(arguments: 0..<regressions.count)
    func inputsThatOnceCrashedAreRefused(_ index: Int) throws {
        let regression = Self.regressions[index]
        let target = try #require(Self.targets.first { $0.name == regression.target })
        do {
            try target.decode(unhex(regression.hex))
            Issue.record("\(regression.note): not refused")
        } catch let error as WireError {
            #expect(!error.message.isEmpty && !error.message.unicodeScalars.contains { $0.properties.generalCategory == .control })
        }
    }

    /// Found by the fuzz: a refusal quoted a peer's text as it came, escape sequences and line
    /// breaks included, into logs and terminals.
    @Test func refusalsShowAPeersControlCharactersAsQuestionMarks() throws {
        let hostile = "\u{1B}]0;owned\u{07}\u{1B}[2J\n\u{202E}"
        func refusal(_ decode: () throws -> Void) -> String {
            do { try decode() } catch let error as WireError { return error.message } catch { Issue.record("\(error)") }
            Issue.record("not refused with a WireError")
            return ""
        }
        var wireRefusal = WireRefusal()
        (wireRefusal.origin, wireRefusal.counter, wireRefusal.code) = (1, 1, hostile)
        #expect(refusal { _ = try Refusal(wire: wireRefusal) } == "a refusal lacks its dot or has the unknown code '?]0;owned??[2J??'")

        var change = WireChange()
        change.collection = UInt32(Schema.siteSync.collection(named: "issue")!.code)
        change.recordID = "i" + hostile
        #expect(refusal { _ = try ChangeCodec.decode(origin: 1, counter: 1, payload: change.serializedData(), schema: .siteSync) }
                == "change 0000000000000001:1 names the record 'i?]0;owned??[2J??', which is not a record id "
                + "(1 to 128 letters, digits and . _ : @ -, starting with a letter or digit)")

        var header = try FuzzSeeds.bundles()[0].header
        header.schemaHash = hostile
        let file = try FuzzSeeds.sealed(BundleCodec.magic + FuzzSeeds.framed(WireBundleFrame.with { $0.header = header }))
        let message = refusal { _ = try BundleCodec.read(Data(file), file: "x.bundle", schema: .siteSync) }
        #expect(message.hasPrefix("x.bundle uses schema version \(Schema.siteSync.version) (?]0;owned??[); this sitesync uses"))
    }

    @Test func framesWithoutTheSignatureOrOfAnotherCountAreForeign() {
        let body = SyncFrames.encode(.bye(session: 1))[1]
        for frames in [[body], [Data("SSP2".utf8), body], [SyncFrames.signature, body, body], []] {
            #expect(throws: WireError(.foreign, "not a SiteSync message: expected the frames [SSP1, message], got \(frames.count) frame\(frames.count == 1 ? "" : "s")")) {
                try SyncFrames.decode(frames, schema: .siteSync)
            }
        }
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

func unhex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count - 1, by: 2).map { UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)! }
}

/// What each target does with its input: the decoder, then what a receiver does next with what
/// decoded, where that is pure (no database).
enum FuzzDecode {
    static let schema = Schema.siteSync

    static func bundle(_ input: [UInt8]) throws {
        try checkImport(try BundleCodec.read(Data(input), file: "fuzz.bundle", schema: schema))
    }

    /// Frames whose checksum is recomputed, so that mutations reach past it to the frames'
    /// contents; the change count is the frames' own, so a trailer that disagrees is rare.
    static func resealedBundle(_ input: [UInt8]) throws {
        try bundle(FuzzSeeds.sealed(input))
    }

    /// What `sitesync bundle import` checks after reading a bundle, before it writes: the
    /// header's vectors and refusals, every change, the chains against their seals, the cut
    /// into transactions.
    static func checkImport(_ bundle: SiteSyncWire.Bundle) throws {
        _ = try VersionVector(wire: bundle.header.base)
        _ = try VersionVector(wire: bundle.header.senderKnowledge)
        for refusal in bundle.header.refusals { _ = try Refusal(wire: refusal) }
        var incoming: [IncomingChange] = []
        for envelope in bundle.changes {
            incoming.append(try IncomingChange(origin: envelope.origin, counter: envelope.counter, payload: envelope.change, schema: schema))
        }
        try checkBatch(incoming, holes: bundle.holes, proof: bundle.proof)
    }

    /// The chain check and the cut into transactions of a received batch.
    static func checkBatch(_ changes: [IncomingChange], holes: [Hole], proof: BatchProof) throws {
        let checked: CheckedBatch
        do {
            checked = try CheckedBatch(changes: changes, holes: holes, proof: proof)
        } catch {
            try require(!error.message.isEmpty, "a chain refusal without a message")
            return
        }
        for size in [1, 2, 1000] {
            let chunks = checked.chunks(of: size)
            try require(chunks.map(\.changes.count).reduce(0, +) == changes.count, "chunks of \(size) lose changes")
            try require(chunks.map(\.holes.count).reduce(0, +) == holes.count, "chunks of \(size) lose withheld changes")
        }
    }

    static func change(_ input: [UInt8]) throws {
        let change = try ChangeCodec.decode(origin: 0x51, counter: 7, payload: Data(input), schema: schema)
        let again = try ChangeCodec.decode(origin: 0x51, counter: 7, payload: ChangeCodec.encode(change), schema: schema)
        try require(again == change, "a decoded change does not survive re-encoding")
    }

    /// A varint count (which may be mutated too, as a peer's `count` is), then the compact changes.
    static func compactBatch(_ input: [UInt8]) throws {
        var offset = 0
        guard let count = Varint.read(input, at: &offset, end: input.count) else { throw WireError(.malformed, "no count") }
        let changes = try BatchCodec.decode(Data(input[offset...]), count: Int(truncatingIfNeeded: count), schema: schema)
        let again = try BatchCodec.decode(BatchCodec.encode(changes), count: changes.count, schema: schema)
        try require(again == changes, "a decoded batch does not survive re-encoding")
        for change in changes {
            let decoded = try ChangeCodec.decode(origin: change.dot.replica.rawValue, counter: change.dot.counter,
                                                 payload: ChangeCodec.encode(change), schema: schema)
            try require(decoded == change, "a change of a decoded batch does not survive its canonical encoding")
        }
    }

    static func message(_ input: [UInt8]) throws {
        let message = try SyncFrames.decode([SyncFrames.signature, Data(input)], schema: schema)
        let again = try SyncFrames.decode(SyncFrames.encode(message), schema: schema)
        try require(again == message, "a decoded message does not survive re-encoding")
        if case .batch(let batch) = message {
            try checkBatch(batch.changes.map { IncomingChange(change: $0, payload: ChangeCodec.encode($0)) },
                           holes: batch.holes, proof: batch.proof)
        }
    }

    static func state(_ input: [UInt8]) throws {
        let state = try StateCodec.decode(try parse(WireRecordState.self, input), schema: schema)
        let again = try StateCodec.decode(try parse(WireRecordState.self, try StateCodec.encode(state).serializedBytes()), schema: schema)
        try require(again == state, "a decoded record state does not survive re-encoding")
    }

    /// The first byte says which record follows: a hole, a chain start, a seal, a credential, a
    /// refusal, an allow-list.
    static func securityRecord(_ input: [UInt8]) throws {
        guard let kind = input.first else { throw WireError(.malformed, "empty") }
        let body = Array(input.dropFirst())
        switch kind % 6 {
        case 0:
            let hole = try HoleCodec.decode(Data(body))
            try require(try HoleCodec.decode(HoleCodec.encode(hole)) == hole, "a hole does not survive re-encoding")
        case 1:
            let start = try ChainStart(wire: try parse(WireChainStart.self, body))
            try require(try ChainStart(wire: WireChainStart(start)) == start, "a chain start does not survive re-encoding")
        case 2:
            let seal = try Seal(wire: try parse(WireSeal.self, body))
            try require(try Seal(wire: WireSeal(seal)) == seal, "a seal does not survive re-encoding")
            _ = seal.isValid(signingKey: ProtocolExamplesTests.siteCredential.signingKey)
        case 3:
            let credential = try ReplicaCredential(wire: try parse(WireReplicaCredential.self, body))
            try require(try ReplicaCredential(wire: WireReplicaCredential(credential)) == credential, "a credential does not survive re-encoding")
            _ = credential.isValid
        case 4:
            let refusal = try Refusal(wire: try parse(WireRefusal.self, body))
            try require(try Refusal(wire: WireRefusal(refusal)) == refusal, "a refusal does not survive re-encoding")
        default:
            let directory = try Directory(wire: try parse(WireDirectory.self, body))
            try require(try Directory(wire: WireDirectory(directory)) == directory, "an allow-list does not survive re-encoding")
        }
    }

    static func vector(_ input: [UInt8]) throws {
        let vector = try VersionVector(wire: try parse(WireVersionVector.self, input))
        try require(try VersionVector(wire: WireVersionVector(vector)) == vector, "a version vector does not survive re-encoding")
    }

    /// A generated message from bytes; the generated decoder's refusal as a ``WireError``.
    static func parse<M: SwiftProtobuf.Message>(_ type: M.Type, _ bytes: [UInt8]) throws(WireError) -> M {
        do { return try M(serializedBytes: bytes) } catch { throw WireError(.malformed, "not a \(M.protoMessageName)") }
    }
}

/// Valid encodings to mutate: the golden examples of `protocol/examples/` and values built here.
enum FuzzSeeds {
    typealias Examples = ProtocolExamplesTests

    /// A bundle file, its bytes before the trailer, and its header.
    static func bundles() throws -> [(file: [UInt8], unsealed: [UInt8], header: WireBundleHeader)] {
        var header = WireBundleHeader()
        header.formatVersion = BundleCodec.formatVersion
        header.protocolVersion = ProtocolVersion.current
        header.schemaVersion = Schema.siteSync.version
        header.schemaHash = Schema.siteSync.hash
        header.sender = WirePeerInfo(Examples.site)
        header.base = WireVersionVector(VersionVector([(Examples.office, UInt64(5))]))
        header.senderKnowledge = WireVersionVector(Examples.knowledgeAfterTransfer)
        header.departments = ["roads"]
        header.createdMs = 1_764_489_600_000
        header.origins = [WirePeerInfo(Examples.site)]
        header.refusals = [WireRefusal(Refusal(dot: Dot(replica: Examples.site.replica, counter: 44), code: .planField, reason: "a plan field"))]
        let changes = Examples.changes
        let withHole = try chainWithAHole()
        let bundles = [
            SiteSyncWire.Bundle(header: header, changes: changes.map(envelope), proof: Examples.proof),
            SiteSyncWire.Bundle(header: header, changes: withHole.changes.map(envelope), holes: withHole.holes, proof: withHole.proof),
            SiteSyncWire.Bundle(header: header, changes: []),
        ]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try bundles.enumerated().map { index, bundle in
            let path = directory.appendingPathComponent("\(index).bundle").path
            try BundleCodec.write(bundle, signedBy: BundleSigner(credential: Examples.siteCredential, key: Examples.siteKey), to: path)
            let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let unsealed = try unsealedBytes(bundle)
            try require(sealed(unsealed) == file, "the test's framing of bundle \(index) differs from BundleCodec.write")
            return (file, unsealed, header)
        }
    }

    static func envelope(_ change: Change) -> WireChangeEnvelope {
        WireChangeEnvelope.with {
            $0.origin = change.dot.replica.rawValue
            $0.counter = change.dot.counter
            $0.change = ChangeCodec.encode(change)
        }
    }

    /// The example changes 41 and 43 with 42 withheld between them, chained and sealed.
    static func chainWithAHole() throws -> (changes: [Change], holes: [Hole], proof: BatchProof) {
        let changes = [Examples.changes[0], Examples.changes[2]]
        let withheld = Examples.changes[1]
        let hole = Hole(dot: withheld.dot, department: withheld.department, record: withheld.record,
                        payloadHash: .of(payload: ChangeCodec.encode(withheld)), position: 1)
        let chain = ChainKey(origin: Examples.site.replica, department: "roads")
        let start = ChainStart(chain: chain, counter: 40, link: ChainHash.of(payload: Array("site-a:40".utf8)))
        var link = start.link
        for (dot, hash) in [(changes[0].dot, ChainHash.of(payload: ChangeCodec.encode(changes[0]))), (hole.dot, hole.payloadHash),
                            (changes[1].dot, ChainHash.of(payload: ChangeCodec.encode(changes[1])))] {
            link = ChainHash.link(after: link, dot: dot, payloadHash: hash)
        }
        let proof = BatchProof(starts: [start], seals: [Seal.make(chain: chain, counter: 43, link: link, key: Examples.siteKey)],
                               credentials: [Examples.siteCredential])
        return (changes, [hole], proof)
    }

    /// The magic and every frame but the trailer, as `BundleCodec.write` lays them out.
    static func unsealedBytes(_ bundle: SiteSyncWire.Bundle) throws -> [UInt8] {
        var frames: [WireBundleFrame] = [WireBundleFrame.with { $0.header = bundle.header }]
        frames += bundle.proof.credentials.map { credential in WireBundleFrame.with { $0.credential = WireReplicaCredential(credential) } }
        frames += bundle.proof.starts.map { start in WireBundleFrame.with { $0.start = WireChainStart(start) } }
        frames += bundle.changes.map { change in WireBundleFrame.with { $0.change = change } }
        frames += bundle.holes.map { hole in WireBundleFrame.with { $0.hole = WireHole(hole) } }
        frames += bundle.proof.seals.map { seal in WireBundleFrame.with { $0.seal = WireSeal(seal) } }
        var bytes = BundleCodec.magic
        for frame in frames { bytes += try framed(frame) }
        return bytes
    }

    static func framed(_ frame: WireBundleFrame) throws -> [UInt8] {
        let body: [UInt8] = try frame.serializedBytes()
        return ByteMutator.varint(UInt64(body.count)) + body
    }

    /// `unsealed` with the trailer it calls for: the number of change frames it holds (as far
    /// as its frames read), the SHA-256 of all of it, and the signature of the seeds' sender
    /// (so that mutants reach past it, as a bundle re-signed by its own sender would).
    static func sealed(_ unsealed: [UInt8]) throws -> [UInt8] {
        var changes: UInt64 = 0
        var offset = BundleCodec.magic.count
        while offset < unsealed.count, let length = Varint.read(unsealed, at: &offset, end: unsealed.count), length <= UInt64(unsealed.count - offset) {
            let body = Array(unsealed[offset..<offset + Int(length)])
            offset += Int(length)
            if case .change? = (try? WireBundleFrame(serializedBytes: body))?.frame { changes += 1 }
        }
        let trailer = WireBundleFrame.with {
            $0.trailer = WireBundleTrailer.with {
                $0.changeCount = changes
                $0.sha256 = Data(ChainHash.of(payload: unsealed).bytes)
                $0.signer = WireReplicaCredential(Examples.siteCredential)
                $0.signature = Data(BundleSignature.sign(digest: ChainHash.of(payload: unsealed).bytes, key: Examples.siteKey))
            }
        }
        return unsealed + (try framed(trailer))
    }

    /// Random changes of the schema, and the examples'.
    static func changes() -> [[UInt8]] {
        var g = SeededGenerator(seed: 13)
        return (Examples.changes + (0..<24).map { _ in randomChange(using: &g) }).map { [UInt8](ChangeCodec.encode($0)) }
    }

    static func compactBatches() -> [[UInt8]] {
        var g = SeededGenerator(seed: 13)
        let batches = [Examples.changes, []] + (0..<12).map { _ in BatchCodecTests.randomBatch(using: &g) }
        return batches.map { ByteMutator.varint(UInt64($0.count)) + [UInt8](BatchCodec.encode($0)) }
    }

    /// The golden examples (read from their files), and messages that carry what they lack:
    /// withheld changes, origins, an ack's refusals, random batches.
    static func messages() throws -> [[UInt8]] {
        var seeds: [[UInt8]] = []
        for example in Examples.examples {
            let text = try String(contentsOf: Examples.directory.appendingPathComponent(example.name + ".txt"), encoding: .utf8)
            seeds.append([UInt8](Examples.frames(text)[1]))
        }
        let withHole = try chainWithAHole()
        var g = SeededGenerator(seed: 13)
        var built: [SyncMessage] = [
            .batch(SyncMessage.Batch(session: 9, pull: true, sequence: 2, changes: withHole.changes, vouched: Examples.knowledgeAfterTransfer,
                                     last: false, origins: [Examples.site, Examples.hub], holes: withHole.holes, proof: withHole.proof)),
        ]
        for _ in 0..<6 {
            built.append(.batch(SyncMessage.Batch(session: 9, pull: false, sequence: 3, changes: BatchCodecTests.randomBatch(using: &g),
                                                  vouched: VersionVector(), last: true)))
        }
        return seeds + built.map { [UInt8](SyncFrames.encode($0)[1]) }
    }

    static func states() throws -> [[UInt8]] {
        var uuidRecord = StateCodec.encode(Examples.stateOfAnIssue)
        uuidRecord.recordUuid = Data(RecordID.uuidBytes("0b6f2c1e-6d2a-4e3b-9a61-3c7d2f0e8b15")!)
        return [try StateCodec.encode(Examples.stateOfAnIssue).serializedBytes(), try uuidRecord.serializedBytes()]
    }

    static func securityRecords() throws -> [[UInt8]] {
        let proof = Examples.proof
        let withHole = try chainWithAHole()
        let refusal = Refusal(dot: Dot(replica: Examples.site.replica, counter: 44), code: .planField, reason: "a plan field")
        return [
            [0] + [UInt8](HoleCodec.encode(withHole.holes[0])),
            [1] + (try WireChainStart(proof.starts[0]).serializedBytes()),
            [2] + (try WireSeal(proof.seals[0]).serializedBytes()),
            [3] + (try WireReplicaCredential(proof.credentials[0]).serializedBytes()),
            [4] + (try WireRefusal(refusal).serializedBytes()),
            [5] + (try WireDirectory(Examples.allowList).serializedBytes()),
        ]
    }

    static func vectors() throws -> [[UInt8]] {
        try [Examples.knowledgeAfterTransfer, VersionVector([(ReplicaID(rawValue: 1), UInt64(1))]), VersionVector(),
             VersionVector((1...40).map { (ReplicaID(rawValue: UInt64($0) << 40), UInt64($0) * 1000) })]
            .map { try WireVersionVector($0).serializedBytes() }
    }
}
