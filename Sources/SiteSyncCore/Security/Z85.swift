/// Z85, ZeroMQ's printable encoding of binary keys (ZeroMQ RFC 32): four bytes become five
/// characters from an 85-letter alphabet safe in shells, TOML and e-mail.
public enum Z85 {
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
    static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, letter) in alphabet.enumerated() { table[Int(letter)] = UInt8(index) }
        return table
    }()

    /// Encodes `bytes`, whose count must be a multiple of 4.
    public static func encode(_ bytes: [UInt8]) -> String {
        precondition(bytes.count % 4 == 0, "Z85 encodes multiples of 4 bytes")
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 4 * 5)
        for start in stride(from: 0, to: bytes.count, by: 4) {
            var value = UInt32(bytes[start]) << 24 | UInt32(bytes[start + 1]) << 16 | UInt32(bytes[start + 2]) << 8 | UInt32(bytes[start + 3])
            var group = [UInt8](repeating: 0, count: 5)
            for index in (0..<5).reversed() {
                group[index] = alphabet[Int(value % 85)]
                value /= 85
            }
            out += group
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes Z85 text, or `nil` when it is not Z85 (wrong length or letter).
    public static func decode(_ text: String) -> [UInt8]? {
        let letters = Array(text.utf8)
        guard letters.count % 5 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(letters.count / 5 * 4)
        for start in stride(from: 0, to: letters.count, by: 5) {
            var value: UInt64 = 0
            for letter in letters[start..<start + 5] {
                let digit = values[Int(letter)]
                guard digit != 0xFF else { return nil }
                value = value * 85 + UInt64(digit)
            }
            guard value <= UInt64(UInt32.max) else { return nil }
            out += [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        return out
    }
}
