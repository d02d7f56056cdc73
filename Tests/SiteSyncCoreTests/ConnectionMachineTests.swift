import Foundation
import Testing
@testable import SiteSyncCore

/// The listener's session table (``ListenerSessions``) and the client's round (``ClientRound``)
/// driven event by event, with the time as a value: no sockets, no threads, no sleeps.
@Suite struct ConnectionMachineTests {
    typealias Listener = ListenerSessions<Int>
    static let versions = ProtocolVersions(protocolVersion: 1, schemaVersion: 3, schemaHash: "test")
    static let hub = PeerIdentity(node: "hub", replica: ReplicaID(rawValue: 1), role: .hub, department: "office")
    static let site = PeerIdentity(node: "site", replica: ReplicaID(rawValue: 2), role: .field, department: "roads")

    static func at(_ monotonic: UInt64) -> SyncMoment { SyncMoment(monotonic: monotonic, wall: 1_700_000_000_000 + monotonic) }

    static func hello(_ session: UInt64, from peer: PeerIdentity = site, credential: ReplicaCredential? = nil) -> SyncMessage {
        .hello(SyncMessage.Hello(versions: versions, peer: peer, knowledge: VersionVector(), session: session, limits: SessionLimits(),
                                 credential: credential))
    }

    static func failures(in effects: [Listener.Effect]) -> [(connection: Int, failure: SyncMessage.Failure)] {
        effects.compactMap { if case .send(let connection, .failure(let failure)) = $0 { (connection, failure) } else { nil } }
    }

    /// Greets and welcomes session `session` on `connection` at `time`.
    static func open(_ listener: inout Listener, _ session: UInt64, on connection: Int, at time: UInt64, from peer: PeerIdentity = site,
                     credential: ReplicaCredential? = nil, keyNode: String? = nil) {
        let greeted = listener.handle(.message(connection, hello(session, from: peer, credential: credential),
                                               from: Listener.Sender(keyNode: keyNode)), at: at(time))
        #expect(greeted.contains { if case .gatherWelcomeFacts(connection, session, _, _) = $0 { true } else { false } }, "\(greeted)")
        let welcomed = listener.handle(.welcomeFacts(connection, session: session, WelcomeFacts(knowledge: VersionVector())), at: at(time))
        #expect(welcomed.contains { if case .send(connection, .welcome) = $0 { true } else { false } }, "\(welcomed)")
    }

    // MARK: The listener

    @Test func aSilentSessionIsForgottenOnceATickPassesItsTimeoutAndNotBefore() {
        var configuration = Listener.Configuration(me: Self.hub, versions: Self.versions)
        configuration.sessionTimeout = 60_000
        var listener = Listener(configuration)
        Self.open(&listener, 5, on: 1, at: 1_000)
        #expect(listener.nextDeadline == 2_000, "the housekeeping comes first")
        _ = listener.handle(.tick, at: Self.at(2_000))
        #expect(listener.openSessions == 1)

        #expect(listener.handle(.tick, at: Self.at(61_000)).isEmpty)
        #expect(listener.openSessions == 1, "expired at exactly its timeout")
        let effects = listener.handle(.tick, at: Self.at(61_001))
        #expect(listener.openSessions == 0)
        let served = effects.compactMap { if case .recordServed(let served) = $0 { served } else { nil } }
        #expect(served.count == 1 && served.first?.failure?.kind == .silent && served.first?.ended == Self.at(61_001).wall)
        let late = listener.handle(.message(1, .bye(session: 5), from: Listener.Sender()), at: Self.at(61_002))
        #expect(Self.failures(in: late).first?.failure.code == .unknownSession)
    }

    @Test func aSessionWaitingOnItsStoreWorkDoesNotExpire() {
        var configuration = Listener.Configuration(me: Self.hub, versions: Self.versions)
        configuration.sessionTimeout = 1_000
        var listener = Listener(configuration)
        Self.open(&listener, 5, on: 1, at: 0)
        let reads = listener.handle(.message(1, .pull(SyncMessage.Pull(session: 5, knowledge: VersionVector())), from: Listener.Sender()),
                                    at: Self.at(10))
        #expect(reads.contains { if case .read(1, 5, _) = $0 { true } else { false } })
        _ = listener.handle(.tick, at: Self.at(50_000))
        #expect(listener.openSessions == 1, "this side keeps the client waiting: no expiry")
    }

    @Test func aKeyRevokedWhileConnectedIsToldSoWith403AndCutOff() throws {
        let siteKey = NodeSecretKey.generate(), otherKey = NodeSecretKey.generate()
        let other = PeerIdentity(node: "other", replica: ReplicaID(rawValue: 3), role: .field, department: "water")
        func entries(siteActive: Bool) -> Directory {
            Directory([DirectoryEntry(node: "site", role: .field, department: "roads", key: siteKey.publicKey, active: siteActive),
                       DirectoryEntry(node: "other", role: .field, department: "water", key: otherKey.publicKey)])
        }
        let siteCredential = ReplicaCredential.issue(node: "site", signingKey: siteKey.publicKey.signing)
        let otherCredential = ReplicaCredential.issue(node: "other", signingKey: otherKey.publicKey.signing)
        var configuration = Listener.Configuration(me: Self.hub, versions: Self.versions)
        configuration.authenticates = true
        var listener = Listener(configuration)
        _ = listener.handle(.allowList(entries(siteActive: true)), at: Self.at(0))
        let site = PeerIdentity(node: "site", replica: siteCredential.replica, role: .field, department: "roads")
        Self.open(&listener, 5, on: 1, at: 0, from: site, credential: siteCredential, keyNode: "site")
        Self.open(&listener, 6, on: 2, at: 0, from: PeerIdentity(node: "other", replica: otherCredential.replica, role: other.role,
                                                                 department: other.department),
                  credential: otherCredential, keyNode: "other")
        #expect(listener.openSessions == 2)

        let effects = listener.handle(.allowList(entries(siteActive: false)), at: Self.at(100))
        let told = Self.failures(in: effects)
        #expect(told.count == 1 && told.first?.connection == 1 && told.first?.failure.code == .forbidden && told.first?.failure.session == 0)
        #expect(effects.contains(.closeAllConnections))
        #expect(listener.openSessions == 1 && listener.session(2, 6) != nil, "the other node's session stays")

        let again = listener.handle(.message(1, .bye(session: 5), from: Listener.Sender(keyNode: "site")), at: Self.at(200))
        #expect(Self.failures(in: again).map(\.failure.code) == [.forbidden], "a revoked key's next message is refused")
    }

    @Test func theSessionsCapClosesTheSilentestIdleSessionAndRefusesWith503WhenAllAreBusy() {
        var configuration = Listener.Configuration(me: Self.hub, versions: Self.versions)
        configuration.admission = NodeAdmissionLimits(sessionsPerNode: 2, helloBurst: 10, hellosPerSecond: 10)
        var listener = Listener(configuration)
        Self.open(&listener, 1, on: 1, at: 0)
        Self.open(&listener, 2, on: 1, at: 10)
        // At the cap with both idle: the one heard from least recently makes room.
        let third = listener.handle(.message(1, Self.hello(3), from: Listener.Sender()), at: Self.at(20))
        #expect(third.contains { if case .recordServed(let served) = $0 { served.failure?.kind == .silent } else { false } })
        #expect(listener.session(1, 1) == nil && listener.session(1, 2) != nil)
        _ = listener.handle(.welcomeFacts(1, session: 3, WelcomeFacts(knowledge: VersionVector())), at: Self.at(20))
        // Both busy reading: the next Hello is refused, cheaply, with 503.
        for session: UInt64 in [2, 3] {
            _ = listener.handle(.message(1, .pull(SyncMessage.Pull(session: session, knowledge: VersionVector())), from: Listener.Sender()),
                                at: Self.at(30))
        }
        let refused = listener.handle(.message(1, Self.hello(4), from: Listener.Sender()), at: Self.at(40))
        #expect(Self.failures(in: refused).map(\.failure.code) == [.unavailable])
        #expect(Self.failures(in: refused).first?.failure.session == 4)
        #expect(!refused.contains { if case .gatherWelcomeFacts = $0 { true } else { false } }, "the store is not touched")
        #expect(listener.openSessions == 2)
    }

    @Test func hellosOverTheNodesRateAreRefusedWith503BeforeTheStore() {
        var configuration = Listener.Configuration(me: Self.hub, versions: Self.versions)
        configuration.admission = NodeAdmissionLimits(sessionsPerNode: 10, helloBurst: 2, hellosPerSecond: 1)
        var listener = Listener(configuration)
        var codes: [FailureCode?] = []
        for session: UInt64 in 1...3 {
            let effects = listener.handle(.message(session == 3 ? 9 : 1, Self.hello(session), from: Listener.Sender()), at: Self.at(0))
            codes.append(Self.failures(in: effects).first?.failure.code)
        }
        #expect(codes == [nil, nil, .unavailable])
        // A second later the bucket holds a token again.
        let later = listener.handle(.message(1, Self.hello(4), from: Listener.Sender()), at: Self.at(1_000))
        #expect(Self.failures(in: later).isEmpty)
    }

    @Test func aStoppingListenerRefusesNewSessionsAndStopsOnceItsStoreWorkIsDone() {
        var listener = Listener(Listener.Configuration(me: Self.hub, versions: Self.versions))
        Self.open(&listener, 1, on: 1, at: 0)
        _ = listener.handle(.message(1, .pull(SyncMessage.Pull(session: 1, knowledge: VersionVector())), from: Listener.Sender()), at: Self.at(1))
        _ = listener.handle(.stop, at: Self.at(2))
        #expect(!listener.isStopped, "a read is in flight")
        let refused = listener.handle(.message(2, Self.hello(2), from: Listener.Sender()), at: Self.at(3))
        #expect(Self.failures(in: refused).map(\.failure.code) == [.unavailable])
        _ = listener.handle(.store(1, session: 1, .read(ReadResult(changes: [], cursor: 0, exhausted: true, knowledge: VersionVector()))),
                            at: Self.at(4))
        #expect(listener.isStopped)
    }

    // MARK: The client's round

    static func round(window: Int = 2) -> (ClientRound, [ClientRound.Effect]) {
        var configuration = ClientRound.Configuration(me: site, versions: versions)
        configuration.connectTimeout = 10_000
        configuration.silenceTimeout = 10_000
        configuration.stallTimeout = 30_000
        var round = ClientRound(configuration)
        let effects = round.start(at: at(0))
        return (round, effects)
    }

    static func welcome(_ session: UInt64, window: Int = 2) -> SyncMessage {
        .welcome(SyncMessage.Welcome(versions: versions, peer: hub, knowledge: VersionVector(), session: session,
                                     limits: SessionLimits(window: window)))
    }

    static func sentBatches(_ effects: [ClientRound.Effect]) -> [SyncMessage.Batch] {
        effects.compactMap { if case .send(.batch(let batch)) = $0 { batch } else { nil } }
    }

    @Test func aRoundResumesAfterAnUnknownSessionResendingAtMostTheWindowInFlight() {
        var (round, effects) = Self.round()
        #expect(effects == [.prepareSession])
        effects = round.handle(.prepared(ClientRound.SessionFacts(session: 1, knowledge: VersionVector())), at: Self.at(0))
        #expect(effects.contains { if case .send(.hello(let hello)) = $0 { hello.session == 1 } else { false } })
        effects = round.handle(.message(Self.welcome(1)), at: Self.at(10))
        #expect(effects.contains { if case .read(1, _) = $0 { true } else { false } })
        // Pages of three changes to push; the window (2) holds two batches in flight, and no
        // third page is read until one is acknowledged.
        var sent: [SyncMessage.Batch] = []
        for page in 0..<2 {
            let changes = Array(BatchBoundTests.changes(6, origin: Self.site.replica)[(page * 3)..<(page * 3 + 3)])
            effects = round.handle(.store(session: 1, .read(ReadResult(changes: changes, cursor: Int64(page + 1), exhausted: false,
                                                                       knowledge: VersionVector()))), at: Self.at(20))
            sent += Self.sentBatches(effects)
        }
        #expect(sent.map(\.sequence) == [1, 2], "no more than the window in flight: \(sent.map(\.sequence))")
        #expect(!effects.contains { if case .read = $0 { true } else { false } }, "the window is full: \(effects)")
        // The listener restarted: it forgot the session.
        effects = round.handle(.message(.failure(SyncMessage.Failure(code: .unknownSession, reason: "unknown session", session: 1))),
                               at: Self.at(30))
        #expect(effects == [.settle(farewell: true)])
        effects = round.handle(.settled, at: Self.at(31))
        #expect(effects.last == .prepareSession, "\(effects)")
        // A late answer for the broken session changes nothing.
        #expect(round.handle(.store(session: 1, .read(ReadResult(changes: [], cursor: 9, exhausted: true, knowledge: VersionVector()))),
                             at: Self.at(32)).isEmpty)
        effects = round.handle(.prepared(ClientRound.SessionFacts(session: 2, knowledge: VersionVector())), at: Self.at(40))
        #expect(effects.contains { if case .send(.hello(let hello)) = $0 { hello.session == 2 } else { false } })
        _ = round.handle(.message(Self.welcome(2)), at: Self.at(50))
        effects = round.handle(.store(session: 2, .read(ReadResult(changes: [], cursor: 0, exhausted: true, knowledge: VersionVector()))),
                               at: Self.at(60))
        #expect(effects.contains { if case .send(.pull) = $0 { true } else { false } })
        effects = round.handle(.message(.batch(SyncMessage.Batch(session: 2, pull: true, sequence: 1, changes: [], vouched: VersionVector(),
                                                                 last: true))), at: Self.at(70))
        effects = round.handle(.store(session: 2, .applied(ApplyOutcome(sequence: 1, applied: 0, known: 0, knowledge: VersionVector()))),
                               at: Self.at(80))
        #expect(effects.contains { if case .send(.bye(2)) = $0 { true } else { false } })
        effects = round.handle(.settled, at: Self.at(90))
        guard case .finished(let outcome)? = effects.last else { Issue.record("not finished: \(effects)"); return }
        #expect(outcome.sessions == 2 && outcome.resent == 6 && outcome.resent <= 2 * 3, "resent \(outcome.resent)")
        #expect(outcome.milliseconds == 90)
        #expect(round.isOver)
    }

    @Test func aPeerNeverHeardFromIsUnreachableAtTheConnectDeadlineAndNotBefore() {
        var (round, _) = Self.round()
        _ = round.handle(.prepared(ClientRound.SessionFacts(session: 1, knowledge: VersionVector())), at: Self.at(0))
        #expect(round.nextDeadline == 10_000)
        #expect(round.handle(.tick, at: Self.at(9_999)).isEmpty)
        #expect(round.handle(.tick, at: Self.at(10_000)) == [.failed(.unreachable(waitedMilliseconds: 10_000))])
        #expect(round.isOver)
    }

    @Test func aPeerThatGoesSilentIsResumedThenGivenUpAfterThreeSessionsThatMovedNothing() {
        var (round, _) = Self.round()
        var time: UInt64 = 0
        var sessions: UInt64 = 0
        var last: [ClientRound.Effect] = []
        // Each session: greeted, then the peer says nothing more.
        while !round.isOver && sessions < 10 {
            sessions += 1
            _ = round.handle(.prepared(ClientRound.SessionFacts(session: sessions, knowledge: VersionVector())), at: Self.at(time))
            _ = round.handle(.message(Self.welcome(sessions)), at: Self.at(time))
            _ = round.handle(.store(session: sessions, .read(ReadResult(changes: [], cursor: 0, exhausted: true, knowledge: VersionVector()))),
                             at: Self.at(time))
            let deadline = round.nextDeadline!
            #expect(deadline == time + 10_000, "the silence deadline")
            #expect(round.handle(.tick, at: Self.at(deadline - 1)).isEmpty)
            time = deadline
            let effects = round.handle(.tick, at: Self.at(time))
            #expect(effects == [.settle(farewell: true)])
            last = round.handle(.settled, at: Self.at(time))
        }
        guard case .failed(.stalled(let failure, let still, let count))? = last.last else { Issue.record("\(last)"); return }
        #expect(failure.kind == .silent && count == 3 && still == 10_000, "\(still) ms over \(count) sessions")
    }

    @Test func aDroppedConnectionWaitsForTheStoreWorkInFlightThenResumes() {
        var (round, _) = Self.round()
        _ = round.handle(.prepared(ClientRound.SessionFacts(session: 1, knowledge: VersionVector())), at: Self.at(0))
        _ = round.handle(.message(Self.welcome(1)), at: Self.at(1))
        #expect(round.handle(.disconnected, at: Self.at(2)).isEmpty, "a read is in flight")
        #expect(round.nextDeadline == nil, "this side is busy: no deadline runs")
        let effects = round.handle(.store(session: 1, .read(ReadResult(changes: [], cursor: 0, exhausted: true, knowledge: VersionVector()))),
                                   at: Self.at(3))
        #expect(effects.last == .settle(farewell: false))
        #expect(round.handle(.settled, at: Self.at(4)).last == .prepareSession)
    }

    @Test func aRevocationIsItsOwnFailureAndAStoreThatCannotBeReadFailsTheRound() {
        var (round, _) = Self.round()
        _ = round.handle(.prepared(ClientRound.SessionFacts(session: 1, knowledge: VersionVector())), at: Self.at(0))
        _ = round.handle(.message(Self.welcome(1)), at: Self.at(1))
        _ = round.handle(.message(.failure(SyncMessage.Failure(code: .forbidden, reason: "revoked", session: 0))), at: Self.at(2))
        #expect(round.handle(.settled, at: Self.at(3)) == [.failed(.revoked("revoked"))])

        var (other, _) = Self.round()
        #expect(other.handle(.prepareFailed("disk I/O error"), at: Self.at(0)) == [.failed(.store("disk I/O error"))])
    }
}
