import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncPerformance
import SiteSyncStore

/// The delay model's examples and predictions read from a node's records (docs/design.md §17,
/// "Delay probability"), and the model's file.
///
/// The model is a local file in the data directory (``modelFile``), not a replicated record:
/// it is derived from the records a hub holds, any node holding them can train the same model
/// again (training is deterministic), and the schema gains no collection for it.
public enum DelayHistory {
    public static let modelFile = "forecast-model.json"

    /// A project's plan and outcome as far as the model cares.
    struct Outline {
        var id: String
        var code: String
        var plannedStart: CalendarDate
        var plannedFinish: CalendarDate
        /// The last activity's actual finish, when every activity has one by the cut-off.
        var completed: CalendarDate?
        /// Each `units` activity: its planned output a week.
        var weeklyPlan: [String: Double]
    }

    /// Everything read once: outlines, weekly quantities and tagged log days per project.
    struct Snapshot {
        var outlines: [Outline]
        var weekly: [String: ActivityWeeklySums]
        var activityProject: [String: String]
        /// Per project, per tag, the days (days since 1970-01-01) of logs carrying it.
        var tagDays: [String: [String: [Int]]]
    }

    static func snapshot(_ reader: SnapshotReader, upTo: CalendarDate, tags: DailyLogTags) throws -> Snapshot {
        let day = upTo.description
        let result = try reader.rows([
            ("SELECT id, coalesce(code, id) FROM project ORDER BY code, id", []),
            ("""
             SELECT id, project, planned_start, planned_finish, actual_finish, ev_method, budget_quantity FROM activity ORDER BY id
             """, []),
            ("SELECT project, date, coalesce(summary, ''), coalesce(weather, '') FROM daily_log WHERE date <= ?1 ORDER BY project, date", [day]),
        ])
        var byProject: [String: [[String?]]] = [:], activityProject: [String: String] = [:]
        for row in result[1] {
            guard let id = row[0], let project = row[1] else { continue }
            byProject[project, default: []].append(row)
            activityProject[id] = project
        }
        var outlines: [Outline] = []
        for row in result[0] {
            guard let id = row[0], let activities = byProject[id], !activities.isEmpty else { continue }
            let starts = activities.compactMap { date($0[2]) }, finishes = activities.compactMap { date($0[3]) }
            guard let start = starts.min(), let finish = finishes.max() else { continue }
            let actual = activities.map { date($0[4]).flatMap { $0 <= upTo ? $0 : nil } }
            var weeklyPlan: [String: Double] = [:]
            for activity in activities where (activity[5] ?? "units") == "units" {
                guard let id = activity[0], let quantity = activity[6].flatMap(Double.init), quantity > 0,
                      let s = date(activity[2]), let f = date(activity[3]) else { continue }
                weeklyPlan[id] = quantity / Double(max(1, f.daysSinceEpoch - s.daysSinceEpoch + 1)) * 7
            }
            outlines.append(Outline(id: id, code: row[1] ?? id, plannedStart: start, plannedFinish: finish,
                                    completed: actual.contains(where: { $0 == nil }) ? nil : actual.compactMap { $0 }.max(),
                                    weeklyPlan: weeklyPlan))
        }
        let matcher = DailyLogTags.Matcher(tags)
        var known: [String: [String]] = [:]
        var tagDays: [String: [String: [Int]]] = [:]
        for row in result[2] {
            guard let project = row[0], let day = date(row[1]) else { continue }
            var found: Set<String> = []
            for text in [row[2] ?? "", row[3] ?? ""] {
                if known[text] == nil { known[text] = matcher.tags(of: text) }
                found.formUnion(known[text]!)
            }
            for tag in found { tagDays[project, default: [:]][tag, default: []].append(day.daysSinceEpoch) }
        }
        let weekly = try reader.weeklySums(table: "quantity_entry", amount: "quantity", upTo: day)
        return Snapshot(outlines: outlines, weekly: weekly, activityProject: activityProject, tagDays: tagDays)
    }

    /// The features of `outline` at the end of `day`, from its figures then (`input`, loaded as
    /// of `day`) and the snapshot's weeks and logs up to `day`; and whether the rule-based
    /// warnings were red or amber.
    static func features(_ outline: Outline, input: ProjectInput, at day: CalendarDate, snapshot: Snapshot,
                         thresholds: Thresholds) throws -> (DelayFeatures, warned: Bool) {
        let assessment = try ProjectAssessor.assess(input, asOf: day, thresholds: thresholds)
        let spi = assessment.scheduleIndexByTime ?? 1
        let before = try ProjectAssessor.scheduleIndexByTime(input, asOf: day.adding(days: -30)) ?? 1
        let span = Double(outline.plannedFinish.daysSinceEpoch - outline.plannedStart.daysSinceEpoch + 1)
        let elapsed = Double(day.daysSinceEpoch - outline.plannedStart.daysSinceEpoch + 1) / span
        let risk = input.risks.filter { !$0.closed }.map(\.score).max() ?? 0
        let stale = Double(day.daysSinceEpoch - (input.lastEntry ?? outline.plannedStart).daysSinceEpoch)
        // Week-to-week productivity, each week's quantity over the activity's planned week.
        var rates: [Double] = []
        let lastMonday = day.daysSinceEpoch - 6
        for (activity, plan) in outline.weeklyPlan.sorted(by: { $0.key < $1.key }) {
            guard let weeks = snapshot.weekly[activity]?.weeks else { continue }
            for (monday, quantity) in weeks.sorted(by: { $0.key < $1.key }) where monday <= lastMonday && quantity > 0 {
                rates.append(quantity / plan)
            }
        }
        var cv = 0.0
        if rates.count >= 2 {
            let mean = rates.reduce(0, +) / Double(rates.count)
            let variance = rates.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(rates.count - 1)
            cv = mean > 0 ? variance.squareRoot() / mean : 0
        }
        let window = (day.daysSinceEpoch - 29)...day.daysSinceEpoch
        func recent(_ tag: String) -> Double {
            Double(snapshot.tagDays[outline.id]?[tag]?.filter { window.contains($0) }.count ?? 0)
        }
        // Capped so that a value far outside what the model was trained on (a project years past
        // its plan, a node that stopped reporting) cannot swamp every other feature.
        let values = [spi, spi - before, min(elapsed, maximumElapsedShare), Double(risk), min(stale, maximumStaleDays), cv, recent(DailyLogTags.rain), recent("breakdown"), recent("material_shortage")]
        return (DelayFeatures(values: values), assessment.color != .green)
    }

    /// The caps of the elapsed share and of the days since the last report.
    public static let maximumElapsedShare = 1.5
    public static let maximumStaleDays = 60.0

    /// The last day of each month from the one holding `from` to the one before `until`'s.
    static func monthEnds(from: CalendarDate, before until: CalendarDate) -> [CalendarDate] {
        var result: [CalendarDate] = []
        var day = from
        while true {
            let parts = day.description.split(separator: "-").compactMap { Int($0) }
            let next = parts[1] == 12 ? CalendarDate(year: parts[0] + 1, month: 1, day: 1)! : CalendarDate(year: parts[0], month: parts[1] + 1, day: 1)!
            let end = next.adding(days: -1)
            guard end < until else { return result }
            result.append(end)
            day = next
        }
    }

    /// One example per completed project (all its activities finished by `upTo`) and month end
    /// while it ran (from the month of its planned start to the last month end before it
    /// finished), labelled late if it finished after its planned finish.
    public static func examples(_ node: Node, upTo: CalendarDate) throws -> [DelayExample] {
        let tags = node.configuration.forecast.tags
        return try node.store.reading { reader in
            let snapshot = try snapshot(reader, upTo: upTo, tags: tags)
            var wanted: [CalendarDate: [Outline]] = [:]
            for outline in snapshot.outlines {
                guard let completed = outline.completed else { continue }
                for end in monthEnds(from: outline.plannedStart, before: completed) where end >= outline.plannedStart {
                    wanted[end, default: []].append(outline)
                }
            }
            var examples: [DelayExample] = []
            for (end, outlines) in wanted.sorted(by: { $0.key < $1.key }) {
                let inputs = try ProjectData.load(reader, asOf: end, projects: outlines.map(\.id))
                let byID = Dictionary(uniqueKeysWithValues: inputs.map { ($0.id, $0) })
                for outline in outlines {
                    guard let input = byID[outline.id], let completed = outline.completed else { continue }
                    let (features, warned) = try features(outline, input: input, at: end, snapshot: snapshot, thresholds: .standard)
                    examples.append(DelayExample(project: outline.code, monthEnd: end.description, features: features,
                                                 late: completed > outline.plannedFinish, completed: completed.description, warned: warned))
                }
            }
            return examples.sorted { ($0.completed, $0.project, $0.monthEnd) < ($1.completed, $1.project, $1.monthEnd) }
        }
    }

    /// The features of a project (code or id) at the end of `asOf`, for a prediction; `nil`
    /// when every activity has finished by then (there is nothing left to predict).
    public static func features(_ node: Node, project: String, asOf: CalendarDate) throws -> DelayFeatures? {
        let found = try node.findProject(project)
        let tags = node.configuration.forecast.tags
        return try node.store.reading { reader in
            let snapshot = try snapshot(reader, upTo: asOf, tags: tags)
            guard let outline = snapshot.outlines.first(where: { $0.id == found.id }),
                  let input = try ProjectData.load(reader, asOf: asOf, projects: [found.id]).first else {
                throw NodeError(.usage, "project \(found.code) has no planned activities: there is nothing to predict")
            }
            guard outline.completed == nil else { return nil }
            return try features(outline, input: input, at: asOf, snapshot: snapshot, thresholds: .standard).0
        }
    }

    // MARK: - The model's file

    /// The delay model's prediction for one project as `sitesync forecast PROJECT` prints it:
    /// a line of text, and for the JSON the probability and the three features that moved it
    /// most. Without a trained model, or with nothing left to predict, the line says so and the
    /// JSON is null.
    public static func prediction(_ node: Node, project: String, asOf: CalendarDate)
        throws -> (text: String, json: (probability: JSONValue, factors: JSONValue))? {
        guard let model = try load(node) else {
            return ("delay probability: no model trained at this node (`sitesync forecast model train`)", (.null, .array([])))
        }
        guard let features = try features(node, project: project, asOf: asOf) else {
            return ("delay probability: every activity has finished; nothing to predict", (.null, .array([])))
        }
        let prediction = model.predict(features)
        let top = prediction.contributions.prefix(3)
        let text = String(format: "delay probability %.0f%% (model trained through %@ on %d projects, %.0f%% of them late); moved most by: ",
                          prediction.probability * 100, model.trainedThrough, model.projects, model.baseRate * 100)
            + top.map { String(format: "%@ = %.2f (%+.2f)", $0.feature, $0.value, $0.pull) }.joined(separator: ", ")
        let factors = JSONValue.array(top.map {
            .object(["feature": .string($0.feature), "value": .number(String(format: "%.4f", $0.value)),
                     "pull": .number(String(format: "%.4f", $0.pull))])
        })
        return (text, (.number(String(format: "%.4f", prediction.probability)), factors))
    }

    public static func modelPath(_ node: Node) -> String { node.dataDirectory + "/" + modelFile }

    public static func save(_ model: DelayModel, node: Node) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(model).write(to: URL(fileURLWithPath: modelPath(node)), options: .atomic)
    }

    /// The stored model, or `nil` when none was trained here.
    public static func load(_ node: Node) throws -> DelayModel? {
        let path = modelPath(node)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let model = try JSONDecoder().decode(DelayModel.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            guard model.features == DelayFeatures.names else {
                throw NodeError(.usage, "\(path) was trained on other features; train again with `sitesync forecast model train`")
            }
            return model
        } catch let error as NodeError { throw error } catch {
            throw NodeError(.usage, "\(path) cannot be read (\(error)); train again with `sitesync forecast model train`")
        }
    }

    // MARK: - Train and evaluate

    /// Trains on every completed project's examples up to `upTo` and stores the model.
    public static func train(_ node: Node, upTo: CalendarDate) throws -> DelayModel {
        let examples = try examples(node, upTo: upTo)
        let model: DelayModel
        do { model = try DelayModel.train(examples, through: upTo.description) } catch { throw NodeError(.usage, error.description) }
        try save(model, node: node)
        return model
    }

    /// The evaluation of a time-ordered split: the model and the rule-based baseline on the
    /// projects completed on or after the split.
    public struct Evaluation: Sendable {
        public let split: String
        public let trainProjects: Int
        public let testProjects: Int
        public let testExamples: Int
        public let testLateShare: Double
        public let modelBrier: Double
        public let modelAUC: Double
        public let baselineBrier: Double
        public let baselineAUC: Double
        /// Predicting the training base rate for every example.
        public let baseRateBrier: Double
        public let reliability: [ForecastScore.Bin]
    }

    /// Trains on the projects completed before `split` (default: the completion day of the
    /// project at 70 % in completion order) and scores the others' month ends.
    public static func evaluate(_ node: Node, upTo: CalendarDate, split: CalendarDate? = nil) throws -> Evaluation {
        let examples = try examples(node, upTo: upTo)
        return try evaluate(examples, split: split)
    }

    public static func evaluate(_ examples: [DelayExample], split: CalendarDate?) throws -> Evaluation {
        let completions = Array(Set(examples.map { "\($0.completed) \($0.project)" })).sorted()
        let cut: String
        if let split { cut = split.description } else {
            guard !completions.isEmpty else {
                throw NodeError(.usage, "too little history: no completed project with month-end figures; the model predicts nothing")
            }
            cut = String(completions[min(completions.count - 1, completions.count * 7 / 10)].prefix(10))
        }
        let train = examples.filter { $0.completed < cut }, test = examples.filter { $0.completed >= cut }
        let model: DelayModel
        do { model = try DelayModel.train(train, through: cut) } catch { throw NodeError(.usage, error.description + " (training set: completed before \(cut))") }
        guard !test.isEmpty else { throw NodeError(.usage, "no project completed on or after \(cut): give an earlier --split") }
        let predicted = test.map { (p: model.predict($0.features).probability, late: $0.late) }
        let baseline = test.map { (p: $0.warned ? 1.0 : 0.0, late: $0.late) }
        return Evaluation(split: cut, trainProjects: Set(train.map(\.project)).count, testProjects: Set(test.map(\.project)).count,
                          testExamples: test.count, testLateShare: Double(test.filter(\.late).count) / Double(test.count),
                          modelBrier: ForecastScore.brier(predicted), modelAUC: ForecastScore.auc(predicted),
                          baselineBrier: ForecastScore.brier(baseline), baselineAUC: ForecastScore.auc(baseline),
                          baseRateBrier: ForecastScore.brier(test.map { (p: model.baseRate, late: $0.late) }),
                          reliability: ForecastScore.reliability(predicted))
    }
}
