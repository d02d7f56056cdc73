import Foundation
import GRDB
import GRDBSQLite
import SiteSyncCore

/// One activity's entries summed per calendar week, for the completion forecasts
/// (docs/design.md §17).
public struct ActivityWeeklySums: Sendable, Equatable {
    /// By week, keyed by its Monday (days since 1970-01-01): the amounts' sum. A `Double`: a
    /// forecast is a spread of outcomes, and each amount is read exactly before it is added.
    public var weeks: [Int: Double] = [:]
    /// The first day (days since 1970-01-01) with a positive amount.
    public var firstPositive: Int?
}

extension SnapshotReader {
    /// Every activity's entries in `table` (an entry collection: `activity`, `date` and an
    /// exact decimal `amount` column) dated up to `upTo`, summed per calendar week (Monday to
    /// Sunday), in one pass over the table as ``ReplicaStore/entrySums(table:amount:cutOffs:)``
    /// makes it: no sort, no SQL date function on each of millions of rows.
    /// - Parameter restriction: an SQL condition the rows must also meet, its parameters
    ///   numbered from `?2`, with their values.
    public func weeklySums(table: String, amount column: String, upTo: String,
                           restriction: (sql: String, arguments: [String])? = nil) throws -> [String: ActivityWeeklySums] {
        var result: [String: ActivityWeeklySums] = [:]
        // Dates repeat across activities: each YYYYMMDD is turned into its day number once.
        var days: [Int: Int] = [:]
        var previous: [UInt8] = [], key = ""
        previous.reserveCapacity(64)
        var current = ActivityWeeklySums(), started = false
        // The week being added to and its sum so far, kept out of the dictionary while the rows
        // stay in it (an activity's rows come in date order): the additions are the same ones,
        // in the same order, as adding each row to `current.weeks` (the forecast is unchanged);
        // a hash per row was a fifth of the pass.
        var week = Int.min, sum = 0.0
        func closeWeek() { if week != Int.min { current.weeks[week] = sum } }
        func flush() {
            closeWeek()
            if started { result[key, default: ActivityWeeklySums()].merge(current) }
        }
        try ReplicaStore.forEachEntry(db, table: table, amount: column, upTo: upTo, restriction: restriction) { activity, stamp, amount in
            if !started || !activity.elementsEqual(previous) {
                flush()
                previous.removeAll(keepingCapacity: true)
                previous.append(contentsOf: activity)
                key = String(decoding: activity, as: UTF8.self)
                current = ActivityWeeklySums()
                week = Int.min
                started = true
            }
            let day: Int
            if let known = days[stamp] { day = known } else {
                guard let date = CalendarDate(year: stamp / 10_000, month: stamp / 100 % 100, day: stamp % 100) else { return }
                day = date.daysSinceEpoch
                days[stamp] = day
            }
            // 1970-01-01 was a Thursday: the Monday of a day is 3 days into the 7-day cycle before it.
            let monday = day - ((day + 3) % 7 + 7) % 7
            let value = Self.double(amount) / 1e9
            if monday != week {
                closeWeek()
                week = monday
                sum = current.weeks[monday] ?? 0
            }
            sum += value
            if value > 0 { current.firstPositive = min(current.firstPositive ?? day, day) }
        }
        flush()
        return result
    }

    /// `Double(amount)`, the same value, without the standard library's generic conversion from
    /// `Int128`, which is not specialized (a profile of the forecast benchmark found it and its
    /// generic helpers in half the samples of this pass). Every amount of up to 9 digits before
    /// the point fits an `Int64` of billionths, converted by one instruction, rounded alike;
    /// larger ones take the generic way.
    @inline(__always)
    static func double(_ amount: Int128) -> Double {
        guard amount >= Int128(Int64.min), amount <= Int128(Int64.max) else { return Double(amount) }
        return Double(Int64(truncatingIfNeeded: amount))
    }
}

extension ActivityWeeklySums {
    /// Adds `other`'s weeks (an activity's rows need not come together).
    mutating func merge(_ other: ActivityWeeklySums) {
        for (week, value) in other.weeks { weeks[week, default: 0] += value }
        if let first = other.firstPositive { firstPositive = min(firstPositive ?? first, first) }
    }
}
