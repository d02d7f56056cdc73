import Foundation
import Synchronization
import SiteSyncCore
import SiteSyncPerformance
import SiteSyncStore

/// A project's planned value by date, remembered as the roll-ups ask for it.
///
/// A department's SPI(t) searches its planned-value curve at a dozen dates or more, and each
/// date costs every activity's planned value. The values depend only on the project's
/// activities' plans, so they hold as long as the project is not reloaded: a refresh after a
/// progress write, which moves the earned value and so the dates searched, computes the other
/// projects' values only at dates not asked before. A project reloaded gets a new memo.
final class PlannedValueMemo: Sendable {
    /// Beyond this many dates the memo starts again (a bound on memory, never on correctness).
    static let capacity = 512
    private let values = Mutex<[Int: ExactDecimal]>([:])

    /// ``RollUp/plannedValue(of:asOf:)`` of `project` (the one this memo was made for).
    func value(of project: ProjectInput, at date: CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal {
        let day = date.daysSinceEpoch
        if let held = values.withLock({ $0[day] }) { return held }
        let value = try RollUp.plannedValue(of: project, asOf: date)
        values.withLock { values in
            if values.count >= Self.capacity { values.removeAll(keepingCapacity: true) }
            values[day] = value
        }
        return value
    }
}

/// One project's share of a snapshot: its assessment, its JSON object, and its remembered
/// planned values. Reused as it is by the next snapshot while no change touches the project.
struct ProjectPart: Sendable {
    let assessment: ProjectAssessment
    let json: JSONValue
    let plannedValues: PlannedValueMemo
    /// PV, EV and AC at each point of the snapshot's S-curve (``MonthlyReview/curvePoints(month:asOf:)``);
    /// empty when the part was made without it.
    let curve: [EarnedValueFigures]

    init(_ assessment: ProjectAssessment, curve: [EarnedValueFigures] = []) throws {
        self.assessment = assessment
        json = try Reports.computing(asOf: assessment.asOf) { try ReportText.projectJSON(assessment) }
        plannedValues = PlannedValueMemo()
        self.curve = curve
    }

    var id: String { assessment.project.id }

    /// The parts of projects loaded with their curves (``ProjectData/load(_:asOf:projects:curveDates:)``).
    static func assessing(_ inputs: [(input: ProjectInput, curve: [EarnedValueFigures])], asOf: CalendarDate,
                          thresholds: Thresholds) throws -> [ProjectPart] {
        try Reports.computing(asOf: asOf) {
            try inputs.map { try ProjectPart(ProjectAssessor.assess($0.input, asOf: asOf, thresholds: thresholds), curve: $0.curve) }
        }
    }
}

/// Today's figures as last computed, and what the next refresh starts from: the log's position
/// when their data was read, and which project held each activity, risk, KPI and goal then.
struct FiguresBase: Sendable {
    let asOf: CalendarDate
    var snapshot: FiguresSnapshot
    var position: LogPosition
    var parts: [ProjectPart]
    /// The project each activity, risk, KPI and goal of the snapshot belongs to: a change that
    /// moves one (or deletes it) touches the project it left too.
    var owners: [RecordKey: String]
    /// When the figures were last computed from everything.
    let fullAt: Double

    init(asOf: CalendarDate, snapshot: FiguresSnapshot, position: LogPosition, parts: [ProjectPart], schema: Schema, fullAt: Double) {
        self.asOf = asOf
        self.snapshot = snapshot
        self.position = position
        self.parts = parts
        self.fullAt = fullAt
        owners = [:]
        for part in parts { own(part.assessment.project, schema: schema) }
    }

    mutating func own(_ project: ProjectInput, schema: Schema) {
        for key in Self.children(of: project, schema: schema) { owners[key] = project.id }
    }

    mutating func disown(_ project: ProjectInput, schema: Schema) {
        for key in Self.children(of: project, schema: schema) where owners[key] == project.id { owners[key] = nil }
    }

    static func children(of project: ProjectInput, schema: Schema) -> [RecordKey] {
        func keys(_ collection: String, _ ids: [String]) -> [RecordKey] {
            guard let code = schema.collection(named: collection)?.code else { return [] }
            return ids.map { RecordKey(collection: code, id: $0) }
        }
        return keys("activity", project.activities.map(\.id)) + keys("risk", project.risks.map(\.id))
            + keys("kpi", project.kpis.map(\.id)) + keys("goal", project.goals.map(\.id))
    }
}

/// Which projects the changes logged since a snapshot touch, read in the same database snapshot
/// as the projects are then reloaded from.
///
/// A record counts for the project it belongs to now (its row's `project`, through its activity
/// or KPI for entries and readings) and, for the records whose project can change or that can
/// be deleted (activities, risks, KPIs, goals), the one it belonged to in the last snapshot.
/// The entries, daily logs and readings name their parent in an immutable field; one deleted,
/// one whose parent field is written again (only a conflict resolution can), or one in conflict cannot be placed from
/// its row, and records of any collection not under a project (departments, period closes…)
/// are not placed at all: for those the answer is `nil`, a recompute of everything.
enum TouchedProjects {
    /// Records under a project through a `project` field, whose last project the snapshot knows.
    static let owned: Set<String> = ["activity", "risk", "kpi", "goal"]
    /// Records under a project through an immutable parent field, found through their row.
    static let parentOf: [String: (field: String, project: String)] = [
        "daily_log": ("project", "e.project"), "issue": ("project", "e.project"),
        "percent_entry": ("activity", "(SELECT project FROM activity WHERE id = e.activity)"),
        "quantity_entry": ("activity", "(SELECT project FROM activity WHERE id = e.activity)"),
        "cost_entry": ("activity", "(SELECT project FROM activity WHERE id = e.activity)"),
        "kpi_reading": ("kpi", "(SELECT project FROM kpi WHERE id = e.kpi)"),
    ]

    static func find(_ changes: [Change], _ reader: SnapshotReader, owners: [RecordKey: String], schema: Schema) throws -> Set<String>? {
        var touched = Set<String>()
        var lookups: [String: Set<String>] = [:]
        for change in changes {
            guard let collection = schema.collection(code: change.record.collection) else { return nil }
            let id = change.record.id
            if collection.name == "project" {
                touched.insert(id)
            } else if owned.contains(collection.name) {
                if let owner = owners[change.record] { touched.insert(owner) }
                if !change.isDelete { lookups[collection.name, default: []].insert(id) }
            } else if let parent = parentOf[collection.name] {
                // Its parent field is written when it is created (from an empty context); written
                // again, only a conflict resolution can have replaced it, from a parent unknown here.
                let field = collection.field(named: parent.field)?.code
                guard case .upsert(let writes) = change.body,
                      change.context.isEmpty || !writes.contains(where: { $0.field == field }) else { return nil }
                lookups[collection.name, default: []].insert(id)
            } else {
                return nil
            }
        }
        for (collection, ids) in lookups {
            let project = owned.contains(collection) ? "e.project" : parentOf[collection]!.project
            let checked = parentOf[collection] != nil
            let sorted = ids.sorted()
            for start in stride(from: 0, to: sorted.count, by: 500) {
                let chunk = Array(sorted[start..<min(start + 500, sorted.count)])
                let sql = """
                    SELECT \(project), coalesce((SELECT conflicts FROM sync_record WHERE id = e.rowid), 0)
                    FROM \(collection) e WHERE e.id IN (\((1...chunk.count).map { "?\($0)" }.joined(separator: ", ")))
                    """
                for row in try reader.rows([(sql, chunk)])[0] {
                    if checked && (Int(row[1] ?? "0") ?? 0) > 0 { return nil }
                    if let owner = row[0] { touched.insert(owner) }
                }
            }
        }
        return touched
    }
}
