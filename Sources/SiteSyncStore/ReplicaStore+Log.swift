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

/// Which records a receiver is entitled to and wants.
public enum ReplicationScope: Sendable, Equatable {
    /// Every department.
    case everything
    /// One department's records plus shared reference data.
    case department(String)

    /// The scope of a node with `role` in `department` (DESIGN §1).
    public init(role: Role, department: String) {
        self = role.readsEverything ? .everything : .department(department)
    }

    public func includes(department: String) -> Bool {
        switch self {
        case .everything: true
        case .department(let own): department.isEmpty || department == own
        }
    }

    /// Whether everything in `other` is also in `self`.
    public func covers(_ other: ReplicationScope) -> Bool {
        switch (self, other) {
        case (.everything, _): true
        case (.department, .everything): false
        case let (.department(a), .department(b)): a == b
        }
    }
}

extension ReplicaStore {
    /// Every change this replica holds that a receiver with knowledge `base` lacks, within
    /// `scope`, in log order (so every change comes after the changes it depends on).
    /// - Parameters:
    ///   - after: resume after this log position (0 for the start).
    ///   - limit: at most this many changes.
    public func changes(lackedBy base: VersionVector, scope: ReplicationScope = .everything,
                        after: Int64 = 0, limit: Int = .max) throws -> [LoggedChange] {
        try StoreError.mapping {
            try pool.read { db in
                let start = try max(after, self.firstLackingSequence(db, base: base) - 1)
                var result: [LoggedChange] = []
                let cursor = try Row.fetchCursor(db, sql: """
                    SELECT seq, replica, counter, department, payload FROM sync_change WHERE seq > ? ORDER BY seq
                    """, arguments: [start])
                while result.count < limit, let row = try cursor.next() {
                    let dot = Dot(replica: ReplicaID(storageValue: row[1]), counter: UInt64(bitPattern: row[2]))
                    guard dot.counter > base[dot.replica] else { continue }
                    let department: String = row[3]
                    guard scope.includes(department: department) else { continue }
                    result.append(LoggedChange(sequence: row[0], dot: dot, department: department, payload: row[4]))
                }
                return result
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
