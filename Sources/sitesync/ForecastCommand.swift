import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import SiteSyncPerformance

/// `sitesync forecast`: completion forecasts (its default, `show`), generated histories and the
/// delay model (docs/design.md §17). A group with a default subcommand, so that
/// `sitesync forecast R-12` still forecasts R-12 while `history` and `model` are subcommands
/// (a project coded `show`, `history` or `model` is named by its id instead).
struct ForecastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "P50/P80/P95 finish dates and final costs (Monte Carlo), what-ifs, daily-log tags, the delay model.",
        discussion: """
            sitesync forecast [PROJECT] [--what-if CLAUSE …] [--tags] [--json] runs `show`, the forecast \
            (`sitesync forecast show --help` for its options); `history generate` writes a generated \
            history; `model train|evaluate` trains and measures the delay-probability model.
            """,
        subcommands: [ForecastShowCommand.self, ForecastHistoryCommand.self, ForecastModelCommand.self],
        defaultSubcommand: ForecastShowCommand.self)
}

/// `sitesync forecast [show]`: completion forecasts with their spread, and what-ifs.
struct ForecastShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "P50/P80/P95 finish dates and final costs (Monte Carlo), what-ifs, and daily-log tags.",
        discussion: """
            Each activity's remaining work at the rate it has achieved (installed quantity, or percentage \
            points for manual activities, per working day, week by week from the dated entries) with that \
            rate's week-to-week spread; an activity with no progress yet uses its planned rate and says so \
            (basis planned). 10,000 runs by default, seeded (--seed; default \(ForecastSettings.defaultSeed)), \
            so the same data prints the same forecast. A project finishes when its last activity does; its \
            final cost (EAC) is its activities' costs to date plus their remaining work at the cost per \
            unit achieved. A day whose daily log is tagged rain is a day without output. Closed and archived \
            projects are left out. Nothing is written.

            What-if (沙盘), with a PROJECT, repeatable: 'crew ACTIVITY +N%' (or -N%), 'start ACTIVITY \
            YYYY-MM-DD', 'rain-days N/month'. Prints the base, the changed forecast and the difference, \
            with the same seed, so the difference is the change's and not noise.

            JSON: as_of, runs, seed, projects (project, code, name, finish_p50, finish_p80, finish_p95, \
            eac_p50, eac_p80, eac_p95, bac, ac, planned_finish, rain_days_per_month, tags, activities: \
            activity, name, basis (observed|planned|finished), rate_per_day, rate_spread, periods, remaining, \
            measure, finish_p50…p95, eac_p50…p95, ac, bac). With --what-if: as_of, runs, seed, what_if, base, \
            changed, difference (finish_p50_days, finish_p80_days, finish_p95_days, eac_p50, eac_p80).

            Examples: sitesync forecast --json
                      sitesync forecast R-12 --what-if 'crew Earthworks +30%' --what-if 'rain-days 8/month'
                      sitesync forecast --tags
                      sitesync forecast model train

            With a PROJECT and a trained model (`sitesync forecast model train`), the project's \
            delay_probability (the chance it finishes after its planned finish) and the three features \
            that moved it most (coefficient × standardised value); JSON delay_probability, delay_factors.
            """)

    @OptionGroup var node: NodeOptions
    @Argument(help: "A project's code or id (default: every project under way).") var project: String?
    @Option(help: ArgumentHelp("Simulation runs (1–1,000,000).", valueName: "n")) var runs = ForecastSettings.defaultRuns
    @Option(help: ArgumentHelp("The random seed (a whole number from 0 to 2^64-1).", valueName: "n")) var seed: UInt64 = ForecastSettings.defaultSeed
    @Option(help: ArgumentHelp("The cut-off date (YYYY-MM-DD); default today (UTC).", valueName: "date")) var asOf: String?
    @Option(name: .customLong("what-if"), help: ArgumentHelp("A change to try (repeatable): 'crew ACTIVITY +N%', 'start ACTIVITY YYYY-MM-DD', 'rain-days N/month'.", valueName: "clause"))
    var whatIf: [String] = []
    @Flag(help: "Print each project's daily-log tag counts instead of the forecast.") var tags = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        try OptionCheck.date(asOf, "--as-of")
        guard (1...1_000_000).contains(runs) else { throw ValidationError("--runs must be from 1 to 1,000,000") }
        if !whatIf.isEmpty && project == nil {
            throw ValidationError("--what-if needs a PROJECT: sitesync forecast PROJECT --what-if 'crew ACTIVITY +30%'")
        }
        if !whatIf.isEmpty && tags { throw ValidationError("--tags prints tag counts; leave out --what-if") }
    }

    func run() throws {
        let node = try node.open()
        let date = asOf.flatMap(CalendarDate.init) ?? CalendarDate.today
        let settings = ForecastSettings(runs: runs, seed: seed)
        if let note = Reports.scopeNote(node) { Output.note(note) }
        if !whatIf.isEmpty, let project {
            let comparison = try Forecasts.whatIf(node, project: project, clauses: whatIf, asOf: date, settings: settings)
            if json { Output.json(ForecastJSON.comparison(comparison, asOf: date, settings: settings)) } else { print(Self.text(comparison)) }
            return
        }
        let forecasts = try Forecasts.forecast(node, project: project, asOf: date, settings: tags ? ForecastSettings(runs: 0) : settings)
        if tags {
            if json {
                Output.json(.array(forecasts.map { forecast in
                    .object(["project": .string(forecast.id), "code": .string(forecast.code),
                             "rain_days_per_month": .number(String(format: "%.2f", forecast.rainDaysPerMonth)),
                             "tags": .object(forecast.tagCounts.mapValues { .int(Int64($0)) })])
                }))
            } else {
                print(Output.table([["project", "rain days/month", "tags"]] + forecasts.map { forecast in
                    [forecast.code, String(format: "%.1f", forecast.rainDaysPerMonth),
                     forecast.tagCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")]
                }))
            }
            return
        }
        let delay = try project.map { try DelayHistory.prediction(node, project: $0, asOf: date) } ?? nil
        if json {
            var answer = ForecastJSON.forecasts(forecasts, asOf: date, settings: settings)
            if let delay, case .object(var members) = answer, case .array(var projects) = members["projects"], !projects.isEmpty,
               case .object(var first) = projects[0] {
                first["delay_probability"] = delay.json.probability
                first["delay_factors"] = delay.json.factors
                projects[0] = .object(first)
                members["projects"] = .array(projects)
                answer = .object(members)
            }
            Output.json(answer)
            return
        }
        print("forecast as of \(date), \(runs) runs, seed \(seed)")
        print(Output.table([["project", "name", "planned finish", "P50", "P80", "P95", "EAC P50", "EAC P80", "BAC"]] + forecasts.map { f in
            [f.code, f.name, f.plannedFinish?.description ?? "—", f.finish?.p50.description ?? "—", f.finish?.p80.description ?? "—",
             f.finish?.p95.description ?? "—", Self.money(f.eac?.p50), Self.money(f.eac?.p80), Self.money(f.budget)]
        }))
        if project != nil, let forecast = forecasts.first { print(Self.activities(forecast)) }
        if let delay { print("\n" + delay.text) }
    }

    static func money(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "—" }

    /// One project's activities, each with its basis and rate.
    static func activities(_ forecast: ProjectForecast) -> String {
        "\n" + Output.table([["activity", "basis", "rate/day ± spread", "remaining", "P50", "P80", "P95", "EAC P50", "EAC P80"]]
            + forecast.activities.map { a in
                [a.name, a.basis.rawValue, a.basis == .finished ? "—" : String(format: "%.2f ± %.2f %@", a.rate, a.rateSpread, a.measure),
                 String(format: "%.2f", a.remaining), a.finish.p50.description, a.finish.p80.description, a.finish.p95.description,
                 money(a.eac.p50), money(a.eac.p80)]
            })
    }

    /// A what-if against its base.
    static func text(_ comparison: Forecasts.Comparison) -> String {
        let base = comparison.base, changed = comparison.changed
        func days(_ a: CalendarDate?, _ b: CalendarDate?) -> String {
            guard let a, let b else { return "—" }
            let delta = b.daysSinceEpoch - a.daysSinceEpoch
            return delta == 0 ? "same" : String(format: "%+d days", delta)
        }
        func cost(_ a: Double?, _ b: Double?) -> String {
            guard let a, let b else { return "—" }
            return String(format: "%+.2f", b - a)
        }
        var rows = [["", "base", "what-if", "difference"]]
        for (label, a, b) in [("finish P50", base.finish?.p50, changed.finish?.p50), ("finish P80", base.finish?.p80, changed.finish?.p80),
                              ("finish P95", base.finish?.p95, changed.finish?.p95)] {
            rows.append([label, a?.description ?? "—", b?.description ?? "—", days(a, b)])
        }
        for (label, a, b) in [("EAC P50", base.eac?.p50, changed.eac?.p50), ("EAC P80", base.eac?.p80, changed.eac?.p80)] {
            rows.append([label, money(a), money(b), cost(a, b)])
        }
        rows.append(["rain days/month", String(format: "%.1f", base.rainDaysPerMonth), String(format: "%.1f", changed.rainDaysPerMonth), ""])
        var moved = [["activity", "P50 base", "P50 what-if", "difference"]]
        for (a, b) in zip(base.activities, changed.activities) where a.finish.p50 != b.finish.p50 || a.finish.p95 != b.finish.p95 {
            moved.append([a.name, a.finish.p50.description, b.finish.p50.description, days(a.finish.p50, b.finish.p50)])
        }
        return "what-if for \(base.code) \(base.name): " + comparison.clauses.joined(separator: "; ") + " (nothing was written)\n"
            + Output.table(rows) + (moved.count > 1 ? "\n\n" + Output.table(moved) : "\n\nno activity's finish moved")
    }
}
