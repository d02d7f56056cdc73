import SiteSyncCore

/// An error from the store: the database could not be opened, read or written, or a batch of
/// changes could not be applied. Nothing is half-written when one is thrown: every write is one
/// transaction that rolls back.
public struct StoreError: SiteSyncError {
    public enum Code: String, Sendable {
        /// There is no database where one was expected.
        case notFound = "not-found"
        /// The file is not a SQLite database, or not SiteSync's.
        case notSiteSync = "not-sitesync"
        /// The database was written by a newer SiteSync.
        case newerSchema = "newer-schema"
        /// The disk (or the database's size limit) is full.
        case storageFull = "storage-full"
        /// The database file is damaged.
        case corrupt
        /// Another process holds the database for too long.
        case busy
        /// A change that cannot be applied (out of causal order, or not valid here).
        case rejectedChange = "rejected-change"
        /// A write that the schema or the node's role does not allow.
        case invalidWrite = "invalid-write"
        /// Changes that do not match their origin's signature, or a chain that forks.
        case tampered
        /// The node's key is missing, or is not the one its database was made with.
        case key
        /// Changes that cannot be cut into batches any receiver accepts (never sealed at a
        /// common point by an older writer): nothing is lost, but they cannot be sent as they are.
        case unsendable
        /// A hub process's working copy that can no longer follow the store's log (docs/design.md
        /// §18): a changeset that does not fit it, or a copy ahead of a log restored from an
        /// older backup. Built again from the store, it goes on.
        case workingCopyUnfit = "working-copy-unfit"
        /// Any other SQLite failure.
        case database
    }

    public let code: Code
    public let message: String
    /// The underlying error, for logs.
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

}
