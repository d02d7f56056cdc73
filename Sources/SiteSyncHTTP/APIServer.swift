import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import NIOCore
import ServiceLifecycle
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// The HTTP API of a node (docs/design.md §11): a second face over the domain module, beside
/// the ZeroMQ listener in `sitesync serve`. Its contract is `protocol/http-api.yaml`, served
/// at `GET /openapi.yaml`.
public enum APIServer {
    /// Where and how to answer: the address, and the TLS files when the server answers HTTPS.
    public struct Settings: Sendable {
        public var address: HTTPAddress
        public var tlsCertificate: String?
        public var tlsKey: String?
        public var insecure: Bool

        public init(address: HTTPAddress, tlsCertificate: String? = nil, tlsKey: String? = nil, insecure: Bool = false) {
            self.address = address
            self.tlsCertificate = tlsCertificate
            self.tlsKey = tlsKey
            self.insecure = insecure
        }

        /// A plain-HTTP address other than loopback carries bearer tokens in the clear: refused
        /// unless asked for by name.
        public func check() throws {
            guard tlsCertificate == nil, !address.isLoopback, !insecure else { return }
            throw NodeError(.usage, "HTTP on \(address) without TLS would send tokens and figures in the clear: set [http] tls_certificate "
                            + "and tls_key (or --http-tls-certificate/--http-tls-key), put a TLS reverse proxy in front on loopback, "
                            + "or give --http-insecure if the network is trusted")
        }

        var scheme: String { tlsCertificate == nil ? "http" : "https" }
    }

    /// The server, as a service of the node's service group (it stops on the group's graceful
    /// shutdown, SIGTERM included), and the figures refresher that keeps its answers fresh.
    /// - Parameter bound: told the address actually bound (a port of 0 resolved), once.
    public static func services(node: Node, settings: Settings, metrics: APIMetrics, logger: Logger,
                                bound: @escaping @Sendable (String) -> Void) throws -> [any Service] {
        try settings.check()
        let figures = try FiguresCache(node: node) { CalendarDate(unixMilliseconds: node.store.wallClock()) }
        let router = Router(context: APIContext.self)
        router.add(middleware: RequestMetrics(metrics: metrics))
        router.add(middleware: ProblemMiddleware())
        OperationRoutes(node: node, metrics: metrics).add(to: router)
        let api = router.group("api/v1").add(middleware: BearerAuthentication(node: node))
        ReadRoutes(node: node, figures: figures).add(to: api)
        WriteRoutes(node: node).add(to: api)
        PlanningRoutes(node: node, figures: figures).add(to: api)
        // The web dashboard for people (sessions, not tokens), beside the API.
        DashboardRoutes(node: node, figures: figures,
                        defaultLanguage: Language(tag: node.configuration.dashboard.language) ?? .zhCN,
                        secure: settings.tlsCertificate != nil).add(to: router)

        let server: HTTPServerBuilder
        if let certificate = settings.tlsCertificate, let key = settings.tlsKey {
            server = try .tls(.http1(), tlsConfiguration: try tlsConfiguration(certificate: certificate, key: key))
        } else {
            server = .http1()
        }
        let scheme = settings.scheme
        let app = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(settings.address.host, port: settings.address.port), serverName: "sitesync"),
            onServerRunning: { channel in
                let host = settings.address.host.contains(":") ? "[\(settings.address.host)]" : settings.address.host
                bound("\(scheme)://\(host):\(channel.localAddress?.port ?? settings.address.port)")
            },
            logger: logger)
        return [FiguresRefresher(figures: figures, logger: logger), app]
    }

    static func tlsConfiguration(certificate: String, key: String) throws -> TLSConfiguration {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            guard !chain.isEmpty else { throw NodeError(.configuration, "\(certificate) holds no PEM certificate") }
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(.configuration, "cannot load the TLS certificate \(certificate) and key \(key): \(error); "
                            + "give PEM files (e.g. from `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ...`)")
        }
    }
}

/// Keeps ``FiguresCache`` fresh: every 250 ms it asks whether the database changed and, if so,
/// recomputes today's figures off the request path, so figures are right within about a second
/// of a change being applied and a request seldom waits for a computation. The computation
/// blocks (SQLite), so it runs on a thread of its own, not on Swift's cooperative pool, which
/// the HTTP server's requests share.
struct FiguresRefresher: Service {
    let figures: FiguresCache
    let logger: Logger

    func run() async throws {
        let figures = figures, logger = logger
        let thread = RefreshThread { _ = try figures.refreshIfChanged() }
        thread.start(logger: logger)
        // Until the service group shuts down (or is cancelled).
        try? await gracefulShutdown()
        thread.stop()
    }
}

/// A thread that runs `work` every 250 ms until stopped; after a failure it waits 5 s, and it
/// logs a failure once until it changes or heals (a figure that cannot be computed fails the
/// same way each time: retrying at once would only fill the log and the CPU).
final class RefreshThread: @unchecked Sendable {
    // @unchecked: `stopped` is guarded by `lock`.
    private let work: @Sendable () throws -> Void
    private let lock = NSCondition()
    private var stopped = false

    init(_ work: @escaping @Sendable () throws -> Void) { self.work = work }

    func start(logger: Logger) {
        let thread = Thread { [self] in
            var pause = 0.25
            var lastFailure: String?
            while true {
                lock.lock()
                if stopped { lock.unlock(); return }
                _ = lock.wait(until: Date().addingTimeInterval(pause))
                let done = stopped
                lock.unlock()
                if done { return }
                do {
                    try work()
                    if lastFailure != nil { logger.info("the figures are computed again") }
                    (pause, lastFailure) = (0.25, nil)
                } catch {
                    let failure = "\(error)"
                    if failure != lastFailure {
                        logger.error("the figures cannot be computed; the API serves the last ones it computed", metadata: ["error": "\(failure)"])
                    }
                    (pause, lastFailure) = (5, failure)
                }
            }
        }
        thread.name = "sitesync-figures"
        thread.start()
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.broadcast()
        lock.unlock()
    }
}
