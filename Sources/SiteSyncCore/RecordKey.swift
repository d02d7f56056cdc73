import Crypto

/// Identifies one record: its collection and its id.
public struct RecordKey: Hashable, Sendable, CustomStringConvertible {
    /// The collection's wire code.
    public let collection: UInt16
    public let id: String

    public init(collection: UInt16, id: String) {
        self.collection = collection
        self.id = id
    }

    public var description: String { "\(collection)/\(id)" }
}

/// Record ids: UUIDs, codes such as `roads`, or UUIDv5 ids of natural keys.
public enum RecordID {
    /// Ids are 1–128 characters from `A–Z a–z 0–9 . _ : @ -`, starting with a letter or digit,
    /// so they are safe in shells, file names and CSV cells.
    public static func validate(_ id: String) throws(CoreError) {
        let bytes = id.utf8
        guard (1...128).contains(bytes.count) else {
            throw CoreError(.invalidRecordID, "record id must be 1 to 128 characters long")
        }
        for (index, byte) in bytes.enumerated() {
            let alnum = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            let punctuation = byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":")
                || byte == UInt8(ascii: "@") || byte == UInt8(ascii: "-")
            guard alnum || (index > 0 && punctuation) else {
                throw CoreError(.invalidRecordID,
                    "record id '\(id)' may only use letters, digits and . _ : @ - (and must start with a letter or digit)")
            }
        }
    }

    /// A new random (version 4) UUID in lower case.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return format(bytes)
    }

    /// The namespace of SiteSync's name-based ids.
    static let namespace: [UInt8] = [
        0x6f, 0x3c, 0x51, 0x0e, 0x2a, 0x8b, 0x4d, 0x1f, 0x9e, 0x63, 0x27, 0xd4, 0x1a, 0x05, 0xb8, 0x90,
    ]

    /// The version 5 (SHA-1, name-based) UUID of a natural key, so that two devices creating
    /// "the daily log of project P on date D" offline create the same record.
    public static func natural(collection: String, key: [String]) -> String {
        var hasher = Insecure.SHA1()
        hasher.update(data: namespace)
        hasher.update(data: Array(([collection] + key).joined(separator: "\u{1F}").utf8))
        var bytes = Array(hasher.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return format(bytes)
    }

    /// The 16 bytes of a canonical lower-case UUID, or `nil` when `id` is not one.
    public static func uuidBytes(_ id: String) -> [UInt8]? {
        let utf8 = Array(id.utf8)
        guard utf8.count == 36 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        var high: UInt8? = nil
        for (index, c) in utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            let nibble: UInt8
            switch c {
            case 0x30...0x39: nibble = c - 0x30
            case 0x61...0x66: nibble = c - 0x61 + 10
            default: return nil
            }
            if let h = high {
                bytes.append(h << 4 | nibble); high = nil
            } else {
                high = nibble
            }
        }
        return bytes
    }

    /// The canonical lower-case text of 16 UUID bytes.
    public static func format(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Department codes: `roads`, `water`, `office`.
public enum DepartmentCode {
    /// 1–32 characters of lower-case letters, digits, `_` and `-`, starting with a letter.
    public static func validate(_ code: String) throws(CoreError) {
        let bytes = Array(code.utf8)
        let valid = (1...32).contains(bytes.count) && bytes[0] >= 0x61 && bytes[0] <= 0x7A
            && bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D }
        guard valid else {
            throw CoreError(.invalidValue,
                "department code '\(code)' must be 1 to 32 lower-case letters, digits, '_' or '-', starting with a letter (e.g. roads)")
        }
    }
}

/// SHA-256 as lower-case hex.
public enum SHA256Hex {
    public static func digest(of bytes: [UInt8]) -> String {
        hex(Array(SHA256.hash(data: bytes)))
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
