import Foundation
import SiteSyncCore
import SiteSyncStore

/// Received, checked batches on their way to the store, applied in as few durable transactions
/// as they allow (docs/design.md §6.1).
///
/// Each batch submitted gets a job on the writing queue, as before; the first job to run
/// applies its batch and every batch that arrived after it and still waits, in one
/// transaction (``ReplicationStore/applyBatches(_:access:peerIsHub:)``); the jobs of those find
/// nothing left to do. So a writer that keeps up commits each batch alone, and one that falls
/// behind (the disk is slower than the wire) commits a window's batches with one fsync. Every
/// batch's outcome is reported only after the commit that made it durable, in the order the
/// batches came, which is when its acknowledgement may leave (protocol §7.5).
final class ReceivedBatches: @unchecked Sendable {
    typealias Report = @Sendable (_ outcome: Result<ApplyOutcome, any Error>, _ seconds: Double) -> Void

    private struct Waiting {
        let request: ApplyRequest
        let checked: CheckedBatch
        let report: Report
    }

    /// The most changes one transaction takes from the batches waiting: eight default batches,
    /// half the default window (16), so that the other half arrives while this commits, and a
    /// transaction's pages stay within the writer's cache.
    static let changesPerTransaction = 8_000

    private let store: any ReplicationStore
    private let access: AccessPolicy?
    private let peerIsHub: Bool
    private let queue: DispatchQueue
    private let lock = NSLock()
    private var waiting: [Waiting] = []

    init(store: any ReplicationStore, access: AccessPolicy?, peerIsHub: Bool, queue: DispatchQueue) {
        self.store = store
        self.access = access
        self.peerIsHub = peerIsHub
        self.queue = queue
    }

    /// Queues a batch to apply; `report` is called on the writing queue once it is durable (or
    /// refused).
    func submit(_ request: ApplyRequest, checked: CheckedBatch, report: @escaping Report) {
        lock.lock()
        waiting.append(Waiting(request: request, checked: checked, report: report))
        lock.unlock()
        queue.async { self.applyWaiting() }
    }

    /// Applies the batches waiting, from the oldest, up to a transaction's worth; a state
    /// transfer's batch goes alone.
    private func applyWaiting() {
        let group = takeGroup()
        guard !group.isEmpty else { return }
        let started = monotonicMilliseconds()
        let outcomes = store.applyBatches(group.map { ($0.request, $0.checked) }, access: access, peerIsHub: peerIsHub)
        let seconds = Double(monotonicMilliseconds() - started) / 1000
        let changes = max(1, group.reduce(0) { $0 + $1.request.changes.count })
        for (batch, outcome) in zip(group, outcomes) {
            batch.report(outcome, seconds * Double(max(1, batch.request.changes.count)) / Double(changes))
        }
        Spent.free(group)
    }

    private func takeGroup() -> [Waiting] {
        lock.lock()
        defer { lock.unlock() }
        guard let first = waiting.first else { return [] }
        var count = 1
        var changes = first.request.changes.count
        if !first.request.isStateTransfer {
            while count < waiting.count, !waiting[count].request.isStateTransfer,
                  changes + waiting[count].request.changes.count <= Self.changesPerTransaction {
                changes += waiting[count].request.changes.count
                count += 1
            }
        }
        let group = Array(waiting.prefix(count))
        waiting.removeFirst(count)
        return group
    }
}
