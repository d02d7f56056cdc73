import Foundation
import HTTPTypes
import Hummingbird
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// `POST /api/v1/…`: writes for integration (KPI collection, costs from finance, progress, the
/// plan CSV). Each is an ordinary change written at this node on behalf of the token's
/// identity, planned and authorized by the same write policy as a node of that role and
/// department; the request and the changes it wrote are recorded against the token, and an
/// `Idempotency-Key` makes a retried POST answer the first one's result without writing again.
struct WriteRoutes {
    let node: Node

    var today: CalendarDate { CalendarDate(unixMilliseconds: node.store.wallClock()) }

    func add(to group: RouterGroup<APIContext>) {
        group.post("kpi-readings") { request, context in
            try await write(request, context, contentType: .json) { body, writer in
                let fields = try JSONBody(body)
                let kpi = try fields.string("kpi")
                let value = try fields.decimal("value")
                let period = try fields.optionalMonth("period") ?? String(today.description.prefix(7))
                let source = try fields.optionalString("source")
                try fields.rejectOthers()
                let written = try node.recordKPIReading(kpi: kpi, period: period, value: value.description, source: source, as: writer)
                return .object(["id": .string(written.id), "kpi": .string(written.kpi), "project": .string(written.project),
                                "period": .string(period), "value": .number(written.value.description),
                                "changes": .int(written.changed ? 1 : 0)])
            }
        }
        group.post("costs") { request, context in
            try await write(request, context, contentType: .json) { body, writer in
                let fields = try JSONBody(body)
                let activity = try fields.string("activity")
                let amount = try fields.decimal("amount")
                let date = try fields.optionalDate("date") ?? today
                let note = try fields.optionalString("note")
                try fields.rejectOthers()
                let written = try node.recordCost(activity: activity, date: date, amount: amount.description, note: note, today: today,
                                                  as: writer)
                return .object(["id": .string(written.id), "activity": .string(written.activity), "project": .string(written.project),
                                "date": .string(date.description), "amount": .number(written.amount.description), "changes": .int(1)])
            }
        }
        group.post("progress") { request, context in
            try await write(request, context, contentType: .json) { body, writer in
                let fields = try JSONBody(body)
                let date = try fields.optionalDate("date") ?? today
                let entry = ProgressEntry(
                    activity: try fields.string("activity"), quantity: try fields.optionalDecimal("quantity")?.description,
                    percent: try fields.optionalDecimal("percent")?.description, status: try fields.optionalString("status"), date: date,
                    finished: try fields.optionalBool("finished") ?? false, note: try fields.optionalString("note"))
                try fields.rejectOthers()
                let outcome = try node.recordProgress(entry, today: today, as: writer)
                return .object([
                    "activity": .string(outcome.activity), "project": .string(outcome.project), "installed": .number(outcome.installed.description),
                    "percent": outcome.percent.map { .number($0.description) } ?? .null, "changes": .int(Int64(outcome.changes)),
                ])
            }
        }
        group.post("plans") { request, context in
            try await write(request, context, contentType: .csv) { body, writer in
                guard let text = String(bytes: body, encoding: .utf8) else {
                    throw Problem(.invalidField, "the plan is not UTF-8 text: save the spreadsheet as CSV UTF-8", field: "body")
                }
                let summary = try node.importPlan(csv: text, as: writer)
                return .object(["projects": .int(Int64(summary.projects)), "goals": .int(Int64(summary.goals)),
                                "activities": .int(Int64(summary.activities)),
                                "changes": .int(Int64(summary.projects + summary.goals + summary.activities))])
            }
        }
    }

    enum BodyType { case json, csv }

    /// Reads the body, authenticates the write and carries it out once per Idempotency-Key.
    private func write(_ request: Request, _ context: APIContext, contentType: BodyType,
                       _ body: @escaping @Sendable ([UInt8], WriterIdentity) throws -> JSONValue) async throws -> Response {
        let caller = try context.requireCaller()
        let writer = try caller.writer()
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        switch contentType {
        case .json where type != "application/json":
            throw Problem(.unsupportedMediaType, "send the body as Content-Type: application/json")
        case .csv where type != "text/csv":
            throw Problem(.unsupportedMediaType, "send the plan as Content-Type: text/csv (the plan spreadsheet saved as CSV UTF-8)")
        default: break
        }
        let bytes = Array(buffer: try await request.body.collect(upTo: APILimits.bodyBytes))
        let key = request.headers[.idempotencyKey]
        let requestHash = IntegrationWrites.requestHash(method: request.method.rawValue, path: request.uri.path, body: bytes)
        let token = caller.token
        let result = try await offPool {
            try IntegrationWrites.perform(node, token: token, idempotencyKey: key, requestHash: requestHash) {
                (201, try body(bytes, writer).canonicalText)
            }
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if result.replayed { headers[.idempotentReplayed] = "true" }
        return Response(status: .init(code: result.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: result.response)))
    }
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}

/// A JSON object body read field by field, each wrong or missing field a 422 naming it, and
/// any field the endpoint does not take refused too (a misspelt optional field would
/// otherwise be dropped without a word).
final class JSONBody {
    private let object: [String: JSONValue]
    private var read: Set<String> = []

    init(_ bytes: [UInt8]) throws {
        guard let text = String(bytes: bytes, encoding: .utf8) else { throw Problem(.badRequest, "the body is not UTF-8 JSON") }
        let value: JSONValue
        do {
            value = try JSONText.parseOrThrow(text)
        } catch {
            throw Problem(.badRequest, "the body is not JSON: \(error)")
        }
        guard case .object(let object) = value else { throw Problem(.invalidField, "the body must be a JSON object", field: "body") }
        self.object = object
    }

    func optionalString(_ name: String) throws -> String? {
        read.insert(name)
        switch object[name] {
        case nil, .null?: return nil
        case .string(let text)?:
            guard !text.isEmpty else { throw Problem(.invalidField, "\(name) is empty", field: name) }
            return text
        default: throw Problem(.invalidField, "\(name) must be a string", field: name)
        }
    }

    func string(_ name: String) throws -> String {
        guard let text = try optionalString(name) else { throw Problem(.invalidField, "\(name) is required", field: name) }
        return text
    }

    /// A decimal, as a JSON number or a string (`"1250.50"`: exact in any client).
    func optionalDecimal(_ name: String) throws -> ExactDecimal? {
        read.insert(name)
        let text: String
        switch object[name] {
        case nil, .null?: return nil
        case .int(let number)?: text = String(number)
        case .number(let number)?, .string(let number)?: text = number
        default: throw Problem(.invalidField, "\(name) must be a number", field: name)
        }
        guard let value = ExactDecimal(text) else { throw Problem(.invalidField, "\(name) '\(text)' is not a decimal number", field: name) }
        return value
    }

    func decimal(_ name: String) throws -> ExactDecimal {
        guard let value = try optionalDecimal(name) else { throw Problem(.invalidField, "\(name) is required", field: name) }
        return value
    }

    func optionalBool(_ name: String) throws -> Bool? {
        read.insert(name)
        switch object[name] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw Problem(.invalidField, "\(name) must be true or false", field: name)
        }
    }

    func optionalDate(_ name: String) throws -> CalendarDate? {
        guard let text = try optionalString(name) else { return nil }
        guard text.count == 10, let date = CalendarDate(text) else {
            throw Problem(.invalidField, "\(name) '\(text)' is not a date: write YYYY-MM-DD", field: name)
        }
        return date
    }

    func optionalMonth(_ name: String) throws -> String? {
        guard let text = try optionalString(name) else { return nil }
        guard text.count == 7, CalendarDate(text + "-01") != nil else {
            throw Problem(.invalidField, "\(name) '\(text)' is not a month: write YYYY-MM", field: name)
        }
        return text
    }

    /// Refuses what the endpoint did not read.
    func rejectOthers() throws {
        if let extra = object.keys.sorted().first(where: { !read.contains($0) }) {
            throw Problem(.invalidField, "\(extra) is not a field of this request (fields: \(read.sorted().joined(separator: ", ")))", field: extra)
        }
    }
}
