import Hummingbird
import Logging
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// Who is asking: the API token a request authenticated with, and what that lets it see and
/// write. A department-scoped token reads only its department, as a field node receives only
/// its department; a read-only or auditor token writes nothing.
struct Caller: Sendable {
    let token: ApiToken

    var scope: ReadScope { ReadScope(department: token.scopeDepartment) }

    /// The identity its writes are planned and authorized as, or a 403 when it may not write.
    func writer() throws -> WriterIdentity {
        guard token.mayWrite else {
            throw Problem(.forbidden, "token '\(token.name)' is read-only: create one without --read-only (and not an auditor) to write")
        }
        return token.writer
    }

    /// A 403 unless the token sees the whole city (what some operations views show).
    func requireCity(_ what: String) throws {
        guard token.scopeDepartment == nil else {
            throw Problem(.forbidden, "\(what) covers every department; token '\(token.name)' is scoped to department \(token.scopeDepartment!)")
        }
    }
}

/// The request context of every API route: Hummingbird's own, and the caller once the bearer
/// token is checked.
struct APIContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var caller: Caller?
    /// The peer's IP address, for the sign-in rate limit ("?" when the channel does not say).
    let client: String

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        caller = nil
        client = source.channel.remoteAddress?.ipAddress ?? "?"
    }

    var maxUploadSize: Int { APILimits.bodyBytes }

    /// The caller; the authentication middleware runs before every route that reads this.
    func requireCaller() throws -> Caller {
        guard let caller else { throw Problem(.unauthorized, "send 'Authorization: Bearer TOKEN' (create one with `sitesync api token create`)") }
        return caller
    }
}

/// Checks `Authorization: Bearer …` against the node's tokens (only their hashes are stored):
/// none or malformed is 401, an unknown or revoked token is 401 too, without saying which.
struct BearerAuthentication: RouterMiddleware {
    let node: Node

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem(.unauthorized, "send 'Authorization: Bearer TOKEN' (create one with `sitesync api token create`)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem(.unauthorized, "the Authorization header must be 'Bearer TOKEN'")
        }
        let node = node, bearer = String(parts[1]).trimmingCharacters(in: .whitespaces)
        guard let token = try await offPool({ try ApiTokens.authenticate(node, bearer: bearer) }) else {
            throw Problem(.unauthorized, "the token is unknown or revoked: ask the hub's operator for a token (`sitesync api token list`)")
        }
        var context = context
        context.caller = Caller(token: token)
        context.logger[metadataKey: "token"] = "\(token.name)"
        return try await next(request, context)
    }
}
