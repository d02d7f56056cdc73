import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncStore

/// A crew's progress on one activity, as `sitesync progress` takes it.
public struct ProgressEntry: Sendable {
    /// The activity: its id, its name, or `PROJECT-CODE/name` where names repeat.
    public var activity: String
    /// Installed quantity, optionally with the activity's unit (`12.5`, `12.5m`, `12.5 m`).
    public var quantity: String?
    public var percent: String?
    public var status: String?
    public var date: CalendarDate
    public var finished: Bool
    public var note: String?

    public init(activity: String, quantity: String? = nil, percent: String? = nil, status: String? = nil, date: CalendarDate,
                finished: Bool = false, note: String? = nil) {
        self.activity = activity
        self.quantity = quantity
        self.percent = percent
        self.status = status
        self.date = date
        self.finished = finished
        self.note = note
    }
}

/// What `progress` wrote, to tell the crew.
public struct ProgressOutcome: Sendable {
    public let activity: String
    public let name: String
    public let project: String
    public let unit: String
    /// The quantity installed so far, summed exactly.
    public let installed: ExactDecimal
    public let planned: ExactDecimal?
    /// The activity's percent complete as of its latest reported day, if any.
    public let percent: ExactDecimal?
    public let changes: Int

    /// 100 × installed / planned, rounded half away from zero to a whole percent; `nil`
    /// without a planned quantity.
    public var installedPercent: ExactDecimal? {
        guard let planned, planned > .zero else { return nil }
        return ((try? ExactDecimal(100).multiplied(by: installed, dividedBy: planned)) ?? nil)?.rounded(places: 0)
    }
}

extension Node {
    /// An activity named by id, name or `CODE/name`.
    public func findActivity(_ text: String) throws -> (id: String, name: String, project: String, unit: String, status: String,
                                                          actualStart: String?, actualFinish: String?) {
        let rows = try store.rows([("""
            SELECT a.id, coalesce(a.name, ''), coalesce(p.code, a.project, ''), coalesce(a.unit, ''), coalesce(a.status, 'not_started'),
                   a.actual_start, a.actual_finish
            FROM activity a LEFT JOIN project p ON p.id = a.project ORDER BY p.code, a.name, a.id
            """, [])])[0]
        let all = rows.map { (id: $0[0]!, name: $0[1]!, project: $0[2]!, unit: $0[3]!, status: $0[4]!, actualStart: $0[5], actualFinish: $0[6]) }
        if let exact = all.first(where: { $0.id == text }) { return exact }
        let matches: [(id: String, name: String, project: String, unit: String, status: String, actualStart: String?,
                       actualFinish: String?)]
        if let slash = text.firstIndex(of: "/") {
            let code = text[..<slash].lowercased(), name = text[text.index(after: slash)...].lowercased()
            matches = all.filter { $0.project.lowercased() == code && $0.name.lowercased() == name }
        } else {
            matches = all.filter { $0.name.lowercased() == text.lowercased() }
        }
        guard let match = matches.first else {
            throw NodeError(.usage, "no activity '\(text)' on this node: give its id, its name or PROJECT-CODE/name "
                            + "(`sitesync record list activity` lists them; sync first if the plan has not arrived)")
        }
        guard matches.count == 1 else {
            throw NodeError(.usage, "'\(text)' names \(matches.count) activities (\(matches.map { "\($0.project)/\($0.name)" }.joined(separator: ", "))): "
                            + "write PROJECT-CODE/name, or the id")
        }
        return match
    }

    /// Records progress on an activity in one durable transaction: a quantity entry, a
    /// percentage as of the entry's day, and the activity's status and actual dates. The first progress on an activity not
    /// yet started marks it in progress from that date.
    /// - Parameter writer: who the progress is recorded for (an API token's); this node when `nil`.
    /// - Throws: ``FieldProblem`` naming `date`, `activity` or `quantity`; ``CoreError`` when the
    ///   write policy or the value rules refuse it. Nothing is written then.
    public func recordProgress(_ entry: ProgressEntry, today: CalendarDate, as writer: WriterIdentity? = nil) throws -> ProgressOutcome {
        guard entry.date <= today else {
            throw FieldProblem("date", "\(entry.date) is in the future: progress is recorded for today (\(today)) or earlier")
        }
        let activity = try FieldProblem.naming("activity") { try findActivity(entry.activity) }
        var quantity: String?
        if let text = entry.quantity?.trimmingCharacters(in: .whitespaces) {
            let number = String(text.prefix { $0.isNumber || $0 == "." || $0 == "-" })
            let unit = text.dropFirst(number.count).trimmingCharacters(in: .whitespaces)
            guard let value = ExactDecimal(number), value > .zero else {
                throw FieldProblem("quantity", "'\(text)' is not a quantity: write a positive number, optionally with the unit (12.5 or 12.5\(activity.unit))")
            }
            guard unit.isEmpty || unit.lowercased() == activity.unit.lowercased() else {
                throw FieldProblem("quantity", "\(activity.name) (\(activity.project)) is measured in \(activity.unit.isEmpty ? "no unit" : activity.unit), "
                                + "not \(unit): convert the quantity first")
            }
            quantity = value.description
        }
        var updates: [String] = []
        var status = entry.status
        if entry.finished { status = status ?? "completed" }
        // A finished state says its day (the value rules ask for it): --finished, or a status
        // of completed or accepted, finishes the activity on the entry's date.
        if entry.finished || status == "completed" || status == "accepted", activity.actualFinish == nil || entry.finished {
            updates.append("actual_finish=\(entry.date)")
        }
        if status == nil, activity.status == "not_started", quantity != nil || entry.percent != nil { status = "in_progress" }
        if let status { updates.append("status=\(status)") }
        if activity.actualStart == nil, status != nil || quantity != nil || entry.percent != nil { updates.append("actual_start=\(entry.date)") }
        let planner = try self.planner(as: writer)
        return try store.writeLocally { session -> ProgressOutcome in
            var written = 0
            if let quantity {
                var fields = ["activity=\(activity.id)", "date=\(entry.date)", "quantity=\(quantity)"]
                if let note = entry.note { fields.append("note=\(note)") }
                if try Self.upsert("quantity_entry", id: nil, fields, planner: planner, in: session).changed { written += 1 }
            }
            if let percent = entry.percent {
                let fields = ["activity=\(activity.id)", "date=\(entry.date)", "percent=\(percent)"]
                if try Self.upsert("percent_entry", id: nil, fields, planner: planner, in: session).changed { written += 1 }
            }
            if !updates.isEmpty, try Self.upsert("activity", id: activity.id, updates, planner: planner, in: session).changed {
                written += 1
            }
            // Read in the write's own transaction: it may be part of a larger one (an API request).
            let result = try session.rows([
                ("SELECT quantity FROM quantity_entry WHERE activity = ?1", [activity.id]),
                ("""
                 SELECT a.budget_quantity, (SELECT percent FROM percent_entry e WHERE e.activity = a.id ORDER BY e.date DESC LIMIT 1)
                 FROM activity a WHERE a.id = ?1
                 """, [activity.id]),
            ])
            let installed = try ExactDecimal.sum(result[0].compactMap { decimal($0[0]) })
            let plan = result[1].first
            return ProgressOutcome(activity: activity.id, name: activity.name, project: activity.project, unit: activity.unit,
                                   installed: installed, planned: decimal(plan?[0] ?? nil), percent: decimal(plan?[1] ?? nil),
                                   changes: written)
        }
    }
}
