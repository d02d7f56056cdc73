import Foundation
import SiteSyncTestSupport

/// What the simulation does next, at a simulated time.
enum SimulationEvent {
    /// A message arrives at node `to` (a listener when `toListener`, else a client).
    case deliver(from: Int, to: Int, toListener: Bool, frames: [Data])
    /// A node does its next thing: a local write, a sync round, nothing.
    case act(Int)
    /// A client's round checks its deadline.
    case deadline(Int, round: UInt64)
    /// A listener's housekeeping: it forgets sessions gone silent.
    case expire(Int)
    case fault(Fault)
}

enum Fault {
    case crash(Int)
    case restart(Int)
    case partition(Int, until: UInt64)
    case backup(Int)
    /// A backup put back: `byHand` as a person copying the file (the database does not know),
    /// else with `sitesync restore` (a new epoch at once).
    case restore(Int, byHand: Bool)
    case clockJump(Int, milliseconds: Int64)
    case revoke(Int)
}

/// The events to come, in time order (ties in the order they were scheduled, so a run depends
/// on its seed alone).
struct EventQueue {
    private var heap: [(time: UInt64, order: UInt64, event: SimulationEvent)] = []
    private var scheduled: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }

    mutating func schedule(_ event: SimulationEvent, at time: UInt64) {
        scheduled += 1
        heap.append((time, scheduled, event))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard earlier(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func next() -> (time: UInt64, event: SimulationEvent)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let first = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, earlier(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, earlier(heap[right], heap[smallest]) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (first.time, first.event)
    }

    private func earlier(_ a: (time: UInt64, order: UInt64, event: SimulationEvent),
                         _ b: (time: UInt64, order: UInt64, event: SimulationEvent)) -> Bool {
        (a.time, a.order) < (b.time, b.order)
    }
}

/// How unreliable the network is in one run (all zero once the simulation heals it).
struct LinkFaults {
    var drop = 0.0
    var duplicate = 0.0
    /// Chance that a message is held back long (seconds), reordering it behind later ones.
    var stall = 0.0
    var maxDelay: UInt64 = 50

    static let none = LinkFaults()

    static func random<G: RandomNumberGenerator>(using g: inout G) -> LinkFaults {
        LinkFaults(drop: Double.random(in: 0...0.08, using: &g), duplicate: Double.random(in: 0...0.05, using: &g),
                   stall: Double.random(in: 0...0.05, using: &g), maxDelay: UInt64.random(in: 1...400, using: &g))
    }

    /// When each copy of a message sent at `now` arrives (none: dropped). A connection delivers
    /// in order, as TCP does (`lastArrival` is its latest), unless a copy is stalled: that one
    /// arrives late, behind messages sent after it.
    func arrivals<G: RandomNumberGenerator>(at now: UInt64, after lastArrival: inout UInt64, using g: inout G) -> [UInt64] {
        if Double.random(in: 0..<1, using: &g) < drop { return [] }
        let copies = Double.random(in: 0..<1, using: &g) < duplicate ? 2 : 1
        return (0..<copies).map { _ in
            let arrival = max(now + UInt64.random(in: 1...maxDelay, using: &g), lastArrival)
            guard Double.random(in: 0..<1, using: &g) >= stall else { return arrival + UInt64.random(in: 1_000...20_000, using: &g) }
            lastArrival = arrival
            return arrival
        }
    }
}
