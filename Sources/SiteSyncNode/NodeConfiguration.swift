import Foundation
import SiteSyncCore
import SiteSyncStore
import TOMLKit

/// A node's configuration: `node.toml` in its data directory, every key documented in
/// `config/node.example.toml`, each overridable by an environment variable
/// `SITESYNC_<SECTION>_<KEY>` (for example `SITESYNC_STORAGE_DURABILITY=normal`).
public struct NodeConfiguration: Sendable, Equatable {
    /// `[node] name`: the node's human name, unique in the fleet.
    public var name: String
    /// `[node] department`: the department code this node belongs to.
    public var department: String
    /// `[node] role`: what this node may write and receive.
    public var role: Role
    /// `[storage] durability`: SQLite's synchronous mode; `full` unless you know why not.
    public var durability: StoreOptions.Durability

    public init(name: String, department: String, role: Role, durability: StoreOptions.Durability = .full) {
        self.name = name
        self.department = department
        self.role = role
        self.durability = durability
    }

    /// The keys this version understands, by section.
    static let knownKeys: [String: Set<String>] = [
        "node": ["name", "department", "role"],
        "storage": ["durability"],
    ]

    /// Validates a node name: 1–64 characters of letters, digits, `.`, `_` and `-`.
    public static func validateName(_ name: String) throws {
        let ok = (1...64).contains(name.utf8.count) && name.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || [0x2E, 0x5F, 0x2D].contains($0)
        }
        guard ok else {
            throw NodeError(.configuration, "node name '\(name)' must be 1 to 64 letters, digits, '.', '_' or '-' (e.g. site-12)")
        }
    }

    /// Loads and checks `node.toml`, then applies environment overrides.
    /// - Throws: ``NodeError`` naming the file, the line and the key of a bad value.
    public static func load(from path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> NodeConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw NodeError(.notANode, "cannot read \(path); is this a SiteSync data directory? (create one with `sitesync init`)")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw NodeError(.configuration, "\(path):\(error.source.begin.line): \(error.description)")
        }
        func fail(_ section: String, _ key: String, _ message: String) -> NodeError {
            NodeError(.configuration, "\(path):\(line(of: key, in: section, text: text)): [\(section)] \(key): \(message)")
        }
        for section in table.keys {
            guard let known = knownKeys[section] else {
                throw NodeError(.configuration,
                    "\(path):\(line(ofSection: section, text: text)): unknown section [\(section)]; the sections are \(knownKeys.keys.sorted().joined(separator: ", "))")
            }
            guard let inner = table[section]?.table else {
                throw NodeError(.configuration, "\(path): \(section) must be a [section]")
            }
            for key in inner.keys where !known.contains(key) {
                throw fail(section, key, "unknown key; the keys of [\(section)] are \(known.sorted().joined(separator: ", "))")
            }
        }
        func variable(_ section: String, _ key: String) -> String { "SITESYNC_\(section.uppercased())_\(key.uppercased())" }
        func string(_ section: String, _ key: String) throws -> String? {
            if let value = environment[variable(section, key)] { return value }
            guard let value = table[section]?.table?[key] else { return nil }
            guard let s = value.string else { throw fail(section, key, "must be a quoted string") }
            return s
        }
        func required(_ section: String, _ key: String) throws -> String {
            guard let value = try string(section, key) else {
                throw NodeError(.configuration, "\(path): [\(section)] \(key) is missing; see config/node.example.toml")
            }
            return value
        }
        /// Runs a check, naming where a bad value came from: the environment or the file's line.
        func check<T>(_ section: String, _ key: String, _ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch {
                let message = (error as? NodeError)?.message ?? (error as? CoreError)?.message ?? "\(error)"
                if environment[variable(section, key)] != nil {
                    throw NodeError(.configuration, "environment variable \(variable(section, key)): \(message)")
                }
                throw fail(section, key, message)
            }
        }
        let name = try required("node", "name")
        try check("node", "name") { try validateName(name) }
        let department = try required("node", "department")
        try check("node", "department") { try DepartmentCode.validate(department) }
        let roleText = try required("node", "role")
        let role = try check("node", "role") { () throws -> Role in
            guard let role = Role(rawValue: roleText) else {
                throw NodeError(.configuration, "'\(roleText)' is not a role; use one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return role
        }
        let durabilityText = try string("storage", "durability") ?? "full"
        let durability = try check("storage", "durability") { () throws -> StoreOptions.Durability in
            guard let value = StoreOptions.Durability(rawValue: durabilityText) else {
                throw NodeError(.configuration, "'\(durabilityText)' is not a durability; use full, normal or off")
            }
            return value
        }
        return NodeConfiguration(name: name, department: department, role: role, durability: durability)
    }

    /// The text of a fresh `node.toml`, with a comment on every key.
    public var tomlText: String {
        """
        # SiteSync node configuration. Every key is documented in config/node.example.toml;
        # each can be overridden by an environment variable SITESYNC_<SECTION>_<KEY>.

        [node]
        # This node's name, unique in the fleet (letters, digits, '.', '_', '-').
        name = "\(name)"
        # The department this node belongs to (its short code).
        department = "\(department)"
        # field | department | office | auditor | hub
        role = "\(role.rawValue)"

        [storage]
        # SQLite synchronous mode: full (every write durable when the command returns), normal, off.
        durability = "\(durability.rawValue)"

        """
    }

    static func line(of key: String, in section: String, text: String) -> String {
        var current = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") { current = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")) }
            if current == section, line.hasPrefix(key), line.dropFirst(key.count).trimmingCharacters(in: .whitespaces).hasPrefix("=") {
                return String(index + 1)
            }
        }
        return "?"
    }

    static func line(ofSection section: String, text: String) -> String {
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where raw.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "[] ")) == section {
            return String(index + 1)
        }
        return "?"
    }
}
