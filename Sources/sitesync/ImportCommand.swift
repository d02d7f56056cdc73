import ArgumentParser
import Foundation
import SiteSyncDomain
import SiteSyncNode

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load the office's plans from a spreadsheet.",
        subcommands: [Plan.self])

    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load projects, goals and activities from a CSV file, all or nothing.",
            discussion: """
                One row per activity; the project's columns repeat on each of its rows (they must agree). \
                The first line names the columns, in any order (save the spreadsheet as CSV, UTF-8):

                  required  project_code, project_name, department, activity
                  optional  project_budget, project_start, project_finish (YYYY-MM-DD), goal, goal_weight,
                            activity_budget, quantity, unit, start, finish, method
                            (units, manual, zero_hundred, fifty_fifty, level_of_effort; default units
                            when a quantity is given, else manual)

                A project is matched by its code, a goal by project and title, an activity by project and \
                name: importing the same file twice changes nothing, and an edited file updates the plan. \
                Any wrong row stops the import before anything is written, naming the line. Plans are \
                written by office nodes. An example is in config/plan.example.csv.
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The CSV file.", valueName: "file")) var file: String

        func run() throws {
            let node = try node.open()
            guard let data = FileManager.default.contents(atPath: file) else {
                throw NodeError(.usage, "cannot read \(file): check the path and its permissions")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw NodeError(.usage, "\(file) is not UTF-8 text: save the spreadsheet as \"CSV UTF-8\"")
            }
            let summary = try node.importPlan(csv: text)
            print("imported \(file): \(summary.projects) new project\(summary.projects == 1 ? "" : "s"), \(summary.goals) new goal\(summary.goals == 1 ? "" : "s"), "
                  + "\(summary.activities) new activit\(summary.activities == 1 ? "y" : "ies"); the rest updated or unchanged")
        }
    }
}
