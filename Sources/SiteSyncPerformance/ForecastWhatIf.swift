import SiteSyncCore

/// One change to try on a forecast (`sitesync forecast PROJECT --what-if CLAUSE`), as written.
/// The grammar (docs/design.md §17):
///
///     crew ACTIVITY +N%        the activity's rate times (1 + N/100); -N% slows it (N < 100)
///     start ACTIVITY YYYY-MM-DD its remaining work starts that day (not before tomorrow)
///     rain-days N/month        N rain days a month (0 ≤ N < 30) instead of those the logs show
///
/// ACTIVITY is an activity's name (case-insensitive; spaces allowed) or id. Words are
/// separated by spaces; the keyword is case-insensitive.
public enum WhatIf: Sendable, Equatable {
    case crew(activity: String, percent: Double)
    case start(activity: String, date: CalendarDate)
    case rainDays(perMonth: Double)

    /// The accepted forms, for error messages and help.
    public static let forms = "'crew ACTIVITY +N%', 'start ACTIVITY YYYY-MM-DD' or 'rain-days N/month'"

    /// A clause that could not be read, or names nothing.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let clause: String
        public let reason: String
        public var description: String { "what-if '\(clause)': \(reason)" }
    }

    /// Reads one clause.
    public static func parse(_ clause: String) throws(ParseError) -> WhatIf {
        let words = clause.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        func fail(_ reason: String) -> ParseError { ParseError(clause: clause, reason: reason + "; write " + forms) }
        guard let keyword = words.first?.lowercased() else { throw fail("empty") }
        switch keyword {
        case "crew":
            guard words.count >= 3, let last = words.last, last.hasSuffix("%"), let percent = Double(last.dropLast()),
                  last.first == "+" || last.first == "-" else {
                throw fail("a crew change ends with a signed percentage such as +30% or -20%")
            }
            guard percent > -100, percent <= 1000 else { throw fail("a crew change must be more than -100% and at most +1000%") }
            return .crew(activity: words[1..<(words.count - 1)].joined(separator: " "), percent: percent)
        case "start":
            guard words.count >= 3, let date = CalendarDate(words[words.count - 1]) else {
                throw fail("a start ends with a date, YYYY-MM-DD")
            }
            return .start(activity: words[1..<(words.count - 1)].joined(separator: " "), date: date)
        case "rain-days":
            guard words.count == 2, words[1].hasSuffix("/month"), let days = Double(words[1].dropLast(6)) else {
                throw fail("rain days are written N/month, such as 8/month")
            }
            guard days >= 0, days < 30 else { throw fail("rain days must be from 0 to under 30 a month") }
            return .rainDays(perMonth: days)
        default:
            throw fail("'\(words[0])' is not a change")
        }
    }

    /// The scenario `clauses` make for `project`: activity names resolved to ids.
    public static func scenario(_ clauses: [WhatIf], for project: ForecastProject) throws(ParseError) -> Scenario {
        var scenario = Scenario()
        func resolve(_ text: String, _ clause: String) throws(ParseError) -> String {
            if let byId = project.activities.first(where: { $0.id == text }) { return byId.id }
            let matches = project.activities.filter { $0.name.lowercased() == text.lowercased() }
            if matches.count == 1 { return matches[0].id }
            let names = project.activities.map(\.name).sorted().prefix(12).joined(separator: ", ")
            throw ParseError(clause: clause, reason: matches.isEmpty
                ? "project \(project.code) has no activity named '\(text)'; its activities: \(names)"
                : "\(matches.count) activities of project \(project.code) are named '\(text)'; name one by its id: "
                    + matches.map(\.id).joined(separator: ", "))
        }
        for clause in clauses {
            switch clause {
            case .crew(let activity, let percent):
                let id = try resolve(activity, "crew \(activity)")
                scenario.crew[id] = (scenario.crew[id] ?? 1) * (1 + percent / 100)
            case .start(let activity, let date):
                scenario.start[try resolve(activity, "start \(activity)")] = date
            case .rainDays(let perMonth):
                scenario.rainDaysPerMonth = perMonth
            }
        }
        return scenario
    }
}
