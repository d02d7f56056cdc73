import Foundation
import SiteSyncCore
import SwiftProtobuf

/// Encodes changes as `sitesync.v1.Change` and decodes them back, checking everything a
/// sender could get wrong.
///
/// A change's bytes are encoded once, by its origin; stores keep and relay those exact bytes,
/// so a relayed change is never re-encoded (and its hash never changes).
public enum ChangeCodec {
    /// The encoded `Change` message (without its dot, which travels in the envelope).
    public static func encode(_ change: Change) -> Data {
        var wire = WireChange()
        wire.hlc = change.hlc.rawValue
        wire.collection = UInt32(change.record.collection)
        if let uuid = RecordID.uuidBytes(change.record.id) {
            wire.recordUuid = Data(uuid)
        } else {
            wire.recordID = change.record.id
        }
        wire.department = change.department
        if !change.context.isEmpty { wire.context = WireVersionVector(change.context) }
        switch change.body {
        case .delete:
            wire.delete = true
        case .upsert(let writes):
            wire.writes = writes.map(encode)
        }
        // Serialising a plain struct of scalars and strings cannot fail.
        return try! wire.serializedData()
    }

    static func encode(_ write: FieldWrite) -> WireFieldWrite {
        var wire = WireFieldWrite()
        wire.field = UInt32(write.field)
        switch write.operation {
        case .assign(let value, let tag, let supersede):
            wire.tag = tag
            wire.supersede = supersede
            switch value {
            case .null: wire.nullValue = true
            case .text(let s): wire.text = s
            case .int(let i): wire.int = i
            case .decimal(let d): wire.decimal = d.description
            case .date(let d): wire.date = Int32(d.daysSinceEpoch)
            case .symbol(let s): wire.symbol = s
            case .ref(let s): wire.ref = s
            case .set(let elements): wire.add = elements  // not produced: sets travel as updates
            }
        case .updateSet(let add, let remove):
            wire.add = add
            wire.remove = remove
        }
        return wire
    }

    /// Decodes the change with dot `(origin, counter)` from its encoded bytes.
    /// - Throws: ``WireError`` when the bytes are not a change, or break a rule or a limit.
    public static func decode(origin: UInt64, counter: UInt64, payload: Data, schema: Schema) throws(WireError) -> Change {
        guard origin != 0, counter != 0 else {
            throw WireError(.invalid, "change has no origin replica or a zero counter")
        }
        let dot = Dot(replica: ReplicaID(rawValue: origin), counter: counter)
        guard payload.count <= DecodeLimits.maxChangeBytes else {
            throw WireError(.invalid, "change \(dot) is \(payload.count) bytes, over the limit")
        }
        let decoded: Result<ChangeDecoder.RawChange, ChangeDecoder.Malformed> = payload.withUnsafeBytes { bytes in
            var decoder = ChangeDecoder(bytes)
            return Result { () throws(ChangeDecoder.Malformed) in try decoder.change() }
        }
        guard case .success(let raw) = decoded else {
            throw WireError(.malformed, "change \(dot) does not decode as a sitesync.v1.Change")
        }
        return try change(from: raw, dot: dot, schema: schema)
    }

    /// Checks the parts of a decoded change against the schema and the limits and builds it.
    static func change(from raw: ChangeDecoder.RawChange, dot: Dot, schema: Schema) throws(WireError) -> Change {
        guard dot.replica.rawValue != 0, dot.counter != 0 else {
            throw WireError(.invalid, "change has no origin replica or a zero counter")
        }
        guard raw.collection <= UInt64(UInt16.max), let collection = schema.collection(code: UInt16(raw.collection)) else {
            throw WireError(.invalid, "change \(dot) names collection \(raw.collection), unknown to schema \(schema.version)")
        }
        let id = try recordID(uuid: raw.recordUUID, text: raw.recordID, in: "change \(dot)")
        guard raw.department.isEmpty || (try? DepartmentCode.validate(raw.department)) != nil else {
            throw WireError(.invalid, "change \(dot) has an invalid department code")
        }
        var vector = WireVersionVector()
        vector.replicas = raw.replicas
        vector.counters = raw.counters
        let context = try VersionVector(wire: vector)
        let body: Change.Body
        if raw.isDelete {
            guard raw.writes.isEmpty else { throw WireError(.invalid, "change \(dot) is a deletion with field writes") }
            body = .delete
        } else {
            guard !raw.writes.isEmpty, raw.writes.count <= DecodeLimits.maxWritesPerChange else {
                throw WireError(.invalid, "change \(dot) has \(raw.writes.count) field writes (1 to \(DecodeLimits.maxWritesPerChange) allowed)")
            }
            var writes: [FieldWrite] = []
            writes.reserveCapacity(raw.writes.count)
            for write in raw.writes {
                writes.append(try decode(write, collection: collection, dot: dot))
            }
            body = .upsert(writes)
        }
        return Change(dot: dot, hlc: HLCTimestamp(rawValue: raw.hlc), record: RecordKey(collection: collection.code, id: id),
                      department: raw.department, context: context, body: body)
    }

    /// A record id as it travels: 16 bytes when it is a canonical UUID, else its text.
    /// - Parameter what: the message it came in, for the error.
    static func recordID(uuid: [UInt8]?, text: String?, in what: String) throws(WireError) -> String {
        if let uuid {
            guard uuid.count == 16 else { throw WireError(.invalid, "\(what) has a record UUID of \(uuid.count) bytes") }
            return RecordID.format(uuid)
        }
        guard let text else { throw WireError(.invalid, "\(what) names no record") }
        guard (try? RecordID.validate(text)) != nil else {
            throw WireError(.invalid, "\(what) names the record '\(WireError.printable(text))', which is not a record id "
                            + "(1 to 128 letters, digits and . _ : @ -, starting with a letter or digit)")
        }
        return text
    }

    static func decode(_ raw: ChangeDecoder.RawWrite, collection: CollectionSpec, dot: Dot) throws(WireError) -> FieldWrite {
        guard raw.field <= UInt64(UInt16.max), let spec = collection.field(code: UInt16(raw.field)) else {
            throw WireError(.invalid, "change \(dot) writes field \(raw.field), unknown in \(collection.name)")
        }
        func checked(_ s: String) throws(WireError) -> String {
            guard s.utf8.count <= DecodeLimits.maxStringBytes else {
                throw WireError(.invalid, "change \(dot) has a value of \(spec.name) longer than \(DecodeLimits.maxStringBytes) bytes")
            }
            return s
        }
        guard let value = raw.value else {
            guard spec.rule == .orset else {
                throw WireError(.invalid, "change \(dot) updates \(spec.name) as a set, but it is not one")
            }
            for element in raw.add + raw.remove { _ = try checked(element) }
            return FieldWrite(field: spec.code, .updateSet(add: raw.add, remove: raw.remove))
        }
        let decoded: FieldValue
        switch value {
        case .null: decoded = .null
        case .text(let s): decoded = .text(try checked(s))
        case .int(let i): decoded = .int(i)
        case .decimal(let s):
            guard ExactDecimal.isCanonical(s), let d = ExactDecimal(s) else {
                throw WireError(.invalid, "change \(dot) has a non-canonical decimal in \(spec.name)")
            }
            decoded = .decimal(d)
        case .date(let days):
            let date = CalendarDate(daysSinceEpoch: Int(days))
            guard (1...9999).contains(date.year) else { throw WireError(.invalid, "change \(dot) has a date out of range in \(spec.name)") }
            decoded = .date(date)
        case .symbol(let s): decoded = .symbol(try checked(s))
        case .ref(let s): decoded = .ref(try checked(s))
        }
        guard decoded.conforms(to: spec.type), spec.rule != .orset else {
            throw WireError(.invalid, "change \(dot) writes a value of the wrong type to \(collection.name).\(spec.name)")
        }
        // A compact batch carries the tag as a full varint; a Change message holds 32 bits.
        guard let tag = UInt32(exactly: raw.tag) else {
            throw WireError(.invalid, "change \(dot) gives \(spec.name) the tag \(raw.tag), more than the 32 bits a tag holds")
        }
        return .assign(spec.code, decoded, tag: tag, supersede: raw.supersede)
    }
}
