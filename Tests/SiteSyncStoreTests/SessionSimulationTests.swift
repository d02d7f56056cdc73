import Foundation
import SiteSyncTestSupport
import Testing
@testable import SiteSyncCore
@testable import SiteSyncStore
@testable import SiteSyncWire

/// The session state machines run against real stores without sockets: every message goes
/// through its frames, deliveries and store completions interleave at random (seeded), and the
/// server may crash mid-session, losing its state and whatever was in flight.
@Suite struct SessionSimulationTests {
    static let versions = ProtocolVersions(protocolVersion: ProtocolVersion.current, schemaVersion: Schema.siteSync.version,
                                           schemaHash: Schema.siteSync.hash)

    struct Party {
        let replica: TestReplica
        let identity: PeerIdentity
        /// The party's store in a session with `peer`: a client takes the hub's word (knowledge
        /// it vouches for, refusals, records' state) and only the changes of anyone else.
        func store(with peer: Party) -> SessionStore {
            SessionStore(replica.store, peerIsHub: peer.identity.role == .hub && identity.role != .hub)
        }
    }

    static func party(_ replica: TestReplica, role: Role, department: String) -> Party {
        Party(replica: replica, identity: PeerIdentity(node: replica.store.identity.node, replica: replica.store.identity.replica,
                                                     role: role, department: department))
    }

    /// Runs sync rounds until one completes, restarting after a crash or silence, and returns
    /// how many changes the client sent in all and how many rounds it took. `completed` sees
    /// the client's and the server's summaries of the round that completed.
    static func sync<G: RandomNumberGenerator>(
        _ client: Party, _ server: Party, limits: SessionLimits, crashes: Int, using g: inout G,
        completed: (_ client: SessionSummary, _ server: SessionSummary?) -> Void = { _, _ in }
    ) throws -> (sent: Int, rounds: Int) {
        var crashesLeft = crashes
        var sent = 0
        for round in 1...(crashes + 3) {
            var clientSession = ClientSession(session: UInt64.random(in: 1...UInt64.max, using: &g), me: client.identity,
                                              versions: versions, knowledge: try client.replica.store.knowledge(), limits: limits)
            var serverSession: ServerSession?
            var toServer: [[Data]] = [], toClient: [[Data]] = []
            var clientWork: [SessionEffect] = [], serverWork: [SessionEffect] = []
            var outcome: Bool?
            var serverSummary: SessionSummary?

            func run(_ effects: [SessionEffect], client isClient: Bool) {
                for effect in effects {
                    switch effect {
                    case .send(let message):
                        if isClient { toServer.append(SyncFrames.encode(message)) } else { toClient.append(SyncFrames.encode(message)) }
                    case .read, .apply:
                        if isClient { clientWork.append(effect) } else { serverWork.append(effect) }
                    case .finish(let summary):
                        if isClient { outcome = true } else { serverSummary = summary }
                    case .fail:
                        if isClient { outcome = false }
                    case .rejected, .welcomed:
                        if isClient { try? client.store(with: server).record(effect) }
                    }
                }
            }
            func perform(_ effect: SessionEffect, on party: Party) -> SessionEvent {
                do {
                    switch effect {
                    case .read(let request): return .read(try party.store(with: party.identity == client.identity ? server : client).read(request))
                    case .apply(let request):
                        return .applied(try party.store(with: party.identity == client.identity ? server : client).apply(request))
                    default: preconditionFailure()
                    }
                } catch {
                    return SessionStore.failure(error)
                }
            }

            run(clientSession.start(), client: true)
            var steps = 0
            while outcome == nil {
                steps += 1
                precondition(steps < 100_000, "simulation stuck")
                var choices: [Int] = []
                if !toServer.isEmpty { choices.append(0) }
                if !toClient.isEmpty { choices.append(1) }
                if !clientWork.isEmpty { choices.append(2) }
                if !serverWork.isEmpty { choices.append(3) }
                if choices.isEmpty {
                    // Nothing moves: the client gives up waiting, as its driver's timer would.
                    run(clientSession.timedOut(), client: true)
                    continue
                }
                if crashesLeft > 0, serverSession != nil, Int.random(in: 0..<40, using: &g) == 0 {
                    // The server dies: its session and everything in flight are lost.
                    crashesLeft -= 1
                    serverSession = nil
                    toServer.removeAll(); toClient.removeAll(); serverWork.removeAll()
                    continue
                }
                switch choices.randomElement(using: &g)! {
                case 0:
                    let message = try SyncFrames.decode(toServer.removeFirst(), schema: .siteSync)
                    if case .hello(let hello) = message {
                        let (session, effects) = ServerSession.accept(hello, me: server.identity, versions: versions,
                                                                      knowledge: try server.replica.store.knowledge(), limits: limits)
                        serverSession = session
                        run(effects, client: false)
                    } else if var session = serverSession {
                        run(session.handle(.message(message)), client: false)
                        serverSession = session
                    } else {
                        toClient.append(SyncFrames.encode(.failure(SyncMessage.Failure(
                            code: .unknownSession, reason: "unknown session", session: message.session))))
                    }
                case 1:
                    run(clientSession.handle(.message(try SyncFrames.decode(toClient.removeFirst(), schema: .siteSync))), client: true)
                case 2:
                    run(clientSession.handle(perform(clientWork.removeFirst(), on: client)), client: true)
                default:
                    let event = perform(serverWork.removeFirst(), on: server)
                    if var session = serverSession {
                        run(session.handle(event), client: false)
                        serverSession = session
                    }
                }
            }
            sent += clientSession.summary.pushedSent
            if outcome == true {
                // The client's Bye reaches the server too (the session ends there as well).
                while serverSummary == nil, !toServer.isEmpty, var session = serverSession {
                    let message = try SyncFrames.decode(toServer.removeFirst(), schema: .siteSync)
                    run(session.handle(.message(message)), client: false)
                    serverSession = session
                }
                completed(clientSession.summary, serverSummary)
                return (sent, round)
            }
        }
        Issue.record("no round completed")
        return (sent, 0)
    }

    @Test func aFieldSiteAndTheHubConvergeThroughCrashesAndRandomInterleavings() async {
        await seededCheck(count: 20) { seed in
            var g = SeededGenerator(seed: seed)
            let office = try TestReplica(name: "office", role: .office, department: "office")
            let hub = try TestReplica(name: "hub", role: .hub, department: "office")
            let site = try TestReplica(name: "site", role: .field, department: "roads")
            try seedPlan(office, sendTo: [])
            try office.put("project", "w1", "code=W-1", "name=Mains", "department=water")
            try office.put("activity", "w-a", "project=w1", "name=Trench")
            try office.send(to: hub)
            try site.store.apply(office.changes(lackedBy: VersionVector(), scope: .department("roads")))
            // Offline: the site reports a lot; the office edits the plan.
            let edits = Int.random(in: 20...120, using: &g)
            for n in 0..<edits {
                try site.put("quantity_entry", nil, "activity=a\(n % 2 + 1)", "date=2026-11-0\(n % 9 + 1)", "quantity=\(n + 1)")
            }
            try site.put("activity", "a1", "actual_finish=2026-05-13", "remarks=site view")
            try office.put("activity", "a1", "remarks=office view", "budget=350000")
            try office.send(to: hub)
            let limits = SessionLimits(batchChanges: Int.random(in: 3...25, using: &g), batchBytes: 64 * 1024,
                                       window: Int.random(in: 1...4, using: &g))
            let crashes = Int.random(in: 0...2, using: &g)
            let result = try Self.sync(Self.party(site, role: .field, department: "roads"), Self.party(hub, role: .hub, department: "office"),
                                       limits: limits, crashes: crashes, using: &g)
            #expect(try site.store.digest(department: "roads") == hub.store.digest(department: "roads"), "seed \(seed)")
            #expect(try site.store.digest(department: "water") == StateDigest().finalize(),
                    "seed \(seed): the site must receive nothing of another department")
            #expect(try hub.store.knowledge()[site.store.identity.replica] == edits + 1, "seed \(seed)")
            // Each restart re-sends at most the window that was in flight.
            let window = limits.window * limits.batchChanges
            #expect(result.sent <= edits + 1 + (result.rounds - 1) * window, "seed \(seed): sent \(result.sent) in \(result.rounds) rounds")
        }
    }

    @Test func mismatchedVersionsAreRefusedNamingBoth() throws {
        let hub = try TestReplica(name: "hub", role: .hub, department: "office")
        let server = Self.party(hub, role: .hub, department: "office")
        let other = ProtocolVersions(protocolVersion: 9, schemaVersion: 7, schemaHash: String(repeating: "0", count: 64))
        let hello = SyncMessage.Hello(versions: other, peer: server.identity, knowledge: VersionVector(), session: 5, limits: SessionLimits())
        let (session, effects) = ServerSession.accept(hello, me: server.identity, versions: Self.versions, knowledge: VersionVector(),
                                                      limits: SessionLimits())
        #expect(session == nil)
        guard case .send(.failure(let failure)) = effects.first else { Issue.record("no failure sent"); return }
        #expect(failure.code == .upgradeRequired && failure.versions == Self.versions)
        var client = ClientSession(session: 5, me: server.identity, versions: other, knowledge: VersionVector())
        let outcome = client.handle(.message(.failure(failure)))
        guard case .fail(let why)? = outcome.last else { Issue.record("the client did not fail"); return }
        #expect(why.reason.contains("protocol 9") && why.reason.contains("protocol \(ProtocolVersion.current)"))
    }

    @Test func aBatchOutOfOrderIsRefusedAndTheSessionCloses() throws {
        let hub = try TestReplica(name: "hub", role: .hub, department: "office")
        let server = Self.party(hub, role: .hub, department: "office")
        let hello = SyncMessage.Hello(versions: Self.versions, peer: server.identity, knowledge: VersionVector(), session: 9, limits: SessionLimits())
        var (session, _) = ServerSession.accept(hello, me: server.identity, versions: Self.versions, knowledge: VersionVector(),
                                                limits: SessionLimits())
        let effects = session!.handle(.message(.batch(SyncMessage.Batch(session: 9, pull: false, sequence: 2, changes: [],
                                                                         vouched: VersionVector(), last: true))))
        guard case .send(.failure(let failure))? = effects.first else { Issue.record("no failure sent"); return }
        #expect(failure.code == .outOfOrder)
        #expect(session!.isClosed)
    }
}
