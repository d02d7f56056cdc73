import Foundation
import GRDB
import SiteSyncCore

/// A hub process's working copy (docs/design.md §18): the changesets other processes wrote,
/// applied in order, bring it to the state they left.
extension ReplicaStore {
    /// Applies `changesets`, each taken from a copy of this database in the state the one before
    /// left, in one transaction; the first that does not fit aborts them all.
    public func applyChangesets(_ changesets: [Changeset]) throws {
        try StoreError.mapping {
            try pool.write { db in
                for changeset in changesets { try applyChangeset(changeset, db) }
            }
        }
    }

    /// One changeset, in the transaction running on `db`. A typed row's rowid is its record's
    /// `sync_record` id (``RecordTable``), which a changeset does not carry (it names rows by
    /// their primary key): each typed row inserted is given it back.
    func applyChangeset(_ changeset: Changeset, _ db: Database) throws {
        try changeset.apply(to: db)
        for operation in try changeset.operations() where operation.kind == .insert {
            guard let collection = schema.collection(named: operation.table), let key = operation.primaryKey.firstIndex(of: true),
                  let id = operation.new[key].flatMap(String.fromDatabaseValue) else { continue }
            try db.execute(sql: """
                UPDATE \(StoreSchema.quoted(collection.name)) SET rowid = (SELECT id FROM sync_record WHERE collection = ?1 AND record_id = ?2)
                WHERE id = ?2
                """, arguments: [collection.name, id])
        }
    }
}
