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
            var simulation = try FleetSimulation(seed: seed, template: template)
            try simulation.run(duration: 60_000, faults: true)
            let broken = try simulation.verdict()
            if FleetSimulation.tracing {
                print("seed \(seed): \(simulation.roundsFinished) rounds, \(simulation.restores) backups put back, writes per node "
                      + "\(simulation.nodes.map(\.written.count)), cut off \(simulation.nodes.filter(\.isCutOff).map(\.name))")
            }
            #expect(broken.isEmpty, """
                \(broken.joined(separator: "\n"))
                replay: SITESYNC_TEST_SEED=\(seed) swift test --filter FleetSimulationTests
                """)
        }
    }

    /// Seeds that once ended unconverged, run every time: a hub keeping the seal of a change it
    /// refused for a reused id (the office behind it refused the chain as altered), and a node
    /// copied back by hand that pulled the hub's content of its reused ids before it pushed
    /// (it refused them as a receiver, and kept refusing them after its new epoch).
    @Test(arguments: [8_210_686_291_859_007_545, 16_362_131_523_625_368_979] as [UInt64])
    func runsThatOnceFailedEndConverged(seed: UInt64) throws {
        var simulation = try FleetSimulation(seed: seed, template: FleetTemplate.shared)
        try simulation.run(duration: 60_000, faults: true)
        let broken = try simulation.verdict()
        #expect(broken.isEmpty, "\(broken.joined(separator: "\n"))")
    }
}
