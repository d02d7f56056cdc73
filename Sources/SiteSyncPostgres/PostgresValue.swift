import CLibPQ

/// One value sent as a parameter or read from a row: the types a hub's store keeps.
///
/// Every type but NUMERIC travels in PostgreSQL's binary format, both ways: a BYTEA's bytes go
/// out and come back as they are (never as `\x…` hex text to escape and unescape), an INT8 as
/// its eight bytes. NUMERIC is carried as decimal text (`"12.50"`), so that no digit is lost to
/// a binary floating point: sent as text, and read from its binary form into the same text.
public enum PostgresValue: Hashable, Sendable {
    case null
    /// BIGINT (also read from SMALLINT, INTEGER and OID columns).
    case int64(Int64)
    /// TEXT (also read from VARCHAR, CHAR and NAME columns).
    case text(String)
    /// BYTEA, byte for byte.
    case bytea([UInt8])
    /// BOOLEAN.
    case bool(Bool)
    /// NUMERIC as its decimal text: `"-1.250"`, `"NaN"`, `"Infinity"`.
    case numeric(String)

    public var isNull: Bool { self == .null }
    public var int64: Int64? { if case .int64(let value) = self { value } else { nil } }
    public var text: String? { if case .text(let value) = self { value } else { nil } }
    public var bytes: [UInt8]? { if case .bytea(let value) = self { value } else { nil } }
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    public var numeric: String? { if case .numeric(let value) = self { value } else { nil } }
}

extension PostgresValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByNilLiteral
{
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
}

/// The type OIDs of `pg_type` that the wrapper sends or reads (fixed in PostgreSQL's catalog).
enum PostgresType {
    static let bool: Oid = 16
    static let bytea: Oid = 17
    static let name: Oid = 19
    static let int8: Oid = 20
    static let int2: Oid = 21
    static let int4: Oid = 23
    static let text: Oid = 25
    static let oid: Oid = 26
    static let bpchar: Oid = 1042
    static let varchar: Oid = 1043
    static let numeric: Oid = 1700
    static let void: Oid = 2278
}

/// A parameter as libpq takes it: its type, its format (0 text, 1 binary) and its bytes; `nil`
/// bytes are SQL NULL.
struct EncodedParameter {
    let type: Oid
    let format: Int32
    let bytes: [UInt8]?

    init(_ value: PostgresValue) {
        switch value {
        case .null:
            // Type 0: the server infers it from where the parameter stands.
            (type, format, bytes) = (0, 0, nil)
        case .int64(let number):
            (type, format, bytes) = (PostgresType.int8, 1, withUnsafeBytes(of: number.bigEndian) { Array($0) })
        case .text(let string):
            (type, format, bytes) = (PostgresType.text, 1, Array(string.utf8))
        case .bytea(let data):
            (type, format, bytes) = (PostgresType.bytea, 1, data)
        case .bool(let flag):
            (type, format, bytes) = (PostgresType.bool, 1, [flag ? 1 : 0])
        case .numeric(let decimal):
            // Text format: libpq reads it as a C string, so it ends with a NUL.
            (type, format, bytes) = (PostgresType.numeric, 0, Array(decimal.utf8) + [0])
        }
    }
}

/// Reads a column's binary value; `nil` when the type is not one the wrapper reads.
func decodeBinary(type: Oid, _ bytes: UnsafeRawBufferPointer) -> PostgresValue? {
    switch type {
    case PostgresType.bool: return bytes.count == 1 ? .bool(bytes[0] != 0) : nil
    case PostgresType.int2: return bytes.count == 2 ? .int64(Int64(Int16(bigEndian: bytes.loadUnaligned(as: Int16.self)))) : nil
    case PostgresType.int4: return bytes.count == 4 ? .int64(Int64(Int32(bigEndian: bytes.loadUnaligned(as: Int32.self)))) : nil
    case PostgresType.oid: return bytes.count == 4 ? .int64(Int64(UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self)))) : nil
    case PostgresType.int8: return bytes.count == 8 ? .int64(Int64(bigEndian: bytes.loadUnaligned(as: Int64.self))) : nil
    case PostgresType.text, PostgresType.varchar, PostgresType.bpchar, PostgresType.name:
        return .text(String(decoding: bytes, as: UTF8.self))
    case PostgresType.bytea: return .bytea(Array(bytes))
    case PostgresType.numeric: return decodeNumeric(bytes).map(PostgresValue.numeric)
    case PostgresType.void: return .null
    default: return nil
    }
}

/// NUMERIC's binary form (ndigits, weight, sign, dscale, then base-10000 digits, all big-endian
/// 16-bit) as the decimal text PostgreSQL itself prints, with `dscale` digits after the point.
func decodeNumeric(_ bytes: UnsafeRawBufferPointer) -> String? {
    guard bytes.count >= 8 else { return nil }
    func word(_ index: Int) -> Int { Int(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))) }
    let ndigits = word(0), weight = Int(Int16(truncatingIfNeeded: word(1))), sign = word(2), dscale = word(3)
    guard bytes.count == 8 + 2 * ndigits else { return nil }
    switch sign {
    case 0xC000: return "NaN"
    case 0xD000: return "Infinity"
    case 0xF000: return "-Infinity"
    case 0x0000, 0x4000: break
    default: return nil
    }
    let digits = (0..<ndigits).map { word(4 + $0) }
    func digit(_ index: Int) -> Int { index >= 0 && index < ndigits ? digits[index] : 0 }
    func padded(_ value: Int) -> String { String(repeating: "0", count: 4 - String(value).count) + String(value) }
    var text = sign == 0x4000 ? "-" : ""
    if weight < 0 {
        text += "0"
    } else {
        text += String(digit(0)) + (0..<weight).map { padded(digit($0 + 1)) }.joined()
    }
    if dscale > 0 {
        var fraction = ""
        var index = weight + 1
        while fraction.count < dscale {
            fraction += padded(digit(index))
            index += 1
        }
        text += "." + fraction.prefix(dscale)
    }
    return text
}
