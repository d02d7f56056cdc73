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
    /// - Returns: the record's id, and whether anything changed.
    @discardableResult
    public func writeEntry(_ collection: String, id: String? = nil, _ fields: [String]) throws -> (id: String, changed: Bool) {
        let planner = self.planner
        return try store.writeLocally { session in try Self.upsert(collection, id: id, fields, planner: planner, in: session) }
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
