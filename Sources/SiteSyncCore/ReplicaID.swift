/// The identity of one replica: one epoch of one node's database.
///
/// A node takes a fresh replica id when it is initialised and again whenever it cannot prove that
/// its counter never went backwards (a restore from backup), so that no dot is ever issued twice
/// with different content. Replica ids are random 64-bit numbers, written as 16 lower-case hex
/// digits; with thousands of replicas the chance of a collision is below one in a billion.
public struct ReplicaID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The raw 64-bit value.
    public let rawValue: UInt64

    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// A new random replica id (never zero, which is reserved as "no replica").
    public static func random() -> ReplicaID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A new random replica id drawn from `generator` (seeded in tests).
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> ReplicaID {
        while true {
            let value = generator.next()
            if value != 0 { return ReplicaID(rawValue: value) }
        }
    }

    /// Parses 16 hex digits, as printed by ``description``.
    public init?(hex: String) {
        guard hex.utf8.count == 16, let value = UInt64(hex, radix: 16), value != 0 else { return nil }
        self.rawValue = value
    }

    /// The same bits as a signed integer, for SQLite's INTEGER columns.
    public var storageValue: Int64 { Int64(bitPattern: rawValue) }

    public init(storageValue: Int64) {
        self.rawValue = UInt64(bitPattern: storageValue)
    }

    /// 16 lower-case hex digits.
    public var description: String {
        let digits = String(rawValue, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool { lhs.rawValue < rhs.rawValue }
}
