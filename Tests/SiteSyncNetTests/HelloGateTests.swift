import Testing
@testable import SiteSyncCore

/// The per-node Hello rate of a listener (protocol/README.md §15), on a clock the test drives.
@Suite struct HelloGateTests {
    @Test func aNodeGetsItsBurstThenItsRateAndIsToldWhenToComeBack() {
        var gate = HelloGate(limits: NodeAdmissionLimits(sessionsPerNode: 4, helloBurst: 3, hellosPerSecond: 2))
        for _ in 0..<3 { #expect(gate.hello(from: "w1", now: 1_000) == .admitted) }
        // Over: refused, come back when a token is due (half a second at 2 a second).
        #expect(gate.hello(from: "w1", now: 1_000) == .refused(retryAfterMilliseconds: 500, report: 1))
        #expect(gate.hello(from: "w1", now: 1_100) == .refused(retryAfterMilliseconds: 400, report: nil))
        #expect(gate.hello(from: "w1", now: 1_500) == .admitted)
        // Another node has its own bucket.
        #expect(gate.hello(from: "r1", now: 1_500) == .admitted)
    }

    @Test func refusalsAreReportedOnceInTenSecondsWithHowManyThereWere() {
        var gate = HelloGate(limits: NodeAdmissionLimits(helloBurst: 1, hellosPerSecond: 0.05))
        #expect(gate.hello(from: "w1", now: 0) == .admitted)
        #expect(gate.hello(from: "w1", now: 0) == .refused(retryAfterMilliseconds: 20_000, report: 1))
        for now in stride(from: UInt64(1_000), through: 5_000, by: 1_000) {
            guard case .refused(_, nil) = gate.hello(from: "w1", now: now) else {
                Issue.record("refused Hellos reported again within 10 s, or one let in")
                return
            }
        }
        #expect(gate.hello(from: "w1", now: 10_000) == .refused(retryAfterMilliseconds: 10_000, report: 6))
    }

    @Test func aRestedNodeIsForgotten() {
        var gate = HelloGate(limits: NodeAdmissionLimits(helloBurst: 10, hellosPerSecond: 2))
        for node in ["a", "b", "c"] { _ = gate.hello(from: node, now: 0) }
        for _ in 0..<10 { _ = gate.hello(from: "c", now: 4_000) }
        #expect(gate.trackedNodes == 3)
        // a and b, one Hello each, are full again by 5 s; c, which spent all at 4 s, is not.
        gate.forgetRested(now: 5_000)
        #expect(gate.trackedNodes == 1)
        gate.forgetRested(now: 9_600)
        #expect(gate.trackedNodes == 0)
    }

    @Test func theRefusalsSayWhoWhyAndWhen() {
        let limits = NodeAdmissionLimits(sessionsPerNode: 4, helloBurst: 10, hellosPerSecond: 2)
        let rate = HelloGate.rateReason(node: "w1", limits: limits, retryAfterMilliseconds: 1_200)
        #expect(rate.hasPrefix("too many sessions from w1") && rate.contains("10 Hellos at once or 2 per second") && rate.contains("retry in 2 s"))
        #expect(HelloGate.capReason(node: "w1", limits: limits).contains("4 are open at once and busy"))
    }
}
