import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

struct TemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Plan templates (模板库): save a project as one, import one, list and show them.",
        discussion: """
            A template keeps a project's activities (dates as days from the start, budgets as shares \
            of the total, units, quantities, earned-value method), goals and KPIs. Templates are plan \
            data: office and hub nodes write them, and they replicate to every node. Make a project \
            from one with `sitesync project add CODE --name NAME --department DEPT --template NAME \
            --start DATE --budget AMOUNT`. config/templates/ holds three to import.
            """,
        subcommands: [Save.self, Import.self, List.self, Show.self])

    struct Save: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep a project's plan as a template (office and hub nodes).",
            discussion: "Example: sitesync template save R-002 --name ring-road --title \"环路 Ring road\"")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
        @Option(help: ArgumentHelp("The template's name: lower-case letters, digits and '-'.", valueName: "name")) var name: String
        @Option(help: ArgumentHelp("What a person reads (default: the project's name).", valueName: "text")) var title: String?
        @Flag(help: "Print the template as JSON.") var json = false

        func run() throws {
            let node = try node.open()
            let template = try node.templateOf(project: project, name: name, title: title)
            let code = try node.findProject(project).code
            try node.saveTemplate(template, source: "project \(code)", today: .today)
            if json { print(template.canonicalJSON) } else {
                print("saved template \(template.name): \(template.activities.count) activities, \(template.goals.count) goals, "
                      + "\(template.kpis.count) KPIs over \(template.finishDay) days; sync to send it to every node")
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep a template read from a TOML or JSON file (office and hub nodes).",
            discussion: "The format is in config/README.md. Example: sitesync template import config/templates/road-widening.toml")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The file (.toml or .json).", valueName: "file")) var file: String
        @Flag(help: "Print the template as JSON.") var json = false

        func run() throws {
            let template = try node.open().importTemplate(file: file, today: .today)
            if json { print(template.canonicalJSON) } else {
                print("imported template \(template.name) (\(template.title)): \(template.activities.count) activities, "
                      + "\(template.goals.count) goals, \(template.kpis.count) KPIs")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The templates this node holds.")
        @OptionGroup var node: NodeOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let records = try node.open().templates()
            if json {
                Output.json(.array(records.map { record in
                    .object(["name": .string(record.template.name), "title": .string(record.template.title),
                             "activities": .int(Int64(record.template.activities.count)), "goals": .int(Int64(record.template.goals.count)),
                             "kpis": .int(Int64(record.template.kpis.count)), "days": .int(Int64(record.template.finishDay)),
                             "source": .string(record.source), "saved_by": .string(record.savedBy), "saved_on": .string(record.savedOn)])
                }))
                return
            }
            print(Output.table([["name", "title", "activities", "goals", "KPIs", "days", "source", "saved"]] + records.map {
                [$0.template.name, $0.template.title, String($0.template.activities.count), String($0.template.goals.count),
                 String($0.template.kpis.count), String($0.template.finishDay), $0.source, "\($0.savedOn) \($0.savedBy)"]
            }))
            print("\(records.count) template\(records.count == 1 ? "" : "s")")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One template: its activities, goals and KPIs.")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The template's name.", valueName: "name")) var name: String
        @Flag(help: "Print the template as JSON (what `template import` reads).") var json = false

        func run() throws {
            let record = try node.open().template(named: name)
            let template = record.template
            if json {
                print(template.canonicalJSON)
                return
            }
            print("\(template.name): \(template.title)")
            if let description = template.description { print(description) }
            print("\(template.finishDay) days from start to finish; saved from \(record.source) by \(record.savedBy) on \(record.savedOn)\n")
            print(Output.table([["activity", "goal", "days", "share", "quantity", "method"]] + template.activities.map {
                [$0.name, $0.goal ?? "", "\($0.startDay)–\($0.finishDay)", $0.budgetShare.description,
                 [$0.quantity?.description, $0.unit].compactMap { $0 }.joined(separator: " "), $0.evMethod]
            }))
            if !template.goals.isEmpty {
                print("\n" + Output.table([["goal", "parent", "weight"]] + template.goals.map { [$0.title, $0.parent ?? "", $0.weight.description] }))
            }
            if !template.kpis.isEmpty {
                print("\n" + Output.table([["KPI", "unit", "direction", "baseline", "target", "weight"]] + template.kpis.map {
                    [$0.name, $0.unit ?? "", $0.direction, $0.baseline.description, $0.target.description, $0.weight.description]
                }))
            }
        }
    }
}
