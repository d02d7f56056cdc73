import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncStore
import Testing

/// The suggestion box (意见箱, docs/design.md §15): a suggestion left at a site travels to the
/// hub and its own department's nodes only; an anonymous one stores no person and no node; the
/// office alone answers, and the answer travels back.
@Suite struct SuggestionTests {
    static let today = CalendarDate("2026-11-20")!
    /// 2026-12-15, UTC: the review of 2026-11 is as of its last day.
    static let now: Int64 = 1_797_292_800_000

    static func node(_ root: TemporaryDirectory, _ name: String, _ role: Role, _ department: String) throws -> Node {
        try TemplateTests.node(root, name, role, department)
    }

    /// A hub, two roads nodes (a site and the department office) and a water site.
    static func fleet(_ root: TemporaryDirectory) throws -> (hub: Node, site: Node, roads: Node, water: Node) {
        let hub = try node(root, "hub", .hub, "office")
        try hub.writeEntry("department", id: "roads", ["name=Roads"])
        try hub.writeEntry("department", id: "water", ["name=Water"])
        let fleet = (hub, try node(root, "site-roads-7", .field, "roads"), try node(root, "roads-office", .department, "roads"),
                     try node(root, "site-water-2", .field, "water"))
        for other in [fleet.1, fleet.2, fleet.3] { try TemplateTests.send(from: hub, to: other) }
        return fleet
    }

    /// Every value the suggestion's record holds, as text, and its typed row.
    static func storedTexts(_ node: Node, _ id: String) throws -> [String] {
        let spec = Schema.siteSync.collection(named: "suggestion")!
        let state = try #require(try node.store.state(of: RecordKey(collection: spec.code, id: id)))
        let values = state.versions.map(\.value.displayText)
        let row = try node.store.rows([("SELECT * FROM suggestion WHERE id = ?1", [id])])[0].flatMap { $0.compactMap { $0 } }
        return values + row + [state.department]
    }

    @Test func anAnonymousSuggestionStoresNeitherPersonNorNode() throws {
        let root = TemporaryDirectory()
        let (hub, site, _, _) = try Self.fleet(root)
        let signed = try site.addSuggestion(text: "Light the night crossing at km 3", author: "Wang Li", anonymous: false, today: Self.today)
        let anonymous = try site.addSuggestion(text: "Overtime is not recorded", author: nil, anonymous: true, today: Self.today)
        #expect(signed.from == "Wang Li at site-roads-7" && !signed.isAnonymous)
        #expect(anonymous.isAnonymous && anonymous.from == "anonymous" && anonymous.author == nil && anonymous.node == nil)
        try TemplateTests.send(from: site, to: hub)
        for node in [site, hub] {
            let texts = try Self.storedTexts(node, anonymous.id)
            #expect(!texts.isEmpty)
            for text in texts {
                #expect(!text.contains("site-roads-7") && !text.contains("Wang"), "\(node.configuration.name) stores '\(text)'")
            }
            #expect(try Self.storedTexts(node, signed.id).contains("site-roads-7"), "the signed one names its node")
        }
        let listed = try hub.suggestions()
        #expect(listed.map(\.from).sorted() == ["Wang Li at site-roads-7", "anonymous"])
        #expect(listed.allSatisfy { $0.status == "open" && $0.department == "roads" })
        #expect(throws: NodeError.self) { try site.addSuggestion(text: "x", author: "Wang Li", anonymous: true, today: Self.today) }
        #expect(throws: NodeError.self) { try site.addSuggestion(text: "  ", author: nil, anonymous: false, today: Self.today) }
    }

    @Test func aSuggestionTravelsToTheHubAndItsDepartmentNeverToAnother() throws {
        let root = TemporaryDirectory()
        let (hub, site, roads, water) = try Self.fleet(root)
        let made = try site.addSuggestion(text: "Share the crane between R-101 and R-102", author: nil, anonymous: true, today: Self.today)
        try TemplateTests.send(from: site, to: hub)
        try TemplateTests.send(from: hub, to: roads)
        try TemplateTests.send(from: hub, to: water)
        #expect(try hub.suggestions().map(\.id) == [made.id])
        #expect(try roads.suggestions().map(\.id) == [made.id], "its own department's office holds it")
        #expect(try water.suggestions().isEmpty, "another department's node never receives it")
        let batch = try hub.store.changes(lackedBy: VersionVector(), scope: .department("water"))
        let spec = Schema.siteSync.collection(named: "suggestion")!
        let carried = try CheckedBatch(batch, schema: .siteSync).changes.filter { $0.change.record.collection == spec.code }
        #expect(carried.isEmpty, "nothing of it is in what the hub sends water")
    }

    @Test func onlyTheOfficeAnswersAndTheAnswerTravelsBack() throws {
        let root = TemporaryDirectory()
        let (hub, site, roads, _) = try Self.fleet(root)
        let made = try site.addSuggestion(text: "Weekly closure plan for residents", author: "Zhao", anonymous: false, today: Self.today)
        try TemplateTests.send(from: site, to: hub)
        try TemplateTests.send(from: hub, to: roads)
        #expect(throws: NodeError.self) { try roads.answerSuggestion(made.id, status: "accepted", reply: "ok", today: Self.today) }
        let direct = #expect(throws: CoreError.self) { try roads.writeEntry("suggestion", id: made.id, ["status=accepted", "reply=ok"]) }
        #expect(direct?.message.contains("central office's answer") == true, "\(direct?.message ?? "")")
        #expect(throws: CoreError.self) { try site.writeEntry("suggestion", id: made.id, ["reply=we will"]) }
        #expect(throws: NodeError.self) { try hub.answerSuggestion(made.id, status: "maybe", reply: "hm", today: Self.today) }
        let answered = try hub.answerSuggestion(String(made.id.prefix(8)), status: "accepted", reply: "From 1 December on", today: Self.today)
        #expect(answered.status == "accepted" && answered.answeredBy == "hub")
        try TemplateTests.send(from: hub, to: site)
        let back = try site.suggestion(made.id)
        #expect(back.status == "accepted" && back.reply == "From 1 December on" && back.answeredOn == "2026-11-20")
        #expect(try site.suggestions(status: "accepted").map(\.id) == [made.id])
        #expect(try site.suggestions(status: "open").isEmpty)
        #expect(throws: NodeError.self) { try site.suggestions(status: "pending") }
        #expect(WritePolicy.denial(.field, .create, Schema.siteSync.collection(named: "suggestion")!) == nil, "any node leaves one")
    }

    @Test func theMonthlyReviewDigestsTheQuarter() throws {
        let root = TemporaryDirectory()
        let (hub, site, _, _) = try Self.fleet(root)
        try site.addSuggestion(text: "Too old: from the last quarter", author: nil, anonymous: false, today: CalendarDate("2026-09-30")!)
        let signed = try site.addSuggestion(text: "More shade at the depot", author: "Li", anonymous: false, today: CalendarDate("2026-10-05")!)
        try site.addSuggestion(text: "Fix the pump rota", author: nil, anonymous: true, today: CalendarDate("2026-11-02")!)
        try site.addSuggestion(text: "Not yet: December", author: nil, anonymous: true, today: CalendarDate("2026-12-01")!)
        try TemplateTests.send(from: site, to: hub)
        try hub.answerSuggestion(signed.id, status: "done", reply: "Awnings up", today: CalendarDate("2026-11-10")!)
        let review = try MonthlyReview.gather(node: hub, period: "2026-11", now: Self.now)
        let digest = try #require(review.suggestions)
        #expect(digest.quarter == "2026-Q4")
        #expect(digest.counts.map { "\($0.status) \($0.count)" } == ["open 1", "accepted 0", "declined 0", "done 1"])
        #expect(digest.rows == [["2026-11-02", "roads", "anonymous", "open", "Fix the pump rota"],
                                ["2026-10-05", "roads", "Li at site-roads-7", "done", "More shade at the depot"]])
        #expect(review.markdown.contains("## Suggestions of 2026-Q4 (意见箱)\n\nopen 1, accepted 0, declined 0, done 1."))
        #expect(review.html.contains("Suggestions of 2026-Q4"))
    }
}
