import PropertyBased
import Testing

/// Runs `body` for `count` random seeds, as `propertyCheck` does, and records an error
/// `body` throws as a failure naming the seed.
///
/// `propertyCheck` of swift-property-based 2.0.1 drops an error its body throws (it runs the
/// body under `try?`), so a property whose check threw half-way passed silently. Every
/// property test goes through here instead.
public func seededCheck(count: Int, sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: (UInt64) async throws -> Void) async {
    await propertyCheck(count: count, input: Gen.uint64(in: 0...UInt64.max)) { seed in
        do {
            try await body(seed)
        } catch {
            Issue.record("seed \(seed): \(error)", sourceLocation: sourceLocation)
        }
    }
}
