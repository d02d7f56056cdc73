import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncPerformance

/// `sitesync forecast history generate`: a generated history of projects, written through the
/// ordinary write path (docs/design.md §17).
struct ForecastHistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "Generated project histories to learn and test from.",
        subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write N seeded project histories (plans, weekly quantities and costs, daily logs, risks, KPI readings).",
            discussion: """
                Each project is a chain of 3–5 activities simulated day by day: rain, breakdowns and material \
                shortages stop a day's output with the project's own probabilities, crews install their planned \
                rate times the project's productivity factor and lognormal noise, starts slip, lax reporters skip \
                weeks. Some projects finish late, some on time, some are still running at the end. Every record \
                goes through the same write path as `sitesync entry`, at a hub or office node. The same seed \
                writes the same history (again: nothing changes). Parameters: docs/design.md §17.

                Example: sitesync forecast history generate --data-dir hub --projects 60 --seed 7 --start 2024-01-01 --months 24
                """)
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("How many projects.", valueName: "n")) var projects = 60
        @Option(help: ArgumentHelp("The random seed.", valueName: "n")) var seed: UInt64 = 1
        @Option(help: ArgumentHelp("The history's first day (YYYY-MM-DD); default: --months before today.", valueName: "date")) var start: String?
        @Option(help: ArgumentHelp("The history's length in months.", valueName: "n")) var months = 24

        func validate() throws {
            try OptionCheck.date(start, "--start")
            guard (1...10_000).contains(projects) else { throw ValidationError("--projects must be from 1 to 10,000") }
            guard (1...240).contains(months) else { throw ValidationError("--months must be from 1 to 240") }
        }

        func run() throws {
            let node = try node.open()
            let first = start.flatMap(CalendarDate.init) ?? CalendarDate.today.adding(days: -Int(Double(months) * 30.4375))
            let summary = try HistoryGenerator.generate(into: node, projects: projects, seed: seed, start: first, months: months)
            print("generated \(summary.projects) projects from \(first) over \(months) months (seed \(seed)): "
                  + "\(summary.completed) completed, \(summary.late) of them late; \(summary.records) records written")
        }
    }
}

/// `sitesync forecast model train|evaluate`: the delay-probability model (docs/design.md §17).
struct ForecastModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "The delay-probability model: train it, or evaluate it against the rule-based warnings.",
        subcommands: [Train.self, Evaluate.self])

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train on this node's completed projects and store the model in the data directory (\(DelayHistory.modelFile)).",
            discussion: """
                Logistic regression (L2, standardised features, deterministic gradient descent) on one example \
                per completed project and month end while it ran; label: finished after its planned finish. \
                Needs at least \(DelayModel.minimumProjects) completed projects, some late and some on time; \
                otherwise it says so and stores nothing. The model is a local file, not a replicated record.
                """)
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("Use the records up to this day (YYYY-MM-DD); default today.", valueName: "date")) var asOf: String?

        func validate() throws { try OptionCheck.date(asOf, "--as-of") }

        func run() throws {
            let node = try node.open()
            let model = try DelayHistory.train(node, upTo: asOf.flatMap(CalendarDate.init) ?? .today)
            print("trained on \(model.projects) completed projects (\(model.examples) month ends, \(String(format: "%.0f", model.baseRate * 100))% late); "
                  + "stored in \(DelayHistory.modelPath(node))")
            print(Output.table([["feature", "coefficient (per standard deviation)", "mean", "standard deviation"]]
                + zip(model.features, zip(model.coefficients, zip(model.means, model.scales))).map {
                    [$0.0, String(format: "%+.3f", $0.1.0), String(format: "%.3f", $0.1.1.0), String(format: "%.3f", $0.1.1.1)]
                }))
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Brier score, AUC and a reliability table on a time-ordered split, beside the rule-based warnings.",
            discussion: """
                Trains on the projects completed before --split (default: the completion day of the project at \
                70% in completion order) and scores the month ends of those completed on or after it. The \
                baseline predicts late (1) at a month end whose rule-based colour is red or amber, else 0. \
                Writes nothing.
                """)
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("Use the records up to this day (YYYY-MM-DD); default today.", valueName: "date")) var asOf: String?
        @Option(help: ArgumentHelp("Train on projects completed before this day (YYYY-MM-DD).", valueName: "date")) var split: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            try OptionCheck.date(asOf, "--as-of")
            try OptionCheck.date(split, "--split")
        }

        func run() throws {
            let node = try node.open()
            let result = try DelayHistory.evaluate(node, upTo: asOf.flatMap(CalendarDate.init) ?? .today, split: split.flatMap(CalendarDate.init))
            if json { Output.json(DelayJSON.evaluation(result)); return }
            print("split \(result.split): trained on \(result.trainProjects) projects, tested on \(result.testProjects) "
                  + "(\(result.testExamples) month ends, \(String(format: "%.0f", result.testLateShare * 100))% late)")
            print(Output.table([["", "Brier score (lower is better)", "AUC (0.5 is chance)"],
                                ["model", String(format: "%.4f", result.modelBrier), String(format: "%.3f", result.modelAUC)],
                                ["rule-based warnings", String(format: "%.4f", result.baselineBrier), String(format: "%.3f", result.baselineAUC)],
                                ["base rate", String(format: "%.4f", result.baseRateBrier), "0.500"]]))
            print("\nreliability")
            print(Output.table([["predicted", "month ends", "mean predicted", "observed late"]] + result.reliability.map { bin in
                [String(format: "%.1f–%.1f", bin.lower, bin.lower + 0.1), String(bin.count),
                 bin.count == 0 ? "—" : String(format: "%.2f", bin.meanPredicted), bin.count == 0 ? "—" : String(format: "%.2f", bin.observedLate)]
            }))
        }
    }
}

/// The delay model's figures as JSON.
enum DelayJSON {
    static func number(_ value: Double) -> JSONValue { value.isNaN ? .null : .number(String(format: "%.4f", value)) }

    static func evaluation(_ result: DelayHistory.Evaluation) -> JSONValue {
        .object([
            "split": .string(result.split), "train_projects": .int(Int64(result.trainProjects)), "test_projects": .int(Int64(result.testProjects)),
            "test_examples": .int(Int64(result.testExamples)), "test_late_share": number(result.testLateShare),
            "model": .object(["brier": number(result.modelBrier), "auc": number(result.modelAUC)]),
            "rule_based": .object(["brier": number(result.baselineBrier), "auc": number(result.baselineAUC)]),
            "base_rate": .object(["brier": number(result.baseRateBrier)]),
            "reliability": .array(result.reliability.map { bin in
                .object(["lower": number(bin.lower), "count": .int(Int64(bin.count)), "mean_predicted": number(bin.meanPredicted),
                         "observed_late": number(bin.observedLate)])
            }),
        ])
    }
}
