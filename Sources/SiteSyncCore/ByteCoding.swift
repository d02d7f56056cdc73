/// The one place bytes are written and read as varints (protobuf's base-128 encoding: seven bits
/// a byte, low bits first, the high bit set on every byte but the last), zigzag-signed varints
/// and little-endian fixed 64-bit words: the wire's batches, bundles' frames, changes and the
/// store's state blobs all use it.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 128) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func byte(_ value: UInt8) { bytes.append(value) }

    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Zigzag: small negative numbers stay short.
    public mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func fixed64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    public mutating func bytes(_ value: [UInt8]) { bytes.append(contentsOf: value) }

    /// A length-prefixed string.
    public mutating func string(_ value: String) {
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }
}

public enum Varint {
    /// The varint at `offset` in `bytes` (read no further than `end`), moving `offset` past it;
    /// `nil` when it runs past `end` or past 64 bits. Inlinable: the change decoder reads
    /// several per change.
    @inlinable
    public static func read<Bytes: RandomAccessCollection>(_ bytes: Bytes, at offset: inout Int, end: Int) -> UInt64?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < end {
            let byte = bytes[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    /// The zigzag-signed value of a varint.
    @inlinable
    public static func signed(_ raw: UInt64) -> Int64 {
        Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }
}
