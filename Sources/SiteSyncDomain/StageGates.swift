import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncStore

/// One proposal to move a project through a stage gate, and the office's decision on it
/// (a `stage_transition` record, docs/design.md §14).
public struct StageTransition: Sendable, Equatable {
    public let id: String
    public let project: String
    public let from: String?
    public let to: String
    public let attempt: Int
    public let proposedBy: String
    public let proposedAt: String
    public let note: String?
    /// `approved`, `returned`, or `nil` while it waits for the office.
    public let decision: String?
    public let decidedBy: String?
    public let decidedAt: String?
    public let reason: String?
    /// Undecided, but its project already stands at or beyond `to`, or a later attempt of the
    /// same gate was approved: the office moved the stage directly (`record put project ID
    /// stage=…`, a correction without the gate), so nobody waits for this proposal any more.
    public let isOvertaken: Bool

    /// Undecided, and its project not yet at the stage it proposes: the office's to decide.
    public var isWaiting: Bool { decision == nil && !isOvertaken }

    public var json: JSONValue {
        func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
        return .object([
            "id": .string(id), "project": .string(project), "from": optional(from), "to": .string(to),
            "attempt": .number(String(attempt)), "proposed_by": .string(proposedBy), "proposed_at": .string(proposedAt),
            "note": optional(note), "decision": optional(decision), "decided_by": optional(decidedBy),
            "decided_at": optional(decidedAt), "reason": optional(reason),
        ])
    }
}

/// Stage gates: 立项 initiation → 执行 execution → 验收 acceptance → 复盘 review (then closed,
/// archived). A department node proposes the next stage once the gate's criteria hold here; an
/// office or the hub approves (which sets `project.stage`, and on entering execution freezes
/// baseline 1) or returns it with a reason. Every step is a replicated record, so a proposal
/// made offline waits, visible in `sitesync status`, until the decision comes back.
public enum StageGates {
    public static let stages = Schema.projectStages

    /// The stage after `stage` (`nil`: archived, the last).
    public static func next(after stage: String) -> String? {
        guard let index = stages.firstIndex(of: stage), index + 1 < stages.count else { return nil }
        return stages[index + 1]
    }

    /// The gate's criteria for entering `stage` that `project` does not meet, as this store
    /// holds it, one sentence each (empty: the gate may be proposed and approved).
    /// - Parameter riskHigh: probability × impact at and above which an open risk is high (the
    ///   reports' red, `[report] risk_high`).
    public static func unmetCriteria(_ store: ReplicaStore, project: String, entering stage: String, riskHigh: Int) throws -> [String] {
        let result = try store.rows([
            ("SELECT id, coalesce(name, id), planned_start, planned_finish, budget, status, actual_finish FROM activity WHERE project = ?1 ORDER BY id",
             [project]),
            ("SELECT coalesce(title, id), coalesce(probability, 0), coalesce(impact, 0) FROM risk WHERE project = ?1 AND coalesce(status, '') != 'closed' ORDER BY id",
             [project]),
            ("SELECT DISTINCT c.activity FROM cost_entry c JOIN activity a ON a.id = c.activity WHERE a.project = ?1", [project]),
        ])
        let activities = result[0]
        switch stage {
        case "execution":
            guard !activities.isEmpty else { return ["the project has no activities: plan them first (`sitesync activity add`, `sitesync import plan`)"] }
            return activities.compactMap { row in
                let missing = [("planned start", row[2]), ("planned finish", row[3]), ("budget", row[4])].filter { $0.1 == nil }.map(\.0)
                return missing.isEmpty ? nil : "activity \(row[1]!) has no \(missing.joined(separator: ", "))"
            }
        case "acceptance":
            var unmet = activities.compactMap { row -> String? in
                let status = row[5] ?? "not_started"
                return status == "completed" || status == "accepted" ? nil : "activity \(row[1]!) is \(status.replacingOccurrences(of: "_", with: " ")), not finished"
            }
            for risk in result[1] {
                let probability = Int(risk[1]!) ?? 0, impact = Int(risk[2]!) ?? 0
                if probability * impact >= riskHigh {
                    unmet.append("open risk \"\(risk[0]!)\" is high: probability \(probability) × impact \(impact) = \(probability * impact) "
                                 + "(high from \(riskHigh)); close or mitigate it first")
                }
            }
            return unmet
        case "review":
            let costed = Set(result[2].compactMap { $0[0] })
            return activities.compactMap { row in
                var missing: [String] = []
                if let budget = row[4].flatMap(ExactDecimal.init), budget > .zero, !costed.contains(row[0]!) { missing.append("no cost recorded") }
                if row[6] == nil { missing.append("no actual finish") }
                return missing.isEmpty ? nil : "activity \(row[1]!): \(missing.joined(separator: ", ")) (the final costs are recorded before review)"
            }
        default:
            return []
        }
    }

    /// Every transition of `project` (every project's when `nil`), oldest first.
    public static func transitions(_ store: ReplicaStore, project: String? = nil) throws -> [StageTransition] {
        let filter = project == nil ? "" : "WHERE t.project = ?1"
        let rows = try store.rows([("""
            SELECT t.id, t.project, t.from_stage, t.to_stage, t.attempt, t.proposed_by, t.proposed_at, t.note, t.decision, t.decided_by,
                   t.decided_at, t.reason, coalesce(p.stage, 'initiation')
            FROM stage_transition t LEFT JOIN project p ON p.id = t.project \(filter) ORDER BY t.proposed_at, t.id
            """, project.map { [$0] } ?? [])])[0]
        // An approved later attempt of the same gate overtakes an undecided earlier one, even once a
        // correction has moved the project back below the gate.
        var approvedAttempts: [String: Int] = [:]
        for row in rows where row[8] == "approved" {
            let gate = (row[1] ?? "") + "\u{0}" + (row[3] ?? "")
            approvedAttempts[gate] = max(approvedAttempts[gate] ?? 0, row[4].flatMap { Int($0) } ?? 0)
        }
        return rows.map { row in
            let to = row[3] ?? "", attempt = row[4].flatMap { Int($0) } ?? 1
            let reached = (stages.firstIndex(of: row[12] ?? "") ?? 0) >= (stages.firstIndex(of: to) ?? Int.max)
            let passedLater = (approvedAttempts[(row[1] ?? "") + "\u{0}" + to] ?? 0) > attempt
            return StageTransition(id: row[0]!, project: row[1] ?? "", from: row[2], to: to, attempt: attempt,
                                   proposedBy: row[5] ?? "", proposedAt: row[6] ?? "", note: row[7], decision: row[8], decidedBy: row[9],
                                   decidedAt: row[10], reason: row[11], isOvertaken: row[8] == nil && (reached || passedLater))
        }
    }

    /// The proposals this node holds that wait for the office's decision (`sitesync status`).
    public static func waiting(_ store: ReplicaStore) throws -> [StageTransition] {
        try transitions(store).filter(\.isWaiting)
    }

    /// A moment as ISO 8601 UTC, to the second.
    static func timestamp(_ node: Node, now: UInt64?) -> String {
        SyncFactsJSON.timestamp(milliseconds: now ?? node.store.wallClock())
    }

    static func stage(_ store: ReplicaStore, project: String) throws -> String {
        try store.rows([("SELECT stage FROM project WHERE id = ?1", [project])])[0].first?[0].flatMap { $0 } ?? "initiation"
    }

    /// Proposes that `project` enter `stage`, at a department node (or an office or the hub):
    /// the next stage only, once its criteria hold here, and not while another proposal of the
    /// project waits. Written offline like any record; it waits until the office decides.
    @discardableResult
    public static func propose(node: Node, project text: String, stage: String, note: String? = nil,
                               now: UInt64? = nil) throws -> StageTransition {
        guard node.writer.role != .field, node.writer.role != .auditor else {
            throw NodeError(.usage, "this \(node.writer.role.rawValue) node cannot propose a stage: a department node proposes it "
                            + "(`sitesync project propose`), and the central office approves it")
        }
        let project = try node.findProject(text)
        let current = try Self.stage(node.store, project: project.id)
        guard stages.contains(stage) else {
            throw NodeError(.usage, "'\(stage)' is not a stage: write one of \(stages.joined(separator: ", "))")
        }
        guard next(after: current) == stage else {
            throw NodeError(.usage, "project \(project.code) is in \(current): a project moves one gate at a time, "
                            + (next(after: current).map { "so the next stage to propose is \($0)" } ?? "and archived is the last stage"))
        }
        let all = try transitions(node.store, project: project.id)
        if let open = all.first(where: \.isWaiting) {
            throw NodeError(.usage, "project \(project.code) already has a proposal waiting: \(open.to), proposed by \(open.proposedBy) "
                            + "at \(open.proposedAt); the central office approves or returns it (`sitesync project stages \(project.code)`)")
        }
        let unmet = try unmetCriteria(node.store, project: project.id, entering: stage, riskHigh: node.configuration.report.riskHigh)
        guard unmet.isEmpty else {
            throw NodeError(.usage, "project \(project.code) does not meet the \(stage) gate yet:\n"
                            + unmet.map { "  - \($0)" }.joined(separator: "\n") + "\nnothing was proposed")
        }
        let attempt = all.filter { $0.to == stage }.count + 1
        var fields = ["project=\(project.id)", "to_stage=\(stage)", "attempt=\(attempt)", "from_stage=\(current)",
                      "proposed_by=\(node.configuration.name)", "proposed_at=\(timestamp(node, now: now))"]
        if let note { fields.append("note=\(note)") }
        let written = try node.writeEntry("stage_transition", fields)
        return try transitions(node.store, project: project.id).first { $0.id == written.id }!
    }

    /// The proposal of `project` that waits for a decision, at an office or the hub.
    static func waitingProposal(node: Node, project: (id: String, code: String, name: String), act: String) throws -> StageTransition {
        guard node.writer.role.writesPlan else {
            throw NodeError(.usage, "this \(node.writer.role.rawValue) node cannot \(act) a stage proposal: the central office (an office "
                            + "node) or the hub decides, and the decision reaches this node when it syncs")
        }
        let current = try stage(node.store, project: project.id)
        let waiting = try transitions(node.store, project: project.id).filter(\.isWaiting)
        guard let proposal = waiting.first(where: { $0.to == next(after: current) }) else {
            throw NodeError(.usage, "project \(project.code) (in \(current)) has no proposal waiting"
                            + (waiting.isEmpty ? "" : " for the next stage; waiting: \(waiting.map(\.to).joined(separator: ", "))")
                            + ": a department node proposes first (`sitesync project propose \(project.code) --stage STAGE`); sync to receive it")
        }
        return proposal
    }

    /// Approves the waiting proposal of `project`, at an office or the hub, in one durable
    /// transaction: the decision, `project.stage`, and, on entering execution, baseline 1 of
    /// the plan as it stands here. The criteria are checked again on this node's data first.
    /// - Parameter reason: what the office says with its approval (optional; a return always
    ///   says why).
    @discardableResult
    public static func approve(node: Node, project text: String, reason: String? = nil, today: CalendarDate, now: UInt64? = nil)
        throws -> (transition: StageTransition, baseline: Baseline?) {
        let project = try node.findProject(text)
        let proposal = try waitingProposal(node: node, project: project, act: "approve")
        let unmet = try unmetCriteria(node.store, project: project.id, entering: proposal.to, riskHigh: node.configuration.report.riskHigh)
        guard unmet.isEmpty else {
            throw NodeError(.usage, "project \(project.code) does not meet the \(proposal.to) gate on this node's data:\n"
                            + unmet.map { "  - \($0)" }.joined(separator: "\n")
                            + "\nnothing was approved; sync for the sites' latest, or return it (`sitesync project return \(project.code) --reason TEXT`)")
        }
        let stamp = timestamp(node, now: now)
        let held = try Baselines.list(node.store, project: project.id)
        let takesBaseline = proposal.to == "execution" && held.isEmpty
        let plan = takesBaseline ? try Baselines.currentPlan(node.store, project: project.id) : []
        let planner = node.planner, name = node.configuration.name
        let said = (reason?.trimmingCharacters(in: .whitespacesAndNewlines)).flatMap { $0.isEmpty ? nil : $0 }
        try node.store.writeLocally { session in
            _ = try Node.upsert("stage_transition", id: proposal.id,
                                ["decision=approved", "decided_by=\(name)", "decided_at=\(stamp)"] + (said.map { ["reason=\($0)"] } ?? []),
                                planner: planner, in: session)
            _ = try Node.upsert("project", id: project.id, ["stage=\(proposal.to)"], planner: planner, in: session)
            if takesBaseline {
                try Baselines.write(project: project.id, number: 1, reason: "entered execution (approved proposal of \(proposal.proposedBy))",
                                    takenOn: today, takenBy: name, plan: plan, planner: planner, in: session)
            }
        }
        let decided = try transitions(node.store, project: project.id).first { $0.id == proposal.id }!
        return (decided, takesBaseline ? try Baselines.list(node.store, project: project.id).first : nil)
    }

    /// Returns the waiting proposal of `project` to its department with `reason`, at an office
    /// or the hub; the project stays where it is, and the department may propose again.
    @discardableResult
    public static func returnProposal(node: Node, project text: String, reason: String, now: UInt64? = nil) throws -> StageTransition {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw NodeError(.usage, "a returned proposal says why: give --reason TEXT") }
        let project = try node.findProject(text)
        let proposal = try waitingProposal(node: node, project: project, act: "return")
        try node.writeEntry("stage_transition", id: proposal.id, ["decision=returned", "decided_by=\(node.configuration.name)",
                                                                  "decided_at=\(timestamp(node, now: now))", "reason=\(reason)"])
        return try transitions(node.store, project: project.id).first { $0.id == proposal.id }!
    }
}

extension StageGates {
    /// The note of a transition that records a stage set directly rather than through a gate.
    public static let directMoveNote = "set directly with `record put`: a correction, no gate checked"

    /// A `record put` of a project, with its stage move recorded. At an office or the hub a
    /// write that moves an existing project's stage (a correction without the gate) also writes,
    /// in the same transaction, a transition proposed and approved by this node at once, so that
    /// `stage list` shows every move with who and when (docs/design.md §14). Anywhere else, or
    /// when the stage does not move, it is the plain write (a department's or a site's write of
    /// the stage is refused there as a plan field).
    /// - Returns: the change written (`nil`: the record already held these values).
    public static func putProject(node: Node, id: String?, assignments: [FieldAssignment], now: UInt64? = nil) throws -> Change? {
        let planner = node.planner
        let moved: String? = assignments.last { $0.field == "stage" && $0.operation == .set }.flatMap {
            if case .text(let stage) = $0.input, !stage.isEmpty { return stage } else { return nil }
        }
        let before = moved == nil ? nil : try id.flatMap { id in
            try node.store.rows([("SELECT coalesce(stage, 'initiation') FROM project WHERE id = ?1", [id])])[0].first?[0] ?? nil
        }
        guard node.writer.role.writesPlan, let id, let moved, let before, moved != before else {
            return try node.store.write { reader in try planner.planUpsert(collection: "project", id: id, assignments: assignments, reader: reader) }
        }
        let attempt = try transitions(node.store, project: id).filter { $0.to == moved }.count + 1
        let stamp = timestamp(node, now: now), name = node.configuration.name
        return try node.store.writeLocally { session in
            let change = try session.write { reader in
                try planner.planUpsert(collection: "project", id: id, assignments: assignments, reader: reader)
            }
            _ = try Node.upsert("stage_transition", id: nil, [
                "project=\(id)", "to_stage=\(moved)", "attempt=\(attempt)", "from_stage=\(before)", "proposed_by=\(name)",
                "proposed_at=\(stamp)", "note=\(directMoveNote)", "decision=approved", "decided_by=\(name)", "decided_at=\(stamp)",
            ], planner: planner, in: session)
            return change
        }
    }
}

/// A project's plan frozen: its activities' planned dates and budgets (a `baseline` record).
public struct Baseline: Sendable, Equatable {
    /// One activity as frozen.
    public struct Activity: Codable, Sendable, Equatable {
        public let id: String
        public let name: String
        public let plannedStart: String?
        public let plannedFinish: String?
        public let budget: String?

        enum CodingKeys: String, CodingKey {
            case id, name, budget
            case plannedStart = "planned_start", plannedFinish = "planned_finish"
        }
    }

    public let project: String
    public let number: Int
    public let reason: String
    public let takenOn: String
    public let takenBy: String
    public let plan: [Activity]

    public var json: JSONValue {
        .object(["project": .string(project), "number": .number(String(number)), "reason": .string(reason),
                 "taken_on": .string(takenOn), "taken_by": .string(takenBy), "activities": .number(String(plan.count))])
    }
}

/// The variance of a project's plan as it stands against one of its baselines.
public struct PlanVariance: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
        public let activity: String
        public let name: String
        /// Days later (positive) or earlier than the baseline; `nil` where either date is missing.
        public let startDays: Int?
        public let finishDays: Int?
        /// Budget now minus the baseline's (`nil` where either is missing).
        public let budget: ExactDecimal?
        /// `added` (not in the baseline), `removed` (in it, not in the plan now), or `nil`.
        public let change: String?
    }

    public let baseline: Baseline
    public let lines: [Line]
    /// The plan's total budget now minus the baseline's.
    public let budget: ExactDecimal
    /// The project's last planned finish now minus the baseline's, in days.
    public let finishDays: Int?

    /// As `GET /api/v1/projects/{code}/stages` gives it: against which baseline, the totals,
    /// then each activity's days later (positive) or earlier and its budget's change.
    public var json: JSONValue {
        func days(_ value: Int?) -> JSONValue { value.map { .int(Int64($0)) } ?? .null }
        return .object([
            "baseline": .int(Int64(baseline.number)), "budget": .string(budget.description), "finish_days": days(finishDays),
            "lines": .array(lines.map { line in
                .object(["activity": .string(line.activity), "name": .string(line.name), "start_days": days(line.startDays),
                         "finish_days": days(line.finishDays), "budget": line.budget.map { .string($0.description) } ?? .null,
                         "change": line.change.map(JSONValue.string) ?? .null])
            }),
        ])
    }
}

/// Baselines: a project's plan frozen when it enters execution (baseline 1), and at each
/// re-baseline, an office act with a reason (n + 1). The history is kept; variance is shown
/// against the latest (current) or the first (original).
public enum Baselines {
    /// A project's baselines, latest first.
    public static func list(_ store: ReplicaStore, project: String) throws -> [Baseline] {
        let rows = try store.rows([("SELECT number, reason, taken_on, taken_by, plan FROM baseline WHERE project = ?1 ORDER BY number DESC",
                                    [project])])[0]
        let decoder = JSONDecoder()
        return try rows.map { row in
            guard let plan = try? decoder.decode([Baseline.Activity].self, from: Data((row[4] ?? "").utf8)) else {
                throw NodeError(.usage, "baseline \(row[0] ?? "?") of project \(project) held here is damaged; run `sitesync audit verify`")
            }
            return Baseline(project: project, number: row[0].flatMap { Int($0) } ?? 0, reason: row[1] ?? "", takenOn: row[2] ?? "",
                            takenBy: row[3] ?? "", plan: plan)
        }
    }

    /// The project's activities' planned dates and budgets as they stand here, by id.
    static func currentPlan(_ store: ReplicaStore, project: String) throws -> [Baseline.Activity] {
        try store.rows([("SELECT id, coalesce(name, ''), planned_start, planned_finish, budget FROM activity WHERE project = ?1 ORDER BY id",
                         [project])])[0].map { Baseline.Activity(id: $0[0]!, name: $0[1]!, plannedStart: $0[2], plannedFinish: $0[3], budget: $0[4]) }
    }

    /// The frozen plan as canonical JSON text: keys sorted, activities by id, no insignificant space.
    static func canonical(_ plan: [Baseline.Activity]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(plan.sorted { $0.id < $1.id }), as: UTF8.self)
    }

    static func write(project: String, number: Int, reason: String, takenOn: CalendarDate, takenBy: String, plan: [Baseline.Activity],
                      planner: LocalWritePlanner, in session: LocalWriteSession) throws {
        _ = try Node.upsert("baseline", id: nil, ["project=\(project)", "number=\(number)", "reason=\(reason)", "taken_on=\(takenOn)",
                                                  "taken_by=\(takenBy)", "plan=\(try canonical(plan))"], planner: planner, in: session)
    }

    /// Takes baseline n + 1 of `project` from its plan as it stands here: an office act, with a
    /// reason, once the project has entered execution. A project the office moved into
    /// execution directly (`record put project ID stage=execution`, no gate, so no baseline 1)
    /// takes its baseline 1 here, so its variance can be shown at all.
    @discardableResult
    public static func rebaseline(node: Node, project text: String, reason: String, today: CalendarDate) throws -> Baseline {
        guard node.writer.role.writesPlan else {
            throw NodeError(.usage, "this \(node.writer.role.rawValue) node cannot re-baseline: a re-baseline is the central office's act "
                            + "(an office node or the hub)")
        }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw NodeError(.usage, "a re-baseline says why: give --reason TEXT") }
        let project = try node.findProject(text)
        let latest = try list(node.store, project: project.id).first
        let stage = try StageGates.stage(node.store, project: project.id)
        if latest == nil, (StageGates.stages.firstIndex(of: stage) ?? 0) < (StageGates.stages.firstIndex(of: "execution") ?? 1) {
            throw NodeError(.usage, "project \(project.code) has no baseline yet: baseline 1 is taken when it enters execution "
                            + "(`sitesync project approve` of its execution proposal)")
        }
        let plan = try currentPlan(node.store, project: project.id)
        let planner = node.planner, name = node.configuration.name
        try node.store.writeLocally { session in
            try write(project: project.id, number: (latest?.number ?? 0) + 1, reason: reason, takenOn: today, takenBy: name, plan: plan,
                      planner: planner, in: session)
        }
        return try list(node.store, project: project.id).first!
    }

    /// The plan as it stands against baseline `number` (the latest when `nil`; `nil` when the
    /// project has no baseline).
    public static func variance(_ store: ReplicaStore, project: String, against number: Int? = nil) throws -> PlanVariance? {
        let all = try list(store, project: project)
        guard let baseline = number.map({ number in all.first { $0.number == number } }) ?? all.first else { return nil }
        let now = try currentPlan(store, project: project)
        let frozen = Dictionary(baseline.plan.map { ($0.id, $0) }) { a, _ in a }
        let ids = Set(now.map(\.id))
        func days(_ from: String?, _ to: String?) -> Int? {
            guard let from = from.flatMap(CalendarDate.init), let to = to.flatMap(CalendarDate.init) else { return nil }
            return to.daysSinceEpoch - from.daysSinceEpoch
        }
        func amount(_ text: String?) -> ExactDecimal? { text.flatMap(ExactDecimal.init) }
        var lines: [PlanVariance.Line] = now.map { activity in
            guard let old = frozen[activity.id] else {
                return .init(activity: activity.id, name: activity.name, startDays: nil, finishDays: nil, budget: amount(activity.budget),
                             change: "added")
            }
            let budget = amount(activity.budget).flatMap { new in amount(old.budget).flatMap { try? new.minus($0) } }
            return .init(activity: activity.id, name: activity.name, startDays: days(old.plannedStart, activity.plannedStart),
                         finishDays: days(old.plannedFinish, activity.plannedFinish), budget: budget, change: nil)
        }
        for old in baseline.plan where !ids.contains(old.id) {
            lines.append(.init(activity: old.id, name: old.name, startDays: nil, finishDays: nil,
                               budget: amount(old.budget).flatMap { try? ExactDecimal.zero.minus($0) }, change: "removed"))
        }
        func total(_ plan: [Baseline.Activity]) throws -> ExactDecimal {
            try plan.compactMap { amount($0.budget) }.reduce(ExactDecimal.zero) { try $0.plus($1) }
        }
        let lastFinish = { (plan: [Baseline.Activity]) in plan.compactMap(\.plannedFinish).max() }
        return PlanVariance(baseline: baseline, lines: lines, budget: try total(now).minus(total(baseline.plan)),
                            finishDays: days(lastFinish(baseline.plan), lastFinish(now)))
    }
}
