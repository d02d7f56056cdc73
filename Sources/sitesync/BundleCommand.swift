import ArgumentParser
import SiteSyncNode

struct BundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Exchange changes by file (a USB stick) where there is no network.",
        subcommands: [Export.self, Import.self]
    )

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the changes a peer lacks to a self-describing bundle file, signed by this node.",
            discussion: """
                By default the bundle holds what the hub lacks as far as this node knows; --for NODE \
                cuts it for that node, per the knowledge it last reported here; --all holds everything.
                """
        )

        @OptionGroup var node: NodeOptions
        @Option(help: "The bundle file to write.") var output: String
        @Option(name: .customLong("for"), help: ArgumentHelp("Cut the bundle for this node.", valueName: "node")) var recipient: String?
        @Flag(help: "Include every change this node holds.") var all = false

        func validate() throws {
            if all && recipient != nil { throw ValidationError("give either --for NODE or --all, not both") }
        }

        func run() throws {
            let node = try node.open()
            let target: BundleTarget = all ? .all : recipient.map { .node($0) } ?? .hub
            let summary = try node.exportBundle(to: output, for: target)
            if let note = summary.note { Output.note("note: \(note)") }
            print("wrote \(summary.changes) change\(summary.changes == 1 ? "" : "s") (\(summary.bytes) bytes) to \(output)"
                  + (summary.recipient.isEmpty ? "" : " for \(summary.recipient)"))
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply a bundle file; changes already held are skipped.",
            discussion: """
                The bundle is checked whole (format, checksum, versions, its writer's signature over \
                the whole file, every change, and each origin's signatures: an altered bundle is \
                refused) before anything is written. At the hub each change is also checked against \
                what its origin may write (the allow-list); refused ones are listed, and the reply \
                bundle tells their node. Refusals a bundle lists are acted on only when the hub wrote \
                it, and this node's knowledge rises only through the changes it now holds (or the \
                hub's word). Afterwards this node knows what the bundle's writer holds, so \
                `bundle export --for WRITER` answers with exactly what it lacks; --reply FILE writes \
                that answer at once.
                """
        )

        @OptionGroup var node: NodeOptions
        @Argument(help: "The bundle file.") var file: String
        @Option(help: ArgumentHelp("Also write a return bundle for the sender to this file.", valueName: "file")) var reply: String?

        func run() throws {
            let node = try node.open()
            let progress = ProgressDisplay("importing")
            let summary = try node.importBundle(from: file) { progress.update(done: $0, total: $1) }
            progress.finish()
            if let note = summary.note { Output.note("note: \(note)") }
            print("imported \(summary.newChanges + summary.alreadyKnown) changes from \(summary.sender): "
                  + "\(summary.newChanges) new, \(summary.alreadyKnown) already known")
            for refusal in summary.refusedHere {
                print("refused change \(refusal.dot) (\(refusal.code.rawValue)): \(refusal.reason)")
            }
            if summary.rejectedBySender > 0 {
                print("\(summary.sender) refused \(summary.rejectedBySender) of this node's changes; they stay here as rejected "
                      + "(`sitesync conflicts --rejected`)")
            }
            if summary.refusalsIgnored > 0 {
                print("the bundle lists \(summary.refusalsIgnored) refusal\(summary.refusalsIgnored == 1 ? "" : "s") of changes, ignored: "
                      + "\(summary.sender) is not this node's hub, and only the hub's refusals count")
            }
            if let reply {
                let answer = try node.exportBundle(to: reply, for: .node(summary.sender))
                print("wrote \(answer.changes) change\(answer.changes == 1 ? "" : "s") for \(summary.sender) to \(reply)")
            }
        }
    }
}
