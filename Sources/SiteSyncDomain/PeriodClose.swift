import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncStore

/// A calendar month, `YYYY-MM`.
public struct Month: Sendable, Hashable, CustomStringConvertible {
    public let year: Int
    public let number: Int

    public init?(_ text: String) {
        guard text.count == 7, let first = CalendarDate(text + "-01") else { return nil }
        year = first.year
        number = first.month
    }

    public var first: CalendarDate { CalendarDate(year: year, month: number, day: 1)! }
    public var last: CalendarDate { first.adding(days: CalendarDate.daysIn(month: number, year: year) - 1) }
    public var description: String { String(first.description.prefix(7)) }
}

/// A month closed by the central office (`sitesync period close`): its review's figures frozen
/// as they stood, in replicated records (`period_close` for the city's part, `period_figures`
/// for each project) carried by the office's signed changes, with the changes they were
/// computed from. Every replica that holds them prints the same closed review, whatever
/// arrives later; entries dated inside the month that arrive after the close are listed apart
/// (``LateEntry``).
public struct PeriodClose: Sendable {
    public let period: String
    /// The cut-off of the frozen figures: the month's last day.
    public let asOf: CalendarDate
    public let closedOn: CalendarDate
    public let closedBy: String
    /// The changes the closing node held in an unbroken run when it closed the month: an entry
    /// made by a change outside it arrived after the close.
    public let knowledge: VersionVector
    /// The frozen figures, with the project rows this node holds.
    public let figures: ReviewFigures
    /// How many projects the close froze, and how many of their rows this node holds (a
    /// department's node holds its own).
    public let projects: Int
    public let heldProjects: Int

    /// The close of `period` as this node holds it, or `nil` when the month is not closed (or
    /// its close has not arrived).
    public static func load(_ store: ReplicaStore, period: String) throws -> PeriodClose? {
        let result = try store.rows([
            ("SELECT as_of, closed_on, closed_by, knowledge, figures, projects FROM period_close WHERE period = ?1 ORDER BY id", [period]),
            ("""
             SELECT f.figures FROM period_figures f LEFT JOIN project p ON p.id = f.project
             WHERE f.period = ?1 ORDER BY p.code, f.project
             """, [period]),
        ])
        guard let row = result[0].first else { return nil }
        let decoder = JSONDecoder()
        guard let asOf = row[0].flatMap(CalendarDate.init), let closedOn = row[1].flatMap(CalendarDate.init),
              let knowledge = row[3].flatMap(Self.vector), let city = row[4].flatMap({ try? decoder.decode(ReviewFigures.self, from: Data($0.utf8)) }),
              let projects = row[5].flatMap(Int.init) else {
            throw NodeError(.usage, "the close of \(period) held here is incomplete or damaged; run `sitesync audit verify`, then sync")
        }
        var figures = city
        figures.projects = try result[1].compactMap { row in
            try row[0].map { try decoder.decode(ReviewFigures.ProjectRow.self, from: Data($0.utf8)) }
        }
        return PeriodClose(period: period, asOf: asOf, closedOn: closedOn, closedBy: row[2] ?? "", knowledge: knowledge,
                           figures: figures, projects: projects, heldProjects: figures.projects.count)
    }

    /// Closes `period` at `node` (an office or the hub) in one durable transaction: the review's
    /// figures as of the month's last day, frozen. `today` must be after the month.
    /// - Returns: the close, as it now stands here.
    @discardableResult
    public static func close(node: Node, period: String, today: CalendarDate) throws -> PeriodClose {
        guard let month = Month(period) else { throw NodeError(.usage, "'\(period)' is not a month: write YYYY-MM") }
        guard node.writer.role.writesPlan else {
            throw NodeError(.usage, "this \(node.writer.role.rawValue) node cannot close a month: the central office (an office node) or the hub "
                            + "closes it, and the close reaches this node when it syncs")
        }
        guard today > month.last else {
            throw NodeError(.usage, "\(period) is not over: a month is closed from its next day on (\(month.last.adding(days: 1)))")
        }
        if let closed = try load(node.store, period: period) {
            throw NodeError(.usage, "\(period) was closed on \(closed.closedOn) by \(closed.closedBy): a month is closed once, and its "
                            + "review keeps those figures (`sitesync report monthly --period \(period)`)")
        }
        // The knowledge first, then the figures: a change applied in between (by a serving
        // process) is then in the figures and shown as late too, never missing from both.
        let knowledge = try node.store.knowledge()
        let figures = try MonthlyReview.figures(node, month: month, asOf: month.last,
                                                departmentNames: MonthlyReview.departmentNames(node.store))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json(_ value: some Encodable) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        let closeFields = ["period=\(period)", "as_of=\(month.last)", "closed_on=\(today)", "closed_by=\(node.store.identity.node)",
                           "knowledge=\(text(knowledge))", "figures=\(try json(figures.cityPart))", "projects=\(figures.projects.count)"]
        let projectFields = try figures.projects.map { ["period=\(period)", "project=\($0.id)", "figures=\(try json($0))"] }
        let planner = node.planner
        try node.store.writeLocally { session in
            _ = try Node.upsert("period_close", id: nil, closeFields, planner: planner, in: session)
            for fields in projectFields { _ = try Node.upsert("period_figures", id: nil, fields, planner: planner, in: session) }
        }
        guard let close = try load(node.store, period: period) else {
            throw NodeError(.usage, "the close of \(period) was written but cannot be read back; run `sitesync audit verify`")
        }
        return close
    }

    /// A version vector as `replica:counter` pairs joined by commas, in replica order.
    static func text(_ vector: VersionVector) -> String {
        vector.entries.map { "\($0.replica):\($0.counter)" }.joined(separator: ",")
    }

    static func vector(_ text: String) -> VersionVector? {
        var pairs: [(ReplicaID, UInt64)] = []
        for part in text.split(separator: ",") {
            let halves = part.split(separator: ":")
            guard halves.count == 2, let replica = ReplicaID(hex: String(halves[0])), let counter = UInt64(halves[1]) else { return nil }
            pairs.append((replica, counter))
        }
        return VersionVector(pairs)
    }
}

/// An entry dated inside a closed month that arrived after the close: made (or changed) by a
/// change the closing node did not hold. It is not in the frozen figures; it counts from the
/// next month's on.
public struct LateEntry: Sendable, Equatable {
    public let date: String
    /// The project's code.
    public let project: String
    /// What it is: "quantity, Earthworks", "cost, Kerbs", "KPI reading, Pass rate"…
    public let what: String
    public let value: String
    /// The node whose change came late.
    public let node: String

    /// The entries of `close`'s month that arrived after it, by date, project, entry and id.
    static func after(_ close: PeriodClose, in store: ReplicaStore) throws -> [LateEntry] {
        guard let month = Month(close.period) else { return [] }
        let range = [month.first.description, month.last.description]
        // Each query: collection, id, date, project code, what, value.
        let byActivity = { (table: String, noun: String, value: String) in
            ("""
             SELECT '\(table)', e.id, e.date, coalesce(p.code, ''), '\(noun), ' || coalesce(a.name, e.activity), \(value)
             FROM \(table) e LEFT JOIN activity a ON a.id = e.activity LEFT JOIN project p ON p.id = a.project
             WHERE e.date BETWEEN ?1 AND ?2
             """, range)
        }
        let queries: [(sql: String, arguments: [String])] = [
            byActivity("quantity_entry", "quantity", "e.quantity || coalesce(' ' || nullif(a.unit, ''), '')"),
            byActivity("cost_entry", "cost", "e.amount"),
            byActivity("percent_entry", "percent complete", "e.percent || ' %'"),
            ("""
             SELECT 'kpi_reading', r.id, ?1, coalesce(p.code, ''), 'KPI reading, ' || coalesce(k.name, r.kpi), r.value
             FROM kpi_reading r LEFT JOIN kpi k ON k.id = r.kpi LEFT JOIN project p ON p.id = k.project WHERE r.period = ?1
             """, [close.period]),
            ("""
             SELECT 'daily_log', d.id, d.date, coalesce(p.code, ''), 'daily log', coalesce('crew ' || d.crew_count, '')
             FROM daily_log d LEFT JOIN project p ON p.id = d.project WHERE d.date BETWEEN ?1 AND ?2
             """, range),
            ("""
             SELECT 'risk', r.id, CASE WHEN r.closed_on BETWEEN ?1 AND ?2 THEN r.closed_on ELSE r.raised_on END, coalesce(p.code, ''),
                    CASE WHEN r.closed_on BETWEEN ?1 AND ?2 THEN 'risk closed' ELSE 'risk raised' END, coalesce(r.title, '')
             FROM risk r LEFT JOIN project p ON p.id = r.project
             WHERE r.raised_on BETWEEN ?1 AND ?2 OR r.closed_on BETWEEN ?1 AND ?2
             """, range),
        ]
        let names = try store.replicaNames()
        var late: [(entry: LateEntry, id: String)] = []
        for rows in try store.rows(queries) {
            for row in rows {
                guard let table = row[0], let id = row[1], let collection = store.schema.collection(named: table),
                      let state = try store.state(of: RecordKey(collection: collection.code, id: id)), !state.isDeleted else { continue }
                let dots = state.versions.map(\.dot).filter { !close.knowledge.contains($0) }
                guard let first = dots.min(by: { ($0.replica, $0.counter) < ($1.replica, $1.counter) }) else { continue }
                late.append((LateEntry(date: row[2] ?? "", project: row[3] ?? "", what: row[4] ?? table, value: row[5] ?? "",
                                       node: names[first.replica] ?? first.replica.description), id))
            }
        }
        return late.sorted { ($0.entry.date, $0.entry.project, $0.entry.what, $0.id) < ($1.entry.date, $1.entry.project, $1.entry.what, $1.id) }
            .map(\.entry)
    }
}
