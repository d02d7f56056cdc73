import ArgumentParser
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncStore

struct ConflictsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "Review conflicts: who wrote which value, on which node, when; the rule applied; open or auto-resolved.",
        discussion: """
            A review queue: the conflicts waiting for a person first (settle each with `sitesync \
            resolve`), then those a rule settled (the value it chose is shown; a person may still \
            overrule it with `resolve`), newest first. Each shows every concurrent value with the node \
            that wrote it and when. --all shows the whole log, settled entries included; --state and \
            --project narrow it. --rejected lists instead the changes refused: \
            this node's changes the hub (or a peer) refused, kept here and not sent again; at the \
            hub, the changes it refused.
            """
    )

    @OptionGroup var node: NodeOptions
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Show the whole log, settled entries included.") var all = false
    @Option(name: [.customLong("state"), .customLong("status")],
            help: ArgumentHelp("Only entries in this state: open, auto or resolved (--status is the same).", valueName: "state"))
    var status: String?
    @Option(help: ArgumentHelp("Only conflicts on this project's records (its code or id).", valueName: "project")) var project: String?
    @Flag(help: "List the changes refused (by the hub, or at the hub) instead.") var rejected = false
    @Flag(help: "With --rejected: mark them all as seen by a person (status stops counting them).") var acknowledge = false

    func validate() throws {
        if let status, !["open", "auto", "resolved"].contains(status) {
            throw ValidationError("--state must be open, auto or resolved")
        }
    }

    func run() throws {
        let node = try node.open()
        if acknowledge {
            guard rejected else { throw ValidationError("--acknowledge goes with --rejected") }
            let count = try node.store.acknowledgeRejections()
            print(count == 0 ? "no rejected change waited for acknowledgement"
                  : "acknowledged \(count) rejected change\(count == 1 ? "" : "s"); `sitesync status` no longer counts \(count == 1 ? "it" : "them")")
            return
        }
        if rejected { return try listRejected(node) }
        // Conflicts waiting for a person first, then the rest, newest first within each.
        let entries = try ConflictReview.entries(node, state: status, all: all, project: project)
        let names = try node.store.replicaNames()
        func nodeName(_ replica: ReplicaID) -> String { names[replica] ?? replica.description }
        if json {
            Output.json(SyncFactsJSON.conflicts(entries, names: names))
            return
        }
        if entries.isEmpty {
            print(all ? "the conflict log is empty" : "no conflicts")
            return
        }
        let now = StoreOptions.systemClock()
        let open = entries.filter { $0.status == "open" && $0.isActive }.count
        print("\(entries.count) conflict\(entries.count == 1 ? "" : "s"), \(open) waiting for a person")
        for entry in entries {
            let state = entry.status == "open" && entry.isActive ? Terminal.paint("OPEN", .red) : entry.status
            print("\(entry.collection) \(entry.recordID) \(entry.field): \(state) (rule \(entry.rule), department \(entry.department), "
                  + "detected \(Terminal.ago(entry.detectedMilliseconds, now: now)))" + (entry.isActive ? "" : ", settled"))
            for version in entry.versions {
                print("    \(version.value.displayValue)  — \(nodeName(version.origin)) at \(Output.timestamp(milliseconds: version.atMilliseconds))")
            }
            if entry.status == "open", entry.isActive {
                print("    settle it: sitesync resolve \(entry.collection) \(entry.recordID) \(entry.field) --value VALUE")
            } else if entry.status == "auto" {
                print("    shown: \(entry.winner.displayValue)")
            }
        }
    }
}

extension ConflictsCommand {
    func listRejected(_ node: Node) throws {
        let entries = try node.store.rejectedChanges()
        if json {
            Output.json(SyncFactsJSON.rejected(entries, localNode: node.configuration.name))
            return
        }
        guard !entries.isEmpty else {
            print("no rejected changes")
            return
        }
        for entry in entries {
            let by = entry.refusedBy.isEmpty ? "refused here" : "REJECTED by \(entry.refusedBy)"
            print("\(entry.collection) \(entry.recordID): \(by) (\(entry.code.rawValue)) at \(Output.timestamp(milliseconds: entry.rejectedMilliseconds))")
            print("    \(entry.reason)")
        }
    }
}

struct ResolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Settle a conflict on one field with the value a person chose.",
        discussion: """
            The resolution is an ordinary write whose context covers every concurrent value it \
            replaces, so it clears the conflict on every replica it reaches.

            Example:
              sitesync resolve activity a-17 remarks --value "Kerbs done; drainage pending"
            """
    )

    @OptionGroup var node: NodeOptions
    @Argument(help: "The collection.") var collection: String
    @Argument(help: "The record id.") var id: String
    @Argument(help: "The field in conflict.") var field: String
    @Option(help: "The value to keep.") var value: String

    func run() throws {
        let node = try node.open()
        let planner = node.planner
        let change = try node.store.write { reader in
            try planner.planResolve(collection: collection, id: id, field: field, input: .text(value), reader: reader)
        }
        print("resolved \(collection) \(id) \(field) (change \(change!.dot)); it settles the conflict wherever it arrives")
    }
}

extension JSONValue {
    /// The value as a person reads it.
    var displayValue: String {
        switch self {
        case .null: "(empty)"
        case .string(let s): s
        default: canonicalText
        }
    }
}
