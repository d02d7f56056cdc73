import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

struct SuggestionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suggestion",
        abstract: "The suggestion box (意见箱): leave a suggestion at any node, answer it at the office.",
        discussion: """
            A suggestion travels to the hub and to the nodes of its own department, never to another \
            department's. With --anonymous no person and no node name is stored with it, and every \
            listing shows it as anonymous.
            """,
        subcommands: [Add.self, Answer.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Leave a suggestion (any node, offline too).",
            discussion: "Example: sitesync suggestion add --text \"Publish the weekly closure plan to residents\" --anonymous")
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("What you suggest.", valueName: "text")) var text: String
        @Option(help: ArgumentHelp("Your name, if you sign it.", valueName: "name")) var by: String?
        @Flag(help: "Store no person and no node name with it.") var anonymous = false
        @Flag(help: "Print JSON.") var json = false

        func run() throws { try SuggestionCommand.leave(node.open(), text: text, by: by, anonymous: anonymous, json: json) }
    }

    static func leave(_ node: Node, text: String, by: String?, anonymous: Bool, json: Bool) throws {
        let made = try node.addSuggestion(text: text, author: by, anonymous: anonymous, today: .today)
        if json { Output.json(made.json) } else {
            print("left suggestion \(made.id.prefix(8))\(made.isAnonymous ? " anonymously" : ""); sync to send it to the office")
        }
    }

    struct Answer: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Answer a suggestion (office and hub nodes): accepted, declined or done, with a reply.",
            discussion: "Example: sitesync suggestion answer 3f2a9c1e --status accepted --reply \"From next week on\"")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The suggestion: its id, or its first characters.", valueName: "id")) var id: String
        @Option(help: ArgumentHelp("accepted, declined or done.", valueName: "status")) var status: String
        @Option(help: ArgumentHelp("The office's reply, sent back to where it came from.", valueName: "text")) var reply: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let answered = try node.open().answerSuggestion(id, status: status, reply: reply, today: .today)
            if json { Output.json(answered.json) } else {
                print("answered suggestion \(answered.id.prefix(8)): \(answered.status); sync to send the reply back")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The suggestions this node holds, newest first.")
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("Only those at this status: open, accepted, declined, done.", valueName: "status")) var status: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let all = try node.open().suggestions(status: status)
            if json {
                Output.json(.array(all.map(\.json)))
                return
            }
            print(Output.table([["id", "made on", "department", "from", "status", "suggestion", "reply"]] + all.map {
                [String($0.id.prefix(8)), $0.madeOn, $0.department, $0.from, $0.status, $0.text, $0.reply ?? ""]
            }))
            print("\(all.count) suggestion\(all.count == 1 ? "" : "s")")
        }
    }

}

/// `sitesync suggest TEXT [--anonymous]`: leave a suggestion in one word (the short name);
/// the same act as `sitesync suggestion add --text TEXT` (docs/design.md §15.2).
struct SuggestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suggest",
        abstract: "Leave a suggestion in the suggestion box (意见箱), at any node, offline too.",
        discussion: """
            The same as `sitesync suggestion add --text TEXT`. It travels to the hub and to the nodes of this \
            node's department, never to another department's; with --anonymous no person and no node name is \
            stored with it. Example: sitesync suggest "Publish the weekly closure plan to residents" --anonymous
            """)
    @OptionGroup var node: NodeOptions
    @Argument(help: ArgumentHelp("What you suggest.", valueName: "text")) var text: String
    @Option(help: ArgumentHelp("Your name, if you sign it.", valueName: "name")) var by: String?
    @Flag(help: "Store no person and no node name with it.") var anonymous = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws { try SuggestionCommand.leave(node.open(), text: text, by: by, anonymous: anonymous, json: json) }
}
