/// The client side of one sync round (protocol/README.md, "Dialogs"): greet, push what the
/// server lacks, pull what this side lacks, say goodbye.
///
/// A pure state machine: feed it ``SessionEvent``s, carry out the ``SessionEffect``s it returns.
/// Tests drive it without sockets; SiteSyncNet drives it with ZeroMQ and a store.
public struct ClientSession: Sendable {
    public enum Phase: Sendable, Equatable { case greeting, pushing, pulling, done, failed }

    public let session: UInt64
    public let me: PeerIdentity
    public let versions: ProtocolVersions
    /// What this side accepts from the server.
    public let limits: SessionLimits
    public let subscribe: Bool
    /// This side's replica credential and the digest of its copy of the allow-list, for the Hello.
    public let credential: ReplicaCredential?
    public let directoryDigest: String
    /// This side's wall clock for the Hello (milliseconds since 1970).
    public let wallClock: UInt64
    /// Per peer node, the last counter of this replica it was seen to acknowledge, as recorded
    /// in this database (after every acknowledged batch). A peer that holds more of this
    /// replica than that may hold other content for those ids (this database was restored from
    /// a copy): they are pushed again, for the peer to compare.
    public let acknowledgedOwn: [String: UInt64]
    /// Where this session's push starts for this replica's own changes, if lower than the
    /// peer's knowledge.
    private var recheckFrom: UInt64?
    /// While rechecking: how far this replica's own changes were compared and acknowledged
    /// in this session, and the highest own counter each push batch in flight carries.
    private var ownConfirmed: UInt64 = 0
    private var ownCarried: [UInt64: UInt64] = [:]
    public private(set) var phase: Phase = .greeting
    public private(set) var server: SyncMessage.Welcome?
    public private(set) var summary = SessionSummary()
    private var knowledge: VersionVector
    private var push = BatchWindow(window: 1)
    private var pushCursor: Int64 = 0
    private var reading = false
    private var pushExhausted = false
    private var pull = BatchSequencer()

    public init(session: UInt64, me: PeerIdentity, versions: ProtocolVersions, knowledge: VersionVector,
                limits: SessionLimits = SessionLimits(), subscribe: Bool = false, credential: ReplicaCredential? = nil,
                directoryDigest: String = "", wallClock: UInt64 = 0, acknowledgedOwn: [String: UInt64] = [:]) {
        self.session = session
        self.wallClock = wallClock
        self.acknowledgedOwn = acknowledgedOwn
        self.credential = credential
        self.directoryDigest = directoryDigest
        self.me = me
        self.versions = versions
        self.knowledge = knowledge
        self.limits = limits
        self.subscribe = subscribe
    }

    public var isOver: Bool { phase == .done || phase == .failed }

    /// What the peer was seen to hold, to record as its knowledge (``acknowledgedOwn`` of the
    /// next session). While this replica's own changes are being rechecked (§9.5), the peer's
    /// count of them stands only as far as they were compared: recording the Welcome's count
    /// after the first acknowledged batch would make the next session skip the recheck of the
    /// rest, and a copy put back by hand would go undetected (found by the fleet simulation).
    public var acknowledgedKnowledge: VersionVector {
        guard recheckFrom != nil else { return summary.peerKnowledge }
        let own = min(summary.peerKnowledge[me.replica], ownConfirmed)
        return VersionVector(summary.peerKnowledge.entries.map { ($0.replica, $0.replica == me.replica ? own : $0.counter) })
    }

    /// The records this side receives: as the server authenticated it, else as it believes.
    var scope: ReplicationScope { server?.client?.scope ?? me.scope }

    /// The first effect: the greeting.
    public func start() -> [SessionEffect] {
        [.send(.hello(SyncMessage.Hello(versions: versions, peer: me, knowledge: knowledge, session: session,
                                        limits: limits, subscribe: subscribe, credential: credential, directoryDigest: directoryDigest,
                                        wallClock: wallClock)))]
    }

    public mutating func handle(_ event: SessionEvent) -> [SessionEffect] {
        guard !isOver else { return [] }
        switch event {
        case .message(let message):
            return receive(message)
        case .read(let result):
            return pushRead(result)
        case .applied(let outcome):
            return pulled(outcome)
        case .storeFailed(let reason, let retryLater):
            return storeFailed(reason, retryLater: retryLater)
        case .tick:
            return []
        }
    }

    /// The driver gave up waiting for the server.
    public mutating func timedOut() -> [SessionEffect] {
        guard !isOver else { return [] }
        return fail(.silent, "the peer stopped answering in the middle of the session")
    }

    private mutating func receive(_ message: SyncMessage) -> [SessionEffect] {
        // A hint, or a failure of the whole connection (session 0: a revoked key), concern any
        // session; anything else of another session is a late answer to an earlier one.
        switch message {
        case .hint: break
        case .failure(let failure) where failure.session == 0 && failure.code == .forbidden: break
        default: guard message.session == session else { return [] }
        }
        switch (phase, message) {
        case (_, .failure(let failure)):
            var reason = "the peer refused: \(failure.reason) (\(failure.code))"
            if let theirs = failure.versions, failure.code == .upgradeRequired {
                reason = "version mismatch: this node speaks \(versions), the peer \(theirs); upgrade the older one"
            }
            return fail(.refused(failure.code), reason)
        case (.greeting, .welcome(let welcome)):
            guard welcome.versions == versions else {
                return fail(.refused(.upgradeRequired),
                            "version mismatch: this node speaks \(versions), the peer \(welcome.versions); upgrade the older one")
            }
            server = welcome
            summary.peer = welcome.peer
            summary.peerKnowledge = welcome.knowledge
            push = BatchWindow(window: welcome.limits.window)
            // The peer holds more of this replica than it was seen to acknowledge (or more than
            // this replica holds): this database may have been restored from a copy, and the
            // peer may hold other content for those ids. They go again, for the peer to compare.
            // With no recorded point, only a peer holding more than this replica does is
            // rechecked (from 0): one that received this replica's changes through a relay
            // would otherwise be sent them all again, and where it compacted them, refuse them
            // as reused ids (protocol §17).
            let holdsMore = welcome.knowledge[me.replica] > knowledge[me.replica]
            if let acknowledged = acknowledgedOwn[welcome.peer.node], welcome.knowledge[me.replica] > acknowledged || holdsMore {
                recheckFrom = min(acknowledged, knowledge[me.replica])
            } else if holdsMore {
                recheckFrom = 0
            }
            ownConfirmed = recheckFrom ?? 0
            phase = .pushing
            return [.welcomed(welcome)] + readMore()
        case (.pushing, .ack(let ack)) where !ack.pull:
            guard push.acknowledge(ack.sequence) else {
                return violation("acknowledgement of push batch \(ack.sequence) out of order")
            }
            summary.pushedApplied += ack.applied
            summary.pushedKnown += ack.known
            summary.peerKnowledge.merge(ack.knowledge)
            let mine = ack.refusals.filter { $0.dot.replica == me.replica }
            if let carried = ownCarried.removeValue(forKey: ack.sequence), !mine.contains(where: { $0.code == .reusedID }) {
                ownConfirmed = max(ownConfirmed, carried)
            }
            summary.refused += mine
            if mine.contains(where: { $0.code == .reusedID }) {
                // Nothing more of this replica can go: the store sets its work aside and takes
                // a new epoch; the next session re-issues it under the new replica id.
                return [.rejected(mine, by: server!.peer), .send(.failure(SyncMessage.Failure(
                    code: .unavailable, reason: "this node takes a new replica id (its change ids were found reused)", session: session)))]
                    + fail(.newEpoch, "\(server!.peer.node) holds other content for change ids of this node: its database was restored "
                           + "from an old copy; it took a new replica id and re-issues its work — sync again")
            }
            return (mine.isEmpty ? [] : [.rejected(mine, by: server!.peer)]) + continuePushing()
        case (.pulling, .batch(let batch)) where batch.pull:
            guard batch.states.isEmpty && !batch.statesComplete || server?.peer.role == .hub else {
                return violation("a state transfer from \(server?.peer.node ?? "a peer") that is not the hub")
            }
            if let excess = BatchBound.excess(of: batch, limits: limits) {
                return [.send(.failure(SyncMessage.Failure(code: .tooLarge, reason: excess, session: session)))]
                    + fail(.violation, "the peer broke the protocol: \(excess)")
            }
            guard pull.receive(batch) == .accepted else {
                return violation("pull batch \(batch.sequence) out of order (expected \(pull.expected))")
            }
            return applyNext()
        case (_, .hint):
            return []
        default:
            return violation("unexpected \(Self.name(message)) while \(phase)")
        }
    }

    private mutating func readMore() -> [SessionEffect] {
        guard let server, push.hasRoom, !reading, !pushExhausted else { return [] }
        reading = true
        var base = server.knowledge
        if let recheckFrom {
            base = VersionVector(base.entries.map { ($0.replica, $0.replica == me.replica ? recheckFrom : $0.counter) })
        }
        return [.read(ReadRequest(after: pushCursor, base: base, scope: server.peer.scope, limits: server.limits))]
    }

    private mutating func pushRead(_ result: ReadResult) -> [SessionEffect] {
        guard phase == .pushing, let server else { return [] }
        reading = false
        if result.needsStates {
            return fail(.store(retryLater: false),
                        "\(server.peer.node) lacks changes this node holds only as record state (it received them by state transfer): "
                        + "it must catch up from the hub, not from this node")
        }
        knowledge = knowledge.merged(with: result.knowledge)
        pushCursor = result.cursor
        pushExhausted = result.exhausted
        var effects: [SessionEffect] = []
        // Nothing to push at all: go straight to pulling.
        if result.changes.isEmpty && result.exhausted && push.nextSequence == 1 {
            return startPull()
        }
        if !result.changes.isEmpty || !result.holes.isEmpty || result.exhausted {
            let sequence = push.send(last: result.exhausted)
            if recheckFrom != nil {
                ownCarried[sequence] = (result.changes.map(\.dot) + result.holes.map(\.dot)).filter { $0.replica == me.replica }
                    .map(\.counter).max() ?? 0
            }
            summary.pushedSent += result.changes.count
            summary.pushBatches += 1
            effects.append(.send(.batch(SyncMessage.Batch(
                session: session, pull: false, sequence: sequence, changes: result.changes,
                vouched: KnowledgeClaim.vouched(senderKnowledge: result.knowledge, sender: me.replica, senderScope: scope,
                                                cutFor: server.peer.scope, receiverScope: server.peer.scope),
                last: result.exhausted, holes: result.holes, proof: result.proof))))
        }
        return effects + continuePushing()
    }

    private mutating func continuePushing() -> [SessionEffect] {
        if push.isComplete { return startPull() }
        return readMore()
    }

    private mutating func startPull() -> [SessionEffect] {
        phase = .pulling
        return [.send(.pull(SyncMessage.Pull(session: session, knowledge: knowledge)))]
    }

    private mutating func applyNext() -> [SessionEffect] {
        guard let server, let batch = pull.next() else { return [] }
        summary.peerKnowledge.merge(batch.vouched)
        let vouched = KnowledgeClaim.vouched(senderKnowledge: batch.vouched, sender: server.peer.replica,
                                             senderScope: server.peer.scope, cutFor: scope, receiverScope: scope)
        return [.apply(ApplyRequest(batch, claim: batch.last ? .complete(vouched: vouched) : .inOrder(vouched: vouched),
                                    sender: server.peer))]
    }

    private mutating func pulled(_ outcome: ApplyOutcome) -> [SessionEffect] {
        guard phase == .pulling, let batch = pull.finishApplying(), batch.sequence == outcome.sequence else { return [] }
        if batch.states.isEmpty && !batch.statesComplete {
            summary.pulledApplied += outcome.applied
            summary.pulledKnown += outcome.known
        } else {
            summary.pulledStates += batch.states.count
        }
        summary.pullBatches += 1
        knowledge = knowledge.merged(with: outcome.knowledge)
        var effects: [SessionEffect] = [.send(.ack(SyncMessage.Ack(
            session: session, pull: true, sequence: outcome.sequence, knowledge: outcome.knowledge,
            applied: outcome.applied, known: outcome.known)))]
        if pull.isFinished {
            phase = .done
            effects += [.send(.bye(session: session)), .finish(summary)]
            return effects
        }
        return effects + applyNext()
    }

    /// This side's store failed in the middle of the session. The peer is told (it need not
    /// wait for the session to time out), and the error says which side of the exchange failed
    /// and what helps: time for a full disk or a busy database, a person for the rest, since
    /// syncing again would meet the same failure.
    private mutating func storeFailed(_ reason: String, retryLater: Bool) -> [SessionEffect] {
        let peer = server?.peer.node ?? "the peer"
        let applying = phase == .pulling
        var message = applying ? "this node could not apply what \(peer) sent: \(reason)"
            : "this node could not read its own changes to send to \(peer), so \(peer) is not at fault: \(reason)"
        if retryLater {
            message += "; nothing was lost: sync again once that is cleared"
        } else if applying {
            message += "; syncing again brings the same batch: run `sitesync audit verify` on this node and tell \(peer)'s operator"
        } else {
            message += "; syncing again will not help: run `sitesync audit verify` on this node and restore it from its backup "
                + "(`sitesync restore`) if the check fails"
        }
        let notice = SyncMessage.Failure(code: .unavailable, reason: applying ? "the client could not apply a batch: \(reason)"
                                            : "the client could not read its log: \(reason)", session: session)
        return [.send(.failure(notice))] + fail(.store(retryLater: retryLater), message)
    }

    private mutating func violation(_ reason: String) -> [SessionEffect] {
        var effects: [SessionEffect] = [.send(.failure(SyncMessage.Failure(code: .malformed, reason: reason, session: session)))]
        effects += fail(.violation, "the peer broke the protocol: \(reason)")
        return effects
    }

    private mutating func fail(_ kind: SessionFailure.Kind, _ reason: String) -> [SessionEffect] {
        phase = .failed
        return [.fail(SessionFailure(kind, reason))]
    }

    static func name(_ message: SyncMessage) -> String {
        switch message {
        case .hello: "Hello"
        case .welcome: "Welcome"
        case .failure: "Failure"
        case .batch(let b): b.pull ? "pull Batch" : "push Batch"
        case .ack(let a): a.pull ? "pull Ack" : "push Ack"
        case .pull: "Pull"
        case .bye: "Bye"
        case .hint: "Hint"
        }
    }
}
