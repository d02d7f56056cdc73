import GRDB

extension ReplicaStore {
    /// Runs a read-only query over the typed tables (what people see: live records, values as
    /// their canonical text) and returns its rows as text, for reports that aggregate in SQL.
    /// All queries of one call see one snapshot.
    public func rows(_ queries: [(sql: String, arguments: [String])]) throws -> [[[String?]]] {
        try StoreError.mapping { try pool.read { db in try Self.rows(db, queries) } }
    }

    static func rows(_ db: Database, _ queries: [(sql: String, arguments: [String])]) throws -> [[[String?]]] {
        try queries.map { query in
            try Row.fetchAll(db, sql: query.sql, arguments: StatementArguments(query.arguments)).map { row in
                (0..<row.count).map { index -> String? in
                    let value: DatabaseValue = row[index]
                    switch value.storage {
                    case .null: return nil
                    case .int64(let int): return String(int)
                    case .double(let double): return String(double)
                    case .string(let text): return text
                    case .blob: return nil
                    }
                }
            }
        }
    }
}
