import SiteSyncCore

/// How `record get` and `record list` show a record.
struct RecordRendering {
    let collection: CollectionSpec
    let state: RecordState
    let names: [ReplicaID: String]

    func origin(_ dot: Dot) -> String { names[dot.replica] ?? dot.replica.description }

    /// `{"collection","id","department","deleted","fields","conflicts","version"}`.
    var json: JSONValue {
        var fields: [String: JSONValue] = [:]
        var conflicts: [String: JSONValue] = [:]
        for (spec, resolution) in state.resolvedFields(in: collection) {
            if !resolution.value.isNull { fields[spec.name] = resolution.value.jsonValue }
            guard resolution.conflict != .none else { continue }
            conflicts[spec.name] = .object([
                "status": .string(resolution.conflict.rawValue),
                "rule": .string(spec.rule.rawValue),
                "values": .array(state.versions(of: spec.code).map(versionJSON)),
            ])
        }
        if state.hasLostDeletion {
            conflicts["(deleted)"] = .object([
                "status": .string("auto"), "rule": .string("delete"),
                "values": .array(state.tombstones.map { .object(["node": .string(origin($0.dot)),
                                                                  "at": .string(Output.timestamp(milliseconds: $0.hlc.milliseconds))]) }),
            ])
        }
        var version: [String: JSONValue] = [:]
        for entry in state.context.entries { version[entry.replica.description] = .int(Int64(clamping: entry.counter)) }
        return .object([
            "collection": .string(collection.name), "id": .string(state.key.id), "department": .string(state.department),
            "deleted": .bool(state.isDeleted), "fields": .object(fields), "conflicts": .object(conflicts),
            "version": .object(version),
        ])
    }

    func versionJSON(_ version: FieldVersion) -> JSONValue {
        .object([
            "value": version.value.jsonValue, "node": .string(origin(version.dot)),
            "replica": .string(version.dot.replica.description), "counter": .int(Int64(clamping: version.dot.counter)),
            "at": .string(Output.timestamp(milliseconds: version.hlc.milliseconds)),
        ])
    }

    /// A few lines a person reads.
    var text: String {
        var lines = ["\(collection.name) \(state.key.id)" + (state.department.isEmpty ? "" : " (department \(state.department))")
                     + (state.isDeleted ? " — deleted" : "")]
        var rows: [[String]] = []
        for (spec, resolution) in state.resolvedFields(in: collection) where !resolution.value.isNull || resolution.conflict != .none {
            var cell = resolution.value.displayText
            switch resolution.conflict {
            case .none: break
            case .auto: cell += "   (auto-resolved by \(spec.rule.rawValue) over " + losers(resolution) + ")"
            case .open: cell += "   (OPEN CONFLICT: " + state.versions(of: spec.code).map(described).joined(separator: " | ")
                + "; settle it with `sitesync resolve`)"
            }
            rows.append(["  " + spec.name, cell])
        }
        if !rows.isEmpty { lines.append(Output.table(rows)) }
        if state.hasLostDeletion {
            lines.append("  note: deleted by " + state.tombstones.map { origin($0.dot) }.joined(separator: ", ")
                         + " while another node edited it; the edit was kept")
        }
        return lines.joined(separator: "\n")
    }

    func losers(_ resolution: FieldResolution) -> String {
        resolution.losers.map(described).joined(separator: ", ")
    }

    func described(_ version: FieldVersion) -> String {
        "\"\(version.value.displayText)\" from \(origin(version.dot)) at \(Output.timestamp(milliseconds: version.hlc.milliseconds))"
    }
}
