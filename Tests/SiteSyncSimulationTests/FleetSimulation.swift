import Foundation
import SiteSyncTestSupport
@testable import SiteSyncCore
@testable import SiteSyncStore
import SiteSyncWire

/// A whole fleet — the hub, an office, field sites of two departments, one of them open to its
/// neighbour as a peer — run inside one process from one seed: real stores (in memory), the
/// real protocol machines and the real encoding, over a simulated network and clock that drop,
/// duplicate, delay and reorder messages, partition and crash nodes, restore them from
/// backups, jump their clocks and revoke a key mid-session. Then everything heals, and the
/// run checks what must hold whatever happened (``FleetSimulation/verdict()``).
///
/// Every choice comes from the seed, and nothing reads the real clock, so a run is replayed
/// exactly by its seed.
struct FleetSimulation {
    static let versions = ProtocolVersions(protocolVersion: ProtocolVersion.current, schemaVersion: Schema.siteSync.version,
                                           schemaHash: Schema.siteSync.hash)
    /// A client gives up on a silent peer after this long; a listener forgets a silent session after `sessionTimeout`.
    static let clientDeadline: UInt64 = 30_000
    static let sessionTimeout: UInt64 = 60_000

    let seed: UInt64
    let clock: SimulatedClock
    var nodes: [SimulatedNode]
    /// The hub's allow-list (its word on who may write what).
    var directory: Directory
    var generator: SeededGenerator
    var events = EventQueue()
    var links = LinkFaults.none
    /// Nodes cut off from the network until a time.
    var partitioned: [Int: UInt64] = [:]
    var clients: [Int: ClientRound] = [:]
    var listeners: [Int: [SessionKey: ListenedSession]] = [:]
    /// The node that listens for its department's peers.
    let peerListener: Int
    var healing = false
    /// What went wrong that a check must report (a session stuck, a step a store refused).
    var trouble: [String] = []
    var roundsFinished = 0
    /// How many backups were put back: each may lose the writes made after it that only its
    /// node held.
    var restores = 0

    static let hub = 0
    static let tracing = ProcessInfo.processInfo.environment["SITESYNC_SIM_TRACE"] != nil

    /// One direction of a connection, which delivers in order.
    struct Link: Hashable {
        let from: Int
        let to: Int
        let toListener: Bool
    }
    var lastArrival: [Link: UInt64] = [:]

    struct SessionKey: Hashable {
        let client: Int
        let session: UInt64
    }

    struct ListenedSession {
        var machine: ServerSession
        var lastHeard: UInt64
    }

    struct ClientRound {
        var machine: ClientSession
        let target: Int
        let number: UInt64
        var lastHeard: UInt64
        var recordedAcknowledged = 0
        /// How it ended: `nil` while it runs.
        var failure: SessionFailure?
    }

    init(seed: UInt64, template: FleetTemplate) throws {
        self.seed = seed
        generator = SeededGenerator(seed: seed)
        let clock = SimulatedClock()
        self.clock = clock
        nodes = try template.members.enumerated().map { index, member in
            try SimulatedNode(name: member.name, role: member.role, department: member.department, clock: clock, template: member.store,
                              key: member.key, seed: seed &+ UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15)
        }
        directory = template.directory
        peerListener = template.peerListener
    }

    var hub: SimulatedNode { nodes[Self.hub] }

    // MARK: - Running

    /// Runs `duration` milliseconds of faulty life, then heals and settles the fleet.
    mutating func run(duration: UInt64, faults: Bool) throws {
        let start = clock.now
        if faults { links = LinkFaults.random(using: &generator) }
        for index in nodes.indices { events.schedule(.act(index), at: start + UInt64.random(in: 0...2_000, using: &generator)) }
        events.schedule(.expire, at: start + 5_000)
        if faults { scheduleFaults(from: start, to: start + duration) }
        try process(until: start + duration)
        try heal()
    }

    private mutating func scheduleFaults(from start: UInt64, to end: UInt64) {
        let count = Int.random(in: 0...6, using: &generator)
        var revoked = false
        for _ in 0..<count {
            let at = UInt64.random(in: start...end, using: &generator)
            let node = Int.random(in: nodes.indices, using: &generator)
            switch Int.random(in: 0..<6, using: &generator) {
            case 0:
                events.schedule(.fault(.crash(node)), at: at)
                events.schedule(.fault(.restart(node)), at: at + UInt64.random(in: 500...30_000, using: &generator))
            case 1:
                events.schedule(.fault(.partition(node, until: at + UInt64.random(in: 1_000...60_000, using: &generator))), at: at)
            case 2 where node != Self.hub:
                // A copy put back by hand is caught when its node next meets a replica holding
                // what it overwrote (protocol §9.5) — unless a peer of that node relayed it:
                // then a fork of its chain lives on at the peer, which nothing compares yet
                // (protocol §17, found by this simulation). Such copies are made only at nodes
                // without peers until chains are compared at every meeting.
                let byHand = nodes[node].department != nodes[peerListener].department && Bool.random(using: &generator)
                events.schedule(.fault(.backup(node)), at: at)
                events.schedule(.fault(.restore(node, byHand: byHand)), at: at + UInt64.random(in: 1_000...60_000, using: &generator))
            case 3:
                let jump = Int64.random(in: -3 * 86_400_000...3 * 86_400_000, using: &generator)
                events.schedule(.fault(.clockJump(node, milliseconds: jump)), at: at)
            case 4 where !revoked && nodes[node].role == .field:
                revoked = true
                events.schedule(.fault(.revoke(node)), at: at)
            default:
                break
            }
        }
    }

    /// Handles events in time order until `end` (or until none is left).
    private mutating func process(until end: UInt64) throws {
        var steps = 0
        while let (time, event) = events.next() {
            steps += 1
            guard steps < 200_000 else { throw SimulationError("seed \(seed): the run did not settle after \(steps) events") }
            if time > end {
                events.schedule(event, at: time)
                return
            }
            clock.advance(to: time)
            try handle(event)
        }
    }

    private mutating func handle(_ event: SimulationEvent) throws {
        switch event {
        case .deliver(let from, let to, let toListener, let frames):
            guard nodes[to].isUp, isConnected(to), isConnected(from) else { return }
            if toListener { try listen(at: to, from: from, frames) } else { try hear(at: to, frames) }
        case .act(let index):
            if !healing { try act(index) }
        case .deadline(let index, let number):
            guard var round = clients[index], round.number == number else { return }
            if clock.now - round.lastHeard >= Self.clientDeadline {
                try run(round.machine.timedOut(), at: index, round: &round)
                clients[index] = round
                try settle(index)
            } else {
                events.schedule(.deadline(index, round: number), at: round.lastHeard + Self.clientDeadline)
            }
        case .expire:
            for index in listeners.keys {
                listeners[index] = listeners[index]!.filter { clock.now - $0.value.lastHeard < Self.sessionTimeout }
            }
            if !events.isEmpty || !clients.isEmpty { events.schedule(.expire, at: clock.now + 5_000) }
        case .fault(let fault):
            if !healing {
                if Self.tracing { print("\(clock.now): \(fault)") }
                try apply(fault)
            }
        }
    }

    private func isConnected(_ index: Int) -> Bool {
        guard let until = partitioned[index] else { return true }
        return clock.now >= until
    }

    /// A node's next move: write something, or start a sync round; then it waits a while.
    private mutating func act(_ index: Int) throws {
        defer { events.schedule(.act(index), at: clock.now + UInt64.random(in: 200...8_000, using: &generator)) }
        let node = nodes[index]
        guard node.isUp else { return }
        if index != Self.hub, Int.random(in: 0..<3, using: &generator) > 0 {
            Workload.write(at: node, using: &generator)
        } else if clients[index] == nil, !node.isCutOff, index != Self.hub {
            let toPeer = node.department == nodes[peerListener].department && index != peerListener && Bool.random(using: &generator)
            try startRound(index, target: toPeer ? peerListener : Self.hub)
        }
    }

    // MARK: - Clients

    private mutating func startRound(_ index: Int, target: Int) throws {
        let node = nodes[index]
        let store = node.store
        let acknowledgedOwn = Dictionary(try store.peers().map { ($0.node, $0.knowledge[store.identity.replica]) }) { a, b in max(a, b) }
        let directory = try store.directory()
        if Self.tracing, healing { print("\(clock.now): \(node.name) starts: own \(try store.knowledge()[store.identity.replica]), acknowledged \(acknowledgedOwn)") }
        let limits = SessionLimits(batchChanges: Int.random(in: 2...20, using: &generator), batchBytes: 256 * 1024,
                                   window: Int.random(in: 1...4, using: &generator))
        let number = UInt64.random(in: 1...UInt64.max, using: &generator)
        let machine = ClientSession(session: number, me: node.identity, versions: Self.versions, knowledge: try store.knowledge(),
                                    limits: limits, credential: store.identity.credential,
                                    directoryDigest: directory.isEmpty ? "" : directory.digest, wallClock: store.wallClock(),
                                    acknowledgedOwn: acknowledgedOwn)
        var round = ClientRound(machine: machine, target: target, number: number, lastHeard: clock.now)
        try run(machine.start(), at: index, round: &round)
        clients[index] = round
        events.schedule(.deadline(index, round: number), at: clock.now + Self.clientDeadline)
        try settle(index)
    }

    /// A message for the client at `index`.
    private mutating func hear(at index: Int, _ frames: [Data]) throws {
        guard var round = clients[index] else { return }
        let message = try SyncFrames.decode(frames, schema: .siteSync)
        if case .failure(let failure) = message, failure.session == 0 {
            // The listener no longer takes this node's key (protocol §: a revoked key is told
            // with a 403 on session 0 and cut off).
            clients[index] = nil
            if failure.code == .forbidden, round.target == Self.hub { nodes[index].isCutOff = true }
            return
        }
        guard message.session == round.number else { return }
        round.lastHeard = clock.now
        try run(round.machine.handle(.message(message)), at: index, round: &round)
        clients[index] = round
        try settle(index)
    }

    /// Carries out a client machine's effects, feeding store answers back until it waits on the network.
    private mutating func run(_ effects: [SessionEffect], at index: Int, round: inout ClientRound) throws {
        var pending = effects
        let peerIsHub = round.target == Self.hub
        while !pending.isEmpty {
            let effect = pending.removeFirst()
            let store = SessionStore(nodes[index].store, access: nil, peerIsHub: peerIsHub)
            switch effect {
            case .send(let message):
                send(from: index, to: round.target, toListener: true, message)
            case .read(let request):
                pending += round.machine.handle(Self.perform { .read(try store.read(request)) })
            case .apply(let request):
                pending += round.machine.handle(Self.perform { .applied(try store.apply(request)) })
            case .rejected, .welcomed:
                try store.record(effect)
            case .fail(let failure):
                round.failure = failure
            case .finish:
                break
            }
            try noteAcknowledged(at: index, round: &round)
        }
    }

    /// What the peer acknowledged is recorded as it comes (as `SyncClient` does), so that a
    /// database restored from an old copy is found out on its next round.
    private mutating func noteAcknowledged(at index: Int, round: inout ClientRound) throws {
        let summary = round.machine.summary
        guard summary.pushedAcknowledged != round.recordedAcknowledged, let server = round.machine.server else { return }
        round.recordedAcknowledged = summary.pushedAcknowledged
        try nodes[index].store.recordPeer(PeerRecord(node: server.peer.node, replica: server.peer.replica, role: server.peer.role,
                                                     department: server.peer.department, knowledge: summary.peerKnowledge,
                                                     exchangedMilliseconds: nodes[index].store.wallClock(), via: "sync"))
    }

    /// Ends the client's round when its machine is over; a new epoch opens the node again.
    private mutating func settle(_ index: Int) throws {
        guard let round = clients[index], round.machine.isOver else { return }
        clients[index] = nil
        roundsFinished += 1
        lastRoundDone[index] = round.machine.phase == .done
        if Self.tracing {
            let s = round.machine.summary
            print("\(clock.now): \(nodes[index].name) → \(nodes[round.target].name) \(round.failure.map { "failed: \($0.code) \($0.reason)" } ?? "done") "
                  + "pushed \(s.pushedSent)/\(s.pushedApplied) pulled \(s.pulledApplied) own \(try nodes[index].store.knowledge()[nodes[index].store.identity.replica])")
        }
        lastFailure[index] = round.failure
        if round.failure?.kind == .newEpoch { try nodes[index].reopen() }
    }

    /// Whether each node's last round completed, and why not.
    var lastRoundDone: [Int: Bool] = [:]
    var lastFailure: [Int: SessionFailure] = [:]

    static func perform(_ body: () throws -> SessionEvent) -> SessionEvent {
        do { return try body() } catch { return SessionStore.failure(error) }
    }

    // MARK: - Listeners

    /// The allow-list a listener checks keys against: the hub's own, or a node's copy of it.
    private func allowList(at index: Int) throws -> Directory {
        index == Self.hub ? directory : try nodes[index].store.directory()
    }

    private mutating func listen(at index: Int, from client: Int, _ frames: [Data]) throws {
        // Who the client is comes from the key it connected with, as CURVE and the allow-list say.
        guard let entry = try allowList(at: index).entry(node: nodes[client].name), entry.active else {
            send(from: index, to: client, toListener: false,
                 .failure(SyncMessage.Failure(code: .forbidden, reason: "key not allowed", session: 0)))
            return
        }
        let message = try SyncFrames.decode(frames, schema: .siteSync)
        let store = nodes[index].store
        let key = SessionKey(client: client, session: message.session)
        if case .hello(let hello) = message {
            let (machine, effects) = ServerSession.accept(
                hello, me: nodes[index].identity, versions: Self.versions, knowledge: try store.knowledge(),
                limits: SessionLimits(batchChanges: 16, batchBytes: 256 * 1024, window: 3), authenticated: entry,
                credential: store.identity.credential, directory: index == Self.hub ? directory : nil, wallClock: store.wallClock())
            if let machine { listeners[index, default: [:]][key] = ListenedSession(machine: machine, lastHeard: clock.now) }
            try serve(effects, at: index, key: key)
            return
        }
        guard var session = listeners[index]?[key] else {
            send(from: index, to: client, toListener: false,
                 .failure(SyncMessage.Failure(code: .unknownSession, reason: "unknown session", session: message.session)))
            return
        }
        session.lastHeard = clock.now
        let effects = session.machine.handle(.message(message))
        listeners[index]![key] = session
        try serve(effects, at: index, key: key)
    }

    private mutating func serve(_ effects: [SessionEffect], at index: Int, key: SessionKey) throws {
        var pending = effects
        let isHub = index == Self.hub
        let list = try allowList(at: index)
        let store = SessionStore(nodes[index].store, access: AccessPolicy(authoritative: isHub) { list }, peerIsHub: false)
        while !pending.isEmpty {
            let effect = pending.removeFirst()
            switch effect {
            case .send(let message):
                send(from: index, to: key.client, toListener: false, message)
            case .read(let request):
                pending += answer(Self.perform { .read(try store.read(request)) }, at: index, key: key)
            case .apply(let request):
                pending += answer(Self.perform { .applied(try store.apply(request)) }, at: index, key: key)
            case .finish, .fail:
                listeners[index]?[key] = nil
            case .rejected, .welcomed:
                break
            }
        }
    }

    private mutating func answer(_ event: SessionEvent, at index: Int, key: SessionKey) -> [SessionEffect] {
        guard var session = listeners[index]?[key] else { return [] }
        let effects = session.machine.handle(event)
        listeners[index]![key] = session
        return effects
    }

    // MARK: - The network

    private mutating func send(from: Int, to: Int, toListener: Bool, _ message: SyncMessage) {
        guard nodes[from].isUp, isConnected(from) else { return }
        let frames = SyncFrames.encode(message)
        let link = Link(from: from, to: to, toListener: toListener)
        var last = lastArrival[link] ?? 0
        defer { lastArrival[link] = last }
        for time in links.arrivals(at: clock.now, after: &last, using: &generator) {
            events.schedule(.deliver(from: from, to: to, toListener: toListener, frames: frames), at: time)
        }
    }

    // MARK: - Faults

    private mutating func apply(_ fault: Fault) throws {
        switch fault {
        case .crash(let index):
            // Whatever was not committed is gone: the rounds and sessions in memory.
            nodes[index].isUp = false
            clients[index] = nil
            listeners[index] = nil
        case .restart(let index):
            nodes[index].isUp = true
        case .partition(let index, let until):
            partitioned[index] = max(partitioned[index] ?? 0, until)
        case .backup(let index):
            nodes[index].backups.append(try nodes[index].store.memoryCopy())
            if Self.tracing { print("backup \(nodes[index].name): own \(try nodes[index].store.knowledge()[nodes[index].store.identity.replica])") }
        case .restore(let index, let byHand):
            guard let backup = nodes[index].backups.popLast(), clients[index] == nil else { return }
            restores += 1
            if Self.tracing {
                let me = nodes[index].store.identity.replica
                print("restore \(nodes[index].name): now own \(try nodes[index].store.knowledge()[me]) peers \(try nodes[index].store.peers().map { ($0.node, $0.knowledge[me]) }); backup own \(try backup.knowledge()[me]) peers \(try backup.peers().map { ($0.node, $0.knowledge[me]) })")
            }
            try forgetWritesLostWithTheDisk(index, backup: backup)
            try nodes[index].copyBack(backup)
            if !byHand {
                try nodes[index].store.takeNewEpoch()
                try nodes[index].reopen()
            }
        case .clockJump(let index, let milliseconds):
            clock.jump(nodes[index].name, by: milliseconds)
        case .revoke(let index):
            let name = nodes[index].name
            directory = Directory(directory.entries.map {
                $0.node == name ? DirectoryEntry(node: $0.node, role: $0.role, department: $0.department, key: $0.key, active: false) : $0
            })
            // Its connections are cut at once: told with a 403 on session 0.
            for key in (listeners[Self.hub] ?? [:]).keys.sorted(by: { $0.session < $1.session }) where key.client == index {
                listeners[Self.hub]![key] = nil
                send(from: Self.hub, to: index, toListener: false,
                     .failure(SyncMessage.Failure(code: .forbidden, reason: "revoked", session: 0)))
            }
        }
    }

    /// A write made after the backup that no other replica received is gone with the disk it
    /// was on (and its id may be written again, with other content).
    private mutating func forgetWritesLostWithTheDisk(_ index: Int, backup: ReplicaStore) throws {
        let kept = try backup.knowledge()
        var surviving: [(dot: Dot, department: String)] = []
        for (dot, department) in nodes[index].written {
            var heldElsewhere = false
            for other in nodes.indices where try other != index && nodes[other].store.changeStatus(dot) != nil { heldElsewhere = true }
            if dot.counter <= kept[dot.replica] || heldElsewhere { surviving.append((dot, department)) }
        }
        nodes[index].written = surviving
    }

    // MARK: - Healing

    /// Ends every fault, then syncs each node that may sync with the hub until a whole pass
    /// moves nothing. A pass that never comes is a stuck fleet.
    private mutating func heal() throws {
        healing = true
        links = .none
        partitioned = [:]
        for index in nodes.indices { nodes[index].isUp = true }
        clients = [:]
        listeners = [:]
        // Let what is still in the air land or be dropped (the nodes stopped acting).
        try process(until: clock.now + 25_000)
        clients = [:]
        for pass in 1...8 {
            var moved = false
            for index in nodes.indices where index != Self.hub && !nodes[index].isCutOff {
                let before = try nodes[index].store.knowledge(), hubBefore = try hub.store.knowledge()
                try startRound(index, target: Self.hub)
                try process(until: clock.now + 120_000)
                if clients[index] != nil { trouble.append("the round of \(nodes[index].name) in pass \(pass) never ended") }
                clients[index] = nil
                if try nodes[index].store.knowledge() != before || hub.store.knowledge() != hubBefore { moved = true }
                if lastRoundDone[index] != true, !nodes[index].isCutOff { moved = true }
            }
            if !moved { return }
        }
        let failing = nodes.indices.compactMap { index in lastFailure[index].map { "\(nodes[index].name): \($0.code) \($0.reason)" } }
        trouble.append("the fleet did not settle in 8 passes; last failures: " + failing.joined(separator: "; "))
    }
}

struct SimulationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ReplicaStore {
    /// The status of a change in this replica's log (0 in force), or `nil` when not held.
    func changeStatus(_ dot: Dot) throws -> Int64? {
        try pool.read { db in try self.entryStatus(db, dot) }
    }
}
