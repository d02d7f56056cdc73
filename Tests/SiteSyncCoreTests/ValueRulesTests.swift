import Testing
@testable import SiteSyncCore

/// The value rules (issue 14): each seen defect, judged by the one function every path asks.
@Suite struct ValueRulesTests {
    let schema = Schema.siteSync

    /// The rules' verdict on a record of `collection` holding `values`, `written` naming the
    /// fields the write sets (all of them by default); `kpi` is the KPI a reading looks up.
    func denial(_ collection: String, _ values: [String: FieldValue], written: Set<String>? = nil,
                kpi: [String: FieldValue]? = nil) -> WriteDenial? {
        let spec = schema.collection(named: collection)!
        let kpiSpec = schema.collection(named: "kpi")!
        return ValueRules.denial(spec, id: "r1", value: { values[$0.name] ?? .null }, written: written ?? Set(values.keys),
                                 schema: schema, lookup: { key in
            guard let kpi, key == RecordKey(collection: kpiSpec.code, id: "k1") else { return nil }
            var state = RecordState(key: key)
            let dot = Dot(replica: ReplicaID(rawValue: 1), counter: 1)
            let writes = kpi.map { name, value in FieldWrite.assign(kpiSpec.field(named: name)!.code, value, supersede: true) }
            _ = try? state.apply(Change(dot: dot, hlc: HLCTimestamp(milliseconds: 1, logical: 0), record: key, department: "roads",
                                        context: VersionVector(), body: .upsert(writes)), in: kpiSpec)
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
        let units: [String: FieldValue] = ["ev_method": .symbol("units"), "percent_complete": .decimal(ExactDecimal("90")!)]
        let refused = denial("activity", units, written: ["percent_complete"])
        #expect(refused?.reason.contains("measured by quantity (ev_method units)") == true, "\(String(describing: refused))")
        #expect(denial("activity", ["ev_method": .symbol("manual"), "percent_complete": .decimal(ExactDecimal("90")!)],
                       written: ["percent_complete"]) == nil)
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
