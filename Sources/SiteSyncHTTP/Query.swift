import Hummingbird
import SiteSyncCore

/// The query parameters of a request, read strictly: a value that does not parse is a 422
/// naming the parameter, never a default silently put in its place.
struct Query {
    let parameters: [String: String]

    init(_ request: Request) {
        var parameters: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { parameters[String(key)] = String(value) }
        self.parameters = parameters
    }

    func text(_ name: String) -> String? { parameters[name] }

    /// `as_of` (YYYY-MM-DD), default `today` (UTC, by the node's clock).
    func asOf(today: CalendarDate) throws -> CalendarDate {
        guard let text = parameters["as_of"] else { return today }
        guard text.count == 10, let date = CalendarDate(text) else {
            throw Problem(.invalidField, "as_of '\(text)' is not a date: write YYYY-MM-DD", field: "as_of")
        }
        return date
    }

    func integer(_ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = parameters[name] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw Problem(.invalidField, "\(name) '\(text)' must be a whole number from \(range.lowerBound) to \(range.upperBound)", field: name)
        }
        return number
    }

    /// One of `allowed`, or `nil` when absent.
    func choice(_ name: String, _ allowed: [String]) throws -> String? {
        guard let text = parameters[name] else { return nil }
        guard allowed.contains(text) else {
            throw Problem(.invalidField, "\(name) '\(text)' is not one of \(allowed.joined(separator: ", "))", field: name)
        }
        return text
    }
}
