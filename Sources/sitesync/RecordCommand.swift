import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncStore

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Read and write records of any collection (plumbing for scripts).",
        subcommands: [Put.self, Get.self, List.self, Delete.self, Import.self]
    )

    static func collection(_ name: String, in node: Node) throws -> CollectionSpec {
        guard let collection = node.store.schema.collection(named: name) else {
            throw CoreError(.unknownCollection,
                "unknown collection '\(name)'; the collections are \(node.store.schema.collectionNames.joined(separator: ", "))")
        }
        return collection
    }

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or update a record: field=value, field+=element, field-=element.",
            discussion: """
                Values are parsed by the field's type: decimals exactly (1250.75), dates as YYYY-MM-DD, \
                enums from their list, sets as comma-separated elements. An empty value (field=) clears \
                the field. Give the id `new` for a new record: a random UUID, or, for a collection with a \
                natural key (daily_log, percent_entry, kpi_reading, period_close, period_figures), the id \
                made from its key fields. The node's role is enforced: field nodes cannot write plan fields \
                or other departments' records; and the value rules hold on every path (a state needs its \
                day: status=in_progress needs actual_start). A project's stage set here by an office or \
                the hub is a correction without the gate, recorded as a stage transition too \
                (`sitesync stage list PROJECT`); departments propose stages with `sitesync stage propose`.

                Example:
                  sitesync record put activity a-17 status=in_progress actual_start=2026-11-02
                  sitesync record put percent_entry new activity=a-17 date=2026-11-20 percent=40
                  sitesync record put issue i-3 assignees+=chen
                """
        )

        @OptionGroup var node: NodeOptions
        @Argument(help: "The collection, e.g. activity.") var collection: String
        @Argument(help: "The record id, or `new`.") var id: String
        @Argument(help: "field=value, field+=element or field-=element.") var assignments: [String] = []

        func run() throws {
            let node = try node.open()
            let parsed = try assignments.map { try FieldAssignment(parsing: $0) }
            guard !parsed.isEmpty else { throw ValidationError("give at least one field=value") }
            let planner = node.planner
            // A project's stage moved here is recorded as a stage transition too (docs/design.md §14).
            let change = collection == "project"
                ? try StageGates.putProject(node: node, id: id == "new" ? nil : id, assignments: parsed)
                : try node.store.write { reader in
                    try planner.planUpsert(collection: collection, id: id == "new" ? nil : id, assignments: parsed, reader: reader)
                }
            if let change {
                print("wrote \(collection) \(change.record.id) (change \(change.dot))")
            } else {
                print("\(collection) \(id) already holds these values; nothing written")
            }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one record, with any conflicting values.")

        @OptionGroup var node: NodeOptions
        @Argument(help: "The collection.") var collection: String
        @Argument(help: "The record id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let node = try node.open()
            let spec = try RecordCommand.collection(collection, in: node)
            guard let state = try node.store.state(of: RecordKey(collection: spec.code, id: id)) else {
                throw CoreError(.notFound, "there is no \(collection) \(id) on this node (list them with `sitesync record list \(collection)`)")
            }
            let rendering = RecordRendering(collection: spec, state: state, names: try node.store.replicaNames())
            if json { Output.json(rendering.json) } else { print(rendering.text) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the records of a collection.")

        @OptionGroup var node: NodeOptions
        @Argument(help: "The collection.") var collection: String
        @Option(help: "Only records of this department.") var department: String?
        @Flag(help: "Include deleted records.") var includeDeleted = false
        @Flag(help: "Print JSON Lines, one record per line.") var json = false

        func run() throws {
            let node = try node.open()
            let spec = try RecordCommand.collection(collection, in: node)
            let states = try node.store.records(in: spec, includeDeleted: includeDeleted, department: department)
            let names = try node.store.replicaNames()
            if json {
                for state in states { Output.json(RecordRendering(collection: spec, state: state, names: names).json) }
                return
            }
            let shown = spec.fields.prefix(5)
            var rows = [["id"] + (spec.scope == .shared ? [] : ["department"]) + shown.map(\.name)]
            for state in states {
                rows.append([state.key.id + (state.isDeleted ? " (deleted)" : "")]
                            + (spec.scope == .shared ? [] : [state.department])
                            + shown.map { state.value(of: $0).displayText })
            }
            print(Output.table(rows))
            print("\(states.count) \(collection) record\(states.count == 1 ? "" : "s")")
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a record (a tombstone).",
            discussion: """
                An edit made elsewhere concurrently with the deletion wins: the record comes back and \
                the deletion is shown as a conflict. Append-only entries cannot be deleted; add a \
                correcting entry instead.
                """
        )

        @OptionGroup var node: NodeOptions
        @Argument(help: "The collection.") var collection: String
        @Argument(help: "The record id.") var id: String

        func run() throws {
            let node = try node.open()
            let planner = node.planner
            let change = try node.store.write { reader in try planner.planDelete(collection: collection, id: id, reader: reader) }
            print("deleted \(collection) \(id) (change \(change!.dot))")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write many records from JSON Lines, all or nothing.",
            discussion: """
                One object per line: {"collection": "activity", "id": "a-1", "fields": {"name": "Kerbs", "budget": "1200.50"}}. \
                Leave out "id" (or give "new") for a new record. A field name ending in + or - adds to or \
                removes from a set ("assignees+": ["chen"]). Numbers may be JSON numbers or strings; \
                decimals stay exact either way. "delete": true deletes the record. Every line gets the \
                same checks as `record put`; if any line is invalid, the error names it and nothing of \
                the file is written.
                """
        )

        @OptionGroup var node: NodeOptions
        @Argument(help: "A JSON Lines file, or - for standard input.") var file: String

        func run() throws {
            let node = try node.open()
            let text: String
            if file == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw ValidationError("cannot read \(file); check the path")
                }
                text = String(decoding: data, as: UTF8.self)
            }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let planner = node.planner
            let (written, unchanged) = try node.store.writeLocally { session -> (Int, Int) in
                var written = 0, unchanged = 0
                for (index, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                    do {
                        let request = try ImportLine(parsing: String(line))
                        let change = try session.write { reader in
                            request.delete
                                ? try planner.planDelete(collection: request.collection, id: request.id ?? "", reader: reader)
                                : try planner.planUpsert(collection: request.collection, id: request.id, assignments: request.assignments,
                                                         reader: reader)
                        }
                        if change == nil { unchanged += 1 } else { written += 1 }
                    } catch {
                        // A full disk is about the node, not the line: say so as such.
                        if let full = StoreError.wrap(error) as? StoreError, full.code == .storageFull { throw full }
                        throw NodeError(.usage, "line \(index + 1): \(error); nothing of \(file) was written")
                    }
                }
                return (written, unchanged)
            }
            print("imported \(written + unchanged) line\(written + unchanged == 1 ? "" : "s"): \(written) written, \(unchanged) unchanged")
        }
    }
}

/// One line of `record import`.
struct ImportLine {
    let collection: String
    let id: String?
    let delete: Bool
    let assignments: [FieldAssignment]

    init(parsing line: String) throws {
        let value: JSONValue
        do {
            value = try JSONText.parseOrThrow(line)
        } catch {
            throw CoreError(.invalidValue, "not valid JSON: \(error)")
        }
        guard case .object(let object) = value else { throw CoreError(.invalidValue, "expected a JSON object") }
        for key in object.keys where !["collection", "id", "fields", "delete"].contains(key) {
            throw CoreError(.invalidValue, "unknown key \"\(key)\" (use collection, id, fields, delete)")
        }
        guard case .string(let collection)? = object["collection"] else {
            throw CoreError(.invalidValue, "\"collection\" must be a string")
        }
        self.collection = collection
        switch object["id"] {
        case nil, .null?: id = nil
        case .string(let text)?: id = text == "new" ? nil : text
        default: throw CoreError(.invalidValue, "\"id\" must be a string")
        }
        switch object["delete"] {
        case nil, .bool(false)?: delete = false
        case .bool(true)?: delete = true
        default: throw CoreError(.invalidValue, "\"delete\" must be true or false")
        }
        if delete, id == nil { throw CoreError(.invalidValue, "a deletion needs an \"id\"") }
        var assignments: [FieldAssignment] = []
        switch object["fields"] {
        case nil where delete: break
        case .object(let fields)?:
            for (key, raw) in fields.sorted(by: { $0.key < $1.key }) {
                var name = key, operation = FieldAssignment.Operation.set
                if name.hasSuffix("+") { name.removeLast(); operation = .add } else if name.hasSuffix("-") { name.removeLast(); operation = .remove }
                assignments.append(FieldAssignment(field: name, operation: operation, input: try Self.input(raw, field: name)))
            }
        default:
            throw CoreError(.invalidValue, "\"fields\" must be an object of field names and values")
        }
        self.assignments = assignments
    }

    static func input(_ value: JSONValue, field: String) throws -> FieldAssignment.Input {
        switch value {
        case .null: return .null
        case .string(let s): return .text(s)
        case .int(let i): return .text(String(i))
        case .number(let n): return .text(n)
        case .array(let items):
            return .list(try items.map { item in
                guard case .string(let s) = item else { throw CoreError(.invalidValue, "\(field): set elements must be strings") }
                return s
            })
        default:
            throw CoreError(.invalidValue, "\(field): give a string, a number, a list or null")
        }
    }
}
