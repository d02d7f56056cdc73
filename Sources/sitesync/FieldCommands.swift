import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncStore

/// `--date` as given, or today; never in the future.
private func entryDate(_ text: String?, what: String) throws -> CalendarDate {
    let date = text.flatMap(CalendarDate.init) ?? .today
    try Node.checkNotFuture(date, today: .today, what: what)
    return date
}

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Write a project's daily log for a day: weather, crew count, summary.",
        discussion: """
            Every device names a project's log for a day alike, so logs written offline on two \
            laptops merge into one: the larger crew count wins, differing summaries are kept side by \
            side as a conflict to review. --submit marks it submitted (approval is for department \
            nodes: `sitesync record put … daily_log ID status=approved`). The sync history is \
            `sitesync history`.

            Example:
              sitesync log R-001 --weather "rain, 12°C" --crew 14 --summary "kerbs north side"
            """)
    @OptionGroup var node: NodeOptions
    @Argument(help: ArgumentHelp("The project (its code or id) whose daily log to write (the sync history is `sitesync history`).",
                                 valueName: "project"))
    var project: String
    @Option(help: ArgumentHelp("The day (YYYY-MM-DD); default today.", valueName: "date")) var date: String?
    @Option(help: ArgumentHelp("The weather.", valueName: "text")) var weather: String?
    @Option(help: ArgumentHelp("How many worked on site.", valueName: "n")) var crew: Int?
    @Option(help: ArgumentHelp("What was done.", valueName: "text")) var summary: String?
    @Flag(help: "Mark the log submitted.") var submit = false

    /// Whether anything to write in a daily log was given (`--date` alone says when, not what).
    var writesDailyLog: Bool { weather != nil || crew != nil || summary != nil || submit }

    func validate() throws {
        try OptionCheck.date(date, "--date")
        if let crew, crew < 0 { throw ValidationError("--crew must be 0 or more") }
        if !writesDailyLog {
            throw ValidationError("say what to log: --weather, --crew, --summary or --submit (the sync history is `sitesync history`)")
        }
    }

    func run() throws {
        let node = try node.open()
        let found = try node.findProject(project)
        let day = try entryDate(date, what: "a daily log")
        var fields = ["project=\(found.id)", "date=\(day)"]
        if let weather { fields.append("weather=\(weather)") }
        if let crew { fields.append("crew_count=\(crew)") }
        if let summary { fields.append("summary=\(summary)") }
        if submit { fields.append("status=submitted") }
        let written = try node.writeEntry("daily_log", fields)
        print(written.changed ? "logged \(found.code) for \(day)" : "the log of \(found.code) for \(day) already says this")
    }
}

struct CostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost",
        abstract: "Record a cost against an activity (it adds to the activity's actual cost).",
        discussion: "Example: sitesync cost R-001/Kerbs 1250.50 --note \"concrete, 6 m3\"")
    @OptionGroup var node: NodeOptions
    @Argument(help: ArgumentHelp("The activity: id, name, or PROJECT-CODE/name.", valueName: "activity")) var activity: String
    /// The amount as typed. Taken as every word the parser does not know, so that `-500` reaches
    /// the check below (which says negative costs are refused) rather than being read as an
    /// unknown option.
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("The amount, a positive decimal.", valueName: "amount"))
    var amounts: [String] = []
    @Option(help: ArgumentHelp("The day of the cost (YYYY-MM-DD); default today.", valueName: "date")) var date: String?
    @Option(help: ArgumentHelp("What it was for.", valueName: "text")) var note: String?

    var amount: String { amounts.first ?? "" }

    func validate() throws {
        let amount = try OptionCheck.single(amounts, "amount", example: "sitesync cost ACTIVITY 1250.50")
        try OptionCheck.date(date, "--date")
        guard let value = ExactDecimal(amount) else {
            throw ValidationError("'\(amount)' is not an amount: write a positive decimal such as 1250.50")
        }
        guard !value.isNegative else {
            throw ValidationError("negative costs are refused (\(amount)): a cost entry records money spent, "
                + "so write the amount paid, such as 1250.50")
        }
        guard value > .zero else { throw ValidationError("a cost of 0 records nothing: write a positive decimal such as 1250.50") }
    }

    func run() throws {
        let node = try node.open()
        let day = date.flatMap(CalendarDate.init) ?? .today
        let cost = try node.recordCost(activity: activity, date: day, amount: amount, note: note, today: .today)
        print("recorded \(cost.amount) against \(cost.project)/\(cost.activityName) on \(day)")
    }
}

struct RiskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "risk",
        abstract: "Raise a risk on a project, or update one (--id).",
        discussion: """
            Probability and impact are 1–5; their product is the risk's score (16 or more warns red in \
            the reports). A risk counts in a report from the day it was raised until the day it was \
            closed: --date says that day (default today) when raising it or closing it (--status closed).
            Examples:
              sitesync risk R-001 "Flooding of the trench" --probability 4 --impact 4 --date 2026-11-20
              sitesync risk R-001 --id r7 --status closed --date 2026-12-02
            """)
    @OptionGroup var node: NodeOptions
    @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
    @Argument(help: ArgumentHelp("The risk's title (for a new one).", valueName: "title")) var title: String?
    @Option(help: ArgumentHelp("Update this risk instead of raising a new one.", valueName: "id")) var id: String?
    @Option(help: ArgumentHelp("1 (rare) to 5 (almost certain).", valueName: "1-5")) var probability: Int?
    @Option(help: ArgumentHelp("1 (minor) to 5 (severe).", valueName: "1-5")) var impact: Int?
    @Option(help: ArgumentHelp("identified, mitigating or closed.", valueName: "status")) var status: String?
    @Option(help: ArgumentHelp("What is being done about it.", valueName: "text")) var mitigation: String?
    @Option(help: ArgumentHelp("The day it was raised, or closed (YYYY-MM-DD); default today.", valueName: "date")) var date: String?

    func validate() throws {
        try OptionCheck.date(date, "--date")
        for (name, value) in [("--probability", probability), ("--impact", impact)] {
            if let value, !(1...5).contains(value) { throw ValidationError("\(name) must be from 1 to 5") }
        }
        if id == nil && (title == nil || probability == nil || impact == nil) {
            throw ValidationError("a new risk needs a title, --probability and --impact (or give --id to update one)")
        }
    }

    func run() throws {
        let node = try node.open()
        let project = try node.findProject(self.project)
        let day = try entryDate(date, what: "a risk")
        var fields = id == nil ? ["project=\(project.id)", "raised_on=\(day)"] : []
        if let title { fields.append("title=\(title)") }
        if let probability { fields.append("probability=\(probability)") }
        if let impact { fields.append("impact=\(impact)") }
        if let status { fields.append("status=\(status)") }
        if status == "closed" { fields.append("closed_on=\(day)") }
        if let mitigation { fields.append("mitigation=\(mitigation)") }
        let written = try node.writeEntry("risk", id: id, fields)
        print("\(id == nil ? "raised" : "updated") risk \(written.id) on \(project.code)")
    }
}

struct IssueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Open an issue on a project (a defect, a blocker, a question), or update one (--id).",
        discussion: """
            Assignees form a set: people added on two laptops offline are all kept. An issue counts \
            from the day it was opened until the day it was resolved or closed: --date says that day \
            (default today) when opening it or resolving or closing it.
            Examples:
              sitesync issue R-001 "Kerb stones cracked" --priority high --assign "Li Wei" --due 2026-12-05
              sitesync issue R-001 --id i3 --status resolved --date 2026-12-03
            """)
    @OptionGroup var node: NodeOptions
    @Argument(help: ArgumentHelp("The project: its code or id.", valueName: "project")) var project: String
    @Argument(help: ArgumentHelp("The issue's title (for a new one).", valueName: "title")) var title: String?
    @Option(help: ArgumentHelp("Update this issue instead of opening a new one.", valueName: "id")) var id: String?
    @Option(help: ArgumentHelp("low, medium, high or critical.", valueName: "priority")) var priority: String?
    @Option(help: ArgumentHelp("open, in_progress, resolved or closed.", valueName: "status")) var status: String?
    @Option(help: ArgumentHelp("Add a person to the assignees (repeat for several).", valueName: "name")) var assign: [String] = []
    @Option(help: ArgumentHelp("When it must be resolved (YYYY-MM-DD).", valueName: "date")) var due: String?
    @Option(help: ArgumentHelp("Details.", valueName: "text")) var description: String?
    @Option(help: ArgumentHelp("The day it was opened, or resolved or closed (YYYY-MM-DD); default today.", valueName: "date"))
    var date: String?

    func validate() throws {
        try OptionCheck.date(due, "--due")
        try OptionCheck.date(date, "--date")
        if id == nil && title == nil { throw ValidationError("a new issue needs a title (or give --id to update one)") }
    }

    func run() throws {
        let node = try node.open()
        let project = try node.findProject(self.project)
        let day = try entryDate(date, what: "an issue")
        var fields = id == nil ? ["project=\(project.id)", "status=\(status ?? "open")", "opened_on=\(day)"] : []
        if let title { fields.append("title=\(title)") }
        if let priority { fields.append("priority=\(priority)") }
        if id != nil, let status { fields.append("status=\(status)") }
        if status == "resolved" || status == "closed" { fields.append("closed_on=\(day)") }
        for person in assign { fields.append("assignees+=\(person)") }
        if let due { fields.append("due=\(due)") }
        if let description { fields.append("description=\(description)") }
        let written = try node.writeEntry("issue", id: id, fields)
        print("\(id == nil ? "opened" : "updated") issue \(written.id) on \(project.code)")
    }
}
