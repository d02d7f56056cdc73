import ArgumentParser
import SiteSyncCore
import SiteSyncNode

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Dump the user-visible state: every record, conflicts and deletions included.",
        discussion: """
            With --json the output is canonical JSON Lines, one record per line sorted by collection \
            and id, and `sitesync digest` is exactly the SHA-256 of these bytes: \
            `sitesync export --json | sha256sum` prints the same hex digits.
            """
    )

    @OptionGroup var node: NodeOptions
    @Flag(help: "Print canonical JSON Lines.") var json = false
    @Option(help: "Only records scoped to this department.") var department: String?

    func run() throws {
        let node = try node.open()
        if json {
            try node.store.exportLines(department: department) { Output.json($0) }
            return
        }
        let names = try node.store.replicaNames()
        var count = 0
        try node.store.forEachRecord(department: department) { collection, state in
            print(RecordRendering(collection: collection, state: state, names: names).text)
            count += 1
        }
        print("\(count) record\(count == 1 ? "" : "s")")
    }
}

struct DigestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "Print the SHA-256 of the canonical export: 64 hex digits.",
        discussion: """
            Two replicas that hold the same changes print the same digest, whatever order the \
            changes arrived in. --department limits it to the records of one department, so a \
            field node can be compared with the hub.
            """
    )

    @OptionGroup var node: NodeOptions
    @Option(help: "Only records scoped to this department.") var department: String?

    func run() throws {
        let node = try node.open()
        print(try node.store.digest(department: department))
    }
}
