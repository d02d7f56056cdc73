import Foundation
import GRDB
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
    /// Each node's sync round in progress (at most one), driven by the real ``ClientRound``.
    var clients: [Int: Round] = [:]
    /// The hub's and the peer listener's session tables, the real ``ListenerSessions``.
    var listeners: [Int: ListenerSessions<Int>] = [:]
    /// The node that listens for its department's peers.
    let peerListener: Int
    var healing = false
    /// What went wrong that a check must report (a session stuck, a step a store refused).
    var trouble: [String] = []
    /// Rounds ended, for the trace.
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

    struct Round {
        var machine: ClientRound
        let target: Int
        /// Told apart from a later round's, for deadlines scheduled before it ended.
        let number: UInt64
        var failure: RoundFailure?
        var done = false
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
        for index in [Self.hub, peerListener] { try openListener(index) }
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
            guard let round = clients[index], round.number == number, roundWake[index] == clock.now else { return }
            roundWake[index] = nil
            if let due = round.machine.nextDeadline, due <= clock.now {
                try drive(index, { $0.handle(.tick, at: $1) })
            } else {
                scheduleDeadline(index)
            }
        case .expire(let index):
            guard listenerWake[index] == clock.now else { return }
            listenerWake[index] = nil
            guard listeners[index] != nil else { return }
            try listen(index, .allowList(try allowList(at: index)))
            try listen(index, .tick)
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

    private func moment(_ index: Int) -> SyncMoment { SyncMoment(monotonic: clock.now, wall: clock.wall(of: nodes[index].name)) }

    private mutating func startRound(_ index: Int, target: Int) throws {
        let node = nodes[index]
        var configuration = ClientRound.Configuration(me: node.identity, versions: Self.versions)
        configuration.limits = SessionLimits(batchChanges: Int.random(in: 2...20, using: &generator), batchBytes: 256 * 1024,
                                             window: Int.random(in: 1...4, using: &generator))
        configuration.credential = node.store.identity.credential
        let number = UInt64.random(in: 1...UInt64.max, using: &generator)
        clients[index] = Round(machine: ClientRound(configuration), target: target, number: number)
        try drive(index) { round, now in round.start(at: now) }
    }

    /// Hands the client's machine one event (`step`), carries out what it asks until it waits on
    /// the network or the clock, and ends the round when it is over.
    private mutating func drive(_ index: Int, _ step: (inout ClientRound, SyncMoment) -> [ClientRound.Effect]) throws {
        guard var round = clients[index] else { return }
        var pending = step(&round.machine, moment(index))
        let store: any ReplicationStore = nodes[index].store
        let peerIsHub = round.target == Self.hub
        while !pending.isEmpty {
            let effect = pending.removeFirst()
            var event: ClientRound.Event?
            switch effect {
            case .prepareSession:
                let acknowledgedOwn = Dictionary(try store.peers().map { ($0.node, $0.knowledge[store.identity.replica]) }) { max($0, $1) }
                let directory = try store.directory()
                event = .prepared(ClientRound.SessionFacts(
                    session: UInt64.random(in: 1...UInt64.max, using: &generator), knowledge: try store.knowledge(),
                    directoryDigest: directory.isEmpty ? "" : directory.digest, acknowledgedOwn: acknowledgedOwn))
            case .send(let message):
                send(from: index, to: round.target, toListener: true, message)
            case .read(let session, let request):
                event = .store(session: session, Self.perform { .read(try store.readPage(request)) })
            case .apply(let session, let request):
                event = .store(session: session, Self.perform {
                    .applied(try store.applyBatch(request, checked: SessionStore.check(request), access: nil, peerIsHub: peerIsHub))
                })
            case .record(let effect):
                try store.recordSessionEffect(effect, peerIsHub: peerIsHub)
                directoryCopies[index] = nil
            case .recordPeer(let contact):
                try store.recordPeer(PeerRecord(contact))
            case .settle:
                event = .settled
            case .finished:
                round.done = true
            case .failed(let failure):
                round.failure = failure
            case .progress, .note:
                break
            }
            if let event { pending += round.machine.handle(event, at: moment(index)) }
        }
        clients[index] = round
        if round.machine.isOver { try end(index) } else { scheduleDeadline(index) }
    }

    private mutating func scheduleDeadline(_ index: Int) {
        guard let round = clients[index], let due = round.machine.nextDeadline.map({ max($0, clock.now + 1) }),
              roundWake[index].map({ due < $0 || $0 < clock.now }) ?? true else { return }
        roundWake[index] = due
        events.schedule(.deadline(index, round: round.number), at: due)
    }

    /// A message for the client at `index`.
    private mutating func hear(at index: Int, _ frames: [Data]) throws {
        guard clients[index] != nil else { return }
        let message = try SyncFrames.decode(frames, schema: .siteSync)
        try drive(index) { round, now in round.handle(.message(message), at: now) }
    }

    /// Ends the client's round: a revoked key is cut off for good; a new epoch opens the node again.
    private mutating func end(_ index: Int) throws {
        guard let round = clients.removeValue(forKey: index) else { return }
        roundsFinished += 1
        lastRoundDone[index] = round.done
        lastFailure[index] = round.failure
        if Self.tracing {
            let summary = round.machine.session?.summary ?? SessionSummary()
            print("\(clock.now): \(nodes[index].name) → \(nodes[round.target].name) \(round.failure.map { "failed: \($0)" } ?? "done") "
                  + "pushed \(summary.pushedSent)/\(summary.pushedApplied) pulled \(summary.pulledApplied) "
                  + "own \(try nodes[index].store.knowledge()[nodes[index].store.identity.replica])")
        }
        switch round.failure {
        case .revoked where round.target == Self.hub:
            nodes[index].isCutOff = true
        case .session(let failure) where failure.kind == .newEpoch:
            try nodes[index].reopen()
        default:
            break
        }
    }

    /// Whether each node's last round completed, and why not.
    var lastRoundDone: [Int: Bool] = [:]
    var lastFailure: [Int: RoundFailure] = [:]

    static func perform(_ body: () throws -> SessionEvent) -> SessionEvent {
        do { return try body() } catch { return SessionStore.failure(error) }
    }

    // MARK: - Listeners

    /// The allow-list a listener checks keys against: the hub's own, or a node's copy of it
    /// (read again only once the node may have received a new one, as the node's reload does).
    private mutating func allowList(at index: Int) throws -> Directory {
        if index == Self.hub { return directory }
        if let copy = directoryCopies[index] { return copy }
        let copy = try nodes[index].store.directory()
        directoryCopies[index] = copy
        return copy
    }

    /// Each node's copy of the allow-list, as last read.
    var directoryCopies: [Int: Directory] = [:]

    /// A fresh session table for the listener at `index` (at the start, and after a crash).
    private mutating func openListener(_ index: Int) throws {
        let node = nodes[index]
        var configuration = ListenerSessions<Int>.Configuration(me: node.identity, versions: Self.versions)
        configuration.limits = SessionLimits(batchChanges: 16, batchBytes: 256 * 1024, window: 3)
        configuration.authenticates = true
        configuration.credential = node.store.identity.credential
        configuration.housekeepingInterval = 5_000
        listeners[index] = ListenerSessions(configuration)
        listenerWake[index] = nil
        try listen(index, .allowList(try allowList(at: index)))
    }

    /// A message from the client at `client` to the listener at `index`; who the client is comes
    /// from the key it connected with, as CURVE and the allow-list say.
    private mutating func listen(at index: Int, from client: Int, _ frames: [Data]) throws {
        guard listeners[index] != nil else { return }
        let message = try SyncFrames.decode(frames, schema: .siteSync)
        try listen(index, .allowList(try allowList(at: index)))
        try listen(index, .message(client, message, from: .init(address: nodes[client].name, keyNode: nodes[client].name)))
    }

    /// Hands the listener one event and carries out what it asks.
    private mutating func listen(_ index: Int, _ first: ListenerSessions<Int>.Event) throws {
        guard var table = listeners[index] else { return }
        let isHub = index == Self.hub
        let store: any ReplicationStore = nodes[index].store
        let list = try allowList(at: index)
        let access = AccessPolicy(authoritative: isHub) { list }
        var pending = table.handle(first, at: moment(index))
        while !pending.isEmpty {
            let effect = pending.removeFirst()
            var event: ListenerSessions<Int>.Event?
            switch effect {
            case .send(let client, let message):
                send(from: index, to: client, toListener: false, message)
            case .gatherWelcomeFacts(let client, let session, _, _):
                // `nil` is the machine's "the store could not be read" (it answers 503), as the
                // socket driver passes it.
                let facts = try? WelcomeFacts(knowledge: store.knowledge(), directory: isHub ? directory : nil)
                event = .welcomeFacts(client, session: session, facts)
            case .read(let client, let session, let request):
                event = .store(client, session: session, Self.perform { .read(try store.readPage(request)) })
            case .apply(let client, let session, let request):
                event = .store(client, session: session, Self.perform {
                    .applied(try store.applyBatch(request, checked: SessionStore.check(request), access: access, peerIsHub: false))
                })
            case .recordPeer(let contact):
                try store.recordPeer(PeerRecord(contact))
            case .recordServed(let served):
                try store.recordHistory(SyncHistoryEntry(served))
            case .closeAllConnections:
                // The listener re-binds: every client's connection drops, and they resume.
                for client in clients.keys.sorted() where clients[client]?.target == index { disconnected.append(client) }
            case .hint, .note:
                break
            }
            if let event { pending += table.handle(event, at: moment(index)) }
        }
        listeners[index] = table
        if let due = table.nextDeadline.map({ max($0, clock.now + 1) }), listenerWake[index].map({ due < $0 || $0 < clock.now }) ?? true {
            listenerWake[index] = due
            events.schedule(.expire(index), at: due)
        }
        while !disconnected.isEmpty {
            let client = disconnected.removeFirst()
            try drive(client) { round, now in round.handle(.disconnected, at: now) }
        }
    }

    /// Clients whose connection a listener dropped, told once the listener is done.
    var disconnected: [Int] = []
    /// When each listener's and each round's next wake-up is scheduled (one at a time).
    var listenerWake: [Int: UInt64] = [:]
    var roundWake: [Int: UInt64] = [:]

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
            if index == Self.hub || index == peerListener { try openListener(index) }
        case .partition(let index, let until):
            partitioned[index] = max(partitioned[index] ?? 0, until)
        case .backup(let index):
            nodes[index].backups.append(try nodes[index].store.memoryCopy())
            if Self.tracing { print("backup \(nodes[index].name): own \(try nodes[index].store.knowledge()[nodes[index].store.identity.replica])") }
        case .restore(let index, let byHand):
            directoryCopies[index] = nil
            guard let backup = nodes[index].backups.popLast(), clients[index] == nil else { return }
            restores += 1
            if Self.tracing {
                let me = nodes[index].store.identity.replica
                print("restore \(nodes[index].name): now own \(try nodes[index].store.knowledge()[me]) peers \(try nodes[index].store.peers().map { ($0.node, $0.knowledge[me]) }); backup own \(try backup.knowledge()[me]) peers \(try backup.peers().map { ($0.node, $0.knowledge[me]) })")
            }
            try forgetWritesLostWithTheDisk(index, backup: backup)
            // A copy made before its node's first acknowledged push to the hub, put back by
            // hand, is a known weakness (protocol §17): it is put back with `restore` instead.
            let byHand = try byHand && backup.peers().contains { $0.node == hub.name }
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
            // The listener learns the list changed, and cuts the revoked key off (a 403 on session 0).
            try listen(Self.hub, .allowList(directory))
        }
    }

    /// Once the fleet is settled and a session timeout has passed, no listener holds a session
    /// or a greeting: none is stuck.
    private mutating func checkListenersEmpty() throws {
        try process(until: clock.now + 70_000)
        for (index, table) in listeners.sorted(by: { $0.key < $1.key }) where table.openSessions + table.pendingGreetings > 0 {
            trouble.append("\(nodes[index].name) still holds \(table.openSessions) sessions and \(table.pendingGreetings) greetings")
        }
    }

    /// A write made after the backup that no other replica received is gone with the disk it
    /// was on (and its id may be written again, with other content).
    private mutating func forgetWritesLostWithTheDisk(_ index: Int, backup: ReplicaStore) throws {
        let kept = try backup.knowledge()
        var surviving: [(dot: Dot, department: String)] = []
        for (dot, department) in nodes[index].written {
            var heldElsewhere = false
            // Held elsewhere with this content: the same id may hold another write there.
            let mine = try nodes[index].store.payload(of: dot)
            for other in nodes.indices where try other != index && mine != nil && nodes[other].store.payload(of: dot) == mine {
                heldElsewhere = true
            }
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
        for index in [Self.hub, peerListener] { try openListener(index) }
        // Let what is still in the air land or be dropped (the nodes stopped acting).
        try process(until: clock.now + 25_000)
        clients = [:]
        for pass in 1...8 {
            var moved = false
            for index in nodes.indices where index != Self.hub && !nodes[index].isCutOff {
                let before = try nodes[index].store.knowledge(), hubBefore = try hub.store.knowledge()
                try startRound(index, target: Self.hub)
                let limit = clock.now + 120_000
                while clients[index] != nil, clock.now < limit, !events.isEmpty { try process(until: clock.now + 1_000) }
                if clients[index] != nil { trouble.append("the round of \(nodes[index].name) in pass \(pass) never ended") }
                clients[index] = nil
                if try nodes[index].store.knowledge() != before || hub.store.knowledge() != hubBefore { moved = true }
                if lastRoundDone[index] != true, !nodes[index].isCutOff { moved = true }
            }
            if !moved { return try checkListenersEmpty() }
        }
        let failing = nodes.indices.compactMap { index in lastFailure[index].map { "\(nodes[index].name): \($0)" } }
        trouble.append("the fleet did not settle in 8 passes; last failures: " + failing.joined(separator: "; "))
    }
}

struct SimulationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ReplicaStore {
    /// The bytes of a change in this replica's log, or `nil` when not held.
    func payload(of dot: Dot) throws -> Data? {
        try pool.read { db in try ChangeLog(db).entry(of: dot)?.payload }
    }

    /// The status of a change in this replica's log, or `nil` when not held.
    func changeStatus(_ dot: Dot) throws -> ChangeStatus? {
        try pool.read { db in try ChangeLog(db).status(of: dot) }
    }
}
