import Foundation
import GRDB
import SiteSyncCore

/// A change as the log holds it: its position, its dot and its bytes.
public struct LoggedChange: Sendable, Equatable {
    /// The position in this replica's log (its apply order).
    public let sequence: Int64
    public let dot: Dot
    public let department: String
    public let payload: Data
}

/// A page of the change log, for sending.
public struct LogPage: Sendable {
    public let changes: [LoggedChange]
    /// The position scanned up to: the next page continues after it.
    public let cursor: Int64
    /// Whether the scan reached the end of the log.
    public let exhausted: Bool
}

extension ReplicaStore {
    /// Every change this replica holds that a receiver with knowledge `base` lacks, within
    /// `scope`, in log order (so every change comes after the changes it depends on).
    public func changes(lackedBy base: VersionVector, scope: ReplicationScope = .everything) throws -> [LoggedChange] {
        try page(lackedBy: base, scope: scope, after: 0, limit: .max, maxBytes: .max).changes
    }

    /// One page of what a receiver with knowledge `base` lacks: at most `limit` changes and
    /// about `maxBytes` of encoded changes, after log position `after`.
    public func page(lackedBy base: VersionVector, scope: ReplicationScope, after: Int64, limit: Int, maxBytes: Int) throws -> LogPage {
        try StoreError.mapping {
            try pool.read { db in
                let start = try max(after, self.firstLackingSequence(db, base: base) - 1)
                var result: [LoggedChange] = []
                var bytes = 0
                var cursor = after
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT seq, replica, counter, department, payload FROM sync_change WHERE seq > ? ORDER BY seq
                    """, arguments: [start])
                while let row = try rows.next() {
                    let payload: Data = row[4]
                    if !result.isEmpty && (result.count >= limit || bytes + payload.count > maxBytes) {
                        return LogPage(changes: result, cursor: cursor, exhausted: false)
                    }
                    cursor = row[0]
                    let dot = Dot(replica: ReplicaID(storageValue: row[1]), counter: UInt64(bitPattern: row[2]))
                    guard dot.counter > base[dot.replica] else { continue }
                    let department: String = row[3]
                    guard scope.includes(department: department) else { continue }
                    result.append(LoggedChange(sequence: cursor, dot: dot, department: department, payload: payload))
                    bytes += payload.count
                }
                return LogPage(changes: result, cursor: cursor, exhausted: true)
            }
        }
    }

    /// The log position of the first change a receiver with knowledge `base` lacks, found
    /// through the (replica, counter) index instead of a scan of the log.
    func firstLackingSequence(_ db: Database, base: VersionVector) throws -> Int64 {
        var first = Int64.max
        let origins = try Int64.fetchAll(db, sql: "SELECT replica FROM sync_knowledge")
        for origin in origins {
            let replica = ReplicaID(storageValue: origin)
            if let seq = try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT seq FROM sync_change WHERE replica = ? AND counter > ? ORDER BY counter LIMIT 1
                """), arguments: [origin, Int64(bitPattern: base[replica])]) {
                first = min(first, seq)
            }
        }
        return first == .max ? (try Int64.fetchOne(db, sql: "SELECT max(seq) FROM sync_change") ?? 0) + 1 : first
    }
}
