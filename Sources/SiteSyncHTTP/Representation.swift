import Crypto
import Foundation
import Hummingbird
import SiteSyncCore
import SiteSyncDomain

/// One answer of a read endpoint, before it is encoded: JSON always, CSV for tables (an array
/// of flat objects), HTML where a page exists (the monthly review).
struct Representation: Sendable {
    var json: JSONValue
    /// The rows a `text/csv` answer carries, when this answer is a table.
    var csvRows: JSONValue?
    var html: String?

    init(json: JSONValue, csvRows: JSONValue? = nil, html: String? = nil) {
        self.json = json
        self.csvRows = csvRows
        self.html = html
    }

    /// A table: the rows are the JSON and the CSV both.
    static func table(_ rows: JSONValue) -> Representation { Representation(json: rows, csvRows: rows) }
}

/// The media types an answer can take, chosen from `Accept` (or a `format` query parameter,
/// for a browser link or a spreadsheet's web query).
enum MediaChoice: String, Sendable {
    case json, csv, html

    var contentType: String {
        switch self {
        case .json: "application/json"
        case .csv: "text/csv; charset=utf-8"
        case .html: "text/html; charset=utf-8"
        }
    }

    /// The best of `offered` for `accept`, by quality then by the order offered; `nil` when
    /// `Accept` names none of them (406).
    static func negotiate(accept: String?, format: String?, offered: [MediaChoice]) throws -> MediaChoice {
        if let format {
            guard let choice = MediaChoice(rawValue: format.lowercased()), offered.contains(choice) else {
                throw Problem(.invalidField, "format '\(format)' is not offered here: use \(offered.map(\.rawValue).joined(separator: " or "))",
                              field: "format")
            }
            return choice
        }
        guard let accept, !accept.trimmingCharacters(in: .whitespaces).isEmpty else { return offered[0] }
        var best: (choice: MediaChoice, quality: Double, rank: Int)?
        for part in accept.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = pieces.first else { continue }
            let quality = pieces.dropFirst().compactMap { $0.hasPrefix("q=") ? Double($0.dropFirst(2)) : nil }.first ?? 1
            guard quality > 0 else { continue }
            for (rank, choice) in offered.enumerated() where choice.matches(type) {
                if best == nil || quality > best!.quality || (quality == best!.quality && rank < best!.rank) {
                    best = (choice, quality, rank)
                }
            }
        }
        guard let best else {
            throw Problem(.notAcceptable, "this resource is offered as \(offered.map(\.contentType).joined(separator: ", ")); Accept was '\(accept)'")
        }
        return best.choice
    }

    private func matches(_ type: String) -> Bool {
        switch type {
        case "*/*": true
        case "application/*": self == .json
        case "text/*": self == .csv || self == .html
        case "application/json", "application/problem+json": self == .json
        case "text/csv": self == .csv
        case "text/html", "application/xhtml+xml": self == .html
        default: false
        }
    }
}

extension Representation {
    /// The answer in the negotiated type, with a strong `ETag` over its bytes; a matching
    /// `If-None-Match` gets 304 without a body, so a poller pays only for what changed.
    func response(to request: Request) throws -> Response {
        var offered: [MediaChoice] = [.json]
        if csvRows != nil { offered.append(.csv) }
        if html != nil { offered.append(.html) }
        let choice = try MediaChoice.negotiate(accept: request.headers[.accept], format: request.uri.queryParameters["format"].map(String.init),
                                               offered: offered)
        let body: [UInt8]
        switch choice {
        case .json: body = Array(json.canonicalText.utf8)
        case .csv: body = Array((ReadModel.csv(csvRows ?? .array([])) ?? "").utf8)
        case .html: body = Array((html ?? "").utf8)
        }
        return Self.conditional(body, contentType: choice.contentType, request: request)
    }

    /// `body` with its ETag, or 304 when the client already holds it.
    static func conditional(_ body: [UInt8], contentType: String, request: Request) -> Response {
        let tag = "\"" + SHA256.hash(data: body).prefix(16).map { String(format: "%02x", $0) }.joined() + "\""
        var headers = HTTPFields()
        headers[.eTag] = tag
        headers[.cacheControl] = "no-cache"
        headers[.vary] = "Accept, Authorization"
        if let match = request.headers[.ifNoneMatch], Self.matches(match, tag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `If-None-Match`: `*`, or a list of tags (weak ones compared weakly, RFC 9110 §13.1.2).
    static func matches(_ header: String, _ tag: String) -> Bool {
        header.split(separator: ",").contains { part in
            let candidate = part.trimmingCharacters(in: .whitespaces)
            return candidate == "*" || candidate == tag || candidate == "W/" + tag
        }
    }
}
