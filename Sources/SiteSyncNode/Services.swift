import Dispatch
import Logging
import ServiceLifecycle
import Synchronization
import SiteSyncCore
import SiteSyncNet
import SiteSyncStore

/// Blocking work (libzmq polls, SQLite transactions) kept off Swift's cooperative thread pool.
///
/// The pool has one thread per core (two on a small hub); a sync round blocks in libzmq for as
/// long as the peer takes, minutes for a fresh node's first pull, and a compaction holds the
/// writer for seconds. On the pool, either would stall every other service and the group's
/// signal handling with it. A serial dispatch queue per service gets a thread of its own when
/// it needs one, and keeps the service's work in order (a libzmq socket must not be used from
/// two threads at once).
public struct BlockingQueue: Sendable {
    let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// Runs `work` on the queue and waits for it without holding a pool thread. Cancelling the
    /// caller does not interrupt `work`: work in progress finishes.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// ``run(_:)`` for work that cannot fail.
    public func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }
}

/// The clock a service measures its intervals on: any `Clock<Duration>`, `ContinuousClock` in
/// the shipped commands, a manual one in tests (which move it on instead of waiting). Times are
/// durations since the service's clock was made, so the services need not be generic.
public struct ServiceClock: Sendable {
    private let elapsed: @Sendable () -> Duration
    private let sleeper: @Sendable (Duration) async throws -> Void

    public init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let start = clock.now
        elapsed = { start.duration(to: clock.now) }
        sleeper = { try await clock.sleep(until: start.advanced(by: $0), tolerance: nil) }
    }

    /// The time since this clock was made.
    public var now: Duration { elapsed() }

    /// Sleeps until ``now`` reaches `deadline`; throws `CancellationError` when cancelled.
    public func sleep(until deadline: Duration) async throws {
        try await sleeper(deadline)
    }
}

/// A listener's view of who may connect, refreshed by a ``DirectoryReload`` service.
public protocol ReloadableDirectory: Sendable {
    /// The list as last loaded.
    func current() -> Directory
    /// Loads the list again from where it lives (a file, the database); a list that cannot be
    /// read leaves the last good one in force.
    func reload()
}

/// Re-reads a listener's allow-list every `interval` (a second by default: a revocation takes
/// effect within it), on an injected clock so that a test moves time instead of waiting.
public struct DirectoryReload: Service {
    let directory: any ReloadableDirectory
    let interval: Duration
    let clock: ServiceClock
    private let work = BlockingQueue(label: "sitesync.allow-list")

    public init(_ directory: any ReloadableDirectory, every interval: Duration = .seconds(1), clock: some Clock<Duration>) {
        self.directory = directory
        self.interval = interval
        self.clock = ServiceClock(clock)
    }

    public func run() async throws {
        await Periodic.run(every: interval, clock: clock) { [directory, work] in
            await work.run { directory.reload() }
        }
    }
}

/// Keeps a started ``SyncServer`` running as a service: it stops the listener on graceful
/// shutdown (or cancellation), and ends once the listener has let its work in progress finish.
public struct ListenerService: Service {
    public let server: SyncServer
    private let waiting = BlockingQueue(label: "sitesync.listener")

    public init(_ server: SyncServer) {
        self.server = server
    }

    /// - Throws: the listener's failure when it stopped on its own (it could not re-bind after
    ///   a revocation, or its ZAP handler failed): the service group then ends, and `serve`
    ///   with it, saying why, instead of running on deaf.
    public func run() async throws {
        let server = server
        await withTaskCancellationOrGracefulShutdownHandler {
            await waiting.run { server.wait() }
        } onCancelOrGracefulShutdown: {
            server.stop()
        }
        if let failure = server.failure { throw failure }
    }
}

/// The loop of a service that acts every `interval`: it sleeps on `clock`, acts, and sleeps
/// again, until graceful shutdown or cancellation. An act in progress is not interrupted.
enum Periodic {
    static func run(every interval: Duration, clock: ServiceClock, _ act: @escaping @Sendable () async -> Void) async {
        await cancelWhenGracefulShutdown {
            var next = clock.now + interval
            while !Task.isCancelled {
                do {
                    try await clock.sleep(until: next)
                } catch {
                    return  // cancelled: shutting down
                }
                await act()
                // The next time counts from now: an act that overran its interval is not run
                // again at once to catch up.
                next = clock.now + interval
            }
        }
    }
}

/// At a hub whose store is PostgreSQL (docs/design.md §18), brings this process's working copy
/// up to what the other processes wrote, every `interval` (a second by default): what it serves
/// and reports between its own writes is then at most that old. A failure (PostgreSQL down) is
/// logged and tried again at the next tick; the process's own writes catch up anyway. A copy
/// that can no longer follow the log (``StoreError/Code/workingCopyUnfit``) stops the process,
/// with what to do: started again, it builds its copy again from the database.
public struct StoreCatchUp: Service {
    let store: ReplicaStore
    let interval: Duration
    let clock: ServiceClock
    let logger: Logger
    private let work = BlockingQueue(label: "sitesync.catch-up")

    /// `nil` when the node's store is its own SQLite file (nothing to catch up with).
    public init?(node: Node, every interval: Duration = .seconds(1), clock: some Clock<Duration>, logger: Logger) {
        guard node.configuration.storeURL != nil else { return nil }
        store = node.store
        self.interval = interval
        self.clock = ServiceClock(clock)
        self.logger = logger
    }

    public func run() async throws {
        let unfit = Mutex<StoreError?>(nil)
        await Periodic.run(every: interval, clock: clock) { [store, work, logger] in
            guard unfit.withLock({ $0 }) == nil else { return }
            await work.run {
                do {
                    try store.catchUp()
                } catch let error as StoreError where error.code == .workingCopyUnfit {
                    unfit.withLock { $0 = error }
                } catch {
                    logger.warning("could not bring this hub process's copy up to date with the store: \(error)")
                }
            }
            if unfit.withLock({ $0 }) != nil { withUnsafeCurrentTask { $0?.cancel() } }
        }
        if let error = unfit.withLock({ $0 }) {
            logger.error("this hub process stops: \(error.message)")
            throw error
        }
    }
}
