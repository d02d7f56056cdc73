import Foundation
import GRDB
import SiteSyncStore

/// The hub's tables in PostgreSQL, for whoever reads them with SQL (a BI tool, `psql`): every
/// table of a working copy, with its name and columns, decimals as NUMERIC and dates as DATE,
/// kept by replaying each logged changeset's row operations in the transaction that logs it
/// (docs/design.md §18). Replayed as upserts and deletes by primary key, so a row someone
/// changed by hand is set right by the next change to it rather than stopping the hub.
public struct PostgresMirror: Sendable {
    public let tables: [String: TableLayout]

    public init(_ layouts: [TableLayout]) {
        tables = Dictionary(uniqueKeysWithValues: layouts.map { ($0.name, $0) })
    }

    /// The columns of each table the database has now (``existingColumnsSQL``'s rows).
    public typealias ExistingColumns = [String: Set<String>]

    /// Lists the tables and columns of the connection's schema: what ``createSQL(existing:)``
    /// needs to know.
    public static let existingColumnsSQL = """
        SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = current_schema()
        """

    /// Creates the tables and the columns the database lacks (a newer SiteSync adds fields), and
    /// nothing else: empty when it lacks none. Every process of the hub runs it when it starts,
    /// and every command at the hub: an `ALTER TABLE` of a column that exists would still take
    /// the table's exclusive lock, waiting for any reader of it (a BI tool's long query) while
    /// every write to the table queued behind it.
    public func createSQL(existing: ExistingColumns) -> String {
        tables.values.sorted { $0.name < $1.name }.map { table in
            guard let present = existing[table.name] else {
                let keys = table.columns.filter(\.isKey).map { Self.quoted($0.name) }
                let columns = table.columns.map { "\(Self.quoted($0.name)) \(Self.sqlType($0.type))" }
                return "CREATE TABLE IF NOT EXISTS \(Self.quoted(table.name)) (\(columns.joined(separator: ", "))"
                    + (keys.isEmpty ? "" : ", PRIMARY KEY (\(keys.joined(separator: ", ")))") + ");\n"
            }
            return table.columns.filter { !present.contains($0.name) }.map { column in
                "ALTER TABLE \(Self.quoted(table.name)) ADD COLUMN IF NOT EXISTS \(Self.quoted(column.name)) \(Self.sqlType(column.type));\n"
            }.joined()
        }.joined()
    }

    /// The statements that replay `operation`.
    public func statement(for operation: RowOperation) throws -> (sql: String, parameters: [PostgresValue]) {
        guard let table = tables[operation.table], table.columns.count == operation.primaryKey.count else {
            throw PostgresError(kind: .misuse, message: "a changeset names table \(operation.table), which the PostgreSQL copy does not know as it is",
                                advice: "Restart the hub process, so that it creates the tables of its SiteSync version")
        }
        let name = Self.quoted(table.name)
        let keys = table.columns.indices.filter { table.columns[$0].isKey }
        var parameters: [PostgresValue] = []
        func parameter(_ column: Int, _ value: DatabaseValue?) throws -> String {
            parameters.append(try Self.value(value ?? .null, table.columns[column]))
            return "$\(parameters.count)::\(Self.sqlType(table.columns[column].type))"
        }
        switch operation.kind {
        case .insert:
            let columns = table.columns.map { Self.quoted($0.name) }
            let values = try table.columns.indices.map { try parameter($0, operation.new[$0]) }
            let updates = table.columns.filter { !$0.isKey }.map { "\(Self.quoted($0.name)) = excluded.\(Self.quoted($0.name))" }
            let conflict = keys.isEmpty ? "" : " ON CONFLICT (\(keys.map { Self.quoted(table.columns[$0].name) }.joined(separator: ", "))) "
                + (updates.isEmpty ? "DO NOTHING" : "DO UPDATE SET \(updates.joined(separator: ", "))")
            return ("INSERT INTO \(name) (\(columns.joined(separator: ", "))) VALUES (\(values.joined(separator: ", ")))\(conflict)", parameters)
        case .update:
            let changed = try table.columns.indices.filter { operation.new[$0] != nil }.map {
                "\(Self.quoted(table.columns[$0].name)) = \(try parameter($0, operation.new[$0]))"
            }
            let key = try keys.map { "\(Self.quoted(table.columns[$0].name)) = \(try parameter($0, operation.old[$0]))" }
            return ("UPDATE \(name) SET \(changed.joined(separator: ", ")) WHERE \(key.joined(separator: " AND "))", parameters)
        case .delete:
            let key = try keys.map { "\(Self.quoted(table.columns[$0].name)) = \(try parameter($0, operation.old[$0]))" }
            return ("DELETE FROM \(name) WHERE \(key.joined(separator: " AND "))", parameters)
        }
    }

    static func sqlType(_ type: TableLayout.ColumnType) -> String {
        switch type {
        case .integer: "BIGINT"
        case .text: "TEXT"
        case .blob: "BYTEA"
        case .real: "DOUBLE PRECISION"
        case .decimal: "NUMERIC"
        case .date: "DATE"
        }
    }

    /// A SQLite value as the parameter for `column`: integers and blobs as they are, the rest
    /// as text that the statement casts to the column's type.
    static func value(_ value: DatabaseValue, _ column: TableLayout.Column) throws -> PostgresValue {
        switch value.storage {
        case .null: return .null
        case .int64(let integer): return column.type == .integer ? .int64(integer) : .text(String(integer))
        case .double(let real): return .text(String(real))
        case .string(let text): return .text(text)
        case .blob(let data): return .bytea([UInt8](data))
        }
    }

    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
