import Foundation
import SiteSyncCore

// The security records of protocol/README.md, "Security", to and from their protobuf form.
// Decoding checks every length, so a hostile peer cannot slip in a short key or signature.

extension WireReplicaCredential {
    init(_ credential: ReplicaCredential) {
        self.init()
        replica = credential.replica.rawValue
        node = credential.node
        signingKey = Data(credential.signingKey)
        salt = Data(credential.salt)
    }
}

extension ReplicaCredential {
    init(wire: WireReplicaCredential) throws(WireError) {
        guard wire.replica != 0, wire.signingKey.count == 32, wire.salt.count == 8, wire.node.utf8.count <= 64 else {
            throw WireError(.invalid, "a replica credential lacks its replica, a 32-byte key or an 8-byte salt")
        }
        self.init(replica: ReplicaID(rawValue: wire.replica), node: wire.node, signingKey: Array(wire.signingKey), salt: Array(wire.salt))
    }
}

extension WireChainStart {
    init(_ start: ChainStart) {
        self.init()
        origin = start.chain.origin.rawValue
        department = start.chain.department
        counter = start.counter
        link = Data(start.link.bytes)
    }
}

extension ChainStart {
    init(wire: WireChainStart) throws(WireError) {
        guard wire.origin != 0, let link = ChainHash(Array(wire.link)), wire.department.utf8.count <= 64 else {
            throw WireError(.invalid, "a chain start lacks its origin or a 32-byte link")
        }
        self.init(chain: ChainKey(origin: ReplicaID(rawValue: wire.origin), department: wire.department), counter: wire.counter, link: link)
    }
}

extension WireSeal {
    init(_ seal: Seal) {
        self.init()
        origin = seal.chain.origin.rawValue
        department = seal.chain.department
        counter = seal.counter
        link = Data(seal.link.bytes)
        signature = Data(seal.signature)
    }
}

extension Seal {
    init(wire: WireSeal) throws(WireError) {
        guard wire.origin != 0, wire.counter > 0, let link = ChainHash(Array(wire.link)), wire.signature.count == 64,
              wire.department.utf8.count <= 64 else {
            throw WireError(.invalid, "a seal lacks its origin, its counter, a 32-byte link or a 64-byte signature")
        }
        self.init(chain: ChainKey(origin: ReplicaID(rawValue: wire.origin), department: wire.department), counter: wire.counter,
                  link: link, signature: Array(wire.signature))
    }
}

extension WireHole {
    init(_ hole: Hole) {
        self.init()
        origin = hole.dot.replica.rawValue
        counter = hole.dot.counter
        department = hole.department
        collection = UInt32(hole.record.collection)
        recordID = hole.record.id
        payloadHash = Data(hole.payloadHash.bytes)
        position = UInt32(clamping: hole.position)
    }
}

extension Hole {
    init(wire: WireHole) throws(WireError) {
        guard wire.origin != 0, wire.counter > 0, let hash = ChainHash(Array(wire.payloadHash)), wire.collection <= UInt32(UInt16.max),
              !wire.recordID.isEmpty, wire.recordID.utf8.count <= 256, wire.department.utf8.count <= 64 else {
            throw WireError(.invalid, "a withheld change lacks its dot, its record or a 32-byte hash")
        }
        self.init(dot: Dot(replica: ReplicaID(rawValue: wire.origin), counter: wire.counter), department: wire.department,
                  record: RecordKey(collection: UInt16(wire.collection), id: wire.recordID), payloadHash: hash,
                  position: Int(wire.position))
    }
}

extension WireRefusal {
    public init(_ refusal: Refusal) {
        self.init()
        origin = refusal.dot.replica.rawValue
        counter = refusal.dot.counter
        code = refusal.code.rawValue
        reason = refusal.reason
    }
}

extension Refusal {
    public init(wire: WireRefusal) throws(WireError) {
        guard wire.origin != 0, wire.counter > 0, let code = RefusalCode(rawValue: wire.code) else {
            throw WireError(.invalid, "a refusal lacks its dot or has the unknown code '\(WireError.printable(wire.code))'")
        }
        self.init(dot: Dot(replica: ReplicaID(rawValue: wire.origin), counter: wire.counter), code: code,
                  reason: String(wire.reason.prefix(500)))
    }
}

extension WireDirectory {
    init(_ directory: Directory) {
        self.init()
        entries = directory.entries.map { entry in
            WireDirectoryEntry.with {
                $0.node = entry.node
                $0.role = entry.role.rawValue
                $0.department = entry.department
                $0.key = entry.key.description
                $0.active = entry.active
            }
        }
    }
}

extension Directory {
    init(wire: WireDirectory) throws(WireError) {
        var entries: [DirectoryEntry] = []
        for entry in wire.entries.prefix(100_000) {
            guard let role = Role(rawValue: entry.role), let key = NodePublicKey(text: entry.key), !entry.node.isEmpty else {
                throw WireError(.invalid, "an allow-list entry lacks a node name, a known role or a key")
            }
            entries.append(DirectoryEntry(node: entry.node, role: role, department: entry.department, key: key, active: entry.active))
        }
        self.init(entries)
    }
}

extension BatchProof {
    init(starts: [WireChainStart], seals: [WireSeal], credentials: [WireReplicaCredential]) throws(WireError) {
        guard starts.count <= 100_000, seals.count <= 100_000, credentials.count <= 100_000 else {
            throw WireError(.invalid, "a batch carries too many chain records")
        }
        var proof = BatchProof()
        for start in starts { proof.starts.append(try ChainStart(wire: start)) }
        for seal in seals { proof.seals.append(try Seal(wire: seal)) }
        for credential in credentials { proof.credentials.append(try ReplicaCredential(wire: credential)) }
        self = proof
    }
}

/// A withheld change as the log stores it (`sync_change.status` 1): an encoded `sitesync.v1.Hole`.
public enum HoleCodec {
    public static func encode(_ hole: Hole) -> Data {
        // Serialising a plain generated message cannot fail.
        try! WireHole(hole).serializedData()
    }

    public static func decode(_ data: Data) throws(WireError) -> Hole {
        let wire: WireHole
        do { wire = try WireHole(serializedBytes: data) } catch { throw WireError(.malformed, "a withheld change does not decode") }
        return try Hole(wire: wire)
    }
}
