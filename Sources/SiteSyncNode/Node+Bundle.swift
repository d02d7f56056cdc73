import Foundation
import SiteSyncCore
import SiteSyncStore
import SiteSyncWire

/// Which peer a bundle is cut for.
public enum BundleTarget: Sendable, Equatable {
    /// The hub, as far as this node knows what it holds.
    case hub
    /// A named node, per the knowledge it last reported here.
    case node(String)
    /// Everything this node holds.
    case all
}

/// What `bundle export` wrote.
public struct BundleExportSummary: Sendable {
    public let changes: Int
    public let bytes: Int
    /// The node it was cut for ("" when for anyone).
    public let recipient: String
    /// Said when the bundle holds everything because nothing is known of the recipient.
    public let note: String?
}

/// What `bundle import` did.
public struct BundleImportSummary: Sendable {
    public let sender: String
    public let newChanges: Int
    public let alreadyKnown: Int
    /// Whether this node could take on all of the sender's knowledge (the sender's view covers
    /// this node's scope); otherwise only the sender's own changes count as complete, and
    /// others' may be offered again later (and skipped then).
    public let knowledgeAdopted: Bool
    /// Changes this node refused (a hub: by its allow-list), each with the reason.
    public let refusedHere: [Refusal]
    /// This node's changes the sender said it refused, now marked rejected here.
    public let rejectedBySender: Int
    /// Refusals the bundle listed but this node did not act on: only the hub's count.
    public let refusalsIgnored: Int
    /// Said when the bundle was cut for another node.
    public let note: String?
    /// The bundle's size.
    public let bytes: Int
}

extension Node {
    /// What received changes are checked against, besides their signatures: at the hub its
    /// allow-list (final), at a node its copy of it (refusing only what it can tell is wrong).
    var accessPolicy: AccessPolicy? {
        if configuration.sync.insecure { return nil }
        if isHub {
            let file = allowList
            return AccessPolicy(authoritative: true) { file.current() }
        }
        return AccessPolicy(authoritative: false) { [store] in
            guard let directory = try? store.directory(), !directory.isEmpty else { return nil }
            return directory
        }
    }

    /// Writes the changes `target` lacks, as far as this node knows, to a bundle file.
    public func exportBundle(to path: String, for target: BundleTarget) throws -> BundleExportSummary {
        let peers = try store.peers()
        var base = VersionVector()
        var scope = ReplicationScope.everything
        var recipient = ""
        var note: String?
        switch target {
        case .all:
            break
        case .hub:
            if let hub = peers.first(where: { $0.role == .hub }) {
                base = hub.knowledge
                recipient = hub.node
            } else {
                note = "nothing has been heard from a hub yet, so the bundle holds every change on this node"
            }
        case .node(let name):
            guard name != configuration.name else {
                throw NodeError(.usage, "\(name) is this node; cut the bundle for the node that will import it")
            }
            recipient = name
            if let peer = peers.first(where: { $0.node == name }) {
                base = peer.knowledge
                scope = peer.scope
            } else {
                note = "nothing has been heard from \(name) yet, so the bundle holds every change on this node"
            }
        }
        // A bundle carries changes, not record state: one cut for a node that lacks changes
        // this node compacted away would leave that node short without its knowing.
        if try store.lacksCompacted(base, scope: scope) {
            throw NodeError(.usage, (recipient.isEmpty ? "a bundle for anyone" : "a bundle for \(recipient)")
                + " would need changes this node no longer logs (they were compacted; every node the frontier counted holds them): "
                + "sync \(recipient.isEmpty ? "the node" : recipient) over the network once, which transfers the records' state, "
                + "or cut the bundle with --for NODE for a node whose knowledge this node has recorded")
        }
        let page = try store.changes(lackedBy: base, scope: scope)
        let changes = page.changes
        let names = try store.replicaNames()
        var header = WireBundleHeader()
        header.formatVersion = BundleCodec.formatVersion
        header.protocolVersion = ProtocolVersion.current
        header.schemaVersion = store.schema.version
        header.schemaHash = store.schema.hash
        header.sender = selfInfo
        header.recipient = recipient
        header.base = WireVersionVector(base)
        header.senderKnowledge = WireVersionVector(try store.knowledge())
        if case .department(let department) = scope { header.departments = [department] }
        header.createdMs = StoreOptions.systemClock()
        header.origins = Set(changes.map(\.dot.replica) + page.holes.map(\.dot.replica)).sorted().map { replica in
            WirePeerInfo.with { $0.replica = replica.rawValue; $0.node = names[replica] ?? "" }
        }
        // A hub tells the recipient which of its changes it refused (they come back in no other way).
        if !recipient.isEmpty { header.refusals = try store.refusalsIssued(to: recipient).map(WireRefusal.init) }
        let envelopes = changes.map { change in
            WireChangeEnvelope.with {
                $0.origin = change.dot.replica.rawValue
                $0.counter = change.dot.counter
                $0.change = change.payload
            }
        }
        let signer = BundleSigner(credential: store.identity.credential, key: try requireKey())
        let bytes = try BundleCodec.write(Bundle(header: header, changes: envelopes, holes: page.holes, proof: page.proof),
                                          signedBy: signer, to: path)
        var entry = SyncHistoryEntry(kind: .bundleOut, startedMilliseconds: header.createdMs, endedMilliseconds: StoreOptions.systemClock(),
                                     peer: recipient, endpoint: path, ok: true)
        entry.pushed = changes.count
        entry.bytesSent = bytes
        try? store.recordHistory(entry)
        return BundleExportSummary(changes: changes.count, bytes: bytes, recipient: recipient, note: note)
    }

    /// Who signed a bundle, as far as this node can tell: whether it is this node's hub (the
    /// only sender whose knowledge and refusals it takes), and the role to remember it by
    /// (`nil`: not to be remembered as a peer at all).
    ///
    /// The allow-list decides (the hub's own, or a node's copy of it): the signer's key must be
    /// the entry of the node it names. A node with no copy yet knows its hub by the key it pins;
    /// anyone else it remembers by the role claimed, never as a hub. Only in plaintext mode,
    /// where no key is checked anywhere, is a claim to be the hub taken as it stands.
    func bundleSender(_ signer: ReplicaCredential, claimed: Role) -> (isHub: Bool, role: Role?) {
        let directory = isHub ? allowList.current() : ((try? store.directory()) ?? Directory())
        if let entry = directory.entry(signingKey: signer.signingKey), entry.node == signer.node {
            return entry.active ? (entry.role == .hub && !isHub, entry.role) : (false, nil)
        }
        if configuration.sync.hubKey?.signing == signer.signingKey { return (!isHub, .hub) }
        // A key the allow-list does not give this name: a stranger, or someone else's name.
        if !directory.isEmpty { return (false, nil) }
        if configuration.sync.insecure { return (claimed == .hub && !isHub, claimed) }
        return (false, claimed == .hub ? nil : claimed)
    }

    /// This node as a peer sees it.
    var selfInfo: WirePeerInfo {
        WirePeerInfo.with {
            $0.node = configuration.name
            $0.replica = store.identity.replica.rawValue
            $0.role = configuration.role.rawValue
            $0.department = configuration.department
        }
    }

    /// Applies a bundle: checks it whole first, then applies its changes in batches (one
    /// transaction each). Changes already held are skipped, so importing twice is harmless.
    /// Afterwards this node knows what the sender held, so `bundle export --for SENDER` sends
    /// exactly what the sender lacks.
    /// - Parameter progress: told (changes applied, changes in the bundle) after each batch.
    public func importBundle(from path: String, batchSize: Int = 1000,
                             progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> BundleImportSummary {
        let started = StoreOptions.systemClock()
        do {
            let summary = try applyBundle(from: path, batchSize: batchSize, progress: progress)
            var entry = SyncHistoryEntry(kind: .bundleIn, startedMilliseconds: started, endedMilliseconds: StoreOptions.systemClock(),
                                         peer: summary.sender, endpoint: path, ok: true)
            entry.pulled = summary.newChanges + summary.alreadyKnown
            entry.pulledNew = summary.newChanges
            entry.refused = summary.rejectedBySender
            entry.bytesReceived = summary.bytes
            try? store.recordHistory(entry)
            return summary
        } catch {
            var entry = SyncHistoryEntry(kind: .bundleIn, startedMilliseconds: started, endedMilliseconds: StoreOptions.systemClock(),
                                         peer: "", endpoint: path, ok: false)
            entry.errorCode = "bundle"
            entry.error = "\(error)"
            try? store.recordHistory(entry)
            throw error
        }
    }

    private func applyBundle(from path: String, batchSize: Int, progress: ((Int, Int) -> Void)?) throws -> BundleImportSummary {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw NodeError(.bundle, "cannot read \(path): check the path (\(error.localizedDescription))")
        }
        let bundle = try BundleCodec.read(data, file: path, schema: store.schema)
        let header = bundle.header
        guard let claimedRole = Role(rawValue: header.sender.role), let signer = bundle.signer else {
            throw NodeError(.bundle, "\(path) does not say which node wrote it; it is damaged")
        }
        // The signature proves which replica wrote the file, not what that node may do: its
        // role comes from the allow-list, and only the hub's claims are acted on.
        let (fromHub, senderRole) = bundleSender(signer, claimed: claimedRole)
        let base = try VersionVector(wire: header.base)
        let senderKnowledge = try VersionVector(wire: header.senderKnowledge)
        let knowledge = try store.knowledge()
        if let gap = base.entries.first(where: { knowledge[$0.replica] < $0.counter }) {
            let names = try store.replicaNames()
            let origin = names[gap.replica].map { "\($0) (\(gap.replica))" } ?? gap.replica.description
            throw NodeError(.bundle,
                "\(path) continues from changes this node does not hold yet (\(origin) up to \(gap.counter), "
                + "this node has \(knowledge[gap.replica])): import the earlier bundle first, "
                + "or ask \(header.sender.node) for a full one with `sitesync bundle export --all`; nothing was imported")
        }
        var incoming: [IncomingChange] = []
        incoming.reserveCapacity(bundle.changes.count)
        for (index, envelope) in bundle.changes.enumerated() {
            do {
                incoming.append(try IncomingChange(origin: envelope.origin, counter: envelope.counter, payload: envelope.change,
                                                   schema: store.schema))
            } catch {
                throw NodeError(.bundle, "change \(index + 1) of \(path) is invalid (\(error.message)); nothing was imported")
            }
        }
        let checked: CheckedBatch
        do {
            checked = try CheckedBatch(changes: incoming, holes: bundle.holes, proof: bundle.proof)
        } catch {
            throw NodeError(.bundle, "\(path) does not match the signatures of the nodes that wrote its changes: it was altered "
                            + "after it was written (\(error.message)); get a fresh copy from \(header.sender.node)")
        }
        // Knowledge beyond the changes this node holds is taken only from the hub; from anyone
        // else it is a hint of what to send back, and this node's knowledge rises only through
        // the changes it now holds.
        let vouched = fromHub ? KnowledgeClaim.vouched(
            senderKnowledge: senderKnowledge, sender: ReplicaID(rawValue: header.sender.replica),
            senderScope: ReplicationScope(role: .hub, department: header.sender.department),
            cutFor: header.departments.count == 1 ? .department(header.departments[0]) : .everything, receiverScope: scope) : nil
        var report = ApplyReport()
        let chunks = checked.chunks(of: batchSize)
        let authorizer = SessionStore(store, access: accessPolicy).authorizer(for: checked.proof.credentials)
        for (index, chunk) in chunks.enumerated() {
            let claim: KnowledgeClaim = vouched.map { index == chunks.count - 1 ? .complete(vouched: $0) : .inOrder(vouched: $0) } ?? .none
            report += try store.apply(chunk, claim: claim, authorizer: authorizer)
            progress?(report.applied + report.alreadyKnown + report.refusals.count, incoming.count)
        }
        var refused = 0
        if !header.refusals.isEmpty && fromHub {
            var refusals: [Refusal] = []
            for refusal in header.refusals { refusals.append(try Refusal(wire: refusal)) }
            refused = try store.markRejected(refusals, by: header.sender.node)
        }
        try store.learnReplicaNames(header.origins.map { (ReplicaID(rawValue: $0.replica), $0.node) }
                                    + [(ReplicaID(rawValue: header.sender.replica), header.sender.node)])
        if header.sender.node != configuration.name, let senderRole {
            try store.recordPeer(PeerRecord(
                node: header.sender.node, replica: ReplicaID(rawValue: header.sender.replica), role: senderRole,
                department: header.sender.department, knowledge: senderKnowledge,
                // As of when the sender wrote the bundle: an old bundle does not make its sender look fresh.
                exchangedMilliseconds: header.createdMs, via: "bundle", syncedMilliseconds: header.createdMs,
                // Everything the sender wrote up to its knowledge was in the bundle, applied now.
                stableKnowledge: senderKnowledge))
        }
        let note = header.recipient.isEmpty || header.recipient == configuration.name
            ? nil : "this bundle was cut for \(header.recipient), not for this node"
        return BundleImportSummary(sender: header.sender.node, newChanges: report.applied, alreadyKnown: report.alreadyKnown,
                                   knowledgeAdopted: vouched == senderKnowledge, refusedHere: report.refusals,
                                   rejectedBySender: refused, refusalsIgnored: fromHub ? 0 : header.refusals.count, note: note,
                                   bytes: data.count)
    }
}
