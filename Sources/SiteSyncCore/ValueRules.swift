/// The value rules every path applies (protocol §16.3, "Values"): what a record may say, beyond
/// its fields' types. A node's own writes (``LocalWritePlanner``: `record put`, `record import`,
/// `import plan` and every command built on them) and the hub, for each change it receives,
/// ask the same function, so a plan the command line refuses cannot come in by a spreadsheet
/// or over the wire.
///
/// A rule judges the record as it would stand after a change, and only the rules that involve
/// a field the change writes: a record that broke a rule before the rule existed does not stop
/// unrelated edits of it. Rules that need another record (a KPI's range for its reading) look
/// it up; a record not held is not judged.
///
/// - Dates in order: `planned_start` ≤ `planned_finish`, `actual_start` ≤ `actual_finish`.
/// - Not negative: budgets, planned quantities (`budget_quantity`) and costs. A quantity entry
///   may be negative: it is how an over-reported quantity is corrected (entries are never
///   changed).
/// - A KPI reading inside the KPI's range: 0–100 for a KPI measured in percent (`unit` `%`).
/// - No percentage (`percent_entry`) on an activity measured by quantity (`ev_method`
///   `units`): its earned value comes from the quantities installed, and a percentage would be
///   ignored.
/// - A state says its day: an activity in progress or beyond has its `actual_start`, a
///   completed or accepted one its `actual_finish`; a closed risk, or a resolved or closed
///   issue, its `closed_on`. A report as of a date counts the state from that day on.
public enum ValueRules {
    /// Fields that may not be negative, by collection.
    public static let nonNegative: [String: [String]] = [
        "project": ["budget"],
        "activity": ["budget", "budget_quantity"],
        "cost_entry": ["amount"],
    ]

    /// Weights that must be greater than zero, by collection: a weight says how much a part
    /// counts among its siblings (docs/design.md §16); siblings need not sum to 1, but a zero
    /// or negative weight would silently drop the part from, or turn against, its parent's score.
    public static let positive: [String: [String]] = [
        "goal": ["weight"],
        "objective": ["weight"],
        "kpi": ["weight"],
    ]

    /// Pairs of dates of one record where the first may not come after the second.
    public static let datesInOrder: [(first: String, second: String)] = [
        ("planned_start", "planned_finish"),
        ("actual_start", "actual_finish"),
        ("raised_on", "closed_on"),
        ("opened_on", "closed_on"),
    ]

    /// The date field a state needs, by collection and state field: (the states, the field).
    public static let datedStates: [String: [(states: Set<String>, date: String)]] = [
        "activity": [(["in_progress", "completed", "accepted"], "actual_start"), (["completed", "accepted"], "actual_finish")],
        "risk": [(["closed"], "closed_on")],
        "issue": [(["resolved", "closed"], "closed_on")],
    ]

    /// The units that say a KPI is a percentage, whose readings lie from 0 to 100.
    public static let percentUnits: Set<String> = ["%", "percent", "pct"]

    /// Whether any rule judges records of `collection` (a receiver skips the others).
    public static func judges(_ collection: CollectionSpec) -> Bool {
        nonNegative[collection.name] != nil || positive[collection.name] != nil || datedStates[collection.name] != nil
            || ["project", "activity", "kpi_reading", "percent_entry"].contains(collection.name)
    }

    /// Why `record`, as it would stand after a change writing the fields `written` (field
    /// codes), breaks a value rule, or `nil` when it keeps them all.
    /// - Parameter lookup: the state of another record as this replica holds it (`nil` when
    ///   not held).
    public static func denial(
        _ collection: CollectionSpec, record: RecordState, written: Set<UInt16>, schema: Schema,
        lookup: (RecordKey) throws -> RecordState?
    ) rethrows -> WriteDenial? {
        guard !record.isDeleted else { return nil }
        return try denial(collection, id: record.key.id, value: { record.value(of: $0) },
                          written: Set(collection.fields.filter { written.contains($0.code) }.map(\.name)), schema: schema, lookup: lookup)
    }

    /// Why a record of `collection` holding `value(field)` after a write of the fields named in
    /// `written` breaks a value rule, or `nil` when it keeps them all.
    public static func denial(
        _ collection: CollectionSpec, id: String, value fieldValue: (FieldSpec) -> FieldValue, written: Set<String>, schema: Schema,
        lookup: (RecordKey) throws -> RecordState?
    ) rethrows -> WriteDenial? {
        let what = "\(collection.name) \(id)"
        func value(_ name: String) -> FieldValue? {
            guard let spec = collection.field(named: name) else { return nil }
            let value = fieldValue(spec)
            return value.isNull ? nil : value
        }
        func writes(_ names: String...) -> Bool { names.contains { written.contains($0) } }
        for name in nonNegative[collection.name] ?? [] where writes(name) {
            if case .decimal(let amount)? = value(name), amount.isNegative {
                return WriteDenial(.invalidValue, "\(what): \(name) is \(amount); negative \(noun(collection.name, name)) are refused "
                    + "(write 0 or more)")
            }
        }
        for name in positive[collection.name] ?? [] where writes(name) {
            if case .decimal(let weight)? = value(name), weight <= .zero {
                return WriteDenial(.invalidValue, "\(what): \(name) is \(weight); a weight must be greater than 0 (siblings' weights "
                    + "need not sum to 1: give each its relative importance, such as 1, 2 or 0.5)")
            }
        }
        for (first, second) in datesInOrder where writes(first, second) {
            if case .date(let start)? = value(first), case .date(let finish)? = value(second), finish < start {
                return WriteDenial(.invalidValue, "\(what): \(second) \(finish) is before \(first) \(start); "
                    + "give dates in order (\(first) on or before \(second))")
            }
        }
        for (states, dateField) in datedStates[collection.name] ?? [] where writes("status", dateField) {
            if case .symbol(let state)? = value("status"), states.contains(state), value(dateField) == nil {
                return WriteDenial(.invalidValue, "\(what): status \(state) needs \(dateField), the day it became so, "
                    + "so that a report as of an earlier day does not count it; give \(dateField)=YYYY-MM-DD too")
            }
        }
        if collection.name == "percent_entry", writes("percent", "activity"), case .ref(let activityID)? = value("activity"),
           let activities = schema.collection(named: "activity"),
           let activity = try lookup(RecordKey(collection: activities.code, id: activityID)), !activity.isDeleted,
           let method = activities.field(named: "ev_method"), [FieldValue.null, .symbol("units")].contains(activity.value(of: method)) {
            return WriteDenial(.invalidValue, "activity \(activityID) is measured by quantity (ev_method units, the default): its progress is the "
                + "quantity installed, so a percent complete would be ignored; record the quantity (`sitesync progress ACTIVITY --qty N`), "
                + "or ask the central office to measure it by percentage (ev_method=manual)")
        }
        if collection.name == "kpi_reading", writes("value"), case .decimal(let reading)? = value("value"),
           case .ref(let kpiID)? = value("kpi"), let kpis = schema.collection(named: "kpi"),
           let kpi = try lookup(RecordKey(collection: kpis.code, id: kpiID)), !kpi.isDeleted {
            let unit = kpis.field(named: "unit").map { kpi.value(of: $0).displayText } ?? ""
            let name = kpis.field(named: "name").map { kpi.value(of: $0).displayText } ?? kpiID
            if percentUnits.contains(unit.lowercased()), reading < .zero || reading > ExactDecimal(100) {
                return WriteDenial(.invalidValue, "\(what): \(reading) is outside the range of KPI \(name), a percentage (0 to 100); "
                    + "check the reading")
            }
        }
        return nil
    }

    /// What a negative value of `field` is called in a refusal ("budgets", "costs").
    static func noun(_ collection: String, _ field: String) -> String {
        switch (collection, field) {
        case ("cost_entry", _): "costs"
        case (_, "budget_quantity"): "planned quantities"
        default: "\(field)s"
        }
    }
}
