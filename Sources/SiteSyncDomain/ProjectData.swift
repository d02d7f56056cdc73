import SiteSyncCore
import SiteSyncPerformance
import SiteSyncStore

/// Reads what the performance formulas need from a node's typed tables: every project it holds
/// with its activities, field entries, risks and KPIs, as of a cut-off date.
public enum ProjectData {
    /// The cut-offs at which entries are summed: the date itself, and 30 and 60 days before it
    /// (for the slip trend). Each activity's entries are summed up to each cut-off and handed on
    /// as three dated amounts, which give the formulas exactly the sums they need at those dates.
    static func cutOffs(_ asOf: CalendarDate) -> [CalendarDate] { [asOf.adding(days: -60), asOf.adding(days: -30), asOf] }

    /// Every project this store holds, as the formulas take it, as of the end of `asOf`.
    ///
    /// A pure function of the replica's converged state and `asOf`: every query that yields a
    /// list is ordered by a unique key (an id, or a code then the id), because the order of a
    /// list decides the order of what is printed and the order in which `Double` scores are
    /// summed, and SQLite's order without `ORDER BY` follows how the rows arrived. A KPI's
    /// reading is the one of its latest month up to `asOf` (one record per KPI and month; its
    /// value is the schema's merge of concurrent readings).
    ///
    /// Everything counts as of its day: entries and percentages up to `asOf` (a percentage is
    /// the one of its latest day), risks raised by then and closed only if closed by then, an
    /// activity started or finished on its actual dates (``ActivityInput``).
    /// Entries are summed exactly, as integers of billionths, in one pass over each entry table
    /// (``ReplicaStore/entrySums(table:amount:cutOffs:)``: SQLite has no exact decimal sum, its
    /// `total` would add binary doubles); an amount whose sum needs more than 18 significant
    /// digits is refused with ``ExactDecimal/Overflow``, never rounded.
    public static func load(_ store: ReplicaStore, asOf: CalendarDate) throws -> [ProjectInput] {
        try store.reading { try load($0, asOf: asOf) }
    }

    /// ``load(_:asOf:)`` in one snapshot of the store, restricted to the projects with the
    /// given ids when `projects` is set (the figures cache reloads only the projects a change
    /// touched): every query and both entry sums run over those projects' rows only, so each
    /// project comes out exactly as a load of everything gives it.
    public static func load(_ reader: SnapshotReader, asOf: CalendarDate, projects: [String]? = nil) throws -> [ProjectInput] {
        try load(reader, asOf: asOf, projects: projects, curveDates: []).map(\.input)
    }

    /// ``load(_:asOf:projects:)`` with each project's PV, EV and AC at each of `curveDates`
    /// (ascending, none after `asOf`): the S-curve, from the same pass over the entries.
    ///
    /// The entry sums are taken at the curve's dates as well as at the usual cut-offs; the
    /// curve is computed from those fine buckets, and each input handed on has its buckets
    /// merged back (as integers of billionths) into the usual three, so it is exactly the
    /// input ``load(_:asOf:projects:)`` gives. A curve point is exactly what a load as of its
    /// date gives ``ActivityEarnedValue/figuresOf(_:asOf:)``: the PV, EV and AC at a date use
    /// only the plan, the percentages (each dated) and the entries up to it.
    public static func load(_ reader: SnapshotReader, asOf: CalendarDate, projects: [String]? = nil,
                            curveDates: [CalendarDate]) throws -> [(input: ProjectInput, curve: [EarnedValueFigures])] {
        let usual = cutOffs(asOf)
        let cutDates = Array(Set(usual + curveDates.filter { $0 <= asOf })).sorted()
        let day = asOf.description
        /// The restriction of a query to the projects asked for: `column IN (…)`, its
        /// parameters numbered from `first` (after the query's own).
        func only(_ column: String, from first: Int) -> String {
            guard let projects else { return "1" }
            return "\(column) IN (" + (0..<projects.count).map { "?\(first + $0)" }.joined(separator: ", ") + ")"
        }
        let ids = projects ?? []
        let (result, sums) = (
            try reader.rows([
                ("SELECT id, code, name, department, budget, stage FROM project WHERE \(only("id", from: 1)) ORDER BY code, id", ids),
                ("""
                 SELECT id, project, name, budget, budget_quantity, planned_start, planned_finish, ev_method, status,
                        NULL, actual_start, actual_finish, goal FROM activity WHERE \(only("project", from: 1)) ORDER BY id
                 """, ids),
                ("SELECT project, max(date) FROM daily_log WHERE date <= ?1 AND \(only("project", from: 2)) GROUP BY project", [day] + ids),
                ("""
                 SELECT id, project, title, probability, impact, status = 'closed' AND closed_on <= ?1 FROM risk
                 WHERE raised_on <= ?1 AND \(only("project", from: 2)) ORDER BY id
                 """, [day] + ids),
                ("SELECT id, project, name, direction, baseline, target, weight FROM kpi WHERE \(only("project", from: 1)) ORDER BY id", ids),
                ("""
                 SELECT kpi, value FROM kpi_reading WHERE period <= ?1
                 AND \(projects == nil ? "1" : "kpi IN (SELECT id FROM kpi WHERE \(only("project", from: 2)))") ORDER BY kpi, period, id
                 """, [String(day.prefix(7))] + ids),
                ("SELECT id, project, parent, coalesce(title, id), weight FROM goal WHERE \(only("project", from: 1)) ORDER BY id", ids),
                ("""
                 SELECT activity, date, percent FROM percent_entry WHERE date <= ?1 AND activity IS NOT NULL AND percent IS NOT NULL
                 AND \(projects == nil ? "1" : "activity IN (SELECT id FROM activity WHERE \(only("project", from: 2)))") ORDER BY activity, date
                 """, [day] + ids),
            ]),
            try [("quantity_entry", "quantity"), ("cost_entry", "amount")].map { table, amount in
                try reader.entrySums(table: table, amount: amount, cutOffs: cutDates.map(\.description),
                                     restriction: projects.map { _ in ("activity IN (SELECT id FROM activity WHERE \(only("project", from: 2)))", ids) })
            })
        var lastEntry: [String: CalendarDate] = [:]
        var percents: [String: [DatedAmount]] = [:]
        for row in result[7] {
            guard let activity = row[0], let day = date(row[1]), let percent = decimal(row[2]) else { continue }
            percents[activity, default: []].append(DatedAmount(day, percent))
            lastEntry[activity] = max(lastEntry[activity] ?? day, day)
        }
        /// Each activity's entries summed exactly into the buckets of `buckets` (cut-offs among
        /// those summed at, ascending), each dated at its cut-off: the formulas sum the ones up
        /// to a date. A bucket takes every summed bucket after the one before it.
        func amounts(_ sums: [String: ActivityEntrySums], _ what: String, buckets: [CalendarDate]) throws -> [String: [DatedAmount]] {
            var result: [String: [DatedAmount]] = [:]
            for (activity, entry) in sums {
                if let day = date(entry.latest) { lastEntry[activity] = max(lastEntry[activity] ?? day, day) }
                var amounts: [DatedAmount] = []
                var summed = 0
                for cut in buckets {
                    var total: Int128 = 0
                    while summed < cutDates.count && cutDates[summed] <= cut {
                        total += entry.billionths[summed]
                        summed += 1
                    }
                    guard total != 0 else { continue }
                    guard let amount = ExactDecimal(normalizing: total, scale: 9) else {
                        throw ExactDecimal.Overflow(operation: "the \(what) of activity \(activity)")
                    }
                    amounts.append(DatedAmount(cut, amount))
                }
                result[activity] = amounts
            }
            return result
        }
        let (projectRows, activityRows, logRows, riskRows, kpiRows, readingRows, goalRows) =
            (result[0], result[1], result[2], result[3], result[4], result[5], result[6])
        let quantities = try amounts(sums[0], "installed quantities", buckets: usual)
        let costs = try amounts(sums[1], "costs", buckets: usual)
        let fine = curveDates.isEmpty ? nil
            : (quantities: try amounts(sums[0], "installed quantities", buckets: cutDates), costs: try amounts(sums[1], "costs", buckets: cutDates))

        func number(_ text: String?) -> Double? { text.flatMap(Double.init) }
        var goals: [String: [GoalInput]] = [:]
        for row in goalRows {
            guard let id = row[0], let project = row[1] else { continue }
            goals[project, default: []].append(GoalInput(id: id, parent: row[2], title: row[3] ?? id, weight: number(row[4]) ?? 1))
        }
        var activityGoals: [String: [String: String]] = [:]
        var activities: [String: [ActivityInput]] = [:]
        var names: [String: [String: String]] = [:]
        var projectLastEntry: [String: CalendarDate] = [:]
        for row in activityRows {
            guard let id = row[0], let project = row[1] else { continue }
            let activity = ActivityInput(
                id: id, budget: decimal(row[3]) ?? .zero, budgetQuantity: decimal(row[4]), plannedStart: date(row[5]),
                plannedFinish: date(row[6]), method: row[7].flatMap(EarnedValueMethod.init(rawValue:)) ?? .units,
                status: row[8].flatMap(ActivityStatus.init(rawValue:)) ?? .notStarted, percents: percents[id] ?? [],
                actualStart: date(row[10]), actualFinish: date(row[11]), quantities: quantities[id] ?? [], costs: costs[id] ?? [])
            activities[project, default: []].append(activity)
            if let goal = row[12] { activityGoals[project, default: [:]][id] = goal }
            names[project, default: [:]][id] = row[2] ?? id
            if let last = lastEntry[id] { projectLastEntry[project] = max(projectLastEntry[project] ?? last, last) }
        }
        for row in logRows {
            guard let project = row[0], let last = date(row[1]) else { continue }
            projectLastEntry[project] = max(projectLastEntry[project] ?? last, last)
        }
        var risks: [String: [RiskInput]] = [:]
        for row in riskRows {
            guard let id = row[0], let project = row[1] else { continue }
            risks[project, default: []].append(RiskInput(id: id, title: row[2] ?? id, probability: Int(row[3] ?? "") ?? 0,
                                                         impact: Int(row[4] ?? "") ?? 0, closed: row[5] == "1"))
        }
        var latest: [String: Double] = [:]
        for row in readingRows { if let kpi = row[0], let value = number(row[1]) { latest[kpi] = value } }
        var kpis: [String: [KPIInput]] = [:]
        for row in kpiRows {
            guard let id = row[0], let project = row[1], let baseline = number(row[4]), let target = number(row[5]) else { continue }
            kpis[project, default: []].append(KPIInput(
                id: id, name: row[2] ?? id, direction: row[3].flatMap(KPIDirection.init(rawValue:)) ?? .higherBetter,
                baseline: baseline, target: target, weight: number(row[6]) ?? 1, value: latest[id]))
        }
        return try projectRows.compactMap { row -> (input: ProjectInput, curve: [EarnedValueFigures])? in
            guard let id = row[0] else { return nil }
            var project = ProjectInput(id: id, code: row[1] ?? id, name: row[2] ?? "", department: row[3] ?? "",
                                       activities: activities[id] ?? [], activityNames: names[id] ?? [:], risks: risks[id] ?? [],
                                       kpis: kpis[id] ?? [], lastEntry: projectLastEntry[id], goals: goals[id] ?? [],
                                       activityGoals: activityGoals[id] ?? [:])
            project.budget = decimal(row[4])
            project.stage = row[5]
            guard let fine else { return (project, []) }
            var finer = project
            finer.activities = project.activities.map { activity in
                var activity = activity
                activity.quantities = fine.quantities[activity.id] ?? []
                activity.costs = fine.costs[activity.id] ?? []
                return activity
            }
            return (project, try curveDates.map { try ActivityEarnedValue.figuresOf(finer, asOf: $0) })
        }
    }
}

/// A stored date, or `nil`.
func date(_ text: String?) -> CalendarDate? { text.flatMap(CalendarDate.init) }

/// A stored exact decimal (the store writes their canonical text), or `nil`.
func decimal(_ text: String?) -> ExactDecimal? { text.flatMap(ExactDecimal.init) }
