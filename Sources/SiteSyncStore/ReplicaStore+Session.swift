import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// What a receiver checks each received change against, beyond its signature.
public struct AccessPolicy: Sendable {
    /// The allow-list in force now (`nil`: none applies, changes are checked only against
    /// their signatures).
    public let directory: @Sendable () -> Directory?
    /// Whether the list is the last word (the hub's), or a node's copy that may be behind (see
    /// ``ChangeAuthorizer/authoritative``).
    public let authoritative: Bool

    public init(authoritative: Bool, directory: @escaping @Sendable () -> Directory?) {
        self.authoritative = authoritative
        self.directory = directory
    }
}

/// Carries out a sync session's store effects (``SessionEffect/read``,
/// ``SessionEffect/apply``, ``SessionEffect/rejected``, ``SessionEffect/welcomed``) on a
/// store: the one place where sessions meet SQLite, used by the network drivers and by the
/// tests that run sessions without sockets.
public struct SessionStore: Sendable {
    public let store: ReplicaStore
    public let access: AccessPolicy?
    /// Whether the peer is this node's hub (the listener whose key it pins): the one peer whose
    /// word this node takes for more than its changes — knowledge beyond the changes held here,
    /// refusals of this node's changes, records' state, this node's role and the allow-list.
    /// From any other peer (and at a listener, from every client) only changes count.
    public let peerIsHub: Bool

    public init(_ store: ReplicaStore, access: AccessPolicy? = nil, peerIsHub: Bool = false) {
        self.store = store
        self.access = access
        self.peerIsHub = peerIsHub
    }

    /// Reads one page of what the peer lacks and decodes it for sending.
    public func read(_ request: ReadRequest) throws -> ReadResult {
        if request.states {
            let page = try store.statePage(after: request.after, scope: request.scope, limit: request.limits.batchChanges,
                                           maxBytes: request.limits.batchBytes, standing: request.base.isEmpty ? nil : request.base)
            var result = ReadResult(changes: [], cursor: page.cursor, exhausted: page.exhausted, knowledge: page.knowledge)
            result.states = page.states
            result.heads = page.heads
            return result
        }
        // The first read of a pull: a receiver that lacks changes this replica no longer logs
        // needs the records' state first.
        if request.after == 0, try store.lacksCompacted(request.base, scope: request.scope) {
            var result = ReadResult(changes: [], cursor: 0, exhausted: false, knowledge: try store.knowledge())
            result.needsStates = true
            return result
        }
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
        return ReadResult(changes: changes, holes: page.holes, proof: page.proof, cursor: page.cursor, exhausted: page.exhausted,
                          knowledge: knowledge)
    }

    /// Checks a received batch against its origins' signatures, with the bytes the log stores
    /// for each change: the canonical encoding, which is what their origin stored and signed.
    /// Done before ``apply(_:checked:)`` and off the thread that writes, so that the writer only
    /// writes.
    public static func check(_ request: ApplyRequest) throws -> CheckedBatch {
        try CheckedBatch(changes: request.changes.map { IncomingChange(change: $0, payload: ChangeCodec.encode($0)) },
                         holes: request.holes, proof: request.proof)
    }

    /// Applies one received, checked batch in one transaction and reports the knowledge after it.
    public func apply(_ request: ApplyRequest, checked: CheckedBatch) throws -> ApplyOutcome {
        if request.isStateTransfer { return try applyStates(request) }
        return try apply([(request, checked)])[0].get()
    }

    /// Applies received, checked batches of changes in order in one durable transaction, each
    /// in a savepoint of its own: a batch refused leaves nothing of itself, and the batches
    /// around it apply as they would alone. Each outcome holds once this returns, the
    /// transaction committed, and not before: a batch is acknowledged only then (protocol
    /// §7.5). If the commit fails, every batch fails with it.
    ///
    /// A receiver gives it the batches that arrived while it applied the ones before, so that
    /// one fsync makes several durable when the disk is the bottleneck. A state transfer's
    /// batch applies alone, in its own transaction.
    public func apply(_ batches: [(request: ApplyRequest, checked: CheckedBatch)]) -> [Result<ApplyOutcome, any Error>] {
        if batches.count == 1, batches[0].request.isStateTransfer {
            return [Result { try applyStates(batches[0].request) }]
        }
        // The allow-list is read before the write begins: it is read through another connection.
        let authorizers = batches.map { authorizer(for: $0.checked.proof.credentials) }
        var outcomes: [Result<ApplyOutcome, any Error>] = []
        do {
            try StoreError.mapping {
                try store.pool.write { db in
                    for ((request, checked), authorizer) in zip(batches, authorizers) {
                        let outcome = Result<ApplyOutcome, any Error> {
                            try StoreError.mapping {
                                var outcome: ApplyOutcome?
                                try db.inSavepoint {
                                    outcome = try applyChanges(request, checked: checked, authorizer: authorizer, db)
                                    return .commit
                                }
                                return outcome!
                            }
                        }
                        // A full disk or an I/O error makes SQLite roll the whole transaction
                        // back: every batch of it fails, with that error (not the failed commit's).
                        if case .failure(let error) = outcome, !db.isInsideTransaction { throw error }
                        outcomes.append(outcome)
                    }
                }
            }
        } catch {
            return batches.map { _ in .failure(error) }
        }
        return outcomes
    }

    /// One batch of changes, inside the caller's transaction.
    private func applyChanges(_ request: ApplyRequest, checked: CheckedBatch, authorizer: ChangeAuthorizer?, _ db: Database) throws -> ApplyOutcome {
        guard !request.isStateTransfer else {
            throw StoreError(.rejectedChange, "a state transfer's batch was given with other batches; nothing of it was applied")
        }
        let report = try store.apply(checked, claim: peerIsHub ? request.claim : .none, authorizer: authorizer, db)
        if !request.origins.isEmpty {
            try store.learnReplicaNames(request.origins.map { ($0.replica, $0.node) }, db)
        }
        return ApplyOutcome(sequence: request.sequence, applied: report.applied, known: report.alreadyKnown,
                            knowledge: try StoredKnowledge(db).vector(), refusals: report.refusals)
    }

    /// A state transfer's batch (protocol §9.6), in one transaction.
    private func applyStates(_ request: ApplyRequest) throws -> ApplyOutcome {
        // Records carry no origin signatures: they are taken only from the hub, whose key
        // this node pins (a peer's batches are checked against the allow-list instead).
        guard peerIsHub else {
            throw StoreError(.rejectedChange, "\(request.sender.node) sent records' state, which only the hub may send; nothing was applied")
        }
        var vouched = VersionVector()
        if case .inOrder(let claimed) = request.claim { vouched = claimed }
        let report = try store.applyStates(request.states, complete: request.statesComplete, heads: request.heads, vouched: vouched)
        return ApplyOutcome(sequence: request.sequence, applied: report.applied, known: report.alreadyKnown, knowledge: try store.knowledge())
    }

    /// Checks and applies in one go (for tests and single-threaded drivers).
    public func apply(_ request: ApplyRequest) throws -> ApplyOutcome {
        try apply(request, checked: Self.check(request))
    }

    /// Who may have written each origin's changes, by the allow-list in force.
    public func authorizer(for credentials: [ReplicaCredential]) -> ChangeAuthorizer? {
        guard let access, let directory = access.directory() else { return nil }
        let (known, unknown) = directory.writers(of: credentials)
        return ChangeAuthorizer(writers: known, unknown: unknown, authoritative: access.authoritative)
    }

    /// Carries out the bookkeeping effects of a client session: refusals of this node's
    /// changes, and what the server's Welcome says.
    public func record(_ effect: SessionEffect) throws {
        switch effect {
        case .rejected(let refusals, let peer):
            // Only the hub's refusals are final; a peer's copy of the allow-list may be behind
            // (the hub decides when the change reaches it). A reused id is a fact any receiver
            // can see, and answering it costs only a new epoch.
            let final = peerIsHub ? refusals : refusals.filter { $0.code == .reusedID }
            try store.markRejected(final, by: peer.node)
        case .welcomed(let welcome) where peerIsHub:
            if let directory = welcome.directory { try store.saveDirectory(directory) }
            if let me = welcome.client { try store.saveAuthorizedIdentity(role: me.role, department: me.department) }
        default:
            break
        }
    }

    /// The store failure as a session sees it: worth retrying later, or a refusal.
    public static func failure(_ error: any Error) -> SessionEvent {
        if let error = error as? StoreError {
            switch error.code {
            case .storageFull, .busy, .database, .workingCopyUnfit: return .storeFailed(error.message, retryLater: true)
            default: return .storeFailed(error.message, retryLater: false)
            }
        }
        return .storeFailed("\(error)", retryLater: true)
    }
}

extension ReplicaStore {
    /// Keeps the hub's allow-list as received, to check what peers send.
    public func saveDirectory(_ directory: Directory) throws {
        try StoreError.mapping {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM sync_directory")
                for entry in directory.entries {
                    try db.execute(sql: "INSERT INTO sync_directory (node, role, department, key, active) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [entry.node, entry.role.rawValue, entry.department, entry.key.description, entry.active])
                }
            }
        }
    }

    /// The hub's allow-list as last received (empty when never).
    public func directory() throws -> Directory {
        try StoreError.mapping {
            try pool.read { db in
                Directory(try Row.fetchAll(db, sql: "SELECT node, role, department, key, active FROM sync_directory").compactMap { row in
                    guard let role = Role(rawValue: row[1]), let key = NodePublicKey(text: row[3]) else { return nil }
                    return DirectoryEntry(node: row[0], role: role, department: row[2], key: key, active: row[4])
                })
            }
        }
    }

    /// Records the role and department the hub knows this node by (from its key).
    public func saveAuthorizedIdentity(role: Role, department: String) throws {
        try StoreError.mapping {
            try pool.write { db in
                for (key, value) in [("authorized_role", role.rawValue), ("authorized_department", department)] {
                    try db.execute(sql: "INSERT OR REPLACE INTO sync_meta (key, value) VALUES (?, ?)", arguments: [key, value])
                }
            }
        }
    }

    /// The role and department the hub last said this node has, if it did.
    public func authorizedIdentity() throws -> WriterIdentity? {
        try StoreError.mapping {
            try pool.read { db in
                guard let role = try String.fetchOne(db, sql: "SELECT value FROM sync_meta WHERE key = 'authorized_role'").flatMap(Role.init),
                      let department = try String.fetchOne(db, sql: "SELECT value FROM sync_meta WHERE key = 'authorized_department'")
                else { return nil }
                return WriterIdentity(role: role, department: department)
            }
        }
    }
}
