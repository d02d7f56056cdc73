import Foundation
import SiteSyncCore
import SiteSyncWire

/// Carries out a sync session's store effects (``SessionEffect/read`` and
/// ``SessionEffect/apply``) on a store: the one place where sessions meet SQLite, used by the
/// network drivers and by the tests that run sessions without sockets.
public struct SessionStore: Sendable {
    public let store: ReplicaStore

    public init(_ store: ReplicaStore) {
        self.store = store
    }

    /// Reads one page of what the peer lacks and decodes it for sending.
    public func read(_ request: ReadRequest) throws -> ReadResult {
        let knowledge = try store.knowledge()
        let page = try store.page(lackedBy: request.base, scope: request.scope, after: request.after,
                                  limit: request.limits.batchChanges, maxBytes: request.limits.batchBytes)
        var changes: [Change] = []
        changes.reserveCapacity(page.changes.count)
        for logged in page.changes {
            do {
                changes.append(try ChangeCodec.decode(origin: logged.dot.replica.rawValue, counter: logged.dot.counter,
                                                      payload: logged.payload, schema: store.schema))
            } catch {
                throw StoreError(.corrupt, "change \(logged.dot) in the log does not decode (\(error.message)); the database is damaged")
            }
        }
        return ReadResult(changes: changes, cursor: page.cursor, exhausted: page.exhausted, knowledge: knowledge)
    }

    /// The changes of a received batch with the bytes the log stores for each: the canonical
    /// encoding, which is what their origin stored. Done before ``apply(sequence:incoming:claim:origins:)``
    /// and off the thread that writes, so that the writer only writes.
    public static func incoming(_ changes: [Change]) -> [IncomingChange] {
        changes.map { IncomingChange(change: $0, payload: ChangeCodec.encode($0)) }
    }

    /// Applies one received batch in one transaction and reports the knowledge after it.
    public func apply(sequence: UInt64, changes: [Change], claim: KnowledgeClaim, origins: [PeerIdentity]) throws -> ApplyOutcome {
        try apply(sequence: sequence, incoming: Self.incoming(changes), claim: claim, origins: origins)
    }

    /// Applies one received batch, already prepared, in one transaction.
    public func apply(sequence: UInt64, incoming: [IncomingChange], claim: KnowledgeClaim, origins: [PeerIdentity]) throws -> ApplyOutcome {
        let report = try store.apply(incoming, claim: claim)
        if !origins.isEmpty {
            try store.learnReplicaNames(origins.map { ($0.replica, $0.node) })
        }
        return ApplyOutcome(sequence: sequence, applied: report.applied, known: report.alreadyKnown, knowledge: try store.knowledge())
    }

    /// The store failure as a session sees it: worth retrying later, or a refusal.
    public static func failure(_ error: any Error) -> SessionEvent {
        if let error = error as? StoreError {
            switch error.code {
            case .storageFull, .busy, .database: return .storeFailed(error.message, retryLater: true)
            default: return .storeFailed(error.message, retryLater: false)
            }
        }
        return .storeFailed("\(error)", retryLater: true)
    }
}
