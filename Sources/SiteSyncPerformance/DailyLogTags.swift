/// Tags of a daily log's text (docs/design.md §17): what held work up or marked a day, found
/// by phrases in Chinese and English, so that "下雨停工" and "rained all morning" both count as
/// a rain day. The list is data: `[forecast.tags]` in node.toml replaces a tag's phrases or
/// adds a tag (config/README.md).
public struct DailyLogTags: Sendable, Equatable {
    /// The phrases of each tag. A phrase is found anywhere in the text, case-insensitively;
    /// one written in Latin letters only at word edges ("rain" is not found in "drain" or
    /// "train"). A phrase starting with `!` is an exception: its occurrences are taken out of
    /// the text before the tag's other phrases are looked for ("!雨水管": a storm-water pipe is
    /// not rain).
    public var phrases: [String: [String]]

    public init(phrases: [String: [String]]) { self.phrases = phrases }

    /// The tag that makes a day a rain day: the forecasts count no output on it (§17).
    public static let rain = "rain"

    /// The shipped list.
    public static let standard = DailyLogTags(phrases: [
        "rain": ["雨", "rain", "rained", "raining", "rainy", "rainfall", "downpour", "storm",
                 "!雨水管", "!雨水井", "!雨水口", "!雨水篦", "!storm drain", "!stormwater", "!storm water"],
        "breakdown": ["故障", "损坏", "坏了", "抛锚", "维修", "breakdown", "broke down", "broken", "out of order", "repair"],
        "material_shortage": ["缺料", "缺材料", "材料短缺", "材料不足", "停料", "待料", "shortage", "out of material",
                              "no material", "waiting for material", "short of"],
        "accident": ["事故", "受伤", "伤亡", "accident", "injury", "injured", "incident"],
        "inspection": ["检查", "验收", "巡查", "监理", "inspection", "inspected", "inspector", "audit"],
        "stoppage": ["停工", "暂停", "stoppage", "work stopped", "suspended", "halted"],
    ])

    /// The names a tag may have: lowercase letters, digits, `_` and `-`, 1–32 of them.
    public static func isValidName(_ name: String) -> Bool {
        (1...32).contains(name.count) && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }
    }

    /// This list with `overrides` applied: a tag named there takes exactly the phrases given
    /// (none: the tag is dropped); the others keep theirs.
    public func overridden(by overrides: [String: [String]]) -> DailyLogTags {
        var phrases = self.phrases
        for (tag, list) in overrides { phrases[tag] = list.isEmpty ? nil : list }
        return DailyLogTags(phrases: phrases)
    }

    /// The tags of `text` (a summary, a weather note), sorted.
    public func tags(of text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        let lowered = text.lowercased()
        return phrases.keys.sorted().filter { tag in Self.matches(lowered, phrases[tag] ?? []) }
    }

    /// Whether `text` (lowercased) holds one of `phrases` once the exceptions are taken out.
    static func matches(_ text: String, _ phrases: [String]) -> Bool {
        var text = text
        for exception in phrases where exception.hasPrefix("!") {
            let phrase = exception.dropFirst().lowercased()
            if !phrase.isEmpty { text = text.replacingAll(phrase, with: " ") }
        }
        return phrases.contains { phrase in
            !phrase.hasPrefix("!") && !phrase.isEmpty && text.containsPhrase(phrase.lowercased())
        }
    }
}

extension String {
    /// Every occurrence of `phrase` replaced by `replacement`, without Foundation.
    func replacingAll(_ phrase: String, with replacement: String) -> String {
        let source = Array(self), target = Array(phrase)
        guard !target.isEmpty, source.count >= target.count else { return self }
        var result: [Character] = []
        var index = 0
        while index < source.count {
            if index + target.count <= source.count, Array(source[index..<index + target.count]) == target {
                result.append(contentsOf: replacement)
                index += target.count
            } else {
                result.append(source[index])
                index += 1
            }
        }
        return String(result)
    }

    /// Whether `phrase` occurs in this text; a phrase that begins (ends) with a Latin letter
    /// only where no Latin letter comes just before (after) it.
    func containsPhrase(_ phrase: String) -> Bool {
        let source = Array(self), target = Array(phrase)
        guard !target.isEmpty, source.count >= target.count else { return false }
        func isLatin(_ c: Character) -> Bool { c.isASCII && c.isLetter }
        let edgeBefore = isLatin(target[0]), edgeAfter = isLatin(target[target.count - 1])
        for index in 0...(source.count - target.count) where source[index] == target[0] {
            guard Array(source[index..<index + target.count]) == target else { continue }
            if edgeBefore, index > 0, isLatin(source[index - 1]) { continue }
            let end = index + target.count
            if edgeAfter, end < source.count, isLatin(source[end]) { continue }
            return true
        }
        return false
    }
}
