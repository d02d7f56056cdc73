import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncStore

/// Input that cannot be taken, naming the field at fault (`amount`, `date`, `activity`), so an
/// HTTP API can answer with an RFC 9457 problem whose `field` says what to fix. Its message is
/// the one the command line prints.
public struct FieldProblem: SiteSyncError, Equatable {
    public let field: String
    public let message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    /// Runs `body`, naming `field` in the usage error it throws (a lookup that found nothing).
    static func naming<T>(_ field: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as NodeError where error.code == .usage {
            throw FieldProblem(field, error.message)
        }
    }
}

/// A request the API refuses before anything is written: no or an unknown token (401), a
/// token that may not do this (403), an idempotency key reused for another request (422).
public struct ApiRefusal: SiteSyncError, Equatable {
    public enum Code: String, Sendable {
        case unauthorized
        case forbidden
        case idempotencyKeyReused = "idempotency-key-reused"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The HTTP status it is answered with.
    public var status: Int {
        switch code {
        case .unauthorized: 401
        case .forbidden: 403
        case .idempotencyKeyReused: 422
        }
    }
}

/// Writes made through the HTTP API on behalf of a token: KPI readings, costs, progress and
/// plans, each an ordinary change written at this node as the token's identity
/// (``ApiToken/writer``), checked by the same write policy as any node's.
public enum IntegrationWrites {
    /// The longest `Idempotency-Key` taken.
    public static let maxKeyLength = 255

    /// Runs one write request for `token`, once.
    ///
    /// `body` makes the writes (passing `as: token.writer`) and returns the answer. They run in
    /// one transaction with the request's record (the token, the key, the request's hash, the
    /// answer and the ids of the changes written), so a write is never left without its record
    /// nor a record without its writes; when `body` throws, nothing is stored (a retry runs it
    /// again). With an `idempotencyKey`, a request already answered under the same key and
    /// request hash is answered again from its record without running `body` (`replayed`).
    ///
    /// - Parameter requestHash: SHA-256 of the request (method, path and body), as hex.
    /// - Throws: ``ApiRefusal`` (`forbidden`) when the token may not write here;
    ///   (`idempotencyKeyReused`) when the key was used for another request; ``FieldProblem``
    ///   for a malformed key; whatever `body` throws.
    public static func perform(
        _ node: Node, token: ApiToken, idempotencyKey: String?, requestHash: String,
        body: () throws -> (status: Int, response: String)
    ) throws -> (status: Int, response: String, replayed: Bool) {
        try checkMayWrite(token, at: node)
        if let idempotencyKey { try checkKey(idempotencyKey) }
        return try node.store.writeLocally { session in
            if let idempotencyKey, let earlier = try session.apiRequest(token: token.name, idempotencyKey: idempotencyKey) {
                guard earlier.requestSHA256 == requestHash else {
                    throw ApiRefusal(.idempotencyKeyReused,
                        "this Idempotency-Key was used for a different request: send a new key for a new request, "
                        + "or the same request to get its answer again")
                }
                return (earlier.status, earlier.response, true)
            }
            let first = session.changes.count
            let answer = try body()
            try session.recordApiRequest(ApiRequestRecord(
                token: token.name, idempotencyKey: idempotencyKey, requestSHA256: requestHash, status: answer.status,
                response: answer.response, changes: session.changes[first...].map(\.dot), atMilliseconds: node.store.wallClock()))
            return (answer.status, answer.response, false)
        }
    }

    /// SHA-256 of a request as ``perform(_:token:idempotencyKey:requestHash:body:)`` compares
    /// them: method, path and body, each ended by a zero byte so that no two requests run together.
    public static func requestHash(method: String, path: String, body: [UInt8]) -> String {
        SHA256Hex.digest(of: Array(method.uppercased().utf8) + [0] + Array(path.utf8) + [0] + body)
    }

    /// Refuses a token that may not write at all, or no longer within this node's authority
    /// (the node's role or department changed since the token was made).
    static func checkMayWrite(_ token: ApiToken, at node: Node) throws {
        if token.readOnly {
            throw ApiRefusal(.forbidden, "the token '\(token.name)' is read-only: make a token without --read-only to write")
        }
        if token.role == .auditor {
            throw ApiRefusal(.forbidden, "the token '\(token.name)' acts as an auditor, who writes nothing")
        }
        if let refusal = ApiTokens.authorityRefusal(role: token.role, department: token.department, node: node.writer) {
            throw ApiRefusal(.forbidden, "the token '\(token.name)' goes beyond this node now (\(refusal))")
        }
    }

    /// An idempotency key: 1 to 255 visible ASCII characters (RFC 9110 field value, no spaces
    /// at either end).
    static func checkKey(_ key: String) throws {
        guard (1...maxKeyLength).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw FieldProblem("Idempotency-Key", "an Idempotency-Key is 1 to \(maxKeyLength) visible ASCII characters, such as a UUID")
        }
    }
}

/// An error as an HTTP API answers it, for an RFC 9457 problem (`type`, `title`, `status`,
/// `detail`, `field`): the status and title by what went wrong, the detail the message a
/// person reads on the command line.
public struct ApiProblem: Sendable, Equatable {
    public let status: Int
    public let title: String
    public let detail: String
    /// The input field at fault, when one is.
    public let field: String?

    public init(status: Int, title: String, detail: String, field: String? = nil) {
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
    }

    /// How `error`, thrown by ``IntegrationWrites`` or a write it runs, is answered.
    public init(_ error: any Error) {
        switch error {
        case let refusal as ApiRefusal:
            let title = switch refusal.code {
            case .unauthorized: "Unauthorized"
            case .forbidden: "Forbidden"
            case .idempotencyKeyReused: "Idempotency-Key reused"
            }
            self.init(status: refusal.status, title: title, detail: refusal.message,
                      field: refusal.code == .idempotencyKeyReused ? "Idempotency-Key" : nil)
        case let problem as FieldProblem:
            self.init(status: 422, title: "Invalid field", detail: problem.message, field: problem.field)
        case let error as CoreError where error.code == .permissionDenied || error.code == .appendOnly:
            self.init(status: 403, title: "Forbidden", detail: error.message)
        case let error as CoreError:
            self.init(status: 422, title: "Invalid input", detail: error.message)
        case let error as NodeError where error.code == .usage:
            self.init(status: 422, title: "Invalid input", detail: error.message)
        case let error as StoreError where error.code == .invalidWrite:
            self.init(status: 422, title: "Invalid input", detail: error.message)
        case let error as StoreError where error.code == .busy:
            self.init(status: 503, title: "Busy", detail: error.message)
        case let error as StoreError where error.code == .storageFull:
            self.init(status: 507, title: "Storage full", detail: error.message)
        default:
            self.init(status: 500, title: "Internal error", detail: "the request could not be completed; nothing was written")
        }
    }
}
