import Foundation

/// What the delay model sees of a project at one month end (docs/design.md §17, "Delay
/// probability"), in a fixed order: the model's coefficients follow it.
public struct DelayFeatures: Sendable, Equatable {
    public static let names = ["spi_t", "spi_t_trend", "elapsed_share", "max_open_risk", "days_since_report",
                               "productivity_cv", "rain_days_30", "breakdown_days_30", "shortage_days_30"]

    /// The values in the order of ``names``.
    public var values: [Double]

    public init(values: [Double]) {
        precondition(values.count == Self.names.count, "a delay example has \(Self.names.count) features")
        self.values = values
    }
}

/// One project at one month end, with how the project ended.
public struct DelayExample: Sendable, Equatable {
    public var project: String
    public var monthEnd: String
    public var features: DelayFeatures
    /// The project finished after its planned finish.
    public var late: Bool
    /// The day the project's last activity finished: the time-ordered split uses it.
    public var completed: String
    /// The rule-based warnings' colour at that month end was red or amber (the baseline).
    public var warned: Bool

    public init(project: String, monthEnd: String, features: DelayFeatures, late: Bool, completed: String, warned: Bool) {
        self.project = project
        self.monthEnd = monthEnd
        self.features = features
        self.late = late
        self.completed = completed
        self.warned = warned
    }
}

/// Logistic regression on standardised features, fitted by full-batch gradient descent with an
/// L2 penalty: deterministic (no random start, no shuffling), so the same examples give the same
/// model to the last bit, and explainable: each feature's pull on a prediction is its
/// coefficient times its standardised value.
public struct DelayModel: Sendable, Equatable, Codable {
    public var features: [String]
    public var means: [Double]
    public var scales: [Double]
    public var coefficients: [Double]
    public var intercept: Double
    /// The examples and projects it was trained on, and the share that ended late.
    public var examples: Int
    public var projects: Int
    public var baseRate: Double
    public var trainedThrough: String

    /// Fewer completed projects than this, or none late or none on time: the model refuses to
    /// train (and so to predict).
    public static let minimumProjects = 20

    public struct Settings: Sendable {
        public var l2 = 0.01
        public var learningRate = 0.5
        public var iterations = 2000
        public init() {}
    }

    public struct TooLittleHistory: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Fits the model, or says why it cannot: fewer than ``minimumProjects`` completed projects,
    /// or only one outcome among them (nothing to tell apart).
    public static func train(_ examples: [DelayExample], through: String, settings: Settings = Settings()) throws(TooLittleHistory) -> DelayModel {
        let projects = Dictionary(examples.map { ($0.project, $0.late) }, uniquingKeysWith: { a, _ in a })
        guard projects.count >= minimumProjects else {
            throw TooLittleHistory(description: "too little history: \(projects.count) completed project(s) with month-end figures, "
                + "the model needs at least \(minimumProjects); it predicts nothing until then")
        }
        let late = projects.values.filter { $0 }.count
        guard late > 0 && late < projects.count else {
            throw TooLittleHistory(description: "too little history: all \(projects.count) completed projects finished "
                + (late == 0 ? "on time" : "late") + "; with one outcome only there is nothing to learn, so it predicts nothing")
        }
        let k = DelayFeatures.names.count, n = Double(examples.count)
        var means = [Double](repeating: 0, count: k), scales = [Double](repeating: 1, count: k)
        for j in 0..<k {
            let column = examples.map { $0.features.values[j] }
            let mean = column.reduce(0, +) / n
            let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
            means[j] = mean
            scales[j] = variance > 1e-12 ? variance.squareRoot() : 1
        }
        let x = examples.map { example in (0..<k).map { (example.features.values[$0] - means[$0]) / scales[$0] } }
        let y = examples.map { $0.late ? 1.0 : 0.0 }
        var w = [Double](repeating: 0, count: k), b = 0.0
        for _ in 0..<settings.iterations {
            var gradient = [Double](repeating: 0, count: k), gradientB = 0.0
            for (row, label) in zip(x, y) {
                let error = sigmoid(b + dot(w, row)) - label
                for j in 0..<k { gradient[j] += error * row[j] }
                gradientB += error
            }
            for j in 0..<k { w[j] -= settings.learningRate * (gradient[j] / n + settings.l2 * w[j]) }
            b -= settings.learningRate * gradientB / n
        }
        return DelayModel(features: DelayFeatures.names, means: means, scales: scales, coefficients: w, intercept: b,
                          examples: examples.count, projects: projects.count, baseRate: Double(late) / Double(projects.count),
                          trainedThrough: through)
    }

    /// A prediction and the features that moved it most.
    public struct Prediction: Sendable {
        public let probability: Double
        /// (feature, coefficient × standardised value), largest magnitude first: positive pulls
        /// towards late.
        public let contributions: [(feature: String, value: Double, pull: Double)]
    }

    public func predict(_ features: DelayFeatures) -> Prediction {
        let z = (0..<coefficients.count).map { (features.values[$0] - means[$0]) / scales[$0] }
        let pulls = (0..<coefficients.count).map { (feature: self.features[$0], value: features.values[$0], pull: coefficients[$0] * z[$0]) }
        return Prediction(probability: Self.sigmoid(intercept + Self.dot(coefficients, z)),
                          contributions: pulls.sorted { abs($0.pull) != abs($1.pull) ? abs($0.pull) > abs($1.pull) : $0.feature < $1.feature })
    }

    static func sigmoid(_ z: Double) -> Double { z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)) }
    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
}

/// How good probabilities are against outcomes.
public enum ForecastScore {
    /// Mean of (p − outcome)².
    public static func brier(_ pairs: [(p: Double, late: Bool)]) -> Double {
        guard !pairs.isEmpty else { return .nan }
        return pairs.reduce(0) { $0 + ($1.p - ($1.late ? 1 : 0)) * ($1.p - ($1.late ? 1 : 0)) } / Double(pairs.count)
    }

    /// The probability that a late example scores above an on-time one (ties count half): the
    /// area under the ROC curve, by the rank-sum (Mann–Whitney) formula. NaN with one class.
    public static func auc(_ pairs: [(p: Double, late: Bool)]) -> Double {
        let sorted = pairs.sorted { $0.p < $1.p }
        var rankSum = 0.0, i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1].p == sorted[i].p { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for t in i...j where sorted[t].late { rankSum += rank }
            i = j + 1
        }
        let positives = Double(pairs.filter(\.late).count), negatives = Double(pairs.count) - positives
        guard positives > 0, negatives > 0 else { return .nan }
        return (rankSum - positives * (positives + 1) / 2) / (positives * negatives)
    }

    /// One bin of the reliability table: predictions in [lower, upper), their mean and the
    /// share that turned out late.
    public struct Bin: Sendable, Equatable {
        public let lower: Double
        public let count: Int
        public let meanPredicted: Double
        public let observedLate: Double
    }

    /// Ten bins of width 0.1 (the last includes 1).
    public static func reliability(_ pairs: [(p: Double, late: Bool)]) -> [Bin] {
        (0..<10).map { bin in
            let inBin = pairs.filter { min(Int($0.p * 10), 9) == bin }
            let count = inBin.count
            return Bin(lower: Double(bin) / 10, count: count,
                       meanPredicted: count == 0 ? .nan : inBin.reduce(0) { $0 + $1.p } / Double(count),
                       observedLate: count == 0 ? .nan : Double(inBin.filter(\.late).count) / Double(count))
        }
    }
}
