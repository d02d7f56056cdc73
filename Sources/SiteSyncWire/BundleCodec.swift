import Crypto
import Foundation
import SiteSyncCore
import SwiftProtobuf

/// A decoded change bundle: its checksum and its sender's signature verified (the changes'
/// own chains and seals are checked on import).
public struct Bundle: Sendable {
    public let header: WireBundleHeader
    public let changes: [WireChangeEnvelope]
    public let holes: [Hole]
    public let proof: BatchProof
    /// The sender's replica, whose key signed the whole file (set by ``BundleCodec/read``).
    public let signer: ReplicaCredential?

    public init(header: WireBundleHeader, changes: [WireChangeEnvelope], holes: [Hole] = [], proof: BatchProof = BatchProof(),
                signer: ReplicaCredential? = nil) {
        self.header = header
        self.changes = changes
        self.holes = holes
        self.proof = proof
        self.signer = signer
    }
}

/// Who signs a bundle: the sender's current replica and its secret key.
public struct BundleSigner: Sendable {
    public let credential: ReplicaCredential
    public let key: NodeSecretKey

    public init(credential: ReplicaCredential, key: NodeSecretKey) {
        self.credential = credential
        self.key = key
    }
}

/// The change-bundle file format (protocol/README.md, "Bundles"): the 8 bytes `SSBUNDL1`, then
/// frames, each a varint length and a `BundleFrame`: one header; the origins' credentials and
/// the start of each chain; the changes and withheld changes in the sender's log order; the
/// seal of each chain; and a trailer holding the change count, a SHA-256 of every byte before
/// the trailer, and the sender's signature of that digest (so nothing in the file, its header
/// included, can be changed by whoever carries it).
public enum BundleCodec {
    public static let magic = Array("SSBUNDL1".utf8)
    public static let formatVersion: UInt32 = 2
    static let maxFrameBytes = 16 << 20

    /// Writes a bundle to `path` atomically: into a temporary file beside it, synced, then
    /// renamed, so that a crash never leaves a half-written bundle under the final name.
    /// - Returns: the number of bytes written.
    @discardableResult
    public static func write(_ bundle: Bundle, signedBy signer: BundleSigner, to path: String) throws -> Int {
        let changes = bundle.changes
        var bytes = magic
        var hasher = SHA256()
        func frame(_ frame: WireBundleFrame) throws {
            let body = try frame.serializedBytes() as [UInt8]
            var framed: [UInt8] = []
            framed.append(contentsOf: Self.varint(UInt64(body.count)))
            framed += body
            bytes += framed
        }
        try frame(WireBundleFrame.with { $0.header = bundle.header })
        for credential in bundle.proof.credentials { try frame(WireBundleFrame.with { $0.credential = WireReplicaCredential(credential) }) }
        for start in bundle.proof.starts { try frame(WireBundleFrame.with { $0.start = WireChainStart(start) }) }
        for change in changes { try frame(WireBundleFrame.with { $0.change = change }) }
        for hole in bundle.holes { try frame(WireBundleFrame.with { $0.hole = WireHole(hole) }) }
        for seal in bundle.proof.seals { try frame(WireBundleFrame.with { $0.seal = WireSeal(seal) }) }
        hasher.update(data: bytes)
        let digest = Array(hasher.finalize())
        try frame(WireBundleFrame.with {
            $0.trailer = WireBundleTrailer.with {
                $0.changeCount = UInt64(changes.count)
                $0.sha256 = Data(digest)
                $0.signer = WireReplicaCredential(signer.credential)
                $0.signature = Data(BundleSignature.sign(digest: digest, key: signer.key))
            }
        })
        let temporary = path + ".partial"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
            throw WireError(.invalid, "cannot write \(path): check that the directory exists and is writable, and that the disk has space")
        }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: temporary))
        try handle.synchronize()
        try handle.close()
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
        return bytes.count
    }

    /// Reads and verifies a bundle: the magic, every frame, the trailer's count and checksum,
    /// the sender's signature of that checksum (by the replica the header names as sender), and
    /// the versions in the header.
    /// - Throws: ``WireError`` `foreign` (not a bundle), `corrupted` (truncated or damaged),
    ///   `tampered` (not signed by the sender it names), `incompatible` (another format,
    ///   protocol or schema).
    public static func read(_ data: Data, file: String, schema: Schema) throws(WireError) -> Bundle {
        let bytes = [UInt8](data)
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            throw WireError(.foreign, "\(file) is not a SiteSync bundle (it does not start with SSBUNDL1)")
        }
        var offset = magic.count
        var header: WireBundleHeader?
        var changes: [WireChangeEnvelope] = []
        var holes: [Hole] = []
        var proof = BatchProof()
        while offset < bytes.count {
            let frameStart = offset
            guard let length = Varint.read(bytes, at: &offset, end: bytes.count), length <= UInt64(maxFrameBytes),
                  offset + Int(length) <= bytes.count else {
                throw WireError(.corrupted, "\(file) is truncated or damaged at byte \(frameStart); copy it again from its source")
            }
            let body = bytes[offset..<(offset + Int(length))]
            offset += Int(length)
            let frame: WireBundleFrame
            do {
                frame = try WireBundleFrame(serializedBytes: Array(body))
            } catch {
                throw WireError(.corrupted, "\(file) is damaged at byte \(frameStart) (a frame does not decode); copy it again")
            }
            switch frame.frame {
            case .header(let h)?:
                guard header == nil, changes.isEmpty else {
                    throw WireError(.corrupted, "\(file) has a second header at byte \(frameStart); it is damaged: copy it again from its source")
                }
                header = h
                try checkCompatible(h, file: file, schema: schema)
            case .change(let c)?:
                guard header != nil else { throw WireError(.corrupted, "\(file) has changes before its header; it is damaged: copy it again from its source") }
                changes.append(c)
            case .hole(let h)?:
                guard header != nil else { throw WireError(.corrupted, "\(file) has records before its header; it is damaged: copy it again from its source") }
                holes.append(try Hole(wire: h))
            case .start(let c)?:
                guard header != nil else { throw WireError(.corrupted, "\(file) has records before its header; it is damaged: copy it again from its source") }
                proof.starts.append(try ChainStart(wire: c))
            case .seal(let c)?:
                guard header != nil else { throw WireError(.corrupted, "\(file) has records before its header; it is damaged: copy it again from its source") }
                proof.seals.append(try Seal(wire: c))
            case .credential(let c)?:
                guard header != nil else { throw WireError(.corrupted, "\(file) has records before its header; it is damaged: copy it again from its source") }
                proof.credentials.append(try ReplicaCredential(wire: c))
            case .trailer(let t)?:
                guard let header else { throw WireError(.corrupted, "\(file) has no header; it is damaged: copy it again from its source") }
                guard offset == bytes.count else {
                    throw WireError(.corrupted, "\(file) has data after its trailer; it is damaged: copy it again from its source")
                }
                let digest = Array(SHA256.hash(data: bytes[0..<frameStart]))
                guard t.sha256 == Data(digest), t.changeCount == UInt64(changes.count) else {
                    throw WireError(.corrupted, "\(file) fails its checksum: it was changed or damaged after it was written; copy it again")
                }
                let signer = try checkSignature(t, digest: digest, header: header, file: file)
                return Bundle(header: header, changes: changes, holes: holes, proof: proof, signer: signer)
            case nil:
                throw WireError(.corrupted, "\(file) has an unknown frame at byte \(frameStart); it is damaged (copy it again from its source) or from a newer SiteSync")
            }
        }
        throw WireError(.corrupted, "\(file) ends before its trailer: it is truncated (was the copy interrupted?); copy it again")
    }

    /// The sender's credential, once its signature of the file's digest checks out and it is the
    /// replica the header names as the sender.
    static func checkSignature(_ trailer: WireBundleTrailer, digest: [UInt8], header: WireBundleHeader,
                               file: String) throws(WireError) -> ReplicaCredential {
        let altered = "\(file) is not signed by the node it names as its sender (\(header.sender.node.isEmpty ? "none" : WireError.printable(header.sender.node))): "
            + "it was altered after it was written; nothing was imported. Get a fresh copy from its sender"
        guard trailer.hasSigner, let signer = try? ReplicaCredential(wire: trailer.signer) else {
            throw WireError(.tampered, altered)
        }
        guard signer.replica.rawValue == header.sender.replica, signer.node == header.sender.node,
              BundleSignature.isValid(Array(trailer.signature), digest: digest, signer: signer) else {
            throw WireError(.tampered, altered)
        }
        return signer
    }

    static func checkCompatible(_ header: WireBundleHeader, file: String, schema: Schema) throws(WireError) {
        guard header.formatVersion == formatVersion else {
            throw WireError(.incompatible, "\(file) uses bundle format \(header.formatVersion); this sitesync reads format \(formatVersion) "
                            + "(signed bundles): export it again with the same SiteSync version as this node")
        }
        guard header.protocolVersion == ProtocolVersion.current else {
            throw WireError(.incompatible,
                "\(file) was written with protocol version \(header.protocolVersion); this sitesync speaks \(ProtocolVersion.current): "
                + "upgrade the older side")
        }
        guard header.schemaVersion == schema.version, header.schemaHash == schema.hash else {
            throw WireError(.incompatible,
                "\(file) uses schema version \(header.schemaVersion) (\(WireError.printable(header.schemaHash, limit: 12))); this sitesync uses "
                + "\(schema.version) (\(schema.hash.prefix(12))): upgrade the older side")
        }
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: 10)
        writer.varint(value)
        return writer.bytes
    }
}
