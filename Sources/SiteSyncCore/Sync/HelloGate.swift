import Foundation

/// What one node may open at a listener, so that one node's flood of Hellos cannot starve the
/// others (protocol/README.md §15). A node is its authenticated key's name; in plaintext, the
/// name its Hello claims.
public struct NodeAdmissionLimits: Sendable, Equatable {
    /// Sessions one node may hold open at once. A Hello beyond it closes that node's session
    /// heard from least recently among those waiting on the client (an abandoned one, as a rule);
    /// when every one is busy with store work, the Hello is refused (503).
    public var sessionsPerNode: Int
    /// Hellos one node may send at once before the rate applies (the token bucket's size).
    public var helloBurst: Int
    /// Hellos per second one node may go on sending after its burst; the rest are refused with
    /// 503 before the store is touched.
    public var hellosPerSecond: Double

    public init(sessionsPerNode: Int = 4, helloBurst: Int = 10, hellosPerSecond: Double = 2) {
        self.sessionsPerNode = max(1, sessionsPerNode)
        self.helloBurst = max(1, helloBurst)
        self.hellosPerSecond = max(0.01, hellosPerSecond)
    }
}

/// The Hello rate limit of a listener: a token bucket per node. Owned by the listener's loop
/// thread; costs one dictionary look-up per Hello, and no store access.
public struct HelloGate: Sendable {
    public enum Verdict: Sendable, Equatable {
        case admitted
        /// Over the rate: retry after this long. `report` is how many Hellos of this node were
        /// refused since it was last reported, when it is time to log it again (at most every
        /// 10 s per node, so that a flood does not become a flood of log lines).
        case refused(retryAfterMilliseconds: UInt64, report: Int?)
    }

    private struct Bucket: Sendable {
        var tokens: Double
        var refilledAt: UInt64
        var unreported = 0
        var reportedAt: UInt64?
    }

    static let reportEvery: UInt64 = 10_000
    public let limits: NodeAdmissionLimits
    private var buckets: [String: Bucket] = [:]

    public init(limits: NodeAdmissionLimits) {
        self.limits = limits
    }

    /// Takes a token for a Hello from `node` at `now` (monotonic milliseconds), if it has one.
    public mutating func hello(from node: String, now: UInt64) -> Verdict {
        var bucket = refilled(buckets[node] ?? Bucket(tokens: Double(limits.helloBurst), refilledAt: now), now: now)
        defer { buckets[node] = bucket }
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            return .admitted
        }
        let retryAfter = UInt64(((1 - bucket.tokens) / limits.hellosPerSecond * 1000).rounded(.up))
        return .refused(retryAfterMilliseconds: retryAfter, report: Self.count(&bucket, now: now))
    }

    /// Counts a Hello of `node` refused for another reason (its sessions cap).
    /// - Returns: how many were refused since the last report, when it is time to log it again.
    public mutating func refused(_ node: String, now: UInt64) -> Int? {
        guard var bucket = buckets[node] else { return 1 }
        defer { buckets[node] = bucket }
        return Self.count(&bucket, now: now)
    }

    private static func count(_ bucket: inout Bucket, now: UInt64) -> Int? {
        bucket.unreported += 1
        guard bucket.reportedAt.map({ now - $0 >= reportEvery }) ?? true else { return nil }
        defer { bucket.unreported = 0; bucket.reportedAt = now }
        return bucket.unreported
    }

    /// Forgets the nodes whose bucket is full again: they are as if never heard from, and the
    /// gate's memory stays in proportion to the nodes sending now.
    public mutating func forgetRested(now: UInt64) {
        buckets = buckets.filter { refilled($0.value, now: now).tokens < Double(limits.helloBurst) }
    }

    public var trackedNodes: Int { buckets.count }

    private func refilled(_ bucket: Bucket, now: UInt64) -> Bucket {
        var bucket = bucket
        let elapsed = Double(now &- bucket.refilledAt) / 1000
        bucket.tokens = min(Double(limits.helloBurst), bucket.tokens + elapsed * limits.hellosPerSecond)
        bucket.refilledAt = now
        return bucket
    }

    /// The refusal of a Hello over the rate, for the client and its user.
    public static func rateReason(node: String, limits: NodeAdmissionLimits, retryAfterMilliseconds: UInt64) -> String {
        "too many sessions from \(node): over \(limits.helloBurst) Hellos at once or \(formatted(limits.hellosPerSecond)) per second; "
            + "retry in \(seconds(retryAfterMilliseconds)) s (if nothing else runs as \(node), this node's key may be in use elsewhere)"
    }

    /// The refusal of a Hello beyond the sessions cap when every open session is busy.
    public static func capReason(node: String, limits: NodeAdmissionLimits) -> String {
        "too many sessions from \(node): \(limits.sessionsPerNode) are open at once and busy; retry in a few seconds, "
            + "when one has finished"
    }

    private static func seconds(_ milliseconds: UInt64) -> String {
        String(max(1, (milliseconds + 999) / 1000))
    }

    private static func formatted(_ rate: Double) -> String {
        rate == rate.rounded() ? String(Int(rate)) : String(format: "%.2g", rate)
    }
}
