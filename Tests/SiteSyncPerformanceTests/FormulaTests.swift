import SiteSyncCore
import Testing
@testable import SiteSyncPerformance

/// Every formula against examples computed by hand (docs/design.md §11).
struct FormulaTests {
    static func day(_ text: String) -> CalendarDate { CalendarDate(text)! }

    /// 1,000 budgeted over ten days, 1–10 November: 100 a day.
    static func kerbs(_ method: EarnedValueMethod = .units, status: ActivityStatus = .inProgress) -> ActivityInput {
        ActivityInput(id: "a1", budget: 1000, budgetQuantity: 200, plannedStart: day("2026-11-01"), plannedFinish: day("2026-11-10"),
                      method: method, status: status,
                      quantities: [DatedAmount(day("2026-11-02"), 50), DatedAmount(day("2026-11-04"), 30), DatedAmount(day("2026-11-06"), 40)],
                      costs: [DatedAmount(day("2026-11-03"), 300), DatedAmount(day("2026-11-07"), 200)])
    }

    @Test func plannedValueIsTheBudgetSpreadLinearlyOverThePlannedDays() throws {
        let a = Self.kerbs()
        #expect(try ActivityEarnedValue.plannedValue(a, asOf: Self.day("2026-10-31")) == 0)
        #expect(try ActivityEarnedValue.plannedValue(a, asOf: Self.day("2026-11-01")) == 100, "the start day's work is due at its end")
        #expect(try ActivityEarnedValue.plannedValue(a, asOf: Self.day("2026-11-05")) == 500)
        #expect(try ActivityEarnedValue.plannedValue(a, asOf: Self.day("2026-11-10")) == 1000)
        #expect(try ActivityEarnedValue.plannedValue(a, asOf: Self.day("2026-12-01")) == 1000)
        var undated = a
        undated.plannedFinish = nil
        #expect(try ActivityEarnedValue.plannedValue(undated, asOf: Self.day("2026-12-01")) == 0, "without dates nothing is due")
    }

    @Test func unitsCountInstalledQuantitiesUpToTheCutOff() throws {
        let a = Self.kerbs()
        #expect(try ActivityEarnedValue.fractionComplete(a, asOf: Self.day("2026-11-05")) == 0.4, "80 of 200")
        #expect(try ActivityEarnedValue.earnedValue(a, asOf: Self.day("2026-11-05")) == 400)
        #expect(try ActivityEarnedValue.fractionComplete(a, asOf: Self.day("2026-11-30")) == 0.6, "120 of 200")
        var over = a
        over.quantities.append(DatedAmount(Self.day("2026-11-08"), 500))
        #expect(try ActivityEarnedValue.fractionComplete(over, asOf: Self.day("2026-11-30")) == 1, "capped at 1")
        var unplanned = a
        unplanned.budgetQuantity = nil
        #expect(try ActivityEarnedValue.fractionComplete(unplanned, asOf: Self.day("2026-11-30")) == 0, "no quantity plan: nothing earned…")
        unplanned.status = .completed
        #expect(try ActivityEarnedValue.fractionComplete(unplanned, asOf: Self.day("2026-11-30")) == 0,
                "a finished state without its day counts on no day")
        unplanned.actualFinish = Self.day("2026-11-20")
        #expect(try ActivityEarnedValue.fractionComplete(unplanned, asOf: Self.day("2026-11-19")) == 0, "…not before it finished")
        #expect(try ActivityEarnedValue.fractionComplete(unplanned, asOf: Self.day("2026-11-30")) == 1, "…and whole from its day on")
    }

    @Test func eachMethodEarnsAsDeclared() throws {
        var manual = Self.kerbs(.manual)
        manual.percents = [DatedAmount(Self.day("2026-11-03"), 20), DatedAmount(Self.day("2026-11-05"), 35)]
        #expect(try ActivityEarnedValue.fractionComplete(manual, asOf: Self.day("2026-11-02")) == 0, "before any percentage: nothing")
        #expect(try ActivityEarnedValue.fractionComplete(manual, asOf: Self.day("2026-11-04")) == 0.2, "as of its day")
        #expect(try ActivityEarnedValue.fractionComplete(manual, asOf: Self.day("2026-11-05")) == 0.35)
        manual.percents.append(DatedAmount(Self.day("2026-11-07"), 30))
        #expect(try ActivityEarnedValue.fractionComplete(manual, asOf: Self.day("2026-11-08")) == 0.3, "the latest day's, even when lower")
        #expect(try ActivityEarnedValue.fractionComplete(Self.kerbs(.zeroHundred), asOf: Self.day("2026-11-05")) == 0)
        var done = Self.kerbs(.zeroHundred, status: .completed)
        done.actualFinish = Self.day("2026-11-09")
        #expect(try ActivityEarnedValue.fractionComplete(done, asOf: Self.day("2026-11-08")) == 0, "finished after the cut-off")
        #expect(try ActivityEarnedValue.fractionComplete(done, asOf: Self.day("2026-11-09")) == 1)
        var half = Self.kerbs(.fiftyFifty, status: .notStarted)
        half.quantities = []
        half.costs = []
        #expect(try ActivityEarnedValue.fractionComplete(half, asOf: Self.day("2026-11-05")) == 0)
        half.actualStart = Self.day("2026-11-03")
        #expect(try ActivityEarnedValue.fractionComplete(half, asOf: Self.day("2026-11-02")) == 0)
        #expect(try ActivityEarnedValue.fractionComplete(half, asOf: Self.day("2026-11-03")) == 0.5)
        let effort = Self.kerbs(.levelOfEffort)
        #expect(try ActivityEarnedValue.earnedValue(effort, asOf: Self.day("2026-11-05"))
                == ActivityEarnedValue.plannedValue(effort, asOf: Self.day("2026-11-05")), "EV := PV")
    }

    @Test func indicesFollowFromTheSums() throws {
        let f = try ActivityEarnedValue.figures(Self.kerbs(), asOf: Self.day("2026-11-05"))
        #expect(f == EarnedValueFigures(budget: 1000, plannedValue: 500, earnedValue: 400, actualCost: 300))
        #expect(f.schedulePerformanceIndex == 0.8)
        #expect(abs(f.costPerformanceIndex! - 400.0 / 300) < 1e-9, "the exact quotient to 9 decimals")
        #expect(try f.scheduleVariance == -100 && f.costVariance == 100)
        #expect(try f.estimateAtCompletion == 750, "EAC = BAC / CPI = 1000 / (4/3), exactly")
        #expect(f.percentComplete == 40)
    }

    /// PV and EV are rounded once, half away from zero, to 4 decimals (a hundredth of a fen),
    /// before any sum: 1,000 over three days is 333.3333 a day, not 333.333333333.
    @Test func derivedAmountsAreHeldToFourDecimals() throws {
        var thirds = Self.kerbs()
        thirds.plannedFinish = Self.day("2026-11-03")
        thirds.budgetQuantity = 3
        thirds.quantities = [DatedAmount(Self.day("2026-11-02"), 1)]
        #expect(try ActivityEarnedValue.plannedValue(thirds, asOf: Self.day("2026-11-01")) == ExactDecimal("333.3333")!)
        #expect(try ActivityEarnedValue.plannedValue(thirds, asOf: Self.day("2026-11-02")) == ExactDecimal("666.6667")!, "half away from zero")
        #expect(try ActivityEarnedValue.earnedValue(thirds, asOf: Self.day("2026-11-02")) == ExactDecimal("333.3333")!, "1 of 3 installed")
        thirds.budget = ExactDecimal("0.05")!
        thirds.plannedFinish = Self.day("2026-11-08")
        #expect(try ActivityEarnedValue.plannedValue(thirds, asOf: Self.day("2026-11-03")) == ExactDecimal("0.0188")!,
                "0.05 × 3 / 8 = 0.01875: the half rounds away from zero")
        let costly = EarnedValueFigures(budget: 1000, plannedValue: 500, earnedValue: 300, actualCost: 400)
        #expect(try costly.estimateAtCompletion == ExactDecimal("1333.3333")!, "EAC = 1000 × 400 / 300, to 4 decimals")
        let sliver = EarnedValueFigures(budget: 90_000_000_000, plannedValue: 500, earnedValue: 7, actualCost: 3_000_000)
        #expect(try sliver.estimateAtCompletion == ExactDecimal("38571428571428571.4")!,
                "past 10¹⁴ yuan EAC, never summed, keeps the decimals that fit instead of failing the report")
    }

    @Test func nothingDueOrSpentOrBudgetedIsNotADivisionByZero() throws {
        let early = try ActivityEarnedValue.figures(Self.kerbs(), asOf: Self.day("2026-10-01"))
        #expect(early.plannedValue == 0 && early.schedulePerformanceIndex == nil, "PV = 0: not yet due")
        #expect(try early.costPerformanceIndex == nil && early.estimateAtCompletion == nil)
        var free = Self.kerbs()
        free.budget = 0
        let f = try ActivityEarnedValue.figures(free, asOf: Self.day("2026-11-05"))
        #expect(f.earnedValue == 0 && f.percentComplete == 0 && f.schedulePerformanceIndex == nil)
        #expect(try f.costPerformanceIndex == 0 && f.estimateAtCompletion == nil, "spent on zero budget: CPI 0, no EAC")
    }

    @Test func rollUpsAreRatiosOfSumsNotAveragesOfRatios() throws {
        let small = EarnedValueFigures(budget: 200, plannedValue: 100, earnedValue: 50, actualCost: 100)
        let large = EarnedValueFigures(budget: 1800, plannedValue: 900, earnedValue: 900, actualCost: 600)
        let total = try EarnedValueFigures.sum([small, large])
        #expect(total.schedulePerformanceIndex == 0.95, "950 / 1000, not (0.5 + 1.0) / 2")
        #expect(abs(total.costPerformanceIndex! - 950.0 / 700) < 1e-9)
        #expect(total.percentComplete == 47.5)
    }

    @Test func earnedScheduleFindsWhenTheEarnedValueWasPlanned() throws {
        let start = Self.day("2026-11-01"), finish = Self.day("2026-11-10")
        let pv: (CalendarDate) throws(ExactDecimal.Overflow) -> ExactDecimal = { (date) throws(ExactDecimal.Overflow) in try ActivityEarnedValue.plannedValue(Self.kerbs(), asOf: date) }
        #expect(try EarnedSchedule.earnedDays(earnedValue: 400, start: start, finish: finish, plannedValue: pv) == 4)
        #expect(try EarnedSchedule.earnedDays(earnedValue: 450, start: start, finish: finish, plannedValue: pv) == 4.5)
        #expect(try EarnedSchedule.index(earnedValue: 400, start: start, finish: finish, asOf: Self.day("2026-11-05"), plannedValue: pv) == 0.8)
        // Five days after the planned finish with 90 % earned: plain SPI says 0.9, SPI(t) 9 / 15.
        #expect(try EarnedSchedule.index(earnedValue: 900, start: start, finish: finish, asOf: Self.day("2026-11-15"), plannedValue: pv) == 0.6)
        #expect(try EarnedSchedule.index(earnedValue: 0, start: start, finish: finish, asOf: Self.day("2026-10-20"), plannedValue: pv) == nil)
    }

    @Test func kpiAchievementFollowsItsDirectionAndIsCapped() throws {
        #expect(KPIScore.achievement(value: 80, baseline: 0, target: 100, direction: .higherBetter) == 0.8)
        #expect(KPIScore.achievement(value: 4, baseline: 10, target: 2, direction: .lowerBetter) == 0.75, "accidents 10 → 2, now 4")
        #expect(KPIScore.achievement(value: 5, baseline: 5, target: 5, direction: .higherBetter) == nil, "target = baseline")
        #expect(KPIScore.score(achievement: 1.2, cap: 1) == 100)
        #expect(abs(KPIScore.score(achievement: 1.3, cap: 1.2) - 120) < 1e-9)
        #expect(KPIScore.score(achievement: -0.5, cap: 1) == 0)
        let kpis = [KPIInput(id: "k1", name: "Investment", direction: .higherBetter, baseline: 0, target: 100, weight: 2, value: 80),
                    KPIInput(id: "k2", name: "Accidents", direction: .lowerBetter, baseline: 10, target: 2, weight: 1, value: nil)]
        let score = KPIScore.weighted(kpis.map { ($0.weight, $0.score(cap: 1)) })!
        #expect(abs(score - 160.0 / 3) < 1e-9, "a missing reading scores 0: (2 × 80 + 1 × 0) / 3")
        #expect(KPIScore.weighted([(1, nil), (0, 50)]) == nil)
    }

    @Test func gradesAndColoursUseTheConfiguredBands() throws {
        #expect([90, 89.99, 80, 79.99, 60, 59.9].map { Grade.of(score: $0) } == [.excellent, .good, .good, .fair, .fair, .poor])
        #expect(Color.of(0.95, green: 0.95, amber: 0.85) == .green && Color.of(0.9, green: 0.95, amber: 0.85) == .amber)
        #expect([Color.green, .red, .amber].max() == .red)
        var strict = Thresholds()
        strict.excellent = 95
        #expect(Grade.of(score: 92, thresholds: strict) == .good)
    }

    @Test func warningsAreDeterministicAndExplained() throws {
        let asOf = Self.day("2026-11-20")
        var late = Self.kerbs()
        late.id = "a7"
        let overdue = WarningRules.activities([late], names: ["a7": "Kerbs"], asOf: asOf, period: "2026-11")
        #expect(overdue.map(\.id) == ["overdue/a7/2026-11"] && overdue[0].level == .red)
        #expect(overdue[0].reason == "Kerbs was due 2026-11-10 and is not finished (10 days late)")
        var supervision = late
        supervision.method = .levelOfEffort
        #expect(WarningRules.activities([supervision], names: [:], asOf: asOf, period: "2026-11").isEmpty, "level of effort is never late")
        #expect(WarningRules.slipTrend(project: "p1", history: [1.0, 0.95, 0.88], period: "2026-11")?.level == .amber)
        #expect(WarningRules.slipTrend(project: "p1", history: [1.0, 0.99, 0.98], period: "2026-11") == nil)
        let risks = [RiskInput(id: "r1", title: "Flooding", probability: 4, impact: 4),
                     RiskInput(id: "r2", title: "Late steel", probability: 2, impact: 5),
                     RiskInput(id: "r3", title: "Strike", probability: 5, impact: 5, closed: true)]
        #expect(WarningRules.risks(project: "p1", risks, period: "2026-11", thresholds: .standard).map(\.id) == ["risk/r1/2026-11"])
        #expect(WarningRules.stale(project: "p1", lastEntry: Self.day("2026-11-10"), underWay: true, asOf: asOf, period: "2026-11",
                                   thresholds: .standard)?.reason == "no field entry for 10 days (the last on 2026-11-10)")
        #expect(WarningRules.cost(project: "p1", figures: EarnedValueFigures(budget: 100, plannedValue: 10, earnedValue: 10, actualCost: 20),
                                  period: "2026-11", thresholds: .standard) == nil, "CPI is judged only after 15 % done")
    }

    /// A project row checked against a hand calculation: two activities at 5 November.
    @Test func aProjectsAssessmentMatchesAHandCalculation() throws {
        var paving = Self.kerbs(.manual)
        paving.id = "a2"
        paving.budget = 3000
        paving.percents = [DatedAmount(Self.day("2026-11-04"), 10)]
        paving.plannedStart = Self.day("2026-11-01")
        paving.plannedFinish = Self.day("2026-11-30")
        paving.costs = [DatedAmount(Self.day("2026-11-04"), 400)]
        let project = ProjectInput(id: "p1", code: "R-001", name: "Ring road", department: "roads",
                                   activities: [Self.kerbs(), paving], lastEntry: Self.day("2026-11-04"))
        let row = try ProjectAssessor.assess(project, asOf: Self.day("2026-11-05"))
        // PV = 500 + 3000 × 5/30 = 1000; EV = 400 + 300 = 700; AC = 300 + 400 = 700.
        #expect(row.figures.plannedValue == 1000, "exact: no binary remainder")
        #expect(row.figures.earnedValue == 700 && row.figures.actualCost == 700)
        #expect(abs(row.figures.schedulePerformanceIndex! - 0.7) < 1e-9 && row.figures.costPerformanceIndex == 1)
        #expect(row.figures.percentComplete == 17.5, "700 of 4,000")
        // PV by day: 100 + 100 a day for d ≤ 10: 200 at the end of day 1, … 1,000 at day 5.
        // EV 700 was planned at day 3.5 (PV(3) = 600, PV(4) = 800): SPI(t) = 3.5 / 5 = 0.7.
        #expect(abs(row.scheduleIndexByTime! - 0.7) < 1e-9)
        #expect(abs(row.score! - 70) < 1e-9 && row.grade == .fair)
        #expect(row.color == .red && row.warnings.first?.id == "schedule/p1/2026-11")
    }
}

extension FormulaTests {
    @Test func departmentsRollUpAsRatiosOfSumsAndBudgetWeightedScores() throws {
        let asOf = Self.day("2026-11-05")
        var small = Self.kerbs()
        small.budget = 100
        small.budgetQuantity = 10
        small.quantities = [DatedAmount(Self.day("2026-11-02"), 1)]
        var large = Self.kerbs()
        large.id = "a2"
        large.budget = 900
        large.budgetQuantity = 100
        large.quantities = [DatedAmount(Self.day("2026-11-02"), 50)]
        let projects = try [ProjectInput(id: "p1", code: "R-1", name: "Small", department: "roads", activities: [small]),
                        ProjectInput(id: "p2", code: "R-2", name: "Large", department: "roads", activities: [large]),
                        ProjectInput(id: "p3", code: "W-1", name: "Later", department: "water", activities: [])]
            .map { try ProjectAssessor.assess($0, asOf: asOf) }
        let rollUps = try RollUp.byDepartment(projects, asOf: asOf)
        #expect(rollUps.map(\.department) == ["roads", "water", ""])
        let roads = rollUps[0]
        // PV 50 + 450 = 500; EV 10 + 450 = 460: SPI 0.92, not the mean of 0.2 and 1.0.
        #expect(roads.figures.plannedValue == 500 && roads.figures.earnedValue == 460)
        #expect(roads.figures.schedulePerformanceIndex == 0.92)
        // Scores 100 × SPI(t): small 1 / 5 → 20 (its EV of 10 was planned by the end of day 1);
        // large 5 / 5 → 100; weighted by budget: (100 × 20 + 900 × 100) / 1000 = 92.
        #expect(abs(roads.score! - 92) < 1e-9)
        #expect(rollUps[1].score == nil && rollUps[1].projects == 1, "nothing due in water yet")
        #expect(rollUps[2].projects == 3 && rollUps[2].figures.earnedValue == 460)
    }
}

extension FormulaTests {
    @Test func goalTreeScoresAreWeightedMeansOfSubGoalsAndLeavesScoreTheirWork() throws {
        let asOf = Self.day("2026-11-05")
        // Carriageway (weight 3) has two sub-goals: earthworks (2) on plan, drainage (1) at half plan.
        // Footways (weight 1) is not due yet.
        var onPlan = Self.kerbs()
        onPlan.id = "x1"
        onPlan.quantities = [DatedAmount(Self.day("2026-11-02"), 100)]   // EV 500 = PV 500
        var behind = Self.kerbs()
        behind.id = "x2"
        behind.quantities = [DatedAmount(Self.day("2026-11-02"), 50)]    // EV 250, PV 500
        var later = Self.kerbs()
        later.id = "x3"
        later.plannedStart = Self.day("2026-12-01")
        later.plannedFinish = Self.day("2026-12-31")
        let goals = [GoalInput(id: "g1", title: "Carriageway", weight: 3), GoalInput(id: "g2", title: "Footways", weight: 1),
                     GoalInput(id: "g11", parent: "g1", title: "Earthworks", weight: 2),
                     GoalInput(id: "g12", parent: "g1", title: "Drainage", weight: 1)]
        let (scores, tree) = try GoalTree.scores(goals: goals, activityGoals: ["x1": "g11", "x2": "g12", "x3": "g2"],
                                             activities: [onPlan, behind, later], asOf: asOf)
        #expect(scores["g11"] == 100 && scores["g12"] == 50)
        #expect(abs(scores["g1"]! - 250.0 / 3) < 1e-9, "(2 × 100 + 1 × 50) / 3")
        #expect(scores["g2"] == nil, "not yet due")
        #expect(abs(tree! - 250.0 / 3) < 1e-9, "the roots with a score, renormalised")
        // A cycle of parents does not hang.
        let cyclic = [GoalInput(id: "a", parent: "b", title: "A"), GoalInput(id: "b", parent: "a", title: "B")]
        #expect(try GoalTree.scores(goals: cyclic, activityGoals: [:], activities: [], asOf: asOf).tree == nil)
    }
}
