import Foundation
import SiteSyncCore
import SwiftProtobuf

/// Session messages as ZeroMQ frames: the 4-byte signature `SSP1`, then one encoded
/// `sitesync.v1.SyncMessage` (protocol/README.md, "Framing").
public enum SyncFrames {
    public static let signature = Data("SSP1".utf8)
    /// The largest message a peer may send (set as `ZMQ_MAXMSGSIZE` too).
    public static let maxMessageBytes = 8 << 20

    public static func encode(_ message: SyncMessage) -> [Data] {
        var wire = WireSyncMessage()
        switch message {
        case .hello(let hello):
            wire.hello = WireHello.with {
                $0.protocolVersion = hello.versions.protocolVersion
                $0.schemaVersion = hello.versions.schemaVersion
                $0.schemaHash = hello.versions.schemaHash
                $0.peer = WirePeerInfo(hello.peer)
                $0.knowledge = WireVersionVector(hello.knowledge)
                $0.session = hello.session
                $0.limits = WireLimits(hello.limits)
                $0.subscribe = hello.subscribe
                if let credential = hello.credential { $0.credential = WireReplicaCredential(credential) }
                $0.directoryDigest = hello.directoryDigest
                $0.wallClockMs = hello.wallClock
            }
        case .welcome(let welcome):
            wire.welcome = WireWelcome.with {
                $0.protocolVersion = welcome.versions.protocolVersion
                $0.schemaVersion = welcome.versions.schemaVersion
                $0.schemaHash = welcome.versions.schemaHash
                $0.peer = WirePeerInfo(welcome.peer)
                $0.knowledge = WireVersionVector(welcome.knowledge)
                $0.session = welcome.session
                $0.limits = WireLimits(welcome.limits)
                if let credential = welcome.credential { $0.credential = WireReplicaCredential(credential) }
                if let client = welcome.client { $0.client = WirePeerInfo(client) }
                if let directory = welcome.directory { $0.directory = WireDirectory(directory) }
                $0.wallClockMs = welcome.wallClock
                $0.pullEstimate = welcome.pullEstimate
            }
        case .failure(let failure):
            wire.failure = WireFailure.with {
                $0.code = failure.code.rawValue
                $0.reason = failure.reason
                $0.session = failure.session
                $0.sequence = failure.sequence
                if let versions = failure.versions {
                    $0.protocolVersion = versions.protocolVersion
                    $0.schemaVersion = versions.schemaVersion
                    $0.schemaHash = versions.schemaHash
                }
            }
        case .batch(let batch):
            wire.batch = WireBatch.with {
                $0.session = batch.session
                $0.pull = batch.pull
                $0.sequence = batch.sequence
                $0.changes = BatchCodec.encode(batch.changes)
                $0.count = UInt32(batch.changes.count)
                if !batch.vouched.isEmpty { $0.vouched = WireVersionVector(batch.vouched) }
                $0.last = batch.last
                $0.origins = batch.origins.map(WirePeerInfo.init)
                $0.holes = batch.holes.map(WireHole.init)
                $0.starts = batch.proof.starts.map(WireChainStart.init)
                $0.seals = batch.proof.seals.map(WireSeal.init)
                $0.credentials = batch.proof.credentials.map(WireReplicaCredential.init)
                $0.states = batch.states.map(StateCodec.encode)
                $0.statesComplete = batch.statesComplete
                $0.heads = batch.heads.map(WireChainStart.init)
            }
        case .ack(let ack):
            wire.ack = WireAck.with {
                $0.session = ack.session
                $0.pull = ack.pull
                $0.sequence = ack.sequence
                $0.knowledge = WireVersionVector(ack.knowledge)
                $0.applied = UInt32(clamping: ack.applied)
                $0.known = UInt32(clamping: ack.known)
                $0.refusals = ack.refusals.map(WireRefusal.init)
            }
        case .pull(let pull):
            wire.pull = WirePull.with {
                $0.session = pull.session
                $0.knowledge = WireVersionVector(pull.knowledge)
            }
        case .bye(let session):
            wire.bye = WireBye.with { $0.session = session }
        case .hint(let knowledge):
            wire.hint = WireHint.with { $0.knowledge = WireVersionVector(knowledge) }
        }
        // Serialising plain generated messages cannot fail.
        return [signature, try! wire.serializedData()]
    }

    /// Decodes a message's frames (after any routing id).
    /// - Throws: ``WireError`` for a wrong signature or frame count (`foreign`), bytes that do
    ///   not decode (`malformed`), or content that breaks the protocol (`invalid`).
    public static func decode(_ frames: [Data], schema: Schema) throws(WireError) -> SyncMessage {
        guard frames.count == 2, frames[0] == signature else {
            throw WireError(.foreign, "not a SiteSync message: expected the frames [SSP1, message], got \(frames.count) frame\(frames.count == 1 ? "" : "s")")
        }
        let wire: WireSyncMessage
        do {
            wire = try WireSyncMessage(serializedBytes: frames[1])
        } catch {
            throw WireError(.malformed, "a message does not decode as a sitesync.v1.SyncMessage")
        }
        switch wire.body {
        case .hello(let m)?:
            return .hello(SyncMessage.Hello(
                versions: ProtocolVersions(protocolVersion: m.protocolVersion, schemaVersion: m.schemaVersion, schemaHash: m.schemaHash),
                peer: try PeerIdentity(wire: m.peer), knowledge: try VersionVector(wire: m.knowledge), session: m.session,
                limits: SessionLimits(wire: m.limits), subscribe: m.subscribe,
                credential: m.hasCredential ? try ReplicaCredential(wire: m.credential) : nil,
                directoryDigest: String(m.directoryDigest.prefix(64)), wallClock: m.wallClockMs))
        case .welcome(let m)?:
            return .welcome(SyncMessage.Welcome(
                versions: ProtocolVersions(protocolVersion: m.protocolVersion, schemaVersion: m.schemaVersion, schemaHash: m.schemaHash),
                peer: try PeerIdentity(wire: m.peer), knowledge: try VersionVector(wire: m.knowledge), session: m.session,
                limits: SessionLimits(wire: m.limits),
                credential: m.hasCredential ? try ReplicaCredential(wire: m.credential) : nil,
                client: m.hasClient ? try PeerIdentity(wire: m.client) : nil,
                directory: m.hasDirectory ? try Directory(wire: m.directory) : nil,
                wallClock: m.wallClockMs, pullEstimate: m.pullEstimate))
        case .failure(let m)?:
            guard let code = FailureCode(rawValue: m.code) else {
                throw WireError(.invalid, "a Failure has the unknown code \(m.code)")
            }
            let versions = m.protocolVersion == 0 && m.schemaHash.isEmpty ? nil
                : ProtocolVersions(protocolVersion: m.protocolVersion, schemaVersion: m.schemaVersion, schemaHash: m.schemaHash)
            return .failure(SyncMessage.Failure(code: code, reason: String(m.reason.prefix(2000)), session: m.session,
                                                sequence: m.sequence, versions: versions))
        case .batch(let m)?:
            guard m.count <= 100_000 else { throw WireError(.invalid, "a batch claims \(m.count) changes") }
            let changes = try BatchCodec.decode(m.changes, count: Int(m.count), schema: schema)
            var origins: [PeerIdentity] = []
            for origin in m.origins.prefix(4096) { origins.append(try PeerIdentity(wire: origin)) }
            guard m.holes.count <= 100_000 else { throw WireError(.invalid, "a batch carries \(m.holes.count) withheld changes") }
            var holes: [Hole] = []
            for hole in m.holes { holes.append(try Hole(wire: hole)) }
            guard m.states.count <= 100_000, m.heads.count <= 100_000 else {
                throw WireError(.invalid, "a batch carries \(m.states.count) record states and \(m.heads.count) chain heads")
            }
            var states: [RecordState] = []
            for state in m.states { states.append(try StateCodec.decode(state, schema: schema)) }
            var heads: [ChainStart] = []
            for head in m.heads { heads.append(try ChainStart(wire: head)) }
            return .batch(SyncMessage.Batch(
                session: m.session, pull: m.pull, sequence: m.sequence, changes: changes, vouched: try VersionVector(wire: m.vouched),
                last: m.last, origins: origins, holes: holes,
                proof: try BatchProof(starts: m.starts, seals: m.seals, credentials: m.credentials),
                states: states, statesComplete: m.statesComplete, heads: heads))
        case .ack(let m)?:
            var refusals: [Refusal] = []
            for refusal in m.refusals.prefix(100_000) { refusals.append(try Refusal(wire: refusal)) }
            return .ack(SyncMessage.Ack(session: m.session, pull: m.pull, sequence: m.sequence, knowledge: try VersionVector(wire: m.knowledge),
                                        applied: Int(m.applied), known: Int(m.known), refusals: refusals))
        case .pull(let m)?:
            return .pull(SyncMessage.Pull(session: m.session, knowledge: try VersionVector(wire: m.knowledge)))
        case .bye(let m)?:
            return .bye(session: m.session)
        case .hint(let m)?:
            return .hint(knowledge: try VersionVector(wire: m.knowledge))
        case nil:
            throw WireError(.invalid, "a message of an unknown type (a newer protocol?)")
        }
    }
}

extension WirePeerInfo {
    init(_ peer: PeerIdentity) {
        self.init()
        node = peer.node
        replica = peer.replica.rawValue
        role = peer.role.rawValue
        department = peer.department
    }
}

extension PeerIdentity {
    init(wire: WirePeerInfo) throws(WireError) {
        guard let role = Role(rawValue: wire.role), wire.replica != 0, !wire.node.isEmpty, wire.node.utf8.count <= 64 else {
            throw WireError(.invalid, "a peer description lacks a node name, a replica or a known role")
        }
        self.init(node: wire.node, replica: ReplicaID(rawValue: wire.replica), role: role, department: wire.department)
    }
}

extension WireLimits {
    init(_ limits: SessionLimits) {
        self.init()
        batchChanges = UInt32(clamping: limits.batchChanges)
        batchBytes = UInt32(clamping: limits.batchBytes)
        window = UInt32(clamping: limits.window)
    }
}

extension SessionLimits {
    /// A peer's limits, kept within what this side is willing to do for anyone.
    init(wire: WireLimits) {
        self.init(batchChanges: Int(min(wire.batchChanges, 10_000)), batchBytes: Int(min(wire.batchBytes, 4 << 20)),
                  window: Int(min(wire.window, 16)))
    }
}
