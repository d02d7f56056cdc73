import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncStore

extension Node {
    /// A project named by id or code (case-insensitive).
    public func findProject(_ text: String) throws -> (id: String, code: String, name: String) {
        let rows = try store.rows([("SELECT id, coalesce(code, id), coalesce(name, '') FROM project", [])])[0]
        let all = rows.map { (id: $0[0]!, code: $0[1]!, name: $0[2]!) }
        if let exact = all.first(where: { $0.id == text }) { return exact }
        guard let match = all.first(where: { $0.code.lowercased() == text.lowercased() }) else {
            throw NodeError(.usage, "no project '\(text)' on this node: give its code or id "
                            + "(`sitesync report projects` lists them; sync first if the plan has not arrived)")
        }
        return match
    }

    /// Writes one record from `field=value` texts in one durable transaction.
    /// - Parameter writer: who the write is made for (an API token's ``ApiToken/writer``);
    ///   this node itself when `nil`.
    /// - Returns: the record's id, and whether anything changed.
    @discardableResult
    public func writeEntry(_ collection: String, id: String? = nil, _ fields: [String],
                           as writer: WriterIdentity? = nil) throws -> (id: String, changed: Bool) {
        let planner = try self.planner(as: writer)
        return try store.writeLocally { session in try Self.upsert(collection, id: id, fields, planner: planner, in: session) }
    }

    /// The planner for a write made for `writer`, or for this node itself when `nil`.
    ///
    /// The write is checked as `writer` by the same ``LocalWritePlanner`` a node of that role
    /// and department would be, and is still this node's own change (signed by it, and checked
    /// by the store as any of its writes), so `writer` may not exceed this node's authority
    /// (``ApiTokens/authorityRefusal(role:department:node:)``). A city-wide identity has no
    /// department of its own: it takes this node's where a record takes its writer's.
    /// - Throws: ``CoreError`` (`permissionDenied`) when `writer` exceeds this node.
    public func planner(as writer: WriterIdentity?) throws -> LocalWritePlanner {
        guard let writer else { return planner }
        let own = self.writer
        let department = writer.role.isDepartmentBound ? writer.department : nil
        if ApiTokens.authorityRefusal(role: writer.role, department: department, node: own) != nil {
            let authority = ApiTokens.authority(of: own)
            throw CoreError(.permissionDenied,
                "a write as \(writer.role.rawValue)\(department.map { " of \($0)" } ?? "") goes beyond this \(own.role.rawValue) node, "
                + "which writes only as \(authority.roles.map(\.rawValue).joined(separator: " or "))"
                + "\(authority.department.map { " of \($0)" } ?? ""); nothing was written")
        }
        return LocalWritePlanner(schema: store.schema, writer: WriterIdentity(role: writer.role, department: department ?? own.department))
    }

    /// One upsert from `field=value` texts inside a local write session.
    /// - Returns: the record's id (`id`, or the one made for a new record), and whether anything changed.
    static func upsert(_ collection: String, id: String?, _ fields: [String], planner: LocalWritePlanner,
                       in session: LocalWriteSession) throws -> (id: String, changed: Bool) {
        let parsed = try fields.map { try FieldAssignment(parsing: $0) }
        let change = try session.write { reader in try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: reader) }
        return (change?.record.id ?? id ?? "", change != nil)
    }

    /// Refuses a date after today for something that happened.
    public static func checkNotFuture(_ date: CalendarDate, today: CalendarDate, what: String) throws {
        guard date <= today else {
            throw NodeError(.usage, "\(date) is in the future: \(what) is recorded for today (\(today)) or earlier")
        }
    }
}

extension Node {
    /// The ids of a project's records: the project, what names it (`project` field), and what
    /// names one of its activities (`activity` field) — for filtering the conflict review.
    public func recordIDs(ofProject projectID: String) throws -> Set<String> {
        var ids: Set<String> = [projectID]
        let collections = store.schema.collections
        let byProject = collections.filter { $0.field(named: "project") != nil && $0.name != "project" }
        let byActivity = collections.filter { $0.field(named: "activity") != nil && $0.name != "activity" }
        let results = try store.rows(byProject.map { ("SELECT id FROM \"\($0.name)\" WHERE project = ?", [projectID]) })
        for rows in results { for row in rows { if let id = row[0] { ids.insert(id) } } }
        let activities = try store.rows([("SELECT id FROM activity WHERE project = ?", [projectID])])[0].compactMap { $0[0] }
        guard !activities.isEmpty else { return ids }
        let marks = activities.map { _ in "?" }.joined(separator: ", ")
        for rows in try store.rows(byActivity.map { ("SELECT id FROM \"\($0.name)\" WHERE activity IN (\(marks))", activities) }) {
            for row in rows { if let id = row[0] { ids.insert(id) } }
        }
        return ids
    }
}

/// A cost as recorded against an activity.
public struct CostOutcome: Sendable, Equatable {
    /// The `cost_entry` written.
    public let id: String
    public let activity: String
    /// The activity's project code and name, to say where the cost went.
    public let project: String
    public let activityName: String
    public let amount: ExactDecimal
    public let date: CalendarDate
}

/// A KPI's value as recorded for a month.
public struct KPIReadingOutcome: Sendable, Equatable {
    /// The `kpi_reading` written (one per KPI and month: a second reading of the month replaces the first).
    public let id: String
    public let kpi: String
    public let project: String
    public let name: String
    public let period: String
    public let value: ExactDecimal
    /// Whether anything changed (`false`: the month already held this value).
    public let changed: Bool
}

extension Node {
    /// Records a cost against an activity (an entry: it adds to the activity's actual cost,
    /// and is never changed afterwards), in one durable transaction.
    /// - Parameters:
    ///   - activity: its id, name, or `PROJECT-CODE/name`.
    ///   - amount: a positive decimal, as typed.
    ///   - writer: who the cost is recorded for (an API token's); this node when `nil`.
    /// - Throws: ``FieldProblem`` naming `amount`, `date` or `activity`; ``CoreError`` when the
    ///   write policy refuses it (another department's activity). Nothing is written then.
    @discardableResult
    public func recordCost(activity: String, date: CalendarDate, amount: String, note: String? = nil, today: CalendarDate,
                           as writer: WriterIdentity? = nil) throws -> CostOutcome {
        let value = try Self.costAmount(amount)
        let found = try FieldProblem.naming("activity") { try findActivity(activity) }
        guard date <= today else {
            throw FieldProblem("date", "\(date) is in the future: a cost is recorded for today (\(today)) or earlier")
        }
        var fields = ["activity=\(found.id)", "date=\(date)", "amount=\(value)"]
        if let note { fields.append("note=\(note)") }
        let written = try writeEntry("cost_entry", fields, as: writer)
        return CostOutcome(id: written.id, activity: found.id, project: found.project, activityName: found.name, amount: value, date: date)
    }

    /// A cost's amount: a decimal above zero (a cost entry records money spent).
    public static func costAmount(_ text: String) throws -> ExactDecimal {
        guard let value = ExactDecimal(text.trimmingCharacters(in: .whitespaces)) else {
            throw FieldProblem("amount", "'\(text)' is not an amount: write a positive decimal such as 1250.50")
        }
        guard !value.isNegative else {
            throw FieldProblem("amount", "negative costs are refused (\(text)): a cost entry records money spent, "
                               + "so write the amount paid, such as 1250.50")
        }
        guard value > .zero else { throw FieldProblem("amount", "a cost of 0 records nothing: write a positive decimal such as 1250.50") }
        return value
    }

    /// Records a KPI's value for a month (`YYYY-MM`), in one durable transaction. A KPI has one
    /// reading per month: recording the month again replaces its value.
    /// - Parameters:
    ///   - kpi: its id, or `PROJECT-CODE/name`.
    ///   - value: a decimal, negative values too, as typed.
    ///   - source: where the value comes from.
    ///   - writer: who the reading is recorded for (an API token's); this node when `nil`.
    /// - Throws: ``FieldProblem`` naming `kpi`, `period` or `value`; ``CoreError`` when the write
    ///   policy refuses it. Nothing is written then.
    @discardableResult
    public func recordKPIReading(kpi: String, period: String, value: String, source: String? = nil,
                                 as writer: WriterIdentity? = nil) throws -> KPIReadingOutcome {
        guard period.count == 7, CalendarDate(period + "-01") != nil else {
            throw FieldProblem("period", "'\(period)' is not a month: write YYYY-MM, such as 2026-11")
        }
        guard let number = ExactDecimal(value.trimmingCharacters(in: .whitespaces)) else {
            throw FieldProblem("value", "'\(value)' is not a number: write a decimal such as 96.5 or -5")
        }
        let found = try FieldProblem.naming("kpi") { try findKPI(kpi) }
        var fields = ["kpi=\(found.id)", "period=\(period)", "value=\(number)"]
        if let source { fields.append("source=\(source)") }
        let written = try writeEntry("kpi_reading", fields, as: writer)
        return KPIReadingOutcome(id: written.id, kpi: found.id, project: found.project, name: found.name, period: period, value: number,
                                 changed: written.changed)
    }
}
