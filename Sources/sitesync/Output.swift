import Foundation
import SiteSyncCore

/// Small helpers for what commands print.
enum Output {
    /// Prints one canonical JSON value and a newline to standard output.
    static func json(_ value: JSONValue) {
        print(value.canonicalText)
    }

    /// A moment as ISO 8601 UTC, to the second: `2026-11-30T08:15:02Z`.
    static func timestamp(milliseconds: UInt64) -> String {
        let seconds = Int(milliseconds / 1000)
        let date = CalendarDate(daysSinceEpoch: seconds / 86_400)
        let rest = seconds % 86_400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(date)T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z"
    }

    /// Writes to standard error.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Left-aligned columns (padded by what shows: colour codes take no room).
    static func table(_ rows: [[String]]) -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        var widths = Array(repeating: 0, count: width)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], visibleWidth(cell)) } }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - visibleWidth(cell))
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// Characters shown, leaving out ANSI escape sequences (`ESC [ … m`).
    static func visibleWidth(_ text: String) -> Int {
        var width = 0
        var inEscape = false
        for character in text {
            if inEscape {
                if character == "m" { inEscape = false }
            } else if character == "\u{1B}" {
                inEscape = true
            } else {
                width += 1
            }
        }
        return width
    }
}
