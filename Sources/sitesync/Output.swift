import Foundation
import SiteSyncCore
import SiteSyncDomain

/// Small helpers for what commands print.
enum Output {
    /// Prints one canonical JSON value and a newline to standard output.
    static func json(_ value: JSONValue) {
        print(value.canonicalText)
    }

    /// A moment as ISO 8601 UTC, to the second: `2026-11-30T08:15:02Z`.
    static func timestamp(milliseconds: UInt64) -> String { SyncFactsJSON.timestamp(milliseconds: milliseconds) }

    /// Writes to standard error.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Left-aligned columns (padded by what shows: colour codes take no room).
    static func table(_ rows: [[String]]) -> String { ReportText.table(rows) }
}
