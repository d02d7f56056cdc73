import SiteSyncCore

/// The store's compact state blobs are written with the one byte writer.
typealias BinaryWriter = ByteWriter

/// Reads what ``BinaryWriter`` wrote; every read is bounds-checked and throws on damage.
struct BinaryReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func byte() throws(StoreError) -> UInt8 {
        guard offset < bytes.count else { throw Self.damaged }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint() throws(StoreError) -> UInt64 {
        guard let value = Varint.read(bytes, at: &offset, end: bytes.count) else { throw Self.damaged }
        return value
    }

    mutating func signed() throws(StoreError) -> Int64 {
        Varint.signed(try varint())
    }

    mutating func fixed64() throws(StoreError) -> UInt64 {
        guard offset + 8 <= bytes.count else { throw Self.damaged }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[offset + index]) << UInt64(8 * index) }
        offset += 8
        return value
    }

    mutating func string() throws(StoreError) -> String {
        let count = Int(try varint())
        guard count >= 0, offset + count <= bytes.count else { throw Self.damaged }
        defer { offset += count }
        return String(decoding: bytes[offset..<(offset + count)], as: UTF8.self)
    }

    static let damaged = StoreError(.corrupt,
        "a record's version metadata in the database is damaged; restore the node from a backup or re-initialise it and sync")
}

/// The storage form of a ``RecordState`` in a typed row's `sync_state` (a live record) or in
/// `sync_record.state` (a deleted one): compact and versioned.
///
/// Layout (format 1): department; the version vector; a table of the distinct writes
/// (replica as an index into the vector, counter, HLC) that produced the live versions and
/// tombstones; per field its code and versions (write index, tag, value); the tombstones (write
/// index, context). The versions a change creates share one write entry, which halves the blob
/// of a typical record.
enum RecordStateCodec {
    static let formatVersion: UInt8 = 1

    static func encode(_ state: RecordState) -> [UInt8] {
        // The distinct writes, in first-use order; records have few, so a linear search is fastest.
        var writes: [(dot: Dot, hlc: HLCTimestamp)] = []
        func writeIndex(_ dot: Dot) -> Int {
            for index in writes.indices.reversed() where writes[index].dot == dot { return index }
            return -1
        }
        for version in state.versions where writeIndex(version.dot) < 0 { writes.append((version.dot, version.hlc)) }
        for tombstone in state.tombstones where writeIndex(tombstone.dot) < 0 { writes.append((tombstone.dot, tombstone.hlc)) }

        var w = BinaryWriter(capacity: 192)
        w.byte(formatVersion)
        w.string(state.department)
        encode(state.context, into: &w)
        let entries = state.context.entries
        w.varint(UInt64(writes.count))
        for (dot, hlc) in writes {
            // Every live version's dot is in the record's vector, so its replica is an index.
            let replicaIndex = entries.firstIndex { $0.replica == dot.replica } ?? entries.count
            w.varint(UInt64(replicaIndex))
            if replicaIndex == entries.count { w.fixed64(dot.replica.rawValue) }
            w.varint(dot.counter)
            w.fixed64(hlc.rawValue)
        }
        let codes = state.fieldCodes
        w.varint(UInt64(codes.count))
        var index = 0
        for code in codes {
            var end = index
            while end < state.versions.count && state.versions[end].field == code { end += 1 }
            w.varint(UInt64(code))
            w.varint(UInt64(end - index))
            for version in state.versions[index..<end] {
                w.varint(UInt64(writeIndex(version.dot)))
                w.varint(UInt64(version.tag))
                encode(version.value, into: &w)
            }
            index = end
        }
        w.varint(UInt64(state.tombstones.count))
        for tombstone in state.tombstones {
            w.varint(UInt64(writeIndex(tombstone.dot)))
            encode(tombstone.context, into: &w)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8], key: RecordKey) throws(StoreError) -> RecordState {
        var r = BinaryReader(bytes)
        guard try r.byte() == formatVersion else { throw BinaryReader.damaged }
        let department = try r.string()
        let context = try decodeVector(&r)
        let entries = context.entries
        let writeCount = try r.varint()
        guard writeCount < 1_000_000 else { throw BinaryReader.damaged }
        var writes: [(Dot, HLCTimestamp)] = []
        writes.reserveCapacity(Int(writeCount))
        for _ in 0..<writeCount {
            let replicaIndex = Int(try r.varint())
            let replica: ReplicaID
            if replicaIndex < entries.count {
                replica = entries[replicaIndex].replica
            } else {
                replica = ReplicaID(rawValue: try r.fixed64())
            }
            let counter = try r.varint()
            writes.append((Dot(replica: replica, counter: counter), HLCTimestamp(rawValue: try r.fixed64())))
        }
        func write(_ index: UInt64) throws(StoreError) -> (Dot, HLCTimestamp) {
            guard index < UInt64(writes.count) else { throw BinaryReader.damaged }
            return writes[Int(index)]
        }
        var versions: [FieldVersion] = []
        let fieldCount = try r.varint()
        for _ in 0..<fieldCount {
            let code = UInt16(truncatingIfNeeded: try r.varint())
            let count = try r.varint()
            for _ in 0..<count {
                let (dot, hlc) = try write(try r.varint())
                let tag = UInt32(truncatingIfNeeded: try r.varint())
                versions.append(FieldVersion(field: code, dot: dot, hlc: hlc, value: try decodeValue(&r), tag: tag))
            }
        }
        var tombstones: [Tombstone] = []
        let tombstoneCount = try r.varint()
        for _ in 0..<tombstoneCount {
            let (dot, hlc) = try write(try r.varint())
            tombstones.append(Tombstone(dot: dot, hlc: hlc, context: try decodeVector(&r)))
        }
        guard r.isAtEnd else { throw BinaryReader.damaged }
        return RecordState(key: key, department: department, context: context, versions: versions, tombstones: tombstones)
    }

    static func encode(_ vector: VersionVector, into w: inout BinaryWriter) {
        w.varint(UInt64(vector.entries.count))
        for entry in vector.entries {
            w.fixed64(entry.replica.rawValue)
            w.varint(entry.counter)
        }
    }

    static func encode(_ vector: VersionVector) -> [UInt8] {
        var w = BinaryWriter()
        encode(vector, into: &w)
        return w.bytes
    }

    static func decodeVector(_ r: inout BinaryReader) throws(StoreError) -> VersionVector {
        let count = try r.varint()
        guard count < 1_000_000 else { throw BinaryReader.damaged }
        var pairs: [(ReplicaID, UInt64)] = []
        for _ in 0..<count {
            pairs.append((ReplicaID(rawValue: try r.fixed64()), try r.varint()))
        }
        return VersionVector(pairs)
    }

    static func decodeVector(_ bytes: [UInt8]) throws(StoreError) -> VersionVector {
        var r = BinaryReader(bytes)
        return try decodeVector(&r)
    }

    static func encode(_ value: FieldValue, into w: inout BinaryWriter) {
        switch value {
        case .null: w.byte(0)
        case .text(let s): w.byte(1); w.string(s)
        case .int(let i): w.byte(2); w.signed(i)
        case .decimal(let d): w.byte(3); w.signed(d.significand); w.byte(d.scale)
        case .date(let d): w.byte(4); w.signed(Int64(d.daysSinceEpoch))
        case .symbol(let s): w.byte(5); w.string(s)
        case .ref(let s): w.byte(6); w.string(s)
        case .set(let elements): w.byte(7); w.varint(UInt64(elements.count)); elements.forEach { w.string($0) }
        }
    }

    static func decodeValue(_ r: inout BinaryReader) throws(StoreError) -> FieldValue {
        switch try r.byte() {
        case 0: return .null
        case 1: return .text(try r.string())
        case 2: return .int(try r.signed())
        case 3:
            let significand = try r.signed()
            let scale = try r.byte()
            guard let d = ExactDecimal(normalizing: Int128(significand), scale: Int(scale)) else { throw BinaryReader.damaged }
            return .decimal(d)
        case 4: return .date(CalendarDate(daysSinceEpoch: Int(try r.signed())))
        case 5: return .symbol(try r.string())
        case 6: return .ref(try r.string())
        case 7:
            let count = try r.varint()
            var elements: [String] = []
            for _ in 0..<count { elements.append(try r.string()) }
            return .set(elements)
        default: throw BinaryReader.damaged
        }
    }
}
