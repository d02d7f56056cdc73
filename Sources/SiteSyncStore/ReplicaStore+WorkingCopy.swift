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
            try pool.writer.write { db in
                for changeset in changesets { try pool.apply(changeset, db) }
            }
        }
    }

    /// Brings this working copy up to its ``TransactionLog``'s last changeset (nothing to do
    /// without one): a hub process does so between writes, so its reports show what the other
    /// processes wrote.
    public func catchUp() throws {
        try StoreError.mapping { try pool.catchUp() }
    }
}
