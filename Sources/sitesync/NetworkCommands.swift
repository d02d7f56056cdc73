import ArgumentParser
import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import SiteSyncCore
import SiteSyncNet
import SiteSyncHTTP
import SiteSyncNode
import SiteSyncStore
import Synchronization

/// Logs to standard error, once per process.
enum Logs {
    nonisolated(unsafe) private static var bootstrapped = false

    static func logger(_ label: String, level: Logger.Level) -> Logger {
        if !bootstrapped {
            bootstrapped = true
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = .trace
                return handler
            }
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

/// SIGTERM and SIGINT, taken so that long-running commands stop cleanly instead of dying.
enum Signals {
    /// Blocks the two signals in this thread, and so in every thread started after it (threads
    /// inherit the mask): call it first, before anything starts a thread. A signal then waits,
    /// pending, until it is taken: by the service group's signal handling (libdispatch reads it
    /// from a signalfd, which sees only blocked signals) or by ``onTerminate(_:)``'s `sigwait`.
    /// Unblocked, a thread could receive the signal itself and lose it: a hub that had started
    /// its compaction thread first once ignored a SIGTERM and ran on (seen in the soak, when the
    /// signals were ignored until a libdispatch signal source was set up). A signal that comes
    /// while the node is still opening waits for the handling to be in place. Child processes
    /// inherit the blocked mask.
    static func block() {
        var signals = terminating
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    /// Calls `body` on SIGTERM or SIGINT, from a thread of its own that takes them with
    /// `sigwait` (for commands that run no service group).
    static func onTerminate(_ body: @escaping @Sendable () -> Void) {
        block()
        let waiter = Thread {
            var signals = terminating
            while true {
                var received: Int32 = 0
                if sigwait(&signals, &received) == 0 { body() }
            }
        }
        waiter.name = "sitesync-signals"
        waiter.start()
    }

    private static var terminating: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        return signals
    }
}

/// Runs a long-running command's services together (swift-service-lifecycle) until SIGTERM or
/// SIGINT shuts them down gracefully, last started first, each letting its work in progress
/// finish; or until one fails, which cancels the others and is thrown here.
enum Services {
    static func run(_ services: [any Service], logger: Logger) throws {
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // The command-line commands are synchronous: this thread (the main one, never a
        // thread of the pool) waits while the group runs on the pool.
        let outcome = Outcome()
        Task {
            do {
                try await group.run()
                outcome.finish(.success(()))
            } catch {
                outcome.finish(.failure(error))
            }
        }
        try outcome.wait().get()
    }

    private final class Outcome: Sendable {
        private let result = Mutex<Result<Void, any Error>?>(nil)
        private let done = DispatchSemaphore(value: 0)

        func finish(_ result: Result<Void, any Error>) {
            self.result.withLock { $0 = result }
            done.signal()
        }

        func wait() -> Result<Void, any Error> {
            done.wait()
            return result.withLock { $0 } ?? .success(())
        }
    }
}

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Listen for sync sessions: run the hub, or open a node to its peers.",
        discussion: """
            Binds the node's `listen` endpoint (or --listen) and serves any number of sessions at once \
            until SIGTERM or SIGINT, then lets work in progress finish and stops. Logs go to stderr, \
            one line per session and one per bad message (naming the peer). The hub also compacts its \
            change log every `[compaction] interval` (see `sitesync compact`).

            With --http (or `[http] listen` in node.toml) the same process also answers the HTTP API \
            (protocol/http-api.yaml; tokens from `sitesync api token create`) and prints \
            "http on URL" once it answers. Loopback is the default; another address needs TLS \
            (--http-tls-certificate and --http-tls-key, or [http] tls_certificate and tls_key) or \
            --http-insecure.

            Example: sitesync serve --http 127.0.0.1:8080
            """
    )

    @OptionGroup var node: NodeOptions
    @Option(help: ArgumentHelp("Listen here instead of the configured endpoint (tcp://HOST:PORT).", valueName: "endpoint"))
    var listen: String?
    @Option(help: ArgumentHelp("Also answer the HTTP API here (ADDRESS:PORT, e.g. 127.0.0.1:8080; port 0 picks one).", valueName: "address"))
    var http: String?
    @Option(help: ArgumentHelp("PEM certificate (chain) for HTTPS.", valueName: "file")) var httpTlsCertificate: String?
    @Option(help: ArgumentHelp("PEM private key for HTTPS.", valueName: "file")) var httpTlsKey: String?
    @Flag(help: "Allow plain HTTP on an address other than loopback (tokens then cross the network in the clear).")
    var httpInsecure = false
    @Flag(help: "Log less: warnings only.") var quiet = false

    func validate() throws {
        if let http, HTTPAddress(http) == nil {
            throw ValidationError("--http '\(http)' is not an address: write ADDRESS:PORT with a literal IP, e.g. 127.0.0.1:8080")
        }
        guard (httpTlsCertificate == nil) == (httpTlsKey == nil) else {
            throw ValidationError("--http-tls-certificate and --http-tls-key go together: give both PEM files")
        }
    }

    /// The HTTP server's settings: the flags over `[http]` in node.toml; `nil` when neither
    /// names an address.
    func httpSettings(_ configuration: NodeConfiguration.HTTPSettings) -> APIServer.Settings? {
        guard let text = http ?? configuration.listen, let address = HTTPAddress(text) else { return nil }
        let fromFlags = httpTlsCertificate != nil
        return APIServer.Settings(address: address, tlsCertificate: fromFlags ? httpTlsCertificate : configuration.tlsCertificate,
                                  tlsKey: fromFlags ? httpTlsKey : configuration.tlsKey, insecure: httpInsecure || configuration.insecure)
    }

    func run() throws {
        // First, before any thread starts: a signal that comes while the node opens waits.
        Signals.block()
        let node = try node.open(options: .listener)
        let lock = try NodeLock(dataDirectory: node.dataDirectory, exclusive: false)
        defer { _ = lock }
        let logger = Logs.logger("sitesync.serve", level: quiet ? .warning : .info)
        let clock = ContinuousClock()
        let directory = node.listenerDirectory()
        let http = httpSettings(node.configuration.http)
        // Checked before the listener binds, so a refused HTTP address starts nothing.
        try http?.check()
        let metrics = APIMetrics()
        let server = try node.startListener(on: listen, directory: directory, observer: metrics, logger: logger)
        var services: [any Service] = [ListenerService(server), DirectoryReload(directory, clock: clock)]
        if let compaction = PeriodicCompaction(node: node, clock: clock, logger: logger) { services.append(compaction) }
        if let catchUp = StoreCatchUp(node: node, clock: clock, logger: logger) { services.append(catchUp) }
        // Written unbuffered: a script waiting for this line must see it at once.
        FileHandle.standardOutput.write(Data("listening on \(server.boundEndpoint)\n".utf8))
        if let http {
            services += try APIServer.services(node: node, settings: http, metrics: metrics, logger: logger) { url in
                FileHandle.standardOutput.write(Data("http on \(url)\n".utf8))
            }
        }
        try Services.run(services, logger: logger)
    }
}

struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "One sync round with the hub (or a peer): push what it lacks, pull what this node lacks.",
        discussion: """
            Prints one line: what went up and what came down, and a line for each change of this \
            node the peer refused (kept here as rejected: `sitesync conflicts --rejected`). A round \
            that keeps moving is never cut off, however long a fresh node's first pull takes. A peer \
            that never answers fails the round after 10 s (unreachable); a session in which the peer \
            falls silent for 10 s is started over from what was acknowledged; the round gives up \
            (silent) once the peer has moved nothing for `timeout_seconds` (default 30 s; time spent \
            applying here does not count) or in 3 sessions in a row. Nothing is lost: what was \
            acknowledged stays applied and unsent changes go with the next sync. A refused key, or a \
            hub that does not hold the key this node trusts, fails within seconds and says what to do.

            A hub served by several processes is listed as [[sync.hubs]] in node.toml (or `init --hub \
            E1 --hub-key K1 --hub E2 --hub-key K2`): the round starts with the endpoint last reached and \
            moves on to the next when one does not answer (a refused connection at once, no answer \
            within 10 s, or silent mid-round), noting \
            it on stderr (`passed_over` in --json). An answer (a refused key, a 403, a 503 "retry \
            later", a version or key mismatch) ends the round there: every process of the hub would \
            give the same. Resumed at another process, the round sends again at most what was in \
            flight: the hub says what it holds when a session begins. `sitesync status` shows the \
            endpoint last reached.
            """
    )

    @OptionGroup var node: NodeOptions
    @Option(help: ArgumentHelp("Sync with this node instead of the hub (tcp://HOST:PORT).", valueName: "endpoint"))
    var peer: String?
    @Option(name: .customLong("peer-key"), parsing: .unconditional, help: ArgumentHelp(
        "The peer's public key (what `sitesync keys show` prints on it); needed with --peer unless insecure.", valueName: "key"))
    var peerKey: String?
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Log the sessions to stderr.") var verbose = false

    func run() throws {
        let logger = Logs.logger("sitesync.sync", level: verbose ? .info : .error)
        if let peerKey, NodePublicKey(text: peerKey) == nil {
            throw ValidationError("--peer-key '\(peerKey.prefix(90))' is not a SiteSync key: it must be the 80 characters `sitesync keys show` prints")
        }
        var node = try self.node.open()
        let progress = SyncProgressDisplay()
        var round: HubRound
        do {
            round = try syncOnce(node, progress: progress, logger: logger)
        } catch {
            guard let error = error as? NetError, error.code == .newEpoch else { throw error }
            // This database had been restored from an old copy: it took a new replica id; opened
            // again, it re-issues its work under it, and the round goes on with that.
            Output.note("note: \(error.message)")
            node = try self.node.open()
            round = try syncOnce(node, progress: progress, logger: logger)
        }
        let (client, outcome) = (round.client, round.outcome)
        let summary = outcome.summary
        if json {
            Output.json(.object([
                "peer": .string(summary.peer?.node ?? ""), "endpoint": .string(client.endpoint),
                "passed_over": .array(round.passedOver.map { .object([
                    "endpoint": .string($0.endpoint), "code": .string($0.error.code.rawValue), "error": .string($0.error.message),
                ]) }),
                "pushed": .int(Int64(summary.pushedApplied + summary.pushedKnown)), "pushed_new": .int(Int64(summary.pushedApplied)),
                "pulled": .int(Int64(summary.pulledApplied + summary.pulledKnown)), "pulled_new": .int(Int64(summary.pulledApplied)),
                "pulled_states": .int(Int64(summary.pulledStates)),
                "sent": .int(Int64(summary.pushedSent)), "resent": .int(Int64(outcome.resent)),
                "sessions": .int(Int64(outcome.sessions)), "milliseconds": .int(Int64(outcome.milliseconds)),
                "refused": .array(summary.refused.map { .object([
                    "change": .string($0.dot.description), "code": .string($0.code.rawValue), "reason": .string($0.reason),
                ]) }),
            ]))
            return
        }
        for passed in round.passedOver {
            Output.note("note: \(passed.endpoint) did not answer (\(passed.error.code.rawValue)), so this round went to \(client.endpoint)")
        }
        print("synced with \(summary.peer?.node ?? "?") (\(client.endpoint)) in \(String(format: "%.1f", Double(outcome.milliseconds) / 1000)) s: "
              + "pushed \(summary.pushedApplied + summary.pushedKnown + summary.refused.count) (\(summary.pushedApplied) new"
              + (summary.refused.isEmpty ? "" : ", \(summary.refused.count) refused") + "), "
              + "pulled \(summary.pulledApplied + summary.pulledKnown) (\(summary.pulledApplied) new)"
              + (summary.pulledStates > 0 ? "; \(summary.pulledStates) records by state transfer (the hub no longer logs changes this node lacked)" : "")
              + (outcome.sessions > 1 ? "; resumed \(outcome.sessions - 1) time\(outcome.sessions == 2 ? "" : "s")" : ""))
        for refusal in summary.refused {
            print("refused by \(summary.peer?.node ?? "the peer"): change \(refusal.dot.counter) (\(refusal.code.rawValue)): \(refusal.reason)")
        }
        if !summary.refused.isEmpty {
            print("\(summary.refused.count) change\(summary.refused.count == 1 ? " was" : "s were") refused; they stay on this node as rejected "
                  + "(`sitesync conflicts --rejected`) and are not sent again")
        }
    }
}

/// A progress bar per direction of a sync round (push, then pull), shown once a direction has
/// changes to move.
final class SyncProgressDisplay: @unchecked Sendable {
    // @unchecked: called on the syncing thread only.
    private var current: (direction: SyncProgress.Direction, display: ProgressDisplay)?

    func update(_ progress: SyncProgress) {
        guard progress.total > 0 || progress.done > 0 else { return }
        if current?.direction != progress.direction {
            current?.display.finish()
            current = (progress.direction, ProgressDisplay(progress.direction == .push ? "pushing" : "pulling"))
        }
        current?.display.update(done: progress.done, total: progress.total)
    }

    func finish() {
        current?.display.finish()
        current = nil
    }
}

extension SyncCommand {
    /// One round: with `--peer`, with that node; else with the hub, through the first of its
    /// endpoints that answers.
    func syncOnce(_ node: Node, progress: SyncProgressDisplay, logger: Logger) throws -> HubRound {
        defer { progress.finish() }
        guard let peer else { return try node.syncWithHub(progress: { progress.update($0) }, logger: logger) }
        let client = try node.syncClient(peer: peer, peerKey: peerKey.flatMap(NodePublicKey.init(text:)),
                                         progress: { progress.update($0) }, logger: logger)
        return HubRound(client: client, outcome: try node.syncRound(client), passedOver: [])
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the node: sync with the hub on an interval, soon after local changes, and when the hub has news.",
        discussion: """
            Keeps a connection to the hub open: the hub hints when it receives data for this node's \
            department, and the node pulls within about a second (the periodic sync converges even \
            if hints are lost). Retries with a backoff capped at 30 s while the hub is away; with several \
            hub endpoints ([[sync.hubs]]) each round moves on from one that does not answer to the next, \
            as `sitesync sync` does, and keeps the connection of the one that answered for its hints. With \
            --listen (or `listen` in node.toml) it also serves peers. Stops on SIGTERM or SIGINT.
            """
    )

    @OptionGroup var node: NodeOptions
    @Flag(help: "Also listen for peers on the configured `listen` endpoint.") var listen = false
    @Flag(help: "Log less: warnings only.") var quiet = false

    func run() throws {
        Signals.block()
        let logger = Logs.logger("sitesync.run", level: quiet ? .warning : .info)
        let lock = try NodeLock(dataDirectory: node.path, exclusive: false)
        defer { _ = lock }
        let clock = ContinuousClock()
        while true {
            let node = try node.open()
            var services: [any Service] = []
            if listen || node.configuration.sync.listen != nil && node.configuration.sync.hub != nil {
                let directory = node.listenerDirectory()
                let server = try node.startListener(directory: directory, logger: logger)
                services += [ListenerService(server), DirectoryReload(directory, clock: clock)]
            }
            // Last, so that on shutdown it stops first, while its peers' listener still serves.
            services.append(try NodeRunner(node: node, clock: clock, logger: logger))
            do {
                try Services.run(services, logger: logger)
                return
            } catch let error as NetError where error.code == .newEpoch {
                // Opened again, the node re-issues its work under its new replica id.
                logger.warning("\(error.message); reopening the node")
            }
        }
    }
}
