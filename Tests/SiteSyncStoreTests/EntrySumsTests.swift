import SiteSyncCore
@testable import SiteSyncStore
import SiteSyncTestSupport
import Testing

/// The reports' one-pass exact sums of entries agree with adding the same entries one by one
/// as exact decimals, whatever the amounts (negative corrections, zero to nine decimals, 18
/// digits) and the order they were written in.
@Suite struct EntrySumsTests {
    @Test func onePassSumsEqualExactDecimalSumsByCutOff() async {
        await seededCheck(count: 8) { seed in
            var g = SeededGenerator(seed: seed)
            let office = try TestReplica(name: "office")
            try seedPlan(office, sendTo: [])
            let cutOffs = ["2026-03-10", "2026-03-20", "2026-03-31"]
            var expected: [String: [ExactDecimal]] = [:]
            for n in 0..<Int.random(in: 50...200, using: &g) {
                let activity = ["a1", "a2"].randomElement(using: &g)!
                let day = "2026-03-\(String(format: "%02d", Int.random(in: 1...31, using: &g)))"
                let decimals = Int.random(in: 0...9, using: &g)
                // At most a million before the point: 200 of them with nine decimals still fit 18 digits.
                let digits = Int.random(in: 1...(decimals + 6), using: &g)
                var significand = Int64.random(in: 0..<Self.pow10(digits), using: &g)
                if Bool.random(using: &g) { significand = -significand }
                let amount = try #require(ExactDecimal(normalizing: Int128(significand), scale: decimals))
                try office.put("quantity_entry", nil, "activity=\(activity)", "date=\(day)", "quantity=\(amount)", "note=\(n)")
                guard let bucket = cutOffs.firstIndex(where: { day <= $0 }) else { continue }
                var sums = expected[activity] ?? [.zero, .zero, .zero]
                sums[bucket] = try sums[bucket].plus(amount)
                expected[activity] = sums
            }
            let sums = try office.store.entrySums(table: "quantity_entry", amount: "quantity", cutOffs: cutOffs)
            #expect(Set(sums.keys) == Set(expected.keys))
            for (activity, want) in expected {
                let got = try #require(sums[activity]).billionths.map { ExactDecimal(normalizing: $0, scale: 9) }
                #expect(got == want.map { Optional($0) }, "seed \(seed): \(activity)")
            }
        }
    }

    /// The forecasts' weekly sums are, bit for bit, what adding each row's `Double(amount) / 1e9`
    /// to its activity's week in a dictionary gives, over the same rows in the same order (a run
    /// of one activity's rows at a time, as the pass always added them): the faster pass changes
    /// no forecast. Amounts past an `Int64` of billionths (ten billion and
    /// more) take the other conversion; activities interleave and dates come in any order.
    @Test func weeklySumsAreTheRowsAddedOneByOne() async {
        await seededCheck(count: 6) { seed in
            var g = SeededGenerator(seed: seed)
            let office = try TestReplica(name: "office")
            try seedPlan(office, sendTo: [])
            for n in 0..<Int.random(in: 80...200, using: &g) {
                let activity = n % 17 < 12 ? "a1" : ["a1", "a2"].randomElement(using: &g)!
                let day = "2026-\(["02", "03"].randomElement(using: &g)!)-\(String(format: "%02d", Int.random(in: 1...28, using: &g)))"
                let amount: String
                switch Int.random(in: 0..<4, using: &g) {
                case 0: amount = "\(Int.random(in: 10_000_000_000...99_999_999_999, using: &g)).\(Int.random(in: 1...9, using: &g))"
                case 1: amount = "-0.\(Int.random(in: 1...999_999_999, using: &g))"
                default: amount = "\(Int.random(in: 0...500, using: &g)).\(Int.random(in: 1...99, using: &g))"
                }
                try office.put("quantity_entry", nil, "activity=\(activity)", "date=\(day)", "quantity=\(amount)", "note=\(n)")
            }
            let (got, want) = try office.store.reading { reader in
                // Each run of one activity's rows summed by week from zero, then added to what
                // its earlier runs summed.
                var want: [String: [Int: Double]] = [:], run: [Int: Double] = [:], runOf = ""
                func endRun() { for (week, value) in run { want[runOf, default: [:]][week, default: 0] += value } }
                try ReplicaStore.forEachEntry(reader.db, table: "quantity_entry", amount: "quantity", upTo: "2026-03-20",
                                              restriction: nil) { activity, stamp, amount in
                    let key = String(decoding: activity, as: UTF8.self)
                    if key != runOf { endRun(); (run, runOf) = ([:], key) }
                    let day = CalendarDate(year: stamp / 10_000, month: stamp / 100 % 100, day: stamp % 100)!.daysSinceEpoch
                    run[day - ((day + 3) % 7 + 7) % 7, default: 0] += Double(amount) / 1e9
                }
                endRun()
                return (try reader.weeklySums(table: "quantity_entry", amount: "quantity", upTo: "2026-03-20"), want)
            }
            #expect(got.mapValues(\.weeks) == want, "seed \(seed)")
            #expect(got.values.contains { $0.weeks.values.contains { abs($0) > Double(Int64.max) / 1e9 } }, "some sums past an Int64 of billionths")
        }
    }

    @Test func onlyCanonicalAmountsAreRead() {
        func read(_ text: String) -> Int128? {
            var text = text
            return text.withUTF8 { ReplicaStore.billionths($0) }
        }
        #expect(read("12.5") == 12_500_000_000 && read("-0.000000001") == -1 && read("300") == 300_000_000_000)
        #expect(read("999999999999999999") == Int128(999_999_999_999_999_999) * 1_000_000_000)
        #expect(read("1.0000000001") == nil, "ten decimals")
        #expect(read("1e3") == nil && read("") == nil && read("-") == nil && read("1.2.3") == nil && read("1234567890123456789") == nil)
    }

    static func pow10(_ n: Int) -> Int64 { (0..<n).reduce(Int64(1)) { value, _ in value * 10 } }
}

