import Foundation
import Logging
import ServiceLifecycle
import SiteSyncTestSupport
import Synchronization
import Testing
@testable import SiteSyncCore
@testable import SiteSyncNet
@testable import SiteSyncNode
@testable import SiteSyncStore

/// The node's background services on a manual clock: each test moves time on instead of waiting
/// for it, so "every ten minutes" takes no ten minutes.
///
/// The services and the test run on an executor of their own (``QueueExecutor``), not on the
/// cooperative pool: beside the end-to-end suites, whose synchronous tests hold the pool's few
/// threads while they wait for processes, these tests stood still for as long (a minute and
/// more on two cores) though they need no real time at all.
@Suite struct ServiceTests {
    static let quiet = Logger(label: "sitesync.test") { _ in SwiftLogNoOpLogHandler() }

    /// Runs `service` in a service group while `body` moves the clock, then shuts it down
    /// gracefully and checks that it stopped without an error.
    static func running(_ service: any Service, _ body: () async throws -> Void) async throws {
        let executor = QueueExecutor()
        try await withTaskExecutorPreference(executor) {
            let group = ServiceGroup(services: [service], logger: quiet)
            let running = Task(executorPreference: executor) { try await group.run() }
            try await body()
            await group.triggerGracefulShutdown()
            try await running.value
        }
    }

    // MARK: compaction

    @Test func theHubCompactsOncePerIntervalWhenTheClockGetsThereAndNotBefore() async throws {
        let directory = TemporaryDirectory()
        let hub = try Node.initialize(at: directory.file("hub"), configuration: NodeConfiguration(
            name: "hub-1", department: "office", role: .hub, durability: .off))
        let clock = ManualClock()
        let compactions = Counter()
        let service = PeriodicCompaction(every: .seconds(600), clock: clock, logger: Self.quiet) {
            compactions.add()
            return try hub.compact()
        }
        try await Self.running(service) {
            await clock.waitForSleepers()
            clock.advance(by: .seconds(599))
            await clock.waitForSleepers()
            #expect(compactions.value == 0, "an interval has not passed yet")
            clock.advance(by: .seconds(1))
            await clock.waitForSleepers()
            #expect(compactions.value == 1, "ten minutes in: the first compaction")
            clock.advance(by: .seconds(599))
            await clock.waitForSleepers()
            #expect(compactions.value == 1)
            clock.advance(by: .seconds(1))
            await clock.waitForSleepers()
            #expect(compactions.value == 2, "twenty minutes in: the second")
            // A clock that jumps by several intervals (a suspended machine) brings one
            // compaction, not one per interval missed; the next is an interval later.
            clock.advance(by: .seconds(3600))
            await clock.waitForSleepers()
            #expect(compactions.value == 3)
            clock.advance(by: .seconds(599))
            await clock.waitForSleepers()
            #expect(compactions.value == 3)
            clock.advance(by: .seconds(1))
            await clock.waitForSleepers()
            #expect(compactions.value == 4)
        }
    }

    @Test func onlyAHubWithAnIntervalRunsACompactionService() throws {
        let directory = TemporaryDirectory()
        let field = try Node.initialize(at: directory.file("north"), configuration: NodeConfiguration(
            name: "north", department: "roads", role: .field, durability: .off))
        #expect(PeriodicCompaction(node: field, clock: ManualClock(), logger: Self.quiet) == nil)
        let hub = try Node.initialize(at: directory.file("hub"), configuration: NodeConfiguration(
            name: "hub-1", department: "office", role: .hub, durability: .off))
        #expect(PeriodicCompaction(node: hub, clock: ManualClock(), logger: Self.quiet)?.interval
                == .seconds(hub.configuration.compaction.intervalSeconds))
    }

    // MARK: the runner

    @Test func failedRoundsAreRetriedAfterABackoffThatDoublesUpToItsCapAndStartsOverAfterASuccess() async throws {
        let clock = ManualClock()
        let hub = FakeHub(clock: clock)
        hub.failing.withLock { $0 = true }
        let runner = NodeRunner(driver: hub, timing: RunnerTiming(interval: .seconds(300)), clock: clock, logger: Self.quiet)
        try await Self.running(runner) {
            await clock.run(for: .seconds(130), step: .milliseconds(100))
            #expect(hub.gaps() == [1, 2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) }, "\(hub.rounds())")
            // The hub is back: the next retry succeeds, and then rounds come an interval apart.
            hub.failing.withLock { $0 = false }
            await clock.run(for: .seconds(30 + 300 + 1), step: .milliseconds(100))
            #expect(hub.gaps().suffix(2) == [.seconds(30), .seconds(300)], "\(hub.rounds())")
            // Away again: the backoff starts over at one second.
            hub.failing.withLock { $0 = true }
            await clock.run(for: .seconds(295), step: .milliseconds(100))
            #expect(hub.gaps().suffix(3) == [.seconds(300), .seconds(1), .seconds(2)], "\(hub.rounds())")
        }
    }

    @Test func aLocalWriteBringsTheNextRoundForwardOnceTheDebounceHasPassed() async throws {
        let clock = ManualClock()
        let hub = FakeHub(clock: clock)
        let runner = NodeRunner(driver: hub, timing: RunnerTiming(interval: .seconds(300)), clock: clock, logger: Self.quiet)
        try await Self.running(runner) {
            await clock.run(for: .seconds(10), step: .milliseconds(100))
            #expect(hub.rounds() == [.zero], "one round at the start, then quiet until the interval")
            // A write at ten seconds (while the runner waits for a hint).
            let written = clock.now.offset
            hub.counter.withLock { $0 += 1 }
            await clock.run(for: .milliseconds(499), step: .milliseconds(1))
            #expect(hub.rounds().count == 1, "within the debounce: no round yet")
            await clock.run(for: .milliseconds(500), step: .milliseconds(1))
            let round = try #require(hub.rounds().last)
            #expect(hub.rounds().count == 2, "\(hub.rounds())")
            // It is noticed at the runner's next look (within a poll), and goes a debounce later.
            #expect(round - written >= .milliseconds(500) && round - written <= .milliseconds(700), "\(round - written)")
            // That write went up: nothing more until the interval.
            await clock.run(for: .seconds(60), step: .milliseconds(100))
            #expect(hub.rounds().count == 2)
        }
    }

    @Test func aHintFromTheHubStartsARoundAtOnce() async throws {
        let clock = ManualClock()
        let hub = FakeHub(clock: clock)
        let runner = NodeRunner(driver: hub, timing: RunnerTiming(interval: .seconds(300)), clock: clock, logger: Self.quiet)
        try await Self.running(runner) {
            await clock.run(for: .seconds(20), step: .milliseconds(100))
            hub.hint.withLock { $0 = true }
            await clock.run(for: .milliseconds(200), step: .milliseconds(100))
            #expect(hub.rounds().count == 2 && hub.rounds().last! <= .milliseconds(20_200), "\(hub.rounds())")
        }
    }

    @Test func aRefusedKeyStopsTheRunnerWithTheError() async throws {
        let clock = ManualClock()
        let hub = FakeHub(clock: clock)
        hub.failure.withLock { $0 = NetError(.keyRefused, "the hub refused this node's key") }
        hub.failing.withLock { $0 = true }
        let runner = NodeRunner(driver: hub, timing: RunnerTiming(interval: .seconds(300)), clock: clock, logger: Self.quiet)
        let group = ServiceGroup(services: [runner], logger: Self.quiet)
        await withTaskExecutorPreference(QueueExecutor()) {
            _ = await #expect(throws: NetError.self) { try await group.run() }
        }
        #expect(hub.rounds() == [.zero], "no retry: a person must act")
    }

    // MARK: allow-list reloads

    @Test func aNodesListenerSeesTheAllowListItsHubSentOnceTheReloadIntervalHasPassed() async throws {
        let directory = TemporaryDirectory()
        let node = try Node.initialize(at: directory.file("north"), configuration: NodeConfiguration(
            name: "north", department: "roads", role: .field, durability: .off))
        let clock = ManualClock()
        let list = node.listenerDirectory()
        #expect(list.current().entries.isEmpty)
        let peer = DirectoryEntry(node: "south", role: .field, department: "roads", key: NodeSecretKey.generate().publicKey)
        try await Self.running(DirectoryReload(list, every: .seconds(1), clock: clock)) {
            await clock.waitForSleepers()
            // A round with the hub brings a new list into the database.
            try node.store.saveDirectory(Directory([peer]))
            clock.advance(by: .milliseconds(999))
            await clock.waitForSleepers()
            #expect(list.current().entries.isEmpty, "not re-read before the interval")
            clock.advance(by: .milliseconds(1))
            await clock.waitForSleepers()
            #expect(list.current().entry(node: "south")?.active == true, "re-read once the interval passed")
            // A revocation the hub sent arrives the same way.
            try node.store.saveDirectory(Directory([DirectoryEntry(node: "south", role: .field, department: "roads",
                                                                   key: peer.key, active: false)]))
            clock.advance(by: .seconds(1))
            await clock.waitForSleepers()
            #expect(list.current().entry(node: "south")?.active == false)
        }
    }

    @Test func theHubsAllowListKeepsTheLastGoodListWhenAnEditDoesNotParse() async throws {
        let directory = TemporaryDirectory()
        let hub = try Node.initialize(at: directory.file("hub"), configuration: NodeConfiguration(
            name: "hub-1", department: "office", role: .hub, durability: .off))
        let key = NodeSecretKey.generate().publicKey
        try AllowListFile.write(Directory([DirectoryEntry(node: "north", role: .field, department: "roads", key: key)]),
                                to: hub.allowList.path)
        let list = hub.listenerDirectory()
        let clock = ManualClock()
        try await Self.running(DirectoryReload(list, every: .seconds(1), clock: clock)) {
            await clock.waitForSleepers()
            #expect(list.current().entry(node: "north")?.active == true)
            try Data("[[node]]\nname = \"north\"\nstauts = 'revoked'\n".utf8).write(to: URL(fileURLWithPath: hub.allowList.path))
            clock.advance(by: .seconds(1))
            await clock.waitForSleepers()
            #expect(list.current().entry(node: "north")?.active == true, "a broken edit leaves the last good list in force")
        }
    }
}

/// A hub for the runner: rounds fail or succeed as the test says, hints come when it says,
/// and the local counter moves when it writes. Waits for hints sleep on the test's clock.
final class FakeHub: SyncDriver {
    let clock: ManualClock
    let failing = Mutex(false)
    let failure = Mutex(NetError(.unreachable, "no answer from the hub"))
    let hint = Mutex(false)
    let counter = Mutex<UInt64>(0)
    private let times = Mutex<[Duration]>([])

    init(clock: ManualClock) {
        self.clock = clock
    }

    func round() async throws {
        times.withLock { $0.append(clock.now.offset) }
        if failing.withLock({ $0 }) { throw failure.withLock { $0 } }
    }

    func waitForHint(upTo timeout: Duration) async throws -> Bool {
        try await clock.sleep(for: timeout)
        return hint.withLock { hinted in
            defer { hinted = false }
            return hinted
        }
    }

    func localCounter() -> UInt64? { counter.withLock { $0 } }

    /// When each round started, on the test's clock.
    func rounds() -> [Duration] { times.withLock { $0 } }

    /// The time between each round and the next.
    func gaps() -> [Duration] {
        let rounds = rounds()
        return zip(rounds, rounds.dropFirst()).map { $1 - $0 }
    }
}

/// Runs jobs on a serial dispatch queue of its own, which gets a thread of its own when it has
/// work: off the cooperative pool.
final class QueueExecutor: TaskExecutor {
    private let queue = DispatchQueue(label: "sitesync.test-executor")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}

final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

final class TemporaryDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        // A directory already gone needs no removing; the test's outcome does not depend on it.
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}
