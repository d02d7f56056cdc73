import Foundation
import SiteSyncCore
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
