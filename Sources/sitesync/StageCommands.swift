import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// `sitesync project propose|approve|return|stages|rebaseline|baselines`: stage gates and
/// baselines (docs/design.md §14).
extension ProjectCommand {
    static let stageCommands: [ParsableCommand.Type] = [Propose.self, Approve.self, Return.self, Stages.self, Rebaseline.self, BaselineList.self]

    static func printTransition(_ transition: StageTransition, code: String) {
        var line = "\(code) \(transition.from ?? "?") → \(transition.to) (attempt \(transition.attempt)): proposed by "
            + "\(transition.proposedBy) at \(transition.proposedAt)"
        if let note = transition.note { line += " — \(note)" }
        switch transition.decision {
        case "approved"?: line += "; approved by \(transition.decidedBy ?? "?") at \(transition.decidedAt ?? "?")"
        case "returned"?: line += "; returned by \(transition.decidedBy ?? "?") at \(transition.decidedAt ?? "?"): \(transition.reason ?? "")"
        default: line += transition.isOvertaken ? "; never decided: the project's stage was set directly, so it waits for nobody"
                                                : "; waiting for the central office"
        }
        print(line)
    }

    struct Propose: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Propose a project's next stage (department nodes): the gate's criteria are checked first.",
            discussion: """
                Stages: initiation (立项) → execution (执行) → acceptance (验收) → review (复盘) → closed → archived, \
                one gate at a time. Execution needs activities, each with planned dates and a budget; acceptance \
                needs every activity completed or accepted and no open high risk (probability × impact at or \
                above [report] risk_high, 16 by default); review needs the final costs: every activity with a \
                budget has a cost entry and an actual finish. Unmet criteria are listed and nothing is written. \
                The proposal is a record that replicates; made offline it waits, shown by `sitesync status`, \
                until the central office approves or returns it.

                Example: sitesync project propose R-002 --stage execution --note "design signed off"
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Option(help: ArgumentHelp("The stage to enter.", valueName: "stage")) var stage: String
        @Option(help: ArgumentHelp("A note for the office.", valueName: "text")) var note: String?
        @Flag(help: "Print the proposal as JSON.") var json = false

        func validate() throws {
            guard StageGates.stages.contains(stage) else {
                throw ValidationError("--stage '\(stage)' is not a stage: write one of \(StageGates.stages.joined(separator: ", "))")
            }
        }

        func run() throws { try ProjectCommand.propose(node.open(), project: project, stage: stage, note: note, json: json) }
    }

    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a project's waiting stage proposal (office and hub nodes); entering execution freezes baseline 1.",
            discussion: "The gate's criteria are checked again on this node's data. Example: sitesync project approve R-002")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Option(help: ArgumentHelp("What the office says with its approval (optional).", valueName: "text")) var reason: String?
        @Flag(help: "Print the decided proposal as JSON.") var json = false

        func run() throws { try ProjectCommand.approve(node.open(), project: project, reason: reason, json: json) }
    }

    static func approve(_ node: Node, project: String, reason: String?, json: Bool) throws {
        let (transition, baseline) = try StageGates.approve(node: node, project: project, reason: reason, today: .today)
        if json { return Output.json(transition.json) }
        printTransition(transition, code: try node.findProject(project).code)
        if let baseline { print("baseline \(baseline.number) taken: \(baseline.plan.count) activities' dates and budgets frozen") }
    }

    static func propose(_ node: Node, project: String, stage: String, note: String?, json: Bool) throws {
        let transition = try StageGates.propose(node: node, project: project, stage: stage, note: note)
        if json { return Output.json(transition.json) }
        printTransition(transition, code: try node.findProject(project).code)
        print("sync to send it to the central office")
    }

    static func returnProposal(_ node: Node, project: String, reason: String, json: Bool) throws {
        let transition = try StageGates.returnProposal(node: node, project: project, reason: reason)
        if json { return Output.json(transition.json) }
        printTransition(transition, code: try node.findProject(project).code)
    }

    static func listTransitions(_ node: Node, project: String, json: Bool) throws {
        let found = try node.findProject(project)
        let transitions = try StageGates.transitions(node.store, project: found.id)
        if json { return Output.json(.array(transitions.map(\.json))) }
        let stage = try node.store.rows([("SELECT stage FROM project WHERE id = ?1", [found.id])])[0].first?[0].flatMap { $0 }
        print("\(found.code) \(found.name): stage \(stage ?? "initiation")")
        for transition in transitions { printTransition(transition, code: found.code) }
        if transitions.isEmpty { print("no stage proposals yet") }
    }

    static func rebaseline(_ node: Node, project: String, reason: String, json: Bool) throws {
        let baseline = try Baselines.rebaseline(node: node, project: project, reason: reason, today: .today)
        if json { return Output.json(baseline.json) }
        print("baseline \(baseline.number) taken on \(baseline.takenOn) by \(baseline.takenBy): \(baseline.reason)")
    }

    /// - Parameter against: the baseline the variance is shown against (`nil`: the current one).
    static func listBaselines(_ node: Node, project: String, against: Int?, json: Bool) throws {
        let found = try node.findProject(project)
        let baselines = try Baselines.list(node.store, project: found.id)
        if json { return Output.json(.array(baselines.map(\.json))) }
        guard !baselines.isEmpty else {
            return print("\(found.code) has no baseline yet: baseline 1 is taken when it enters execution")
        }
        print(Output.table([["baseline", "taken on", "by", "activities", "reason"]]
                                 + baselines.map { [String($0.number), $0.takenOn, $0.takenBy, String($0.plan.count), $0.reason] }))
        if let variance = try Baselines.variance(node.store, project: found.id, against: against) {
            print(ReportText.variance(variance), terminator: "")
        }
    }

    struct Return: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Return a project's waiting stage proposal with a reason (office and hub nodes).",
            discussion: "Example: sitesync project return R-002 --reason \"budget of the drainage works missing\"")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Option(help: ArgumentHelp("Why, for the department.", valueName: "text")) var reason: String
        @Flag(help: "Print the decided proposal as JSON.") var json = false

        func run() throws { try ProjectCommand.returnProposal(node.open(), project: project, reason: reason, json: json) }
    }

    struct Stages: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A project's stage and its stage transitions: who proposed, who decided, when and why.")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Flag(help: "Print the transitions as a JSON array.") var json = false

        func run() throws { try ProjectCommand.listTransitions(node.open(), project: project, json: json) }
    }

    struct Rebaseline: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Freeze a project's plan as it stands as its next baseline (office and hub nodes), with a reason.",
            discussion: "Example: sitesync project rebaseline R-002 --reason \"scope change approved by the city, 2026-11-04\"")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Option(help: ArgumentHelp("Why the plan changes.", valueName: "text")) var reason: String
        @Flag(help: "Print the baseline as JSON.") var json = false

        func run() throws { try ProjectCommand.rebaseline(node.open(), project: project, reason: reason, json: json) }
    }

    struct BaselineList: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "baselines",
            abstract: "A project's baselines, latest (current) first, and its plan's variance against the current one.")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Flag(help: "Print the baselines as a JSON array.") var json = false

        func run() throws { try ProjectCommand.listBaselines(node.open(), project: project, against: nil, json: json) }
    }
}

/// `sitesync stage propose|approve|return|list`: the stage gates under their short names, the
/// same acts as `sitesync project propose|approve|return|stages` (docs/design.md §14).
struct StageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage",
        abstract: "Stage gates (立项 → 执行 → 验收 → 复盘): a department proposes, the central office approves or returns.",
        discussion: """
            The same acts as `sitesync project propose|approve|return|stages`. Stages: initiation → execution → \
            acceptance → review → closed → archived, one gate at a time; the gate's criteria are checked before \
            anything is written. A proposal made offline waits, shown by `sitesync status`, until the office decides.
            """,
        subcommands: [Propose.self, Approve.self, Return.self, List.self])

    struct Propose: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Propose a project's next stage (department nodes; an office or the hub may too).",
            discussion: "Example: sitesync stage propose R-002 execution --note \"design signed off\"")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Argument(help: ArgumentHelp("The stage to enter: \(StageGates.stages.joined(separator: ", ")).", valueName: "stage")) var stage: String
        @Option(help: ArgumentHelp("A note for the office.", valueName: "text")) var note: String?
        @Flag(help: "Print the proposal as JSON.") var json = false

        func validate() throws {
            guard StageGates.stages.contains(stage) else {
                throw ValidationError("'\(stage)' is not a stage: write one of \(StageGates.stages.joined(separator: ", "))")
            }
        }

        func run() throws { try ProjectCommand.propose(node.open(), project: project, stage: stage, note: note, json: json) }
    }

    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a project's waiting stage proposal (office and hub nodes); entering execution freezes baseline 1.",
            discussion: "Example: sitesync stage approve R-002 --reason \"budget confirmed by finance\"")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Option(help: ArgumentHelp("What the office says with its approval (optional).", valueName: "text")) var reason: String?
        @Flag(help: "Print the decided proposal as JSON.") var json = false

        func run() throws { try ProjectCommand.approve(node.open(), project: project, reason: reason, json: json) }
    }

    struct Return: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Return a project's waiting stage proposal with a reason (office and hub nodes).",
            discussion: "Example: sitesync stage return R-002 --reason \"budget of the drainage works missing\"")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Option(help: ArgumentHelp("Why, for the department.", valueName: "text")) var reason: String
        @Flag(help: "Print the decided proposal as JSON.") var json = false

        func run() throws { try ProjectCommand.returnProposal(node.open(), project: project, reason: reason, json: json) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A project's stage and its stage transitions: who proposed, who decided, when and why.")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Flag(help: "Print the transitions as a JSON array.") var json = false

        func run() throws { try ProjectCommand.listTransitions(node.open(), project: project, json: json) }
    }
}

/// `sitesync baseline set|list`: baselines under their short names, the same acts as
/// `sitesync project rebaseline|baselines` (docs/design.md §14).
struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "A project's baselines: its plan's dates and budgets frozen (baseline 1 on entering execution).",
        discussion: """
            The same acts as `sitesync project rebaseline|baselines`. Baseline 1 is taken when the office approves \
            a project's entry into execution; `baseline set` (office and hub nodes, with a reason) takes the next one. \
            Nothing is overwritten: the history stays.
            """,
        subcommands: [SetBaseline.self, List.self])

    struct SetBaseline: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Freeze a project's plan as it stands as its next baseline (office and hub nodes), with a reason.",
            discussion: "Example: sitesync baseline set R-002 --reason \"scope change approved by the city, 2026-11-04\"")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Option(help: ArgumentHelp("Why the plan changes.", valueName: "text")) var reason: String
        @Flag(help: "Print the baseline as JSON.") var json = false

        func run() throws { try ProjectCommand.rebaseline(node.open(), project: project, reason: reason, json: json) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A project's baselines, latest (current) first, and its plan's variance against the current one.")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Option(help: ArgumentHelp("The baseline the variance is shown against: current (the latest) or original (baseline 1).",
                                   valueName: "baseline")) var against = "current"
        @Flag(help: "Print the baselines as a JSON array.") var json = false

        func validate() throws {
            guard ["current", "original"].contains(against) else { throw ValidationError("--against is current or original, not '\(against)'") }
        }

        func run() throws {
            try ProjectCommand.listBaselines(node.open(), project: project, against: against == "original" ? 1 : nil, json: json)
        }
    }
}
