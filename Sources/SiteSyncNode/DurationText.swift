import Foundation

/// Durations as people write them in configuration and flags: a whole number and a unit,
/// `90s`, `30m`, `6h`, `2d`, `1w` (a bare number is seconds).
public enum DurationText {
    static let units: [(suffix: Character, seconds: Int)] = [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]

    /// The seconds `text` stands for.
    /// - Throws: ``NodeError`` (`usage`) saying how to write it.
    public static func seconds(_ text: String) throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        var digits = Substring(trimmed)
        var unit = 1
        if let last = trimmed.last, let match = units.first(where: { $0.suffix == last }) {
            digits = digits.dropLast()
            unit = match.seconds
        }
        guard let number = Int(digits), number > 0, number <= 3_650 * 86_400 / unit else {
            throw NodeError(.usage, "'\(text)' is not a duration: write a whole number and a unit, such as 90s, 30m, 6h, 2d or 1w")
        }
        return number * unit
    }

    /// The shortest exact way to write `seconds` (`86400` → `1d`).
    public static func text(_ seconds: Int) -> String {
        for (suffix, size) in units where seconds >= size && seconds % size == 0 { return "\(seconds / size)\(suffix)" }
        return "\(seconds)s"
    }
}
