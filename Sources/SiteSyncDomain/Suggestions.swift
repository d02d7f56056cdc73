import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncStore

/// A suggestion (意见箱, docs/design.md §15): left at any node, offline too, scoped to that
/// node's department so that it travels to the hub and never to another department's nodes,
/// and answered by the central office.
public struct Suggestion: Sendable, Equatable {
    public let id: String
    public let department: String
    public let text: String
    /// The person who signed it, when they did.
    public let author: String?
    /// The node it was left at; none when anonymous.
    public let node: String?
    public let madeOn: String
    /// `open` until the office answers: `accepted`, `declined` or `done`.
    public let status: String
    public let reply: String?
    public let answeredOn: String?
    public let answeredBy: String?

    /// Left with neither a person nor a node stored.
    public var isAnonymous: Bool { author == nil && node == nil }

    /// Who left it, as every listing shows it: "anonymous" for an anonymous one.
    public var from: String {
        if isAnonymous { return "anonymous" }
        return [author, node.map { "at \($0)" }].compactMap { $0 }.joined(separator: " ")
    }

    /// The statuses, open first; the office answers with one of the others.
    public static let statuses = ["open", "accepted", "declined", "done"]
    public static let answers = ["accepted", "declined", "done"]
}

/// The suggestions of a quarter, for the monthly review: how many stand at each status and the
/// latest few, anonymous ones shown as anonymous.
public struct SuggestionDigest: Sendable, Equatable {
    /// `YYYY-QN`.
    public let quarter: String
    public let counts: [(status: String, count: Int)]
    public let latest: [Suggestion]

    public static func == (a: SuggestionDigest, b: SuggestionDigest) -> Bool {
        a.quarter == b.quarter && a.counts.map { "\($0.status)=\($0.count)" } == b.counts.map { "\($0.status)=\($0.count)" } && a.latest == b.latest
    }

    public var total: Int { counts.reduce(0) { $0 + $1.count } }

    /// The latest as rows: made on, department, from, status, text.
    public var rows: [[String]] { latest.map { [$0.madeOn, $0.department, $0.from, $0.status, $0.text] } }
    public static let header = ["made on", "department", "from", "status", "suggestion"]

    /// How many suggestions the digest lists by name.
    public static let latestShown = 5

    /// The digest of the quarter holding `month`, up to `asOf`, from what `node` holds.
    static func of(_ node: Node, month: Month, asOf: CalendarDate) throws -> SuggestionDigest {
        let firstMonth = (month.number - 1) / 3 * 3 + 1
        let from = CalendarDate(year: month.year, month: firstMonth, day: 1)!
        let made = try node.suggestions().filter { $0.madeOn >= from.description && $0.madeOn <= asOf.description }
        return SuggestionDigest(quarter: "\(month.year)-Q\((month.number - 1) / 3 + 1)",
                                counts: Suggestion.statuses.map { status in (status, made.filter { $0.status == status }.count) },
                                latest: Array(made.prefix(latestShown)))
    }
}

extension Node {
    /// Leaves a suggestion at this node, in one durable transaction: scoped to this node's
    /// department, with the node's name and `author` — or, `anonymous`, with neither.
    @discardableResult
    public func addSuggestion(text: String, author: String?, anonymous: Bool, today: CalendarDate) throws -> Suggestion {
        let said = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !said.isEmpty else { throw NodeError(.usage, "the suggestion is empty: write what you suggest with --text") }
        let author = author?.trimmingCharacters(in: .whitespaces).nilIfEmpty
        if anonymous, author != nil {
            throw NodeError(.usage, "--anonymous stores no name, so --by \(author!) contradicts it: give one or the other")
        }
        var fields = ["department=\(writer.department)", "text=\(said)", "made_on=\(today)"]
        if !anonymous {
            fields.append("node=\(store.identity.node)")
            if let author { fields.append("author=\(author)") }
        }
        let written = try writeEntry("suggestion", fields)
        return try suggestion(written.id)
    }

    /// The office's answer to a suggestion (`accepted`, `declined` or `done`, with a reply),
    /// written in one change so that it travels back whole to the department it came from.
    @discardableResult
    public func answerSuggestion(_ id: String, status: String, reply: String, today: CalendarDate) throws -> Suggestion {
        guard writer.role.writesPlan else {
            throw NodeError(.usage, "this \(writer.role.rawValue) node cannot answer suggestions: the central office (an office node) or "
                            + "the hub answers them, and the answer reaches this node when it syncs")
        }
        guard Suggestion.answers.contains(status) else {
            throw NodeError(.usage, "--status '\(status)' is not an answer: use \(Suggestion.answers.joined(separator: ", "))")
        }
        let said = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !said.isEmpty else { throw NodeError(.usage, "the reply is empty: say with --reply what the office will do, or why not") }
        let found = try suggestion(id)
        try writeEntry("suggestion", id: found.id, ["status=\(status)", "reply=\(said)", "answered_on=\(today)",
                                                     "answered_by=\(store.identity.node)"])
        return try suggestion(found.id)
    }

    /// The suggestions this node holds, newest first (then by id), only those at `status` when
    /// given (`open`: not answered yet).
    public func suggestions(status: String? = nil) throws -> [Suggestion] {
        if let status, !Suggestion.statuses.contains(status) {
            throw NodeError(.usage, "--status '\(status)' is not a status: use \(Suggestion.statuses.joined(separator: ", "))")
        }
        let rows = try store.rows([("""
            SELECT id, department, text, author, node, made_on, coalesce(status, 'open'), reply, answered_on, answered_by
            FROM suggestion ORDER BY made_on DESC, id
            """, [])])[0]
        return rows.map { row in
            Suggestion(id: row[0] ?? "", department: row[1] ?? "", text: row[2] ?? "", author: row[3], node: row[4], madeOn: row[5] ?? "",
                       status: row[6] ?? "open", reply: row[7], answeredOn: row[8], answeredBy: row[9])
        }.filter { status == nil || $0.status == status }
    }

    /// The suggestion whose id is `id` or starts with it (the listing shows the first 8 characters).
    public func suggestion(_ id: String) throws -> Suggestion {
        let all = try suggestions()
        if let exact = all.first(where: { $0.id == id }) { return exact }
        let matches = all.filter { !id.isEmpty && $0.id.lowercased().hasPrefix(id.lowercased()) }
        guard matches.count == 1 else {
            throw NodeError(.usage, matches.isEmpty ? "no suggestion '\(id)' on this node (`sitesync suggestion list` shows them; sync first)"
                                                    : "'\(id)' starts \(matches.count) suggestions' ids: give more of it")
        }
        return matches[0]
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
