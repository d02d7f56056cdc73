import Foundation
import SiteSyncCore
import SiteSyncStore
import Synchronization
import TOMLKit

/// The hub's allow-list: `allow-list.toml` in its data directory (format in
/// `config/allow-list.example.toml`), managed with `sitesync keys allow` and `keys revoke`, and
/// readable (and editable) by the operator. A running hub re-reads it when it changes: on every
/// use (one `stat`), so a key allowed a moment ago is let in at once, and every second from its
/// ``DirectoryReload`` service, so a revocation takes effect within a second even while no node
/// talks to the hub, and an edit that does not parse is reported at once.
///
/// A hub whose store is PostgreSQL keeps the same text in its store instead (docs/design.md
/// §18), so that every process of the hub enforces the same list: `keys allow` at any of them
/// reaches the others with their next catch-up, within a second or two.
public final class AllowListFile: ReloadableDirectory {
    public static let name = "allow-list.toml"
    public let path: String
    /// The store that keeps the list instead of the file, at a hub whose store is PostgreSQL.
    let store: ReplicaStore?
    /// The hub's own entry, part of the list it hands out (nodes check the hub's changes too).
    let hub: DirectoryEntry?
    /// The list in force, the version of the text it came from, and the version of a text that
    /// did not parse (reported once, not on every use).
    private let cache = Mutex<(version: [Int], directory: Directory, refused: [Int])>(([], Directory(), []))

    public init(path: String, hub: DirectoryEntry? = nil, store: ReplicaStore? = nil) {
        self.path = path
        self.hub = hub
        self.store = store
    }

    /// Where the list is kept, for messages.
    public var source: String { store == nil ? path : "the allow-list in the hub's store" }

    /// The list as the file (or the store) says now: re-read whenever it changed (one `stat`
    /// per call otherwise, so a key allowed a moment ago is let in at once). A list that does
    /// not parse keeps the last good list in force, and says so on stderr.
    public func current() -> Directory {
        var stored: String?
        let version: [Int]
        if let store {
            // A store that cannot be read this moment (busy) leaves the list in force as it is.
            guard let text = try? store.hubSetting(Self.storeKey) ?? "" else { return cache.withLock { $0.directory } }
            stored = text
            version = [text.hashValue]
        } else {
            var info = stat()
            version = stat(path, &info) == 0
                ? [Int(info.st_ino), Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)] : [0]
        }
        return cache.withLock { cache in
            guard version != cache.version, version != cache.refused else { return cache.directory }
            do {
                var directory = try stored.map { try Self.parse($0, source: source) } ?? Self.read(path)
                if let hub, directory.entry(node: hub.node) == nil { directory.upsert(hub) }
                cache.directory = directory
                cache.version = version
                cache.refused = []
            } catch {
                cache.refused = version
                FileHandle.standardError.write(Data("sitesync: \(error); the previous allow-list stays in force until the list is fixed\n".utf8))
            }
            return cache.directory
        }
    }

    /// The list as kept now (an empty list when there is none).
    public func read() throws -> Directory {
        guard let store else { return try Self.read(path) }
        return try Self.parse(try store.hubSetting(Self.storeKey) ?? "", source: source)
    }

    /// Keeps `directory` as the list: in the file, atomically, or in the store.
    public func write(_ directory: Directory) throws {
        guard let store else { return try Self.write(directory, to: path) }
        try store.setHubSetting(Self.storeKey, Self.text(directory))
    }

    /// The key of the list's text among the store's hub settings.
    static let storeKey = "allow_list"

    /// Checks the file now (what ``current()`` does on every use).
    public func reload() {
        _ = current()
    }

    /// Reads the file (an empty list when it does not exist).
    public static func read(_ path: String) throws -> Directory {
        guard FileManager.default.fileExists(atPath: path) else { return Directory() }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw NodeError(.configuration, "cannot read \(path); check its permissions")
        }
        return try parse(text, source: path)
    }

    /// The list `text` holds, in the file's format; `source` names it in errors.
    static func parse(_ text: String, source path: String) throws -> Directory {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw NodeError(.configuration, "\(path):\(error.source.begin.line): \(error.description)")
        }
        var entries: [DirectoryEntry] = []
        for (index, item) in (table["node"]?.array ?? TOMLArray()).enumerated() {
            let number = index + 1
            guard let node = item.table else { throw NodeError(.configuration, "\(path): [[node]] \(number) is not a table") }
            func text(_ key: String) throws -> String {
                guard let value = node[key]?.string else {
                    throw NodeError(.configuration, "\(path): [[node]] \(number) lacks `\(key)` (a quoted string)")
                }
                return value
            }
            let name = try text("name")
            try NodeConfiguration.validateName(name)
            // A misspelt key (`stauts = "revoked"`) must not leave a node allowed by mistake.
            for key in node.keys where !["name", "role", "department", "key", "status"].contains(key) {
                throw NodeError(.configuration, "\(path): [[node]] \(name): unknown key `\(key)` (the keys are name, role, department, key, status)")
            }
            guard let role = Role(rawValue: try text("role")), role != .hub else {
                throw NodeError(.configuration,
                    "\(path): [[node]] \(name): '\(try text("role"))' is not a role a node can be allowed as (field, department, office, auditor)")
            }
            let department = try text("department")
            if (try? DepartmentCode.validate(department)) == nil {
                throw NodeError(.configuration, "\(path): [[node]] \(name): '\(department)' is not a department code")
            }
            guard let key = NodePublicKey(text: try text("key")) else {
                throw NodeError(.configuration,
                    "\(path): [[node]] \(name): the key is not a SiteSync node key (the 80 characters `sitesync keys show` prints)")
            }
            let status = node["status"]?.string ?? "active"
            guard status == "active" || status == "revoked" else {
                throw NodeError(.configuration, "\(path): [[node]] \(name): status must be active or revoked")
            }
            guard !entries.contains(where: { $0.node == name }) else {
                throw NodeError(.configuration, "\(path): node \(name) is listed twice")
            }
            guard !entries.contains(where: { $0.key.curve == key.curve || $0.key.signing == key.signing }) else {
                throw NodeError(.configuration, "\(path): node \(name) has the same key as another node; every node needs its own")
            }
            entries.append(DirectoryEntry(node: name, role: role, department: department, key: key, active: status == "active"))
        }
        return Directory(entries)
    }

    /// Writes the list atomically (a temporary file, synced, renamed over the old one).
    public static func write(_ directory: Directory, to path: String) throws {
        let text = text(directory)
        let temporary = path + ".partial"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)) else {
            throw NodeError(.usage, "cannot write \(temporary); check permissions and free space")
        }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: temporary))
        try handle.synchronize()
        try handle.close()
        guard rename(temporary, path) == 0 else {
            throw NodeError(.usage, "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The list in the file's format.
    static func text(_ directory: Directory) -> String {
        var text = """
            # SiteSync allow-list: the nodes this hub accepts, by key. Managed with
            # `sitesync keys allow` and `sitesync keys revoke`; the format is in
            # config/allow-list.example.toml. A running hub re-reads this file within a second.

            """
        for entry in directory.entries {
            text += """

                [[node]]
                name = "\(entry.node)"
                department = "\(entry.department)"
                role = "\(entry.role.rawValue)"
                key = "\(entry.key)"
                status = "\(entry.active ? "active" : "revoked")"

                """
        }
        return text
    }
}
