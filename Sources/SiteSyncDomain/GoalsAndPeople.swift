import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// A person who owns work (`staff`, docs/design.md §16): not a sign-in account.
public struct StaffMember: Sendable, Equatable {
    public var id: String
    public var name: String
    /// Empty for the city's own staff (shared records).
    public var department: String
    public var role: String
    public var active: Bool
}

/// One node of the city's goal tree (`sitesync goal tree`): an objective, a project's goal or
/// an activity, with its weight, score and owner.
public struct PlanTreeNode: Sendable {
    public enum Kind: String, Sendable { case objective, goal, activity }
    public var kind: Kind
    public var id: String
    public var title: String
    public var department: String
    /// The project's code, for goals and activities.
    public var project: String?
    public var weight: Double?
    public var score: Double?
    public var grade: Grade?
    /// The owner's name, if any.
    public var owner: String?
    /// The period's target and actual, when a period was asked for and one is set.
    public var target: String?
    public var actual: String?
    public var children: [PlanTreeNode] = []
}

/// A person's scorecard for a period (docs/design.md §16; ``ScorecardRule``).
public struct PersonScorecard: Sendable {
    public var staff: StaffMember
    public var items: [ScorecardItem]
    public var kindScores: [ScorecardItem.Kind: Double]
    public var score: Double?
    public var grade: Grade?
    /// Issues they own open at the cut-off, and of those the ones past their due day.
    public var openIssues: Int
    public var overdueIssues: Int
}

/// Everything the goal tree and the scorecards are computed from, as of a day.
struct PlanTreeData {
    struct Objective { var id, title, department: String; var parent: String?; var weight: Double; var owner: String? }
    struct Goal { var id, project, title: String; var parent, objective: String?; var weight: Double; var owner: String? }
    var objectives: [Objective] = []
    var goals: [Goal] = []
    var projects: [ProjectInput] = []
    var activityOwners: [String: String] = [:]
    var activityNames: [String: String] = [:]
    var kpiOwners: [String: String] = [:]
    /// The period's targets and actuals, by goal or objective id.
    var targets: [String: (target: String, actual: String?)] = [:]
    /// Every goal's and objective's score.
    var scores: [String: Double] = [:]
}

extension Node {
    public static let staffRoles = ["project_lead", "department_head", "hrbp", "auditor", "other"]

    // MARK: Staff

    /// Every staff record this node holds, by name then id.
    public func staffMembers() throws -> [StaffMember] {
        try store.rows([("SELECT id, coalesce(name, ''), coalesce(department, ''), coalesce(role, 'other'), coalesce(active, 1) "
                         + "FROM staff ORDER BY name, id", [])])[0].map {
            StaffMember(id: $0[0] ?? "", name: $0[1] ?? "", department: $0[2] ?? "", role: $0[3] ?? "other", active: $0[4] != "0")
        }
    }

    /// Adds a person who owns work, as `writer` (this node when `nil`): only office and hub
    /// nodes keep the register. `department` empty or `nil` makes a member of the city's staff.
    @discardableResult
    public func addStaff(name: String, department: String?, role: String, as writer: WriterIdentity? = nil) throws -> String {
        guard Self.staffRoles.contains(role) else {
            throw NodeError(.usage, "role must be one of \(Self.staffRoles.joined(separator: ", ")), not '\(role)'")
        }
        var fields = ["name=\(name)", "role=\(role)", "active=1"]
        if let department, !department.isEmpty { fields.append("department=\(department)") }
        return try writeEntry("staff", fields, as: writer).id
    }

    /// The staff member named by id, or by name (case-insensitive). Among several of one name,
    /// those of `department` come first, then the city's; still several is an error naming them.
    public func findStaff(_ text: String, department: String? = nil) throws -> StaffMember {
        try Self.findStaff(text, department: department, in: try staffMembers())
    }

    /// ``findStaff(_:department:)`` among `all` (read before a write transaction).
    static func findStaff(_ text: String, department: String?, in all: [StaffMember]) throws -> StaffMember {
        if let exact = all.first(where: { $0.id == text }) { return exact }
        var matches = all.filter { $0.name.lowercased() == text.lowercased() }
        if matches.count > 1, let department {
            let own = matches.filter { $0.department == department }
            let city = matches.filter { $0.department.isEmpty }
            matches = !own.isEmpty ? own : !city.isEmpty ? city : matches
        }
        if matches.count > 1 { matches = matches.filter(\.active).isEmpty ? matches : matches.filter(\.active) }
        guard matches.count == 1 else {
            if matches.isEmpty {
                throw NodeError(.usage, "no staff member '\(text)' on this node: `sitesync staff add \"\(text)\" --department DEPT --role ROLE` "
                                + "at the office, or `sitesync staff list` to see who is registered")
            }
            throw NodeError(.usage, "\(matches.count) staff members are called '\(text)' ("
                            + matches.map { "\($0.id) in \($0.department.isEmpty ? "the city" : $0.department)" }.joined(separator: "; ")
                            + "): give the id instead")
        }
        return matches[0]
    }

    // MARK: Objectives and targets

    /// The objective named by id or title (case-insensitive).
    public func findObjective(_ text: String) throws -> (id: String, title: String, department: String) {
        try Self.findObjective(text, in: try objectiveTitles())
    }

    /// Every objective's id, title and department.
    func objectiveTitles() throws -> [(id: String, title: String, department: String)] {
        try store.rows([("SELECT id, coalesce(title, id), coalesce(department, '') FROM objective ORDER BY id", [])])[0]
            .map { (id: $0[0]!, title: $0[1]!, department: $0[2]!) }
    }

    static func findObjective(_ text: String, in all: [(id: String, title: String, department: String)]) throws
        -> (id: String, title: String, department: String) {
        if let exact = all.first(where: { $0.id == text }) { return exact }
        let matches = all.filter { $0.title.lowercased() == text.lowercased() }
        guard matches.count == 1 else {
            throw NodeError(.usage, matches.isEmpty
                ? "no objective '\(text)' on this node: `sitesync objective add TITLE` at the office, or sync to receive it"
                : "\(matches.count) objectives are called '\(text)' (\(matches.map(\.id).joined(separator: ", "))): give the id instead")
        }
        return matches[0]
    }

    /// Adds a city objective (no department) or a department's, under `parent` (an objective's
    /// id or title) with a weight among its siblings, owned by `owner` (a staff id or name).
    @discardableResult
    public func addObjective(title: String, department: String?, parent: String?, weight: String, owner: String?,
                             as writer: WriterIdentity? = nil) throws -> String {
        var fields = ["title=\(title)", "weight=\(weight)"]
        if let department, !department.isEmpty { fields.append("department=\(department)") }
        if let parent { fields.append("parent=\(try findObjective(parent).id)") }
        if let owner { fields.append("owner=\(try findStaff(owner, department: department).id)") }
        return try writeEntry("objective", fields, as: writer).id
    }

    /// Sets the target (and, optionally, the actual) of a goal or an objective for a period.
    /// `what` is an objective's id or title, else a goal's id or title (within `project` when
    /// given; a title found in several projects needs it).
    /// - Returns: the collection written (`goal_target` or `objective_target`) and the record's id.
    @discardableResult
    public func setTarget(_ what: String, project: String?, period: String, target: String?, actual: String?,
                          as writer: WriterIdentity? = nil) throws -> (collection: String, id: String) {
        guard let parsed = PlanPeriod(period) else {
            throw NodeError(.usage, "the period must be a year (2026), a quarter (2026-Q2) or a month (2026-05), not '\(period)'")
        }
        var values = ["period=\(parsed)"]
        if let target { values.append("target=\(target)") }
        if let actual { values.append("actual=\(actual)") }
        if project == nil, let objective = try? findObjective(what) {
            return ("objective_target", try writeEntry("objective_target", ["objective=\(objective.id)"] + values, as: writer).id)
        }
        let projectID = try project.map { try findProject($0).id }
        let rows = try store.rows([("SELECT id, coalesce(title, ''), project FROM goal ORDER BY id", [])])[0]
        let matches = rows.filter { row in
            (row[0] == what || row[1]?.lowercased() == what.lowercased()) && (projectID == nil || row[2] == projectID)
        }
        guard matches.count == 1, let goal = matches[0][0] else {
            throw NodeError(.usage, matches.isEmpty
                ? "no objective or goal '\(what)' on this node\(project.map { " (in project \($0))" } ?? ""): give its id or title"
                : "\(matches.count) goals are called '\(what)': give --project or the goal's id")
        }
        return ("goal_target", try writeEntry("goal_target", ["goal=\(goal)"] + values, as: writer).id)
    }

    /// The periods a period splits into: a year into its quarters or its months, a quarter into
    /// its months (`nil`: a month, or a split asked the wrong way round).
    public static func subPeriods(of period: PlanPeriod, into months: Bool) -> [PlanPeriod]? {
        func month(_ number: Int) -> PlanPeriod { PlanPeriod(String(format: "%04d-%02d", period.year, number))! }
        switch period.kind {
        case .year: return months ? (1...12).map(month) : (1...4).map { PlanPeriod("\(period.year)-Q\($0)")! }
        case .quarter(let quarter): return months ? (3 * quarter - 2...3 * quarter).map(month) : nil
        case .month: return nil
        }
    }

    /// Splits a goal's or objective's target for a year (or a quarter) into its quarters or
    /// months (目标拆解 by period): the period's own target, and each part an equal share, to the
    /// fen (or the target's own decimals, if finer), the last part taking the rounding remainder,
    /// so the parts add up to the target exactly. For a target that accumulates (a length built,
    /// a sum spent); a rate (a pass rate) is set per period with `setTarget`. Each part is its
    /// own record (natural key: goal and period), so running it again rewrites the same ones.
    /// - Returns: the periods written, the period itself first, with their targets.
    @discardableResult
    public func splitTarget(_ what: String, project: String?, period text: String, target text2: String, intoMonths: Bool,
                            as writer: WriterIdentity? = nil) throws -> [(period: PlanPeriod, target: ExactDecimal)] {
        guard let period = PlanPeriod(text) else {
            throw NodeError(.usage, "the period must be a year (2026), a quarter (2026-Q2) or a month (2026-05), not '\(text)'")
        }
        guard let total = ExactDecimal(text2) else { throw NodeError(.usage, "the target '\(text2)' is not a number: write it like 120 or 12.5") }
        guard let parts = Self.subPeriods(of: period, into: intoMonths) else {
            throw NodeError(.usage, "\(period) does not split into \(intoMonths ? "months" : "quarters"): a year splits into quarters or "
                            + "months, a quarter into months")
        }
        let count = ExactDecimal(Int64(parts.count))
        let places = max(2, Int(total.scale))
        var shares: [ExactDecimal] = []
        for _ in parts.dropLast() {
            guard let share = try total.multiplied(by: 1, dividedBy: count, places: places) else {
                throw NodeError(.usage, "the target \(total) is too large to split")
            }
            shares.append(share)
        }
        shares.append(try shares.reduce(total) { try $0.minus($1) })
        var written = [(period, total)]
        try setTarget(what, project: project, period: period.description, target: total.description, actual: nil, as: writer)
        for (part, share) in zip(parts, shares) {
            try setTarget(what, project: project, period: part.description, target: share.description, actual: nil, as: writer)
            written.append((part, share))
        }
        return written
    }

    // MARK: The tree

    /// Loads the city's tree and scores it as of `asOf`; a goal or objective with a target and
    /// an actual for `period` scores by them (``ScorecardRule/measuredScore(target:actual:cap:)``).
    /// - Parameter projects: every project as of `asOf`, when the caller holds them already (the
    ///   figures cache's snapshot of that date); else they are loaded, which at a city's scale
    ///   is most of the work.
    func planTreeData(asOf: CalendarDate, period: PlanPeriod?, thresholds: Thresholds, projects: [ProjectInput]? = nil) throws -> PlanTreeData {
        var data = PlanTreeData()
        data.projects = try projects ?? ProjectData.load(store, asOf: asOf)
        let periodText = period?.description ?? ""
        let result = try store.rows([
            ("SELECT id, coalesce(title, id), coalesce(department, ''), parent, weight, owner FROM objective ORDER BY id", []),
            ("SELECT id, project, coalesce(title, id), parent, objective, weight, owner FROM goal ORDER BY id", []),
            ("SELECT id, owner, coalesce(name, id) FROM activity ORDER BY id", []),
            ("SELECT id, owner FROM kpi WHERE owner IS NOT NULL ORDER BY id", []),
            ("SELECT goal, target, actual FROM goal_target WHERE period = ?1 ORDER BY id", [periodText]),
            ("SELECT objective, target, actual FROM objective_target WHERE period = ?1 ORDER BY id", [periodText]),
        ])
        func weight(_ text: String?) -> Double { text.flatMap(Double.init) ?? 1 }
        data.objectives = result[0].map { .init(id: $0[0]!, title: $0[1]!, department: $0[2]!, parent: $0[3], weight: weight($0[4]), owner: $0[5]) }
        data.goals = result[1].compactMap { row in
            guard let id = row[0], let project = row[1] else { return nil }
            return .init(id: id, project: project, title: row[2] ?? id, parent: row[3], objective: row[4], weight: weight(row[5]), owner: row[6])
        }
        for row in result[2] {
            if let owner = row[1] { data.activityOwners[row[0]!] = owner }
            data.activityNames[row[0]!] = row[2]
        }
        for row in result[3] { data.kpiOwners[row[0]!] = row[1] }
        var measured: [String: Double] = [:]
        for row in result[4] + result[5] {
            guard let id = row[0], let target = row[1] else { continue }
            data.targets[id] = (target, row[2])
            if let t = Double(target), let actual = row[2].flatMap(Double.init),
               let score = ScorecardRule.measuredScore(target: t, actual: actual, cap: thresholds.kpiCap) {
                measured[id] = score
            }
        }
        let known = Set(data.goals.map(\.id))
        // A goal under a goal keeps it; a project's top goal hangs under its objective.
        let inputs = data.objectives.map { GoalInput(id: $0.id, parent: $0.parent, title: $0.title, weight: $0.weight) }
            + data.goals.map { goal in
                GoalInput(id: goal.id, parent: goal.parent.flatMap { known.contains($0) ? $0 : nil } ?? goal.objective, title: goal.title,
                          weight: goal.weight)
            }
        var activityGoals: [String: String] = [:]
        for project in data.projects { activityGoals.merge(project.activityGoals) { a, _ in a } }
        data.scores = try GoalTree.scores(goals: inputs, activityGoals: activityGoals, activities: data.projects.flatMap(\.activities),
                                          asOf: asOf, measured: measured).goals
        return data
    }

    /// The city's goal tree as this node holds it (`sitesync goal tree`): city objectives,
    /// department objectives, projects' goals and their activities, each with its weight,
    /// score, grade and owner. `department` keeps that department's branches (and the
    /// objectives above them); `project` keeps that project's goals (and what is above them).
    /// `projects`: every project as of `asOf`, when the caller holds them (``planTreeData``).
    public func goalTree(asOf: CalendarDate, period: PlanPeriod? = nil, department: String? = nil, project: String? = nil,
                         thresholds: Thresholds = .standard, projects: [ProjectInput]? = nil) throws -> [PlanTreeNode] {
        let data = try planTreeData(asOf: asOf, period: period, thresholds: thresholds, projects: projects)
        let staff = Dictionary(try staffMembers().map { ($0.id, $0.name) }) { a, _ in a }
        let projectID = try project.map { try findProject($0).id }
        let projects = Dictionary(data.projects.map { ($0.id, $0) }) { a, _ in a }
        func grade(_ score: Double?) -> Grade? { score.map { Grade.of(score: $0, thresholds: thresholds) } }
        var nodes: [String: PlanTreeNode] = [:]
        var parentOf: [String: String] = [:]
        var order: [String] = []
        for objective in data.objectives {
            nodes[objective.id] = PlanTreeNode(kind: .objective, id: objective.id, title: objective.title, department: objective.department,
                                               weight: objective.weight, score: data.scores[objective.id], grade: grade(data.scores[objective.id]),
                                               owner: objective.owner.flatMap { staff[$0] }, target: data.targets[objective.id]?.target,
                                               actual: data.targets[objective.id]?.actual ?? nil)
            if let parent = objective.parent { parentOf[objective.id] = parent }
            order.append(objective.id)
        }
        let goalIDs = Set(data.goals.map(\.id))
        for goal in data.goals {
            let project = projects[goal.project]
            nodes[goal.id] = PlanTreeNode(kind: .goal, id: goal.id, title: goal.title, department: project?.department ?? "",
                                          project: project?.code, weight: goal.weight, score: data.scores[goal.id], grade: grade(data.scores[goal.id]),
                                          owner: goal.owner.flatMap { staff[$0] }, target: data.targets[goal.id]?.target,
                                          actual: data.targets[goal.id]?.actual ?? nil)
            if let parent = goal.parent.flatMap({ goalIDs.contains($0) ? $0 : nil }) ?? goal.objective { parentOf[goal.id] = parent }
            order.append(goal.id)
        }
        for project in data.projects {
            for activity in project.activities {
                guard let goal = project.activityGoals[activity.id], nodes[goal] != nil else { continue }
                let score = try ScorecardRule.activityScore(activity, asOf: asOf)
                nodes[activity.id] = PlanTreeNode(kind: .activity, id: activity.id, title: data.activityNames[activity.id] ?? activity.id,
                                                  department: project.department, project: project.code, weight: nil, score: score,
                                                  grade: grade(score), owner: data.activityOwners[activity.id].flatMap { staff[$0] })
                parentOf[activity.id] = goal
                order.append(activity.id)
            }
        }
        // What the filters keep: the matching nodes, their ancestors and their descendants.
        func matches(_ node: PlanTreeNode) -> Bool {
            if let projectID { return node.kind != .objective && projects[projectID]?.code == node.project }
            if let department { return node.department == department }
            return true
        }
        var kept: Set<String> = []
        for id in order where matches(nodes[id]!) {
            var current: String? = id
            var seen: Set<String> = []
            while let at = current, nodes[at] != nil, seen.insert(at).inserted {
                kept.insert(at)
                current = parentOf[at]
            }
        }
        var children: [String: [String]] = [:]
        var roots: [String] = []
        for id in order where kept.contains(id) {
            if let parent = parentOf[id], kept.contains(parent), parent != id { children[parent, default: []].append(id) } else { roots.append(id) }
        }
        var building: Set<String> = []
        func build(_ id: String) -> PlanTreeNode? {
            guard building.insert(id).inserted, var node = nodes[id] else { return nil }
            defer { building.remove(id) }
            node.children = (children[id] ?? []).compactMap(build)
            return node
        }
        return roots.compactMap(build)
    }

    // MARK: Scorecards

    /// Each staff member's scorecard for `period`, as of the period's last day or `today`,
    /// whichever comes first (``ScorecardRule``). `person` (an id or a name) gives one;
    /// `department` that department's staff; neither, every active member.
    /// `projects`: every project as of the period's cut-off, when the caller holds them.
    public func scorecards(period: PlanPeriod, person: String? = nil, department: String? = nil, today: CalendarDate,
                           thresholds: Thresholds = .standard, projects: [ProjectInput]? = nil) throws -> (asOf: CalendarDate, cards: [PersonScorecard]) {
        let asOf = min(period.lastDay, today)
        var members: [StaffMember]
        if let person {
            members = [try findStaff(person)]
        } else {
            members = try staffMembers().filter { $0.active && (department == nil || $0.department == department) }
        }
        let data = try planTreeData(asOf: asOf, period: period, thresholds: thresholds, projects: projects)
        var items: [String: [ScorecardItem]] = [:]
        for objective in data.objectives {
            guard let owner = objective.owner else { continue }
            items[owner, default: []].append(ScorecardItem(kind: .goal, id: objective.id, title: objective.title, weight: objective.weight,
                                                           score: data.scores[objective.id]))
        }
        for goal in data.goals {
            guard let owner = goal.owner else { continue }
            items[owner, default: []].append(ScorecardItem(kind: .goal, id: goal.id, title: goal.title, weight: goal.weight,
                                                           score: data.scores[goal.id]))
        }
        for project in data.projects {
            for kpi in project.kpis {
                guard let owner = data.kpiOwners[kpi.id] else { continue }
                items[owner, default: []].append(ScorecardItem(kind: .kpi, id: kpi.id, title: kpi.name, weight: kpi.weight,
                                                               score: kpi.score(cap: thresholds.kpiCap)))
            }
            for activity in project.activities {
                guard let owner = data.activityOwners[activity.id] else { continue }
                items[owner, default: []].append(ScorecardItem(kind: .activity, id: activity.id, title: data.activityNames[activity.id] ?? activity.id,
                                                               weight: activity.budget.doubleValue,
                                                               score: try ScorecardRule.activityScore(activity, asOf: asOf)))
            }
        }
        let day = asOf.description
        let issueRows = try store.rows([("""
            SELECT owner, count(*), coalesce(sum(due IS NOT NULL AND due < ?1), 0) FROM issue
            WHERE owner IS NOT NULL AND opened_on <= ?1 AND NOT (closed_on IS NOT NULL AND closed_on <= ?1) GROUP BY owner
            """, [day])])[0]
        let issues = Dictionary(issueRows.map { ($0[0]!, (Int($0[1] ?? "") ?? 0, Int($0[2] ?? "") ?? 0)) }) { a, _ in a }
        let cards = members.map { member -> PersonScorecard in
            let owned = items[member.id] ?? []
            let score = ScorecardRule.score(owned)
            return PersonScorecard(staff: member, items: owned, kindScores: ScorecardRule.kindScores(owned), score: score,
                                   grade: score.map { Grade.of(score: $0, thresholds: thresholds) },
                                   openIssues: issues[member.id]?.0 ?? 0, overdueIssues: issues[member.id]?.1 ?? 0)
        }
        return (asOf, cards)
    }

    /// A score as JSON (one decimal, as the tables print it) or null.
    static func scoreJSON(_ value: Double?) -> JSONValue { value.map { .number(String(format: "%.1f", $0)) } ?? .null }

    /// The goal tree as `goal tree --json` and `GET /api/v1/goals` give it.
    public static func goalTreeJSON(_ roots: [PlanTreeNode], asOf: CalendarDate, period: PlanPeriod?) -> JSONValue {
        func encode(_ node: PlanTreeNode) -> JSONValue {
            .object(["kind": .string(node.kind.rawValue), "id": .string(node.id), "title": .string(node.title),
                     "department": .string(node.department), "project": node.project.map(JSONValue.string) ?? .null,
                     "weight": node.weight.map { .number(String($0)) } ?? .null, "score": scoreJSON(node.score),
                     "grade": node.grade.map { .string($0.rawValue) } ?? .null, "owner": node.owner.map(JSONValue.string) ?? .null,
                     "target": node.target.map(JSONValue.string) ?? .null, "actual": node.actual.map(JSONValue.string) ?? .null,
                     "children": .array(node.children.map(encode))])
        }
        return .object(["as_of": .string(asOf.description), "period": period.map { .string($0.description) } ?? .null,
                        "tree": .array(roots.map(encode))])
    }

    /// The scorecards as `scorecard --format json` and `GET /api/v1/scorecards` give them.
    public static func scorecardsJSON(_ cards: [PersonScorecard], period: PlanPeriod, asOf: CalendarDate) -> JSONValue {
        .object(["period": .string(period.description), "as_of": .string(asOf.description), "scorecards": .array(cards.map { card in
            .object(["staff": .string(card.staff.id), "name": .string(card.staff.name), "department": .string(card.staff.department),
                     "role": .string(card.staff.role), "score": scoreJSON(card.score), "grade": card.grade.map { .string($0.rawValue) } ?? .null,
                     "goals": scoreJSON(card.kindScores[.goal]), "kpis": scoreJSON(card.kindScores[.kpi]),
                     "activities": scoreJSON(card.kindScores[.activity]), "open_issues": .int(Int64(card.openIssues)),
                     "overdue_issues": .int(Int64(card.overdueIssues)),
                     "items": .array(card.items.map { item in
                         .object(["kind": .string(item.kind.rawValue), "id": .string(item.id), "title": .string(item.title),
                                  "weight": .number(String(item.weight)), "score": scoreJSON(item.score)])
                     })])
        })])
    }

    /// The scorecards as rows for HR's spreadsheet (``ReportText/csv(_:)`` escapes them:
    /// a name typed as `=HYPERLINK(…)` stays text).
    public static func scorecardRows(_ cards: [PersonScorecard], period: PlanPeriod, asOf: CalendarDate) -> [[String]] {
        func figure(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "" }
        return [["period", "as_of", "staff_id", "name", "department", "role", "goals", "kpis", "activities", "score", "grade",
                 "open_issues", "overdue_issues"]]
            + cards.map { card in
                [period.description, asOf.description, card.staff.id, card.staff.name, card.staff.department, card.staff.role,
                 figure(card.kindScores[.goal]), figure(card.kindScores[.kpi]), figure(card.kindScores[.activity]), figure(card.score),
                 card.grade?.rawValue ?? "", String(card.openIssues), String(card.overdueIssues)]
            }
    }
}
