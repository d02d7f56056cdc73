import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore
import SiteSyncTestSupport
import Testing

/// Stage gates and baselines (issue 19, items 3 and 4; docs/design.md §14): a department node
/// proposes the next stage once the gate's criteria hold, the office approves or returns it,
/// every step replicates, and entering execution freezes the plan as baseline 1.
@Suite struct StageGateTests {
    typealias T = ReportDeterminismTests
    static let today = CalendarDate("2026-12-15")!

    /// A hub and an office with the plan of ``ReportDeterminismTests/seedPlan(hub:office:)``
    /// (R-101: activities a1 and a2, each with dates and a budget), and a department node of
    /// roads that holds it.
    static func city(_ root: TemporaryDirectory, departments: [String] = ["dept"]) throws -> (hub: Node, office: Node, departments: [Node]) {
        let hub = try T.node(root, "hub", .hub), office = try T.node(root, "office", .office)
        try T.seedPlan(hub: hub, office: office)
        try T.send(from: office, to: hub)
        let nodes = try departments.map { name in
            let node = try T.node(root, name, .department)
            try T.send(from: hub, to: node)
            return node
        }
        return (hub, office, nodes)
    }

    static func stage(_ node: Node, _ project: String) throws -> String? {
        try node.store.rows([("SELECT stage FROM project WHERE id = ?1", [project])])[0].first?[0].flatMap { $0 }
    }

    static func refusal(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "" } catch { return "\(error)" }
    }

    @Test func aGateRefusesWithItsUnmetCriteriaListed() throws {
        let root = TemporaryDirectory()
        let (hub, _, departments) = try Self.city(root)
        let dept = departments[0]
        try hub.writeEntry("project", id: "p3", ["code=R-103", "name=Culvert", "department=roads", "budget=90000"])
        try T.send(from: hub, to: dept)
        #expect(Self.refusal { try StageGates.propose(node: dept, project: "R-103", stage: "execution") }.contains("has no activities"))
        try hub.writeEntry("activity", id: "a9", ["project=p3", "name=Pipes", "planned_start=2026-10-01", "ev_method=manual"])
        try T.send(from: hub, to: dept)
        let unmet = Self.refusal { try StageGates.propose(node: dept, project: "R-103", stage: "execution") }
        #expect(unmet.contains("activity Pipes has no planned finish, budget"), "\(unmet)")
        #expect(unmet.contains("nothing was proposed"))
        // One gate at a time.
        #expect(Self.refusal { try StageGates.propose(node: dept, project: "R-101", stage: "acceptance") }.contains("one gate at a time"))
        #expect(try StageGates.transitions(dept.store).isEmpty, "a refused proposal writes nothing")

        // Acceptance: every activity finished, and no open high risk (16 and up by default).
        try hub.writeEntry("project", id: "p1", ["stage=execution"])
        try hub.writeEntry("risk", id: "r1", ["project=p1", "title=Flood", "probability=4", "impact=4", "raised_on=2026-11-02"])
        try hub.writeEntry("risk", id: "r2", ["project=p1", "title=Dust", "probability=3", "impact=5", "raised_on=2026-11-02"])
        try T.send(from: hub, to: dept)
        let acceptance = Self.refusal { try StageGates.propose(node: dept, project: "R-101", stage: "acceptance") }
        #expect(acceptance.contains("activity Earthworks is not started, not finished"), "\(acceptance)")
        #expect(acceptance.contains("open risk \"Flood\" is high: probability 4 × impact 4 = 16"))
        #expect(!acceptance.contains("Dust"), "15 is below the reports' high (16)")

        // Review: the final costs, and the actual finish.
        for (id, start) in [("a1", "2026-09-02"), ("a2", "2026-10-02")] {
            try dept.writeEntry("activity", id: id, ["status=completed", "actual_start=\(start)", "actual_finish=2026-11-30"])
        }
        try dept.writeEntry("risk", id: "r1", ["status=closed", "closed_on=2026-12-01"])
        try dept.writeEntry("cost_entry", ["activity=a1", "date=2026-11-30", "amount=290000"])
        try dept.writeEntry("project", id: "p1", ["remarks=done"])
        #expect(try StageGates.unmetCriteria(dept.store, project: "p1", entering: "acceptance", riskHigh: 16).isEmpty)
        #expect(try StageGates.unmetCriteria(dept.store, project: "p1", entering: "review", riskHigh: 16)
                == ["activity Kerbs: no cost recorded (the final costs are recorded before review)"])
    }

    @Test func aProposalMadeOfflineWaitsUntilTheHubApprovesItAndTheApprovalReplicatesBack() throws {
        let root = TemporaryDirectory()
        let (hub, _, departments) = try Self.city(root)
        let dept = departments[0]
        let proposal = try StageGates.propose(node: dept, project: "R-101", stage: "execution", note: "design signed off")
        #expect(proposal.isWaiting && proposal.from == "initiation" && proposal.attempt == 1 && proposal.proposedBy == "dept")
        #expect(try dept.status().stageProposalsWaiting == 1, "waits, visible in status, while offline")
        #expect(Self.refusal { try StageGates.propose(node: dept, project: "R-101", stage: "execution") }.contains("already has a proposal waiting"))
        #expect(try Self.stage(dept, "p1") == nil, "a proposal does not move the stage")

        try T.send(from: dept, to: hub)
        #expect(try hub.status().stageProposalsWaiting == 1)
        let (decided, baseline) = try StageGates.approve(node: hub, project: "R-101", today: Self.today)
        #expect(decided.decision == "approved" && decided.decidedBy == "hub")
        #expect(try Self.stage(hub, "p1") == "execution")
        #expect(baseline?.number == 1 && baseline?.takenBy == "hub" && baseline?.takenOn == "2026-12-15")

        try T.send(from: hub, to: dept)
        #expect(try Self.stage(dept, "p1") == "execution")
        #expect(try dept.status().stageProposalsWaiting == 0)
        let back = try #require(try StageGates.transitions(dept.store, project: "p1").first)
        #expect(back.decision == "approved" && back.decidedBy == "hub" && back.note == "design signed off")
        // Baseline 1 froze the plan as it stood, and reached the department.
        let frozen = try #require(try Baselines.list(dept.store, project: "p1").first)
        #expect(frozen.plan == [
            Baseline.Activity(id: "a1", name: "Earthworks", plannedStart: "2026-09-01", plannedFinish: "2026-12-31", budget: "300000"),
            Baseline.Activity(id: "a2", name: "Kerbs", plannedStart: "2026-10-01", plannedFinish: "2026-11-30", budget: "100000.1"),
        ])
        // Reports group by stage.
        let report = try ReportText.projects(try Reports.projects(dept, asOf: Self.today).rows, asOf: Self.today, scope: nil, format: .table)
        #expect(report.contains("by stage: initiation 1, execution 1"), "\(report)")
    }

    @Test func aReturnCarriesItsReasonAndTheNextProposalIsTheNextAttempt() throws {
        let root = TemporaryDirectory()
        let (hub, office, departments) = try Self.city(root)
        let dept = departments[0]
        try StageGates.propose(node: dept, project: "R-101", stage: "execution")
        try T.send(from: dept, to: hub)
        try T.send(from: hub, to: office)
        #expect(Self.refusal { try StageGates.returnProposal(node: office, project: "R-101", reason: "  ") }.contains("--reason"))
        let returned = try StageGates.returnProposal(node: office, project: "R-101", reason: "drainage budget missing")
        #expect(returned.decision == "returned" && returned.decidedBy == "office")
        try T.send(from: office, to: hub)
        try T.send(from: hub, to: dept)
        #expect(try Self.stage(dept, "p1") == nil, "a returned proposal leaves the stage")
        #expect(try StageGates.transitions(dept.store, project: "p1").first?.reason == "drainage budget missing")
        #expect(try dept.status().stageProposalsWaiting == 0)
        #expect(try Baselines.list(dept.store, project: "p1").isEmpty, "no baseline without execution")

        let again = try StageGates.propose(node: dept, project: "R-101", stage: "execution")
        #expect(again.attempt == 2 && again.id != returned.id)
        #expect(try StageGates.transitions(dept.store, project: "p1").map(\.decision) == ["returned", nil])
    }

    @Test func aFieldNodeNeitherProposesNorDecides() throws {
        let root = TemporaryDirectory()
        let (hub, _, departments) = try Self.city(root)
        let dept = departments[0]
        let site = try T.node(root, "site", .field)
        try T.send(from: hub, to: site)
        #expect(Self.refusal { try StageGates.propose(node: site, project: "R-101", stage: "execution") }.contains("department node proposes"))
        #expect(throws: (any Error).self) {
            try site.writeEntry("stage_transition", ["project=p1", "to_stage=execution", "attempt=1", "proposed_by=site", "proposed_at=x"])
        }
        let proposal = try StageGates.propose(node: dept, project: "R-101", stage: "execution")
        try T.send(from: dept, to: site)
        for node in [site, dept] {
            #expect(Self.refusal { try StageGates.approve(node: node, project: "R-101", today: Self.today) }.contains("central office"))
            #expect(Self.refusal { try StageGates.returnProposal(node: node, project: "R-101", reason: "no") }.contains("central office"))
        }
        // Around the command, the write policy itself: a department writes no decision, at its
        // own node or at any receiver.
        #expect(throws: (any Error).self) { try dept.writeEntry("stage_transition", id: proposal.id, ["decision=approved"]) }
        let spec = try #require(Schema.siteSync.collection(named: "stage_transition"))
        let decision = try #require(spec.field(named: "decision"))
        #expect(WritePolicy.denial(.department, .update, spec, field: decision, value: .symbol("approved"))?.code == .approval)
        #expect(WritePolicy.denial(.field, .create, spec, field: spec.field(named: "note"))?.code == .approval)
        #expect(WritePolicy.denial(.office, .update, spec, field: decision, value: .symbol("approved")) == nil)
        #expect(WritePolicy.denial(.department, .create, spec, field: spec.field(named: "note")) == nil)
        #expect(WritePolicy.denial(.department, .delete, spec)?.code == .approval, "the history is the office's to delete")
        #expect(try StageGates.transitions(dept.store).map(\.decision) == [nil])
    }

    @Test func aRebaselineKeepsTheHistoryAndVarianceIsAgainstTheCurrentOrTheOriginal() throws {
        let root = TemporaryDirectory()
        let (hub, office, departments) = try Self.city(root)
        let dept = departments[0]
        #expect(Self.refusal { try Baselines.rebaseline(node: office, project: "R-101", reason: "x", today: Self.today) }
                .contains("no baseline yet"))
        try StageGates.propose(node: dept, project: "R-101", stage: "execution")
        try T.send(from: dept, to: hub)
        try StageGates.approve(node: hub, project: "R-101", today: Self.today)
        try T.send(from: hub, to: office)

        // The plan moves: Earthworks finishes 10 days later and costs 5,000 more; a new activity.
        try office.writeEntry("activity", id: "a1", ["planned_finish=2027-01-10", "budget=305000"])
        try office.writeEntry("activity", id: "a4", ["project=p1", "name=Signs", "budget=7000", "ev_method=manual",
                                                     "planned_start=2026-12-01", "planned_finish=2026-12-20"])
        let first = try #require(try Baselines.variance(office.store, project: "p1"))
        #expect(first.baseline.number == 1)
        let earthworks = try #require(first.lines.first { $0.activity == "a1" })
        #expect(earthworks.finishDays == 10 && earthworks.startDays == 0 && earthworks.budget == ExactDecimal(5000))
        #expect(first.lines.first { $0.activity == "a4" }?.change == "added")
        #expect(first.budget == ExactDecimal(12_000) && first.finishDays == 10)
        #expect(ReportText.variance(first).contains("budget +12000.00, last finish +10 days"))

        #expect(Self.refusal { try Baselines.rebaseline(node: dept, project: "R-101", reason: "x", today: Self.today) }.contains("central office"))
        #expect(Self.refusal { try Baselines.rebaseline(node: office, project: "R-101", reason: " ", today: Self.today) }.contains("--reason"))
        let second = try Baselines.rebaseline(node: office, project: "R-101", reason: "scope change of 2026-12-14", today: Self.today)
        #expect(second.number == 2 && second.plan.count == 3 && second.takenBy == "office")
        try T.send(from: office, to: hub)
        try T.send(from: hub, to: dept)
        #expect(try Baselines.list(dept.store, project: "p1").map(\.number) == [2, 1], "the history is kept, latest first")
        let current = try #require(try Baselines.variance(dept.store, project: "p1"))
        #expect(current.baseline.number == 2 && current.budget == .zero && current.lines.allSatisfy { $0.finishDays == 0 && $0.change == nil })
        let original = try #require(try Baselines.variance(dept.store, project: "p1", against: 1))
        #expect(original.finishDays == 10 && original.budget == ExactDecimal(12_000))
    }

    /// The office moves a project's stage directly (`record put project ID stage=…`, a
    /// correction without the gate, the one way around it: a department's own write of the stage
    /// is refused as a plan field). The move is recorded as a transition proposed and approved by
    /// the office at once. A proposal of that stage made meanwhile is overtaken: it waits
    /// for nobody, is not counted by `status` and does not block the next gate; and the project,
    /// which came into execution without baseline 1, takes it with `baseline set`.
    @Test func aStageSetDirectlyOvertakesItsProposalAndBaselineSetTakesBaselineOne() throws {
        let root = TemporaryDirectory()
        let (hub, _, departments) = try Self.city(root)
        let dept = departments[0]
        #expect(Self.refusal { try StageGates.putProject(node: dept, id: "p1", assignments: [FieldAssignment(parsing: "stage=execution")]) as Any }
                .contains("plan field"))
        try StageGates.propose(node: dept, project: "R-101", stage: "execution")
        try T.send(from: dept, to: hub)
        let put = try StageGates.putProject(node: hub, id: "p1", assignments: [FieldAssignment(parsing: "stage=execution"),
                                                                               FieldAssignment(parsing: "remarks=corrected")])
        let movedTo = try Self.stage(hub, "p1")
        #expect(put != nil && movedTo == "execution")
        #expect(try hub.status().stageProposalsWaiting == 0, "overtaken: nobody waits for it")
        let held = try StageGates.transitions(hub.store, project: "p1")
        // Within one second the two are listed by id: find each by who proposed it.
        let proposal = try #require(held.first { $0.proposedBy == "dept" }), direct = try #require(held.first { $0.proposedBy == "hub" })
        #expect(held.count == 2 && proposal.decision == nil && proposal.isOvertaken && !proposal.isWaiting)
        #expect(direct.to == "execution" && direct.from == "initiation" && direct.attempt == 2 && direct.decision == "approved"
                && direct.decidedBy == "hub" && direct.note == StageGates.directMoveNote, "the direct move is recorded with who and when: \(direct)")
        #expect(try StageGates.putProject(node: hub, id: "p1", assignments: [FieldAssignment(parsing: "stage=execution")]) == nil,
                "no move, nothing written")
        #expect(try StageGates.transitions(hub.store, project: "p1").count == 2)

        // Corrected back to initiation and forward again: the old proposal stays overtaken (a
        // later attempt of its gate passed), while a new one waits.
        try StageGates.putProject(node: hub, id: "p1", assignments: [FieldAssignment(parsing: "stage=initiation")])
        #expect(try hub.status().stageProposalsWaiting == 0 && StageGates.waiting(hub.store).isEmpty)
        try T.send(from: hub, to: dept)
        let again = try StageGates.propose(node: dept, project: "R-101", stage: "execution")
        #expect(again.attempt == 3 && again.isWaiting)
        try T.send(from: dept, to: hub)
        #expect(try hub.status().stageProposalsWaiting == 1 && StageGates.waiting(hub.store).map(\.attempt) == [3])
        try StageGates.putProject(node: hub, id: "p1", assignments: [FieldAssignment(parsing: "stage=execution")])
        #expect(try hub.status().stageProposalsWaiting == 0)
        #expect(Self.refusal { try StageGates.approve(node: hub, project: "R-101", today: Self.today) }.contains("no proposal waiting"))

        try T.send(from: hub, to: dept)
        #expect(try dept.status().stageProposalsWaiting == 0)
        let next = Self.refusal { try StageGates.propose(node: dept, project: "R-101", stage: "acceptance") }
        #expect(!next.contains("already has a proposal waiting") && next.contains("does not meet the acceptance gate"), "\(next)")

        #expect(try Baselines.list(hub.store, project: "p1").isEmpty, "a direct move takes no baseline")
        let first = try Baselines.rebaseline(node: hub, project: "R-101", reason: "entered execution by a correction", today: Self.today)
        #expect(first.number == 1 && first.plan.count == 2 && first.reason == "entered execution by a correction")
        #expect(try Baselines.variance(hub.store, project: "p1")?.baseline.number == 1)
    }

    /// Two department nodes propose the same gate offline: one record (its id is the natural
    /// key's), the same on every replica. An approval at the hub and a return at the office,
    /// concurrent, converge on the approval, which has moved the stage.
    @Test func concurrentProposalsAndDecisionsConverge() throws {
        let root = TemporaryDirectory()
        let (hub, office, departments) = try Self.city(root, departments: ["dept-a", "dept-b"])
        let (a, b) = (departments[0], departments[1])
        let first = try StageGates.propose(node: a, project: "R-101", stage: "execution", note: "from a")
        let second = try StageGates.propose(node: b, project: "R-101", stage: "execution", note: "from b")
        #expect(first.id == second.id, "the same gate and attempt is the same record")
        try T.send(from: a, to: hub)
        try T.send(from: b, to: hub)
        try T.send(from: hub, to: office)
        let merged = try StageGates.transitions(hub.store)
        #expect(merged.count == 1)

        try StageGates.approve(node: hub, project: "R-101", today: Self.today)
        try StageGates.returnProposal(node: office, project: "R-101", reason: "not yet")
        try T.send(from: office, to: hub)
        try T.send(from: hub, to: office)
        for node in [a, b] { try T.send(from: hub, to: node) }
        let digest = try hub.store.digest()
        for node in [office, a, b] {
            #expect(try node.store.digest() == digest, "\(node.configuration.name) converged")
            let transitions = try StageGates.transitions(node.store)
            #expect(transitions.count == 1 && transitions[0].decision == "approved")
            #expect(transitions[0].note == merged[0].note && transitions[0].proposedBy == merged[0].proposedBy)
            #expect(try Self.stage(node, "p1") == "execution")
        }
    }

    /// The links of the city: the hub with the office, and the hub with the department node.
    static func exchange(_ hub: Node, _ office: Node, _ dept: Node, rounds: Int, using random: inout SeededGenerator) throws {
        let links = [(hub, office), (office, hub), (hub, dept), (dept, hub)]
        for _ in 0..<rounds {
            let (from, to) = links[Int.random(in: 0..<links.count, using: &random)]
            try T.send(from: from, to: to)
        }
        for (from, to) in [(office, hub), (dept, hub), (hub, office), (hub, dept)] { try T.send(from: from, to: to) }
    }

    /// The open conflicts a replica shows, as (collection, record, field, winner), sorted.
    static func openConflicts(_ node: Node) throws -> [String] {
        try node.store.conflicts(status: "open", activeOnly: true)
            .map { "\($0.collection) \($0.recordID) \($0.field) \($0.winner.canonicalText)" }.sorted()
    }

    /// Law: a gate approved on one node while the plan is edited on another. The baseline is
    /// the plan the approving node held when it approved; the concurrent edit is never folded
    /// into it, lands in the plan on every replica, and shows as variance against baseline 1,
    /// the same everywhere, whatever order the changes travel in.
    @Test func aGateApprovedWhileThePlanIsEditedElsewhereConverges() async {
        await seededCheck(count: 6) { seed in
            var random = SeededGenerator(seed: seed)
            let root = TemporaryDirectory()
            let (hub, office, departments) = try Self.city(root)
            let dept = departments[0]
            try StageGates.propose(node: dept, project: "R-101", stage: "execution")
            try T.send(from: dept, to: hub)
            let approverIsHub = Bool.random(using: &random)
            let (approver, editor) = approverIsHub ? (hub, office) : (office, hub)
            if !approverIsHub { try T.send(from: hub, to: office) }
            let held = try Baselines.currentPlan(approver.store, project: "p1")

            // Concurrently: the approval at one plan-writing node, plan edits at the other, and a
            // site-side status at the department.
            try StageGates.approve(node: approver, project: "R-101", today: Self.today)
            let finishes = ["a1": "2027-01-", "a2": "2026-12-"]
            var shifts: [String: Int] = [:]
            for activity in ["a1", "a2"] where shifts.isEmpty || Bool.random(using: &random) {
                let days = Int.random(in: 1...28, using: &random)
                shifts[activity] = days
                let month = finishes[activity]!
                let budget = try #require(try editor.store.rows([("SELECT budget FROM activity WHERE id = ?1", [activity])])[0].first?[0] ?? nil)
                try editor.writeEntry("activity", id: activity, ["planned_finish=\(month)\(String(format: "%02d", days))",
                                                                 "budget=\(ExactDecimal(budget)!.adding(ExactDecimal(Int64(days * 1000)))!)"])
            }
            if Bool.random(using: &random) { try dept.writeEntry("activity", id: "a1", ["status=in_progress", "actual_start=2026-09-02"]) }
            try Self.exchange(hub, office, dept, rounds: Int.random(in: 0...6, using: &random), using: &random)

            let digest = try hub.store.digest()
            let variance = try #require(try Baselines.variance(hub.store, project: "p1", against: 1))
            for node in [hub, office, dept] {
                let name = node.configuration.name
                #expect(try node.store.digest() == digest, "seed \(seed): \(name) converged")
                #expect(try Self.stage(node, "p1") == "execution", "seed \(seed): \(name)")
                let baselines = try Baselines.list(node.store, project: "p1")
                #expect(baselines.count == 1 && baselines[0].plan == held, "seed \(seed): \(name) keeps the approver's plan as baseline 1")
                #expect(try Baselines.variance(node.store, project: "p1", against: 1) == variance, "seed \(seed): \(name)")
                #expect(try Self.openConflicts(node).isEmpty, "seed \(seed): \(name) nothing to resolve")
            }
            for line in variance.lines {
                let days = shifts[line.activity] ?? 0
                #expect(line.finishDays == days && line.budget == ExactDecimal(Int64(days * 1000)) && line.change == nil,
                        "seed \(seed): \(line.activity) moved \(days) days: \(line)")
            }
        }
    }

    /// Law: two offline re-baselines. The hub and an office, both holding baseline 1, each edit
    /// the plan and take baseline 2 without hearing of the other: one record (number 2 of the
    /// project), baseline 1 untouched, and where the two differ an open conflict of the
    /// immutable field, the same on every replica, with both plans kept in it: nothing is
    /// chosen silently.
    @Test func twoOfflineRebaselinesMeetAsOneRecordAndAnOpenConflict() async {
        await seededCheck(count: 6) { seed in
            var random = SeededGenerator(seed: seed)
            let root = TemporaryDirectory()
            let (hub, office, departments) = try Self.city(root)
            let dept = departments[0]
            try StageGates.propose(node: dept, project: "R-101", stage: "execution")
            try T.send(from: dept, to: hub)
            try StageGates.approve(node: hub, project: "R-101", today: Self.today)
            for node in [office, dept] { try T.send(from: hub, to: node) }
            let first = try Baselines.list(hub.store, project: "p1")

            let sameEdit = Bool.random(using: &random)
            let hubDays = Int.random(in: 1...28, using: &random)
            let officeDays = sameEdit ? hubDays : Int.random(in: 1...28, using: &random)
            try hub.writeEntry("activity", id: "a2", ["planned_finish=2026-12-\(String(format: "%02d", hubDays))"])
            try office.writeEntry("activity", id: "a2", ["planned_finish=2026-12-\(String(format: "%02d", officeDays))"])
            let fromHub = try Baselines.rebaseline(node: hub, project: "R-101", reason: "scope change", today: Self.today)
            let fromOffice = try Baselines.rebaseline(node: office, project: "R-101", reason: "scope change", today: Self.today)
            #expect(fromHub.number == 2 && fromOffice.number == 2)
            try Self.exchange(hub, office, dept, rounds: Int.random(in: 0...6, using: &random), using: &random)

            let digest = try hub.store.digest()
            let conflicts = try Self.openConflicts(hub)
            let planConflict = try hub.store.conflicts(status: "open", activeOnly: true).first { $0.collection == "baseline" && $0.field == "plan" }
            if hubDays == officeDays {
                #expect(planConflict == nil, "seed \(seed): the same plan frozen twice is no conflict")
            } else {
                let plans = Set((planConflict?.versions ?? []).map { $0.value.canonicalText })
                #expect(plans.count == 2, "seed \(seed): both plans are kept in the conflict: \(plans)")
            }
            for node in [hub, office, dept] {
                let name = node.configuration.name
                #expect(try node.store.digest() == digest, "seed \(seed): \(name) converged")
                let baselines = try Baselines.list(node.store, project: "p1")
                #expect(baselines.map(\.number) == [2, 1], "seed \(seed): \(name) holds one baseline 2")
                #expect(baselines.last == first.first, "seed \(seed): \(name) baseline 1 untouched")
                #expect(try Self.openConflicts(node) == conflicts, "seed \(seed): \(name) shows the same conflicts")
            }
        }
    }
}
