import Foundation
import GRDB
import SiteSyncCore

/// The sync history (`sync_session`): one entry per session, idle repeats folded into one,
/// the newest ``SyncHistory/keep`` kept. Every statement about it lives here; it works inside
/// the caller's transaction.
struct SyncHistoryLog {
    let db: Database

    init(_ db: Database) {
        self.db = db
    }

    /// Adds an entry; an idle (or failed) session right after an idle (or equally failed) one
    /// with the same peer and kind extends that entry instead.
    func record(_ entry: SyncHistoryEntry) throws {
        if entry.isIdle || !entry.ok, let row = try Row.fetchOne(db, sql: "SELECT * FROM sync_session ORDER BY id DESC LIMIT 1") {
            let last = Self.entry(row)
            let repeated = entry.ok ? last.isIdle : !last.ok && last.errorCode == entry.errorCode
            if repeated, last.kind == entry.kind, last.peer == entry.peer, last.endpoint == entry.endpoint {
                try db.execute(sql: """
                    UPDATE sync_session SET ended_ms = ?, duration_ms = ?, repeats = repeats + 1, clock_offset_ms = coalesce(?, clock_offset_ms),
                        bytes_sent = bytes_sent + ?, bytes_received = bytes_received + ? WHERE id = ?
                    """, arguments: [Int64(entry.endedMilliseconds), Int64(entry.durationMilliseconds), entry.clockOffsetMilliseconds, entry.bytesSent,
                                     entry.bytesReceived, last.id])
                return
            }
        }
        try insert(entry)
    }

    private func insert(_ entry: SyncHistoryEntry) throws {
        try db.execute(sql: """
            INSERT INTO sync_session (started_ms, ended_ms, duration_ms, kind, peer, endpoint, pushed, pushed_new, pulled, pulled_new, refused,
                bytes_sent, bytes_received, ok, error_code, error, clock_offset_ms, repeats)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [Int64(entry.startedMilliseconds), Int64(entry.endedMilliseconds), Int64(entry.durationMilliseconds),
                             entry.kind.rawValue, entry.peer,
                             entry.endpoint, entry.pushed, entry.pushedNew, entry.pulled, entry.pulledNew, entry.refused,
                             entry.bytesSent, entry.bytesReceived, entry.ok, entry.errorCode, entry.error.map { String($0.prefix(1000)) },
                             entry.clockOffsetMilliseconds, entry.repeats])
        try db.execute(sql: "DELETE FROM sync_session WHERE id <= (SELECT max(id) FROM sync_session) - ?", arguments: [SyncHistory.keep])
    }

    /// The entries, newest first; only `kinds` (all when empty).
    func entries(limit: Int, kinds: Set<SyncHistoryEntry.Kind>) throws -> [SyncHistoryEntry] {
        var sql = "SELECT * FROM sync_session"
        if !kinds.isEmpty { sql += " WHERE kind IN (\(kinds.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")))" }
        sql += " ORDER BY id DESC LIMIT ?"
        return try Row.fetchAll(db, sql: sql, arguments: [limit]).map(Self.entry)
    }

    /// The last entry of `kind` that succeeded (or failed), however old.
    func last(_ kind: SyncHistoryEntry.Kind, ok: Bool?) throws -> SyncHistoryEntry? {
        try Row.fetchOne(db, sql: "SELECT * FROM sync_session WHERE kind = ?" + (ok.map { " AND ok = \($0 ? 1 : 0)" } ?? "")
                         + " ORDER BY id DESC LIMIT 1", arguments: [kind.rawValue]).map(Self.entry)
    }

    static func entry(_ row: Row) -> SyncHistoryEntry {
        var entry = SyncHistoryEntry(
            kind: SyncHistoryEntry.Kind(rawValue: row["kind"]) ?? .sync,
            startedMilliseconds: UInt64(max(0, row["started_ms"] as Int64)), endedMilliseconds: UInt64(max(0, row["ended_ms"] as Int64)),
            peer: row["peer"], endpoint: row["endpoint"], ok: row["ok"])
        entry.id = row["id"]
        entry.durationMilliseconds = UInt64(max(0, row["duration_ms"] as Int64))
        entry.pushed = row["pushed"]
        entry.pushedNew = row["pushed_new"]
        entry.pulled = row["pulled"]
        entry.pulledNew = row["pulled_new"]
        entry.refused = row["refused"]
        entry.bytesSent = row["bytes_sent"]
        entry.bytesReceived = row["bytes_received"]
        entry.errorCode = row["error_code"]
        entry.error = row["error"]
        entry.clockOffsetMilliseconds = row["clock_offset_ms"]
        entry.repeats = row["repeats"]
        return entry
    }
}
