import Foundation
import Hummingbird
import Prometheus
import SiteSyncNet
import SiteSyncNode

/// The process's metrics, in Prometheus text at `GET /metrics`: what the sync listener does
/// (counted as it happens, through ``ListenerObserver``), what the HTTP server answers, and
/// the fleet's standing (read from the store at each scrape: changes behind and last-seen age
/// per node, open conflicts).
public final class APIMetrics: ListenerObserver, Sendable {
    let registry = PrometheusCollectorRegistry()
    private let sessions: Gauge
    private let received: Counter, applied: Counter, refused: Counter, sent: Counter
    private let applySeconds: ValueHistogram

    public init() {
        sessions = registry.makeGauge(name: "sitesync_sync_sessions_open", help: "Sync sessions open at the listener.")
        received = registry.makeCounter(name: "sitesync_sync_changes_received_total", help: "Changes received in sync batches.")
        applied = registry.makeCounter(name: "sitesync_sync_changes_applied_total", help: "Received changes applied (new here).")
        refused = registry.makeCounter(name: "sitesync_sync_changes_refused_total", help: "Received changes refused by the write policy.")
        sent = registry.makeCounter(name: "sitesync_sync_changes_sent_total", help: "Changes sent to clients in pull batches.")
        applySeconds = registry.makeValueHistogram(
            name: "sitesync_sync_apply_seconds", buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
            help: "Time to apply one received batch durably.")
    }

    public func sessionsOpen(_ count: Int) { sessions.set(Double(count)) }

    public func batchApplied(received count: Int, applied: Int, refused: Int, seconds: Double) {
        received.increment(by: Int64(count))
        self.applied.increment(by: Int64(applied))
        self.refused.increment(by: Int64(refused))
        applySeconds.record(seconds)
    }

    public func changesSent(_ count: Int) { sent.increment(by: Int64(count)) }

    /// One answered request, by its route's pattern (not its path: a path per project would
    /// make a series per project).
    func request(route: String, method: String, status: Int, seconds: Double) {
        let labels = [("route", route), ("method", method), ("status", String(status))]
        registry.makeCounter(name: "sitesync_http_requests_total", labels: labels, help: "HTTP requests answered.").increment()
        registry.makeValueHistogram(name: "sitesync_http_request_seconds", labels: [("route", route)],
                                    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
                                    help: "Time to answer an HTTP request.").record(seconds)
    }

    /// The exposition: the counters, then the fleet as the store has it now.
    func exposition(node: Node) throws -> String {
        let fleet = try node.fleet()
        let conflicts = registry.makeGauge(name: "sitesync_conflicts_open", help: "Open conflicts held at this node.")
        conflicts.set(Double(try node.status().openConflicts))
        for member in fleet.members {
            let labels = [("node", member.node), ("department", member.department)]
            registry.makeGauge(name: "sitesync_node_changes_behind", labels: labels, help: "Changes held here that the node has not acknowledged.")
                .set(Double(member.behind.count))
            registry.makeGauge(name: "sitesync_node_last_seen_age_seconds", labels: labels,
                               help: "Seconds since the node was last heard from (-1: never).")
                .set(member.lastSeen.map { Double(fleet.now &- min($0, fleet.now)) / 1000 } ?? -1)
        }
        return registry.emitToString()
    }
}

/// Counts every answered request in ``APIMetrics``, by route pattern and status.
struct RequestMetrics<Context: RequestContext>: RouterMiddleware {
    let metrics: APIMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        metrics.request(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: Int(response.status.code),
                        seconds: seconds)
        return response
    }
}
