import Foundation
import GRDB
import SiteSyncCore

/// The records that refer to a record, by the typed tables' `ref` columns: what keeps a record
/// in use (``WritePolicy/referencedDenial(_:_:referrers:)``). Asked only for a deletion, so a
/// scan of a table without an index on the column is acceptable.
extension ReplicaStore {
    /// How many live records refer to `key`, by collection name (only collections with some).
    /// - Parameter pending: states changed in the caller's transaction but not saved yet (a
    ///   batch being applied): they count as they are now, not as their typed rows still show.
    func referrers(_ db: Database, of key: RecordKey, pending: [RecordState] = []) throws -> [String: Int] {
        let target = try collection(key.collection)
        let pendingKeys = Set(pending.map(\.key))
        var counts: [String: Int] = [:]
        for (source, field) in schema.referringFields(to: target) {
            let ids = try String.fetchAll(db, sql: """
                SELECT id FROM \(StoreSchema.quoted(source.name)) WHERE \(StoreSchema.quoted(field.name)) = ?
                """, arguments: [key.id])
            var count = ids.filter { !pendingKeys.contains(RecordKey(collection: source.code, id: $0)) }.count
            count += pending.filter { state in
                state.key.collection == source.code && !state.isEmpty && !state.isDeleted && state.key != key
                    && state.value(of: field) == .ref(key.id)
            }.count
            // A goal whose parent is itself does not keep itself in use.
            if source.code == target.code, ids.contains(key.id), !pendingKeys.contains(key) { count -= 1 }
            if count > 0 { counts[source.name, default: 0] += count }
        }
        return counts
    }
}
