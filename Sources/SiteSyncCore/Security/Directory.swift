/// One node the hub allows (an allow-list entry), as the hub's `allow-list.toml` records it and
/// as nodes learn it from the hub to check what their peers send.
public struct DirectoryEntry: Hashable, Sendable {
    public let node: String
    public let role: Role
    public let department: String
    public let key: NodePublicKey
    /// `false` once revoked: the key may no longer connect, and changes signed by it are refused.
    public let active: Bool

    public init(node: String, role: Role, department: String, key: NodePublicKey, active: Bool = true) {
        self.node = node
        self.role = role
        self.department = department
        self.key = key
        self.active = active
    }

    public var writer: WriterIdentity { WriterIdentity(role: role, department: department) }
}

/// The nodes the hub allows: the hub's allow-list, or a node's copy of it.
public struct Directory: Hashable, Sendable {
    public private(set) var entries: [DirectoryEntry]

    public init(_ entries: [DirectoryEntry] = []) {
        self.entries = entries.sorted { $0.node < $1.node }
    }

    public var isEmpty: Bool { entries.isEmpty }

    public func entry(node: String) -> DirectoryEntry? { entries.first { $0.node == node } }

    /// The active entry holding this CURVE public key.
    public func active(curveKey: [UInt8]) -> DirectoryEntry? { entries.first { $0.active && $0.key.curve == curveKey } }

    /// The entry holding this signing key, active or not.
    public func entry(signingKey: [UInt8]) -> DirectoryEntry? { entries.first { $0.key.signing == signingKey } }

    /// Adds an entry, or replaces the one of the same node.
    public mutating func upsert(_ entry: DirectoryEntry) {
        entries.removeAll { $0.node == entry.node }
        entries.append(entry)
        entries.sort { $0.node < $1.node }
    }

    /// A hash of the entries, so a node can tell whether its copy is current.
    public var digest: String {
        SHA256Hex.digest(of: Array(entries.map {
            "\($0.node) \($0.role.rawValue) \($0.department) \($0.key) \($0.active ? "active" : "revoked")\n"
        }.joined().utf8))
    }

    /// Who may have written the changes of each origin replica whose credential is given:
    /// the entry holding the credential's key, when it is active and names the same node.
    /// - Returns: the writer of each resolved replica, and the replicas that resolve to nobody
    ///   (with the reason).
    public func writers(of credentials: [ReplicaCredential]) -> (known: [ReplicaID: WriterIdentity], unknown: [ReplicaID: String]) {
        var known: [ReplicaID: WriterIdentity] = [:]
        var unknown: [ReplicaID: String] = [:]
        for credential in credentials {
            guard let entry = entry(signingKey: credential.signingKey) else {
                unknown[credential.replica] = "replica \(credential.replica) (\(credential.node)) signs with a key that is not on the allow-list"
                continue
            }
            guard entry.active else {
                unknown[credential.replica] = "replica \(credential.replica) belongs to \(entry.node), whose key was revoked"
                continue
            }
            known[credential.replica] = entry.writer
        }
        return (known, unknown)
    }
}

/// What a receiver checks each change against: who wrote each origin replica, by key.
///
/// `nil` where no allow-list applies (a node in plaintext mode, or one that never heard
/// from its hub): then changes are checked only against their signatures.
public struct ChangeAuthorizer: Sendable {
    /// The writer of each origin replica the receiver can vouch for.
    public let writers: [ReplicaID: WriterIdentity]
    /// Origins nobody on the allow-list answers for, and why.
    public let unknown: [ReplicaID: String]
    /// Whether this receiver's allow-list is the last word (the hub's is). A node's copy may be
    /// behind, so a node refuses only what a known, active origin may not write; a change of an
    /// origin it does not know (yet) is taken on its signature, and the hub decides when the
    /// change reaches it (a refusal then comes back as a hole and retracts it everywhere).
    public let authoritative: Bool

    public init(writers: [ReplicaID: WriterIdentity], unknown: [ReplicaID: String] = [:], authoritative: Bool) {
        self.writers = writers
        self.unknown = unknown
        self.authoritative = authoritative
    }

    /// Why the change may not be applied, or `nil`.
    /// - Parameters:
    ///   - held: the record as this receiver holds it (`nil` or empty when never seen).
    ///   - referrers: counts the live records referring to a record, by collection; asked only
    ///     by an authoritative receiver, for a deletion (a record in use is never deleted).
    public func refusal(for change: Change, held: RecordState?, schema: Schema,
                        referrers: ((RecordKey) throws -> [String: Int])? = nil) throws -> Refusal? {
        guard let writer = writers[change.dot.replica] else {
            guard authoritative else { return nil }
            return Refusal(dot: change.dot, code: .foreignActor,
                           reason: unknown[change.dot.replica] ?? "replica \(change.dot.replica) is not known to sign for any allowed node")
        }
        return try WritePolicy.refusal(for: change, by: writer, held: held, schema: schema, referrers: authoritative ? referrers : nil)
    }
}
