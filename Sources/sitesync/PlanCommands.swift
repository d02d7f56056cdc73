import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance

struct ProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Plan projects (office nodes) and see them.",
        subcommands: [Add.self, List.self, Show.self] + stageCommands)

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a project: its code, name, department and baseline (plan fields: office nodes only).",
            discussion: """
                With --template, the project takes the template's activities, goals and KPIs: dates from \
                --start, and --budget shared among the activities by their shares, exactly (the rounding \
                remainder goes to the last activity, so the budgets add up to the total).
                Examples: sitesync project add R-002 "Ring road, east" --department roads --budget 2500000 --start 2026-03-01 --finish 2026-10-31
                sitesync project add R-003 --name "Binhe Road widening" --department roads --template road-widening --start 2026-04-01 --budget 18000000
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("Its code, unique in the city (R-002).", valueName: "code")) var code: String
        @Argument(help: ArgumentHelp("Its name (or --name).", valueName: "name")) var nameArgument: String?
        @Option(name: .customLong("name"), help: ArgumentHelp("Its name.", valueName: "name")) var nameOption: String?
        @Option(help: ArgumentHelp("The department it belongs to.", valueName: "dept")) var department: String
        @Option(help: ArgumentHelp("Budget at completion.", valueName: "amount")) var budget: String?
        @Option(help: ArgumentHelp("Planned start (YYYY-MM-DD).", valueName: "date")) var start: String?
        @Option(help: ArgumentHelp("Planned finish (YYYY-MM-DD).", valueName: "date")) var finish: String?
        @Option(help: ArgumentHelp("Make it from this template (needs --start and --budget).", valueName: "name")) var template: String?
        @Flag(help: "Print JSON.") var json = false

        var name: String { nameOption ?? nameArgument ?? "" }

        func validate() throws {
            try OptionCheck.amount(budget, "--budget")
            try OptionCheck.date(start, "--start")
            try OptionCheck.date(finish, "--finish")
            if let start, let finish, finish < start { throw ValidationError("--finish \(finish) is before --start \(start)") }
            switch (nameArgument, nameOption) {
            case (nil, nil): throw ValidationError("give the project's name (--name NAME)")
            case (.some(let a), .some(let b)) where a != b: throw ValidationError("two names given ('\(a)' and --name '\(b)'): give one")
            default: break
            }
            if template != nil {
                guard start != nil, budget != nil else { throw ValidationError("--template needs --start DATE and --budget AMOUNT") }
                if finish != nil { throw ValidationError("--template sets the finish from the template's length: leave out --finish") }
            }
        }

        func run() throws {
            let node = try node.open()
            if let template, let start = start.flatMap(CalendarDate.init), let budget = budget.flatMap({ ExactDecimal($0) }) {
                let made = try node.instantiateTemplate(template, code: code, projectName: name, department: department, start: start,
                                                        budget: budget)
                if json {
                    Output.json(.object(["id": .string(made.projectID), "code": .string(made.code), "activities": .int(Int64(made.activities)),
                                         "goals": .int(Int64(made.goals)), "kpis": .int(Int64(made.kpis)), "finish": .string(made.finish.description)]))
                } else {
                    print("created project \(code) (\(made.projectID)) from template \(template): \(made.activities) activities, "
                          + "\(made.goals) goals, \(made.kpis) KPIs, \(start) to \(made.finish)")
                }
                return
            }
            if let existing = try? node.findProject(code), existing.code.lowercased() == code.lowercased() {
                throw NodeError(.usage, "project \(existing.code) already exists (\(existing.name)); codes are unique")
            }
            var fields = ["code=\(code)", "name=\(name)", "department=\(department)", "stage=initiation"]
            if let budget { fields.append("budget=\(budget)") }
            if let start { fields.append("planned_start=\(start)") }
            if let finish { fields.append("planned_finish=\(finish)") }
            let written = try node.writeEntry("project", fields)
            if json { Output.json(.object(["id": .string(written.id), "code": .string(code)])) } else {
                print("created project \(code) (\(written.id))")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The projects this node holds.")
        @OptionGroup var node: NodeOptions

        func run() throws {
            let node = try node.open()
            let rows = try node.projectListing()
            print(Output.table([["code", "name", "department", "stage", "budget", "start", "finish", "activities"]]
                               + rows.map { [$0.code, $0.name, $0.department, $0.stage, $0.budget?.description ?? "", $0.plannedStart,
                                             $0.plannedFinish, String($0.activities)] }))
            print("\(rows.count) project\(rows.count == 1 ? "" : "s")")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One project: its plan, its activities' progress, and how it stands today.")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Option(help: ArgumentHelp("The baseline the plan's variance is shown against: current (the latest) or original (baseline 1).",
                                   valueName: "baseline")) var against: String = "current"

        func validate() throws {
            guard ["current", "original"].contains(against) else { throw ValidationError("--against is current or original, not '\(against)'") }
        }

        func run() throws {
            let node = try node.open()
            let asOf = CalendarDate.today
            guard let detail = try Reports.project(node, project, asOf: asOf) else { return }
            print(ReportText.project(detail, asOf: asOf), terminator: "")
            if let variance = try Baselines.variance(node.store, project: detail.project.id, against: against == "original" ? 1 : nil) {
                print(ReportText.variance(variance), terminator: "")
            }
            // The completion forecast, in brief (`sitesync forecast PROJECT` gives each activity's).
            if !detail.project.isClosed, let forecast = try Forecasts.forecast(node, project: detail.project.id, asOf: asOf).first,
               let finish = forecast.finish, let eac = forecast.eac {
                print(String(format: "forecast: finish P50 %@, P80 %@, P95 %@; EAC P50 %.2f, P80 %.2f (sitesync forecast %@)",
                             finish.p50.description, finish.p80.description, finish.p95.description, eac.p50, eac.p80, forecast.code))
                if !forecast.tagCounts.isEmpty {
                    print("daily-log tags (days): " + forecast.tagCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                }
                // The delay model's chance of finishing late, where one was trained (a hub's history).
                if try DelayHistory.load(node) != nil, let delay = try DelayHistory.prediction(node, project: detail.project.id, asOf: asOf) {
                    print(delay.text)
                }
            }
        }
    }
}

struct ActivityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activity",
        abstract: "Plan a project's activities (office nodes) and list them.",
        subcommands: [Add.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an activity to a project, with its budget, quantity and dates (plan fields: office nodes only).",
            discussion: """
                --method says how progress earns value: units (installed quantity over --quantity, the \
                default when a quantity is planned), manual (a percentage), zero_hundred, fifty_fifty, \
                level_of_effort. Example: sitesync activity add R-002 Kerbs --budget 120000 --quantity 800 --unit m \
                --start 2026-04-01 --finish 2026-05-15
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Argument(help: ArgumentHelp("The activity's name.", valueName: "name")) var name: String
        @Option(help: ArgumentHelp("Its budget.", valueName: "amount")) var budget: String?
        @Option(help: ArgumentHelp("The planned quantity.", valueName: "quantity")) var quantity: String?
        @Option(help: ArgumentHelp("The quantity's unit (m, m3, t).", valueName: "unit")) var unit: String?
        @Option(help: ArgumentHelp("Planned start (YYYY-MM-DD).", valueName: "date")) var start: String?
        @Option(help: ArgumentHelp("Planned finish (YYYY-MM-DD).", valueName: "date")) var finish: String?
        @Option(help: ArgumentHelp("units, manual, zero_hundred, fifty_fifty or level_of_effort.", valueName: "method")) var method: String?

        func validate() throws {
            try OptionCheck.amount(budget, "--budget")
            try OptionCheck.amount(quantity, "--quantity")
            try OptionCheck.date(start, "--start")
            try OptionCheck.date(finish, "--finish")
            if let start, let finish, finish < start { throw ValidationError("--finish \(finish) is before --start \(start)") }
            if let method, EarnedValueMethod(rawValue: method) == nil {
                throw ValidationError("--method '\(method)' is not one of \(EarnedValueMethod.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() throws {
            let node = try node.open()
            let project = try node.findProject(self.project)
            var fields = ["project=\(project.id)", "name=\(name)", "status=not_started",
                          "ev_method=\(method ?? (quantity == nil ? "manual" : "units"))"]
            if let budget { fields.append("budget=\(budget)") }
            if let quantity { fields.append("budget_quantity=\(quantity)") }
            if let unit { fields.append("unit=\(unit)") }
            if let start { fields.append("planned_start=\(start)") }
            if let finish { fields.append("planned_finish=\(finish)") }
            let written = try node.writeEntry("activity", fields)
            print("added \(project.code)/\(name) (\(written.id))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Activities, with quantities installed so far.")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("Only this project (code or id).", valueName: "project")) var project: String?

        func run() throws {
            let node = try node.open()
            let body = try node.activityListing(project: project).map { a in
                [a.id, a.project, a.name, a.status, a.unit, a.plannedQuantity?.description ?? "", a.installed.description,
                 a.percentComplete?.description ?? "", a.plannedStart, a.plannedFinish]
            }
            print(Output.table([["id", "project", "name", "status", "unit", "planned", "installed", "percent", "start", "finish"]] + body))
            print("\(body.count) activit\(body.count == 1 ? "y" : "ies")")
        }
    }
}

struct KPICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kpi",
        abstract: "Define a project's KPIs (office nodes) and record their readings.",
        subcommands: [Define.self, Read.self, KPIWeightsCommand.self])

    struct Define: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Define a KPI: direction, baseline, target, weight.",
            discussion: """
                Achievement is (value − baseline) / (target − baseline) when higher is better, (baseline − \
                value) / (baseline − target) when lower is better; the score is 100 × achievement, capped; \
                a project's score weights its KPIs' scores. Example: sitesync kpi define R-002 "Lost-time \
                accidents" --direction lower_better --baseline 6 --target 0 --weight 2
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Argument(help: ArgumentHelp("The KPI's name.", valueName: "name")) var name: String
        @Option(help: ArgumentHelp("higher_better or lower_better.", valueName: "direction")) var direction: String
        @Option(help: ArgumentHelp("Where it starts.", valueName: "value")) var baseline: String
        @Option(help: ArgumentHelp("What it should reach.", valueName: "value")) var target: String
        @Option(help: ArgumentHelp("Its weight in the project's score (default 1).", valueName: "weight")) var weight: String = "1"
        @Option(help: ArgumentHelp("Its unit.", valueName: "unit")) var unit: String?

        func validate() throws {
            guard KPIDirection(rawValue: direction) != nil else { throw ValidationError("--direction must be higher_better or lower_better") }
            for (option, value) in [("--baseline", baseline), ("--target", target)] where ExactDecimal(value) == nil {
                throw ValidationError("\(option) '\(value)' is not a number")
            }
            guard baseline != target else { throw ValidationError("--target equals --baseline: there is nothing to achieve") }
            try OptionCheck.amount(weight, "--weight")
        }

        func run() throws {
            let node = try node.open()
            let project = try node.findProject(self.project)
            var fields = ["project=\(project.id)", "name=\(name)", "direction=\(direction)", "baseline=\(baseline)", "target=\(target)",
                          "weight=\(weight)"]
            if let unit { fields.append("unit=\(unit)") }
            let written = try node.writeEntry("kpi", fields)
            print("defined KPI \(project.code)/\(name) (\(written.id))")
        }
    }

    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a KPI's value for a month.",
            discussion: "Example: sitesync kpi read \"R-002/Lost-time accidents\" 1 --period 2026-11")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The KPI: its id, or PROJECT-CODE/name.", valueName: "kpi")) var kpi: String
        /// The value as typed. Taken as every word the parser does not know, so that a negative
        /// value (`-5`, a KPI such as a cost variance) is read as the value, not as an option.
        @Argument(parsing: .allUnrecognized, help: ArgumentHelp("The value measured (negative values too).", valueName: "value"))
        var values: [String] = []
        @Option(help: ArgumentHelp("The month (YYYY-MM); default this month.", valueName: "month")) var period: String?
        @Option(help: ArgumentHelp("Where the value comes from.", valueName: "text")) var source: String?

        var value: String { values.first ?? "" }

        func validate() throws {
            let value = try OptionCheck.single(values, "value", example: "sitesync kpi read KPI 96.5 --period 2026-11")
            guard ExactDecimal(value) != nil else { throw ValidationError("'\(value)' is not a number: write a decimal such as 96.5 or -5") }
            if let period, CalendarDate(period + "-01") == nil { throw ValidationError("--period '\(period)' is not a month: write YYYY-MM") }
        }

        func run() throws {
            let node = try node.open()
            let month = period ?? String(CalendarDate.today.description.prefix(7))
            let reading = try node.recordKPIReading(kpi: kpi, period: month, value: value, source: source)
            print("recorded \(reading.project)/\(reading.name) = \(reading.value) for \(month)")
        }
    }
}
