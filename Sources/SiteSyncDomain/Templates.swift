import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncStore
import TOMLKit

/// A decimal in a template, held exactly: written in a file as a string (`"0.125"`) or a whole
/// number, never a binary float, and kept as a string in the template's JSON body.
public struct TemplateDecimal: Codable, Sendable, Hashable, CustomStringConvertible {
    public let value: ExactDecimal

    public init(_ value: ExactDecimal) { self.value = value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let value = ExactDecimal(text.trimmingCharacters(in: .whitespaces)) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a decimal")
            }
            self.value = value
        } else if let whole = try? container.decode(Int64.self) {
            value = ExactDecimal(whole)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription:
                "write a decimal as a string (\"0.125\") or a whole number, so that it stays exact")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value.description)
    }

    public var description: String { value.description }
}

/// A plan template (模板库, docs/design.md §15): what a project of a kind is made of, free of
/// any one project's dates and money. Activities keep their dates as days from the project's
/// start and their budgets as shares of the project's total, with their units, quantities and
/// earned-value method; goals keep their tree and weights; KPIs their definition. Saved as one
/// replicated `template` record whose `body` is this value's canonical JSON.
public struct PlanTemplate: Codable, Sendable, Equatable {
    public struct Goal: Codable, Sendable, Equatable {
        public var title: String
        /// The title of its parent goal in the template; none for a top goal.
        public var parent: String?
        public var weight: TemplateDecimal
    }

    public struct Activity: Codable, Sendable, Equatable {
        public var name: String
        /// The title of the goal it serves.
        public var goal: String?
        /// Days from the project's start to the activity's planned start and finish.
        public var startDay: Int
        public var finishDay: Int
        /// Its share of the project's budget (0…1).
        public var budgetShare: TemplateDecimal
        public var unit: String?
        public var quantity: TemplateDecimal?
        public var evMethod: String

        enum CodingKeys: String, CodingKey {
            case name, goal, unit, quantity
            case startDay = "start_day", finishDay = "finish_day", budgetShare = "budget_share", evMethod = "ev_method"
        }
    }

    public struct KPI: Codable, Sendable, Equatable {
        public var name: String
        public var unit: String?
        public var direction: String
        public var baseline: TemplateDecimal
        public var target: TemplateDecimal
        public var weight: TemplateDecimal
    }

    /// The key it is kept and found by: lower-case letters, digits and `-` (`road-widening`).
    public var name: String
    /// What a person reads (`道路拓宽 Road widening`).
    public var title: String
    public var description: String?
    /// Days from the project's start to its planned finish.
    public var finishDay: Int
    public var goals: [Goal]
    public var activities: [Activity]
    public var kpis: [KPI]

    enum CodingKeys: String, CodingKey {
        case name, title, description, goals, activities, kpis
        case finishDay = "finish_day"
    }

    static let methods = ["units", "manual", "zero_hundred", "fifty_fifty", "level_of_effort"]
    static let directions = ["higher_better", "lower_better"]

    // MARK: Text

    /// The canonical JSON of the template (sorted keys, decimals as strings): the `body` of its
    /// record, the same bytes for the same template at every node.
    public var canonicalJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// A template read from a JSON or TOML file's text (`format`: by the file's extension, or
    /// JSON when the text starts with `{`), checked.
    public static func parse(_ text: String, format: String? = nil) throws -> PlanTemplate {
        let isJSON = format.map { $0.lowercased() == "json" } ?? text.drop { $0.isWhitespace }.hasPrefix("{")
        let template: PlanTemplate
        do {
            template = isJSON ? try JSONDecoder().decode(PlanTemplate.self, from: Data(text.utf8))
                : try TOMLDecoder().decode(PlanTemplate.self, from: text)
        } catch let error as DecodingError {
            throw NodeError(.usage, "the template is not readable: \(Self.explain(error))")
        } catch {
            throw NodeError(.usage, "the template is not readable as \(isJSON ? "JSON" : "TOML"): \(error)")
        }
        try template.check()
        return template
    }

    static func explain(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let at = path(context.codingPath)
            return (at.isEmpty ? "" : at + ": ") + context.debugDescription
        @unknown default: return "\(error)"
        }
    }

    // MARK: Checks

    /// Refuses a template that would make a wrong plan, naming what is wrong.
    public func check() throws {
        func refuse(_ reason: String) -> NodeError { NodeError(.usage, "template \(name): \(reason)") }
        guard Self.isName(name) else {
            throw NodeError(.usage, "'\(name)' is not a template name: use 1–64 lower-case letters, digits and '-' (road-widening)")
        }
        guard !title.trimmingCharacters(in: .whitespaces).isEmpty else { throw refuse("title is empty") }
        guard finishDay >= 0 else { throw refuse("finish_day \(finishDay) is negative") }
        guard !activities.isEmpty else { throw refuse("it has no activities") }
        var goalTitles: [String: Goal] = [:]
        for goal in goals {
            guard goalTitles.updateValue(goal, forKey: goal.title.lowercased()) == nil else { throw refuse("goal '\(goal.title)' appears twice") }
            guard goal.weight.value > .zero else { throw refuse("goal '\(goal.title)' has weight \(goal.weight): a weight is above 0") }
        }
        for goal in goals {
            var seen: Set<String> = [goal.title.lowercased()]
            var parent = goal.parent
            while let title = parent {
                guard let found = goalTitles[title.lowercased()] else { throw refuse("goal '\(goal.title)' has parent '\(title)', which is no goal of the template") }
                guard seen.insert(title.lowercased()).inserted else { throw refuse("goal '\(goal.title)' is its own ancestor") }
                parent = found.parent
            }
        }
        var names: Set<String> = []
        var shares = ExactDecimal.zero
        for activity in activities {
            let what = "activity '\(activity.name)'"
            guard !activity.name.trimmingCharacters(in: .whitespaces).isEmpty else { throw refuse("an activity has no name") }
            guard names.insert(activity.name.lowercased()).inserted else { throw refuse("\(what) appears twice") }
            guard activity.startDay >= 0, activity.startDay <= activity.finishDay else {
                throw refuse("\(what) runs from day \(activity.startDay) to day \(activity.finishDay): days count from 0, start before finish")
            }
            guard activity.finishDay <= finishDay else {
                throw refuse("\(what) finishes on day \(activity.finishDay), after the project's finish_day \(finishDay)")
            }
            guard activity.budgetShare.value >= .zero, activity.budgetShare.value <= ExactDecimal(1) else {
                throw refuse("\(what) has budget_share \(activity.budgetShare): a share is between 0 and 1")
            }
            guard Self.methods.contains(activity.evMethod) else {
                throw refuse("\(what) has ev_method '\(activity.evMethod)' (one of \(Self.methods.joined(separator: ", ")))")
            }
            if activity.evMethod == "units", (activity.quantity?.value ?? .zero) <= .zero {
                throw refuse("\(what) earns by units but plans no quantity above 0")
            }
            if let goal = activity.goal, goalTitles[goal.lowercased()] == nil { throw refuse("\(what) serves goal '\(goal)', which is no goal of the template") }
            shares = (try? shares.plus(activity.budgetShare.value)) ?? ExactDecimal(2)
        }
        guard shares <= ExactDecimal(1) else { throw refuse("the activities' budget shares add up to \(shares), more than 1") }
        var kpiNames: Set<String> = []
        for kpi in kpis {
            let what = "KPI '\(kpi.name)'"
            guard kpiNames.insert(kpi.name.lowercased()).inserted else { throw refuse("\(what) appears twice") }
            guard Self.directions.contains(kpi.direction) else { throw refuse("\(what) has direction '\(kpi.direction)' (higher_better or lower_better)") }
            guard kpi.baseline != kpi.target else { throw refuse("\(what): its target equals its baseline, so there is nothing to achieve") }
            guard kpi.weight.value > .zero else { throw refuse("\(what) has weight \(kpi.weight): a weight is above 0") }
        }
    }

    static func isName(_ text: String) -> Bool {
        (1...64).contains(text.count) && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// The goals with every parent before its children (then in the template's order), so that
    /// each goal's parent exists when it is written.
    var goalsParentsFirst: [Goal] {
        var placed: Set<String> = [], ordered: [Goal] = []
        while ordered.count < goals.count {
            let before = ordered.count
            for goal in goals where !placed.contains(goal.title.lowercased()) && goal.parent.map({ placed.contains($0.lowercased()) }) ?? true {
                ordered.append(goal)
                placed.insert(goal.title.lowercased())
            }
            if ordered.count == before { break }  // a cycle, refused by `check`
        }
        return ordered
    }

    // MARK: Money

    /// Shares `total` among `shares` exactly: each amount is `total × share` rounded half away
    /// from zero to the fen (or to the total's own decimals, if finer), and the last takes what
    /// rounding left over, so the amounts add up exactly to `total × Σ shares` — to the total
    /// itself when the shares add up to 1.
    public static func allocate(_ total: ExactDecimal, shares: [ExactDecimal]) throws -> [ExactDecimal] {
        guard !shares.isEmpty else { return [] }
        let places = max(2, Int(total.scale))
        let one = ExactDecimal(1)
        func part(_ share: ExactDecimal) throws -> ExactDecimal {
            guard let amount = try total.multiplied(by: share, dividedBy: one, places: places) else { return .zero }
            return amount
        }
        let whole = try part(try ExactDecimal.sum(shares))
        var amounts = try shares.dropLast().map(part)
        let last = try whole.minus(try ExactDecimal.sum(amounts))
        guard !last.isNegative else {
            throw NodeError(.usage, "the budget \(total) cannot be shared exactly: the last activity would get \(last)")
        }
        amounts.append(last)
        return amounts
    }
}

extension PlanTemplate {
    /// Goals and KPIs may be left out of a file (none); everything else must be there.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try container.decode(String.self, forKey: .name), title: try container.decode(String.self, forKey: .title),
                  description: try container.decodeIfPresent(String.self, forKey: .description),
                  finishDay: try container.decode(Int.self, forKey: .finishDay),
                  goals: try container.decodeIfPresent([Goal].self, forKey: .goals) ?? [],
                  activities: try container.decode([Activity].self, forKey: .activities),
                  kpis: try container.decodeIfPresent([KPI].self, forKey: .kpis) ?? [])
    }
}

/// A template as this node holds it.
public struct TemplateRecord: Sendable {
    public let id: String
    public let template: PlanTemplate
    /// Where it was saved from: `project R-002`, `file road-widening.toml`.
    public let source: String
    public let savedBy: String
    public let savedOn: String
}

/// What `project add --template` made.
public struct TemplateInstance: Sendable, Equatable {
    public let projectID: String
    public let code: String
    public let goals: Int
    public let activities: Int
    public let kpis: Int
    public let finish: CalendarDate
}

extension Node {
    // MARK: Reading

    /// Every template this node holds, by name.
    public func templates() throws -> [TemplateRecord] {
        let rows = try store.rows([("SELECT id, name, body, coalesce(source, ''), coalesce(saved_by, ''), coalesce(saved_on, '') "
                                    + "FROM template ORDER BY name", [])])[0]
        return try rows.map { row in
            let name = row[1] ?? ""
            guard let body = row[2], let template = try? JSONDecoder().decode(PlanTemplate.self, from: Data(body.utf8)) else {
                throw NodeError(.usage, "template \(name) held here is damaged (its body is not a template); save or import it again")
            }
            return TemplateRecord(id: row[0] ?? "", template: template, source: row[3] ?? "", savedBy: row[4] ?? "", savedOn: row[5] ?? "")
        }
    }

    /// The template named `name`.
    public func template(named name: String) throws -> TemplateRecord {
        let all = try templates()
        guard let found = all.first(where: { $0.template.name == name.lowercased() }) else {
            let known = all.map(\.template.name)
            throw NodeError(.usage, "no template '\(name)' on this node"
                            + (known.isEmpty ? " (it holds none: `sitesync template import FILE` at the office, then sync)"
                                             : " (it holds \(known.joined(separator: ", ")))"))
        }
        return found
    }

    // MARK: Writing

    /// Keeps `template` as the replicated record of its name (replacing an earlier one), in one
    /// durable transaction, as `writer` (this node when `nil`). Only office and hub nodes write
    /// templates: they are plan data.
    @discardableResult
    public func saveTemplate(_ template: PlanTemplate, source: String, today: CalendarDate, as writer: WriterIdentity? = nil) throws -> String {
        try template.check()
        let planner = try self.planner(as: writer)
        let fields = ["name=\(template.name)", "body=\(template.canonicalJSON)", "source=\(source)",
                      "saved_by=\(store.identity.node)", "saved_on=\(today)"]
        return try store.writeLocally { session in try Node.upsert("template", id: nil, fields, planner: planner, in: session).id }
    }

    /// Reads a template from a JSON or TOML file and keeps it (`sitesync template import`).
    @discardableResult
    public func importTemplate(file path: String, today: CalendarDate, as writer: WriterIdentity? = nil) throws -> PlanTemplate {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NodeError(.usage, "cannot read \(path): check the path")
        }
        let ext = (path as NSString).pathExtension.lowercased()
        let template = try PlanTemplate.parse(String(decoding: data, as: UTF8.self), format: ["json", "toml"].contains(ext) ? ext : nil)
        try saveTemplate(template, source: "file " + (path as NSString).lastPathComponent, today: today, as: writer)
        return template
    }

    /// The template of a project as it is planned here: its activities' dates as days from the
    /// project's planned start (else its earliest activity's), their budgets as shares of the
    /// project's budget (else of the activities' sum), its goals and KPIs.
    public func templateOf(project text: String, name: String, title: String? = nil) throws -> PlanTemplate {
        let project = try findProject(text)
        let result = try store.rows([
            ("SELECT budget, planned_start, planned_finish FROM project WHERE id = ?1", [project.id]),
            ("""
             SELECT a.name, g.title, a.budget, a.budget_quantity, a.unit, a.planned_start, a.planned_finish, coalesce(a.ev_method, 'units')
             FROM activity a LEFT JOIN goal g ON g.id = a.goal WHERE a.project = ?1
             """, [project.id]),
            ("SELECT g.title, p.title, coalesce(g.weight, '1') FROM goal g LEFT JOIN goal p ON p.id = g.parent WHERE g.project = ?1 ORDER BY g.title",
             [project.id]),
            ("""
             SELECT name, unit, coalesce(direction, 'higher_better'), baseline, target, coalesce(weight, '1') FROM kpi WHERE project = ?1
             ORDER BY name
             """, [project.id]),
        ])
        func refuse(_ reason: String) -> NodeError { NodeError(.usage, "project \(project.code) cannot become a template: \(reason)") }
        let row = result[0].first ?? []
        let activities = result[1]
        guard !activities.isEmpty else { throw refuse("it has no activities") }
        let starts = activities.compactMap { $0[5].flatMap(CalendarDate.init) }
        guard let start = row[safe: 1].flatMap({ $0 }).flatMap(CalendarDate.init) ?? starts.min() else {
            throw refuse("it has no planned start (set one: `sitesync record put project \(project.id) planned_start=YYYY-MM-DD`)")
        }
        let budgets = activities.map { $0[2].flatMap { ExactDecimal($0) } ?? .zero }
        let activitySum = try ExactDecimal.sum(budgets)
        let total = row[safe: 0].flatMap({ $0 }).flatMap { ExactDecimal($0) } ?? activitySum
        guard total > .zero else { throw refuse("it has no budget, so its activities' shares of it are unknown") }
        var planned: [PlanTemplate.Activity] = []
        for (activity, budget) in zip(activities, budgets) {
            let name = activity[0] ?? ""
            guard let from = activity[5].flatMap(CalendarDate.init), let to = activity[6].flatMap(CalendarDate.init) else {
                throw refuse("activity '\(name)' has no planned dates: a template keeps each activity's dates as days from the start")
            }
            guard from >= start else { throw refuse("activity '\(name)' starts on \(from), before the project (\(start))") }
            planned.append(PlanTemplate.Activity(
                name: name, goal: activity[1], startDay: from.daysSinceEpoch - start.daysSinceEpoch, finishDay: to.daysSinceEpoch - start.daysSinceEpoch,
                budgetShare: TemplateDecimal(try budget.multiplied(by: ExactDecimal(1), dividedBy: total, places: 9) ?? .zero),
                unit: activity[4], quantity: activity[3].flatMap { ExactDecimal($0) }.map { TemplateDecimal($0) }, evMethod: activity[7] ?? "units"))
        }
        planned.sort { ($0.startDay, $0.finishDay, $0.name) < ($1.startDay, $1.finishDay, $1.name) }
        // When the activities carry the whole budget, their shares add up to exactly 1: the
        // last takes what rounding the others to 9 decimals left.
        if activitySum == total, let last = planned.indices.last {
            let others = try ExactDecimal.sum(planned.dropLast().map(\.budgetShare.value))
            planned[last].budgetShare = TemplateDecimal(try ExactDecimal(1).minus(others))
        }
        let projectFinish = row[safe: 2].flatMap({ $0 }).flatMap(CalendarDate.init).map { $0.daysSinceEpoch - start.daysSinceEpoch }
        let template = PlanTemplate(
            name: name.lowercased(), title: title ?? project.name, description: "Saved from project \(project.code) (\(project.name)).",
            finishDay: max(projectFinish ?? 0, planned.map(\.finishDay).max() ?? 0),
            goals: result[2].map { PlanTemplate.Goal(title: $0[0] ?? "", parent: $0[1], weight: TemplateDecimal(ExactDecimal($0[2] ?? "1") ?? 1)) },
            activities: planned,
            kpis: result[3].map { kpi in
                PlanTemplate.KPI(name: kpi[0] ?? "", unit: kpi[1], direction: kpi[2] ?? "higher_better",
                                 baseline: TemplateDecimal(kpi[3].flatMap { ExactDecimal($0) } ?? .zero),
                                 target: TemplateDecimal(kpi[4].flatMap { ExactDecimal($0) } ?? .zero),
                                 weight: TemplateDecimal(ExactDecimal(kpi[5] ?? "1") ?? 1))
            })
        try template.check()
        return template
    }

    /// A new project from the template `name`: its dates from `start`, its activities' budgets
    /// shared exactly from `budget`, its goals and KPIs, written in one transaction through the
    /// same planner as the plan import (so the write policy holds: only office and hub nodes,
    /// or a writer of theirs, create a plan).
    @discardableResult
    public func instantiateTemplate(_ name: String, code: String, projectName: String, department: String, start: CalendarDate,
                                    budget: ExactDecimal, as writer: WriterIdentity? = nil) throws -> TemplateInstance {
        let template = try self.template(named: name).template
        guard !budget.isNegative else { throw NodeError(.usage, "--budget \(budget) is negative") }
        if let existing = try? findProject(code), existing.code.lowercased() == code.lowercased() {
            throw NodeError(.usage, "project \(existing.code) already exists (\(existing.name)); codes are unique")
        }
        let amounts = try PlanTemplate.allocate(budget, shares: template.activities.map(\.budgetShare.value))
        let finish = start.adding(days: template.finishDay)
        let planner = try self.planner(as: writer)
        let projectID = try store.writeLocally { (session: LocalWriteSession) -> String in
            func write(_ collection: String, _ fields: [String]) throws -> String {
                try Node.upsert(collection, id: nil, fields, planner: planner, in: session).id
            }
            let project = try write("project", ["code=\(code)", "name=\(projectName)", "department=\(department)", "budget=\(budget)",
                                                "planned_start=\(start)", "planned_finish=\(finish)", "stage=initiation"])
            var goalIDs: [String: String] = [:]
            for goal in template.goalsParentsFirst {
                var fields = ["project=\(project)", "title=\(goal.title)", "weight=\(goal.weight)"]
                if let parent = goal.parent, let id = goalIDs[parent.lowercased()] { fields.append("parent=\(id)") }
                goalIDs[goal.title.lowercased()] = try write("goal", fields)
            }
            for (activity, amount) in zip(template.activities, amounts) {
                var fields = ["project=\(project)", "name=\(activity.name)", "budget=\(amount)", "ev_method=\(activity.evMethod)",
                              "planned_start=\(start.adding(days: activity.startDay))", "planned_finish=\(start.adding(days: activity.finishDay))",
                              "status=not_started"]
                if let unit = activity.unit { fields.append("unit=\(unit)") }
                if let quantity = activity.quantity { fields.append("budget_quantity=\(quantity)") }
                if let goal = activity.goal, let id = goalIDs[goal.lowercased()] { fields.append("goal=\(id)") }
                _ = try write("activity", fields)
            }
            for kpi in template.kpis {
                var fields = ["project=\(project)", "name=\(kpi.name)", "direction=\(kpi.direction)", "baseline=\(kpi.baseline)",
                              "target=\(kpi.target)", "weight=\(kpi.weight)"]
                if let unit = kpi.unit { fields.append("unit=\(unit)") }
                _ = try write("kpi", fields)
            }
            return project
        }
        return TemplateInstance(projectID: projectID, code: code, goals: template.goals.count, activities: template.activities.count,
                                kpis: template.kpis.count, finish: finish)
    }
}

fileprivate extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
