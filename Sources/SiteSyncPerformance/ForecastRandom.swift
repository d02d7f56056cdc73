import Foundation

/// The random numbers of the completion forecasts (docs/design.md §17): seeded, so that a
/// forecast is reproducible to the last digit, and fast, so that 10,000 runs over a city's
/// activities take well under the two seconds the forecasts are allowed.

/// SplitMix64 (Steele, Lea and Flood, 2014): a 64-bit state stepped by the golden-ratio
/// increment and mixed by two multiply-xorshifts. One addition and three multiplications a
/// number; it passes BigCrush. Written out here so that the stream never depends on the
/// platform's or the standard library's generator.
public struct SplitMix64: Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seed of one project's stream: the forecast's seed mixed with the project's id
    /// (FNV-1a), so a project forecast alone draws exactly what it draws inside the city's
    /// forecast, whatever other projects the node holds.
    public static func streamSeed(_ seed: UInt64, _ id: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        var mixer = SplitMix64(seed: seed ^ hash)
        return mixer.next()
    }
}

/// Standard normal quantiles.
public enum Normal {
    /// Φ⁻¹(p) for 0 < p < 1, by Acklam's rational approximation (relative error below
    /// 1.2 × 10⁻⁹): the activities' own percentiles, and the table the runs draw from.
    public static func quantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "a normal quantile needs 0 < p < 1")
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
                 -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
                 -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
                 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        if p > 1 - low { return -quantile(1 - p) }
        let q = p - 0.5, r = q * q
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }

    /// Bits of a random number that pick one of ``table``'s entries.
    public static let tableBits = 12

    /// Φ⁻¹((i + ½) / 4096) for i = 0 … 4095: a run's normal draw is one entry picked by 12
    /// random bits, a table look-up instead of a logarithm and a cosine (Box–Muller). The
    /// draws are the 4,096 equally likely quantiles of the normal, so they reach ±3.5 σ and no
    /// further; a P95 read off 10,000 runs is off by its sampling error (about 0.002 in
    /// probability) long before it is off by the table's step (1/4096).
    public static let table: [Double] = (0..<(1 << tableBits)).map { quantile((Double($0) + 0.5) / Double(1 << tableBits)) }
}
