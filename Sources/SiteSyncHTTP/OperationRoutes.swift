import Foundation
import Hummingbird
import SiteSyncCore
import SiteSyncNode

/// The routes outside `/api/v1`: the contract, health, readiness and metrics.
struct OperationRoutes {
    let node: Node
    let metrics: APIMetrics

    func add(to router: Router<APIContext>) {
        router.get("openapi.yaml") { request, _ in
            Representation.conditional(OpenAPIDocument.bytes, contentType: "application/yaml; charset=utf-8", request: request)
        }
        // Alive: the process answers.
        router.get("healthz") { _, _ in
            Self.plain(.ok, #"{"status":"ok"}"#)
        }
        // Ready: the database answers a read.
        router.get("readyz") { _, context in
            do {
                _ = try await offPool { try node.store.knowledge() }
                return Self.plain(.ok, #"{"status":"ready"}"#)
            } catch {
                context.logger.warning("not ready: the database does not answer", metadata: ["error": "\(error)"])
                return Problem(.unavailable, "the database does not answer a read: see the server's log").response()
            }
        }
        // Every node's standing, so only a token that sees the whole city may scrape it.
        router.group("metrics").add(middleware: BearerAuthentication(node: node)).get { _, context in
            try context.requireCaller().requireCity("/metrics")
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            let text = try await offPool { try metrics.exposition(node: node) }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    static func plain(_ status: HTTPResponse.Status, _ json: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}
