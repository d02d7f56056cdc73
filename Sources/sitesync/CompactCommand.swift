import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncNode

struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "At the hub: let go of logged changes every registered node holds.",
        discussion: """
            The stability frontier is, per origin, the least any registered node held once its last \
            push was through: every counted node holds everything below it, and everything any of \
            them wrote before learning of it has reached the hub. Changes below it leave the log; the \
            records keep their state (deleted records stay as tombstones). Lists each registered node: \
            counted (with how many changes it lacks, which the log keeps for it), beyond the \
            `[compaction] horizon` (no longer holding compaction back), or never synced. A node that \
            lacks compacted changes, returning from beyond the horizon or new, is brought up to date \
            by a state transfer at its next sync: its own offline work meets the others' by the merge \
            rules, and conflicts go to `sitesync conflicts` for review.

            `serve` runs this every `[compaction] interval` by itself.

            Examples:
              sitesync compact --data-dir hub --dry-run
              sitesync compact --data-dir hub --json
            """)
    @OptionGroup var node: NodeOptions
    @Flag(name: .customLong("dry-run"), help: "Say what would go; change nothing.") var dryRun = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let node = try node.open()
        let (plan, report) = try node.compact(dryRun: dryRun)
        if json {
            Output.json(.object([
                "dry_run": .bool(dryRun),
                "horizon_seconds": .int(Int64(plan.horizonSeconds)),
                "frontier": .object(Dictionary(uniqueKeysWithValues: plan.frontier.entries.map {
                    ($0.replica.description, JSONValue.int(Int64(clamping: $0.counter)))
                })),
                "removed_changes": .int(Int64(report.removedChanges)),
                "removed_bytes": .int(Int64(report.removedBytes)),
                "chains": .int(Int64(report.chains)),
                "remaining_changes": .int(Int64(report.remainingChanges)),
                "nodes": .array(plan.members.map { member in
                    .object([
                        "node": .string(member.node),
                        "standing": .string(member.standing.rawValue),
                        "synced_at": member.syncedMilliseconds.map { .string(Output.timestamp(milliseconds: $0)) } ?? .null,
                        "lacks": .int(Int64(member.holdsBack)),
                    ])
                }),
            ]))
            return
        }
        let now = node.store.wallClock()
        print((dryRun ? "would remove " : "removed ") + "\(report.removedChanges) changes (\(Terminal.bytes(report.removedBytes))) "
              + "from \(report.chains) chains; \(report.remainingChanges) stay in the log")
        guard !plan.members.isEmpty else {
            print("no node is registered: every change the hub holds could go (a new node starts with a state transfer)")
            return
        }
        print(Output.table([["node", "standing", "last sync", "lacks"]] + plan.members.map { member in
            [member.node,
             member.standing == .counted ? "counted" : member.standing == .beyondHorizon
                ? "beyond the horizon (\(DurationText.text(plan.horizonSeconds)))" : "never synced",
             member.syncedMilliseconds.map { Terminal.ago($0, now: now) } ?? "never",
             member.standing == .counted ? "\(member.holdsBack)" : "—"]
        }))
        let holding = plan.members.filter { $0.standing == .counted && $0.holdsBack > 0 }
        if !holding.isEmpty {
            print("held back by: " + holding.map(\.node).joined(separator: ", ") + " (they lack changes the log keeps for them)")
        }
    }
}
