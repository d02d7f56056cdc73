import Crypto
import Foundation

/// A SHA-256 value in an origin's hash chain.
public struct ChainHash: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    private init(digest: SHA256.Digest) {
        bytes = Array(digest)
    }

    /// The link before an origin's first change.
    public static let genesis = ChainHash([UInt8](repeating: 0, count: 32))!

    /// SHA-256 of a change's encoded bytes, hashed where they lie (no copy: a bulk apply
    /// hashes every payload it receives).
    public static func of(payload: some DataProtocol) -> ChainHash {
        var hasher = SHA256()
        hasher.update(data: payload)
        return ChainHash(digest: hasher.finalize())
    }

    /// SHA-256 of a change's encoded bytes.
    public static func of(payload: some Sequence<UInt8>) -> ChainHash {
        var hasher = SHA256()
        hasher.update(data: Array(payload))
        return ChainHash(digest: hasher.finalize())
    }

    /// The link of change `dot` whose payload hashes to `payloadHash`, following `previous`:
    /// SHA-256("sitesync/link/v1" ‖ previous ‖ origin ‖ counter ‖ payload hash), integers big-endian.
    public static func link(after previous: ChainHash, dot: Dot, payloadHash: ChainHash) -> ChainHash {
        var bytes = Array("sitesync/link/v1".utf8)
        bytes.reserveCapacity(16 + 32 + 16 + 32)
        bytes += previous.bytes
        bytes += bigEndian(dot.replica.rawValue)
        bytes += bigEndian(dot.counter)
        bytes += payloadHash.bytes
        return ChainHash(digest: SHA256.hash(data: bytes))
    }

    public var description: String { SHA256Hex.hex(bytes) }
}

func bigEndian(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
}

/// One hash chain: every change of one origin replica in one department, in counter order.
///
/// Chains are per department so that a node that receives only its department's records still
/// holds whole chains, and can check them.
public struct ChainKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let origin: ReplicaID
    /// The department of the chain's changes ("" for shared reference data).
    public let department: String

    public init(origin: ReplicaID, department: String) {
        self.origin = origin
        self.department = department
    }

    public static func < (lhs: ChainKey, rhs: ChainKey) -> Bool {
        (lhs.origin, lhs.department) < (rhs.origin, rhs.department)
    }

    public var description: String { "\(origin)/\(department.isEmpty ? "shared" : department)" }
}

/// An origin's signature over the head of one of its chains: whoever holds the chain up to
/// `counter` can check that every change in it is exactly as the origin wrote it.
public struct Seal: Hashable, Sendable {
    public let chain: ChainKey
    public let counter: UInt64
    public let link: ChainHash
    /// Ed25519, 64 bytes.
    public let signature: [UInt8]

    public init(chain: ChainKey, counter: UInt64, link: ChainHash, signature: [UInt8]) {
        self.chain = chain
        self.counter = counter
        self.link = link
        self.signature = signature
    }

    /// Signs the head of `chain` at `counter`.
    public static func make(chain: ChainKey, counter: UInt64, link: ChainHash, key: NodeSecretKey) -> Seal {
        Seal(chain: chain, counter: counter, link: link, signature: key.sign(signedBytes(chain: chain, counter: counter, link: link)))
    }

    /// Whether the signature is `signingKey`'s.
    public func isValid(signingKey: [UInt8]) -> Bool {
        NodeSecretKey.verify(signature, of: Self.signedBytes(chain: chain, counter: counter, link: link), by: signingKey)
    }

    /// "sitesync/seal/v1" ‖ origin ‖ department length (1 byte) ‖ department ‖ counter ‖ link.
    static func signedBytes(chain: ChainKey, counter: UInt64, link: ChainHash) -> [UInt8] {
        let department = Array(chain.department.utf8)
        return Array("sitesync/seal/v1".utf8) + bigEndian(chain.origin.rawValue) + [UInt8(truncatingIfNeeded: department.count)]
            + department + bigEndian(counter) + link.bytes
    }
}

/// Where a chain segment in a batch starts: the counter and link of the change before its first
/// one (counter 0 and the genesis link when it starts at the origin's first change).
public struct ChainStart: Hashable, Sendable {
    public let chain: ChainKey
    public let counter: UInt64
    public let link: ChainHash

    public init(chain: ChainKey, counter: UInt64, link: ChainHash) {
        self.chain = chain
        self.counter = counter
        self.link = link
    }
}

/// A change whose content is withheld: refused by the hub, or retracted. It keeps its place in
/// its origin's chain (by the hash of its bytes), and its dot counts as superseded in its record,
/// so that later changes made on top of it still apply.
public struct Hole: Hashable, Sendable {
    public let dot: Dot
    public let department: String
    public let record: RecordKey
    public let payloadHash: ChainHash
    /// Its place in a batch: how many of the batch's changes come before it (log order matters:
    /// a change may build on a withheld one, and vice versa).
    public let position: Int

    public init(dot: Dot, department: String, record: RecordKey, payloadHash: ChainHash, position: Int = 0) {
        self.dot = dot
        self.department = department
        self.record = record
        self.payloadHash = payloadHash
        self.position = position
    }

    /// The same hole at another place in a batch.
    public func at(_ position: Int) -> Hole {
        Hole(dot: dot, department: department, record: record, payloadHash: payloadHash, position: position)
    }

    public var chain: ChainKey { ChainKey(origin: dot.replica, department: department) }
}

/// What a batch must carry for its receiver to check it: for each chain it touches, where the
/// segment starts and the origin's seal at its last change; and each origin's credential.
public struct BatchProof: Hashable, Sendable {
    public var starts: [ChainStart]
    public var seals: [Seal]
    public var credentials: [ReplicaCredential]

    public init(starts: [ChainStart] = [], seals: [Seal] = [], credentials: [ReplicaCredential] = []) {
        self.starts = starts
        self.seals = seals
        self.credentials = credentials
    }

    public var isEmpty: Bool { starts.isEmpty && seals.isEmpty && credentials.isEmpty }
}

/// One entry of a batch as the chain sees it: a change's dot, department and payload hash.
public struct ChainEntry: Hashable, Sendable {
    public let dot: Dot
    public let department: String
    public let payloadHash: ChainHash

    public init(dot: Dot, department: String, payloadHash: ChainHash) {
        self.dot = dot
        self.department = department
        self.payloadHash = payloadHash
    }

    public var chain: ChainKey { ChainKey(origin: dot.replica, department: department) }
}

/// Checks a batch against its proof before anything of it is applied.
public enum ChainVerifier {
    /// The link of each entry (changes and holes, in any order), once every chain segment
    /// hashes from its start to a seal that its origin's key signed.
    /// - Throws: ``CoreError`` `.badSignature` naming the first chain that does not check out.
    public static func links(of entries: [ChainEntry], proof: BatchProof) throws(CoreError) -> [Dot: ChainHash] {
        var keys: [ReplicaID: [UInt8]] = [:]
        for credential in proof.credentials {
            guard credential.isValid else {
                throw CoreError(.badSignature, "the credential offered for replica \(credential.replica) does not match its key")
            }
            keys[credential.replica] = credential.signingKey
        }
        var starts: [ChainKey: ChainStart] = [:]
        for start in proof.starts { starts[start.chain] = start }
        var seals: [ChainKey: [UInt64: Seal]] = [:]
        for seal in proof.seals { seals[seal.chain, default: [:]][seal.counter] = seal }
        var byChain: [ChainKey: [ChainEntry]] = [:]
        for entry in entries { byChain[entry.chain, default: []].append(entry) }
        var links: [Dot: ChainHash] = [:]
        links.reserveCapacity(entries.count)
        for (chain, var segment) in byChain.sorted(by: { $0.key < $1.key }) {
            guard let start = starts[chain] else {
                throw CoreError(.badSignature, "the changes of chain \(chain) come without the start of their segment")
            }
            segment.sort { $0.dot.counter < $1.dot.counter }
            var counter = start.counter
            var link = start.link
            for entry in segment {
                guard entry.dot.counter > counter else {
                    throw CoreError(.badSignature, "change \(entry.dot) is repeated or out of order in its chain \(chain)")
                }
                link = ChainHash.link(after: link, dot: entry.dot, payloadHash: entry.payloadHash)
                counter = entry.dot.counter
                links[entry.dot] = link
            }
            guard let key = keys[chain.origin] else {
                throw CoreError(.badSignature, "no key is offered for replica \(chain.origin), so its changes cannot be checked")
            }
            guard seals[chain]?[counter] != nil else {
                throw CoreError(.badSignature, "the changes of chain \(chain) up to \(counter) come without their origin's seal")
            }
            // Every seal is checked, the last and any before it (they are kept, and vouch for
            // the changes before them to whoever this replica passes them on to).
            for (sealedCounter, seal) in seals[chain]!.sorted(by: { $0.key < $1.key }) {
                guard links[Dot(replica: chain.origin, counter: sealedCounter)] == seal.link, seal.isValid(signingKey: key) else {
                    throw CoreError(.badSignature,
                        "the changes of chain \(chain) up to \(sealedCounter) do not match their origin's signature: "
                        + "they were altered after they were written")
                }
            }
        }
        for chain in seals.keys where byChain[chain] == nil {
            throw CoreError(.badSignature, "a seal is offered for chain \(chain), which has no changes in the batch")
        }
        return links
    }
}

/// A bundle's signature: its sender's Ed25519 signature of the SHA-256 of every byte before its
/// trailer (protocol §13). Without it, whoever carries the file could rewrite its header (who
/// sent it, what the sender holds, which changes the hub refused) and fix up the checksum.
public enum BundleSignature {
    /// Signs a bundle's digest with the sender's key.
    public static func sign(digest: [UInt8], key: NodeSecretKey) -> [UInt8] {
        key.sign(signedBytes(digest: digest))
    }

    /// Whether `signature` is `signer`'s signature of the digest, and the credential is sound.
    public static func isValid(_ signature: [UInt8], digest: [UInt8], signer: ReplicaCredential) -> Bool {
        signer.isValid && NodeSecretKey.verify(signature, of: signedBytes(digest: digest), by: signer.signingKey)
    }

    /// "sitesync/bundle/v1" ‖ the 32-byte digest.
    static func signedBytes(digest: [UInt8]) -> [UInt8] {
        Array("sitesync/bundle/v1".utf8) + digest
    }
}
