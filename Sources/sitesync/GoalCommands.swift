import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance

private func scoreText(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "—" }

/// The period asked for, checked.
private func parsePeriod(_ text: String) throws -> PlanPeriod {
    guard let period = PlanPeriod(text) else {
        throw ValidationError("--period must be a year (2026), a quarter (2026-Q2) or a month (2026-05), not '\(text)'")
    }
    return period
}

struct StaffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "staff",
        abstract: "People who own goals, KPIs, activities and issues (not dashboard sign-ins: see `sitesync user`).",
        discussion: """
            Staff records replicate: the central office keeps the register (office and hub nodes write it), \
            each department's nodes receive their own department's staff and the city's. An owner is set \
            with owner=ID on a goal, objective, KPI, activity or issue, or by the owner columns of `import plan`. \
            `sitesync person add|list` is the same command.
            """,
        subcommands: [Add.self, List.self],
        aliases: ["person"])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a person (office and hub nodes).",
            discussion: "Example: sitesync staff add 王芳 --department roads --role project_lead")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The person's name.", valueName: "name")) var name: String
        @Option(help: ArgumentHelp("Their department's code; none for the city's own staff.", valueName: "dept")) var department: String?
        @Option(help: ArgumentHelp("project_lead, department_head, hrbp, auditor or other.", valueName: "role")) var role = "other"
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let id = try node.open().addStaff(name: name, department: department, role: role)
            if json { Output.json(.object(["id": .string(id), "name": .string(name), "department": .string(department ?? ""), "role": .string(role)])) } else {
                print("added \(name) (\(role), \(department ?? "city")) as staff \(id); sync to send it")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The staff this node holds.")
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("Only this department's.", valueName: "dept")) var department: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let members = try node.open().staffMembers().filter { department == nil || $0.department == department }
            if json {
                Output.json(.array(members.map {
                    .object(["id": .string($0.id), "name": .string($0.name), "department": .string($0.department), "role": .string($0.role),
                             "active": .bool($0.active)])
                }))
                return
            }
            print(Output.table([["id", "name", "department", "role", "active"]] + members.map {
                [$0.id, $0.name, $0.department.isEmpty ? "(city)" : $0.department, $0.role, $0.active ? "yes" : "no"]
            }))
        }
    }
}

struct ObjectiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "objective",
        abstract: "City and department objectives (目标拆解), above the projects' goals.",
        subcommands: [Add.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an objective (office and hub nodes).",
            discussion: """
                Example: sitesync objective add "Smooth traffic" --weight 2 ; \
                sitesync objective add "Widen arterials" --department roads --parent "Smooth traffic" --owner 王芳. \
                A project's top goal serves one: goal_objective in `import plan`, or objective=ID on the goal.
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("What it aims at.", valueName: "title")) var title: String
        @Option(help: ArgumentHelp("The department's code; none for a city objective.", valueName: "dept")) var department: String?
        @Option(help: ArgumentHelp("The objective above it: its id or title.", valueName: "objective")) var parent: String?
        @Option(help: ArgumentHelp("Its weight among its siblings (greater than 0).", valueName: "n")) var weight = "1"
        @Option(help: ArgumentHelp("Who owns it: a staff id or name.", valueName: "staff")) var owner: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let id = try node.open().addObjective(title: title, department: department, parent: parent, weight: weight, owner: owner)
            if json { Output.json(.object(["id": .string(id), "title": .string(title)])) } else { print("added objective \(id): \(title)") }
        }
    }
}

struct GoalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "goal",
        abstract: "The goal tree from the city's objectives down to activities, and targets per period.",
        subcommands: [Tree.self, Target.self])

    struct Tree: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the goal tree with weights, scores and owners.",
            discussion: """
                A goal's score is the weighted mean of its children's, Σ wᵢ·sᵢ / Σ wᵢ (weights need not sum to 1); \
                a goal without children scores its activities' schedule performance, 100 × min(EV/PV, 1); a goal with \
                a target and an actual for --period scores 100 × min(actual/target, cap). Example: \
                sitesync goal tree --department roads --period 2026-Q2
                """)
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("Only this department's branches.", valueName: "dept")) var department: String?
        @Option(help: ArgumentHelp("Only this project's goals (its code or id).", valueName: "project")) var project: String?
        @Option(help: ArgumentHelp("Targets and actuals of this period (YYYY, YYYY-QN or YYYY-MM); scores as of its last day.",
                                   valueName: "period")) var period: String?
        @Option(help: ArgumentHelp("Scores as of this day (default today).", valueName: "YYYY-MM-DD")) var asOf: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let node = try node.open()
            let plan = try period.map(parsePeriod)
            var day = try asOf.map { text -> CalendarDate in
                guard let date = CalendarDate(text) else { throw ValidationError("--as-of must be YYYY-MM-DD, not '\(text)'") }
                return date
            } ?? .today
            if let plan, asOf == nil { day = min(day, plan.lastDay) }
            let roots = try node.goalTree(asOf: day, period: plan, department: department, project: project, thresholds: node.configuration.report)
            if json {
                Output.json(Node.goalTreeJSON(roots, asOf: day, period: plan))
                return
            }
            var rows = [["goal", "weight", "score", "grade", "owner", "target", "actual"]]
            func add(_ node: PlanTreeNode, depth: Int) {
                let label: String = switch node.kind {
                case .objective: node.department.isEmpty ? "◆ \(node.title)" : "◇ \(node.title) [\(node.department)]"
                case .goal: "● \(node.title) [\(node.project ?? "")]"
                case .activity: "· \(node.title)"
                }
                rows.append([String(repeating: "  ", count: depth) + label, node.weight.map { String($0) } ?? "", scoreText(node.score),
                             node.grade?.rawValue ?? "", node.owner ?? "", node.target ?? "", node.actual ?? ""])
                for child in node.children { add(child, depth: depth + 1) }
            }
            for root in roots { add(root, depth: 0) }
            print(Output.table(rows))
            print("as of \(day)\(plan.map { ", period \($0)" } ?? ""); ◆ city objective, ◇ department objective, ● project goal, · activity")
        }
    }

    struct Target: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a goal's or objective's target (office and hub) and actual for a period.",
            discussion: """
                A goal splits into periods: a year's target, its quarters' and its months' are records of their own \
                (--split quarters|months writes the parts in equal shares adding up exactly). \
                Example: sitesync goal target Capacity --project R-101 --period 2026-Q2 --target 120 --actual 96; \
                sitesync goal target Capacity --project R-101 --period 2026 --target 480 --split quarters
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The objective or goal: its id or title.", valueName: "goal")) var goal: String
        @Option(help: ArgumentHelp("The goal's project, when titles repeat.", valueName: "project")) var project: String?
        @Option(help: ArgumentHelp("YYYY, YYYY-QN or YYYY-MM.", valueName: "period")) var period: String
        @Option(help: ArgumentHelp("The target for the period.", valueName: "n")) var target: String?
        @Option(help: ArgumentHelp("What was achieved in the period.", valueName: "n")) var actual: String?
        @Option(help: ArgumentHelp("Also split --target into the period's quarters or months, equal parts adding up to it exactly.",
                                   valueName: "quarters|months")) var split: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard let split else { return }
            guard ["quarters", "months"].contains(split) else { throw ValidationError("--split is quarters or months, not '\(split)'") }
            guard target != nil, actual == nil else {
                throw ValidationError("--split shares out --target; give --target, and each part's --actual on its own period")
            }
        }

        func run() throws {
            if let split, let target {
                let written = try node.open().splitTarget(goal, project: project, period: period, target: target, intoMonths: split == "months")
                if json {
                    Output.json(.array(written.map { .object(["period": .string($0.period.description), "target": .number($0.target.description)]) }))
                } else {
                    print(written.map { "\($0.period) \($0.target)" }.joined(separator: "\n"))
                }
                return
            }
            guard target != nil || actual != nil else { throw ValidationError("give --target, --actual or both") }
            let written = try node.open().setTarget(goal, project: project, period: period, target: target, actual: actual)
            if json {
                Output.json(.object(["collection": .string(written.collection), "id": .string(written.id),
                                     "period": .string(PlanPeriod(period)?.description ?? period),
                                     "target": target.map { .number($0) } ?? .null, "actual": actual.map { .number($0) } ?? .null]))
            } else {
                print("wrote \(written.collection) \(written.id)")
            }
        }
    }
}

struct ScorecardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scorecard",
        abstract: "Each person's weighted score for a period from what they own, with the grade (优/良/中/差).",
        discussion: """
            Within each kind, the weighted mean of the scores of what the person owns: goals and objectives \
            (their goal-tree scores, by weight), KPIs (achievement, by weight), activities (100 × min(EV/PV, 1), \
            by budget); across kinds goals 0.4, KPIs 0.3, activities 0.3, renormalised over the kinds the person \
            has. Figures as of the period's last day, or today if sooner. Issues owned are counted, not scored. \
            Example: sitesync scorecard --department roads --period 2026-Q2 --format csv > roads-q2.csv
            """)
    @OptionGroup var node: NodeOptions
    @Option(help: ArgumentHelp("One person: a staff id or name.", valueName: "name")) var person: String?
    @Option(help: ArgumentHelp("One department's staff.", valueName: "dept")) var department: String?
    @Option(help: ArgumentHelp("YYYY-QN (or YYYY, YYYY-MM).", valueName: "period")) var period: String
    @Option(help: ArgumentHelp("table, csv (for HR's spreadsheet) or json.", valueName: "format")) var format = "table"
    @Flag(help: "Print JSON (as --format json).") var json = false

    func validate() throws {
        if person != nil && department != nil { throw ValidationError("give --person or --department, not both") }
        if !["table", "csv", "json"].contains(format) { throw ValidationError("--format must be table, csv or json, not '\(format)'") }
    }

    func run() throws {
        let node = try node.open()
        let plan = try parsePeriod(period)
        let (asOf, cards) = try node.scorecards(period: plan, person: person, department: department, today: .today,
                                                thresholds: node.configuration.report)
        if json || format == "json" {
            Output.json(Node.scorecardsJSON(cards, period: plan, asOf: asOf))
            return
        }
        let rows = Node.scorecardRows(cards, period: plan, asOf: asOf)
        if format == "csv" {
            FileHandle.standardOutput.write(Data(ReportText.csv(rows).utf8))
            return
        }
        print(Output.table(rows.map { Array($0.dropFirst(3)) }.map { row in row.map { $0.isEmpty ? "—" : $0 } }))
        print("period \(plan), as of \(asOf); \(cards.count) \(cards.count == 1 ? "person" : "people")")
    }
}
