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
    public func tags(of text: String) -> [String] { Matcher(self).tags(of: text) }

    /// The list made ready to match many texts: each phrase lowercased, as UTF-8 bytes.
    public struct Matcher: Sendable {
        struct Tag: Sendable {
            var name: String
            var exceptions: [[UInt8]]
            var phrases: [[UInt8]]
        }

        let tags: [Tag]

        public init(_ list: DailyLogTags) {
            tags = list.phrases.keys.sorted().map { name in
                let phrases = (list.phrases[name] ?? []).map { $0.lowercased() }
                return Tag(name: name, exceptions: phrases.filter { $0.hasPrefix("!") }.map { Array($0.dropFirst().utf8) }.filter { !$0.isEmpty },
                           phrases: phrases.filter { !$0.hasPrefix("!") && !$0.isEmpty }.map { Array($0.utf8) })
            }
        }

        /// The tags of `text`, sorted.
        public func tags(of text: String) -> [String] {
            guard !text.isEmpty else { return [] }
            let lowered = Array(text.lowercased().utf8)
            return tags.filter { tag in
                var text = lowered
                for exception in tag.exceptions { Self.blank(exception, in: &text) }
                return tag.phrases.contains { Self.find($0, in: text) }
            }.map(\.name)
        }

        static func isLatin(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

        /// Whether `phrase` occurs in `text` (UTF-8 bytes: a match starts on a character's first
        /// byte, since both are whole UTF-8), at word edges where the phrase has Latin letters.
        static func find(_ phrase: [UInt8], in text: [UInt8]) -> Bool {
            guard let first = phrase.first, text.count >= phrase.count else { return false }
            let edgeBefore = isLatin(first), edgeAfter = isLatin(phrase[phrase.count - 1])
            var index = 0
            while index <= text.count - phrase.count {
                if text[index] == first, matches(phrase, in: text, at: index),
                   !(edgeBefore && index > 0 && isLatin(text[index - 1])),
                   !(edgeAfter && index + phrase.count < text.count && isLatin(text[index + phrase.count])) {
                    return true
                }
                index += 1
            }
            return false
        }

        static func matches(_ phrase: [UInt8], in text: [UInt8], at index: Int) -> Bool {
            for offset in 0..<phrase.count where text[index + offset] != phrase[offset] { return false }
            return true
        }

        /// Every occurrence of `phrase` in `text` replaced by spaces.
        static func blank(_ phrase: [UInt8], in text: inout [UInt8]) {
            guard text.count >= phrase.count else { return }
            var index = 0
            while index <= text.count - phrase.count {
                if matches(phrase, in: text, at: index) {
                    for offset in 0..<phrase.count { text[index + offset] = 0x20 }
                    index += phrase.count
                } else {
                    index += 1
                }
            }
        }
    }
}

