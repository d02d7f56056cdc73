// TEMPORARY stand-ins for the Domain read model and tokens being written elsewhere.
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance

struct ReadScope: Sendable, Hashable { let department: String? }
struct ProjectFilter: Sendable {
    var department: String?, color: String?, grade: String?, stage: String?
    static let colors = ["green", "amber", "red"], grades = ["优", "良", "中", "差"]
    static let stages = ["initiation", "execution", "acceptance", "review", "closed", "archived"]
}
final class FiguresCache: Sendable {
    let node: Node
    init(node: Node) { self.node = node }
    func snapshot(asOf: CalendarDate) throws -> FiguresSnapshot { FiguresSnapshot(asOf: asOf, rows: try Reports.projects(node, asOf: asOf).rows) }
    func refreshIfChanged() throws {}
}
struct FiguresSnapshot {
    let asOf: CalendarDate
    let rows: [ProjectAssessment]
    func city(_ scope: ReadScope) -> JSONValue {
        .object(["as_of": .string(asOf.description), "projects": .int(Int64(rows.count)), "bac": .string("0"), "pv": .string("0"), "ev": .string("0"),
                 "ac": .string("0"), "spi": .null, "cpi": .null, "green": .int(0), "amber": .int(0), "red": .int(0)])
    }
    func departments(_ scope: ReadScope) -> JSONValue { .array([]) }
    func projects(_ scope: ReadScope, filter: ProjectFilter, limit: Int, offset: Int) -> JSONValue {
        .object(["total": .int(Int64(rows.count)), "limit": .int(Int64(limit)), "offset": .int(Int64(offset)), "items": .array([])])
    }
    func warnings(_ scope: ReadScope) -> JSONValue { .array([]) }
}
enum ReadModel {
    static func project(_ node: Node, code: String, asOf: CalendarDate, scope: ReadScope) throws -> JSONValue? { nil }
    static func monthly(_ node: Node, period: String, scope: ReadScope) throws -> (json: JSONValue, html: String) {
        (.object(["period": .string(period)]), "<html></html>")
    }
    static func fleet(_ node: Node, scope: ReadScope) throws -> JSONValue { .object([:]) }
    static func conflicts(_ node: Node, scope: ReadScope) throws -> JSONValue { .array([]) }
    static func syncHistory(_ node: Node, limit: Int, scope: ReadScope) throws -> JSONValue { .array([]) }
}
