import Foundation
import GRDB
import SiteSyncCore
import SiteSyncWire

/// A change as the log holds it: its position, its dot and its bytes.
public struct LoggedChange: Sendable, Equatable {
    /// The position in this replica's log (its apply order).
    public let sequence: Int64
    public let dot: Dot
    public let department: String
    public let payload: Data
}

/// A page of the change log, for sending: the changes in force, the changes withheld (sent as
/// holes), and the proof a receiver checks them against.
public struct LogPage: Sendable {
    public let changes: [LoggedChange]
    public let holes: [Hole]
    public let proof: BatchProof
    /// The position scanned up to: the next page continues after it.
    public let cursor: Int64
    /// Whether the scan reached the end of the log.
    public let exhausted: Bool
}

extension ReplicaStore {
    /// Every change this replica holds that a receiver with knowledge `base` lacks, within
    /// `scope`, in log order (so every change comes after the changes it depends on).
    public func changes(lackedBy base: VersionVector, scope: ReplicationScope = .everything) throws -> LogPage {
        try page(lackedBy: base, scope: scope, after: 0, limit: .max, maxBytes: .max)
    }

    /// One page of what a receiver with knowledge `base` lacks: at most `limit` changes and
    /// holes and about `maxBytes` of encoded changes, after log position `after`.
    ///
    /// A page ends where every chain it holds ends on a sealed change (a **cut point**), so the
    /// receiver can check all of it: at the last cut point within the limits. When there is none
    /// (a `limit` below ``SessionLimits/batchFloor``, or one change over `maxBytes`), it runs on
    /// to the first cut point, never past ``SessionLimits/batchBound`` entries (protocol §7.4):
    /// an origin seals every chain it left open at once at least every
    /// ``SessionLimits/batchFloor`` changes, and relays pass those points on as often.
    /// - Throws: ``StoreError`` `unsendable` when the log has no cut point within that bound
    ///   (written by an older SiteSync): no receiver may take such a page.
    public func page(lackedBy base: VersionVector, scope: ReplicationScope, after: Int64, limit: Int, maxBytes: Int) throws -> LogPage {
        let bound = max(limit, SessionLimits.batchFloor)
        return try StoreError.mapping {
            try pool.read { db in
                let start = try max(after, ChangeLog(db).firstLackingSequence(base: base) - 1)
                var entries: [PageEntry] = []
                var bytes = 0
                var cursor = after
                var unsealed: Set<ChainKey> = []
                var clean = (count: 0, cursor: after)
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT c.seq, c.replica, c.counter, c.department, c.payload, c.status, c.link, s.signature
                    FROM sync_change c
                    LEFT JOIN sync_seal s ON s.replica = c.replica AND s.department = c.department AND s.counter = c.counter AND s.link = c.link
                    WHERE c.seq > ? ORDER BY c.seq
                    """, arguments: [start])
                var exhausted = true
                while let row = try rows.next() {
                    let payload: Data = row[4]
                    if !entries.isEmpty && (entries.count >= limit || bytes + payload.count > maxBytes) {
                        if clean.count > 0 {
                            exhausted = false
                            break
                        }
                        // No clean end yet: run on until the chains are sealed, within the bound
                        // every receiver enforces (protocol §7.4) and its 8 MiB messages (§15).
                        if entries.count >= bound || bytes > 6 << 20 {
                            throw StoreError(.unsendable,
                                "the log holds a run of more than \(entries.count) changes (\(bytes) bytes) with no point where all of its chains are "
                                + "sealed, so it cannot be cut into batches a receiver accepts; it was written by an older SiteSync or "
                                + "relayed from a node that does not seal its transactions. Nothing is lost: carry it by "
                                + "`sitesync bundle export`, or ask for the node that wrote it to be upgraded and the changes re-issued")
                        }
                    }
                    let seq: Int64 = row[0]
                    cursor = seq
                    let dot = Dot(replica: ReplicaID(storageValue: row[1]), counter: UInt64(bitPattern: row[2]))
                    guard dot.counter > base[dot.replica] else { continue }
                    let department: String = row[3]
                    guard scope.includes(department: department) else { continue }
                    let chain = ChainKey(origin: dot.replica, department: department)
                    let signature: Data? = row[7]
                    entries.append(PageEntry(sequence: seq, dot: dot, department: department, payload: payload,
                                             status: ChangeStatus.stored(row[5]), link: ChainHash(Array(row[6] as Data)) ?? .genesis, signature: signature))
                    bytes += payload.count
                    if signature == nil { unsealed.insert(chain) } else { unsealed.remove(chain) }
                    if unsealed.isEmpty { clean = (entries.count, seq) }
                }
                if !exhausted || !unsealed.isEmpty {
                    guard clean.count > 0 || entries.isEmpty else {
                        // Every transaction is sealed when it commits: an unsealed end is damage.
                        throw StoreError(.corrupt, "the log ends with changes of chain \(unsealed.first!) that were never sealed; "
                                         + "the database is damaged: run `sitesync audit verify` and restore from a backup")
                    }
                    if clean.count < entries.count { exhausted = false }
                    entries.removeLast(entries.count - clean.count)
                    cursor = clean.cursor
                }
                return try self.makePage(db, entries, cursor: cursor, exhausted: exhausted)
            }
        }
    }

    private struct PageEntry {
        let sequence: Int64
        let dot: Dot
        let department: String
        let payload: Data
        let status: ChangeStatus
        let link: ChainHash
        let signature: Data?

        var chain: ChainKey { ChainKey(origin: dot.replica, department: department) }
    }

    /// Splits the entries into changes and holes and adds the proof: where each chain segment
    /// starts, its seals (one at least at its end), and each origin's credential.
    private func makePage(_ db: Database, _ entries: [PageEntry], cursor: Int64, exhausted: Bool) throws -> LogPage {
        var changes: [LoggedChange] = []
        changes.reserveCapacity(entries.count)
        var holes: [Hole] = []
        var first: [ChainKey: UInt64] = [:]
        for entry in entries {
            if first[entry.chain] == nil { first[entry.chain] = entry.dot.counter }
            switch entry.status {
            case .inForce:
                changes.append(LoggedChange(sequence: entry.sequence, dot: entry.dot, department: entry.department, payload: entry.payload))
            case .withheld:
                holes.append(try HoleCodec.decode(entry.payload).at(changes.count))
            case .retracted:
                let change = try ChangeCodec.decode(origin: entry.dot.replica.rawValue, counter: entry.dot.counter, payload: entry.payload,
                                                    schema: schema)
                holes.append(Hole(dot: entry.dot, department: entry.department, record: change.record,
                                  payloadHash: .of(payload: entry.payload), position: changes.count))
            }
        }
        var proof = BatchProof()
        for (chain, counter) in first.sorted(by: { $0.key < $1.key }) {
            let head = try ChangeLog(db).head(chain, before: counter)
            proof.starts.append(ChainStart(chain: chain, counter: head.counter, link: head.link))
        }
        proof.seals = Self.sealsToSend(entries)
        for origin in Set(first.keys.map(\.origin)).sorted() {
            guard let credential = try KnownReplicas(db).credential(of: origin) else {
                throw StoreError(.corrupt, "this replica holds changes of \(origin) but not its key; the database is damaged")
            }
            proof.credentials.append(credential)
        }
        return LogPage(changes: changes, holes: holes, proof: proof, cursor: cursor, exhausted: exhausted)
    }

    /// How far apart, in changes and in bytes, a relay keeps points where it can cut pages.
    static let relaySealSpacing = (changes: SessionLimits.batchFloor, bytes: LocalWriteSession.sealBytes)

    /// The seals a page carries: each chain's at its last entry (the receiver needs them), and on
    /// the way those of every chain at the fewest **cut points** (where every chain of the page
    /// is sealed at once) that keep cut points within ``relaySealSpacing`` where the log allows.
    /// The receiver keeps them, so it can cut its own pages that finely for receivers with
    /// smaller batches than this one. Seals kept per chain on their own would fall at different
    /// points and cut nothing; sending every seal would cost ~100 bytes per transaction.
    private static func sealsToSend(_ entries: [PageEntry]) -> [Seal] {
        var latest: [ChainKey: Seal] = [:]
        var open: Set<ChainKey> = []
        var kept: [ChainKey: [Seal]] = [:]
        var lastCut = (index: 0, bytes: 0)
        var candidate: (index: Int, bytes: Int, seals: [Seal])?
        var bytes = 0
        func keep(_ seals: [Seal]) {
            for seal in seals where kept[seal.chain]?.last?.counter != seal.counter { kept[seal.chain, default: []].append(seal) }
        }
        for (index, entry) in entries.enumerated() {
            bytes += entry.payload.count
            if let signature = entry.signature {
                latest[entry.chain] = Seal(chain: entry.chain, counter: entry.dot.counter, link: entry.link, signature: Array(signature))
                open.remove(entry.chain)
            } else {
                latest[entry.chain] = nil
                open.insert(entry.chain)
            }
            guard open.isEmpty else { continue }
            let far = index + 1 - lastCut.index > relaySealSpacing.changes || bytes - lastCut.bytes > relaySealSpacing.bytes
            if far, let chosen = candidate {
                keep(chosen.seals)
                lastCut = (chosen.index, chosen.bytes)
            }
            candidate = (index + 1, bytes, Array(latest.values))
        }
        keep(Array(latest.values))
        return kept.keys.sorted().flatMap { kept[$0]!.sorted { $0.counter < $1.counter } }
    }
}
