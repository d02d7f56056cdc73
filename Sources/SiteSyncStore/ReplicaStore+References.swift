import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// References decided late, at the hub: a change that points at a record the hub has not
/// received yet (it travelled by another path) is taken, noted, and checked against the
/// department of that record when it arrives; if it points into another department it is
/// refused then, retracted here and, through the published refusal, at every replica.
extension ReplicaStore {
    /// Notes that the change `dot` points at `targets`, records not held here yet.
    func notePendingReferences(_ db: Database, _ dot: Dot, targets: [RecordKey]) throws {
        for target in targets {
            try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO sync_pending_reference (replica, counter, target_collection, target_id) VALUES (?, ?, ?, ?)
                """).execute(arguments: [dot.replica.storageValue, Int64(bitPattern: dot.counter), Int(target.collection), target.id])
        }
    }

    /// Decides the noted changes that point at the records that have just arrived (each with
    /// its department): those pointing into another department are retracted and returned
    /// with their refusal, for the caller to rebuild their records and publish the refusals.
    func refusePendingReferences(_ db: Database, arrived: [(key: RecordKey, department: String)],
                                 now: UInt64) throws -> [(refusal: Refusal, change: Change)] {
        var refused: [(refusal: Refusal, change: Change)] = []
        for (target, department) in arrived {
            let arguments: StatementArguments = [Int(target.collection), target.id]
            let pending = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT replica, counter FROM sync_pending_reference WHERE target_collection = ? AND target_id = ?
                """), arguments: arguments)
            guard !pending.isEmpty else { continue }
            try db.cachedStatement(sql: "DELETE FROM sync_pending_reference WHERE target_collection = ? AND target_id = ?")
                .execute(arguments: arguments)
            for row in pending {
                let dot = Dot(replica: ReplicaID(storageValue: row[0]), counter: UInt64(bitPattern: row[1]))
                guard let payload = try ChangeLog(db).payloadInForce(dot) else { continue }
                let change = try ChangeCodec.decode(origin: dot.replica.rawValue, counter: dot.counter, payload: payload, schema: schema)
                guard let field = ReferencePolicy.targets(of: change, schema: schema).first(where: { $0.key == target })?.field,
                      let refusal = ReferencePolicy.refusal(
                          dot, what: "\(try collection(change.record.collection).name) \(change.record.id)", field: field,
                          target: try collection(target.collection).name, targetID: target.id, department: change.department,
                          targetDepartment: department) else { continue }
                try ChangeLog(db).retract(dot)
                try recordRejection(db, refusal, record: change.record, refusedBy: "", now: now)
                refused.append((refusal, change))
            }
        }
        return refused
    }
}
