import Foundation
import SiteSyncTestSupport
import Testing

/// The whole fleet under seeded faults (``FleetSimulation``): every run must end converged.
///
/// The test command runs `SITESYNC_SIM_SEEDS` runs (2,000 by default), in four parallel shares;
/// a failure names its seed and the command that replays it alone. A long run:
/// `SITESYNC_SIM_SEEDS=50000 swift test --filter FleetSimulationTests`.
@Suite struct FleetSimulationTests {
    static let seeds = ProcessInfo.processInfo.environment["SITESYNC_SIM_SEEDS"].flatMap { Int($0) } ?? 2_000
    static let shares = 4

    @Test(arguments: 0..<shares)
    func everyRunEndsConvergedWhateverTheFaults(share: Int) async {
        // A replay (`SITESYNC_TEST_SEED`) runs its one seed once.
        if ProcessInfo.processInfo.environment["SITESYNC_TEST_SEED"] != nil, share > 0 { return }
        let template = FleetTemplate.shared
        let count = Self.seeds / Self.shares + (share < Self.seeds % Self.shares ? 1 : 0)
        await seededCheck(count: count) { seed in
            let t0 = Date()
            var simulation = try FleetSimulation(seed: seed, template: template)
            let t1 = Date()
            try simulation.run(duration: 60_000, faults: true)
            let t2 = Date()
            let broken = try simulation.verdict()
            if ProcessInfo.processInfo.environment["SITESYNC_SIM_TRACE"] != nil {
                print("seed \(seed): copy \(t1.timeIntervalSince(t0)) run \(t2.timeIntervalSince(t1)) verdict \(Date().timeIntervalSince(t2)) rounds \(simulation.roundsFinished) writes \(simulation.nodes.map(\.written.count)) cut \(simulation.nodes.map(\.isCutOff))")
            }
            #expect(broken.isEmpty, """
                \(broken.joined(separator: "\n"))
                replay: SITESYNC_TEST_SEED=\(seed) swift test --filter FleetSimulationTests
                """)
        }
    }
}
