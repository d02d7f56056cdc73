import Foundation
import SiteSyncCore

/// How a store is opened.
public struct StoreOptions: Sendable {
    /// SQLite's `synchronous` setting. `full` (the default) makes every commit durable when it
    /// returns, which docs/design.md §5 requires: a lost commit that was already sent would reissue a dot.
    public enum Durability: String, Sendable, CaseIterable {
        case full
        case normal
        /// For throwaway test databases only.
        case off
    }

    public var durability: Durability
    /// Milliseconds since the Unix epoch; tests inject skewed or fixed clocks.
    public var wallClock: @Sendable () -> UInt64
    /// How far ahead of the local clock a remote HLC may be before it is clamped.
    public var maxClockDriftMilliseconds: UInt64
    /// How long to wait for another process that holds the database, in seconds.
    public var busyTimeout: Double
    /// The most the database may grow to, in bytes (`nil`: no limit but the disk's). Past it a
    /// write fails with ``StoreError/Code/storageFull``, as on a full disk.
    public var maxBytes: Int?
    /// The node's keys: local writes are signed with them. Without them the store can receive
    /// and serve changes but not write locally.
    public var signer: NodeSecretKey?
    /// The Ed25519 key of the hub this node trusts (from its configuration), to tell the hub's
    /// refusals from anyone else's; `nil` when none is configured.
    public var hubSigningKey: [UInt8]?
    /// Where the salt of a new epoch's replica credential comes from (8 bytes); `nil`: the
    /// system's random source. A simulation draws it from its seed, so that a run is the same
    /// every time it is replayed.
    public var epochSalt: (@Sendable () -> [UInt8])?
    /// The log that orders the write transactions of several hub processes sharing one store
    /// (docs/design.md §18); `nil`: this file is the store.
    public var transactionLog: (any TransactionLog)?
    /// Page cache of the writer connection, in KiB (allocated only as used). 64 MiB keeps the
    /// index pages of a bulk apply in memory instead of reading them back on every batch.
    public var writerCacheKibibytes = 65536
    /// Page cache of each reader connection, in KiB (allocated only as used).
    public var readerCacheKibibytes = 8192
    /// Frames (pages) the write-ahead log holds before a background PASSIVE checkpoint copies
    /// them into the database file; SQLite's own automatic checkpoint, on the writer's thread,
    /// is off (docs/design.md §5).
    public var checkpointFrames = 1000
    /// The write-ahead log's bound, in bytes: past it, the background checkpointer waits for
    /// a pause between the writer's transactions and readers and truncates the log to nothing.
    public var walBoundBytes = 64 << 20

    public init(
        durability: Durability = .full,
        wallClock: @escaping @Sendable () -> UInt64 = StoreOptions.systemClock,
        maxClockDriftMilliseconds: UInt64 = 10 * 60 * 1000,
        busyTimeout: Double = 10,
        signer: NodeSecretKey? = nil
    ) {
        self.signer = signer
        self.durability = durability
        self.wallClock = wallClock
        self.maxClockDriftMilliseconds = maxClockDriftMilliseconds
        self.busyTimeout = busyTimeout
    }

    /// A long-running listener's (`sitesync serve`, the hub's): 2 MiB of page cache for the
    /// writer and for each reader, so that its memory stays flat however large its database
    /// grows, and the operating system's file cache holds the rest. With the defaults the
    /// writer's cache grew with the database up to 64 MiB, which the soak saw as the hub's
    /// memory rising by as much as its data; `bench`'s pushes to the hub are as fast with the
    /// cap. Readers scan the log once per pull; several of them with large caches would each
    /// hold the same recent pages.
    public static var listener: StoreOptions {
        var options = StoreOptions()
        options.writerCacheKibibytes = 2048
        options.readerCacheKibibytes = 2048
        return options
    }

    /// The system's wall clock in milliseconds.
    @Sendable public static func systemClock() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1000))
    }
}
