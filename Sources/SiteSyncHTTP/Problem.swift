import Foundation
import Hummingbird
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// An error answered as an RFC 9457 problem (`application/problem+json`): a stable `type` a
/// program can branch on, a `title`, the HTTP `status`, a `detail` a person can act on and,
/// for bad input, the `field` at fault. Every error the API answers is one of these.
public struct Problem: Error, Sendable, Equatable {
    /// The problem kinds the contract names (protocol/http-api.yaml, `Problem.type`).
    public enum Kind: String, Sendable, CaseIterable {
        case badRequest = "bad-request"
        case invalidField = "invalid-field"
        case unauthorized
        case forbidden
        case notFound = "not-found"
        case notAcceptable = "not-acceptable"
        case conflict
        case payloadTooLarge = "payload-too-large"
        case unsupportedMediaType = "unsupported-media-type"
        case idempotencyMismatch = "idempotency-key-reused"
        case unavailable
        case storageFull = "storage-full"
        case internalError = "internal"

        var status: HTTPResponse.Status {
            switch self {
            case .badRequest: .badRequest
            case .invalidField, .idempotencyMismatch: .unprocessableContent
            case .unauthorized: .unauthorized
            case .forbidden: .forbidden
            case .notFound: .notFound
            case .notAcceptable: .notAcceptable
            case .conflict: .conflict
            case .payloadTooLarge: .contentTooLarge
            case .unsupportedMediaType: .unsupportedMediaType
            case .unavailable: .serviceUnavailable
            case .storageFull: .init(code: 507, reasonPhrase: "Insufficient Storage")
            case .internalError: .internalServerError
            }
        }

        var title: String {
            switch self {
            case .badRequest: "The request is malformed"
            case .invalidField: "A field is not valid"
            case .unauthorized: "A bearer token is needed"
            case .forbidden: "The token may not do this"
            case .notFound: "Nothing here"
            case .notAcceptable: "No representation in the type asked for"
            case .conflict: "The request conflicts with what is stored"
            case .payloadTooLarge: "The body is too large"
            case .unsupportedMediaType: "The body's type is not accepted here"
            case .idempotencyMismatch: "The Idempotency-Key was used for another request"
            case .unavailable: "Busy or not ready: retry shortly"
            case .storageFull: "The node's storage is full"
            case .internalError: "The server failed"
            }
        }
    }

    public let kind: Kind
    public let detail: String
    public let field: String?

    public init(_ kind: Kind, _ detail: String, field: String? = nil) {
        self.kind = kind
        self.detail = detail
        self.field = field
    }

    /// The problem's JSON body.
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "type": .string("https://sitesync.invalid/problems/\(kind.rawValue)"), "title": .string(kind.title),
            "status": .int(Int64(kind.status.code)), "detail": .string(detail),
        ]
        if let field { object["field"] = .string(field) }
        return .object(object)
    }

    func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        if kind == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"sitesync\"" }
        return Response(status: kind.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json.canonicalText)))
    }
}

extension Problem {
    /// What the domain threw, as the domain says it is answered (``ApiProblem``): a field
    /// problem as `invalid-field` naming the field, a refusal by the write policy as
    /// `forbidden`, a reused key, a busy or full store; `nil` for an unexpected error (a 500).
    init?(domain error: any Error) {
        let answer = ApiProblem(error)
        let kind: Kind
        switch answer.status {
        case 401: kind = .unauthorized
        case 403: kind = .forbidden
        case 422 where error is ApiRefusal: kind = .idempotencyMismatch
        case 422: kind = .invalidField
        case 503: kind = .unavailable
        case 507: kind = .storageFull
        default: return nil
        }
        self.init(kind, answer.detail, field: answer.field)
    }
}

/// Answers every error as a problem: a ``Problem`` as itself, the router's own errors (no
/// such route, a body too large) by their status, what the domain refuses as the domain says
/// (``Problem/init(domain:)``), anything else as a 500 whose detail is logged, not shown.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return problem.response()
        } catch let error as any HTTPResponseError {
            switch error.status {
            case .notFound: return Problem(.notFound, "no such path: see /openapi.yaml for the API's paths").response()
            case .contentTooLarge: return Problem(.payloadTooLarge, "the body is over the limit of \(APILimits.bodyBytes) bytes").response()
            case .methodNotAllowed: return Problem(.notFound, "\(request.method) is not served at \(request.uri.path)").response()
            default:
                if error.status.code < 500 { return Problem(.badRequest, "\(error)").response() }
                context.logger.error("request failed", metadata: ["error": "\(error)"])
                return Problem(.internalError, "the server could not answer; the error is in its log").response()
            }
        } catch {
            if let problem = Problem(domain: error) { return problem.response() }
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return Problem(.internalError, "the server could not answer; the error is in its log").response()
        }
    }
}

/// Bounds on what a request may carry.
enum APILimits {
    /// A plan CSV of several thousand activities fits.
    static let bodyBytes = 8 * 1024 * 1024
}
