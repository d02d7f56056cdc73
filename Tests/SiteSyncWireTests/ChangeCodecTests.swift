import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncWire

/// The generated protobuf code, used as the oracle for the hand-written decoder.
enum ReferenceDecoder {
    static func decode(origin: UInt64, counter: UInt64, payload: Data, schema: Schema) throws -> Change {
        let wire = try WireChange(serializedBytes: payload)
        let dot = Dot(replica: ReplicaID(rawValue: origin), counter: counter)
        guard let collection = schema.collection(code: UInt16(truncatingIfNeeded: wire.collection)), wire.collection <= UInt32(UInt16.max) else {
            throw WireError(.invalid, "collection")
        }
        let id: String
        switch wire.record {
        case .recordUuid(let bytes)?:
            guard bytes.count == 16 else { throw WireError(.invalid, "uuid") }
            id = RecordID.format(Array(bytes))
        case .recordID(let text)?:
            try RecordID.validate(text)
            id = text
        case nil: throw WireError(.invalid, "record")
        }
        guard wire.department.isEmpty || (try? DepartmentCode.validate(wire.department)) != nil else { throw WireError(.invalid, "dept") }
        let context = try VersionVector(wire: wire.context)
        if wire.delete {
            guard wire.writes.isEmpty else { throw WireError(.invalid, "delete") }
            return Change(dot: dot, hlc: HLCTimestamp(rawValue: wire.hlc), record: RecordKey(collection: collection.code, id: id),
                          department: wire.department, context: context, body: .delete)
        }
        guard !wire.writes.isEmpty, wire.writes.count <= DecodeLimits.maxWritesPerChange else { throw WireError(.invalid, "writes") }
        var writes: [FieldWrite] = []
        for write in wire.writes {
            guard write.field <= UInt32(UInt16.max), let spec = collection.field(code: UInt16(write.field)) else { throw WireError(.invalid, "field") }
            guard let value = write.value else {
                guard spec.rule == .orset else { throw WireError(.invalid, "set") }
                guard (write.add + write.remove).allSatisfy({ $0.utf8.count <= DecodeLimits.maxStringBytes }) else { throw WireError(.invalid, "len") }
                writes.append(FieldWrite(field: spec.code, .updateSet(add: write.add, remove: write.remove)))
                continue
            }
            let decoded: FieldValue
            func checked(_ s: String) throws -> String {
                guard s.utf8.count <= DecodeLimits.maxStringBytes else { throw WireError(.invalid, "len") }
                return s
            }
            switch value {
            case .nullValue: decoded = .null
            case .text(let s): decoded = .text(try checked(s))
            case .int(let i): decoded = .int(i)
            case .decimal(let s):
                guard let d = ExactDecimal(s), d.description == s else { throw WireError(.invalid, "decimal") }
                decoded = .decimal(d)
            case .date(let days):
                let date = CalendarDate(daysSinceEpoch: Int(days))
                guard (1...9999).contains(date.year) else { throw WireError(.invalid, "date") }
                decoded = .date(date)
            case .symbol(let s): decoded = .symbol(try checked(s))
            case .ref(let s): decoded = .ref(try checked(s))
            }
            guard decoded.conforms(to: spec.type), spec.rule != .orset else { throw WireError(.invalid, "type") }
            writes.append(.assign(spec.code, decoded, tag: write.tag, supersede: write.supersede))
        }
        return Change(dot: dot, hlc: HLCTimestamp(rawValue: wire.hlc), record: RecordKey(collection: collection.code, id: id),
                      department: wire.department, context: context, body: .upsert(writes))
    }
}

/// A random but valid change of the SiteSync schema.
func randomChange<G: RandomNumberGenerator>(using g: inout G) -> Change {
    let schema = Schema.siteSync
    let collection = schema.collections.randomElement(using: &g)!
    let id = Bool.random(using: &g) ? RecordID.random(using: &g) : ["a1", "roads", "p-17", "x:y@z"].randomElement(using: &g)!
    var context: [(ReplicaID, UInt64)] = []
    for _ in 0..<Int.random(in: 0...3, using: &g) {
        context.append((ReplicaID.random(using: &g), UInt64.random(in: 1...1_000_000, using: &g)))
    }
    let body: Change.Body
    if Int.random(in: 0..<8, using: &g) == 0 {
        body = .delete
    } else {
        var writes: [FieldWrite] = []
        for spec in collection.fields.shuffled(using: &g).prefix(Int.random(in: 1...collection.fields.count, using: &g)) {
            if spec.rule == .orset {
                writes.append(FieldWrite(field: spec.code, .updateSet(add: ["chen", "李"].filter { _ in Bool.random(using: &g) },
                                                                      remove: ["wang"].filter { _ in Bool.random(using: &g) })))
                continue
            }
            let value: FieldValue
            if Int.random(in: 0..<10, using: &g) == 0 {
                value = .null
            } else {
                switch spec.type {
                case .text: value = .text(["", "Kerbs and drains", "路面 3 段", "line\nbreak"].randomElement(using: &g)!)
                case .int: value = .int(Int64.random(in: -5...100_000, using: &g))
                case .decimal: value = .decimal(ExactDecimal(normalizing: Int128(Int64.random(in: -1_000_000...1_000_000_000, using: &g)),
                                                             scale: Int.random(in: 0...4, using: &g))!)
                case .date: value = .date(CalendarDate(daysSinceEpoch: Int.random(in: -20_000...40_000, using: &g)))
                case .enumeration(let cases): value = .symbol(cases.randomElement(using: &g)!)
                case .ref: value = .ref(["p1", "a-2", RecordID.random(using: &g)].randomElement(using: &g)!)
                case .set: value = .null
                }
            }
            writes.append(.assign(spec.code, value, tag: UInt32.random(in: 0...3, using: &g), supersede: Bool.random(using: &g)))
        }
        body = .upsert(writes)
    }
    return Change(dot: Dot(replica: ReplicaID.random(using: &g), counter: UInt64.random(in: 1...1_000_000, using: &g)),
                  hlc: HLCTimestamp(rawValue: UInt64.random(in: 0...UInt64.max >> 1, using: &g)),
                  record: RecordKey(collection: collection.code, id: id),
                  department: collection.scope == .shared ? "" : ["roads", "water"].randomElement(using: &g)!,
                  context: VersionVector(context), body: body)
}

@Suite struct ChangeCodecTests {
    @Test func changesRoundTripThroughTheirEncoding() async {
        await seededCheck(count: 500) { seed in
            var g = SeededGenerator(seed: seed)
            let change = randomChange(using: &g)
            let payload = ChangeCodec.encode(change)
            let decoded = try ChangeCodec.decode(origin: change.dot.replica.rawValue, counter: change.dot.counter, payload: payload,
                                                 schema: .siteSync)
            #expect(decoded == change, "seed \(seed)")
            let reference = try ReferenceDecoder.decode(origin: change.dot.replica.rawValue, counter: change.dot.counter,
                                                        payload: payload, schema: .siteSync)
            #expect(reference == change, "seed \(seed)")
        }
    }

    /// Mutated bytes (flips, cuts, insertions, repeats): the hand-written decoder must accept
    /// exactly what the generated one accepts, with the same result, and never crash.
    @Test func theDirectDecoderAgreesWithTheGeneratedOneOnMutatedInput() async {
        nonisolated(unsafe) var outcomes = (accepted: 0, refused: 0)
        await seededCheck(count: 10000) { seed in
            var g = SeededGenerator(seed: seed)
            var bytes = [UInt8](ChangeCodec.encode(randomChange(using: &g)))
            for _ in 0..<Int.random(in: 1...4, using: &g) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &g)
                switch Int.random(in: 0..<5, using: &g) {
                case 0: bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &g))
                case 1: bytes = Array(bytes.prefix(at))
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &g), at: at)
                case 3: bytes += bytes[at...]
                default: bytes[at] = UInt8.random(in: 0...255, using: &g)
                }
            }
            let payload = Data(bytes)
            let fast = Result { try ChangeCodec.decode(origin: 9, counter: 1, payload: payload, schema: .siteSync) }
            let reference = Result { try ReferenceDecoder.decode(origin: 9, counter: 1, payload: payload, schema: .siteSync) }
            switch (fast, reference) {
            case let (.success(a), .success(b)): #expect(a == b, "seed \(seed)"); outcomes.accepted += 1
            case (.failure, .failure): outcomes.refused += 1
            case let (.success(a), .failure(error)): Issue.record("seed \(seed): accepted \(a) that the generated decoder refuses: \(error)")
            case let (.failure(error), .success(b)): Issue.record("seed \(seed): refused \(b) that the generated decoder accepts: \(error)")
            }
        }
        // Both kinds of outcome must be common, or the comparison proves little.
        #expect(outcomes.accepted > 300 && outcomes.refused > 3000, "\(outcomes)")
    }

    @Test func decodingRefusesBrokenRules() {
        var wire = WireChange()
        wire.collection = 4
        wire.recordID = "a1"
        wire.writes = [WireFieldWrite.with { $0.field = 11; $0.decimal = "40.0" }]
        #expect(throws: WireError.self) { try ChangeCodec.decode(origin: 1, counter: 1, payload: try wire.serializedData(), schema: .siteSync) }
        wire.writes = [WireFieldWrite.with { $0.field = 99; $0.text = "x" }]
        #expect(throws: WireError.self) { try ChangeCodec.decode(origin: 1, counter: 1, payload: try wire.serializedData(), schema: .siteSync) }
        wire.writes = [WireFieldWrite.with { $0.field = 10; $0.symbol = "finished" }]
        #expect(throws: WireError.self) { try ChangeCodec.decode(origin: 1, counter: 1, payload: try wire.serializedData(), schema: .siteSync) }
        wire.writes = [WireFieldWrite.with { $0.field = 10; $0.symbol = "completed" }]
        wire.context = WireVersionVector.with { $0.replicas = [5, 3]; $0.counters = [1, 1] }
        #expect(throws: WireError.self) { try ChangeCodec.decode(origin: 1, counter: 1, payload: try wire.serializedData(), schema: .siteSync) }
        wire.context = WireVersionVector.with { $0.replicas = [3, 5]; $0.counters = [1, 1] }
        #expect(throws: Never.self) { try ChangeCodec.decode(origin: 1, counter: 1, payload: try wire.serializedData(), schema: .siteSync) }
    }
}
