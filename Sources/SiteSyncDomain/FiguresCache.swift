import Foundation
import Synchronization
import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// The figures of a node as of one date, computed once: every project's assessment and the
/// roll-ups, with what a reader asks of them (``city(_:)``, ``departments(_:)``,
/// ``projects(_:filter:limit:offset:)``, ``warnings(_:)``) cut to its scope on the way out.
public final class FiguresSnapshot: Sendable {
    public let asOf: CalendarDate
    /// Changes whenever the data changed (and differs between two runs of a server): an ETag
    /// for what is served from this snapshot, together with the date and the scope.
    public let generation: UInt64
    /// Every project held, in code order (closed and archived ones included).
    public let assessments: [ProjectAssessment]
    /// One roll-up per department of the projects under way, then the city's (department "").
    public let rollUps: [RollUp]
    /// Each project as `report projects --format json` prints it, in the order of ``assessments``.
    let projectObjects: [JSONValue]
    let projectIndex: [String: Int]

    /// Each project's part (assessment, JSON object, remembered planned values), in the order of
    /// ``assessments``: what the next snapshot reuses of the projects no change touched.
    let parts: [ProjectPart]
    /// The S-curve of the projects under way, by department and for the city (""): PV, EV and
    /// AC at each of ``curvePoints(_:)``; `nil` when the parts were made without their curves.
    let curves: [String: [EarnedValueFigures]]?

    /// The snapshot of these projects' parts: the roll-ups are computed from them, each
    /// project's planned values taken from (and kept in) its part.
    init(asOf: CalendarDate, generation: UInt64, parts: [ProjectPart], thresholds: Thresholds) throws {
        self.asOf = asOf
        self.generation = generation
        self.parts = parts
        assessments = parts.map(\.assessment)
        let open = parts.filter { !$0.assessment.project.isClosed }
        rollUps = try Reports.computing(asOf: asOf) {
            try RollUp.byDepartment(open.map(\.assessment), asOf: asOf, thresholds: thresholds) {
                (index, date) throws(ExactDecimal.Overflow) -> ExactDecimal in
                try open[index].plannedValues.value(of: open[index].assessment.project, at: date)
            }
        }
        curves = try Reports.computing(asOf: asOf) { try Self.curves(of: open, points: Self.curvePoints(asOf).count) }
        projectObjects = parts.map(\.json)
        var index: [String: Int] = [:]
        for (position, row) in assessments.enumerated() {
            index[row.project.id] = position
            index[row.project.code.lowercased()] = index[row.project.code.lowercased()] ?? position
        }
        projectIndex = index
    }

    /// The same figures under a newer generation: the data changed, but not what they are
    /// computed from (sync bookkeeping, a peer's knowledge).
    init(restamping other: FiguresSnapshot, generation: UInt64) {
        asOf = other.asOf
        self.generation = generation
        assessments = other.assessments
        rollUps = other.rollUps
        projectObjects = other.projectObjects
        projectIndex = other.projectIndex
        parts = other.parts
        curves = other.curves
    }

    /// The points of the S-curve of figures as of `asOf`: the end of each month of its year up
    /// to its month, the last one `asOf` itself (the monthly review's curve for that month).
    static func curvePoints(_ asOf: CalendarDate) -> [(month: String, end: CalendarDate)] {
        MonthlyReview.curvePoints(month: Month(String(asOf.description.prefix(7)))!, asOf: asOf)
    }

    /// The curves summed by department and for the city, from the parts of the projects under
    /// way; `nil` when a part has no curve.
    static func curves(of open: [ProjectPart], points: Int) throws(ExactDecimal.Overflow) -> [String: [EarnedValueFigures]]? {
        guard open.allSatisfy({ $0.curve.count == points }) else { return nil }
        var sums: [String: [EarnedValueFigures]] = ["": Array(repeating: EarnedValueFigures(), count: points)]
        for part in open {
            let department = part.assessment.project.department
            var row = sums[department] ?? Array(repeating: EarnedValueFigures(), count: points)
            var city = sums[""]!
            for point in 0..<points {
                row[point] = try row[point].plus(part.curve[point])
                city[point] = try city[point].plus(part.curve[point])
            }
            sums[department] = row
            sums[""] = city
        }
        return sums
    }

    /// Computes the figures of `node` as of `asOf`, from everything.
    static func compute(_ node: Node, asOf: CalendarDate, generation: UInt64) throws -> FiguresSnapshot {
        let thresholds = node.configuration.report
        let inputs = try node.store.reading { reader in
            try Reports.computing(asOf: asOf) { try ProjectData.load(reader, asOf: asOf, curveDates: curvePoints(asOf).map(\.end)) }
        }
        return try FiguresSnapshot(asOf: asOf, generation: generation, parts: ProjectPart.assessing(inputs, asOf: asOf, thresholds: thresholds),
                                   thresholds: thresholds)
    }

    /// The assessment of the project with this id or code (code case-insensitive), if in scope.
    public func assessment(_ text: String, scope: ReadScope) -> ProjectAssessment? {
        guard let position = projectIndex[text] ?? projectIndex[text.lowercased()] else { return nil }
        let row = assessments[position]
        return scope.includes(row.project) ? row : nil
    }

    // MARK: - What a reader asks

    /// The headline figures: the city's row of the department roll-up, or for a department
    /// scope that department's (zeros when it has no project under way), with the date and
    /// how many departments have projects under way.
    public func city(_ scope: ReadScope) -> JSONValue {
        let row: RollUp
        let departments: Int
        if let department = scope.department {
            row = rollUps.first { $0.department == department } ?? Self.empty(asOf: asOf)
            departments = row.projects > 0 ? 1 : 0
        } else {
            row = rollUps.last!
            departments = rollUps.count - 1
        }
        var object = ReportText.departmentJSON(row)
        object["department"] = scope.department.map(JSONValue.string) ?? .null
        object["as_of"] = .string(asOf.description)
        object["departments"] = .int(Int64(departments))
        return .object(object)
    }

    /// A department with no project under way: zero figures (``city(_:)`` names it).
    static func empty(asOf: CalendarDate) -> RollUp {
        // The roll-up of nothing cannot overflow.
        try! RollUp.byDepartment([], asOf: asOf).last!
    }

    /// The S-curve of the projects under way in `scope` (the city's, or the department's), as
    /// the monthly review of this month has it; `nil` when not computed with the snapshot.
    public func curve(_ scope: ReadScope) -> [(month: String, figures: EarnedValueFigures)]? {
        guard let curves else { return nil }
        let points = Self.curvePoints(asOf)
        let sums = curves[scope.department ?? ""] ?? Array(repeating: EarnedValueFigures(), count: points.count)
        return zip(points, sums).map { ($0.month, $1) }
    }

    /// ``curve(_:)`` as the monthly review's JSON has it.
    public func curveJSON(_ scope: ReadScope) -> [JSONValue]? {
        curve(scope)?.map { ReviewFigures.CurvePoint(month: $0.month, figures: $0.figures).json }
    }

    /// The roll-ups of `scope`'s projects under way, the monthly review's league: every
    /// department's then the city's; for a department its own, then the same projects'
    /// total as the last row (computed here, with the projects' remembered planned values).
    func rollUps(_ scope: ReadScope, thresholds: Thresholds) throws -> [RollUp] {
        guard let department = scope.department else { return rollUps }
        let open = parts.filter { !$0.assessment.project.isClosed && $0.assessment.project.department == department }
        return try Reports.computing(asOf: asOf) {
            try RollUp.byDepartment(open.map(\.assessment), asOf: asOf, thresholds: thresholds) {
                (index, date) throws(ExactDecimal.Overflow) -> ExactDecimal in
                try open[index].plannedValues.value(of: open[index].assessment.project, at: date)
            }
        }
    }

    /// One object per department, as `report departments --format json` prints them: for the
    /// city every department then the city's row (department ""); for a department scope its
    /// row only (the city's totals hold other departments' figures).
    public func departments(_ scope: ReadScope) -> JSONValue {
        let rows = scope.department.map { department in rollUps.dropLast().filter { $0.department == department } } ?? rollUps
        return .array(rows.map { .object(ReportText.departmentJSON($0)) })
    }

    /// A page of projects in code order, each as `report projects --format json` prints it:
    /// `{total, limit, offset, items}`, `total` counting every project that passes the scope
    /// and the filter.
    /// `by_stage` counts every project matching the filters (not only the page's) by its stage
    /// gate, as `report projects` does in its "by stage" line (docs/design.md §14).
    public func projects(_ scope: ReadScope, filter: ProjectFilter = .none, limit: Int = 100, offset: Int = 0) -> JSONValue {
        var total = 0
        var items: [JSONValue] = []
        var byStage: [String: Int64] = [:]
        let (limit, offset) = (max(0, limit), max(0, offset))
        for (position, row) in assessments.enumerated()
        where scope.includes(row.project) && filter.matches(row) {
            if total >= offset && items.count < limit { items.append(projectObjects[position]) }
            total += 1
            byStage[row.project.stage ?? "initiation", default: 0] += 1
        }
        return .object(["total": .int(Int64(total)), "limit": .int(Int64(limit)), "offset": .int(Int64(offset)),
                        "items": .array(items), "as_of": .string(asOf.description),
                        "by_stage": .object(byStage.mapValues { .int($0) })])
    }

    /// The early warnings of the projects under way (those the roll-ups count), project by
    /// project in code order, each red first.
    public func warnings(_ scope: ReadScope) -> JSONValue {
        .array(warnings(scope, limit: Int.max).items)
    }

    /// The first `limit` of ``warnings(_:)``, and how many there are in all.
    public func warnings(_ scope: ReadScope, limit: Int) -> (items: [JSONValue], total: Int) {
        var items: [JSONValue] = []
        var total = 0
        for part in parts where !part.assessment.project.isClosed && scope.includes(part.assessment.project) {
            total += part.warnings.count
            if items.count < limit { items += part.warnings.prefix(limit - items.count) }
        }
        return (items, total)
    }

    /// The projects under way in `scope` graded `grade`, as ``projects(_:filter:limit:offset:)``
    /// gives each: the best scores first (or the worst, for the 黑榜), equal scores in code
    /// order; the first `limit`, and how many there are in all.
    public func graded(_ scope: ReadScope, grade: Grade, bestFirst: Bool, limit: Int) -> (items: [JSONValue], total: Int) {
        let positions = assessments.indices.filter { position in
            let row = assessments[position]
            return !row.project.isClosed && row.grade == grade && scope.includes(row.project)
        }
        let ranked = positions.sorted { a, b in
            let (x, y) = (assessments[a].score ?? 0, assessments[b].score ?? 0)
            return x != y ? (bestFirst ? x > y : x < y) : a < b
        }
        return (ranked.prefix(limit).map { projectObjects[$0] }, ranked.count)
    }
}

/// A node's figures, served from snapshots: each computed once per date and reused while the
/// database has not changed. An HTTP server calls ``refreshIfChanged()`` every ~250 ms from a
/// background task, so today's figures are recomputed there and a request seldom waits; other
/// dates are computed on demand and kept in a small least-recently-used list.
///
/// Change is detected with ``ChangeWatch`` (SQLite's `data_version` on a connection of the
/// cache's own): any commit, by this process or another (a `sitesync` command beside the
/// server), bumps the generation.
///
/// Today's figures are refreshed incrementally: the change log (every local write and every
/// change applied gets an entry) tells which records changed since they were computed, those
/// records tell which projects they touch (``TouchedProjects``), and only those projects are
/// reloaded and reassessed, in one database snapshot with the log's position; the roll-ups are
/// then summed over every project's part, with the planned values of untouched projects
/// remembered (``PlannedValueMemo``). A commit that logged no change (sync bookkeeping) costs
/// no computation at all. What the log cannot tell — entries removed or replaced (compaction,
/// a new epoch, a state transfer), a change withheld or retracted, a record not under a project,
/// a deleted entry — is recomputed from everything, as is everything every
/// ``fullRecomputeInterval`` while changes arrive, and other dates than today.
public final class FiguresCache: Sendable {
    public let node: Node
    /// How many dates are kept (today's counts as one).
    public let capacity: Int
    let watch: ChangeWatch
    let today: @Sendable () -> CalendarDate
    /// How long after the last ``refreshIfChanged()`` a request for today takes the latest
    /// computed snapshot instead of computing: the background task is then alive and will
    /// replace it.
    let refresherTimeout: Double
    /// How long incremental refreshes may follow one another before today's figures are
    /// computed from everything again: a bound on any drift from a path the log does not show.
    let fullRecomputeInterval: Double = 300
    /// Beyond this many changes or touched projects, one computation of everything is cheaper.
    static let incrementalLimits = (changes: 50_000, projects: 1_000)

    struct State {
        var seenVersion: Int64
        var generation: UInt64
        /// Most recently used last.
        var snapshots: [FiguresSnapshot] = []
        var lastRefresh: Double?
        /// A refresh is computing now (it may take longer than ``refresherTimeout``).
        var refreshing = false
        /// Snapshots computed (from everything or incrementally).
        var computations = 0
        /// Snapshots computed from everything.
        var fullComputations = 0
        /// Projects assessed, over every computation.
        var reassessments = 0
    }

    private let state: Mutex<State>
    /// One computation at a time: many requests for a date not held wait for one result. It
    /// guards what today's next refresh starts from.
    private let computing = Mutex<FiguresBase?>(nil)

    /// - Parameters:
    ///   - capacity: how many dates to keep (at least 1).
    ///   - today: the date a request without one means (UTC, the node's reports' convention).
    public init(node: Node, capacity: Int = 4,
                today: @escaping @Sendable () -> CalendarDate = { CalendarDate(unixMilliseconds: StoreOptions.systemClock()) }) throws {
        self.node = node
        self.capacity = max(1, capacity)
        self.today = today
        refresherTimeout = 1.0
        watch = try node.store.changeWatch()
        // Generations start at the clock, so a restarted server does not reissue an old one
        // for other data.
        state = Mutex(State(seenVersion: try watch.version(), generation: StoreOptions.systemClock()))
    }

    /// The current generation, after looking for a change.
    public func generation() throws -> UInt64 {
        let version = try watch.version()
        return state.withLock { state in
            if version != state.seenVersion {
                state.seenVersion = version
                state.generation += 1
            }
            return state.generation
        }
    }

    /// How many snapshots were computed so far (for tests and the server's metrics).
    public var computations: Int { state.withLock { $0.computations } }
    /// How many of them were computed from everything.
    var fullComputations: Int { state.withLock { $0.fullComputations } }
    /// How many projects were assessed so far, over all computations.
    var reassessments: Int { state.withLock { $0.reassessments } }

    /// The figures as of `asOf`: the held snapshot when nothing changed since it was computed;
    /// for today, while the background refresh runs, the latest computed one (at most one
    /// refresh behind); otherwise computed now.
    public func snapshot(asOf: CalendarDate) throws -> FiguresSnapshot {
        let generation = try generation()
        let isToday = asOf == today()
        if let held = held(asOf, generation: generation, acceptStale: isToday && refresherAlive()) { return held }
        return try compute(asOf).snapshot
    }

    /// Recomputes today's figures if the data changed since they were computed (or the day
    /// turned); call it every ~250 ms from a background task.
    /// - Returns: whether it recomputed (a change that touched no figure recomputes nothing).
    @discardableResult
    public func refreshIfChanged() throws -> Bool {
        state.withLock { state in
            state.lastRefresh = Self.clock()
            state.refreshing = true
        }
        defer {
            state.withLock { state in
                state.lastRefresh = Self.clock()
                state.refreshing = false
            }
        }
        let generation = try generation()
        if held(today(), generation: generation, acceptStale: false) != nil { return false }
        return try compute(today()).recomputed
    }

    /// Whether a background refresh is computing, or ran lately.
    private func refresherAlive() -> Bool {
        state.withLock { state in state.refreshing || state.lastRefresh.map { Self.clock() - $0 < refresherTimeout } ?? false }
    }

    /// The held snapshot of `asOf` if it is of `generation` (or any, with `acceptStale`),
    /// marked as most recently used.
    private func held(_ asOf: CalendarDate, generation: UInt64, acceptStale: Bool) -> FiguresSnapshot? {
        state.withLock { state in
            guard let index = state.snapshots.lastIndex(where: { $0.asOf == asOf }) else { return nil }
            let snapshot = state.snapshots[index]
            guard acceptStale || snapshot.generation == generation else { return nil }
            state.snapshots.remove(at: index)
            state.snapshots.append(snapshot)
            return snapshot
        }
    }

    /// Computes the figures as of `asOf` and keeps them: today's incrementally from the last
    /// ones when the log tells what changed, otherwise from everything. The generation is read
    /// before the data, so a change that lands during the computation makes the snapshot stale
    /// at once, never unnoticed.
    /// - Returns: the snapshot, and whether anything was computed (not when only the
    ///   generation moved).
    private func compute(_ asOf: CalendarDate) throws -> (snapshot: FiguresSnapshot, recomputed: Bool) {
        try computing.withLock { base in
            let generation = try generation()
            if let held = held(asOf, generation: generation, acceptStale: false) { return (held, false) }
            let outcome: (snapshot: FiguresSnapshot, assessed: Int?)
            if asOf == today() {
                if let current = base, current.asOf == asOf, Self.clock() - current.fullAt < fullRecomputeInterval,
                   let refreshed = try refresh(current, generation: generation) {
                    base = refreshed.base
                    outcome = (refreshed.base.snapshot, refreshed.assessed)
                } else {
                    let computed = try computeEverything(asOf, generation: generation)
                    base = computed
                    outcome = (computed.snapshot, computed.parts.count)
                }
            } else {
                let computed = try computeEverything(asOf, generation: generation)
                outcome = (computed.snapshot, computed.parts.count)
            }
            state.withLock { state in
                if let assessed = outcome.assessed {
                    state.computations += 1
                    state.reassessments += assessed
                }
                state.snapshots.removeAll { $0.asOf == asOf }
                state.snapshots.append(outcome.snapshot)
                if state.snapshots.count > capacity { state.snapshots.removeFirst(state.snapshots.count - capacity) }
            }
            return (outcome.snapshot, outcome.assessed != nil)
        }
    }

    /// Every project loaded and assessed, in one database snapshot with the log's position.
    private func computeEverything(_ asOf: CalendarDate, generation: UInt64) throws -> FiguresBase {
        let thresholds = node.configuration.report
        let curveDates = FiguresSnapshot.curvePoints(asOf).map(\.end)
        let (position, inputs) = try node.store.reading { reader in
            (try reader.position(), try Reports.computing(asOf: asOf) { try ProjectData.load(reader, asOf: asOf, curveDates: curveDates) })
        }
        let parts = try ProjectPart.assessing(inputs, asOf: asOf, thresholds: thresholds)
        let snapshot = try FiguresSnapshot(asOf: asOf, generation: generation, parts: parts, thresholds: thresholds)
        state.withLock { $0.fullComputations += 1 }
        return FiguresBase(asOf: asOf, snapshot: snapshot, position: position, parts: parts, schema: node.store.schema, fullAt: Self.clock())
    }

    /// Today's figures from `current`, reloading and reassessing only the projects the changes
    /// logged since touch; `nil` when the log cannot tell what changed (then everything is
    /// computed). `assessed` is `nil` when no logged change touched a figure: the snapshot is
    /// the last one under the new generation.
    private func refresh(_ current: FiguresBase, generation: UInt64) throws -> (base: FiguresBase, assessed: Int?)? {
        let asOf = current.asOf, schema = node.store.schema
        let limits = Self.incrementalLimits
        enum Read { case unchanged(LogPosition), reload(LogPosition, [String], [(input: ProjectInput, curve: [EarnedValueFigures])], order: [String]?) }
        let curveDates = FiguresSnapshot.curvePoints(asOf).map(\.end)
        let read: Read? = try node.store.reading { reader in
            let position = try reader.position()
            guard let changes = try reader.changes(since: current.position, limit: limits.changes) else { return nil }
            if changes.isEmpty { return .unchanged(position) }
            guard let touched = try TouchedProjects.find(changes, reader, owners: current.owners, schema: schema),
                  touched.count <= limits.projects else { return nil }
            let ids = touched.sorted()
            let inputs = try Reports.computing(asOf: asOf) { try ProjectData.load(reader, asOf: asOf, projects: ids, curveDates: curveDates) }
            // A project added, removed or given another code changes the order: then SQLite's,
            // as a full load has it.
            let codes = Dictionary(current.parts.map { ($0.id, $0.assessment.project.code) }, uniquingKeysWith: { first, _ in first })
            let order = inputs.count == ids.count && inputs.allSatisfy({ codes[$0.input.id] == $0.input.code })
                ? nil : try reader.rows([("SELECT id FROM project ORDER BY code, id", [])])[0].compactMap { $0[0] }
            return .reload(position, ids, inputs, order: order)
        }
        switch read {
        case nil:
            return nil
        case .unchanged(let position)?:
            var next = current
            next.position = position
            next.snapshot = FiguresSnapshot(restamping: current.snapshot, generation: generation)
            return (next, nil)
        case .reload(let position, let ids, let inputs, let order)?:
            let thresholds = node.configuration.report
            let fresh = try ProjectPart.assessing(inputs, asOf: asOf, thresholds: thresholds)
            var next = current
            next.position = position
            let touched = Set(ids)
            for part in current.parts where touched.contains(part.id) { next.disown(part.assessment.project, schema: schema) }
            for part in fresh { next.own(part.assessment.project, schema: schema) }
            let byID = Dictionary(fresh.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            if let order {
                let kept = Dictionary(current.parts.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                next.parts = order.compactMap { id in touched.contains(id) ? byID[id] : kept[id] }
            } else {
                next.parts = current.parts.map { byID[$0.id] ?? $0 }
            }
            next.snapshot = try FiguresSnapshot(asOf: asOf, generation: generation, parts: next.parts, thresholds: thresholds)
            return (next, fresh.count)
        }
    }

    static func clock() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
