import Foundation
import Logging
import SiteSyncCore
import SiteSyncNet
import SiteSyncStore

/// A sync round with the hub, through the first of its endpoints that answered.
public struct HubRound {
    /// The client of the endpoint that answered (a long-running node keeps it for hints).
    public let client: SyncClient
    public let outcome: SyncOutcome
    /// The endpoints tried before it, in order, each with why it was passed over.
    public let passedOver: [(endpoint: String, error: NetError)]

    public init(client: SyncClient, outcome: SyncOutcome, passedOver: [(endpoint: String, error: NetError)]) {
        self.client = client
        self.outcome = outcome
        self.passedOver = passedOver
    }
}

/// Where this node last reached the hub, and when.
public struct HubContact: Sendable, Equatable {
    public let endpoint: String
    /// When that round ended (milliseconds since 1970, this device's clock).
    public let at: UInt64

    public init(endpoint: String, at: UInt64) {
        self.endpoint = endpoint
        self.at = at
    }
}

/// Failover between the endpoints of one hub (`[[sync.hubs]]`, docs/design.md §6.3, "Failover"):
/// several processes serve one hub replica, so what this node knows of the hub (what it holds,
/// what it acknowledged) is the hub's, kept under the hub's name whichever endpoint answered.
extension Node {
    /// The failures after which a round moves on to the hub's next endpoint: those that say
    /// nobody is answering there. Nothing listens (a refused connection moves on at once while
    /// another endpoint is left; the last is given the connect timeout, a standby may be
    /// starting) or nothing answers within the connect timeout (`unreachable`), the process stopped answering in the middle of the round (`silent`: it
    /// died, or its host did), or the socket could not be set up for that endpoint (`zmq`).
    ///
    /// Every other failure is an answer, and another process of the same hub would give the
    /// same one, so it ends the round: a refused or revoked key, a 403, 409 or 426, a 503 (the
    /// hub's limits on a node's sessions are its own: going round them through another process
    /// would defeat them), a protocol violation, a listener that does not hold the key this
    /// node trusts for it (a configuration to fix, not to hide), and this node's own failures
    /// (its database, a new epoch).
    static let failoverCodes: Set<NetError.Code> = [.unreachable, .silent, .zmq]

    /// Whether a round that failed with `error` tries the hub's next endpoint.
    public static func movesToNextHub(_ error: NetError) -> Bool {
        failoverCodes.contains(error.code)
    }

    /// The hub endpoint this node last reached, and when: the last round with one of the hub's
    /// endpoints that completed or got the hub's answer (a refusal is an answer too).
    public func lastReachedHub() throws -> HubContact? {
        let endpoints = Set(configuration.sync.hubEndpoints.map(\.endpoint))
        guard !endpoints.isEmpty else { return nil }
        let reached = try store.history(limit: 500, kinds: [.sync]).first {
            endpoints.contains($0.endpoint) && ($0.ok || Self.answeredCodes.contains($0.errorCode ?? ""))
        }
        return reached.map { HubContact(endpoint: $0.endpoint, at: $0.endedMilliseconds) }
    }

    /// The hub's endpoints in the order a round tries them: the one last reached first (it
    /// answered; the others may not), then the rest as configured. A history that cannot be
    /// read leaves the configured order.
    public func hubEndpointsInOrder() -> [NodeConfiguration.HubEndpoint] {
        let endpoints = configuration.sync.hubEndpoints
        guard endpoints.count > 1, let last = try? lastReachedHub()?.endpoint,
              let index = endpoints.firstIndex(where: { $0.endpoint == last }) else { return endpoints }
        return [endpoints[index]] + endpoints.enumerated().filter { $0.offset != index }.map(\.element)
    }

    /// One round with the hub, through the first of its endpoints that answers
    /// (``hubEndpointsInOrder()``): an endpoint that fails with ``movesToNextHub(_:)`` is
    /// passed over for the next. Each try is in the sync history under its endpoint. Whatever
    /// the hub acknowledged through one endpoint is not sent again through another: the hub
    /// says what it holds when a session begins, so a round broken off at one process and done
    /// at another sends again at most what was in flight.
    /// - Parameter current: a client to use for its endpoint instead of a new one (the
    ///   long-running node's, subscribed for hints).
    /// - Throws: the hub's answer (``NetError``) at the first endpoint that gave one; when no
    ///   endpoint answered, a ``NetError`` with the last one's code naming each endpoint and why.
    public func syncWithHub(reusing current: SyncClient? = nil, subscribe: Bool = false,
                            progress: (@Sendable (SyncProgress) -> Void)? = nil, logger: Logger) throws -> HubRound {
        let endpoints = hubEndpointsInOrder()
        guard !endpoints.isEmpty else {
            throw NodeError(.usage, "no hub is configured: set `hub` (or [[sync.hubs]]) under [sync] in \(dataDirectory)/node.toml, "
                            + "or give --peer tcp://HOST:PORT")
        }
        var passedOver: [(endpoint: String, error: NetError)] = []
        for (index, hub) in endpoints.enumerated() {
            do {
                let client = try current.flatMap { $0.endpoint == hub.endpoint ? $0 : nil }
                    ?? syncClient(peer: hub.endpoint, subscribe: subscribe, progress: progress, logger: logger)
                // A refused connection moves on at once while another endpoint is left; the last
                // one is waited for (a standby may be starting).
                client.refusalEndsTheRound = index + 1 < endpoints.count
                return HubRound(client: client, outcome: try syncRound(client), passedOver: passedOver)
            } catch let error as NetError where Self.movesToNextHub(error) {
                passedOver.append((hub.endpoint, error))
                if index + 1 < endpoints.count {
                    logger.warning("\(hub.endpoint) did not answer (\(error.code.rawValue)); trying \(endpoints[index + 1].endpoint)",
                                   metadata: ["error": "\(error.message)"])
                }
            }
        }
        throw Self.noHubAnswered(passedOver)
    }

    /// The error of a round in which no endpoint of the hub answered: the only one's as it is,
    /// or the last one's code with every endpoint and why it was passed over.
    static func noHubAnswered(_ failures: [(endpoint: String, error: NetError)]) -> NetError {
        guard let last = failures.last?.error, failures.count > 1 else { return failures[0].error }
        return NetError(last.code, "no endpoint of the hub answered: "
                        + failures.map { "\($0.endpoint): \($0.error.message)" }.joined(separator: "; "),
                        errno: last.errno, failure: last.failure)
    }
}
