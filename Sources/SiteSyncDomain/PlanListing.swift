import SiteSyncCore
import SiteSyncNode
import SiteSyncStore

/// One project as `project list` shows it: its plan fields as stored, and how many activities it has.
public struct ProjectListing: Sendable, Equatable {
    public let code: String, name: String, department: String, stage: String
    public let budget: ExactDecimal?
    public let plannedStart: String, plannedFinish: String
    public let activities: Int
}

/// One activity as `activity list` shows it, with the quantity installed so far summed exactly
/// and the percentage reported for its latest day.
public struct ActivityListing: Sendable, Equatable {
    public let id: String, project: String, name: String, status: String, unit: String
    public let plannedQuantity: ExactDecimal?
    public let installed: ExactDecimal
    public let percentComplete: ExactDecimal?
    public let plannedStart: String, plannedFinish: String
}

/// A KPI found by id or `PROJECT-CODE/name`.
public struct KPIReference: Sendable, Equatable {
    public let id: String, project: String, name: String
}

extension Node {
    /// The projects this node holds, in code order.
    public func projectListing() throws -> [ProjectListing] {
        try store.rows([("""
            SELECT p.code, p.name, p.department, p.stage, p.budget, p.planned_start, p.planned_finish,
                   (SELECT count(*) FROM activity a WHERE a.project = p.id)
            FROM project p ORDER BY p.code, p.id
            """, [])])[0].map { row in
            ProjectListing(code: row[0] ?? "", name: row[1] ?? "", department: row[2] ?? "", stage: row[3] ?? "", budget: decimal(row[4]),
                           plannedStart: row[5] ?? "", plannedFinish: row[6] ?? "", activities: Int(row[7] ?? "") ?? 0)
        }
    }

    /// The activities of one project (code or id), or of every project this node holds, in
    /// project code then name order.
    public func activityListing(project: String?) throws -> [ActivityListing] {
        let projectID = try project.map { try findProject($0).id }
        let result = try store.rows([
            ("""
             SELECT a.id, coalesce(p.code, a.project), a.name, a.status, a.unit, a.budget_quantity, NULL,
                    a.planned_start, a.planned_finish
             FROM activity a LEFT JOIN project p ON p.id = a.project
             \(projectID == nil ? "" : "WHERE a.project = ?1") ORDER BY p.code, a.name, a.id
             """, projectID.map { [$0] } ?? []),
            ("SELECT activity, quantity FROM quantity_entry WHERE activity IS NOT NULL", []),
            ("SELECT activity, percent FROM percent_entry WHERE activity IS NOT NULL ORDER BY activity, date", []),
        ])
        var percents: [String: ExactDecimal] = [:]
        for row in result[2] { if let activity = row[0], let percent = decimal(row[1]) { percents[activity] = percent } }
        var installed: [String: ExactDecimal] = [:]
        for row in result[1] {
            guard let activity = row[0], let quantity = decimal(row[1]) else { continue }
            installed[activity] = try (installed[activity] ?? .zero).plus(quantity)
        }
        return result[0].map { row in
            ActivityListing(id: row[0] ?? "", project: row[1] ?? "", name: row[2] ?? "", status: row[3] ?? "", unit: row[4] ?? "",
                            plannedQuantity: decimal(row[5]), installed: installed[row[0] ?? ""] ?? .zero,
                            percentComplete: percents[row[0] ?? ""], plannedStart: row[7] ?? "", plannedFinish: row[8] ?? "")
        }
    }

    /// A KPI named by its id or `PROJECT-CODE/name` (case-insensitive).
    public func findKPI(_ text: String) throws -> KPIReference {
        let rows = try store.rows([("""
            SELECT k.id, coalesce(p.code, k.project), coalesce(k.name, '') FROM kpi k LEFT JOIN project p ON p.id = k.project ORDER BY k.id
            """, [])])[0]
        let matches = rows.filter { $0[0] == text || "\($0[1] ?? "")/\($0[2] ?? "")".lowercased() == text.lowercased() }
        guard matches.count == 1, let id = matches[0][0] else {
            throw NodeError(.usage, "no KPI '\(text)' on this node: give its id or PROJECT-CODE/name (one project's KPI names are unique)")
        }
        return KPIReference(id: id, project: matches[0][1] ?? "", name: matches[0][2] ?? "")
    }
}
