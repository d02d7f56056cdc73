import Testing
@testable import SiteSyncCore

/// Each merge rule of docs/design.md §3.2 on concurrent writes by two replicas, merged both ways.
@Suite struct MergeRuleTests {
    static let key = RecordKey(collection: 1, id: "r1")
    static func field(_ name: String) -> FieldSpec { sample.field(named: name)! }

    /// Two replicas start from a shared state, each writes once concurrently, then they
    /// exchange; both must show the same value, which is returned.
    static func concurrent(
        base: [FieldWrite] = [], left: Change.Body, right: Change.Body,
        leftClock: UInt64 = 1_000, rightClock: UInt64 = 2_000
    ) throws -> (RecordState, RecordState) {
        var a = SimReplica(id: ReplicaID(rawValue: 1), wallClock: { leftClock })
        var b = SimReplica(id: ReplicaID(rawValue: 2), wallClock: { rightClock })
        if !base.isEmpty {
            let seed = a.write(key, .upsert(base))
            try b.receive(seed)
        }
        let x = a.write(key, left)
        let y = b.write(key, right)
        try a.receive(y)
        try b.receive(x)
        #expect(a.state(key) == b.state(key))
        return (a.state(key), b.state(key))
    }

    static func assign(_ name: String, _ value: FieldValue, tag: UInt32 = 0) -> Change.Body {
        .upsert([.assign(field(name).code, value, tag: tag)])
    }

    @Test func lastWriterWinsByHybridClockAndKeepsTheLoser() throws {
        let (state, _) = try Self.concurrent(left: Self.assign("title", .text("early")), right: Self.assign("title", .text("late")))
        let resolution = Self.field("title").resolve(state.versions(of: 1))
        #expect(resolution.value == .text("late"))
        #expect(resolution.conflict == .auto)
        #expect(resolution.losers.map(\.value) == [.text("early")])
    }

    @Test func multiValueKeepsBothAndStaysOpen() throws {
        let (state, _) = try Self.concurrent(left: Self.assign("notes", .text("a")), right: Self.assign("notes", .text("b")))
        #expect(state.versions(of: 2).map(\.value) == [.text("a"), .text("b")])
        #expect(Self.field("notes").resolve(state.versions(of: 2)).conflict == .open)
        #expect(CanonicalRecord.json(state, in: sample).canonicalText.contains("\"siblings\""))
    }

    @Test func maxTakesTheGreaterAndMinTheSmaller() throws {
        let (crew, _) = try Self.concurrent(left: Self.assign("crew", .int(9)), right: Self.assign("crew", .int(4)))
        #expect(crew.value(of: Self.field("crew")) == .int(9))
        let d1 = CalendarDate("2026-11-02")!, d2 = CalendarDate("2026-11-05")!
        let (started, _) = try Self.concurrent(left: Self.assign("started", .date(d2)), right: Self.assign("started", .date(d1)))
        #expect(started.value(of: Self.field("started")) == .date(d1))
    }

    @Test func minIgnoresAConcurrentClear() throws {
        let d = CalendarDate("2026-11-02")!
        let (state, _) = try Self.concurrent(left: Self.assign("started", .date(d)), right: Self.assign("started", .null))
        #expect(state.value(of: Self.field("started")) == .date(d))
    }

    @Test func epochMaxLetsACorrectionDownwardsWinOverConcurrentRaises() throws {
        let percent = Self.field("percent")
        let base: [FieldWrite] = [.assign(percent.code, .decimal(ExactDecimal(60)))]
        // A raise to 80 in epoch 0 against a correction down to 40 in epoch 1.
        let (state, _) = try Self.concurrent(base: base, left: Self.assign("percent", .decimal(ExactDecimal(80)), tag: 0),
                                             right: Self.assign("percent", .decimal(ExactDecimal(40)), tag: 1))
        #expect(state.value(of: percent) == .decimal(ExactDecimal(40)))
        // Two raises in the same epoch: the higher wins.
        let (raised, _) = try Self.concurrent(base: base, left: Self.assign("percent", .decimal(ExactDecimal(70))),
                                              right: Self.assign("percent", .decimal(ExactDecimal(90))))
        #expect(raised.value(of: percent) == .decimal(ExactDecimal(90)))
    }

    @Test func plannedTagsBumpTheEpochOnlyForDecreases() {
        let percent = Self.field("percent")
        let current = [FieldVersion(field: percent.code, dot: Dot(replica: ReplicaID(rawValue: 1), counter: 1), hlc: .zero, value: .decimal(ExactDecimal(60)), tag: 2)]
        #expect(LocalWritePlanner.tag(for: .decimal(ExactDecimal(70)), spec: percent, versions: current) == 2)
        #expect(LocalWritePlanner.tag(for: .decimal(ExactDecimal(50)), spec: percent, versions: current) == 3)
    }

    @Test func stateMachineForwardWinsAndAReopenStartsANewCycle() throws {
        let status = Self.field("status")
        let (forward, _) = try Self.concurrent(left: Self.assign("status", .symbol("doing")), right: Self.assign("status", .symbol("done")))
        #expect(forward.value(of: status) == .symbol("done"))
        // Reopen (done → open bumps the cycle) concurrent with another "done": the reopen wins.
        let base: [FieldWrite] = [.assign(status.code, .symbol("done"))]
        let (reopened, _) = try Self.concurrent(base: base, left: Self.assign("status", .symbol("open"), tag: 1),
                                                right: Self.assign("status", .symbol("done")))
        #expect(reopened.value(of: status) == .symbol("open"))
    }

    @Test func setAddWinsOverAConcurrentRemove() throws {
        let tags = Self.field("tags")
        let base: [FieldWrite] = [FieldWrite(field: tags.code, .updateSet(add: ["a", "b"], remove: []))]
        let (state, _) = try Self.concurrent(
            base: base,
            left: .upsert([FieldWrite(field: tags.code, .updateSet(add: [], remove: ["a"]))]),
            right: .upsert([FieldWrite(field: tags.code, .updateSet(add: ["a", "c"], remove: []))]))
        #expect(state.value(of: tags) == .set(["a", "b", "c"]))
        // A remove that saw the element removes it; other elements are untouched.
        let (removed, _) = try Self.concurrent(
            base: base,
            left: .upsert([FieldWrite(field: tags.code, .updateSet(add: [], remove: ["a"]))]),
            right: .upsert([FieldWrite(field: tags.code, .updateSet(add: ["c"], remove: []))]))
        #expect(removed.value(of: tags) == .set(["b", "c"]))
    }

    @Test func immutableKeepsTheFirstValueAndFlagsADifferentOne() throws {
        let code = Self.field("code")
        let (state, _) = try Self.concurrent(left: Self.assign("code", .text("R-1")), right: Self.assign("code", .text("R-2")))
        let resolution = code.resolve(state.versions(of: code.code))
        #expect(resolution.value == .text("R-1"))
        #expect(resolution.conflict == .open)
        // A later write that saw the value cannot overwrite it with another one.
        var a = SimReplica(id: ReplicaID(rawValue: 1))
        a.write(Self.key, Self.assign("code", .text("R-1")))
        a.write(Self.key, Self.assign("code", .text("R-9")))
        #expect(code.resolve(a.state(Self.key).versions(of: code.code)).value == .text("R-1"))
        #expect(a.state(Self.key).versions(of: code.code).count == 2)
    }

    @Test func anEditConcurrentWithADeleteKeepsTheRecordAndFlagsTheDelete() throws {
        let base: [FieldWrite] = [.assign(1, .text("kept")), .assign(3, .int(2))]
        let (state, _) = try Self.concurrent(base: base, left: .delete, right: Self.assign("crew", .int(5)))
        #expect(!state.isDeleted)
        #expect(state.hasLostDeletion)
        #expect(state.value(of: Self.field("title")) == .text("kept"))
        #expect(state.value(of: Self.field("crew")) == .int(5))
        #expect(state.conflictCount(in: sample) == 1)
    }

    @Test func aDeleteThatSawEveryEditDeletesAndALaterWriteRecreates() throws {
        var a = SimReplica(id: ReplicaID(rawValue: 1))
        a.write(Self.key, Self.assign("title", .text("x")))
        a.write(Self.key, .delete)
        #expect(a.state(Self.key).isDeleted)
        a.write(Self.key, .upsert([.assign(1, .text("again"), supersede: true)]))
        #expect(!a.state(Self.key).isDeleted)
        #expect(a.state(Self.key).tombstones.isEmpty)
    }

    @Test func theRiakScenarioLeavesAtMostTwoSiblingsNotOneHundredAndOne() throws {
        // Two writers interleave 101 writes, each with the stale context of its own last
        // write; the hub merges them all. Dots per value keep only the true concurrency.
        var a = SimReplica(id: ReplicaID(rawValue: 1)), b = SimReplica(id: ReplicaID(rawValue: 2))
        var hub = SimReplica(id: ReplicaID(rawValue: 3))
        for n in 0..<101 {
            let writer = n % 2 == 0
            let change = writer ? a.write(Self.key, Self.assign("notes", .text("a\(n)")))
                                : b.write(Self.key, Self.assign("notes", .text("b\(n)")))
            try hub.receive(change)
            #expect(hub.state(Self.key).versions(of: 2).count <= 2)
        }
        #expect(hub.state(Self.key).versions(of: 2).map(\.value) == [.text("a100"), .text("b99")])
    }

    @Test func aCausallyLaterWriteWinsFromADeviceWhoseClockIsADayBehind() throws {
        let day: UInt64 = 86_400_000
        var ahead = SimReplica(id: ReplicaID(rawValue: 9), wallClock: { 1_700_000_000_000 + day })
        var behind = SimReplica(id: ReplicaID(rawValue: 1), wallClock: { 1_700_000_000_000 })
        var third = SimReplica(id: ReplicaID(rawValue: 5), wallClock: { 1_700_000_000_000 })
        let first = ahead.write(Self.key, Self.assign("title", .text("first")))
        try behind.receive(first)
        let second = behind.write(Self.key, Self.assign("title", .text("second")))
        #expect(second.hlc < first.hlc, "the later write carries the smaller timestamp")
        try third.receive(first)
        try third.receive(second)
        try ahead.receive(second)
        for replica in [ahead, behind, third] {
            #expect(replica.state(Self.key).value(of: Self.field("title")) == .text("second"))
            #expect(replica.state(Self.key).versions(of: 1).count == 1)
        }
    }
}
