import Testing
@testable import SiteSyncCore

@Suite struct HLCTests {
    @Test func ticksAlwaysRiseEvenWhenTheWallClockStandsStillOrJumpsBack() {
        let times: [UInt64] = [1000, 1000, 999, 500, 2000, 2000]
        nonisolated(unsafe) var index = 0
        var clock = HybridLogicalClock(wallClock: { defer { index = min(index + 1, times.count - 1) }; return times[index] })
        var previous = HLCTimestamp.zero
        for _ in 0..<times.count {
            let now = clock.tick()
            #expect(now > previous)
            previous = now
        }
    }

    @Test func observingAFutureTimestampWithinTheDriftAdvancesTheClock() {
        var clock = HybridLogicalClock(maxDriftMilliseconds: 1000, wallClock: { 10_000 })
        #expect(clock.observe(HLCTimestamp(milliseconds: 10_500, logical: 3)) == nil)
        #expect(clock.tick() == HLCTimestamp(milliseconds: 10_500, logical: 4))
    }

    @Test func aTimestampFarAheadIsClampedAndItsLeadReported() {
        var clock = HybridLogicalClock(maxDriftMilliseconds: 1000, wallClock: { 10_000 })
        let lead = clock.observe(HLCTimestamp(milliseconds: 10_000 + 86_400_000, logical: 0))
        #expect(lead == 86_400_000)
        #expect(clock.tick().milliseconds == 11_000)
    }
}
