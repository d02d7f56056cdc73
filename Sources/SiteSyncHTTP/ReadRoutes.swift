import Foundation
import Hummingbird
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// `GET /api/v1/…`: the figures and the sync facts, each scoped to the caller's department
/// when its token has one. Figures come from ``FiguresCache`` (kept fresh as changes apply),
/// never recomputed per request; the rest reads the store directly.
struct ReadRoutes {
    let node: Node
    let figures: FiguresCache

    var today: CalendarDate { CalendarDate(unixMilliseconds: node.store.wallClock()) }

    func add(to group: RouterGroup<APIContext>) {
        group.get("city") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let snapshot = try figures.snapshot(asOf: try Query(request).asOf(today: today))
                return try Representation(json: snapshot.city(caller.scope)).response(to: request)
            }
        }
        group.get("departments") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let snapshot = try figures.snapshot(asOf: try Query(request).asOf(today: today))
                return try Representation.table(snapshot.departments(caller.scope)).response(to: request)
            }
        }
        group.get("projects") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let query = Query(request)
                let filter = ProjectFilter(
                    department: query.text("department"), color: try query.choice("color", ProjectFilter.allowedColors),
                    grade: try query.choice("grade", ProjectFilter.allowedGrades), stage: try query.choice("stage", ProjectFilter.allowedStages))
                let limit = try query.integer("limit", default: 100, in: 1...1_000)
                let offset = try query.integer("offset", default: 0, in: 0...1_000_000)
                let snapshot = try figures.snapshot(asOf: try query.asOf(today: today))
                let page = snapshot.projects(caller.scope, filter: filter, limit: limit, offset: offset)
                guard case .object(let object) = page else { return try Representation(json: page).response(to: request) }
                return try Representation(json: page, csvRows: object["items"] ?? .array([])).response(to: request)
            }
        }
        group.get("projects/{code}") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let code = try context.parameters.require("code")
                guard let detail = try ReadModel.project(node, code: code, asOf: try Query(request).asOf(today: today),
                                                         scope: caller.scope) else {
                    throw Problem(.notFound, "no project '\(code)' that this token may read: `GET /api/v1/projects` lists them")
                }
                return try Representation(json: detail).response(to: request)
            }
        }
        group.get("warnings") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let snapshot = try figures.snapshot(asOf: try Query(request).asOf(today: today))
                return try Representation.table(snapshot.warnings(caller.scope)).response(to: request)
            }
        }
        group.get("reports/monthly/{period}") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let period = try context.parameters.require("period")
                guard period.count == 7, CalendarDate(period + "-01") != nil else {
                    throw Problem(.invalidField, "'\(period)' is not a month: write YYYY-MM", field: "period")
                }
                let now = Int64(node.store.wallClock())
                // Today's figures serve an open month that ends today or later.
                let snapshot = try figures.snapshot(asOf: today)
                let json = try ReadModel.monthly(node, period: period, scope: caller.scope, now: now, snapshot: snapshot)
                // The printable page is the city's review: offered to a token that sees the city.
                let html = caller.scope.department == nil
                    ? try MonthlyReview.gather(node: node, period: period, now: now, snapshot: snapshot).html : nil
                return try Representation(json: json, html: html).response(to: request)
            }
        }
        group.get("fleet") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let fleet = Self.fleet(try ReadModel.fleet(node), scope: caller.scope)
                guard case .object(let object) = fleet else { return try Representation(json: fleet).response(to: request) }
                // As CSV: one row per node.
                return try Representation(json: fleet, csvRows: object["nodes"] ?? .array([])).response(to: request)
            }
        }
        group.get("conflicts") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                return try Representation.table(try ReadModel.conflicts(node, scope: caller.scope)).response(to: request)
            }
        }
        group.get("sync-history") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                // Sessions name the nodes of every department: the city's view.
                try caller.requireCity("the sync history")
                let limit = try Query(request).integer("limit", default: 100, in: 1...10_000)
                return try Representation.table(try ReadModel.syncHistory(node, limit: limit)).response(to: request)
            }
        }
    }

    /// The fleet as a department-scoped token may see it: its department's nodes.
    static func fleet(_ fleet: JSONValue, scope: ReadScope) -> JSONValue {
        guard let department = scope.department, case .object(var object) = fleet, case .array(let nodes)? = object["nodes"] else {
            return fleet
        }
        object["nodes"] = .array(nodes.filter { node in
            if case .object(let fields) = node, case .string(let code)? = fields["department"] { return code == department }
            return false
        })
        return .object(object)
    }
}
