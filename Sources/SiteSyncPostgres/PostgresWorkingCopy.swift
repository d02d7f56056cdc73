import Foundation
import GRDB
import SiteSyncCore
import SiteSyncStore

/// A hub process's working copy built from the hub's tables in PostgreSQL (docs/design.md
/// §18): what a new process starts from, and what replaces a copy that can no longer follow
/// the log.
extension PostgresTransactionLog {
    /// Builds a working copy at `path` from one snapshot of the hub's tables (a REPEATABLE READ
    /// transaction, which sees the tables and `hub_log_head` as one commit left them), read
    /// through a cursor so that no table is held in memory whole.
    /// - Throws: ``StoreError`` when the database holds no hub yet or another version's;
    ///   ``PostgresError`` when PostgreSQL fails. Nothing is left at `path` then.
    public func buildWorkingCopy(at path: String, schema: Schema = .siteSync) throws {
        try ReplicaStore.buildWorkingCopy(at: path, schema: schema) { layouts, insert in
            try reconnecting(retry: { true }) {
                try connection.transaction(isolation: .repeatableRead) { transaction in
                    try Self.snapshot(layouts, transaction, insert)
                }
            }
        }
    }

    private static func snapshot(_ layouts: [TableLayout], _ transaction: PostgresTransaction,
                                 _ insert: (String, [DatabaseValue]) throws -> Void) throws -> HubLogPosition {
        guard let head = try transaction.execute("SELECT sequence, seeded FROM hub_log_head").rows.first,
              let sequence = head[0].int64, head[1].bool == true else {
            throw StoreError(.notFound, "the hub's database in PostgreSQL holds no hub yet: make the hub's first process "
                             + "with `sitesync init --role hub --store URL`")
        }
        var present: [String: Set<String>] = [:]
        for row in try transaction.execute(
            "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = current_schema()").rows {
            if let table = row[0].text, let column = row[1].text { present[table, default: []].insert(column) }
        }
        for layout in layouts {
            // A table or column this SiteSync has and the database lacks holds nothing yet (the
            // copy's checks refuse a database of another version).
            guard let columns = present[layout.name] else { continue }
            let selected = layout.columns.map { columns.contains($0.name) ? selection($0) : "NULL" }
            try transaction.execute("DECLARE copy_rows NO SCROLL CURSOR FOR SELECT \(selected.joined(separator: ", ")) FROM "
                                    + PostgresMirror.quoted(layout.name))
            while true {
                let batch = try transaction.execute("FETCH 2000 FROM copy_rows")
                if batch.isEmpty { break }
                for row in batch.rows {
                    try insert(layout.name, zip(row, layout.columns).map { try sqliteValue($0, $1, table: layout.name) })
                }
            }
            try transaction.execute("CLOSE copy_rows")
        }
        let digest = try transaction.execute("SELECT digest FROM hub_log WHERE sequence = $1", [.int64(sequence)]).scalar?.text
        return HubLogPosition(sequence: sequence, digest: digest)
    }

    /// How a column is read so that its value comes back as the working copies hold it: dates
    /// as `YYYY-MM-DD`, floating point as the shortest text that reads back exactly; the rest
    /// in binary (a NUMERIC as its decimal text, digit for digit as the copy wrote it).
    private static func selection(_ column: TableLayout.Column) -> String {
        let name = PostgresMirror.quoted(column.name)
        switch column.type {
        case .date: return "to_char(\(name), 'YYYY-MM-DD')"
        case .real: return "\(name)::text"
        case .integer, .text, .blob, .decimal: return name
        }
    }

    private static func sqliteValue(_ value: PostgresValue, _ column: TableLayout.Column, table: String) throws -> DatabaseValue {
        switch value {
        case .null: return .null
        case .int64(let integer): return integer.databaseValue
        case .bytea(let bytes): return Data(bytes).databaseValue
        case .numeric(let decimal): return decimal.databaseValue
        case .bool(let flag): return (flag ? 1 : 0).databaseValue
        case .text(let text):
            guard column.type == .real else { return text.databaseValue }
            guard let real = Double(text) else {
                throw PostgresError(kind: .unsupported, message: "\(table).\(column.name) holds '\(text)', not a number")
            }
            return real.databaseValue
        }
    }
}
