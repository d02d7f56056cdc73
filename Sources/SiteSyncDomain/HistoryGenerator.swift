import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// The knobs of a generated history (docs/design.md §17, "A history to learn from"). Every
/// figure is a parameter so that a test can make lateness depend on what the delay model sees
/// (slow crews, rain, breakdowns, shortages, risks) or on nothing at all.
public struct HistoryParameters: Sendable {
    /// Planned output of one crew per working day, in the activity's unit.
    public var plannedRatePerCrew = 50.0
    /// The plan's allowance: planned days = ⌈quantity / (crews × planned rate) × allowance⌉.
    public var planAllowance = 1.35
    /// A project's productivity factor is exp(N(mean, spread)): its crews' day-to-day rate is
    /// planned rate × factor. Slow projects (factor < 1) are the late ones.
    public var productivityMean = 0.0
    public var productivitySpread = 0.18
    /// A day's output is the crews' rate × exp(N(−σ²/2, σ)): lognormal noise with mean 1.
    public var dailyNoise = 0.30
    /// Rain days a month: each project's climate draws its mean uniformly from this range; a
    /// day rains with probability mean / 30.4375, and a rain day has no output.
    public var rainDaysPerMonth: ClosedRange<Double> = 1...9
    /// The daily probability of a breakdown (no output that day; repair costs): each project
    /// draws its own from this range.
    public var breakdownProbability: ClosedRange<Double> = 0.0...0.08
    /// The daily probability of a material shortage (no output that day).
    public var shortageProbability: ClosedRange<Double> = 0.0...0.05
    /// The probability an activity's start slips, and by how many days at most (uniform).
    public var slipProbability = 0.3
    public var slipDays = 12
    /// The share of projects whose reporting is lax: each week's entries are skipped with
    /// `skipWeekProbability` (and the quantity is reported with the next week's).
    public var laxReporterShare = 0.25
    public var skipWeekProbability = 0.5
    /// Activities per project (in sequence: each starts after the one before finishes).
    public var activities: ClosedRange<Int> = 3...5
    /// Crews per activity.
    public var crews: ClosedRange<Int> = 1...3
    /// Planned quantity of an activity, in crew-days of planned output.
    public var crewDays: ClosedRange<Int> = 20...45

    public init() {}
}

/// What ``HistoryGenerator/generate(into:projects:seed:start:months:parameters:)`` wrote.
public struct HistorySummary: Sendable, Equatable {
    public var projects = 0
    public var completed = 0
    public var late = 0
    public var records = 0
}

/// Writes realistic project histories into a node through its ordinary write path, so the
/// forecasts, the delay model and its evaluation run on data the software itself holds.
///
/// Each project is a chain of `units` activities (earthworks, base, paving, …) simulated day by
/// day from the history's start: a day rains, breaks down or runs short of material with the
/// project's own probabilities (no output then), and otherwise the crews install planned rate ×
/// the project's productivity factor × lognormal noise. An activity starts on its planned start
/// (plus a slip) or the day after the one before it finishes, whichever is later, and is
/// `completed` with its `actual_finish` when its quantity is installed. Quantities and costs are
/// reported weekly (lax reporters skip weeks), each notable day gets a daily log in Chinese or
/// English that the tag list recognises, and each project gets risks and monthly KPI readings.
/// Nothing after the history's end is written: projects still running then stay in progress.
///
/// Every record goes through ``Node/upsert(_:id:_:planner:in:)`` — the function behind
/// `sitesync entry` and the API's writes — one transaction per project. Ids are made from the
/// seed, and a project already there is skipped, so generating the same history again changes
/// nothing.
public enum HistoryGenerator {
    /// The department the generated projects belong to.
    public static let department = "history"

    public static func generate(into node: Node, projects count: Int, seed: UInt64, start: CalendarDate, months: Int,
                                parameters: HistoryParameters = HistoryParameters()) throws -> HistorySummary {
        guard count > 0, months > 0 else {
            throw NodeError(.usage, "give at least one project (--projects) over at least one month (--months)")
        }
        let end = start.adding(days: Int((Double(months) * 30.4375).rounded()))
        let planner = node.planner
        var summary = HistorySummary()
        try node.store.writeLocally { session in
            _ = try Node.upsert("department", id: department, ["name=Generated history"], planner: planner, in: session)
        }
        for index in 1...count {
            var random = Draws(seed: SplitMix64.streamSeed(seed, "project \(index)"))
            let project = ProjectHistory.simulate(index: index, seed: seed, start: start, end: end, parameters: parameters, random: &random)
            // Entries are append-only: a project generated before is left as it is.
            let exists = try node.store.rows([("SELECT 1 FROM project WHERE id = ?1", [project.records[0].1 ?? ""])])[0].isEmpty == false
            if !exists {
                try node.store.writeLocally { session in
                    for (collection, id, fields) in project.records {
                        _ = try Node.upsert(collection, id: id, fields, planner: planner, in: session)
                    }
                }
                summary.records += project.records.count
            }
            summary.projects += 1
            if let finish = project.actualFinish {
                summary.completed += 1
                if finish > project.plannedFinish { summary.late += 1 }
            }
        }
        return summary
    }
}

/// Uniform, normal and lognormal draws from one SplitMix64 stream.
struct Draws {
    var stream: SplitMix64
    init(seed: UInt64) { stream = SplitMix64(seed: seed) }

    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(stream.next() >> 11) / Double(1 << 53) }
    mutating func chance(_ p: Double) -> Bool { uniform() < p }
    mutating func uniform(_ range: ClosedRange<Double>) -> Double { range.lowerBound + (range.upperBound - range.lowerBound) * uniform() }
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(stream.next() % UInt64(range.count)) }
    /// A standard normal draw (Box–Muller; one of the pair is used).
    mutating func normal() -> Double {
        let u = max(uniform(), 1e-300), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}

/// One generated project: its records in write order, and how it ended.
struct ProjectHistory {
    var records: [(String, String?, [String])] = []
    var plannedFinish: CalendarDate
    var actualFinish: CalendarDate?

    static let activityNames = [("Earthworks", "m3"), ("Drainage", "m"), ("Sub-base", "m3"), ("Base course", "m2"), ("Paving", "m2"),
                                ("Kerbs", "m"), ("Markings", "m")]
    static let unitCost = 120.0

    /// Phrases by event and language; each is recognised by ``DailyLogTags/standard``.
    static let phrases: [String: (zh: [String], en: [String])] = [
        "rain": (["大雨，全天停工", "下雨，无法施工", "暴雨，现场积水"], ["Heavy rain, no work", "Rained all day", "Downpour, site flooded"]),
        "breakdown": (["挖掘机故障，维修中", "压路机损坏"], ["Excavator breakdown, under repair", "Roller broke down"]),
        "shortage": (["缺料，等待供应", "待料停工"], ["Material shortage, waiting for delivery", "Waiting for material"]),
        "inspection": (["监理检查", "质量验收"], ["Inspection by the supervisor", "Quality inspection passed"]),
        "normal": (["正常施工", "按计划推进"], ["Work as planned", "Normal progress"]),
    ]

    static func simulate(index: Int, seed: UInt64, start: CalendarDate, end: CalendarDate, parameters p: HistoryParameters,
                         random: inout Draws) -> ProjectHistory {
        let id = "h\(seed % 100_000)-\(index)", code = String(format: "H-%03d", index)
        let chinese = random.chance(0.5)
        let factor = exp(p.productivityMean + p.productivitySpread * random.normal())
        let rainPerDay = random.uniform(p.rainDaysPerMonth) / 30.4375
        let breakdown = random.uniform(p.breakdownProbability), shortage = random.uniform(p.shortageProbability)
        let lax = random.chance(p.laxReporterShare)
        // The plan: activities in sequence.
        let count = random.int(p.activities)
        let span = end.daysSinceEpoch - start.daysSinceEpoch
        var plans: [(name: String, unit: String, quantity: Double, crews: Int, start: CalendarDate, finish: CalendarDate)] = []
        var day = start.adding(days: random.int(0...max(0, span * 17 / 20)))
        for n in 0..<count {
            let (name, unit) = activityNames[n % activityNames.count]
            let crews = random.int(p.crews)
            let quantity = Double(random.int(p.crewDays) * crews) * p.plannedRatePerCrew
            let days = Int((quantity / (Double(crews) * p.plannedRatePerCrew) * p.planAllowance).rounded(.up))
            plans.append((name, unit, quantity, crews, day, day.adding(days: days - 1)))
            day = day.adding(days: days)
        }
        let plannedStart = plans[0].start, plannedFinish = plans[plans.count - 1].finish
        var history = ProjectHistory(plannedFinish: plannedFinish)
        let budget = plans.reduce(0) { $0 + $1.quantity * unitCost }
        history.records.append(("project", id, ["code=\(code)", "name=Generated road \(index)", "department=\(HistoryGenerator.department)",
                                                "budget=\(money(budget))", "planned_start=\(plannedStart)", "planned_finish=\(plannedFinish)"]))
        for (n, plan) in plans.enumerated() {
            history.records.append(("activity", "\(id)-a\(n + 1)", [
                "project=\(id)", "name=\(plan.name)", "budget=\(money(plan.quantity * unitCost))", "budget_quantity=\(plan.quantity)",
                "unit=\(plan.unit)", "ev_method=units", "planned_start=\(plan.start)", "planned_finish=\(plan.finish)"]))
        }
        // Risks: their scores rise with how hard the project is (slow crews, breakdowns), with noise.
        let slowness: Double = -Foundation.log(factor) * 5
        let difficulty: Double = slowness + breakdown * 25 + shortage * 20
        for r in 1...random.int(1...3) {
            let probability = min(5, max(1, Int((2 + difficulty + random.normal()).rounded())))
            let impact = min(5, max(1, Int((2.5 + difficulty / 2 + random.normal()).rounded())))
            history.records.append(("risk", "\(id)-r\(r)", ["project=\(id)", "title=\(["Utility diversion", "Land acquisition", "Supplier delay"][r - 1])",
                                                             "probability=\(probability)", "impact=\(impact)", "raised_on=\(plannedStart)"]))
        }
        // Day by day.
        var weekQuantity: [Int: Double] = [:], weekCost: [Int: Double] = [:]
        var entry = 0
        func note(_ date: CalendarDate, _ event: String, weather: String? = nil) {
            let choices = chinese ? phrases[event]!.zh : phrases[event]!.en
            var fields = ["project=\(id)", "date=\(date)", "summary=\(choices[random.int(0...(choices.count - 1))])"]
            if let weather { fields.append("weather=\(weather)") }
            history.records.append(("daily_log", nil, fields))
        }
        func report(_ date: CalendarDate, force: Bool) {
            if !force && lax && random.chance(p.skipWeekProbability) { return }
            for (n, quantity) in weekQuantity.sorted(by: { $0.key < $1.key }) where quantity > 0 {
                entry += 1
                history.records.append(("quantity_entry", "\(id)-q\(entry)", ["activity=\(id)-a\(n + 1)", "date=\(date)", "quantity=\(String(format: "%.1f", quantity))"]))
                history.records.append(("cost_entry", "\(id)-c\(entry)", ["activity=\(id)-a\(n + 1)", "date=\(date)", "amount=\(money(weekCost[n] ?? 0))"]))
            }
            weekQuantity = [:]
            weekCost = [:]
        }
        var current = 0, installed = 0.0, activityStart: CalendarDate?
        var earliest = plans[0].start.adding(days: random.chance(p.slipProbability) ? random.int(1...p.slipDays) : 0)
        day = plans[0].start
        var lastReading = ""
        while day <= end && current < plans.count {
            let plan = plans[current]
            if activityStart == nil && day >= earliest {
                activityStart = day
                history.records.append(("activity", "\(id)-a\(current + 1)", ["status=in_progress", "actual_start=\(day)"]))
            }
            if activityStart != nil {
                if random.chance(rainPerDay) {
                    note(day, "rain", weather: chinese ? "雨" : "rain")
                } else if random.chance(breakdown) {
                    note(day, "breakdown")
                    weekCost[current, default: 0] += 2000
                } else if random.chance(shortage) {
                    note(day, "shortage")
                } else {
                    let sigma = p.dailyNoise
                    let output = Double(plan.crews) * p.plannedRatePerCrew * factor * exp(-sigma * sigma / 2 + sigma * random.normal())
                    let done = min(output, plan.quantity - installed)
                    installed += done
                    weekQuantity[current, default: 0] += done
                    weekCost[current, default: 0] += done * unitCost * (1 + 0.1 * random.normal())
                    if random.chance(0.05) { note(day, "inspection") }
                }
                if installed >= plan.quantity - 1e-6 {
                    report(day, force: true)
                    history.records.append(("activity", "\(id)-a\(current + 1)", ["status=completed", "actual_finish=\(day)"]))
                    current += 1
                    installed = 0
                    activityStart = nil
                    if current < plans.count {
                        let slip = random.chance(p.slipProbability) ? random.int(1...p.slipDays) : 0
                        earliest = max(plans[current].start.adding(days: slip), day.adding(days: 1))
                    } else {
                        history.actualFinish = day
                    }
                }
            }
            if Forecast.monday(of: day).adding(days: 6) == day {
                report(day, force: false)
                note(day, "normal", weather: chinese ? "晴" : "sunny")
            }
            // KPI readings at each month end while the project runs.
            let month = String(day.description.prefix(7))
            if day >= plannedStart && day.adding(days: 1).description.hasSuffix("-01") && month != lastReading {
                lastReading = month
                kpiReadings(id, month: month, factor: factor, breakdown: breakdown, random: &random, into: &history)
            }
            day = day.adding(days: 1)
        }
        if current < plans.count { report(end, force: true) }
        if history.actualFinish != nil {
            for r in 1...3 where history.records.contains(where: { $0.0 == "risk" && $0.1 == "\(id)-r\(r)" }) {
                history.records.append(("risk", "\(id)-r\(r)", ["status=closed", "closed_on=\(history.actualFinish!)"]))
            }
        }
        return history
    }

    /// Three KPIs per project (defined with its first reading) read monthly: a pass rate that
    /// follows productivity, lost-time accidents that follow breakdowns, and local hires, noise.
    static func kpiReadings(_ project: String, month: String, factor: Double, breakdown: Double, random: inout Draws,
                            into history: inout ProjectHistory) {
        let kpis = [("k1", "Pass rate", "%", "higher_better", "90", "98", min(100, max(0, 92 + 30 * (factor - 0.95) + random.normal()))),
                    ("k2", "Lost-time accidents", "count", "lower_better", "4", "0", max(0, (breakdown * 40 + random.normal()).rounded())),
                    ("k3", "Local hires", "people", "higher_better", "0", "30", max(0, (20 + 5 * random.normal()).rounded()))]
        for (key, name, unit, direction, baseline, target, value) in kpis {
            let id = "\(project)-\(key)"
            if !history.records.contains(where: { $0.0 == "kpi" && $0.1 == id }) {
                history.records.append(("kpi", id, ["project=\(project)", "name=\(name)", "unit=\(unit)", "direction=\(direction)",
                                                    "baseline=\(baseline)", "target=\(target)", "weight=1"]))
            }
            history.records.append(("kpi_reading", nil, ["kpi=\(id)", "period=\(month)", "value=\(String(format: "%.1f", value))"]))
        }
    }

    static func money(_ value: Double) -> String { String(format: "%.2f", value) }
}
