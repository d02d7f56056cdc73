import Testing
@testable import SiteSyncCore

/// The value rules (issue 14): each seen defect, judged by the one function every path asks.
@Suite struct ValueRulesTests {
    let schema = Schema.siteSync

    /// The rules' verdict on a record of `collection` holding `values`, `written` naming the
    /// fields the write sets (all of them by default); `kpi` is the KPI k1 a reading looks up,
    /// `activity` the activity a1 a percentage looks up.
    func denial(_ collection: String, _ values: [String: FieldValue], written: Set<String>? = nil,
                kpi: [String: FieldValue]? = nil, activity: [String: FieldValue]? = nil) -> WriteDenial? {
        let spec = schema.collection(named: collection)!
        let held = [("kpi", "k1", kpi), ("activity", "a1", activity)]
        return ValueRules.denial(spec, id: "r1", value: { values[$0.name] ?? .null }, written: written ?? Set(values.keys),
                                 schema: schema, lookup: { key in
            guard let (name, _, fields) = held.first(where: { key == RecordKey(collection: schema.collection(named: $0.0)!.code, id: $0.1) }),
                  let fields else { return nil }
            let heldSpec = schema.collection(named: name)!
            var state = RecordState(key: key)
            let dot = Dot(replica: ReplicaID(rawValue: 1), counter: 1)
            let writes = fields.map { name, value in FieldWrite.assign(heldSpec.field(named: name)!.code, value, supersede: true) }
            _ = try? state.apply(Change(dot: dot, hlc: HLCTimestamp(milliseconds: 1, logical: 0), record: key, department: "roads",
                                        context: VersionVector(), body: .upsert(writes)), in: heldSpec)
            return state
        })
    }

    @Test func negativeBudgetsPlannedQuantitiesAndCostsAreRefused() {
        #expect(denial("project", ["budget": .decimal(ExactDecimal("-50000")!)])?.reason.contains("negative budgets are refused") == true)
        #expect(denial("activity", ["budget_quantity": .decimal(ExactDecimal("-1")!)])?.code == .invalidValue)
        #expect(denial("cost_entry", ["amount": .decimal(ExactDecimal("-500")!)])?.reason.contains("negative costs are refused") == true)
        #expect(denial("project", ["budget": .decimal(ExactDecimal("0")!)]) == nil)
        // A negative quantity entry corrects an over-reported one.
        #expect(denial("quantity_entry", ["quantity": .decimal(ExactDecimal("-3")!)]) == nil)
    }

    @Test func datesMustBeInOrderAndOnlyAWriteOfThemIsJudged() {
        let crossed: [String: FieldValue] = ["planned_start": .date(CalendarDate("2026-06-01")!),
                                              "planned_finish": .date(CalendarDate("2026-05-01")!)]
        #expect(denial("activity", crossed)?.reason.contains("planned_finish 2026-05-01 is before planned_start 2026-06-01") == true)
        #expect(denial("project", crossed)?.code == .invalidValue)
        #expect(denial("activity", ["actual_start": .date(CalendarDate("2026-06-01")!),
                                    "actual_finish": .date(CalendarDate("2026-05-31")!)])?.code == .invalidValue)
        // A record already out of order does not stop an unrelated edit.
        #expect(denial("activity", crossed.merging(["remarks": .text("ok")]) { a, _ in a }, written: ["remarks"]) == nil)
    }

    @Test func aPercentOnAnActivityMeasuredByQuantityIsRefusedWithTheReason() {
        let entry: [String: FieldValue] = ["activity": .ref("a1"), "date": .date(CalendarDate("2026-11-20")!),
                                            "percent": .decimal(ExactDecimal("90")!)]
        let refused = denial("percent_entry", entry, activity: ["name": .text("Earthworks"), "ev_method": .symbol("units")])
        #expect(refused?.reason.contains("measured by quantity (ev_method units, the default)") == true, "\(String(describing: refused))")
        #expect(denial("percent_entry", entry, activity: ["name": .text("Earthworks")])?.code == .invalidValue, "units is the default")
        #expect(denial("percent_entry", entry, activity: ["name": .text("Design"), "ev_method": .symbol("manual")]) == nil)
        #expect(denial("percent_entry", entry, activity: nil) == nil, "an activity not held is not judged")
    }

    @Test func aStateSaysItsDay() {
        let completed: [String: FieldValue] = ["status": .symbol("completed"), "actual_start": .date(CalendarDate("2026-11-02")!)]
        #expect(denial("activity", completed)?.reason.contains("status completed needs actual_finish") == true)
        var finished = completed
        finished["actual_finish"] = .date(CalendarDate("2026-11-20")!)
        #expect(denial("activity", finished) == nil)
        #expect(denial("activity", ["status": .symbol("in_progress")])?.reason.contains("needs actual_start") == true)
        #expect(denial("activity", ["status": .symbol("not_started")]) == nil)
        #expect(denial("risk", ["status": .symbol("closed"), "raised_on": .date(CalendarDate("2026-11-02")!)])?.code == .invalidValue)
        #expect(denial("risk", ["status": .symbol("closed"), "closed_on": .date(CalendarDate("2026-11-02")!)]) == nil)
        #expect(denial("issue", ["status": .symbol("resolved")])?.reason.contains("needs closed_on") == true)
        #expect(denial("risk", ["raised_on": .date(CalendarDate("2026-11-05")!), "closed_on": .date(CalendarDate("2026-11-02")!)])?
            .reason.contains("closed_on 2026-11-02 is before raised_on 2026-11-05") == true)
        // A record whose state lacks its day does not stop an unrelated edit.
        #expect(denial("activity", completed.merging(["remarks": .text("ok")]) { a, _ in a }, written: ["remarks"]) == nil)
    }

    @Test func aRetiredFieldIsWrittenByNoOne() throws {
        let activity = try #require(schema.collection(named: "activity"))
        let retired = try #require(activity.field(named: "percent_complete"))
        #expect(retired.isRetired)
        for role in Role.allCases {
            let denial = WritePolicy.fieldDenial(role, activity, retired, value: .decimal(ExactDecimal(40)))
            #expect(denial?.code == .invalidValue && denial?.reason.contains("sitesync progress ACTIVITY --percent") == true, "\(role)")
        }
    }

    @Test func aReadingMustLieInsideItsPercentageKPIsRange() {
        let reading: [String: FieldValue] = ["kpi": .ref("k1"), "period": .text("2026-10"), "value": .decimal(ExactDecimal("150")!)]
        let percent: [String: FieldValue] = ["name": .text("Pass rate"), "unit": .text("%")]
        #expect(denial("kpi_reading", reading, kpi: percent)?.reason.contains("150 is outside the range of KPI Pass rate") == true)
        var inside = reading
        inside["value"] = .decimal(ExactDecimal("94.5")!)
        #expect(denial("kpi_reading", inside, kpi: percent) == nil)
        // A KPI counted in other units (accidents, days) has no declared range; a KPI not held is not judged.
        #expect(denial("kpi_reading", reading, kpi: ["name": .text("Days lost"), "unit": .text("d")]) == nil)
        #expect(denial("kpi_reading", reading, kpi: nil) == nil)
    }
}
