import Testing
@testable import SiteSyncCore

@Suite struct VersionVectorTests {
    static let replicas = [ReplicaID(rawValue: 1), ReplicaID(rawValue: 2), ReplicaID(rawValue: 3)]

    /// Every vector over three replicas with counters 0...2.
    static var allSmallVectors: [VersionVector] {
        var result: [VersionVector] = []
        for a in 0...2 { for b in 0...2 { for c in 0...2 {
            result.append(VersionVector([(replicas[0], UInt64(a)), (replicas[1], UInt64(b)), (replicas[2], UInt64(c))]))
        } } }
        return result
    }

    /// The definition, written the slow obvious way.
    static func referenceCompare(_ x: VersionVector, _ y: VersionVector) -> CausalOrder {
        let lessOrEqual = replicas.allSatisfy { x[$0] <= y[$0] }
        let greaterOrEqual = replicas.allSatisfy { x[$0] >= y[$0] }
        switch (lessOrEqual, greaterOrEqual) {
        case (true, true): return .equal
        case (true, false): return .before
        case (false, true): return .after
        case (false, false): return .concurrent
        }
    }

    @Test func compareAgreesWithBruteForceOverAllSmallVectors() {
        let vectors = Self.allSmallVectors
        #expect(vectors.count == 27)
        for x in vectors {
            for y in vectors {
                #expect(x.compare(y) == Self.referenceCompare(x, y), "\(x) vs \(y)")
            }
        }
    }

    @Test func mergeIsTheLeastUpperBound() {
        for x in Self.allSmallVectors {
            for y in Self.allSmallVectors {
                let m = x.merged(with: y)
                #expect(x.isCovered(by: m) && y.isCovered(by: m))
                for r in Self.replicas { #expect(m[r] == max(x[r], y[r])) }
                #expect(m == y.merged(with: x))
            }
        }
    }

    @Test func zeroCountersAreNotStoredSoEqualVectorsAreEqualValues() {
        let a = VersionVector([(Self.replicas[0], UInt64(0)), (Self.replicas[1], UInt64(2))])
        let b = VersionVector([(Self.replicas[1], UInt64(2))])
        #expect(a == b)
        #expect(a.entries.count == 1)
    }

    @Test func containsMeansTheCounterIsCovered() {
        let v = VersionVector([(Self.replicas[0], UInt64(5))])
        #expect(v.contains(Dot(replica: Self.replicas[0], counter: 5)))
        #expect(!v.contains(Dot(replica: Self.replicas[0], counter: 6)))
        #expect(!v.contains(Dot(replica: Self.replicas[1], counter: 1)))
    }
}
