import ArgumentParser
import Foundation
import SiteSyncCore

extension CalendarDate {
    /// Today by this machine's clock (UTC): the default date of entries and reports.
    static var today: CalendarDate { CalendarDate(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)) }
}

/// The checks options of dates and amounts share, with the option named in the message.
enum OptionCheck {
    static func date(_ text: String?, _ option: String) throws {
        if let text, CalendarDate(text) == nil { throw ValidationError("\(option) '\(text)' is not a date: write YYYY-MM-DD") }
    }

    /// The one value of an argument taken from every word the parser does not know (so that a
    /// negative number reaches its own check instead of being read as an unknown option).
    /// - Parameters:
    ///   - what: the value's name in the message ("amount", "value").
    ///   - example: the command with a value, as the message shows it.
    static func single(_ words: [String], _ what: String, example: String) throws -> String {
        guard words.count == 1 else {
            throw ValidationError(words.isEmpty ? "give the \(what): \(example)"
                : "give one \(what), not \(words.joined(separator: " ")): \(example)")
        }
        return words[0]
    }

    static func amount(_ text: String?, _ option: String) throws {
        if let text, ExactDecimal(text).map({ $0 >= .zero }) != true {
            throw ValidationError("\(option) '\(text)' is not an amount: write a decimal of 0 or more, such as 250000 or 12.5")
        }
    }
}
