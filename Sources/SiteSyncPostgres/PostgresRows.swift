/// What a statement returned: its columns' names, its rows (values in column order) and, for an
/// INSERT, UPDATE or DELETE, how many rows it touched. Read whole, so that it outlives the
/// libpq result and crosses threads freely.
public struct PostgresRows: Sendable, Hashable {
    public let columns: [String]
    public let rows: [[PostgresValue]]
    /// The count from the command tag ("UPDATE 3" gives 3); 0 for a statement without one.
    public let affectedRows: Int

    public init(columns: [String], rows: [[PostgresValue]], affectedRows: Int) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    public var count: Int { rows.count }
    public var isEmpty: Bool { rows.isEmpty }

    /// The value of `column` (by name) in row `row`; `nil` when there is no such column.
    public func value(_ row: Int, _ column: String) -> PostgresValue? {
        columns.firstIndex(of: column).map { rows[row][$0] }
    }

    /// The first row's first value: what `SELECT count(*) …` answers; `nil` when there is no row.
    public var scalar: PostgresValue? { rows.first?.first }
}
