import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncStore

/// RFC 4180 CSV: quoted fields with doubled quotes, commas and line breaks inside quotes, CRLF
/// or LF line ends, an optional UTF-8 byte-order mark (spreadsheets write one).
public enum CSVTable {
    /// The rows, each with the line its record starts on.
    public static func parse(_ text: String) throws -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        var field = "", fields: [String] = []
        var quoted = false, atFieldStart = true
        var line = 1, recordLine = 1
        var characters = Array(text.unicodeScalars)
        if characters.first == "\u{FEFF}" { characters.removeFirst() }
        var index = 0
        func endRecord() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].isEmpty) { rows.append((recordLine, fields)) }
            field = ""
            fields = []
            atFieldStart = true
        }
        while index < characters.count {
            let c = characters[index]
            index += 1
            if quoted {
                if c == "\"" {
                    if index < characters.count && characters[index] == "\"" { field.unicodeScalars.append("\""); index += 1 } else { quoted = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where atFieldStart:
                quoted = true
                atFieldStart = false
            case ",":
                fields.append(field)
                field = ""
                atFieldStart = true
            case "\r":
                continue
            case "\n":
                endRecord()
                line += 1
                recordLine = line
            default:
                field.unicodeScalars.append(c)
                atFieldStart = false
            }
        }
        if quoted { throw NodeError(.usage, "line \(recordLine): a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return rows
    }
}

/// What an import of a plan did.
public struct PlanImportSummary: Sendable, Equatable {
    public var projects = 0, goals = 0, activities = 0
}

extension Node {
    /// The columns of a plan spreadsheet (one row per activity; the project's columns repeat).
    public static let planColumns = (
        required: ["project_code", "project_name", "department", "activity"],
        optional: ["project_budget", "project_start", "project_finish", "goal", "goal_weight", "activity_budget", "quantity", "unit",
                   "start", "finish", "method", "goal_parent", "goal_objective", "goal_owner", "owner"]
    )

    /// Loads projects, goals and activities from a plan spreadsheet in one transaction: all of
    /// it, or — when any row is wrong — nothing, with the row and the reason named. A project is
    /// found by its code, a goal by its project and title, an activity by its project and name,
    /// so importing the same sheet again changes nothing and an edited sheet updates the plan.
    ///
    /// The goal tree (docs/design.md §16): `goal_parent` names the goal's parent goal by title in
    /// the same project (made, weight 1, if no row defines it), `goal_objective` the objective a
    /// top goal serves (its id or title), `goal_owner` and `owner` the staff members (id or name,
    /// those of the project's department first) who own the goal and the activity. A row with a
    /// goal and an empty `activity` defines only the goal.
    /// - Parameter writer: who the plan is imported for (an API token's); this node when `nil`.
    public func importPlan(csv text: String, as writer: WriterIdentity? = nil) throws -> PlanImportSummary {
        let rows = try CSVTable.parse(text)
        guard let header = rows.first else { throw NodeError(.usage, "the file is empty: the first line must name the columns") }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        for column in Self.planColumns.required where !names.contains(column) {
            throw NodeError(.usage, "the column \(column) is missing (required: \(Self.planColumns.required.joined(separator: ", ")))")
        }
        for column in names where !(Self.planColumns.required + Self.planColumns.optional).contains(column) {
            throw NodeError(.usage, "unknown column '\(column)' (columns: \((Self.planColumns.required + Self.planColumns.optional).joined(separator: ", ")))")
        }
        let existing = try store.rows([
            ("SELECT id, lower(code) FROM project", []),
            ("SELECT id, project, lower(title) FROM goal", []),
            ("SELECT id, project, lower(name) FROM activity", []),
        ])
        var projectIDs = Dictionary(existing[0].map { ($0[1] ?? "", $0[0]!) }) { a, _ in a }
        var goalIDs = Dictionary(existing[1].map { ("\($0[1] ?? "")/\($0[2] ?? "")", $0[0]!) }) { a, _ in a }
        var activityIDs = Dictionary(existing[2].map { ("\($0[1] ?? "")/\($0[2] ?? "")", $0[0]!) }) { a, _ in a }
        var summary = PlanImportSummary()
        var seenProjects: [String: [String]] = [:]
        let planner = try self.planner(as: writer)
        let staff = try staffMembers(), objectives = try objectiveTitles()
        try store.writeLocally { session in
            func write(_ collection: String, _ id: String?, _ fields: [String], line: Int) throws -> String {
                do {
                    return try Node.upsert(collection, id: id, fields, planner: planner, in: session).id
                } catch let error as CoreError {
                    // Still a CoreError, so that a refusal by the write policy stays one (an HTTP 403).
                    throw CoreError(error.code, "line \(line): \(error.message); nothing was imported")
                }
            }
            for row in rows.dropFirst() {
                var value: [String: String] = [:]
                for (index, name) in names.enumerated() where index < row.fields.count {
                    let text = row.fields[index].trimmingCharacters(in: .whitespaces)
                    if !text.isEmpty { value[name] = text }
                }
                guard row.fields.count <= names.count else {
                    throw NodeError(.usage, "line \(row.line): \(row.fields.count) fields but \(names.count) columns; nothing was imported")
                }
                for column in Self.planColumns.required where value[column] == nil && !(column == "activity" && value["goal"] != nil) {
                    throw NodeError(.usage, "line \(row.line): \(column) is empty; nothing was imported")
                }
                let code = value["project_code"]!
                // A project's columns are written once, from its first row; later rows must agree.
                let projectFields = ["name=\(value["project_name"]!)", "department=\(value["department"]!)"]
                    + [("project_budget", "budget"), ("project_start", "planned_start"), ("project_finish", "planned_finish")]
                    .compactMap { column, field in value[column].map { "\(field)=\($0)" } }
                if let first = seenProjects[code.lowercased()] {
                    let disagreeing = Set(projectFields).subtracting(first)
                    if !disagreeing.isEmpty {
                        throw NodeError(.usage, "line \(row.line): project \(code) says \(disagreeing.sorted().joined(separator: ", ")) "
                                        + "where an earlier row said otherwise; nothing was imported")
                    }
                } else {
                    seenProjects[code.lowercased()] = projectFields
                    let id = projectIDs[code.lowercased()]
                    let written = try write("project", id, (id == nil ? ["code=\(code)", "stage=initiation"] : []) + projectFields, line: row.line)
                    projectIDs[code.lowercased()] = written
                    if id == nil { summary.projects += 1 }
                }
                let project = projectIDs[code.lowercased()]!
                var goal: String?
                let department = value["department"]!
                func owner(_ column: String) throws -> String? {
                    guard let text = value[column] else { return nil }
                    do { return try Node.findStaff(text, department: department, in: staff).id } catch let error as NodeError {
                        throw NodeError(error.code, "line \(row.line): \(column): \(error.message); nothing was imported")
                    }
                }
                /// The goal of `title` in this project: found, or made with `fields`; given
                /// fields are written again to a goal found (an edited sheet updates the tree).
                func goalID(_ title: String, _ fields: [String]) throws -> String {
                    let key = "\(project)/\(title.lowercased())"
                    if let id = goalIDs[key] {
                        if !fields.isEmpty { _ = try write("goal", id, fields, line: row.line) }
                        return id
                    }
                    let id = try write("goal", nil, ["project=\(project)", "title=\(title)"]
                                       + (fields.contains { $0.hasPrefix("weight=") } ? [] : ["weight=1"]) + fields, line: row.line)
                    goalIDs[key] = id
                    summary.goals += 1
                    return id
                }
                if let title = value["goal"] {
                    var fields: [String] = []
                    if let weight = value["goal_weight"] { fields.append("weight=\(weight)") }
                    if let parent = value["goal_parent"] {
                        guard parent.lowercased() != title.lowercased() else {
                            throw NodeError(.usage, "line \(row.line): goal \(title) cannot be its own parent; nothing was imported")
                        }
                        fields.append("parent=\(try goalID(parent, []))")
                    }
                    if let objective = value["goal_objective"] {
                        do { fields.append("objective=\(try Node.findObjective(objective, in: objectives).id)") } catch let error as NodeError {
                            throw NodeError(error.code, "line \(row.line): goal_objective: \(error.message); nothing was imported")
                        }
                    }
                    if let owner = try owner("goal_owner") { fields.append("owner=\(owner)") }
                    goal = try goalID(title, fields)
                }
                guard let name = value["activity"] else { continue }
                var fields = ["name=\(name)"]
                fields += [("activity_budget", "budget"), ("quantity", "budget_quantity"), ("unit", "unit"), ("start", "planned_start"),
                           ("finish", "planned_finish"), ("method", "ev_method")].compactMap { column, field in value[column].map { "\(field)=\($0)" } }
                if value["method"] == nil { fields.append("ev_method=\(value["quantity"] == nil ? "manual" : "units")") }
                if let goal { fields.append("goal=\(goal)") }
                if let owner = try owner("owner") { fields.append("owner=\(owner)") }
                let key = "\(project)/\(name.lowercased())"
                let id = activityIDs[key]
                if id == nil { fields += ["project=\(project)", "status=not_started"] }
                activityIDs[key] = try write("activity", id, fields, line: row.line)
                if id == nil { summary.activities += 1 }
            }
        }
        return summary
    }
}
