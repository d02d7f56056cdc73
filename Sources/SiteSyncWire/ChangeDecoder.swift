import Foundation
import SiteSyncCore

/// A direct decoder of `sitesync.v1.Change` bytes into a ``Change``.
///
/// Applying remote changes is the store's hottest path, and building the generated
/// `WireChange` message first (then converting it) costs more than applying the change to
/// SQLite. This reads the protobuf wire format (protobuf.dev, "Encoding") straight into core
/// types, with the same checks and limits as the generated code: unknown fields are skipped,
/// repeated scalars are accepted packed or not, the last value of a `oneof` wins, strings must
/// be valid UTF-8. The tests check it against the generated decoder on random and mutated
/// input.
struct ChangeDecoder {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0
    private let end: Int

    init(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        offset = start
        self.end = end ?? bytes.count
    }

    var isAtEnd: Bool { offset >= end }

    /// The bytes left to read.
    var remaining: Int { end - offset }

    struct Malformed: Error {}

    mutating func varint() throws(Malformed) -> UInt64 {
        guard let value = Varint.read(bytes, at: &offset, end: end) else { throw Malformed() }
        return value
    }

    mutating func byte() throws(Malformed) -> UInt8 {
        guard offset < end else { throw Malformed() }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func fixedBytes(_ count: Int) throws(Malformed) -> [UInt8] {
        guard end - offset >= count else { throw Malformed() }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func signed() throws(Malformed) -> Int64 {
        let zigzag = try varint()
        return Varint.signed(zigzag)
    }

    mutating func fixed64() throws(Malformed) -> UInt64 {
        guard end - offset >= 8 else { throw Malformed() }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[offset + index]) << UInt64(8 * index) }
        offset += 8
        return value
    }

    /// The bounds of a length-delimited field's contents.
    mutating func delimited() throws(Malformed) -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - offset) else { throw Malformed() }
        let range = offset..<(offset + Int(length))
        offset += Int(length)
        return range
    }

    mutating func string() throws(Malformed) -> String {
        let range = try delimited()
        guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) else { throw Malformed() }
        return text
    }

    /// Skips an unknown field's value; a (deprecated) group is skipped up to its end tag.
    /// A field's tag: its number and wire type. As protobuf runtimes read it: at most five
    /// bytes holding 32 bits, a non-zero field number, a wire type from 0 to 5.
    mutating func tag() throws(Malformed) -> (field: UInt64, wireType: UInt64) {
        var key: UInt64 = 0
        for index in 0..<5 {
            guard offset < end else { throw Malformed() }
            let byte = bytes[offset]
            offset += 1
            if index == 4 && byte > 15 { throw Malformed() }
            key |= UInt64(byte & 0x7F) << UInt64(7 * index)
            if byte < 0x80 { break }
        }
        guard key >> 3 != 0, key & 7 < 6 else { throw Malformed() }
        return (key >> 3, key & 7)
    }

    /// Skips a field this decoder does not interpret. A known field that arrives with another
    /// wire type than its declared one is unknown too, as in protobuf runtimes.
    mutating func skipUnknown(field: UInt64, wireType: UInt64) throws(Malformed) {
        try skip(wireType: wireType, field: field)
    }

    mutating func skip(wireType: UInt64, field: UInt64 = 0, depth: Int = 0) throws(Malformed) {
        switch wireType {
        case 0: _ = try varint()
        case 1: guard end - offset >= 8 else { throw Malformed() }; offset += 8
        case 2: _ = try delimited()
        case 3:
            guard depth < 64 else { throw Malformed() }
            while true {
                let (inner, innerType) = try tag()
                if innerType == 4 {
                    guard inner == field else { throw Malformed() }
                    return
                }
                try skip(wireType: innerType, field: inner, depth: depth + 1)
            }
        case 5: guard end - offset >= 4 else { throw Malformed() }; offset += 4
        default: throw Malformed()
        }
    }

    /// The raw parts of a Change, before the checks of ``ChangeCodec/decode``.
    struct RawChange {
        /// The dot, when the encoding carries it (compact batches); a Change message has none.
        var origin: UInt64 = 0
        var counter: UInt64 = 0
        var hlc: UInt64 = 0
        var collection: UInt64 = 0
        var recordUUID: [UInt8]?
        var recordID: String?
        var department = ""
        var replicas: [UInt64] = []
        var counters: [UInt64] = []
        var writes: [RawWrite] = []
        var isDelete = false
    }

    struct RawWrite {
        var field: UInt64 = 0
        var value: Value?
        var tag: UInt64 = 0
        var supersede = false
        var add: [String] = []
        var remove: [String] = []

        enum Value {
            case null, text(String), int(Int64), decimal(String), date(Int32), symbol(String), ref(String)
        }
    }

    mutating func change() throws(Malformed) -> RawChange {
        var raw = RawChange()
        while !isAtEnd {
            let (field, wireType) = try tag()
            switch (field, wireType) {
            case (1, 1): raw.hlc = try fixed64()
            case (2, 0): raw.collection = UInt64(UInt32(truncatingIfNeeded: try varint()))  // uint32, as protobuf reads it
            case (3, 2):
                let range = try delimited()
                raw.recordUUID = Array(bytes[range]); raw.recordID = nil
            case (4, 2): raw.recordID = try string(); raw.recordUUID = nil
            case (5, 2): raw.department = try string()
            case (6, 2):
                let range = try delimited()
                var inner = ChangeDecoder(bytes, from: range.lowerBound, to: range.upperBound)
                try inner.vector(into: &raw)
            case (7, 2):
                let range = try delimited()
                var inner = ChangeDecoder(bytes, from: range.lowerBound, to: range.upperBound)
                raw.writes.append(try inner.write())
            case (8, 0): raw.isDelete = try varint() != 0
            default: try skipUnknown(field: field, wireType: wireType)
            }
        }
        return raw
    }

    /// A VersionVector message; several occurrences of the field merge, as protobuf requires.
    mutating func vector(into raw: inout RawChange) throws(Malformed) {
        while !isAtEnd {
            let (field, wireType) = try tag()
            switch (field, wireType) {
            case (1, 1): raw.replicas.append(try fixed64())
            case (1, 2):
                let range = try delimited()
                guard range.count % 8 == 0 else { throw Malformed() }
                var inner = ChangeDecoder(bytes, from: range.lowerBound, to: range.upperBound)
                while !inner.isAtEnd { raw.replicas.append(try inner.fixed64()) }
            case (2, 0): raw.counters.append(try varint())
            case (2, 2):
                let range = try delimited()
                var inner = ChangeDecoder(bytes, from: range.lowerBound, to: range.upperBound)
                while !inner.isAtEnd { raw.counters.append(try inner.varint()) }
            default: try skipUnknown(field: field, wireType: wireType)
            }
        }
    }

    mutating func write() throws(Malformed) -> RawWrite {
        var write = RawWrite()
        while !isAtEnd {
            let (field, wireType) = try tag()
            switch (field, wireType) {
            case (1, 0): write.field = UInt64(UInt32(truncatingIfNeeded: try varint()))
            case (2, 0): _ = try varint(); write.value = .null
            case (3, 2): write.value = .text(try string())
            case (4, 0):
                let zigzag = try varint()
                write.value = .int(Varint.signed(zigzag))
            case (5, 2): write.value = .decimal(try string())
            case (6, 0):
                // sint32 travels as a zigzag varint of the 32-bit value; protobuf truncates to 32 bits.
                let zigzag = UInt32(truncatingIfNeeded: try varint())
                write.value = .date(Int32(bitPattern: zigzag >> 1) ^ -Int32(bitPattern: zigzag & 1))
            case (7, 2): write.value = .symbol(try string())
            case (8, 2): write.value = .ref(try string())
            case (9, 0): write.tag = UInt64(UInt32(truncatingIfNeeded: try varint()))
            case (10, 0): write.supersede = try varint() != 0
            case (11, 2): write.add.append(try string())
            case (12, 2): write.remove.append(try string())
            default: try skipUnknown(field: field, wireType: wireType)
            }
        }
        return write
    }
}
