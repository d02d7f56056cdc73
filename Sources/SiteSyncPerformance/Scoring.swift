/// Which way a KPI is better (`kpi.direction`).
public enum KPIDirection: String, Sendable, CaseIterable {
    case higherBetter = "higher_better"
    case lowerBetter = "lower_better"
}

/// KPI normalisation and weighted scores (docs/design.md §11).
public enum KPIScore {
    /// Achievement `a` of a measured value `x` against baseline `b` and target `T`:
    /// higher is better: `a = (x − b) / (T − b)`; lower is better: `a = (b − x) / (b − T)`.
    /// `nil` when the target equals the baseline (nothing to achieve: the KPI is ill-defined).
    public static func achievement(value x: Double, baseline b: Double, target t: Double, direction: KPIDirection) -> Double? {
        guard t != b else { return nil }
        switch direction {
        case .higherBetter: return (x - b) / (t - b)
        case .lowerBetter: return (b - x) / (b - t)
        }
    }

    /// Score 0…100 × cap: `s = 100 × clamp(a, 0, cap)`. The cap keeps one over-achieved KPI
    /// from masking the others.
    public static func score(achievement a: Double, cap: Double) -> Double {
        100 * min(max(a, 0), cap)
    }

    /// The weighted mean `Σ wᵢ·sᵢ / Σ wᵢ` of scored parts (KPIs or sub-goals); parts without
    /// a score are left out and the weights renormalised over the rest. `nil` when no part with
    /// a positive weight has a score.
    public static func weighted(_ parts: [(weight: Double, score: Double?)]) -> Double? {
        var total = 0.0, weights = 0.0
        for part in parts where part.weight > 0 {
            guard let score = part.score else { continue }
            total += part.weight * score
            weights += part.weight
        }
        return weights > 0 ? total / weights : nil
    }
}

/// The MoF grade bands of a score: 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 below.
public enum Grade: String, Sendable, CaseIterable, Comparable {
    case excellent = "优"
    case good = "良"
    case fair = "中"
    case poor = "差"

    public static func of(score: Double, thresholds: Thresholds = .standard) -> Grade {
        if score >= thresholds.excellent { return .excellent }
        if score >= thresholds.good { return .good }
        if score >= thresholds.fair { return .fair }
        return .poor
    }

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: Grade, b: Grade) -> Bool { a.rank > b.rank }
}

/// Traffic lights; a project's colour is the worst of its parts'.
public enum Color: String, Sendable, CaseIterable, Comparable {
    case green, amber, red

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    /// `red` is the greatest: `max` of colours is the worst.
    public static func < (a: Color, b: Color) -> Bool { a.rank < b.rank }

    /// Green at or above `green`, amber at or above `amber`, red below.
    public static func of(_ value: Double, green: Double, amber: Double) -> Color {
        value >= green ? .green : value >= amber ? .amber : .red
    }
}

/// Every threshold of grades, colours and warnings (configuration data; these are the defaults
/// of `[report]` in config/README.md).
public struct Thresholds: Sendable, Equatable {
    public var excellent = 90.0, good = 80.0, fair = 60.0
    /// Schedule: SPI(t) at or above `scheduleGreen` green, at or above `scheduleAmber` amber.
    public var scheduleGreen = 0.95, scheduleAmber = 0.85
    /// Cost: CPI, judged only once `costFromPercent` percent of the work is done.
    public var costGreen = 0.95, costAmber = 0.90, costFromPercent = 15.0
    /// A project whose last field entry is older than this many days is stale.
    public var staleDays = 7
    /// Risk score probability × impact (1–5 each): at or above `riskHigh` an open risk warns red.
    public var riskHigh = 16, riskElevated = 10
    /// Score colours: at or above `scoreGreen` green, at or above `scoreAmber` amber.
    public var scoreGreen = 80.0, scoreAmber = 60.0
    /// A KPI's score cap (1.0: no credit above target).
    public var kpiCap = 1.0

    public static let standard = Thresholds()
    public init() {}
}
