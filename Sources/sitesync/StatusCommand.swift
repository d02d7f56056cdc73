import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncStore
import SiteSyncWire

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Is this node in sync? What waits to go up, what needs a person; at the hub, --fleet for every node.",
        discussion: """
            The first line answers "am I in sync?"; then the node, the hub and whether it answered at \
            the last try (with several hub endpoints, `[[sync.hubs]]`: each, and which one this node \
            last reached and when), the last sync, the changes waiting to go up (count, oldest, bytes), the peers \
            and what each lacks, open conflicts and rejected changes, stage-gate proposals waiting for \
            the central office's decision, versions, database size and the hub's clock against this one. Pending counts what the hub had not acknowledged at the last \
            exchange (a sync or a bundle): it needs no network.

            --fleet (at the hub) lists every node on the allow-list or heard from: last seen, `behind` \
            (changes the hub holds that the node has not acknowledged), `ahead` (changes it reported \
            holding that the hub lacks), stale (no contact for longer than --stale-after, default \
            `stale_after` in node.toml; never for a revoked node or one never heard from), open \
            conflicts and unacknowledged rejected changes involving it, and whether it holds back \
            compaction of the change log (it lacks changes the log must keep for it).

            --json is documented in config/README.md ("status --json") and stays stable.

            Exit status:
              0  in sync (the hub: no node stale)
              2  changes pending, or the last exchange with the hub is older than stale_after (or
                 none yet); with --fleet or at the hub: a node is stale
              3  open conflicts or rejected changes wait for a person (`sitesync conflicts`;
                 `sitesync conflicts --rejected --acknowledge` once the refusals were read)
              4  the node could not be read (the error says why)
              64 a bad flag
            """
    )

    @OptionGroup var node: NodeOptions
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "At the hub: every node, how far behind and how stale.") var fleet = false
    @Option(name: .customLong("stale-after"), help: ArgumentHelp(
        "With --fleet: stale after this long without contact (90s, 30m, 6h, 2d, 1w; default `stale_after`).", valueName: "duration"))
    var staleAfter: String?

    func validate() throws {
        if let staleAfter {
            do { _ = try DurationText.seconds(staleAfter) } catch { throw ValidationError("--stale-after: \(error)") }
            if !fleet { throw ValidationError("--stale-after goes with --fleet") }
        }
    }

    func run() throws {
        let node: Node
        do {
            node = try self.node.open()
        } catch {
            Output.note("Error: \(error)")
            throw ExitCode(4)
        }
        do {
            if fleet {
                let status = try node.fleet(staleAfter: try staleAfter.map(DurationText.seconds))
                json ? Output.json(SyncFactsJSON.fleet(status)) : printFleet(status)
                let code: Int32 = status.members.contains { $0.openConflicts > 0 || $0.rejected > 0 } ? 3
                    : status.members.contains { $0.stale } ? 2 : 0
                if code != 0 { throw ExitCode(code) }
                return
            }
            let status = try node.status()
            json ? Output.json(SyncFactsJSON.status(status)) : printStatus(status)
            switch status.verdict {
            case .inSync: return
            case .behind: throw ExitCode(2)
            case .review: throw ExitCode(3)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Output.note("Error: \(error)")
            throw ExitCode(4)
        }
    }

    // MARK: - Reading

    func headline(_ status: NodeStatus) -> String {
        let now = status.now
        var reasons: [String] = []
        if status.openConflicts > 0 { reasons.append(plural(status.openConflicts, "open conflict")) }
        if status.rejected > 0 { reasons.append(plural(status.rejected, "rejected change")) }
        if status.verdict == .review {
            return Terminal.paint("NEEDS REVIEW", .red) + " — " + reasons.joined(separator: ", ") + ": see "
                + (status.openConflicts > 0 ? "`sitesync conflicts`" : "")
                + (status.openConflicts > 0 && status.rejected > 0 ? " and " : "")
                + (status.rejected > 0 ? "`sitesync conflicts --rejected` (then `--rejected --acknowledge`)" : "")
        }
        if status.isHub {
            let line = "hub of \(plural(status.knownNodes, "node"))"
            return status.staleNodes > 0
                ? Terminal.paint("NOT IN SYNC", .yellow) + " — \(line), \(status.staleNodes) stale: see `sitesync status --fleet`"
                : Terminal.paint("IN SYNC", .green) + " — \(line), none stale"
        }
        if status.verdict == .inSync {
            return Terminal.paint("IN SYNC", .green) + " — everything here is at the hub"
                + (status.lastSynced.map { " (last exchange \(Terminal.ago($0, now: now)))" } ?? "")
        }
        var why: [String] = []
        if status.pending.count > 0 {
            why.append(plural(status.pending.count, "change") + " waiting to go up"
                       + (status.pending.oldestMilliseconds.map { " (oldest written \(Terminal.ago($0, now: now)))" } ?? ""))
        }
        if let synced = status.lastSynced {
            if status.isStale { why.append("last exchange with the hub \(Terminal.ago(synced, now: now))") }
        } else {
            why.append("never synced with the hub")
        }
        if status.lastTryFailedHere {
            why.append("the last sync failed on this node's side, not the hub's: see `last try`")
        } else if status.hubReachable == false {
            why.append("the hub did not answer at the last try")
        }
        return Terminal.paint("NOT IN SYNC", .yellow) + " — " + why.joined(separator: "; ")
    }

    func printStatus(_ status: NodeStatus) {
        let now = status.now
        print(headline(status))
        var rows: [[String]] = []
        rows.append(["node", "\(status.node) (department \(status.department), \(status.role.rawValue)), replica \(status.replica)"])
        if status.isHub {
            rows.append(["listens", status.hubEndpoint ?? "nowhere configured (`listen` in node.toml)"])
        } else {
            var hub = status.hubEndpoint ?? "none configured (`hub` in node.toml)"
            if status.lastTryFailedHere {
                hub += " — the last try failed on this node, not at the hub"
            } else {
                switch status.hubReachable {
                case true?: hub += " — answered at the last try"
                case false?: hub += " — did not answer at the last try"
                case nil: if status.hubEndpoint != nil { hub += " — not tried yet" }
                }
            }
            rows.append(["hub", hub])
            if status.hubEndpoints.count > 1 {
                rows.append(["hub endpoints", status.hubEndpoints.joined(separator: ", ") + "; "
                             + (status.lastReached.map { "last reached \($0.endpoint) \(Terminal.ago($0.at, now: now))" } ?? "none reached yet")])
            }
        }
        if let attempt = status.lastAttempt, !attempt.ok {
            rows.append(["last try", "\(Terminal.ago(attempt.endedMilliseconds, now: now)) with \(attempt.peer.isEmpty ? attempt.endpoint : attempt.peer): "
                         + "failed (\(attempt.errorCode ?? "error")): \(attempt.error ?? "")"])
        }
        if let success = status.lastSuccess {
            rows.append(["last sync", "\(Terminal.ago(success.endedMilliseconds, now: now)) with \(success.peer), "
                         + "took \(Terminal.duration(success.durationMilliseconds)): \(success.pushed) up, \(success.pulled) down"])
        } else if !status.isHub {
            rows.append(["last sync", "never"])
        }
        if !status.isHub {
            var pending = plural(status.pending.count, "change")
            if status.pending.count > 0 {
                pending += " (\(Terminal.bytes(status.pending.bytes))"
                    + (status.pending.oldestMilliseconds.map { ", oldest written \(Terminal.ago($0, now: now))" } ?? "") + ")"
            }
            rows.append(["pending", pending])
        }
        if status.peers.isEmpty {
            rows.append(["peers", "none heard from yet"])
        }
        for (index, peer) in status.peers.enumerated() {
            let record = peer.record
            let holds = peer.lacks.count == 0 ? "holds everything here for it" : "lacks \(plural(peer.lacks.count, "change")) held here"
            rows.append([index == 0 ? "peers" : "", "\(record.node) (\(record.role.rawValue), \(record.department)): \(holds); "
                         + "seen \(Terminal.ago(record.exchangedMilliseconds, now: now)) by \(record.via)"])
        }
        rows.append(["conflicts", "\(status.openConflicts) open, \(plural(status.rejected, "rejected change"))"])
        if status.stageProposalsWaiting > 0 {
            rows.append(["stage proposals waiting", "\(status.stageProposalsWaiting): "
                         + (status.role.writesPlan ? "to approve or return (`sitesync project stages PROJECT`)"
                                                   : "until the central office approves or returns them")])
        }
        rows.append(["versions", "schema \(Schema.siteSync.version) (\(Schema.siteSync.hash.prefix(12))), protocol \(ProtocolVersion.current)"])
        rows.append(["database", Terminal.bytes(status.databaseBytes)])
        if let offset = status.hubClockOffset {
            let text = Self.clockText(offset, of: "the hub")
            rows.append(["clock", status.clockFlagged ? Terminal.paint(text, .yellow) : text])
        }
        print(Output.table(rows))
    }

    /// "the hub's clock is 2 h ahead of this node's".
    static func clockText(_ offset: Int64, of whom: String) -> String {
        let size = Terminal.duration(offset.magnitude)
        if offset.magnitude < 2_000 { return "\(whom)'s clock agrees with this node's (within \(size))" }
        return "\(whom)'s clock is \(size) \(offset > 0 ? "ahead of" : "behind") this node's"
            + (offset.magnitude > 600_000 ? " — check this device's date and time" : "")
    }

    func printFleet(_ fleet: FleetStatus) {
        let now = fleet.now
        let stale = fleet.members.filter(\.stale).count
        let behind = fleet.members.filter { $0.behind.count > 0 }.count
        let review = fleet.members.filter { $0.openConflicts > 0 || $0.rejected > 0 }.count
        let line = "\(plural(fleet.members.count, "node")): \(stale) stale (no contact for \(DurationText.text(fleet.staleAfterSeconds))), "
            + "\(behind) behind, \(review) with conflicts or rejected changes"
        print(review > 0 ? Terminal.paint(line, .red) : stale > 0 ? Terminal.paint(line, .yellow) : Terminal.paint(line, .green))
        guard !fleet.members.isEmpty else {
            print("no node is known yet: allow one with `sitesync keys allow`")
            return
        }
        var rows = [["NODE", "DEPT", "ROLE", "LAST SEEN", "BEHIND", "AHEAD", "STALE", "CONFLICTS", "REJECTED", "HOLDS LOG", "CLOCK"]]
        for member in fleet.members {
            rows.append([
                member.node + (member.allowed == false ? " (revoked)" : ""), member.department, member.role.rawValue,
                member.lastSeen.map { Terminal.ago($0, now: now) } ?? "never",
                Terminal.count(member.behind.count), member.ahead.map { Terminal.count($0) } ?? "?",
                member.stale ? Terminal.paint("STALE", .yellow) : "no",
                member.openConflicts > 0 ? Terminal.paint("\(member.openConflicts)", .red) : "0",
                member.rejected > 0 ? Terminal.paint("\(member.rejected)", .red) : "0",
                member.holdsBackCompaction ? "yes" : member.compaction == .beyondHorizon ? "beyond horizon" : "no",
                (member.clockOffset.map { ($0 >= 0 ? "+" : "-") + Terminal.duration($0.magnitude) } ?? "?")
                    + (member.clockFlagged ? Terminal.paint(" WRONG CLOCK", .yellow) : ""),
            ])
        }
        print(Output.table(rows))
    }

    func plural(_ n: Int, _ noun: String) -> String { "\(Terminal.count(n)) \(noun)\(n == 1 ? "" : "s")" }
}
