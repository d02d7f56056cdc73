import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncStore

/// `sitesync history`: the sync history, a command of its own so that `log` means only a
/// project's daily log (one meaning per command).
struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "The sync history: each session and bundle, with counts, bytes, duration and outcome.",
        discussion: """
            Newest first: each session this node ran or served and each bundle it wrote or read: \
            peer, direction, changes up and down (new ones in brackets), bytes, duration, outcome and \
            the error of a failed one. Consecutive idle rounds with one peer show as one line ("×12").

            Examples:
              sitesync history --limit 5
              sitesync history --json
            """)
    @OptionGroup var node: NodeOptions
    @Flag(help: "Print JSON.") var json = false
    @Option(help: ArgumentHelp("Show at most this many entries (default 20).", valueName: "n")) var limit = 20

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit must be 1 or more") }
    }

    func run() throws {
        let entries = try node.open().store.history(limit: limit)
        if json {
            Output.json(SyncFactsJSON.history(entries))
        } else if entries.isEmpty {
            print("no sync yet: `sitesync sync` runs one round with the hub")
        } else {
            print(Output.table(Self.rows(entries, now: StoreOptions.systemClock())))
        }
    }

    /// The table: a header, then one row per entry.
    static func rows(_ entries: [SyncHistoryEntry], now: UInt64) -> [[String]] {
        var rows = [["WHEN", "KIND", "PEER", "UP", "DOWN", "BYTES", "TOOK", "OUTCOME"]]
        for entry in entries {
            let direction: (up: String, down: String) = switch entry.kind {
            case .bundleOut: ("\(entry.pushed)", "-")
            case .sync, .bundleIn: ("\(entry.pushed) (\(entry.pushedNew) new)", "\(entry.pulled) (\(entry.pulledNew) new)")
            // Served: what the peer pushed came down here, what it pulled went up from here.
            case .served: ("\(entry.pulled) (\(entry.pulledNew) new)", "\(entry.pushed) (\(entry.pushedNew) new)")
            }
            let outcome = entry.ok ? (entry.refused > 0 ? "ok, \(entry.refused) refused" : "ok")
                : Terminal.paint("FAILED (\(entry.errorCode ?? "error")): \(entry.error ?? "")", .red)
            rows.append([
                Terminal.ago(entry.endedMilliseconds, now: now) + (entry.repeats > 1 ? " ×\(entry.repeats)" : ""),
                entry.kind.rawValue, entry.peer.isEmpty ? entry.endpoint : entry.peer,
                entry.kind == .bundleIn ? "-" : direction.up, entry.kind == .bundleOut ? "-" : direction.down,
                Terminal.bytes(entry.bytesSent + entry.bytesReceived), Terminal.duration(entry.durationMilliseconds), outcome,
            ])
        }
        return rows
    }
}
