import Foundation
import GRDB
import SiteSyncCore

/// One entry of the conflict log.
public struct ConflictEntry: Sendable, Equatable {
    public let id: Int64
    public let collection: String
    public let recordID: String
    /// The field, or `(deleted)` for a deletion that lost to a concurrent edit.
    public let field: String
    public let rule: String
    /// `open` (waiting for a person), `auto` (resolved by the rule), `resolved` (a person or a
    /// later write settled an open conflict).
    public let status: String
    /// Whether the field still holds the differing values.
    public let isActive: Bool
    public let department: String
    public let winner: JSONValue
    /// Every value, each with `origin` (replica), `counter`, `at_ms` and `value`.
    public let versions: [Version]
    public let detectedMilliseconds: UInt64
    public let settledMilliseconds: UInt64?
    public let settledBy: String?

    public struct Version: Sendable, Equatable {
        public let origin: ReplicaID
        public let counter: UInt64
        public let atMilliseconds: UInt64
        public let value: JSONValue
    }
}

/// Keeps `sync_conflict` in step with the records' states.
///
/// Each row is one episode of one field holding differing concurrent values: it is created when
/// the episode starts, updated while values join it, and settled when a write that had seen
/// them all replaces them (an open conflict then becomes `resolved`). Rows are never deleted,
/// so the log keeps every automatic resolution that had a loser.
enum ConflictLog {
    static let deletedField = "(deleted)"

    /// How many conflicts wait for a person.
    static func openCount(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM sync_conflict WHERE status = 'open' AND active = 1") ?? 0
    }

    /// Forgets a removed record's entries (every change of it was retracted).
    static func forget(_ db: Database, collection: String, id: String) throws {
        try db.execute(sql: "DELETE FROM sync_conflict WHERE collection = ? AND record_id = ?", arguments: [collection, id])
    }

    static func reconcile(_ db: Database, state: RecordState, collection: CollectionSpec, settledBy dot: Dot?, now: UInt64) throws {
        struct Current { let rule: String; let status: String; let winner: String; let versions: String }
        var current: [String: Current] = [:]
        for (spec, resolution) in state.resolvedFields(in: collection) where resolution.conflict != .none {
            let versions = state.versions(of: spec.code).sorted { $0.dot < $1.dot }
            current[spec.name] = Current(
                rule: spec.rule.rawValue, status: resolution.conflict == .open ? "open" : "auto",
                winner: resolution.value.jsonValue.canonicalText,
                versions: JSONValue.array(versions.map(json)).canonicalText)
        }
        if state.hasLostDeletion {
            let tombstones = JSONValue.array(state.tombstones.map { tombstone in
                .object(["origin": .string(tombstone.dot.replica.description),
                         "counter": .int(Int64(clamping: tombstone.dot.counter)),
                         "at_ms": .int(Int64(clamping: tombstone.hlc.milliseconds)),
                         "value": .string("deleted")])
            }).canonicalText
            current[deletedField] = Current(rule: "delete", status: "auto", winner: JSONValue.string("kept").canonicalText,
                                            versions: tombstones)
        }
        let active = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT id, field, status FROM sync_conflict WHERE collection = ? AND record_id = ? AND active = 1
            """), arguments: [collection.name, state.key.id])
        var seen: Set<String> = []
        for row in active {
            let id: Int64 = row["id"], field: String = row["field"], status: String = row["status"]
            if let now_ = current[field] {
                seen.insert(field)
                try db.cachedStatement(sql: """
                    UPDATE sync_conflict SET versions = ?, winner = ?, status = ?, department = ?, updated_ms = ? WHERE id = ?
                    """).execute(arguments: [now_.versions, now_.winner, status == "open" || now_.status == "open" ? "open" : "auto",
                                             state.department, Int64(now), id])
            } else {
                try db.cachedStatement(sql: """
                    UPDATE sync_conflict SET active = 0, status = CASE status WHEN 'open' THEN 'resolved' ELSE status END,
                        settled_ms = ?, settled_by = ? WHERE id = ?
                    """).execute(arguments: [Int64(now), dot?.description, id])
            }
        }
        for (field, entry) in current.sorted(by: { $0.key < $1.key }) where !seen.contains(field) {
            try db.cachedStatement(sql: """
                INSERT INTO sync_conflict (collection, record_id, field, rule, status, active, department, winner, versions,
                    detected_ms, updated_ms) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)
                """).execute(arguments: [collection.name, state.key.id, field, entry.rule, entry.status, state.department,
                                         entry.winner, entry.versions, Int64(now), Int64(now)])
        }
    }

    static func json(_ version: FieldVersion) -> JSONValue {
        .object([
            "origin": .string(version.dot.replica.description),
            "counter": .int(Int64(clamping: version.dot.counter)),
            "at_ms": .int(Int64(clamping: version.hlc.milliseconds)),
            "value": version.value.jsonValue,
        ])
    }
}

extension ReplicaStore {
    /// The conflict log, newest first.
    /// - Parameters:
    ///   - status: only entries with this status (`open`, `auto`, `resolved`).
    ///   - activeOnly: only conflicts whose values are still side by side.
    public func conflicts(status: String? = nil, activeOnly: Bool = false, recordIDs: Set<String>? = nil) throws -> [ConflictEntry] {
        try StoreError.mapping {
            try pool.read { db in
                var sql = "SELECT * FROM sync_conflict WHERE 1 = 1"
                var arguments: StatementArguments = []
                if let status { sql += " AND status = ?"; arguments += [status] }
                if activeOnly { sql += " AND active = 1" }
                sql += " ORDER BY id DESC"
                return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap { row -> ConflictEntry? in
                    let recordID: String = row["record_id"]
                    if let recordIDs, !recordIDs.contains(recordID) { return nil }
                    return ConflictEntry(
                        id: row["id"], collection: row["collection"], recordID: recordID, field: row["field"],
                        rule: row["rule"], status: row["status"], isActive: row["active"], department: row["department"],
                        winner: JSONText.parse(row["winner"]) ?? .null,
                        versions: Self.versions(JSONText.parse(row["versions"])),
                        detectedMilliseconds: UInt64(max(0, row["detected_ms"] as Int64)),
                        settledMilliseconds: (row["settled_ms"] as Int64?).map { UInt64(max(0, $0)) },
                        settledBy: row["settled_by"])
                }
            }
        }
    }

    static func versions(_ json: JSONValue?) -> [ConflictEntry.Version] {
        guard case .array(let items)? = json else { return [] }
        return items.compactMap { item in
            guard case .object(let o) = item, case .string(let origin)? = o["origin"], let replica = ReplicaID(hex: origin),
                  case .int(let counter)? = o["counter"], case .int(let at)? = o["at_ms"] else { return nil }
            return ConflictEntry.Version(origin: replica, counter: UInt64(max(0, counter)), atMilliseconds: UInt64(max(0, at)),
                                         value: o["value"] ?? .null)
        }
    }
}
