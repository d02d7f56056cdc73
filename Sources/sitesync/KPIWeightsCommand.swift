import ArgumentParser
import Foundation
import SiteSyncDomain

/// `sitesync kpi weights suggest`: weights from the readings by the entropy-weight method
/// (docs/design.md §17.3).
struct KPIWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights", abstract: "Suggested KPI weights from the readings (entropy-weight method, 熵权法).",
        subcommands: [Suggest.self])

    struct Suggest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Suggest KPI weights by the entropy-weight method, beside the current ones; --apply writes them (office, hub).",
            discussion: """
                Each row is a project's month with every KPI of the set read (KPIs of the same name are one \
                indicator across projects). Each KPI is normalised to 0–1 in its better direction, its \
                readings' shares p give its entropy e = −Σ p ln p / ln n, and its weight is (1 − e) over the sum \
                of all (1 − e): a KPI whose readings differ more tells projects and months apart better. \
                Weights are printed as shares of 1. --apply writes them into every KPI of the set.
                """)
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("Only this project's KPIs (code or id).", valueName: "project")) var project: String?
        @Flag(help: "Write the suggested weights (office and hub nodes only).") var apply = false

        func run() throws {
            let node = try node.open()
            let suggestion = try KPIWeights.suggest(node, project: project)
            print("entropy-weight method (熵权法) over \(suggestion.rows) month(s) with every KPI read")
            print(Output.table([["KPI", "current weight", "suggested", "reason"]] + suggestion.lines.map {
                [$0.name, String(format: "%.3f", $0.current), String(format: "%.3f", $0.suggested), $0.reason]
            }))
            if apply {
                let changed = try KPIWeights.apply(suggestion, node: node)
                print("applied: \(changed) KPI record(s) changed")
            } else {
                print("nothing written; --apply (at an office or hub) writes these weights")
            }
        }
    }
}
