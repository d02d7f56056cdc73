import SiteSyncCore

/// A goal of a project's goal tree (`goal`: project, parent, title, weight).
public struct GoalInput: Sendable, Equatable {
    public var id: String
    public var parent: String?
    public var title: String
    public var weight: Double

    public init(id: String, parent: String? = nil, title: String, weight: Double = 1) {
        self.id = id
        self.parent = parent
        self.title = title
        self.weight = weight
    }
}

/// Weighted goal-tree scores (docs/design.md §11): `S = Σ wᵢ·sᵢ / Σ wᵢ` over a goal's sub-goals;
/// a goal without sub-goals scores its activities' schedule performance,
/// `100 × min(ΣEV / ΣPV, 1)` (a ratio of sums), and nothing while none of its work is due.
/// A goal with a `measured` score (its target for a period met by its actual, §16) takes that
/// score instead, whatever lies under it.
///
/// The same function scores the city's whole tree (docs/design.md §16): objectives are goals
/// of it, and a project's top goal hangs under the objective it serves.
public enum GoalTree {
    /// Every goal's score (absent: nothing due yet), and the tree's: the roots' weighted mean.
    public static func scores(goals: [GoalInput], activityGoals: [String: String], activities: [ActivityInput],
                              asOf: CalendarDate, measured: [String: Double] = [:]) throws(ExactDecimal.Overflow)
        -> (goals: [String: Double], tree: Double?) {
        let known = Set(goals.map(\.id))
        var children: [String: [GoalInput]] = [:]
        var roots: [GoalInput] = []
        for goal in goals {
            if let parent = goal.parent, known.contains(parent), parent != goal.id { children[parent, default: []].append(goal) } else { roots.append(goal) }
        }
        var figures: [String: EarnedValueFigures] = [:]
        for activity in activities {
            guard let goal = activityGoals[activity.id] else { continue }
            figures[goal] = try (figures[goal] ?? EarnedValueFigures()).plus(ActivityEarnedValue.figures(activity, asOf: asOf))
        }
        var result: [String: Double] = [:]
        var visiting: Set<String> = []
        func score(_ goal: GoalInput) -> Double? {
            // A cycle of parents (two offices re-parenting concurrently) scores as leaves.
            guard visiting.insert(goal.id).inserted else { return nil }
            defer { visiting.remove(goal.id) }
            let value: Double?
            if let given = measured[goal.id] {
                value = given
                for subgoal in children[goal.id] ?? [] { _ = score(subgoal) }
            } else if let subgoals = children[goal.id], !subgoals.isEmpty {
                value = KPIScore.weighted(subgoals.map { ($0.weight, score($0)) })
            } else {
                value = figures[goal.id]?.schedulePerformanceIndex.map { 100 * min($0, 1) }
            }
            if let value { result[goal.id] = value }
            return value
        }
        let tree = KPIScore.weighted(roots.map { ($0.weight, score($0)) })
        return (result, tree)
    }
}
