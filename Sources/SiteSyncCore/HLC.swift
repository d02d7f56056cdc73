/// A hybrid logical clock timestamp: 48 bits of wall-clock milliseconds since the Unix epoch and
/// a 16-bit logical counter, compared as one 64-bit number.
///
/// HLC time only breaks ties between *concurrent* `lww` writes and is shown to people as "when".
/// It never decides causality: that is the version vectors' job.
public struct HLCTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    public init(milliseconds: UInt64, logical: UInt16) {
        rawValue = (milliseconds << 16) | UInt64(logical)
    }

    /// Wall-clock milliseconds since 1970-01-01T00:00:00Z.
    public var milliseconds: UInt64 { rawValue >> 16 }

    /// The logical part, which orders events within one millisecond.
    public var logical: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    public static let zero = HLCTimestamp(rawValue: 0)

    public static func < (lhs: HLCTimestamp, rhs: HLCTimestamp) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "\(milliseconds).\(logical)" }
}

/// A hybrid logical clock (Kulkarni et al., 2014) with an injected wall clock.
///
/// `tick()` gives a timestamp greater than every timestamp this clock has issued or observed.
/// `observe(_:)` folds in a remote timestamp, except that a remote time further ahead of the local
/// wall clock than `maxDrift` is clamped: one device with a clock a year ahead must not drag every
/// replica's clock a year ahead. Causality stays correct regardless, because it comes from
/// version vectors.
public struct HybridLogicalClock: Sendable {
    /// The greatest timestamp issued or observed.
    public private(set) var last: HLCTimestamp
    /// How far a remote timestamp may lead the local wall clock before it is clamped.
    public let maxDriftMilliseconds: UInt64
    private let wallClock: @Sendable () -> UInt64

    /// Creates a clock.
    /// - Parameters:
    ///   - last: the greatest timestamp known from before (persisted by the store).
    ///   - maxDriftMilliseconds: the clamp for remote timestamps (default 10 minutes).
    ///   - wallClock: milliseconds since the Unix epoch; tests pass a fixed or skewed clock.
    public init(
        last: HLCTimestamp = .zero,
        maxDriftMilliseconds: UInt64 = 10 * 60 * 1000,
        wallClock: @escaping @Sendable () -> UInt64
    ) {
        self.last = last
        self.maxDriftMilliseconds = maxDriftMilliseconds
        self.wallClock = wallClock
    }

    /// The current wall-clock reading in milliseconds.
    public func wallMilliseconds() -> UInt64 { wallClock() }

    /// A new timestamp for a local event.
    public mutating func tick() -> HLCTimestamp {
        let wall = wallClock()
        if wall > last.milliseconds {
            last = HLCTimestamp(milliseconds: wall, logical: 0)
        } else if last.logical == UInt16.max {
            last = HLCTimestamp(milliseconds: last.milliseconds + 1, logical: 0)
        } else {
            last = HLCTimestamp(milliseconds: last.milliseconds, logical: last.logical + 1)
        }
        return last
    }

    /// Folds in a timestamp received from another replica.
    /// - Returns: how far (in milliseconds) the remote time led the local wall clock when it
    ///   had to be clamped, or `nil` when it was taken as it is.
    @discardableResult
    public mutating func observe(_ remote: HLCTimestamp) -> UInt64? {
        let wall = wallClock()
        let ceiling = HLCTimestamp(milliseconds: wall + maxDriftMilliseconds, logical: 0)
        if remote > ceiling {
            if ceiling > last { last = ceiling }
            return remote.milliseconds - wall
        }
        if remote > last { last = remote }
        return nil
    }
}
