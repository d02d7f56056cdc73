import Foundation
import SiteSyncCore

/// Encodes a record's replicated state as `sitesync.v1.RecordState` and decodes it back, with
/// the same checks as a change's fields: a state transfer sends records this way when the
/// sender's log no longer holds the changes that made them (protocol/README.md §9.6).
///
/// Each version travels as the value it holds (`FieldWrite`: field, value, tag) with its dot
/// and clock; an element of an `orset` field as its `text`.
public enum StateCodec {
    public static func encode(_ state: RecordState) -> WireRecordState {
        var wire = WireRecordState()
        wire.collection = UInt32(state.key.collection)
        if let uuid = RecordID.uuidBytes(state.key.id) {
            wire.recordUuid = Data(uuid)
        } else {
            wire.recordID = state.key.id
        }
        wire.department = state.department
        wire.context = WireVersionVector(state.context)
        wire.versions = state.versions.map { version in
            WireStateVersion.with {
                $0.origin = version.dot.replica.rawValue
                $0.counter = version.dot.counter
                $0.hlc = version.hlc.rawValue
                // The value as a change assigning it would carry it (a set element as text).
                $0.write = ChangeCodec.encode(.assign(version.field, version.value, tag: version.tag))
            }
        }
        wire.tombstones = state.tombstones.map { tombstone in
            WireStateTombstone.with {
                $0.origin = tombstone.dot.replica.rawValue
                $0.counter = tombstone.dot.counter
                $0.hlc = tombstone.hlc.rawValue
                $0.context = WireVersionVector(tombstone.context)
            }
        }
        return wire
    }

    /// - Throws: ``WireError`` when the state names an unknown collection or field, holds a
    ///   value of the wrong type, or breaks a limit.
    public static func decode(_ wire: WireRecordState, schema: Schema) throws(WireError) -> RecordState {
        guard wire.collection <= UInt32(UInt16.max), let collection = schema.collection(code: UInt16(wire.collection)) else {
            throw WireError(.invalid, "a record state names collection \(wire.collection), unknown to schema \(schema.version)")
        }
        var uuid: [UInt8]?, text: String?
        switch wire.record {
        case .recordUuid(let bytes)?: uuid = Array(bytes)
        case .recordID(let id)?: text = id
        case nil: break
        }
        let id = try ChangeCodec.recordID(uuid: uuid, text: text, in: "a record state")
        guard wire.department.isEmpty || (try? DepartmentCode.validate(wire.department)) != nil else {
            throw WireError(.invalid, "the record state of \(collection.name) \(id) has an invalid department code")
        }
        guard wire.versions.count <= 100_000, wire.tombstones.count <= 10_000 else {
            throw WireError(.invalid, "the record state of \(collection.name) \(id) holds too many versions")
        }
        var versions: [FieldVersion] = []
        for version in wire.versions {
            guard version.origin != 0, version.counter != 0 else {
                throw WireError(.invalid, "a version in the record state of \(collection.name) \(id) has no dot")
            }
            let dot = Dot(replica: ReplicaID(rawValue: version.origin), counter: version.counter)
            var raw = ChangeDecoder.RawWrite()
            raw.field = UInt64(version.write.field)
            raw.tag = UInt64(version.write.tag)
            switch version.write.value {
            case .nullValue?: raw.value = .null
            case .text(let s)?: raw.value = .text(s)
            case .int(let i)?: raw.value = .int(i)
            case .decimal(let s)?: raw.value = .decimal(s)
            case .date(let d)?: raw.value = .date(d)
            case .symbol(let s)?: raw.value = .symbol(s)
            case .ref(let s)?: raw.value = .ref(s)
            case nil: raw.value = nil
            }
            let value: FieldValue
            if let code = UInt16(exactly: version.write.field), collection.field(code: code)?.rule == .orset {
                guard case .text(let element)? = version.write.value, element.utf8.count <= DecodeLimits.maxStringBytes else {
                    throw WireError(.invalid, "a set version in the record state of \(collection.name) \(id) is not one text element")
                }
                versions.append(FieldVersion(field: code, dot: dot, hlc: HLCTimestamp(rawValue: version.hlc), value: .text(element)))
                continue
            }
            switch try ChangeCodec.decode(raw, collection: collection, dot: dot).operation {
            case .assign(let assigned, _, _):
                value = assigned
            case .updateSet:
                throw WireError(.invalid, "a version in the record state of \(collection.name) \(id) holds no value")
            }
            versions.append(FieldVersion(field: UInt16(version.write.field), dot: dot, hlc: HLCTimestamp(rawValue: version.hlc),
                                         value: value, tag: version.write.tag))
        }
        var tombstones: [Tombstone] = []
        for tombstone in wire.tombstones {
            guard tombstone.origin != 0, tombstone.counter != 0 else {
                throw WireError(.invalid, "a deletion in the record state of \(collection.name) \(id) has no dot")
            }
            tombstones.append(Tombstone(dot: Dot(replica: ReplicaID(rawValue: tombstone.origin), counter: tombstone.counter),
                                        hlc: HLCTimestamp(rawValue: tombstone.hlc), context: try VersionVector(wire: tombstone.context)))
        }
        return RecordState(key: RecordKey(collection: collection.code, id: id), department: wire.department,
                           context: try VersionVector(wire: wire.context), versions: versions, tombstones: tombstones)
    }
}
