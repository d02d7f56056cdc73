/// The server side of one client's sync round (protocol/README.md, "Dialogs"): take the
/// client's push batches in order, applying each before acknowledging it; stream what the
/// client lacks when it pulls, within its window; end on Bye.
///
/// A pure state machine, like ``ClientSession``; a listener keeps one per open session.
public struct ServerSession: Sendable {
    public let session: UInt64
    public let me: PeerIdentity
    public let client: PeerIdentity
    /// What this side sends the client within: the client's limits narrowed to this side's own
    /// (protocol §15), so a pull never holds more than this side's `window` batches of its
    /// `batch_bytes` in flight, whatever a client asks for.
    public let clientLimits: SessionLimits
    public let subscribe: Bool
    public private(set) var isClosed = false
    public private(set) var summary = SessionSummary()
    private var push = BatchSequencer()
    private var pull: BatchWindow?
    private var pullBase = VersionVector()
    /// The last pull batch sent (flagged last) and what it vouched: once the client
    /// acknowledges it, the client holds all that.
    private var finalPull: (sequence: UInt64, vouched: VersionVector)?
    private var pullCursor: Int64 = 0
    private var reading = false
    private var pullExhausted = false
    /// A state transfer in progress: the record position read up to, and the knowledge it
    /// stands at (taken on its first read).
    private var transfer: (cursor: Int64, knowledge: VersionVector?)?
    private let limits: SessionLimits

    private init(session: UInt64, me: PeerIdentity, client: PeerIdentity, clientLimits: SessionLimits, limits: SessionLimits,
                 subscribe: Bool) {
        self.session = session
        self.me = me
        self.client = client
        self.clientLimits = clientLimits
        self.limits = limits
        self.subscribe = subscribe
        summary.peer = client
    }

    /// What the client holds, as far as this side knows: what it said in its Hello and Pull,
    /// and, once it acknowledged the whole pull, what that pull vouched for.
    public var clientKnowledge: VersionVector { summary.peerKnowledge }

    /// Who a greeting comes from, or why it is refused, from the Hello alone: its versions, and
    /// where keys are checked, whether its credential is the connected key's. It reads nothing
    /// and costs a hash, so a listener makes these checks before any work on the store.
    /// - Parameter authenticated: the allow-list entry of the key the client connected with,
    ///   where keys are checked; the client is then who the entry says, whatever its Hello claims.
    /// - Returns: the client as the listener will know it, or the Failure to send and the failure
    ///   to record.
    public static func admit(_ hello: SyncMessage.Hello, versions: ProtocolVersions,
                             authenticated: DirectoryEntry? = nil) -> Result<PeerIdentity, HelloRefusal> {
        guard hello.versions == versions else {
            let failure = SyncMessage.Failure(
                code: .upgradeRequired,
                reason: "this peer speaks \(versions); the client speaks \(hello.versions): upgrade the older one",
                session: hello.session, versions: versions)
            return .failure(HelloRefusal(effects: [
                .send(.failure(failure)),
                .fail(SessionFailure(.refused(.upgradeRequired), "\(hello.peer.node) speaks \(hello.versions), this node \(versions)")),
            ]))
        }
        guard let entry = authenticated else { return .success(hello.peer) }
        guard let offered = hello.credential, offered.isValid, offered.replica == hello.peer.replica,
              offered.signingKey == entry.key.signing else {
            let reason = "replica \(hello.peer.replica) is not one of \(entry.node)'s: its credential does not match the key "
                + "\(entry.node) connected with"
            return .failure(HelloRefusal(effects: [
                .send(.failure(SyncMessage.Failure(code: .forbidden, reason: reason, session: hello.session))),
                .fail(SessionFailure(.refused(.forbidden), "\(entry.node): \(reason)")),
            ]))
        }
        return .success(PeerIdentity(node: entry.node, replica: hello.peer.replica, role: entry.role, department: entry.department))
    }

    /// Answers a greeting: a new session and its Welcome, or no session and a Failure naming
    /// both sides' versions, or why the client may not sync (``admit(_:versions:authenticated:)``).
    /// - Parameters:
    ///   - authenticated: the allow-list entry of the key the client connected with, where keys
    ///     are checked; the client is then who the entry says, whatever its Hello claims.
    ///   - credential: this side's replica credential, for the Welcome.
    ///   - directory: the allow-list to hand a client whose copy differs.
    ///   - directoryDigest: `directory`'s digest when the caller has it already (it costs a hash
    ///     of every entry).
    public static func accept(
        _ hello: SyncMessage.Hello, me: PeerIdentity, versions: ProtocolVersions, knowledge: VersionVector, limits: SessionLimits,
        authenticated: DirectoryEntry? = nil, credential: ReplicaCredential? = nil, directory: Directory? = nil,
        directoryDigest: String? = nil, wallClock: UInt64 = 0, pullEstimate: ((PeerIdentity) -> UInt64)? = nil
    ) -> (ServerSession?, [SessionEffect]) {
        let client: PeerIdentity
        switch admit(hello, versions: versions, authenticated: authenticated) {
        case .success(let admitted): client = admitted
        case .failure(let refusal): return (nil, refusal.effects)
        }
        var session = ServerSession(session: hello.session, me: me, client: client, clientLimits: hello.limits.narrowed(to: limits),
                                    limits: limits, subscribe: hello.subscribe)
        session.summary.peerKnowledge = hello.knowledge
        let welcome = SyncMessage.Welcome(
            versions: versions, peer: me, knowledge: knowledge, session: hello.session, limits: limits, credential: credential,
            client: authenticated == nil ? nil : client,
            directory: directory.flatMap { (directoryDigest ?? $0.digest) == hello.directoryDigest ? nil : $0 },
            wallClock: wallClock, pullEstimate: pullEstimate?(client) ?? 0)
        return (session, [.send(.welcome(welcome))])
    }

    public mutating func handle(_ event: SessionEvent) -> [SessionEffect] {
        guard !isClosed else { return [] }
        switch event {
        case .message(let message):
            return receive(message)
        case .applied(let outcome):
            guard let batch = push.finishApplying(), batch.sequence == outcome.sequence else { return [] }
            summary.pushedApplied += outcome.applied
            summary.pushedKnown += outcome.known
            summary.refused += outcome.refusals
            summary.pushBatches += 1
            return [.send(.ack(SyncMessage.Ack(session: session, pull: false, sequence: outcome.sequence, knowledge: outcome.knowledge,
                                               applied: outcome.applied, known: outcome.known, refusals: outcome.refusals)))]
                + applyNext()
        case .read(let result):
            return pullRead(result)
        case .storeFailed(let reason, let retryLater):
            return refuse(retryLater ? .unavailable : .outOfOrder, reason, sequence: push.applying?.sequence ?? 0,
                          kind: .store(retryLater: retryLater))
        case .tick:
            return []
        }
    }

    /// The driver gave up on a silent client: forget the session.
    public mutating func expire() -> [SessionEffect] {
        guard !isClosed else { return [] }
        isClosed = true
        return [.fail(SessionFailure(.silent, "\(client.node) went silent in the middle of a session"))]
    }

    private mutating func receive(_ message: SyncMessage) -> [SessionEffect] {
        switch message {
        case .batch(let batch) where !batch.pull:
            if let excess = BatchBound.excess(of: batch, limits: limits) {
                return refuse(.tooLarge, excess, sequence: batch.sequence, kind: .violation)
            }
            guard push.receive(batch) == .accepted else {
                return refuse(.outOfOrder, "push batch \(batch.sequence) out of order (expected \(push.expected))",
                              sequence: batch.sequence, kind: .violation)
            }
            return applyNext()
        case .pull(let request) where pull == nil:
            pull = BatchWindow(window: clientLimits.window)
            pullBase = request.knowledge
            summary.peerKnowledge.merge(request.knowledge)
            summary.peerStableKnowledge = request.knowledge
            return readMore()
        case .ack(let ack) where ack.pull:
            guard pull?.acknowledge(ack.sequence) == true else {
                return refuse(.malformed, "acknowledgement of pull batch \(ack.sequence) out of order", sequence: ack.sequence,
                              kind: .violation)
            }
            summary.pulledApplied += ack.applied
            summary.pulledKnown += ack.known
            if let finalPull, finalPull.sequence == ack.sequence { summary.peerKnowledge.merge(finalPull.vouched) }
            return readMore()
        case .bye:
            isClosed = true
            return [.finish(summary)]
        case .failure(let failure):
            isClosed = true
            return [.fail(SessionFailure(.refused(failure.code), "\(client.node) gave up: \(failure.reason)"))]
        default:
            return refuse(.malformed, "unexpected \(ClientSession.name(message)) in an open session", sequence: 0, kind: .violation)
        }
    }

    private mutating func applyNext() -> [SessionEffect] {
        guard let batch = push.next() else { return [] }
        let vouched = KnowledgeClaim.vouched(senderKnowledge: batch.vouched, sender: client.replica, senderScope: client.scope,
                                             cutFor: me.scope, receiverScope: me.scope)
        return [.apply(ApplyRequest(batch, claim: batch.last ? .complete(vouched: vouched) : .inOrder(vouched: vouched), sender: client))]
    }

    private mutating func readMore() -> [SessionEffect] {
        guard let pull, pull.hasRoom, !reading, !pullExhausted else { return [] }
        reading = true
        if let transfer {
            return [.read(ReadRequest(after: transfer.cursor, base: transfer.knowledge ?? VersionVector(), scope: client.scope,
                                      limits: clientLimits, states: true))]
        }
        return [.read(ReadRequest(after: pullCursor, base: pullBase, scope: client.scope, limits: clientLimits))]
    }

    private mutating func pullRead(_ result: ReadResult) -> [SessionEffect] {
        guard pull != nil else { return [] }
        if result.needsStates {
            reading = false
            // Only the hub transfers state: a receiver takes records without their origins'
            // signatures only from the peer its key pins as the hub.
            guard me.role == .hub else {
                return refuse(.unavailable, "this node compacted changes \(client.node) lacks, and only the hub transfers state: "
                              + "sync \(client.node) with the hub first", sequence: 0, kind: .store(retryLater: false))
            }
            transfer = (0, nil)
            return readMore()
        }
        if transfer != nil { return stateRead(result) }
        guard var window = pull else { return [] }
        reading = false
        pullCursor = result.cursor
        pullExhausted = result.exhausted
        var effects: [SessionEffect] = []
        // Every pull ends with a batch flagged last, empty if need be, so the client knows.
        if !result.changes.isEmpty || !result.holes.isEmpty || result.exhausted {
            let sequence = window.send(last: result.exhausted)
            summary.pullBatches += 1
            let vouched = KnowledgeClaim.vouched(senderKnowledge: result.knowledge, sender: me.replica, senderScope: me.scope,
                                                 cutFor: client.scope, receiverScope: client.scope)
            if result.exhausted { finalPull = (sequence, vouched) }
            effects.append(.send(.batch(SyncMessage.Batch(
                session: session, pull: true, sequence: sequence, changes: result.changes, vouched: vouched,
                last: result.exhausted, holes: result.holes, proof: result.proof))))
        }
        pull = window
        return effects + readMore()
    }

    /// One page of a state transfer sent; after the last, the pull goes on with the changes
    /// beyond the knowledge the transfer stood at.
    private mutating func stateRead(_ result: ReadResult) -> [SessionEffect] {
        guard var window = pull, var current = transfer else { return [] }
        reading = false
        if current.knowledge == nil { current.knowledge = result.knowledge }
        current.cursor = result.cursor
        var vouched = VersionVector()
        if result.exhausted {
            vouched = KnowledgeClaim.vouched(senderKnowledge: current.knowledge!, sender: me.replica, senderScope: me.scope,
                                             cutFor: client.scope, receiverScope: client.scope)
            pullBase.merge(vouched)
            pullCursor = 0
            transfer = nil
        } else {
            transfer = current
        }
        let sequence = window.send(last: false)
        summary.pullBatches += 1
        summary.pulledStates += result.states.count
        pull = window
        return [.send(.batch(SyncMessage.Batch(session: session, pull: true, sequence: sequence, changes: [], vouched: vouched, last: false,
                                               states: result.states, statesComplete: result.exhausted, heads: result.heads)))]
            + readMore()
    }

    private mutating func refuse(_ code: FailureCode, _ reason: String, sequence: UInt64, kind: SessionFailure.Kind) -> [SessionEffect] {
        isClosed = true
        return [.send(.failure(SyncMessage.Failure(code: code, reason: reason, session: session, sequence: sequence))),
                .fail(SessionFailure(kind, "\(client.node): \(reason)"))]
    }
}

/// A greeting refused before any session exists: the Failure to send and the failure to record.
public struct HelloRefusal: Error, Sendable {
    public let effects: [SessionEffect]
}
