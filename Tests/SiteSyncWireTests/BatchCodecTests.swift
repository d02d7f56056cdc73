import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncWire

@Suite struct BatchCodecTests {
    /// A batch of changes as a sender's log would hold them: a few origins, rising counters.
    static func randomBatch<G: RandomNumberGenerator>(using g: inout G) -> [Change] {
        var counters: [ReplicaID: UInt64] = [:]
        let origins = (0..<Int.random(in: 1...4, using: &g)).map { _ in ReplicaID.random(using: &g) }
        return (0..<Int.random(in: 0...40, using: &g)).map { _ in
            let change = randomChange(using: &g)
            let origin = origins.randomElement(using: &g)!
            let counter = (counters[origin] ?? 0) + UInt64.random(in: 1...3, using: &g)
            counters[origin] = counter
            return Change(dot: Dot(replica: origin, counter: counter), hlc: change.hlc, record: change.record,
                          department: change.department, context: change.context, body: change.body)
        }
    }

    @Test func batchesRoundTripAndRebuildTheOriginsBytes() async {
        await seededCheck(count: 300) { seed in
            var g = SeededGenerator(seed: seed)
            let changes = Self.randomBatch(using: &g)
            let encoded = BatchCodec.encode(changes)
            let decoded = try BatchCodec.decode(encoded, count: changes.count, schema: .siteSync)
            #expect(decoded == changes, "seed \(seed)")
            // The receiver stores exactly the bytes the origin stored.
            #expect(decoded.map(ChangeCodec.encode) == changes.map(ChangeCodec.encode), "seed \(seed)")
        }
    }

    @Test func mutatedBatchesNeverCrashAndWhatDecodesIsValid() async {
        await seededCheck(count: 3000) { seed in
            var g = SeededGenerator(seed: seed)
            let changes = Self.randomBatch(using: &g)
            var bytes = [UInt8](BatchCodec.encode(changes))
            for _ in 0..<Int.random(in: 1...3, using: &g) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &g)
                switch Int.random(in: 0..<4, using: &g) {
                case 0: bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &g))
                case 1: bytes = Array(bytes.prefix(at))
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &g), at: at)
                default: bytes[at] = UInt8.random(in: 0...255, using: &g)
                }
            }
            if let decoded = try? BatchCodec.decode(Data(bytes), count: changes.count, schema: .siteSync) {
                // Whatever passes the checks re-encodes to changes that decode to themselves.
                for change in decoded {
                    let again = try ChangeCodec.decode(origin: change.dot.replica.rawValue, counter: change.dot.counter,
                                                       payload: ChangeCodec.encode(change), schema: .siteSync)
                    #expect(again == change, "seed \(seed)")
                }
            }
        }
    }

    @Test func aWrongCountIsRefused() throws {
        var g = SeededGenerator(seed: 7)
        var changes: [Change] = []
        while changes.count < 3 { changes = Self.randomBatch(using: &g) }
        let encoded = BatchCodec.encode(changes)
        #expect(throws: WireError.self) { try BatchCodec.decode(encoded, count: changes.count - 1, schema: .siteSync) }
        #expect(throws: WireError.self) { try BatchCodec.decode(encoded, count: changes.count + 1, schema: .siteSync) }
    }

    @Test func aBulkPushCostsAtMost48BytesPerChangeBeyondItsValues() throws {
        // A typical new activity: seven fields, a random UUID, one origin writing in sequence.
        let origin = ReplicaID(rawValue: 0x1234_5678_9ABC_DEF0)
        let activity = Schema.siteSync.collection(named: "activity")!
        var g = SeededGenerator(seed: 1)
        var changes: [Change] = []
        for counter in 1...1000 {
            let field = { (name: String) in activity.field(named: name)!.code }
            changes.append(Change(
                dot: Dot(replica: origin, counter: UInt64(counter)),
                hlc: HLCTimestamp(milliseconds: 1_764_000_000_000 + UInt64(counter / 3), logical: UInt16(counter % 3)),
                record: RecordKey(collection: activity.code, id: RecordID.random(using: &g)), department: "roads",
                context: VersionVector(),
                body: .upsert([
                    .assign(field("project"), .ref("p-\(counter % 50)")), .assign(field("name"), .text("Activity \(counter)")),
                    .assign(field("budget"), .decimal(ExactDecimal(Int64(counter * 1000)))),
                    .assign(field("budget_quantity"), .decimal(ExactDecimal(500))), .assign(field("unit"), .text("m3")),
                    .assign(field("planned_start"), .date(CalendarDate("2026-03-01")!)),
                    .assign(field("planned_finish"), .date(CalendarDate("2026-09-30")!)),
                ])))
        }
        let bytes = BatchCodec.encode(changes).count
        let values = changes.map(BatchCodec.valueBytes).reduce(0, +)
        let overhead = Double(bytes - values) / Double(changes.count)
        #expect(overhead <= 48, "\(overhead) bytes per change beyond the values")
    }
}
