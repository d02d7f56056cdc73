import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncStore
import SiteSyncTestSupport
import Testing

/// Plan templates (模板库, docs/design.md §15): a project saved as a template and made again
/// from it keeps its shape — dates as days from the start, budgets as shares summing exactly
/// to the new total, the goal tree and the KPIs — and a template is plan data: it replicates,
/// and only the office and the hub write it.
@Suite struct TemplateTests {
    static let today = CalendarDate("2026-11-30")!
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func node(_ root: TemporaryDirectory, _ name: String, _ role: Role, _ department: String = "office") throws -> Node {
        try Node.initialize(at: root.path + "/" + name,
                            configuration: NodeConfiguration(name: name, department: department, role: role, durability: .off))
    }

    /// Everything `to` may receive that it lacks from `from`, cut for `to`'s scope as a hub cuts it.
    static func send(from: Node, to: Node) throws {
        let scope = ReplicationScope(role: to.writer.role, department: to.writer.department)
        let fromScope = ReplicationScope(role: from.writer.role, department: from.writer.department)
        let batch = try CheckedBatch(from.store.changes(lackedBy: to.store.knowledge(), scope: scope), schema: .siteSync)
        let vouched = KnowledgeClaim.vouched(senderKnowledge: try from.store.knowledge(), sender: from.store.identity.replica,
                                             senderScope: fromScope, cutFor: scope, receiverScope: scope)
        _ = try to.store.apply(batch, claim: .complete(vouched: vouched))
    }

    /// A hub holding project R-101: 1,000,000 over 2026-03-01…2026-06-30, three activities
    /// carrying the whole budget in thirds, a goal under another, and a KPI.
    static func hub(_ root: TemporaryDirectory) throws -> Node {
        let hub = try node(root, "hub", .hub)
        try hub.writeEntry("department", id: "roads", ["name=Roads"])
        try hub.writeEntry("project", id: "p1", ["code=R-101", "name=Ring road", "department=roads", "budget=1000000",
                                                 "planned_start=2026-03-01", "planned_finish=2026-06-30"])
        try hub.writeEntry("goal", id: "g1", ["project=p1", "title=Capacity", "weight=2"])
        try hub.writeEntry("goal", id: "g2", ["project=p1", "parent=g1", "title=Pavement", "weight=1.5"])
        try hub.writeEntry("activity", id: "a1", ["project=p1", "goal=g2", "name=Earthworks", "budget=333333.33", "budget_quantity=5000",
                                                  "unit=m3", "ev_method=units", "planned_start=2026-03-01", "planned_finish=2026-03-31"])
        try hub.writeEntry("activity", id: "a2", ["project=p1", "goal=g2", "name=Base", "budget=333333.33", "ev_method=manual",
                                                  "planned_start=2026-04-01", "planned_finish=2026-05-15"])
        try hub.writeEntry("activity", id: "a3", ["project=p1", "goal=g1", "name=Surfacing", "budget=333333.34", "ev_method=fifty_fifty",
                                                  "planned_start=2026-05-10", "planned_finish=2026-06-30"])
        try hub.writeEntry("kpi", id: "k1", ["project=p1", "name=Pass rate", "unit=%", "direction=higher_better", "baseline=90",
                                             "target=98", "weight=2"])
        return hub
    }

    static func decimal(_ text: String) -> ExactDecimal { ExactDecimal(text)! }

    /// The activities of the project coded `code`: name → (budget, start, finish, goal title).
    static func activities(_ node: Node, _ code: String) throws -> [String: [String]] {
        let rows = try node.store.rows([("""
            SELECT a.name, a.budget, a.planned_start, a.planned_finish, coalesce(g.title, ''), coalesce(a.unit, ''), coalesce(a.budget_quantity, ''),
                   a.ev_method
            FROM activity a JOIN project p ON p.id = a.project LEFT JOIN goal g ON g.id = a.goal WHERE p.code = ?1
            """, [code])])[0]
        return Dictionary(uniqueKeysWithValues: rows.map { ($0[0]!, Array($0.dropFirst().map { $0 ?? "" })) })
    }

    // MARK: - Save and make again

    @Test func aSavedTemplateKeepsDaysFromTheStartAndSharesOfTheTotal() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let template = try hub.templateOf(project: "R-101", name: "ring-road")
        #expect(template.finishDay == 121, "2026-03-01 to 2026-06-30")
        let byName = Dictionary(uniqueKeysWithValues: template.activities.map { ($0.name, $0) })
        #expect(template.activities.map(\.name) == ["Earthworks", "Base", "Surfacing"], "by start day")
        #expect(byName["Earthworks"].map { [$0.startDay, $0.finishDay] } == [0, 30])
        #expect(byName["Base"].map { [$0.startDay, $0.finishDay] } == [31, 75])
        #expect(byName["Surfacing"].map { [$0.startDay, $0.finishDay] } == [70, 121])
        #expect(template.activities.map(\.budgetShare.value) == [Self.decimal("0.33333333"), Self.decimal("0.33333333"), Self.decimal("0.33333334")])
        #expect(try ExactDecimal.sum(template.activities.map(\.budgetShare.value)) == 1, "the whole budget, exactly")
        #expect(byName["Earthworks"]?.quantity?.value == 5000 && byName["Earthworks"]?.unit == "m3" && byName["Earthworks"]?.evMethod == "units")
        #expect(template.goals.map { "\($0.title)<\($0.parent ?? "")>\($0.weight)" } == ["Capacity<>2", "Pavement<Capacity>1.5"])
        #expect(template.kpis.map { "\($0.name) \($0.direction) \($0.baseline)→\($0.target) ×\($0.weight) \($0.unit ?? "")" }
                == ["Pass rate higher_better 90→98 ×2 %"])
        #expect(try PlanTemplate.parse(template.canonicalJSON) == template, "the body reads back as the same template")
    }

    @Test func aProjectMadeFromATemplateHasItsShapeAndItsBudgetExactly() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        try hub.saveTemplate(try hub.templateOf(project: "R-101", name: "ring-road"), source: "project R-101", today: Self.today)
        let made = try hub.instantiateTemplate("ring-road", code: "R-202", projectName: "Ring road, west", department: "roads",
                                               start: CalendarDate("2027-01-10")!, budget: Self.decimal("100"))
        #expect(made.activities == 3 && made.goals == 2 && made.kpis == 1)
        #expect(made.finish == CalendarDate("2027-05-11")!, "121 days after 2027-01-10")
        let activities = try Self.activities(hub, "R-202")
        // 100 × 0.33333333 = 33.333333 → 33.33 twice; the last takes the rest, 33.34.
        #expect(activities["Earthworks"] == ["33.33", "2027-01-10", "2027-02-09", "Pavement", "m3", "5000", "units"])
        #expect(activities["Base"] == ["33.33", "2027-02-10", "2027-03-26", "Pavement", "", "", "manual"])
        #expect(activities["Surfacing"] == ["33.34", "2027-03-21", "2027-05-11", "Capacity", "", "", "fifty_fifty"])
        let project = try hub.store.rows([("SELECT budget, planned_start, planned_finish, stage, department FROM project WHERE code = 'R-202'", [])])[0]
        #expect(project.first == ["100", "2027-01-10", "2027-05-11", "initiation", "roads"])
        let parent = try hub.store.rows([("""
            SELECT p.title FROM goal g JOIN goal p ON p.id = g.parent JOIN project x ON x.id = g.project
            WHERE x.code = 'R-202' AND g.title = 'Pavement'
            """, [])])[0]
        #expect(parent.first == ["Capacity"], "the goal tree is kept")
        #expect(try hub.store.rows([("SELECT k.name, k.weight FROM kpi k JOIN project p ON p.id = k.project WHERE p.code = 'R-202'", [])])[0]
                == [["Pass rate", "2"]])
    }

    /// Amounts are shared to the fen, and the rounding remainder goes to the last activity, so
    /// the budgets add up to the total whatever it is.
    @Test func budgetsAreSharedExactlyWithTheRemainderOnTheLast() throws {
        let thirds = ["0.33333333", "0.33333333", "0.33333334"].map(Self.decimal)
        #expect(try PlanTemplate.allocate(100, shares: thirds) == ["33.33", "33.33", "33.34"].map(Self.decimal))
        #expect(try PlanTemplate.allocate(Self.decimal("0.05"), shares: thirds) == ["0.02", "0.02", "0.01"].map(Self.decimal))
        for total in ["1234567.89", "0.01", "999999999999.99", "18000000", "7.5"].map(Self.decimal) {
            let amounts = try PlanTemplate.allocate(total, shares: thirds)
            #expect(try ExactDecimal.sum(amounts) == total, "\(total): \(amounts)")
            #expect(amounts.allSatisfy { !$0.isNegative && $0.scale <= 2 }, "\(total): \(amounts)")
        }
        // Shares that leave a reserve out: the activities carry exactly that part.
        #expect(try PlanTemplate.allocate(1000, shares: ["0.3", "0.6"].map(Self.decimal)) == [300, 600])
    }

    // MARK: - Plan data: replicated, written by the office only

    @Test func aTemplateReplicatesToEveryNode() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let site = try Self.node(root, "site-water", .field, "water")
        try hub.saveTemplate(try hub.templateOf(project: "R-101", name: "ring-road"), source: "project R-101", today: Self.today)
        try Self.send(from: hub, to: site)
        let held = try site.templates()
        #expect(held.map(\.template.name) == ["ring-road"], "shared reference data: it reaches a node of another department")
        #expect(held.first?.template == (try hub.template(named: "ring-road")).template)
        #expect(held.first?.savedBy == "hub" && held.first?.source == "project R-101")
        #expect(try site.store.rows([("SELECT count(*) FROM project", [])])[0] == [["0"]], "but not the roads project it came from")
    }

    @Test func aFieldNodeNeitherSavesNorInstantiatesATemplate() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let site = try Self.node(root, "site-roads", .field, "roads")
        try hub.saveTemplate(try hub.templateOf(project: "R-101", name: "ring-road"), source: "project R-101", today: Self.today)
        try Self.send(from: hub, to: site)
        let template = try site.templateOf(project: "R-101", name: "my-road")
        let refused = #expect(throws: CoreError.self) { try site.saveTemplate(template, source: "project R-101", today: Self.today) }
        #expect(refused?.message.contains("hub-owned") == true, "\(refused?.message ?? "")")
        #expect(throws: CoreError.self) {
            try site.instantiateTemplate("ring-road", code: "R-303", projectName: "Mine", department: "roads",
                                         start: Self.today, budget: 100)
        }
        #expect(try site.templates().map(\.template.name) == ["ring-road"])
        #expect(try site.store.rows([("SELECT count(*) FROM project", [])])[0] == [["1"]], "nothing of the refused project was written")
        #expect(WritePolicy.denial(.department, .create, Schema.siteSync.collection(named: "template")!)?.code == .hubOwned)
        #expect(WritePolicy.denial(.office, .create, Schema.siteSync.collection(named: "template")!) == nil)
    }

    /// A template saved again on one node while another makes a project from the earlier
    /// version: the project keeps what it was made from, and every node ends with the later save.
    @Test func aTemplateEditedWhileInstantiatedElsewhere() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let office = try Self.node(root, "office", .office)
        let first = try hub.templateOf(project: "R-101", name: "ring-road")
        try hub.saveTemplate(first, source: "project R-101", today: Self.today)
        try Self.send(from: hub, to: office)
        var second = first
        second.activities.removeLast()
        second.activities[1].budgetShare = TemplateDecimal(Self.decimal("0.66666667"))
        try hub.saveTemplate(second, source: "edited", today: Self.today)
        try office.instantiateTemplate("ring-road", code: "R-404", projectName: "East", department: "roads",
                                       start: CalendarDate("2027-02-01")!, budget: 900)
        try Self.send(from: office, to: hub)
        try Self.send(from: hub, to: office)
        for node in [hub, office] {
            #expect(try node.template(named: "ring-road").template == second, "\(node.configuration.name) holds the later save")
            #expect(try Self.activities(node, "R-404").count == 3, "the project keeps the version it was made from")
        }
        #expect(try hub.store.digest() == office.store.digest())
    }

    /// Law: a template edited while it is instantiated elsewhere, as a property. The hub and an
    /// office each, in a random order, maybe save their own edit of one template and make a
    /// project from the version they hold; the changes then travel in a random order. Every node
    /// ends with one save whole (a later save never mixes with an earlier one), the same
    /// everywhere; each project keeps the shape of the version its maker held, with its budget
    /// shared exactly; the losing save of two concurrent ones is in the conflict log.
    @Test func aTemplateEditedWhileInstantiatedElsewhereConvergesWhole() async {
        await seededCheck(count: 6) { seed in
            var random = SeededGenerator(seed: seed)
            let root = TemporaryDirectory()
            let hub = try Self.hub(root)
            let office = try Self.node(root, "office", .office)
            let first = try hub.templateOf(project: "R-101", name: "ring-road")
            try hub.saveTemplate(first, source: "project R-101", today: Self.today)
            try Self.send(from: hub, to: office)
            var shorter = first
            shorter.activities.removeLast()
            shorter.activities[1].budgetShare = TemplateDecimal(Self.decimal("0.66666667"))
            var retitled = first
            retitled.title = "Ring road, revised"
            retitled.kpis = []

            var saves: [PlanTemplate] = []
            var made: [(code: String, activities: Int)] = []
            for (index, (node, edit)) in [(hub, shorter), (office, retitled)].enumerated() {
                var acts = ["save", "make"].shuffled(using: &random)
                if Bool.random(using: &random) { acts.removeAll { $0 == "save" } }
                for act in acts {
                    if act == "save" {
                        try node.saveTemplate(edit, source: "edited at \(node.configuration.name)", today: Self.today)
                        saves.append(edit)
                    } else {
                        let held = try node.template(named: "ring-road").template
                        try node.instantiateTemplate("ring-road", code: "R-40\(index)", projectName: "East", department: "roads",
                                                     start: CalendarDate("2027-02-01")!, budget: 900)
                        made.append(("R-40\(index)", held.activities.count))
                    }
                }
            }
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                if Bool.random(using: &random) { try Self.send(from: hub, to: office) } else { try Self.send(from: office, to: hub) }
            }
            try Self.send(from: office, to: hub)
            try Self.send(from: hub, to: office)

            let kept = try hub.template(named: "ring-road").template
            #expect((saves.isEmpty ? [first] : saves).contains(kept), "seed \(seed): one save, whole")
            for node in [hub, office] {
                let name = node.configuration.name
                #expect(try node.template(named: "ring-road").template == kept, "seed \(seed): \(name) holds the same save")
                #expect(try node.store.digest() == hub.store.digest(), "seed \(seed): \(name) converged")
                for project in made {
                    let budgets = try Self.activities(node, project.code).values.map { Self.decimal($0[0]) }
                    #expect(budgets.count == project.activities, "seed \(seed): \(name) \(project.code) keeps the version it was made from")
                    #expect(try ExactDecimal.sum(budgets) == 900, "seed \(seed): \(name) \(project.code) budget shared exactly")
                }
                if saves.count == 2 {
                    let logged = try node.store.conflicts().filter { $0.collection == "template" && $0.field == "body" }
                    #expect(!logged.isEmpty, "seed \(seed): \(name) logs the concurrent save it did not keep")
                }
            }
        }
    }

    // MARK: - Files and the shipped library

    @Test func theShippedTemplatesImportAndInstantiate() throws {
        let root = TemporaryDirectory()
        let hub = try Self.node(root, "hub", .hub)
        try hub.writeEntry("department", id: "roads", ["name=Roads"])
        let directory = Self.root.appendingPathComponent("config/templates").path
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".toml") }.sorted()
        #expect(files == ["drainage-culvert.toml", "park.toml", "road-widening.toml"])
        let budget = Self.decimal("18000000.01"), start = CalendarDate("2026-04-01")!
        for (index, file) in files.enumerated() {
            let template = try hub.importTemplate(file: directory + "/" + file, today: Self.today)
            #expect(template.name + ".toml" == file)
            #expect(try ExactDecimal.sum(template.activities.map(\.budgetShare.value)) == 1, "\(file): shares add up to 1")
            #expect(template.activities.count >= 10 && template.goals.count >= 3 && template.kpis.count >= 3, "\(file)")
            let code = "T-\(index)"
            let made = try hub.instantiateTemplate(template.name, code: code, projectName: template.title, department: "roads",
                                                   start: start, budget: budget)
            #expect(made.finish == start.adding(days: template.finishDay))
            let budgets = try Self.activities(hub, code).values.map { Self.decimal($0[0]) }
            #expect(budgets.count == template.activities.count)
            #expect(try ExactDecimal.sum(budgets) == budget, "\(file): the activities' budgets add up to the project's")
        }
        #expect(try hub.templates().map(\.source) == files.map { "file " + $0 })
    }

    @Test func aWrongTemplateIsRefusedSayingWhy() throws {
        func reason(_ text: String, _ format: String = "toml") -> String {
            do {
                _ = try PlanTemplate.parse(text, format: format)
                return "accepted"
            } catch { return "\(error)" }
        }
        let head = "name = \"x\"\ntitle = \"X\"\nfinish_day = 10\n"
        let activity = "[[activities]]\nname = \"A\"\nstart_day = 0\nfinish_day = 10\nev_method = \"manual\"\n"
        #expect(reason(head + activity + "budget_share = \"1\"\n") == "accepted")
        #expect(reason(head + activity + "budget_share = 0.5\n").contains("string"), "a float is refused: it would not stay exact")
        #expect(reason(head + activity + "budget_share = \"0.7\"\n" + activity.replacingOccurrences(of: "\"A\"", with: "\"B\"")
                       + "budget_share = \"0.4\"\n").contains("more than 1"))
        #expect(reason(head + activity + "budget_share = \"1\"\ngoal = \"Nowhere\"\n").contains("no goal of the template"))
        #expect(reason(head.replacingOccurrences(of: "finish_day = 10", with: "finish_day = 5") + activity + "budget_share = \"1\"\n")
            .contains("after the project's finish_day"))
        #expect(reason("{\"name\":\"Bad Name\",\"title\":\"t\",\"finish_day\":1,\"goals\":[],\"activities\":[],\"kpis\":[]}", "json")
            .contains("not a template name"))
        #expect(reason(head).contains("activities is missing"))
    }
}
