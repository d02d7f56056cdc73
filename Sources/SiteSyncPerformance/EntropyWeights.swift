import Foundation

/// The entropy-weight method (熵权法), common in Chinese performance evaluation: an indicator
/// whose readings differ more between the things compared tells them apart better and earns
/// more weight; one that reads the same everywhere earns none (docs/design.md §17.3).
///
/// For *n* rows (readings compared) and *m* indicators, with x_ij the reading of indicator j in
/// row i:
/// 1. normalise each indicator to 0…1 in its better direction: (x − min) / (max − min) when
///    higher is better, (max − x) / (max − min) when lower is better (a constant indicator: 0);
/// 2. shares p_ij = x′_ij / Σ_i x′_ij;
/// 3. entropy e_j = −(1 / ln n) Σ_i p_ij ln p_ij (0 ln 0 = 0; e_j = 1 when all x′ are 0);
/// 4. divergence d_j = 1 − e_j; weight w_j = d_j / Σ_k d_k.
public enum EntropyWeights {
    public struct Result: Sendable, Equatable {
        public let entropy: [Double]
        public let weights: [Double]
    }

    /// The weights of the columns of `rows` (each row one reading of every indicator), or `nil`
    /// with fewer than two rows or no indicator that varies.
    public static func weights(_ rows: [[Double]], higherBetter: [Bool]) -> Result? {
        let n = rows.count, m = higherBetter.count
        guard n >= 2, rows.allSatisfy({ $0.count == m }) else { return nil }
        var entropy = [Double](repeating: 1, count: m)
        for j in 0..<m {
            let column = rows.map { $0[j] }
            let low = column.min()!, high = column.max()!
            guard high > low else { continue }
            let normalised = column.map { higherBetter[j] ? ($0 - low) / (high - low) : (high - $0) / (high - low) }
            let total = normalised.reduce(0, +)
            var sum = 0.0
            for value in normalised where value > 0 {
                let p = value / total
                sum += p * log(p)
            }
            entropy[j] = -sum / log(Double(n))
        }
        let divergence = entropy.map { max(0, 1 - $0) }
        let total = divergence.reduce(0, +)
        guard total > 0 else { return nil }
        return Result(entropy: entropy, weights: divergence.map { $0 / total })
    }
}
