import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

struct ProgressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "progress",
        abstract: "Record a day's progress on an activity: quantity installed, percentage, status, dates.",
        discussion: """
            ACTIVITY is the activity's id, its name, or PROJECT-CODE/name where names repeat. Everything \
            given is written in one durable transaction: a quantity entry (--qty, in the activity's unit; \
            entries from several crews add up, never overwrite one another), a percentage as of --date \
            (--percent, for activities measured by percentage: a report as of an earlier day does not \
            count it), and the activity's status and actual dates. The first progress on an activity \
            not yet started marks it in progress, started on --date; --finished (or --status completed) \
            finishes it on --date. Dates are today or earlier.

            Examples:
              sitesync progress "Kerbs" --qty 12.5m
              sitesync progress R-001/Kerbs --qty 40 --date 2026-11-28 --note "north side"
              sitesync progress a17 --percent 60 --date 2026-11-30
              sitesync progress a17 --finished
            """)
    @OptionGroup var node: NodeOptions
    @Argument(help: ArgumentHelp("The activity: id, name, or PROJECT-CODE/name.", valueName: "activity")) var activity: String
    @Option(name: .customLong("qty"), parsing: .unconditional, help: ArgumentHelp("Quantity installed, optionally with the unit (12.5 or 12.5m).", valueName: "quantity"))
    var quantity: String?
    @Option(help: ArgumentHelp("Percent complete, 0–100 (for manually measured activities).", valueName: "percent")) var percent: String?
    @Option(help: ArgumentHelp("not_started, in_progress, completed (accepted is an approval).", valueName: "status")) var status: String?
    @Option(help: ArgumentHelp("The day the work was done (YYYY-MM-DD); default today.", valueName: "date")) var date: String?
    @Flag(help: "The activity is finished: status completed, actual finish on --date.") var finished = false
    @Option(help: ArgumentHelp("A note with the quantity.", valueName: "text")) var note: String?

    func validate() throws {
        try OptionCheck.date(date, "--date")
        if let percent, ExactDecimal(percent).map({ $0 >= .zero && $0 <= ExactDecimal(100) }) != true {
            throw ValidationError("--percent '\(percent)' is not a percentage from 0 to 100")
        }
        if quantity == nil && percent == nil && status == nil && !finished {
            throw ValidationError("say what was done: --qty, --percent, --status or --finished")
        }
        if note != nil && quantity == nil { throw ValidationError("--note goes with a quantity (--qty)") }
    }

    func run() throws {
        let node = try node.open()
        let today = CalendarDate.today
        let outcome = try node.recordProgress(ProgressEntry(activity: activity, quantity: quantity, percent: percent, status: status,
                                                            date: date.flatMap(CalendarDate.init) ?? today, finished: finished, note: note),
                                              today: today)
        let unit = outcome.unit.isEmpty ? "" : " \(outcome.unit)"
        var line = "\(outcome.project)/\(outcome.name): "
        if let planned = outcome.planned, let share = outcome.installedPercent {
            line += "\(Self.number(outcome.installed)) of \(Self.number(planned))\(unit) installed (\(share)%)"
        } else if outcome.installed > .zero {
            line += "\(Self.number(outcome.installed))\(unit) installed"
        } else {
            line += outcome.percent.map { "\(Self.number($0))% complete" } ?? "recorded"
        }
        print(outcome.changes == 0 ? "nothing new to record; " + line : line)
    }

    /// A whole number as is, anything else to two decimals.
    static func number(_ value: ExactDecimal) -> String { value.scale == 0 ? value.description : value.fixed(2) }
}
