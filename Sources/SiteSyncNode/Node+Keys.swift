import Foundation
import SiteSyncCore
import SiteSyncStore

extension Node {
    /// This node's public key, as operators pass it around.
    public func publicKey() throws -> NodePublicKey {
        try requireKey().publicKey
    }

    /// Pins the hub's key in `node.toml` (`[sync] hub_key`), keeping the rest of the file.
    public static func trustHub(at dataDirectory: String, key: NodePublicKey) throws {
        let path = dataDirectory + "/" + configurationFile
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw NodeError(.notANode, "cannot read \(path); is \(dataDirectory) a SiteSync data directory?")
        }
        if let hubs = try? NodeConfiguration.load(from: path).sync.hubs, !hubs.isEmpty {
            throw NodeError(.usage, "\(path) lists the hub's endpoints as [[sync.hubs]], each with its own key: edit the `key` of the "
                            + "endpoint whose key changed there (`sitesync keys show` in that hub process's data directory)")
        }
        let updated = NodeConfiguration.settingHubKey(key, in: text)
        do {
            try Data(updated.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw NodeError(.usage, "cannot write \(path): \(error.localizedDescription)")
        }
        // Check the result reads back: a broken node.toml must never be left behind.
        _ = try NodeConfiguration.load(from: path)
    }

    /// The hub's allow-list as its file says.
    public func allowListEntries() throws -> Directory {
        try requireHub("list the allow-list")
        return try allowList.read()
    }

    /// Allows (or re-allows, with a new role, department or key) a node at this hub.
    /// - Returns: the entry as written.
    @discardableResult
    public func allow(node name: String, role: Role, department: String, key: NodePublicKey) throws -> DirectoryEntry {
        try requireHub("allow nodes")
        try NodeConfiguration.validateName(name)
        do { try DepartmentCode.validate(department) } catch { throw NodeError(.usage, error.message) }
        guard name != configuration.name else {
            throw NodeError(.usage, "\(name) is this hub itself; allow the other nodes")
        }
        if let own = self.key, own.publicKey.curve == key.curve || own.publicKey.signing == key.signing {
            throw NodeError(.usage, "that is this hub's own key; give the key `sitesync keys show` prints on the node")
        }
        var directory = try allowList.read()
        if let other = directory.entries.first(where: { $0.node != name && ($0.key.curve == key.curve || $0.key.signing == key.signing) }) {
            throw NodeError(.usage, "that key already belongs to \(other.node); every node needs its own key")
        }
        let entry = DirectoryEntry(node: name, role: role, department: department, key: key, active: true)
        directory.upsert(entry)
        try allowList.write(directory)
        return entry
    }

    /// Revokes a node's key at this hub: it can no longer connect (a running hub cuts its open
    /// connection within a second), and changes signed by it are refused.
    @discardableResult
    public func revoke(node name: String) throws -> DirectoryEntry {
        try requireHub("revoke nodes")
        var directory = try allowList.read()
        guard let entry = directory.entry(node: name) else {
            throw NodeError(.usage, "\(name) is not on the allow-list; `sitesync keys list` shows who is")
        }
        let revoked = DirectoryEntry(node: entry.node, role: entry.role, department: entry.department, key: entry.key, active: false)
        directory.upsert(revoked)
        try allowList.write(directory)
        return revoked
    }

    private func requireHub(_ what: String) throws {
        guard isHub else {
            throw NodeError(.usage, "only the hub keeps an allow-list; this node is a \(configuration.role.rawValue) node. "
                            + "Run this against the hub's data directory to \(what)")
        }
    }
}
