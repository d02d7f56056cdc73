import Crypto

/// The canonical, user-visible form of records: what `sitesync export --json` prints (one
/// record per line) and what the digest hashes.
///
/// A live record: `{"collection","department","fields":{…},"id"}`, plus `"siblings"` for fields
/// whose differing concurrent values wait for a person (each with its origin replica and
/// counter), and `"lost_deletions"` for deletions that lost to a concurrent edit. A deleted
/// record: `{"collection","deleted":true,"department","id"}`. Lines are sorted by collection
/// name, then id. Local bookkeeping (node names, arrival order, conflict log) is left out, so two
/// replicas that hold the same changes print the same bytes.
public enum CanonicalRecord {
    /// The canonical JSON object of one record.
    public static func json(_ state: RecordState, in collection: CollectionSpec) -> JSONValue {
        var object: [String: JSONValue] = [
            "collection": .string(collection.name),
            "department": .string(state.department),
            "id": .string(state.key.id),
        ]
        if state.isDeleted {
            object["deleted"] = .bool(true)
            return .object(object)
        }
        var fields: [String: JSONValue] = [:]
        var siblings: [String: JSONValue] = [:]
        for (spec, resolution) in state.resolvedFields(in: collection) {
            if !resolution.value.isNull { fields[spec.name] = resolution.value.jsonValue }
            if resolution.conflict == .open {
                let versions = state.versions(of: spec.code).sorted { $0.dot < $1.dot }
                siblings[spec.name] = .array(versions.map { version in
                    .object([
                        "origin": .string(version.dot.replica.description),
                        "counter": .int(Int64(clamping: version.dot.counter)),
                        "value": version.value.jsonValue,
                    ])
                })
            }
        }
        object["fields"] = .object(fields)
        if !siblings.isEmpty { object["siblings"] = .object(siblings) }
        if state.hasLostDeletion {
            object["lost_deletions"] = .array(state.tombstones.map { tombstone in
                .object([
                    "origin": .string(tombstone.dot.replica.description),
                    "counter": .int(Int64(clamping: tombstone.dot.counter)),
                ])
            })
        }
        return .object(object)
    }

    /// Orders records for the export: collection name, then id, by UTF-8 bytes.
    public static func precedes(_ a: (collection: String, id: String), _ b: (collection: String, id: String)) -> Bool {
        if a.collection != b.collection { return a.collection.utf8.lexicographicallyPrecedes(b.collection.utf8) }
        return a.id.utf8.lexicographicallyPrecedes(b.id.utf8)
    }
}

/// A running SHA-256 over canonical export lines: feed records in export order.
public struct StateDigest {
    private var hasher = SHA256()

    public init() {}

    /// Adds one record's canonical line (its JSON and a newline).
    public mutating func add(_ line: JSONValue) {
        var bytes: [UInt8] = []
        line.write(to: &bytes)
        bytes.append(0x0A)
        hasher.update(data: bytes)
    }

    /// Adds bytes that are already a canonical line, newline included.
    public mutating func add(lineBytes: [UInt8]) {
        hasher.update(data: lineBytes)
    }

    /// 64 lower-case hex digits.
    public func finalize() -> String {
        SHA256Hex.hex(Array(hasher.finalize()))
    }
}
