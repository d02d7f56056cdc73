import Foundation
import Testing
@testable import SiteSyncCore
@testable import SiteSyncNet
@testable import SiteSyncStore

/// Batches that arrive while the writer is busy are applied together, in one transaction, and
/// each is reported — acknowledged — only after that commit, in the order they came.
@Suite struct ReceivedBatchesTests {
    final class Reports: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [(sequence: UInt64, heldThen: UInt64)] = []
        func add(_ sequence: UInt64, _ held: UInt64) { lock.withLock { entries.append((sequence, held)) } }
        var all: [(sequence: UInt64, heldThen: UInt64)] { lock.withLock { entries } }
    }

    @Test func batchesWaitingForTheWriterAreAppliedInOneTransactionAndReportedInOrder() throws {
        let office = try ReplicaStore.inMemory(node: "office", key: .generate())
        let site = try ReplicaStore.inMemory(node: "site", key: .generate())
        let planner = LocalWritePlanner(schema: .siteSync, writer: WriterIdentity(role: .office, department: "roads"))
        let sender = PeerIdentity(node: "office", replica: office.identity.replica, role: .office, department: "roads")
        func put(_ collection: String, _ id: String, _ fields: String...) throws {
            let parsed = try fields.map { try FieldAssignment(parsing: $0) }
            try office.write { try planner.planUpsert(collection: collection, id: id, assignments: parsed, reader: $0) }
        }
        var requests: [ApplyRequest] = []
        var sent = VersionVector()
        /// What the office wrote since the last batch, as the next batch a session receives.
        func batch() throws {
            let page = try office.changes(lackedBy: sent, scope: .everything)
            requests.append(ApplyRequest(sequence: UInt64(requests.count + 1), changes: try CheckedBatch(page, schema: .siteSync).changes.map(\.change),
                                         holes: page.holes, proof: page.proof, claim: .none, sender: sender))
            sent = try office.knowledge()
        }
        try put("department", "roads", "name=Roads")
        try put("project", "p1", "code=R-001", "name=Ring road", "department=roads")
        try batch()
        try put("activity", "a1", "project=p1", "name=Earthworks")
        try batch()
        try put("activity", "a2", "project=p1", "name=Kerbs")
        try batch()

        let writer = DispatchQueue(label: "test.writer")
        let received = ReceivedBatches(store: site, access: nil, peerIsHub: false, queue: writer)
        let busy = DispatchSemaphore(value: 0)
        writer.async { busy.wait() }
        let reports = Reports()
        let me = office.identity.replica
        for request in requests {
            received.submit(request, checked: try SessionStore.check(request)) { outcome, _ in
                let held = (try? site.knowledge()[me]) ?? 0
                reports.add((try? outcome.get().sequence) ?? 0, held)
            }
        }
        busy.signal()
        writer.sync {}
        #expect(reports.all.map(\.sequence) == [1, 2, 3], "acknowledged out of order, or one failed")
        #expect(reports.all.map(\.heldThen) == [4, 4, 4],
                "each batch was committed alone: the first was reported before the others were applied")
        #expect(try site.knowledge()[me] == 4)
    }
}
