import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// One change of one record, as an auditor reads it: who wrote it (the dot's origin), when by
/// the writer's clock, and what it set.
public struct RecordChange: Sendable, Equatable {
    /// The position in this replica's log.
    public let sequence: Int64
    public let dot: Dot
    /// When it was written, by the writer's hybrid logical clock (milliseconds).
    public let writtenMilliseconds: UInt64
    /// Whether it deleted the record.
    public let isDelete: Bool
    /// Each field it wrote, by name, with the value as text (sets as `+a −b`).
    public let fields: [(name: String, value: String)]
    /// `in force`, or `withheld` (refused or held back; its fields are not shown then).
    public let inForce: Bool

    public static func == (a: RecordChange, b: RecordChange) -> Bool {
        a.sequence == b.sequence && a.dot == b.dot && a.writtenMilliseconds == b.writtenMilliseconds && a.isDelete == b.isDelete
            && a.inForce == b.inForce && a.fields.map(\.name) == b.fields.map(\.name) && a.fields.map(\.value) == b.fields.map(\.value)
    }
}

extension ReplicaStore {
    /// The changes this replica's log holds for one record, newest first. The log is scanned
    /// within the record's department only (a change's department is its record's), and only
    /// what compaction left is there: a record older than the last compaction starts with the
    /// state it was compacted to.
    /// - Returns: `nil` when no record of that collection and id is held.
    public func recordChanges(collection name: String, id: String) throws -> [RecordChange]? {
        guard let spec = schema.collection(named: name) else { return nil }
        let key = RecordKey(collection: spec.code, id: id)
        return try StoreError.mapping {
            try pool.read { db in
                guard let department = try String.fetchOne(db, sql: "SELECT department FROM sync_record WHERE collection = ? AND record_id = ?",
                                                           arguments: [name, id]) else { return nil }
                var out: [RecordChange] = []
                let rows = try Row.fetchCursor(db, sql: "SELECT seq, replica, counter, payload, status FROM sync_change WHERE department = ? ORDER BY seq DESC",
                                               arguments: [department])
                while let row = try rows.next() {
                    let dot = Dot(replica: ReplicaID(storageValue: row[1]), counter: UInt64(bitPattern: row[2]))
                    guard ChangeStatus.stored(row[4]) != .withheld else { continue }
                    let change = try ChangeCodec.decode(origin: dot.replica.rawValue, counter: dot.counter, payload: row[3], schema: schema)
                    guard change.record == key else { continue }
                    out.append(RecordChange(sequence: row[0], dot: dot, writtenMilliseconds: change.hlc.milliseconds,
                                            isDelete: change.body == .delete, fields: Self.fieldTexts(change.body, spec),
                                            inForce: ChangeStatus.stored(row[4]) == .inForce))
                }
                return out
            }
        }
    }

    static func fieldTexts(_ body: Change.Body, _ spec: CollectionSpec) -> [(name: String, value: String)] {
        guard case .upsert(let writes) = body else { return [] }
        return writes.map { write in
            let name = spec.field(code: write.field)?.name ?? "#\(write.field)"
            switch write.operation {
            case .assign(let value, _, _): return (name, value.jsonValue.plainTextOrCanonical)
            case .updateSet(let add, let remove):
                return (name, (add.map { "+\($0)" } + remove.map { "−\($0)" }).joined(separator: " "))
            }
        }
    }
}

extension JSONValue {
    /// A string as it is, anything else as its canonical JSON text.
    var plainTextOrCanonical: String {
        if case .string(let text) = self { return text }
        return canonicalText
    }
}
