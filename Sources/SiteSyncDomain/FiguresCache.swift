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

    init(asOf: CalendarDate, generation: UInt64, assessments: [ProjectAssessment], thresholds: Thresholds) throws {
        self.asOf = asOf
        self.generation = generation
        self.assessments = assessments
        rollUps = try Reports.computing(asOf: asOf) {
            try RollUp.byDepartment(assessments.filter { !$0.project.isClosed }, asOf: asOf, thresholds: thresholds)
        }
        projectObjects = try Reports.computing(asOf: asOf) { try assessments.map(ReportText.projectJSON) }
        var index: [String: Int] = [:]
        for (position, row) in assessments.enumerated() {
            index[row.project.id] = position
            index[row.project.code.lowercased()] = index[row.project.code.lowercased()] ?? position
        }
        projectIndex = index
    }

    /// Computes the figures of `node` as of `asOf`.
    static func compute(_ node: Node, asOf: CalendarDate, generation: UInt64) throws -> FiguresSnapshot {
        let thresholds = node.configuration.report
        return try FiguresSnapshot(asOf: asOf, generation: generation,
                                   assessments: Reports.assessments(node.store, asOf: asOf, thresholds: thresholds), thresholds: thresholds)
    }

    /// The assessment of the project with this id or code (code case-insensitive), if in scope.
    public func assessment(_ text: String, scope: ReadScope) -> ProjectAssessment? {
        guard let position = projectIndex[text] ?? projectIndex[text.lowercased()] else { return nil }
        let row = assessments[position]
        return scope.includesProject(of: row.project.department) ? row : nil
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
    public func projects(_ scope: ReadScope, filter: ProjectFilter = .none, limit: Int = 100, offset: Int = 0) -> JSONValue {
        var total = 0
        var items: [JSONValue] = []
        let (limit, offset) = (max(0, limit), max(0, offset))
        for (position, row) in assessments.enumerated()
        where scope.includesProject(of: row.project.department) && filter.matches(row) {
            if total >= offset && items.count < limit { items.append(projectObjects[position]) }
            total += 1
        }
        return .object(["total": .int(Int64(total)), "limit": .int(Int64(limit)), "offset": .int(Int64(offset)),
                        "items": .array(items), "as_of": .string(asOf.description)])
    }

    /// The early warnings of the projects under way (those the roll-ups count), project by
    /// project in code order, each red first.
    public func warnings(_ scope: ReadScope) -> JSONValue {
        var out: [JSONValue] = []
        for row in assessments where !row.project.isClosed && scope.includesProject(of: row.project.department) {
            for warning in row.warnings {
                out.append(.object([
                    "project": .string(row.project.id), "code": .string(row.project.code), "department": .string(row.project.department),
                    "id": .string(warning.id), "rule": .string(warning.rule.rawValue), "level": .string(warning.level.rawValue),
                    "subject": .string(warning.subject), "reason": .string(warning.reason),
                ]))
            }
        }
        return .array(out)
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

    struct State {
        var seenVersion: Int64
        var generation: UInt64
        /// Most recently used last.
        var snapshots: [FiguresSnapshot] = []
        var lastRefresh: Double?
        /// A refresh is computing now (it may take longer than ``refresherTimeout``).
        var refreshing = false
        var computations = 0
    }

    private let state: Mutex<State>
    /// One computation at a time: many requests for a date not held wait for one result.
    private let computing = Mutex(())

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

    /// The figures as of `asOf`: the held snapshot when nothing changed since it was computed;
    /// for today, while the background refresh runs, the latest computed one (at most one
    /// refresh behind); otherwise computed now.
    public func snapshot(asOf: CalendarDate) throws -> FiguresSnapshot {
        let generation = try generation()
        let isToday = asOf == today()
        if let held = held(asOf, generation: generation, acceptStale: isToday && refresherAlive()) { return held }
        return try compute(asOf)
    }

    /// Recomputes today's figures if the data changed since they were computed (or the day
    /// turned); call it every ~250 ms from a background task.
    /// - Returns: whether it recomputed.
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
        _ = try compute(today())
        return true
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

    /// Computes the figures as of `asOf` and keeps them. The generation is read before the
    /// data, so a change that lands during the computation makes the snapshot stale at once,
    /// never unnoticed.
    private func compute(_ asOf: CalendarDate) throws -> FiguresSnapshot {
        try computing.withLock { _ in
            let generation = try generation()
            if let held = held(asOf, generation: generation, acceptStale: false) { return held }
            let snapshot = try FiguresSnapshot.compute(node, asOf: asOf, generation: generation)
            state.withLock { state in
                state.computations += 1
                state.snapshots.removeAll { $0.asOf == asOf }
                state.snapshots.append(snapshot)
                if state.snapshots.count > capacity { state.snapshots.removeFirst(state.snapshots.count - capacity) }
            }
            return snapshot
        }
    }

    static func clock() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
