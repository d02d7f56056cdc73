import Foundation
import GRDB
import GRDBSQLite
import SiteSyncCore

/// One activity's entries summed exactly, by cut-off.
public struct ActivityEntrySums: Sendable, Equatable {
    /// Σ amounts of the entries in each bucket, times 10⁹ (every amount has at most nine
    /// decimals, so each is a whole number of billionths: the sums are exact integers). Bucket
    /// `i` holds the entries dated after cut-off `i − 1` up to cut-off `i`.
    public var billionths: [Int128]
    /// The latest entry's date (`YYYY-MM-DD`).
    public var latest: String
}

extension ReplicaStore {
    /// Every activity's entries in `table` (an entry collection: `activity`, `date` and an
    /// exact decimal `amount` column) dated up to the last of `cutOffs`, summed exactly per
    /// cut-off bucket, in one pass over the table.
    ///
    /// Reports sum millions of entries. SQLite has no exact decimal sum (its `sum` of decimal
    /// text adds binary doubles), and summing in SQL by the amounts' integer significands needs
    /// a sort of every row by activity and number of decimals and string functions on each; here
    /// the rows are read in table order straight from SQLite's buffers, with no sort and no
    /// allocation per row, and the amounts added as integers of billionths.
    public func entrySums(table: String, amount column: String, cutOffs: [String]) throws -> [String: ActivityEntrySums] {
        try StoreError.mapping { try pool.read { db in try Self.entrySums(db, table: table, amount: column, cutOffs: cutOffs) } }
    }

    /// ``rows(_:)`` and ``entrySums(table:amount:cutOffs:)`` of several tables, all in one
    /// snapshot: what a report reads.
    public func rows(_ queries: [(sql: String, arguments: [String])], entrySums tables: [(table: String, amount: String)],
                     cutOffs: [String]) throws -> (rows: [[[String?]]], sums: [[String: ActivityEntrySums]]) {
        try StoreError.mapping {
            try pool.read { db in
                (try Self.rows(db, queries), try tables.map { try Self.entrySums(db, table: $0.table, amount: $0.amount, cutOffs: cutOffs) })
            }
        }
    }

    /// - Parameter restriction: an SQL condition over the table's columns that rows must also
    ///   meet (e.g. `activity IN (SELECT …)`), its parameters numbered from `?2`, with their values.
    static func entrySums(_ db: Database, table: String, amount column: String, cutOffs: [String],
                          restriction: (sql: String, arguments: [String])? = nil) throws -> [String: ActivityEntrySums] {
        guard let last = cutOffs.last else { return [:] }
        let cuts = cutOffs.map { text in
            var text = text
            return text.withUTF8 { Self.day($0) } ?? Int.max
        }
        // Per activity, in order of first appearance: its key, sums and latest date.
        var slots: [String: Int] = [:]
        var keys: [String] = [], totals: [[Int128]] = [], latest: [Int] = []
        var previous: [UInt8] = []
        previous.reserveCapacity(64)
        var slot = -1
        try forEachEntry(db, table: table, amount: column, upTo: last, restriction: restriction) { activity, date, amount in
            // Entries of one activity often come together: its slot is looked up only when it changes.
            if slot < 0 || !activity.elementsEqual(previous) {
                previous.removeAll(keepingCapacity: true)
                previous.append(contentsOf: activity)
                let key = String(decoding: activity, as: UTF8.self)
                if let found = slots[key] {
                    slot = found
                } else {
                    slot = keys.count
                    slots[key] = slot
                    keys.append(key)
                    totals.append(Array(repeating: 0, count: cuts.count))
                    latest.append(date)
                }
            }
            let bucket = cuts.firstIndex { date <= $0 } ?? (cuts.count - 1)
            totals[slot][bucket] += amount
            latest[slot] = max(latest[slot], date)
        }
        var sums: [String: ActivityEntrySums] = [:]
        for (index, key) in keys.enumerated() {
            let day = latest[index]
            sums[key] = ActivityEntrySums(billionths: totals[index],
                                          latest: String(format: "%04d-%02d-%02d", day / 10_000, day / 100 % 100, day % 100))
        }
        return sums
    }

    /// Each row of an entry table (`activity`, `date`, an exact decimal `amount` column)
    /// dated up to `upTo` and meeting `restriction`, in table order, read straight from
    /// SQLite's buffers: its activity's bytes (valid during the call), its date as YYYYMMDD and
    /// its amount in billionths. A row whose date or amount does not parse is skipped.
    static func forEachEntry(_ db: Database, table: String, amount column: String, upTo: String,
                             restriction: (sql: String, arguments: [String])?,
                             _ body: (UnsafeBufferPointer<UInt8>, Int, Int128) throws -> Void) throws {
        let statement = try db.makeStatement(sql: """
            SELECT activity, date, \(StoreSchema.quoted(column)) FROM \(StoreSchema.quoted(table))
            WHERE date <= ?1 AND activity IS NOT NULL AND \(StoreSchema.quoted(column)) IS NOT NULL\(restriction.map { " AND (\($0.sql))" } ?? "")
            """)
        let handle = statement.sqliteStatement
        for (index, text) in ([upTo] + (restriction?.arguments ?? [])).enumerated() {
            _ = text.withCString { sqlite3_bind_text(handle, Int32(index + 1), $0, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self)) }
        }
        defer { sqlite3_reset(handle) }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            guard let date = day(columnBytes(handle, 1)), let amount = billionths(columnBytes(handle, 2)) else { continue }
            try body(columnBytes(handle, 0), date, amount)
        }
    }

    private static func columnBytes(_ handle: OpaquePointer, _ index: Int32) -> UnsafeBufferPointer<UInt8> {
        let count = Int(sqlite3_column_bytes(handle, index))
        guard count > 0, let pointer = sqlite3_column_text(handle, index) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: pointer, count: count)
    }

    private static let dayDigits = [0, 1, 2, 3, 5, 6, 8, 9]

    /// A stored `YYYY-MM-DD` date as the number YYYYMMDD (ordered as the dates are), or `nil`.
    /// Not ``CalendarDate/init(utf8:)``: that validates the calendar through a generic across
    /// modules, and here it runs for every entry (measured: 0.82 s became 1.4 s for the report
    /// over 1.8 million entries). The dates were validated when they were written.
    static func day(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
        guard text.count == 10, text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-") else { return nil }
        var value = 0
        for index in dayDigits {
            let byte = text[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// An exact decimal's canonical text (`-12.5`, `300`) as a whole number of billionths, or
    /// `nil` when it is not one (more than nine decimals or 18 digits: not a stored amount).
    static func billionths(_ text: UnsafeBufferPointer<UInt8>) -> Int128? {
        var index = 0, negative = false
        if index < text.count, text[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        var significand: Int64 = 0, digits = 0, decimals = 0, point = false
        while index < text.count {
            let byte = text[index]
            index += 1
            if byte == UInt8(ascii: "."), !point { point = true; continue }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 18 else { return nil }
            significand = significand * 10 + Int64(byte - UInt8(ascii: "0"))
            digits += 1
            if point { decimals += 1 }
        }
        guard digits > 0, decimals <= 9 else { return nil }
        var value = Int128(significand)
        for _ in decimals..<9 { value *= 10 }
        return negative ? -value : value
    }
}
