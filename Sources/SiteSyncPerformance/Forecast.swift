import Foundation
import SiteSyncCore

/// What the completion forecast needs of one activity (docs/design.md §17): its plan, its
/// state, and what was reported each calendar week up to the cut-off.
public struct ForecastActivity: Sendable {
    /// What one calendar week (Monday to Sunday) brought: progress in the activity's measure
    /// (installed quantity for `units`, percentage points for `manual`) and costs.
    public struct Week: Sendable, Equatable {
        public var monday: CalendarDate
        public var progress: Double
        public var cost: Double

        public init(monday: CalendarDate, progress: Double, cost: Double) {
            self.monday = monday
            self.progress = progress
            self.cost = cost
        }
    }

    public var id: String
    public var name: String
    public var method: EarnedValueMethod
    public var status: ActivityStatus
    public var plannedStart: CalendarDate?
    public var plannedFinish: CalendarDate?
    public var actualStart: CalendarDate?
    public var actualFinish: CalendarDate?
    public var budget: Double
    public var plannedQuantity: Double?
    /// The weeks with something reported, in order.
    public var weeks: [Week]
    /// The first day progress was reported.
    public var firstProgress: CalendarDate?

    public init(id: String, name: String, method: EarnedValueMethod = .units, status: ActivityStatus = .notStarted,
                plannedStart: CalendarDate? = nil, plannedFinish: CalendarDate? = nil, actualStart: CalendarDate? = nil,
                actualFinish: CalendarDate? = nil, budget: Double = 0, plannedQuantity: Double? = nil, weeks: [Week] = [],
                firstProgress: CalendarDate? = nil) {
        self.id = id
        self.name = name
        self.method = method
        self.status = status
        self.plannedStart = plannedStart
        self.plannedFinish = plannedFinish
        self.actualStart = actualStart
        self.actualFinish = actualFinish
        self.budget = budget
        self.plannedQuantity = plannedQuantity
        self.weeks = weeks
        self.firstProgress = firstProgress
    }

    /// Progress to date, in the activity's measure.
    public var done: Double { weeks.reduce(0) { $0 + $1.progress } }
    /// Costs to date (AC).
    public var actualCost: Double { weeks.reduce(0) { $0 + $1.cost } }
    /// The planned duration in days (inclusive), at least 1.
    public var plannedDays: Int {
        guard let start = plannedStart, let finish = plannedFinish, finish >= start else { return 1 }
        return finish.daysSinceEpoch - start.daysSinceEpoch + 1
    }
}

/// What the forecast needs of one project: its activities and its daily logs' tags.
public struct ForecastProject: Sendable {
    public var id: String
    public var code: String
    public var name: String
    public var activities: [ForecastActivity]
    /// The days (days since 1970-01-01) whose daily log is tagged `rain`, up to the cut-off.
    public var rainDays: Set<Int>
    /// How many days have a daily log, up to the cut-off.
    public var loggedDays: Int
    /// How many daily logs carry each tag.
    public var tagCounts: [String: Int]

    public init(id: String, code: String, name: String, activities: [ForecastActivity], rainDays: Set<Int> = [],
                loggedDays: Int = 0, tagCounts: [String: Int] = [:]) {
        self.id = id
        self.code = code
        self.name = name
        self.activities = activities
        self.rainDays = rainDays
        self.loggedDays = loggedDays
        self.tagCounts = tagCounts
    }

    /// Rain days per month seen in the logs: rain-tagged days over logged days, times the
    /// mean month (30.4375 days); 0 without logs.
    public var observedRainDaysPerMonth: Double {
        loggedDays == 0 ? 0 : Double(rainDays.count) / Double(loggedDays) * Forecast.daysPerMonth
    }
}

/// The simulation's settings.
public struct ForecastSettings: Sendable, Equatable {
    /// The seed when none is given: forecasts printed anywhere with the defaults agree.
    public static let defaultSeed: UInt64 = 20_260_101
    public static let defaultRuns = 10_000

    public var runs: Int
    public var seed: UInt64
    /// The spread (coefficient of variation) assumed where none was measured: a planned rate,
    /// or fewer than two reporting periods.
    public var assumedSpread: Double
    /// The slowest a run may work, as a share of the mean rate: the normal's tail below zero
    /// has no meaning, and an activity that is going at all does not stop for good.
    public var slowest: Double

    public init(runs: Int = ForecastSettings.defaultRuns, seed: UInt64 = ForecastSettings.defaultSeed,
                assumedSpread: Double = 0.25, slowest: Double = 0.1) {
        self.runs = runs
        self.seed = seed
        self.assumedSpread = assumedSpread
        self.slowest = slowest
    }
}

/// Changes to try, applied to the forecast only (`--what-if`): nothing stored changes.
public struct Scenario: Sendable, Equatable {
    /// Each activity's rate multiplied by this (crew +30%: 1.3), by activity id.
    public var crew: [String: Double] = [:]
    /// The day each activity's remaining work starts (not before the day after the cut-off).
    public var start: [String: CalendarDate] = [:]
    /// Rain days per month, in place of those the logs show.
    public var rainDaysPerMonth: Double?

    public init(crew: [String: Double] = [:], start: [String: CalendarDate] = [:], rainDaysPerMonth: Double? = nil) {
        self.crew = crew
        self.start = start
        self.rainDaysPerMonth = rainDaysPerMonth
    }

    public static let none = Scenario()
}

/// P50, P80 and P95 of something.
public struct Percentiles<Value: Sendable & Comparable>: Sendable {
    public var p50: Value
    public var p80: Value
    public var p95: Value

    public init(p50: Value, p80: Value, p95: Value) {
        self.p50 = p50
        self.p80 = p80
        self.p95 = p95
    }

    /// The same percentiles of something derived, value by value.
    public func map<T>(_ transform: (Value) -> T) -> Percentiles<T> {
        Percentiles<T>(p50: transform(p50), p80: transform(p80), p95: transform(p95))
    }
}

/// The percentile levels, as fractions: 0.5, 0.8, 0.95.
public let percentileLevels = [0.5, 0.8, 0.95]

/// One activity's forecast.
public struct ActivityForecast: Sendable {
    /// Where its rate comes from.
    public enum Basis: String, Sendable {
        /// Finished: its dates and costs are facts.
        case finished
        /// From the progress reported, week by week.
        case observed
        /// No progress measured yet (or none measurable by its method): the planned rate.
        case planned
    }

    public var id: String
    public var name: String
    public var basis: Basis
    /// The mean rate per working day and its spread (the standard deviation of a week's rate,
    /// from the reporting periods' rates), in the activity's measure; the number of reporting
    /// periods they come from (a week, or weeks without progress and the week that reported it).
    public var rate: Double
    public var rateSpread: Double
    public var periods: Int
    /// Work left, in the activity's measure.
    public var remaining: Double
    /// The unit in which ``rate`` and ``remaining`` count: the planned quantity's, `%`, or `days`.
    public var measure: String
    public var finish: Percentiles<CalendarDate>
    public var eac: Percentiles<Double>
    public var actualCost: Double
    public var budget: Double
}

/// One project's forecast.
public struct ProjectForecast: Sendable {
    public var id: String
    public var code: String
    public var name: String
    /// `nil` when the project has no activity.
    public var finish: Percentiles<CalendarDate>?
    public var eac: Percentiles<Double>?
    public var budget: Double
    public var actualCost: Double
    public var plannedFinish: CalendarDate?
    /// The rain days per month the forecast used (the logs', or the scenario's).
    public var rainDaysPerMonth: Double
    public var tagCounts: [String: Int]
    public var activities: [ActivityForecast]
}

/// The completion forecasts (docs/design.md §17): each activity's remaining work at the rate it
/// has achieved, with that rate's week-to-week spread, simulated many times; the project
/// finishes when its last activity does and costs what its activities cost.
public enum Forecast {
    public static let daysPerMonth = 30.4375

    /// What an activity's progress counts: installed quantity, percentage points, or planned days.
    /// An enumeration, not text, so that a model holds nothing reference-counted and a run
    /// copies it for free.
    enum Measure: String {
        case units, percent = "%", days
    }

    /// One activity reduced to what a run needs: the remaining work from its first day, its
    /// rate and unit cost with the spreads of their means, or a fixed finish.
    struct Model {
        var basis: ActivityForecast.Basis
        var measure: Measure
        var remaining: Double
        var rate: Double, rateSpread: Double, periods: Int
        /// The spreads of the mean rate and unit cost over the remaining weeks.
        var rateSpreadOfMean: Double, unitCost: Double, unitCostSpreadOfMean: Double
        var actualCost: Double
        /// Days after the cut-off: the first day of the remaining work, or the fixed finish.
        var startOffset: Int
        var fixedFinishOffset: Int?
        var stretch: Double
        var slowest: Double

        /// The finish (days after the cut-off) of a run whose rate is `z` standard deviations
        /// of the mean from the mean.
        @inline(__always)
        func finishOffset(_ z: Double) -> Int {
            if let fixedFinishOffset { return fixedFinishOffset }
            let pace = Swift.max(rate + rateSpreadOfMean * z, rate * slowest)
            let days = Int((stretch * remaining / pace - 1e-9).rounded(.up))
            return startOffset + Swift.max(days, 1) - 1
        }

        /// The final cost of a run whose unit cost is `z` standard deviations of the mean from the mean.
        @inline(__always)
        func eac(_ z: Double) -> Double {
            actualCost + remaining * Swift.max(unitCost + unitCostSpreadOfMean * z, 0)
        }
    }

    /// A ``Model`` as a run computes it, without a branch: its finish is `dayBefore + work /
    /// pace` before rounding up (a fixed finish: no work, the day itself), its cost `actualCost
    /// + remaining × unit cost`.
    struct Step {
        var dayBefore: Double, work: Double, rate: Double, rateSpread: Double, slowest: Double
        var actualCost: Double, remaining: Double, unitCost: Double, unitCostSpread: Double

        init(_ model: Model) {
            if let fixed = model.fixedFinishOffset {
                (dayBefore, work, rate, rateSpread, slowest) = (Double(fixed), 0, 1, 0, 1)
            } else {
                (dayBefore, work) = (Double(model.startOffset - 1), model.stretch * model.remaining)
                (rate, rateSpread, slowest) = (model.rate, model.rateSpreadOfMean, model.rate * model.slowest)
            }
            (actualCost, remaining, unitCost, unitCostSpread) = (model.actualCost, model.remaining, model.unitCost, model.unitCostSpreadOfMean)
        }
    }

    /// The work of a run, arranged so that it does least (the result is the same as drawing
    /// every activity's rate and cost in every run, in distribution):
    ///
    /// - **finishes:** only the activities that can be the last to finish are drawn. Draws
    ///   reach the table's ends, so an activity whose latest possible finish is before another's
    ///   earliest possible finish never decides the project's; `earliest` (that greatest earliest
    ///   finish, and every fixed finish) is where each run's maximum starts.
    /// - **costs:** an activity whose unit cost cannot reach the floor of 0 within the table's
    ///   reach adds `actualCost + remaining × (unitCost + spread × z)`: linear in a normal draw. A
    ///   sum of independent normals is normal with the sum of their variances, so the run draws
    ///   one z for all of them, with spread √Σ (remaining × spread)². The others draw their own.
    ///
    /// Each run first takes one number for the linear costs, then one number per five
    /// activities (every activity's, drawn or not), whose 12-bit slices are the activities'
    /// rate draws in activity order, then one number per five activities in `costing`, for
    /// their cost draws. So every activity keeps its rate draws under any what-if, whichever
    /// activities a what-if makes unable to finish last; and no what-if changes a unit cost, so
    /// none changes which costs are linear.
    struct RunPlan {
        var finishing: [Step] = []
        /// Each finishing step's place among all the activities: the bits it draws.
        var indices: [Int] = []
        var costing: [Step] = []
        var earliest = -Double.infinity
        var fixedCost = 0.0
        var linearSpread = 0.0

        init(_ steps: [Step], lowest: Double, highest: Double) {
            func finish(_ step: Step, _ z: Double) -> Double {
                step.dayBefore + step.work / Swift.max(step.rate + step.rateSpread * z, step.slowest)
            }
            earliest = steps.map { finish($0, highest) }.max() ?? 0
            indices = steps.indices.filter { steps[$0].work > 0 && finish(steps[$0], lowest) > earliest }
            finishing = indices.map { steps[$0] }
            var variance = 0.0
            for step in steps {
                fixedCost += step.actualCost
                if step.unitCost + step.unitCostSpread * lowest >= 0 {
                    fixedCost += step.remaining * step.unitCost
                    variance += (step.remaining * step.unitCostSpread) * (step.remaining * step.unitCostSpread)
                } else {
                    costing.append(step)
                }
            }
            linearSpread = variance.squareRoot()
        }
    }

    /// Each week's working days for an activity: the week's days from `from` to the cut-off,
    /// less the rain days among them (no output is expected on a rain day).
    static func workingDays(of monday: CalendarDate, from: CalendarDate, asOf: CalendarDate, rainDays: Set<Int>) -> Int {
        let first = Swift.max(monday.daysSinceEpoch, from.daysSinceEpoch), last = Swift.min(monday.daysSinceEpoch + 6, asOf.daysSinceEpoch)
        guard first <= last else { return 0 }
        return (first...last).reduce(0) { $0 + (rainDays.contains($1) ? 0 : 1) }
    }

    /// The model of one activity as of the end of `asOf` (docs/design.md §17 gives the rules).
    static func model(_ activity: ForecastActivity, asOf: CalendarDate, rainDays: Set<Int>, rainDaysPerMonth: Double,
                      scenario: Scenario, settings: ForecastSettings) -> Model {
        let cutOff = asOf.daysSinceEpoch
        let actualCost = activity.actualCost
        let stretch = daysPerMonth / (daysPerMonth - Swift.min(rainDaysPerMonth, daysPerMonth - 1))
        var model = Model(basis: .planned, measure: .days, remaining: 0, rate: 1, rateSpread: 0, periods: 0, rateSpreadOfMean: 0,
                          unitCost: 0, unitCostSpreadOfMean: 0, actualCost: actualCost, startOffset: 1, fixedFinishOffset: nil,
                          stretch: stretch, slowest: settings.slowest)
        if activity.status.isFinished {
            model.basis = .finished
            model.fixedFinishOffset = Swift.min(activity.actualFinish?.daysSinceEpoch ?? cutOff, cutOff) - cutOff
            return model
        }
        // The measure: quantity, percentage points, or planned days.
        let total: Double, done: Double
        switch activity.method {
        case .units where (activity.plannedQuantity ?? 0) > 0:
            (total, done, model.measure) = (activity.plannedQuantity!, activity.done, .units)
        case .manual:
            (total, done, model.measure) = (100, activity.done, .percent)
        default:
            let days = Double(activity.plannedDays)
            let started = activity.actualStart.map { $0 <= asOf } ?? false
            let elapsed = activity.plannedStart.map { Double(Swift.max(0, Swift.min(cutOff - $0.daysSinceEpoch + 1, activity.plannedDays))) } ?? 0
            let fraction: Double = switch activity.method {
            case .levelOfEffort: elapsed / days
            case .fiftyFifty: started ? 0.5 : 0
            default: 0
            }
            (total, done) = (days, fraction * days)
        }
        model.remaining = Swift.max(total - done, 0)
        let started = (activity.actualStart.map { $0 <= asOf } ?? false) || done > 0
        let firstDay = started ? cutOff + 1 : Swift.max(activity.plannedStart?.daysSinceEpoch ?? cutOff + 1, cutOff + 1)
        model.startOffset = Swift.max(scenario.start[activity.id]?.daysSinceEpoch ?? firstDay, cutOff + 1) - cutOff
        guard model.remaining > 0 else {
            // All the work is reported done, though the activity is not marked finished: it
            // finishes on the cut-off day.
            model.basis = done > 0 && model.measure != .days ? .observed : .planned
            model.fixedFinishOffset = 0
            return model
        }
        // The rate: observed week by week where progress is measured, else planned.
        let periods = model.measure != .days && done > 0 ? reportingPeriods(activity, asOf: asOf, rainDays: rainDays) : []
        let workedDays = periods.reduce(0) { $0 + $1.days }
        if workedDays > 0 {
            model.basis = .observed
            model.rate = done / Double(workedDays)
            model.periods = periods.count
            // A period of d days has a rate whose variance is a day's over d: the days' variance
            // is Σ d (r − mean)² / (n − 1), and a week's spread that over √7.
            model.rateSpread = periods.count >= 2
                ? (periods.reduce(0) { $0 + Double($1.days) * pow($1.progress / Double($1.days) - model.rate, 2) }
                    / Double(periods.count - 1) / 7).squareRoot()
                : model.rate * settings.assumedSpread
        } else {
            model.basis = .planned
            model.rate = total / Double(activity.plannedDays)
            // Level of effort lasts as planned, by definition; other plans are as uncertain as assumed.
            model.rateSpread = activity.method == .levelOfEffort && model.measure == .days ? 0 : model.rate * settings.assumedSpread
        }
        // The remaining weeks of work at the rate achieved, at least one.
        let remainingWeeks = Swift.max(1, model.remaining / model.rate / 7)
        let costed = periods.filter { $0.progress > 0 }
        if actualCost > 0, done > 0 {
            model.unitCost = actualCost / done
            // Likewise per unit: a period of q units has a unit cost whose variance is a unit's
            // over q; the mean over the R units left has a unit's over R.
            model.unitCostSpreadOfMean = costed.count >= 2
                ? (costed.reduce(0) { $0 + $1.progress * pow($1.cost / $1.progress - model.unitCost, 2) } / Double(costed.count - 1)
                    / model.remaining).squareRoot()
                : model.unitCost * settings.assumedSpread / remainingWeeks.squareRoot()
        } else {
            model.unitCost = activity.budget / total
            model.unitCostSpreadOfMean = model.unitCost * settings.assumedSpread / remainingWeeks.squareRoot()
        }
        let crew = scenario.crew[activity.id] ?? 1
        model.rate *= crew
        model.rateSpread *= crew
        // The mean rate over the remaining weeks, each week like an observed one.
        model.rateSpreadOfMean = model.rateSpread / Swift.max(1, model.remaining / model.rate / 7).squareRoot()
        return model
    }

    /// A stretch of work as reported: its working days, its progress and its costs.
    struct Period: Equatable {
        var days: Int
        var progress: Double
        var cost: Double
    }

    /// The activity's reporting periods from its start (actual, or its first progress) to the
    /// cut-off: calendar weeks, each week without progress merged into the next week with
    /// some (progress entered in a lump, "to date", was made over the weeks before it, not in
    /// its own week); weeks without progress at the end make a last period of none. Each
    /// period's working days leave out the rain days.
    static func reportingPeriods(_ activity: ForecastActivity, asOf: CalendarDate, rainDays: Set<Int>) -> [Period] {
        guard let first = activity.firstProgress ?? activity.weeks.first?.monday else { return [] }
        let from = Swift.min(activity.actualStart ?? first, first)
        let weeks = Dictionary(activity.weeks.map { ($0.monday.daysSinceEpoch, $0) }, uniquingKeysWith: { a, _ in a })
        var periods: [Period] = [], open = Period(days: 0, progress: 0, cost: 0)
        var monday = monday(of: from)
        while monday <= asOf {
            let week = weeks[monday.daysSinceEpoch]
            open.days += workingDays(of: monday, from: from, asOf: asOf, rainDays: rainDays)
            open.progress += week?.progress ?? 0
            open.cost += week?.cost ?? 0
            if open.progress != 0, open.days > 0 {
                periods.append(open)
                open = Period(days: 0, progress: 0, cost: 0)
            }
            monday = monday.adding(days: 7)
        }
        if open.days > 0 { periods.append(open) }
        return periods
    }

    /// Days since the Monday of `date`'s week (1970-01-01 was a Thursday).
    static func mondayIndex(_ date: CalendarDate) -> Int { ((date.daysSinceEpoch + 3) % 7 + 7) % 7 }

    /// The Monday of `date`'s week.
    public static func monday(of date: CalendarDate) -> CalendarDate { date.adding(days: -mondayIndex(date)) }

    /// The forecast of one project as of the end of `asOf`, under `scenario`.
    ///
    /// Each run draws, for every activity in order, one 64-bit number from the project's own
    /// stream (``SplitMix64/streamSeed(_:_:)``): its top 12 bits pick the rate's normal draw,
    /// the next 12 the unit cost's. Finished activities draw too, so the same seed gives every
    /// activity the same draws under any scenario, and a what-if's difference is the change's
    /// alone, not noise.
    public static func project(_ project: ForecastProject, asOf: CalendarDate, scenario: Scenario = .none,
                               settings: ForecastSettings = ForecastSettings()) -> ProjectForecast {
        let rainPerMonth = scenario.rainDaysPerMonth ?? project.observedRainDaysPerMonth
        let models = project.activities.map {
            model($0, asOf: asOf, rainDays: project.rainDays, rainDaysPerMonth: rainPerMonth, scenario: scenario, settings: settings)
        }
        let activities = zip(project.activities, models).map { activity, model in
            summary(activity, model, asOf: asOf)
        }
        var result = ProjectForecast(
            id: project.id, code: project.code, name: project.name, finish: nil, eac: nil,
            budget: project.activities.reduce(0) { $0 + $1.budget }, actualCost: project.activities.reduce(0) { $0 + $1.actualCost },
            plannedFinish: project.activities.compactMap(\.plannedFinish).max(), rainDaysPerMonth: rainPerMonth,
            tagCounts: project.tagCounts, activities: activities)
        guard !models.isEmpty, settings.runs > 0 else { return result }
        let (finishes, costs) = simulate(models, runs: settings.runs, seed: SplitMix64.streamSeed(settings.seed, project.id))
        result.finish = finishes.map { asOf.adding(days: $0) }
        result.eac = costs
        return result
    }

    /// The runs of one project: its finish (days after the cut-off) and final cost at each
    /// percentile level.
    static func simulate(_ models: [Model], runs: Int, seed: UInt64) -> (Percentiles<Int>, Percentiles<Double>) {
        var latest = [Double](repeating: 0, count: runs), costs = [Double](repeating: 0, count: runs)
        let table = Normal.table, bits = UInt64(Normal.tableBits), mask = UInt64((1 << Normal.tableBits) - 1)
        let steps = models.map(Step.init)
        let plan = RunPlan(steps, lowest: table.first!, highest: table.last!)
        // Rate draws for every activity, then cost draws for the costs that are not linear:
        // five 12-bit slices to a 64-bit number.
        let rateWords = (steps.count + 4) / 5
        var words = [UInt64](repeating: 0, count: rateWords + (plan.costing.count + 4) / 5)
        func slice(_ index: Int) -> (word: Int, shift: UInt64) { (index / 5, 64 - bits * UInt64(index % 5 + 1)) }
        let slices = plan.indices.map(slice)
        let costSlices = plan.costing.indices.map { slice(rateWords * 5 + $0) }
        words.withUnsafeMutableBufferPointer { words in
        slices.withUnsafeBufferPointer { slices in
        costSlices.withUnsafeBufferPointer { costSlices in
        plan.finishing.withUnsafeBufferPointer { finishing in
        plan.costing.withUnsafeBufferPointer { costing in
        table.withUnsafeBufferPointer { table in
            var random = SplitMix64(seed: seed)
            for run in 0..<runs {
                // The costs that add linearly: one draw for their sum.
                var cost = plan.fixedCost + plan.linearSpread * table[Int(random.next() >> (64 - bits))]
                for index in 0..<words.count { words[index] = random.next() }
                var finish = plan.earliest
                for index in 0..<finishing.count {
                    let step = finishing[index], slice = slices[index]
                    let z = table[Int((words[slice.word] >> slice.shift) & mask)]
                    finish = Swift.max(finish, step.dayBefore + step.work / Swift.max(step.rate + step.rateSpread * z, step.slowest))
                }
                for index in 0..<costing.count {
                    let step = costing[index], slice = costSlices[index]
                    let z = table[Int((words[slice.word] >> slice.shift) & mask)]
                    cost += step.remaining * Swift.max(step.unitCost + step.unitCostSpread * z, 0)
                }
                latest[run] = finish
                costs[run] = cost
            }
        }
        }
        }
        }
        }
        }
        // ⌈day before + days⌉ = day before + ⌈days⌉: one rounding per run, not per activity.
        var finishes = latest.map { Int(($0 - 1e-9).rounded(.up)) }
        func levels<T: Comparable>(_ values: inout [T]) -> Percentiles<T> {
            values.withUnsafeMutableBufferPointer { values in
                let ranks = percentileLevels.map { rank(of: $0, among: values.count) }
                var from = 0
                for rank in ranks {
                    select(rank, in: values, from: from)
                    from = rank + 1
                }
                return Percentiles(p50: values[ranks[0]], p80: values[ranks[1]], p95: values[ranks[2]])
            }
        }
        return (levels(&finishes), levels(&costs))
    }

    /// The nearest rank of a percentile among `count` runs, from 0: the smallest value with at
    /// least `level` of the runs at or below it is the one at ⌈level × count⌉ − 1 in order.
    static func rank(of level: Double, among count: Int) -> Int {
        Swift.max(0, Int((level * Double(count)).rounded(.up)) - 1)
    }

    /// Puts the value of rank `rank` (in ascending order) at `values[rank]`, the smaller ones
    /// before it and the greater after, looking only at `from…` (Hoare's selection, with the
    /// middle of three as pivot): a percentile without sorting the runs, in time linear in their
    /// number. Used for three ranks in ascending order, each from just past the one before.
    static func select<T: Comparable>(_ rank: Int, in values: UnsafeMutableBufferPointer<T>, from: Int) {
        var low = from, high = values.count - 1
        while low < high {
            let middle = low + (high - low) / 2
            // The median of the first, middle and last as the pivot.
            if values[middle] < values[low] { values.swapAt(middle, low) }
            if values[high] < values[low] { values.swapAt(high, low) }
            if values[high] < values[middle] { values.swapAt(high, middle) }
            let pivot = values[middle]
            var i = low, j = high
            while i <= j {
                while values[i] < pivot { i += 1 }
                while pivot < values[j] { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if rank <= j { high = j } else if rank >= i { low = i } else { return }
        }
    }

    /// An activity's own percentiles: each is a monotone function of one normal draw (a
    /// slower rate, a later finish; a dearer unit, a dearer activity), so its quantiles are
    /// that function at the normal's quantiles, exactly; running the simulation would only add
    /// noise to them.
    static func summary(_ activity: ForecastActivity, _ model: Model, asOf: CalendarDate) -> ActivityForecast {
        let finish = percentileLevels.map { asOf.adding(days: model.finishOffset(Normal.quantile(1 - $0))) }
        let eac = percentileLevels.map { model.eac(Normal.quantile($0)) }
        return ActivityForecast(
            id: activity.id, name: activity.name, basis: model.basis, rate: model.rate, rateSpread: model.rateSpread,
            periods: model.periods, remaining: model.remaining, measure: model.measure.rawValue,
            finish: Percentiles(p50: finish[0], p80: finish[1], p95: finish[2]),
            eac: Percentiles(p50: eac[0], p80: eac[1], p95: eac[2]), actualCost: model.actualCost, budget: activity.budget)
    }
}
