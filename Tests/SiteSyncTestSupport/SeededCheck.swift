import Foundation
import Testing

/// Runs `body` for `count` random seeds, recording an error it throws as a failure that names
/// the seed. Set `SITESYNC_TEST_SEED` to run one seed again (the one a failure named).
///
/// It replaces `propertyCheck` of swift-property-based 2.0.1 for seeded schedules: that one
/// drops an error its body throws (it runs the body under `try?`), so a property whose check
/// threw half-way passed silently; and it "shrinks" a failing seed into unrelated schedules,
/// minutes of runs that explain nothing. The `#expect`s in `body` name their seed themselves.
public func seededCheck(count: Int, sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: (UInt64) async throws -> Void) async {
    let seeds = ProcessInfo.processInfo.environment["SITESYNC_TEST_SEED"].flatMap { UInt64($0) }.map { [$0] }
        ?? (0..<count).map { _ in UInt64.random(in: 0...UInt64.max) }
    for seed in seeds {
        do {
            try await body(seed)
        } catch {
            Issue.record("seed \(seed) (run it again with SITESYNC_TEST_SEED=\(seed)): \(error)", sourceLocation: sourceLocation)
        }
    }
}
