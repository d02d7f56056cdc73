import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

struct PeriodCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "period",
        abstract: "Close a month: freeze its figures for every replica.",
        subcommands: [Close.self])

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Freeze a month's figures (office and hub nodes), as a replicated, signed record.",
            discussion: """
                Computes the month's review as of its last day from what this node holds and writes it \
                as records that replicate like any other, signed by this node: the city's headline, \
                league table and S-curve, and one row per project. From then on `sitesync report monthly \
                --period MONTH` prints those frozen figures at every node that has them, and lists apart \
                the entries dated inside the month that arrived after the close (a crew back from a month \
                offline), so a month's review is never rewritten silently. Sync first, so the close holds \
                what the sites have sent. A month is closed once, from its next day on.

                Example: sitesync period close 2026-11
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The month (YYYY-MM).", valueName: "month")) var month: String

        func validate() throws {
            guard Month(month) != nil else { throw ValidationError("'\(month)' is not a month: write YYYY-MM") }
        }

        func run() throws {
            let close = try PeriodClose.close(node: node.open(), period: month, today: .today)
            print("closed \(close.period): the figures as of \(close.asOf) of \(close.projects) project\(close.projects == 1 ? "" : "s") "
                  + "are frozen; sync to send the close to every node")
        }
    }
}
