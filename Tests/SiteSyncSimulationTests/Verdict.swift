import Foundation
import GRDB
@testable import SiteSyncCore
@testable import SiteSyncStore

/// What must hold at the end of every run, whatever happened in it.
extension FleetSimulation {
    /// The departments the fleet's records live in.
    static let departments = ["roads", "water"]

    /// Every broken law, in words naming the seed (empty when the run is sound).
    func verdict() throws -> [String] {
        var broken = trouble
        let live = nodes.indices.filter { !nodes[$0].isCutOff }
        // Equal digests per scope: every node that holds a department holds it the same.
        for department in Self.departments {
            let holders = live.filter { nodes[$0].scope.includes(department: department) }
            let digests = try holders.map { try nodes[$0].store.digest(department: department) }
            if Set(digests).count > 1 {
                broken.append("department \(department) differs between " + holders.map { nodes[$0].name }.joined(separator: ", "))
                if ProcessInfo.processInfo.environment["SITESYNC_SIM_TRACE"] != nil {
                    for holder in holders {
                        var lines: [String] = []
                        try nodes[holder].store.exportLines(department: department) { lines.append($0.canonicalText) }
                        print("== \(nodes[holder].name)\n" + lines.joined(separator: "\n"))
                    }
                }
            }
        }
        let whole = try live.filter { nodes[$0].scope == .everything }.map { try nodes[$0].store.digest() }
        if Set(whole).count > 1 { broken.append("the hub and the office hold different data") }
        // Every write the hub holds, or its node still does, is decided at the hub (held, or
        // refused there) and held everywhere its department reaches. A write that neither
        // holds was lost with a disk: only a backup put back (or a revoked key) loses one.
        for origin in live {
            for (dot, department) in nodes[origin].written {
                let atHub = try hub.store.changeStatus(dot) != nil, atOrigin = try nodes[origin].store.changeStatus(dot) != nil
                if !atHub && !atOrigin {
                    if restores == 0 && nodes.allSatisfy({ !$0.isCutOff }) {
                        broken.append("change \(dot) written at \(nodes[origin].name) is nowhere, though no disk was lost")
                    }
                    continue
                }
                for holder in live where nodes[holder].scope.includes(department: department) {
                    if try nodes[holder].store.changeStatus(dot) == nil {
                        if ProcessInfo.processInfo.environment["SITESYNC_SIM_TRACE"] != nil {
                            for node in nodes { print("\(node.name) entries of \(dot.replica): \(try node.store.entries(of: dot.replica))") }
                        }
                        broken.append("\(nodes[holder].name) lacks change \(dot) of department \(department) written at \(nodes[origin].name) "
                                      + "(it knows \(try nodes[holder].store.knowledge()[dot.replica]) of that origin)")
                    }
                }
            }
        }
        // No change the hub refused is in force anywhere (a reused id is refused only for the
        // content that came second; the hub's own stands).
        for dot in try hub.store.refusedHere() {
            for holder in live where try nodes[holder].store.changeStatus(dot) == .inForce {
                broken.append("\(nodes[holder].name) applies change \(dot), which the hub refused")
            }
        }
        return broken.map { "seed \(seed): \($0)" }
    }
}

extension ReplicaStore {
    /// The log's entries of `replica`: counter, department, status (for tracing).
    func entries(of replica: ReplicaID) throws -> [String] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT counter, department, status, link FROM sync_change WHERE replica = ? ORDER BY counter",
                             arguments: [replica.storageValue]).map { "\($0[0] as Int64) \($0[1] as String) \($0[2] as Int64)" }
        }
    }

    /// The changes this replica refused itself, other than for reused ids.
    func refusedHere() throws -> [Dot] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT replica, counter FROM sync_rejected WHERE refused_by = '' AND code <> 'reused-id'").map {
                Dot(replica: ReplicaID(storageValue: $0[0]), counter: UInt64(bitPattern: $0[1]))
            }
        }
    }
}
