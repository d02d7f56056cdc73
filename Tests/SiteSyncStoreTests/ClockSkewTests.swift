import Foundation
import SiteSyncTestSupport
import Synchronization
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore

/// Wall clocks never decide causality (docs/design.md §10.5): the same schedule of
/// writes and exchanges, run once with correct clocks and once with every device's clock off by
/// up to ±30 days and jumping back by up to an hour now and then, ends with the same versions of
/// every field everywhere, and the same values — except where truly concurrent writes of
/// different values are told apart by their clocks (`lww`; the value `mv` shows first, both
/// kept; the first writer of an `immutable` field), which must still agree on every replica.
@Suite struct ClockSkewTests {
    /// Virtual time, and each device's offset from it.
    final class Clocks: Sendable {
        let now = Mutex<UInt64>(1_780_000_000_000)
        let offsets: Mutex<[Int64]>

        init(count: Int) { offsets = Mutex(Array(repeating: 0, count: count)) }

        func clock(_ index: Int) -> @Sendable () -> UInt64 {
            { [self] in
                let base = Int64(now.withLock { $0 })
                return UInt64(max(0, base + offsets.withLock { $0[index] }))
            }
        }
    }

    /// One write, the same in both runs: ids never depend on a clock.
    static func write<G: RandomNumberGenerator>(_ replica: TestReplica, office: Bool, using g: inout G) {
        let activity = ["a1", "a2"].randomElement(using: &g)!
        let date = "2026-11-0\(Int.random(in: 1...3, using: &g))"
        let text = ["x", "y", "z"].randomElement(using: &g)!
        let number = Int.random(in: 0...4, using: &g)
        switch Int.random(in: 0..<9, using: &g) {
        case 0: _ = try? replica.put("percent_entry", nil, "activity=\(activity)", "date=\(date)", "percent=\(number * 25)")
        // One finish date for all, so that no write's value check depends on which concurrent
        // finish date a clock made win.
        case 1: _ = try? replica.put("activity", activity, "status=\(["in_progress", "completed"][number % 2])", "actual_start=\(date)",
                                     "actual_finish=2026-11-03")
        case 2: _ = try? replica.put("activity", activity, "actual_start=\(date)")
        case 3: _ = try? replica.put("activity", activity, "remarks=\(text)")
        case 4: _ = try? replica.put("daily_log", nil, "project=p1", "date=\(date)", "crew_count=\(number + 1)", "weather=\(text)")
        case 5: _ = try? replica.put("issue", "i1", "assignees+=\(text)", "priority=\(["low", "high"][number % 2])")
        case 6: _ = try? replica.put("issue", "i1", "assignees-=\(text)")
        case 7: _ = try? replica.delete("issue", "i1")
        default: if office { _ = try? replica.put("activity", activity, "name=\(text)", "budget=\(number + 1)000") }
        }
    }

    /// Runs the schedule of `seed` on four replicas; with `skewed`, their clocks are off.
    static func run(seed: UInt64, skewed: Bool) throws -> [TestReplica] {
        var g = SeededGenerator(seed: seed)
        // The skew draws come from their own generator, so both runs make the same writes.
        var skew = SeededGenerator(seed: seed ^ 0x5EED)
        let clocks = Clocks(count: 4)
        let day: Int64 = 86_400_000
        if skewed {
            clocks.offsets.withLock { offsets in
                for index in offsets.indices { offsets[index] = Int64.random(in: -30 * day...30 * day, using: &skew) }
            }
        }
        let office = try TestReplica(name: "office", role: .office, clock: clocks.clock(0))
        let sites = try (1...3).map { try TestReplica(name: "site-\($0)", role: .field, clock: clocks.clock($0)) }
        let replicas = [office] + sites
        try seedPlan(office, sendTo: sites)
        try office.put("issue", "i1", "project=p1", "title=Drain blocked", "opened_on=2026-11-01")
        for site in sites { try office.send(to: site) }
        for _ in 0..<90 {
            clocks.now.withLock { $0 += 1_000 }
            if skewed && Int.random(in: 0..<10, using: &skew) == 0 {
                // A device's clock jumps back (a dead battery, a manual correction).
                let index = Int.random(in: 0..<4, using: &skew)
                clocks.offsets.withLock { $0[index] -= Int64.random(in: 1...3_600_000, using: &skew) }
            }
            if Int.random(in: 0..<3, using: &g) == 0 {
                let from = Int.random(in: 0..<4, using: &g), to = Int.random(in: 0..<4, using: &g)
                if from != to { try replicas[from].send(to: replicas[to]) }
            } else {
                let index = Int.random(in: 0..<4, using: &g)
                write(replicas[index], office: index == 0, using: &g)
            }
        }
        for _ in 0..<2 { for from in replicas { for to in replicas where to.store.identity != from.store.identity { try from.send(to: to) } } }
        return replicas
    }

    /// A field version as both runs can compare it: by node, not by replica id (each run makes
    /// its own keys).
    struct Version: Hashable {
        let node: String
        let counter: UInt64
        let value: FieldValue
    }

    struct Field: Hashable {
        let record: RecordKey
        let field: UInt16
    }

    static func fields(_ replica: TestReplica, names: [ReplicaID: String]) throws -> [Field: (versions: Set<Version>, value: FieldValue, rule: MergeRule)] {
        var result: [Field: (Set<Version>, FieldValue, MergeRule)] = [:]
        for collection in Schema.siteSync.collections {
            for state in try replica.store.records(in: collection, includeDeleted: true) {
                for spec in collection.fields {
                    let versions = Set(state.versions(of: spec.code).map { Version(node: names[$0.dot.replica] ?? "?", counter: $0.dot.counter, value: $0.value) })
                    guard !versions.isEmpty else { continue }
                    result[Field(record: state.key, field: spec.code)] = (versions, state.isDeleted ? .null : state.value(of: spec), spec.rule)
                }
            }
        }
        return result
    }

    @Test func skewedAndJumpingClocksGiveTheSameVersionsAndValuesAsCorrectClocks() async {
        await seededCheck(count: 12) { seed in
            let correct = try Self.run(seed: seed, skewed: false)
            let skewed = try Self.run(seed: seed, skewed: true)
            // Everywhere the same, with skewed clocks too.
            let digest = try skewed[0].store.digest(department: "roads")
            for replica in skewed.dropFirst() {
                #expect(try replica.store.digest(department: "roads") == digest, "seed \(seed): \(replica.store.identity.node) differs")
            }
            let expected = try Self.fields(correct[0], names: correct[0].store.replicaNames())
            let actual = try Self.fields(skewed[0], names: skewed[0].store.replicaNames())
            #expect(Set(expected.keys) == Set(actual.keys), "seed \(seed): not the same fields written")
            var ties = 0
            for (field, want) in expected {
                guard let got = actual[field] else { continue }
                #expect(got.versions == want.versions, "seed \(seed): \(field) holds other versions with skewed clocks")
                if [.lww, .mv, .immutable].contains(want.rule) && Set(want.versions.map(\.value)).count > 1 {
                    ties += 1
                    continue
                }
                #expect(got.value == want.value, "seed \(seed): \(field) (\(want.rule)) shows \(got.value), not \(want.value)")
            }
            _ = ties
        }
    }
}
