import SiteSyncPostgres
@testable import SiteSyncStore
import Testing

/// What a hub process asks of PostgreSQL when it starts: only the tables and columns the
/// database lacks, so that a start takes no table's exclusive lock for nothing (a BI tool's
/// long read would hold it up, and every write behind it).
@Suite struct PostgresMirrorTests {
    static let project = TableLayout(name: "project", columns: [
        .init(name: "id", type: .text, isKey: true), .init(name: "name", type: .text, isKey: false),
        .init(name: "budget", type: .decimal, isKey: false),
    ])
    static let department = TableLayout(name: "department", columns: [
        .init(name: "id", type: .text, isKey: true), .init(name: "name", type: .text, isKey: false),
    ])

    @Test func onlyWhatTheDatabaseLacksIsCreated() {
        let mirror = PostgresMirror([Self.project, Self.department])
        #expect(mirror.createSQL(existing: ["project": ["id", "name", "budget"], "department": ["id", "name"]]).isEmpty)
        let newField = mirror.createSQL(existing: ["project": ["id", "name"], "department": ["id", "name"]])
        #expect(newField == "ALTER TABLE \"project\" ADD COLUMN IF NOT EXISTS \"budget\" NUMERIC;\n", "\(newField)")
        let newTable = mirror.createSQL(existing: ["project": ["id", "name", "budget"]])
        #expect(newTable.hasPrefix("CREATE TABLE IF NOT EXISTS \"department\"") && !newTable.contains("ALTER"), "\(newTable)")
    }
}
