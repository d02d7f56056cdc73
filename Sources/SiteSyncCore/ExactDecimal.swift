/// An exact decimal number: `significand × 10^-scale`, for money and physical quantities.
///
/// Binary floating point cannot hold 0.1 exactly, and a budget that drifts by a fraction of a
/// yuan between the hub and a site is a bug report. Values keep up to 18 significant digits and
/// up to 9 digits after the point; they are always normalised (no trailing zeros after the
/// point), so equal numbers have equal representations and one canonical text form.
public struct ExactDecimal: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let significand: Int64
    public let scale: UInt8

    public static let maxScale: UInt8 = 9
    public static let zero = ExactDecimal(normalizing: 0, scale: 0)!

    /// Creates a normalised value, or `nil` when it does not fit.
    public init?(normalizing significand: Int128, scale: Int) {
        var s = significand, k = scale
        while k > 0 && s % 10 == 0 {
            s /= 10; k -= 1
        }
        guard k >= 0, k <= Int(Self.maxScale), let narrow = Int64(exactly: s) else { return nil }
        self.significand = narrow
        self.scale = UInt8(k)
    }

    public init(_ integer: Int64) {
        self.init(normalizing: Int128(integer), scale: 0)!
    }

    /// Parses `-12.50`, `3`, `0.125`: an optional sign, digits, and an optional fraction.
    /// No exponent, spaces, grouping separators or a bare point.
    public init?(_ text: String) {
        var utf8 = Substring(text).utf8[...]
        var negative = false
        if let first = utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            utf8 = utf8.dropFirst()
        }
        var value: Int128 = 0
        var scale = 0
        var digits = 0
        var seenPoint = false
        var digitsAfterPoint = 0
        var digitsBeforePoint = 0
        for byte in utf8 {
            if byte == UInt8(ascii: ".") {
                if seenPoint { return nil }
                seenPoint = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int128(byte - UInt8(ascii: "0"))
            if value != 0 { digits += 1 }
            if digits > 18 { return nil }
            if seenPoint { scale += 1; digitsAfterPoint += 1 } else { digitsBeforePoint += 1 }
        }
        guard digitsBeforePoint > 0, !seenPoint || digitsAfterPoint > 0 else { return nil }
        guard scale <= 18 else { return nil }
        self.init(normalizing: negative ? -value : value, scale: scale)
    }

    /// The canonical text form: `-12.5`, `3`, `0.125`.
    public var description: String {
        // Written digit by digit into a small buffer: this runs for every decimal a store writes.
        var digits: [UInt8] = []
        digits.reserveCapacity(24)
        var magnitude = significand.magnitude
        var written = 0
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
            written += 1
            if written == Int(scale) { digits.append(UInt8(ascii: ".")) }
        } while magnitude > 0 || written <= Int(scale)
        if digits.last == UInt8(ascii: ".") { digits.append(UInt8(ascii: "0")) }
        if significand < 0 { digits.append(UInt8(ascii: "-")) }
        digits.reverse()
        return String(decoding: digits, as: UTF8.self)
    }

    /// Whether `text` is exactly the canonical form of the decimal it denotes: no sign but a
    /// leading `-`, no leading zeros, no trailing zeros after the point, no bare point.
    public static func isCanonical(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        guard let first = bytes.first, first != UInt8(ascii: "."),
              bytes.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") }) else { return false }
        if let point = bytes.firstIndex(of: UInt8(ascii: ".")) {
            let fraction = bytes[bytes.index(after: point)...]
            guard let last = fraction.last, last != UInt8(ascii: "0") else { return false }
            let integral = bytes[..<point]
            if integral.count > 1 && first == UInt8(ascii: "0") { return false }
        } else if bytes.count > 1 && first == UInt8(ascii: "0") {
            return false
        }
        if text == "-0" { return false }
        return true
    }

    public var isNegative: Bool { significand < 0 }

    /// The value as a `Double`, for ratios and charts only (never for sums of money).
    public var doubleValue: Double {
        var result = Double(significand)
        for _ in 0..<scale { result /= 10 }
        return result
    }

    /// Both significands brought to the larger scale, exactly.
    private static func aligned(_ a: ExactDecimal, _ b: ExactDecimal) -> (Int128, Int128, Int) {
        let scale = max(Int(a.scale), Int(b.scale))
        return (Int128(a.significand) * pow10(scale - Int(a.scale)),
                Int128(b.significand) * pow10(scale - Int(b.scale)), scale)
    }

    private static func pow10(_ exponent: Int) -> Int128 {
        var result: Int128 = 1
        for _ in 0..<exponent { result *= 10 }
        return result
    }

    public static func < (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool {
        let (a, b, _) = aligned(lhs, rhs)
        return a < b
    }

    /// The exact sum, or `nil` on overflow.
    public func adding(_ other: ExactDecimal) -> ExactDecimal? {
        let (a, b, scale) = Self.aligned(self, other)
        return ExactDecimal(normalizing: a + b, scale: scale)
    }

    /// The exact difference, or `nil` on overflow.
    public func subtracting(_ other: ExactDecimal) -> ExactDecimal? {
        let (a, b, scale) = Self.aligned(self, other)
        return ExactDecimal(normalizing: a - b, scale: scale)
    }
}
