import Foundation
import Hummingbird
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// `GET /api/v1/templates…` and `GET /api/v1/suggestions`: the planning records every replica
/// holds, read from the store. Templates are shared plan data, read by any token; suggestions
/// are scoped like the caller (a department's token sees its department's), and an anonymous
/// one names nobody.
struct PlanningRoutes {
    let node: Node

    func add(to group: RouterGroup<APIContext>) {
        group.get("templates") { request, context in
            try await offPool {
                _ = try context.requireCaller()
                return try Representation.table(.array(try node.templates().map(\.summaryJSON))).response(to: request)
            }
        }
        group.get("templates/{name}") { request, context in
            try await offPool {
                _ = try context.requireCaller()
                let name = try context.parameters.require("name")
                guard let record = try node.templates().first(where: { $0.template.name == name.lowercased() }) else {
                    throw Problem(.notFound, "no template '\(name)' here: `GET /api/v1/templates` lists them")
                }
                guard case .object(var out) = record.summaryJSON else { throw Problem(.notFound, "no template '\(name)'") }
                out["template"] = JSONText.parse(record.template.canonicalJSON) ?? .null
                return try Representation(json: .object(out)).response(to: request)
            }
        }
        group.get("suggestions") { request, context in
            try await offPool {
                let caller = try context.requireCaller()
                let status = try Query(request).choice("status", Suggestion.statuses)
                let seen = try node.suggestions(status: status).filter { caller.scope.includes(department: $0.department) }
                return try Representation.table(.array(seen.map(\.json))).response(to: request)
            }
        }
    }
}
