import SiteSyncCore
import Testing
@testable import SiteSyncPerformance

/// The completion forecasts (docs/design.md §17) against cases solvable by hand.
struct ForecastTests {
    static func day(_ text: String) -> CalendarDate { CalendarDate(text)! }
    static let asOf = day("2026-01-18")

    /// 140 m³ planned; 5 m³ every day of two whole weeks (Monday 5 January to Sunday 18 January)
    /// at 10 yuan a m³: 70 done, 70 left at exactly 5 a day with no spread.
    static func steady(id: String = "a1", name: String = "Earthworks") -> ForecastActivity {
        ForecastActivity(id: id, name: name, method: .units, status: .inProgress, plannedStart: day("2026-01-05"),
                         plannedFinish: day("2026-02-01"), actualStart: day("2026-01-05"), budget: 1400, plannedQuantity: 140,
                         weeks: [.init(monday: day("2026-01-05"), progress: 35, cost: 350), .init(monday: day("2026-01-12"), progress: 35, cost: 350)],
                         firstProgress: day("2026-01-05"))
    }

    /// An activity whose weekly output varies: 20, 50, 30 and 40 m³ over four weeks, 400 planned.
    static func uneven(id: String = "a2", name: String = "Drainage") -> ForecastActivity {
        let mondays = ["2025-12-22", "2025-12-29", "2026-01-05", "2026-01-12"].map(day)
        return ForecastActivity(id: id, name: name, method: .units, status: .inProgress, plannedStart: mondays[0],
                                plannedFinish: day("2026-03-01"), budget: 8000, plannedQuantity: 400,
                                weeks: zip(mondays, [20.0, 50, 30, 40]).map { .init(monday: $0, progress: $1, cost: $1 * 21 + 40) },
                                firstProgress: mondays[0])
    }

    static func project(_ activities: [ForecastActivity], rainDays: Set<Int> = [], logged: Int = 0) -> ForecastProject {
        ForecastProject(id: "p1", code: "R-1", name: "Ring road", activities: activities, rainDays: rainDays, loggedDays: logged)
    }

    @Test func aConstantRateGivesAPointForecast() {
        let forecast = Forecast.project(Self.project([Self.steady()]), asOf: Self.asOf)
        let a = forecast.activities[0]
        #expect(a.basis == .observed && a.rate == 5 && a.rateSpread == 0 && a.periods == 2 && a.remaining == 70)
        // 70 left at 5 a day: 14 days from 19 January, the last of them 1 February.
        for finish in [a.finish.p50, a.finish.p80, a.finish.p95, forecast.finish?.p50, forecast.finish?.p80, forecast.finish?.p95] {
            #expect(finish == Self.day("2026-02-01"))
        }
        // 700 spent, 70 more at 10 a unit.
        for eac in [a.eac.p50, a.eac.p95, forecast.eac?.p50, forecast.eac?.p80, forecast.eac?.p95] { #expect(eac == 1400) }
    }

    @Test func rainDaysCountNoOutputAndStretchTheRest() {
        // Two rain days in the two weeks: 70 over 12 working days; at 0 rain days a month ahead,
        // 70 / (70/12) = 12 working days.
        let rain: Set<Int> = [Self.day("2026-01-06").daysSinceEpoch, Self.day("2026-01-13").daysSinceEpoch]
        let project = Self.project([Self.steady()], rainDays: rain, logged: 14)
        let dry = Forecast.project(project, asOf: Self.asOf, scenario: Scenario(rainDaysPerMonth: 0))
        #expect(dry.finish?.p50 == Self.day("2026-01-30"), "12 working days from 19 January")
        // The logs' own rate: 2 of 14 days, 4.35 a month: 12 × 30.4375 / (30.4375 − 4.348) = 14 days.
        let observed = Forecast.project(project, asOf: Self.asOf)
        #expect(abs(observed.rainDaysPerMonth - 2.0 / 14 * 30.4375) < 1e-9)
        #expect(observed.finish?.p50 == Self.day("2026-02-01"))
        let wet = Forecast.project(project, asOf: Self.asOf, scenario: Scenario(rainDaysPerMonth: 8))
        #expect(wet.finish!.p50 > observed.finish!.p50, "more rain, a later finish")
    }

    @Test func theSameSeedGivesTheSameForecastAndPercentilesAreOrdered() {
        let project = Self.project([Self.steady(), Self.uneven()])
        let one = Forecast.project(project, asOf: Self.asOf), two = Forecast.project(project, asOf: Self.asOf)
        #expect(one.finish?.p50 == two.finish?.p50 && one.finish?.p80 == two.finish?.p80 && one.finish?.p95 == two.finish?.p95)
        #expect(one.eac?.p50 == two.eac?.p50 && one.eac?.p80 == two.eac?.p80 && one.eac?.p95 == two.eac?.p95)
        let finish = one.finish!, eac = one.eac!
        #expect(finish.p50 <= finish.p80 && finish.p80 <= finish.p95 && finish.p50 < finish.p95, "\(finish)")
        #expect(eac.p50 <= eac.p80 && eac.p80 <= eac.p95 && eac.p50 < eac.p95, "\(eac)")
        for a in one.activities {
            #expect(a.finish.p50 <= a.finish.p80 && a.finish.p80 <= a.finish.p95 && a.eac.p50 <= a.eac.p80 && a.eac.p80 <= a.eac.p95)
        }
        let other = Forecast.project(project, asOf: Self.asOf, settings: ForecastSettings(seed: 7))
        #expect(other.eac?.p50 != one.eac?.p50, "another seed, other draws")
    }

    /// One uncertain activity: the project's finish is that activity's, so the simulated
    /// percentiles must land on the activity's exact ones (within a day: the runs' sampling error).
    @Test func theRunsReproduceAKnownDistribution() {
        let forecast = Forecast.project(Self.project([Self.uneven()]), asOf: Self.asOf, settings: ForecastSettings(runs: 40_000))
        let exact = forecast.activities[0]
        #expect(exact.rate == 140.0 / 28 && abs(exact.rateSpread - (100.0 / 7 / 12).squareRoot() * 1) < 10)
        for (simulated, known) in [(forecast.finish!.p50, exact.finish.p50), (forecast.finish!.p80, exact.finish.p80),
                                   (forecast.finish!.p95, exact.finish.p95)] {
            #expect(abs(simulated.daysSinceEpoch - known.daysSinceEpoch) <= 1, "\(simulated) against \(known)")
        }
        for (simulated, known) in [(forecast.eac!.p50, exact.eac.p50), (forecast.eac!.p80, exact.eac.p80), (forecast.eac!.p95, exact.eac.p95)] {
            #expect(abs(simulated - known) / known < 0.002, "\(simulated) against \(known)")
        }
    }

    /// An activity that always finishes before another can start is left out of the runs'
    /// finishes: the project's finish percentiles are exactly those without it.
    @Test func anActivityThatCannotFinishLastChangesNoFinish() {
        var early = Self.steady(id: "a9", name: "Setting out")
        early.plannedQuantity = 75  // 70 done, 5 left: a day's work
        let alone = Forecast.project(Self.project([Self.uneven()]), asOf: Self.asOf)
        let both = Forecast.project(Self.project([Self.uneven(), early]), asOf: Self.asOf)
        #expect(both.activities[1].finish.p95 == Self.day("2026-01-19"))
        #expect(both.finish?.p50 == alone.finish?.p50 && both.finish?.p80 == alone.finish?.p80 && both.finish?.p95 == alone.finish?.p95)
        #expect(both.eac!.p50 > alone.eac!.p50, "its cost still counts")
    }

    /// The percentiles are found by selection: the same values a sort gives.
    @Test func selectionFindsWhatSortingFinds() {
        var random = SplitMix64(seed: 3)
        for count in [1, 2, 3, 20, 1000, 10_001] {
            var values = (0..<count).map { _ in Double(random.next() % 50) }  // many ties
            let sorted = values.sorted()
            let ranks = percentileLevels.map { Forecast.rank(of: $0, among: count) }
            values.withUnsafeMutableBufferPointer { buffer in
                var from = 0
                for rank in ranks {
                    Forecast.select(rank, in: buffer, from: from)
                    from = rank + 1
                }
            }
            #expect(ranks.map { values[$0] } == ranks.map { sorted[$0] }, "\(count) values")
        }
    }

    @Test func anActivityWithoutProgressUsesItsPlannedRateAndSaysSo() {
        let later = ForecastActivity(id: "a3", name: "Paving", method: .units, plannedStart: Self.day("2026-03-01"),
                                     plannedFinish: Self.day("2026-03-30"), budget: 3000, plannedQuantity: 600)
        let forecast = Forecast.project(Self.project([Self.steady(), later]), asOf: Self.asOf)
        let paving = forecast.activities[1]
        #expect(paving.basis == .planned && paving.rate == 20 && paving.rateSpread == 5, "600 over 30 days, ± the assumed 25%")
        #expect(paving.finish.p50 == Self.day("2026-03-30"), "at its planned rate from its planned start: its planned finish")
        #expect(paving.finish.p95 > paving.finish.p50 && paving.eac.p50 == 3000)
        #expect(forecast.finish!.p50 >= paving.finish.p50)
        var done = Self.steady()
        done.status = .completed
        done.actualFinish = Self.day("2026-01-16")
        let finished = Forecast.project(Self.project([done]), asOf: Self.asOf).activities[0]
        #expect(finished.basis == .finished && finished.finish.p50 == Self.day("2026-01-16") && finished.finish.p95 == finished.finish.p50)
        #expect(finished.eac.p95 == 700, "a finished activity costs what it cost")
    }

    @Test func whatIfsMoveTheForecastByTheChangeAlone() throws {
        let paving = ForecastActivity(id: "a3", name: "Paving", method: .units, plannedStart: Self.day("2026-01-20"),
                                      plannedFinish: Self.day("2026-02-18"), budget: 3000, plannedQuantity: 600)
        let project = Self.project([Self.uneven(), paving])
        let base = Forecast.project(project, asOf: Self.asOf)
        let faster = Forecast.project(project, asOf: Self.asOf, scenario: try WhatIf.scenario([try WhatIf.parse("crew drainage +30%")], for: project))
        #expect(faster.activities[0].finish.p50 < base.activities[0].finish.p50 && faster.finish!.p50 < base.finish!.p50)
        #expect(faster.activities[1].finish.p50 == base.activities[1].finish.p50, "the other activity is untouched")
        let moved = Forecast.project(project, asOf: Self.asOf,
                                     scenario: try WhatIf.scenario([try WhatIf.parse("start Paving 2026-06-01")], for: project))
        #expect(moved.activities[1].finish.p50 == Self.day("2026-06-30") && moved.finish!.p50 >= Self.day("2026-06-30"))
        let same = Forecast.project(project, asOf: Self.asOf, scenario: try WhatIf.scenario([], for: project))
        #expect(same.finish?.p80 == base.finish?.p80 && same.eac?.p80 == base.eac?.p80, "no change, no difference: the same draws")
    }

    @Test func whatIfClausesParseAndBadOnesSayWhatIsAccepted() throws {
        #expect(try WhatIf.parse("crew Road base +30%") == .crew(activity: "Road base", percent: 30))
        #expect(try WhatIf.parse("CREW a1 -20%") == .crew(activity: "a1", percent: -20))
        #expect(try WhatIf.parse("start Paving 2027-03-01") == .start(activity: "Paving", date: Self.day("2027-03-01")))
        #expect(try WhatIf.parse("rain-days 8/month") == .rainDays(perMonth: 8))
        for bad in ["crew Earthworks 30", "crew +30%", "start Paving March", "rain-days 8", "rain-days 31/month", "hire Earthworks +3", "",
                    "crew Earthworks -100%"] {
            do {
                _ = try WhatIf.parse(bad)
                Issue.record("'\(bad)' was accepted")
            } catch {
                #expect(error.clause == bad && error.description.contains("'crew ACTIVITY +N%', 'start ACTIVITY YYYY-MM-DD' or 'rain-days N/month'"),
                        "\(error)")
            }
        }
        let project = Self.project([Self.steady()])
        do {
            _ = try WhatIf.scenario([.crew(activity: "Paving", percent: 10)], for: project)
            Issue.record("an unknown activity was accepted")
        } catch {
            #expect(error.description.contains("no activity named 'Paving'") && error.description.contains("Earthworks"), "\(error)")
        }
    }

    @Test func tagsAreFoundInChineseAndEnglish() {
        let tags = DailyLogTags.standard
        #expect(tags.tags(of: "上午下雨，停工") == ["rain", "stoppage"])
        #expect(tags.tags(of: "Rained all morning; excavator broke down") == ["breakdown", "rain"])
        #expect(tags.tags(of: "缺料，等水泥") == ["material_shortage"])
        #expect(tags.tags(of: "安全事故一起，监理检查") == ["accident", "inspection"])
        #expect(tags.tags(of: "Drain laid, train of trucks") == [], "rain is a word, not part of one")
        #expect(tags.tags(of: "雨水管安装200米") == [], "a storm-water pipe is not rain")
        #expect(tags.tags(of: "雨水管安装，下午小雨") == ["rain"])
        let edited = tags.overridden(by: ["rain": ["落水"], "frost": ["霜冻", "frost"], "accident": []])
        #expect(edited.tags(of: "下雨") == [] && edited.tags(of: "落水") == ["rain"] && edited.tags(of: "Frost overnight") == ["frost"])
        #expect(edited.tags(of: "accident") == [] && edited.tags(of: "故障") == ["breakdown"])
    }
}
