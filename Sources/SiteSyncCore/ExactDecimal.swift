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
        // The usual case in 64 bits: 128-bit division is done in software, and reports run
        // this for every amount they add up.
        if let narrow = Int64(exactly: significand) {
            guard let value = Self.normalized(narrow, scale: scale) else { return nil }
            self = value
            return
        }
        var s = significand, k = scale
        while k > 0 && s % 10 == 0 {
            s /= 10; k -= 1
        }
        guard k >= 0, k <= Int(Self.maxScale), let narrow = Int64(exactly: s) else { return nil }
        self.init(significand: narrow, scale: UInt8(k))
    }

    private init(significand: Int64, scale: UInt8) {
        self.significand = significand
        self.scale = scale
    }

    /// `significand × 10^-scale` normalised in 64 bits, or `nil` when the scale does not fit.
    private static func normalized(_ significand: Int64, scale: Int) -> ExactDecimal? {
        var s = significand, k = scale
        while k > 0 && s % 10 == 0 {
            s /= 10; k -= 1
        }
        guard k >= 0, k <= Int(maxScale) else { return nil }
        return ExactDecimal(significand: s, scale: UInt8(k))
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
        withCanonicalUTF8 { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the canonical text form's UTF-8 bytes, written into a buffer on the
    /// stack: the store binds every decimal it writes this way, without making a `String`.
    public func withCanonicalUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        // At most 19 digits of an Int64 or `scale` digits and a leading zero, the point, a sign.
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 22 + Int(scale)) { buffer in
            var end = buffer.count
            func prepend(_ byte: UInt8) {
                end -= 1
                buffer[end] = byte
            }
            var magnitude = significand.magnitude
            var written = 0
            repeat {
                prepend(UInt8(ascii: "0") + UInt8(magnitude % 10))
                magnitude /= 10
                written += 1
                if written == Int(scale) { prepend(UInt8(ascii: ".")) }
            } while magnitude > 0 || written <= Int(scale)
            if buffer[end] == UInt8(ascii: ".") { prepend(UInt8(ascii: "0")) }
            if significand < 0 { prepend(UInt8(ascii: "-")) }
            return try body(UnsafeBufferPointer(rebasing: buffer[end...]))
        }
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
        // One division by an exactly representable power of ten: the nearest Double to the value
        // (0.92, not the 0.9199999999999999 of dividing by 10 nine times).
        var power = 1.0
        for _ in 0..<scale { power *= 10 }
        return Double(significand) / power
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
        if lhs.scale == rhs.scale { return lhs.significand < rhs.significand }
        let (a, b, _) = aligned(lhs, rhs)
        return a < b
    }

    /// The exact sum, or `nil` on overflow.
    public func adding(_ other: ExactDecimal) -> ExactDecimal? {
        if scale == other.scale {
            let (sum, overflow) = significand.addingReportingOverflow(other.significand)
            if !overflow { return Self.normalized(sum, scale: Int(scale)) }
        }
        let (a, b, scale) = Self.aligned(self, other)
        return ExactDecimal(normalizing: a + b, scale: scale)
    }

    /// The exact difference, or `nil` on overflow.
    public func subtracting(_ other: ExactDecimal) -> ExactDecimal? {
        let (a, b, scale) = Self.aligned(self, other)
        return ExactDecimal(normalizing: a - b, scale: scale)
    }
}

// MARK: Arithmetic for money

extension ExactDecimal: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self.init(value) }
}

extension ExactDecimal {
    /// An amount that does not fit in 18 significant digits: a sum or a product too large to
    /// hold exactly. It is an error, never a wrapped or truncated figure.
    public struct Overflow: Error, Sendable, Equatable, CustomStringConvertible {
        /// What overflowed, in words: `"1000000000000 × 9999999"`.
        public let operation: String

        public init(operation: String) { self.operation = operation }

        public var description: String {
            "the amount \(operation) needs more than 18 significant digits: check the plan and the entries for a mistyped amount"
        }
    }

    /// The exact sum; throws ``Overflow`` when it needs more than 18 significant digits (with
    /// up to 9 decimals).
    public func plus(_ other: ExactDecimal) throws(Overflow) -> ExactDecimal {
        guard let sum = adding(other), sum.hasAtMost18Digits else { throw Overflow(operation: "\(self) + \(other)") }
        return sum
    }

    /// The exact difference; throws ``Overflow`` like ``plus(_:)``.
    public func minus(_ other: ExactDecimal) throws(Overflow) -> ExactDecimal {
        guard let difference = subtracting(other), difference.hasAtMost18Digits else { throw Overflow(operation: "\(self) − \(other)") }
        return difference
    }

    /// Whether the value has at most 18 significant digits, as every decimal a store reads back
    /// from its text does (a 19-digit `Int64` would be written but refused when read).
    var hasAtMost18Digits: Bool { significand.magnitude <= 999_999_999_999_999_999 }

    /// The exact sum of `values` (0 for none).
    public static func sum<S: Sequence>(_ values: S) throws(Overflow) -> ExactDecimal where S.Element == ExactDecimal {
        var total = ExactDecimal.zero
        for value in values { total = try total.plus(value) }
        return total
    }

    /// `self × numerator / denominator`: an amount times a ratio of quantities or of days (the
    /// share of a budget planned or earned). The product and the quotient are computed exactly
    /// in 256 bits, then rounded half away from zero to 9 decimals, or to as many as fit in 18
    /// significant digits (a budget of 10¹² yuan keeps 6). `nil` when `denominator` is 0;
    /// throws ``Overflow`` when even the integral part does not fit.
    ///
    /// For ratios (indices, percentages). An amount that is summed with others is better held to
    /// a fixed precision (``multiplied(by:dividedBy:places:)``): a sum carries the largest scale
    /// of its terms, and 9 decimals leave 9 integral digits.
    public func multiplied(by numerator: ExactDecimal, dividedBy denominator: ExactDecimal) throws(Overflow) -> ExactDecimal? {
        guard denominator.significand != 0 else { return nil }
        // The usual case: 9 decimals fit. Else round once to as many decimals as fit, found from
        // the truncated quotient's digits.
        if let quotient = Self.scaledQuotient(self, numerator, denominator, places: 9, rounding: true),
           let result = ExactDecimal(normalizing: quotient, scale: 9), result.hasAtMost18Digits {
            return result
        }
        let operation = "\(self) × \(numerator) / \(denominator)"
        guard let truncated = Self.scaledQuotient(self, numerator, denominator, places: 9, rounding: false) else { throw Overflow(operation: operation) }
        var digits = 0
        var magnitude = truncated.magnitude
        while magnitude > 0 { magnitude /= 10; digits += 1 }
        let places = 9 - min(max(digits - 18, 0), 9)
        guard let quotient = Self.scaledQuotient(self, numerator, denominator, places: places, rounding: true),
              let result = ExactDecimal(normalizing: quotient, scale: places), result.hasAtMost18Digits else { throw Overflow(operation: operation) }
        return result
    }

    /// `self × numerator / denominator` rounded once, half away from zero, to exactly `places`
    /// decimals (0…9): a derived amount held to a fixed precision, so that a sum of any number
    /// of them keeps that scale and needs digits only for its size (docs/design.md §11). The
    /// exact quotient is rounded directly, never first to 9 decimals. `nil` when `denominator`
    /// is 0; throws ``Overflow`` when the rounded amount needs more than 18 significant digits.
    public func multiplied(by numerator: ExactDecimal, dividedBy denominator: ExactDecimal, places: Int) throws(Overflow) -> ExactDecimal? {
        guard denominator.significand != 0 else { return nil }
        let places = max(0, min(places, Int(Self.maxScale)))
        guard let quotient = Self.scaledQuotient(self, numerator, denominator, places: places, rounding: true),
              let result = ExactDecimal(normalizing: quotient, scale: places), result.hasAtMost18Digits else {
            throw Overflow(operation: "\(self) × \(numerator) / \(denominator)")
        }
        return result
    }

    /// The value rounded half away from zero to `places` decimals (0…9), for display and for
    /// figures held to the cent.
    public func rounded(places: Int) -> ExactDecimal {
        let places = max(0, min(places, Int(Self.maxScale)))
        guard Int(scale) > places else { return self }
        let divisor = Self.pow10(Int(scale) - places)
        let value = Int128(significand)
        var quotient = value / divisor
        let remainder = value % divisor
        if remainder.magnitude * 2 >= divisor.magnitude { quotient += value < 0 ? -1 : 1 }
        return ExactDecimal(normalizing: quotient, scale: places)!
    }

    /// The text with exactly `places` decimals, rounded half away from zero: `fixed(2)` of
    /// 0.125 is `0.13` (where `String(format: "%.2f")` of the binary 0.125 gives `0.12`, and of
    /// 1.005 gives `1.00`).
    public func fixed(_ places: Int) -> String {
        let value = rounded(places: places)
        var text = value.description
        guard places > 0 else { return text == "-0" ? "0" : text }
        if !text.contains(".") { text += "." }
        let decimals = text.count - (text.firstIndex(of: ".").map { text.distance(from: text.startIndex, to: $0) } ?? text.count) - 1
        return text + String(repeating: "0", count: places - decimals)
    }

    /// The text of ``fixed(_:)`` with a comma between each three digits of the integral part:
    /// `1,234,567.89`, for amounts a reader scans.
    public func grouped(places: Int) -> String {
        let text = fixed(places)
        let negative = text.hasPrefix("-")
        let unsigned = negative ? String(text.dropFirst()) : text
        let point = unsigned.firstIndex(of: ".") ?? unsigned.endIndex
        var integral = Array(unsigned[..<point])
        var index = integral.count - 3
        while index > 0 {
            integral.insert(",", at: index)
            index -= 3
        }
        return (negative ? "-" : "") + String(integral) + unsigned[point...]
    }

    /// `self / other` as a `Double`, for indices (SPI, CPI, percent complete): the quotient is
    /// taken exactly to 9 decimals from the exact amounts, and only that final ratio becomes
    /// binary. `nil` when `other` is 0.
    public func ratio(to other: ExactDecimal) -> Double? {
        guard let quotient = try? ExactDecimal(1).multiplied(by: self, dividedBy: other) else { return nil }
        return quotient.doubleValue
    }

    /// `a × b / c` as the significand of its value at `places` decimals (0…9), rounded half away
    /// from zero or truncated, computed exactly: in 128 bits when every step fits (amounts
    /// times ratios of days or quantities, as a rule), else in 256. `nil` when the quotient
    /// exceeds 128 bits. `c` is not 0.
    private static func scaledQuotient(_ a: ExactDecimal, _ b: ExactDecimal, _ c: ExactDecimal, places: Int, rounding: Bool) -> Int128? {
        // (s·10^-a)(n·10^-b)/(d·10^-c) at `places` decimals is s·n·10^(places+c-a-b) / d: shift
        // the dividend up, or the divisor (by at most 10^18: it stays below 10^36).
        let shift = places + Int(c.scale) - Int(a.scale) - Int(b.scale)
        let product = Int128(a.significand) * Int128(b.significand)  // below 2^126
        if shift < 0 { return quotient128(product, Int128(c.significand) * pow10(-shift), rounding: rounding) }
        let (dividend, overflow) = product.multipliedReportingOverflow(by: pow10(shift))
        if !overflow { return quotient128(dividend, Int128(c.significand), rounding: rounding) }
        var wide = wideProduct(Int128(a.significand), Int128(b.significand))
        for _ in 0..<shift {
            guard let next = wideTimesTen(wide) else { return nil }
            wide = next
        }
        return quotient(wide, Int128(c.significand), rounding: rounding)
    }

    /// `dividend / divisor` in 128 bits, rounded half away from zero or truncated.
    private static func quotient128(_ dividend: Int128, _ divisor: Int128, rounding: Bool) -> Int128 {
        var quotient = dividend / divisor
        let remainder = dividend % divisor
        if rounding && remainder != 0 && remainder.magnitude >= divisor.magnitude - remainder.magnitude {
            quotient += (dividend < 0) != (divisor < 0) ? -1 : 1
        }
        return quotient
    }

    // MARK: Wide integer helpers

    /// `a × b` as a 256-bit value (high, low).
    private static func wideProduct(_ a: Int128, _ b: Int128) -> (high: Int128, low: UInt128) {
        a.multipliedFullWidth(by: b)
    }

    /// `10 × value` of a 256-bit value, or `nil` when it would not fit.
    private static func wideTimesTen(_ value: (high: Int128, low: UInt128)) -> (high: Int128, low: UInt128)? {
        let low = value.low.multipliedFullWidth(by: 10)
        let (high, overflow) = value.high.multipliedReportingOverflow(by: 10)
        guard !overflow else { return nil }
        let (sum, carryOverflow) = high.addingReportingOverflow(Int128(low.high))
        guard !carryOverflow else { return nil }
        return (sum, low.low)
    }

    /// `dividend / divisor`, rounded half away from zero or truncated, or `nil` when the quotient exceeds 128 bits.
    private static func quotient(_ dividend: (high: Int128, low: UInt128), _ divisor: Int128, rounding: Bool) -> Int128? {
        // Work on magnitudes, then restore the sign.
        let negative = (dividend.high < 0) != (divisor < 0) && !(dividend.high == 0 && dividend.low == 0)
        var high = dividend.high, low = dividend.low
        if high < 0 {  // two's complement negate of the 256-bit value
            low = ~low &+ 1
            high = ~high &+ (low == 0 ? 1 : 0)
        }
        let magnitude = UInt128(divisor.magnitude)
        guard UInt128(high) < magnitude else { return nil }
        let (quotient, remainder) = magnitude.dividingFullWidth((UInt128(high), low))
        var rounded = quotient
        if rounding && remainder >= magnitude - remainder { rounded += 1 }
        guard rounded <= UInt128(Int128.max) else { return nil }
        return negative ? -Int128(rounded) : Int128(rounded)
    }
}
