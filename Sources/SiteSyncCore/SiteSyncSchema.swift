extension Schema {
    /// The schema contract of docs/design.md §3. Collection and field names are public: add freely,
    /// rename never. Codes identify them on the wire and must never be reused.
    public static let siteSync = Schema(version: 4, collections: [
        CollectionSpec("department", code: 1, kind: .hubOwned, scope: .shared, fields: [
            FieldSpec("name", code: 1, .text, .lww, plan: true, required: true),
            FieldSpec("parent", code: 2, .ref("department"), .lww, plan: true),
        ]),
        CollectionSpec("project", code: 2, scope: .field("department"), fields: [
            FieldSpec("code", code: 1, .text, .immutable, plan: true, required: true),
            FieldSpec("name", code: 2, .text, .lww, plan: true, required: true),
            FieldSpec("department", code: 3, .ref("department"), .immutable, plan: true, required: true),
            FieldSpec("budget", code: 4, .decimal, .lww, plan: true),
            FieldSpec("planned_start", code: 5, .date, .lww, plan: true),
            FieldSpec("planned_finish", code: 6, .date, .lww, plan: true),
            FieldSpec("stage", code: 7, .enumeration(Self.projectStages), .state, plan: true),
            FieldSpec("remarks", code: 8, .text, .mv),
        ]),
        CollectionSpec("goal", code: 3, kind: .hubOwned, scope: .inherited(from: "project", optional: false), fields: [
            FieldSpec("project", code: 1, .ref("project"), .lww, plan: true, required: true),
            FieldSpec("parent", code: 2, .ref("goal"), .lww, plan: true),
            FieldSpec("title", code: 3, .text, .lww, plan: true, required: true),
            FieldSpec("weight", code: 4, .decimal, .lww, plan: true),
            // Goals down to people (docs/design.md §16): the department or city objective a
            // project's top goal serves, and the person who owns the goal.
            FieldSpec("objective", code: 5, .ref("objective"), .lww, plan: true),
            FieldSpec("owner", code: 6, .ref("staff"), .lww, plan: true),
        ]),
        CollectionSpec("activity", code: 4, scope: .inherited(from: "project", optional: false), fields: [
            FieldSpec("project", code: 1, .ref("project"), .immutable, plan: true, required: true),
            FieldSpec("goal", code: 2, .ref("goal"), .lww, plan: true),
            FieldSpec("name", code: 3, .text, .lww, plan: true, required: true),
            FieldSpec("budget", code: 4, .decimal, .lww, plan: true),
            FieldSpec("budget_quantity", code: 5, .decimal, .lww, plan: true),
            FieldSpec("unit", code: 6, .text, .lww, plan: true),
            FieldSpec("planned_start", code: 7, .date, .lww, plan: true),
            FieldSpec("planned_finish", code: 8, .date, .lww, plan: true),
            FieldSpec("ev_method", code: 9,
                      .enumeration(["units", "manual", "zero_hundred", "fifty_fifty", "level_of_effort"]), .lww, plan: true),
            FieldSpec("status", code: 10, .enumeration(["not_started", "in_progress", "completed", "accepted"]), .state),
            // Retired in schema 4: a percentage says the day it is true for (`percent_entry`).
            FieldSpec("percent_complete", code: 11, .decimal, .emax,
                      constraint: .decimalRange(ExactDecimal(0), ExactDecimal(100)), retired: true),
            FieldSpec("actual_start", code: 12, .date, .min),
            FieldSpec("actual_finish", code: 13, .date, .lww),
            FieldSpec("remarks", code: 14, .text, .mv),
            FieldSpec("owner", code: 15, .ref("staff"), .lww, plan: true),
        ]),
        CollectionSpec("quantity_entry", code: 5, kind: .appendOnly,
                       scope: .inherited(from: "activity", optional: false), fields: [
            FieldSpec("activity", code: 1, .ref("activity"), .immutable, required: true),
            FieldSpec("date", code: 2, .date, .immutable, required: true),
            FieldSpec("quantity", code: 3, .decimal, .immutable, required: true),
            FieldSpec("note", code: 4, .text, .immutable),
        ]),
        CollectionSpec("cost_entry", code: 6, kind: .appendOnly,
                       scope: .inherited(from: "activity", optional: false), fields: [
            FieldSpec("activity", code: 1, .ref("activity"), .immutable, required: true),
            FieldSpec("date", code: 2, .date, .immutable, required: true),
            FieldSpec("amount", code: 3, .decimal, .immutable, required: true),
            FieldSpec("note", code: 4, .text, .immutable),
        ]),
        CollectionSpec("daily_log", code: 7, scope: .inherited(from: "project", optional: false),
                       naturalKey: ["project", "date"], fields: [
            FieldSpec("project", code: 1, .ref("project"), .immutable, required: true),
            FieldSpec("date", code: 2, .date, .immutable, required: true),
            FieldSpec("weather", code: 3, .text, .lww),
            FieldSpec("crew_count", code: 4, .int, .max, constraint: .intRange(0, 100_000)),
            FieldSpec("summary", code: 5, .text, .mv),
            FieldSpec("status", code: 6, .enumeration(["draft", "submitted", "approved"]), .state),
        ]),
        CollectionSpec("issue", code: 8, scope: .inherited(from: "project", optional: false), fields: [
            FieldSpec("project", code: 1, .ref("project"), .immutable, required: true),
            FieldSpec("title", code: 2, .text, .lww, required: true),
            FieldSpec("description", code: 3, .text, .mv),
            FieldSpec("priority", code: 4, .enumeration(["low", "medium", "high", "critical"]), .max),
            FieldSpec("status", code: 5, .enumeration(["open", "in_progress", "resolved", "closed"]), .state),
            FieldSpec("assignees", code: 6, .set, .orset),
            FieldSpec("due", code: 7, .date, .lww),
            // The days it was opened and closed (resolved or closed), so a report as of a date
            // counts it as it stood then.
            FieldSpec("opened_on", code: 8, .date, .min, required: true),
            FieldSpec("closed_on", code: 9, .date, .lww),
            // Who answers for it (a staff record): set by whoever files or triages the issue.
            FieldSpec("owner", code: 10, .ref("staff"), .lww),
        ]),
        CollectionSpec("risk", code: 9, scope: .inherited(from: "project", optional: false), fields: [
            FieldSpec("project", code: 1, .ref("project"), .immutable, required: true),
            FieldSpec("title", code: 2, .text, .lww, required: true),
            FieldSpec("probability", code: 3, .int, .lww, constraint: .intRange(1, 5)),
            FieldSpec("impact", code: 4, .int, .lww, constraint: .intRange(1, 5)),
            FieldSpec("status", code: 5, .enumeration(["identified", "mitigating", "closed"]), .state),
            FieldSpec("mitigation", code: 6, .text, .mv),
            FieldSpec("raised_on", code: 7, .date, .min, required: true),
            FieldSpec("closed_on", code: 8, .date, .lww),
        ]),
        CollectionSpec("kpi", code: 10, kind: .hubOwned, scope: .inherited(from: "project", optional: true), fields: [
            FieldSpec("project", code: 1, .ref("project"), .lww, plan: true),
            FieldSpec("name", code: 2, .text, .lww, plan: true, required: true),
            FieldSpec("unit", code: 3, .text, .lww, plan: true),
            FieldSpec("direction", code: 4, .enumeration(["higher_better", "lower_better"]), .lww, plan: true),
            FieldSpec("baseline", code: 5, .decimal, .lww, plan: true),
            FieldSpec("target", code: 6, .decimal, .lww, plan: true),
            FieldSpec("weight", code: 7, .decimal, .lww, plan: true),
            FieldSpec("owner", code: 8, .ref("staff"), .lww, plan: true),
        ]),
        // One reading per KPI and month: its id comes from (kpi, period), so two nodes reading the
        // same month write the same record. A later reading of the month (one that has seen the
        // earlier) corrects it; two concurrent differing readings are an open `mv` conflict that
        // shows the one written last by (HLC, replica) until a person resolves it — never the
        // one that happened to arrive last.
        CollectionSpec("kpi_reading", code: 11, scope: .inherited(from: "kpi", optional: false),
                       naturalKey: ["kpi", "period"], fields: [
            FieldSpec("kpi", code: 1, .ref("kpi"), .immutable, required: true),
            FieldSpec("period", code: 2, .text, .immutable, required: true, constraint: .yearMonth),
            FieldSpec("value", code: 3, .decimal, .mv, required: true),
            FieldSpec("source", code: 4, .text, .lww),
        ]),
        // A change the hub refused (its id is the change's dot, `origin:counter`): every replica
        // of the department learns of it, and one that took the change from a peer retracts it.
        CollectionSpec("refusal", code: 12, kind: .hubOnly, scope: .field("department"), fields: [
            FieldSpec("change", code: 1, .text, .immutable, plan: true, required: true),
            FieldSpec("node", code: 2, .text, .immutable, plan: true),
            FieldSpec("collection", code: 3, .text, .immutable, plan: true, required: true),
            FieldSpec("record", code: 4, .text, .immutable, plan: true, required: true),
            FieldSpec("department", code: 5, .text, .immutable, plan: true),
            FieldSpec("code", code: 6, .enumeration(RefusalCode.published.map(\.rawValue)), .immutable, plan: true, required: true),
            FieldSpec("reason", code: 7, .text, .immutable, plan: true),
        ]),
        // An activity's percent complete as of a day (for activities measured by percentage):
        // one record per activity and day, so readings of one day written on two laptops meet
        // in one record, where the greater wins (`emax`: a correction downwards, written by
        // someone who saw the reading, bumps the epoch). The percentage as of a date is the one
        // of the latest day up to it.
        CollectionSpec("percent_entry", code: 13, scope: .inherited(from: "activity", optional: false),
                       naturalKey: ["activity", "date"], fields: [
            FieldSpec("activity", code: 1, .ref("activity"), .immutable, required: true),
            FieldSpec("date", code: 2, .date, .immutable, required: true),
            FieldSpec("percent", code: 3, .decimal, .emax, required: true,
                      constraint: .decimalRange(ExactDecimal(0), ExactDecimal(100))),
            FieldSpec("note", code: 4, .text, .lww),
        ]),
        // A month closed by the central office (`sitesync period close`): the city's figures as
        // they stood, frozen, and the changes they were computed from (`knowledge`, a version
        // vector), so an entry dated inside the month that arrives later is told apart. The
        // signed change that carries it is the office's signature. Immutable: a month is closed
        // once; a second, differing close of it is a conflict for a person.
        CollectionSpec("period_close", code: 14, kind: .hubOwned, scope: .shared, naturalKey: ["period"], fields: [
            FieldSpec("period", code: 1, .text, .immutable, plan: true, required: true, constraint: .yearMonth),
            FieldSpec("as_of", code: 2, .date, .immutable, plan: true, required: true),
            FieldSpec("closed_by", code: 3, .text, .immutable, plan: true, required: true),
            FieldSpec("knowledge", code: 4, .text, .immutable, plan: true, required: true),
            FieldSpec("figures", code: 5, .text, .immutable, plan: true, required: true),
            FieldSpec("projects", code: 6, .int, .immutable, plan: true, required: true),
            FieldSpec("closed_on", code: 7, .date, .immutable, plan: true, required: true),
        ]),
        // One project's frozen figures in a closed month (its row of the review), scoped like
        // the project, so each department receives its own.
        CollectionSpec("period_figures", code: 15, kind: .hubOwned, scope: .inherited(from: "project", optional: false),
                       naturalKey: ["period", "project"], fields: [
            FieldSpec("period", code: 1, .text, .immutable, plan: true, required: true, constraint: .yearMonth),
            FieldSpec("project", code: 2, .ref("project"), .immutable, plan: true, required: true),
            FieldSpec("figures", code: 3, .text, .immutable, plan: true, required: true),
        ]),
        // A proposal to move a project through a stage gate (docs/design.md §14): made by a
        // department node once the gate's criteria hold, decided by the central office. One
        // record per (project, target stage, attempt), so two department nodes proposing the
        // same gate offline write the same record; a returned proposal stays as history and the
        // next one is the next attempt. The decision is written only by office and hub nodes
        // (`WritePolicy.officeDecisions`); an approval wins over a concurrent return (`state`,
        // returned < approved), as the approval has already moved `project.stage` forward.
        CollectionSpec("stage_transition", code: 16, scope: .inherited(from: "project", optional: false),
                       naturalKey: ["project", "to_stage", "attempt"], fields: [
            FieldSpec("project", code: 1, .ref("project"), .immutable, required: true),
            FieldSpec("to_stage", code: 2, .enumeration(Self.projectStages), .immutable, required: true),
            FieldSpec("attempt", code: 3, .int, .immutable, required: true, constraint: .intRange(1, 100_000)),
            FieldSpec("from_stage", code: 4, .enumeration(Self.projectStages), .lww),
            FieldSpec("proposed_by", code: 5, .text, .lww, required: true),
            FieldSpec("proposed_at", code: 6, .text, .lww, required: true),
            FieldSpec("note", code: 7, .text, .lww),
            FieldSpec("decision", code: 8, .enumeration(["returned", "approved"]), .state),
            FieldSpec("decided_by", code: 9, .text, .lww),
            FieldSpec("decided_at", code: 10, .text, .lww),
            FieldSpec("reason", code: 11, .text, .lww),
        ]),
        // A project's plan frozen (docs/design.md §14): its activities' planned dates and
        // budgets as canonical JSON, taken when the project enters execution (baseline 1) and at
        // each re-baseline, an office act with a reason. One record per (project, number),
        // immutable: two offices re-baselining the same project offline write the same record,
        // and differing contents are an open conflict for a person, never a silent choice.
        CollectionSpec("baseline", code: 17, kind: .hubOwned, scope: .inherited(from: "project", optional: false),
                       naturalKey: ["project", "number"], fields: [
            FieldSpec("project", code: 1, .ref("project"), .immutable, plan: true, required: true),
            FieldSpec("number", code: 2, .int, .immutable, plan: true, required: true, constraint: .intRange(1, 100_000)),
            FieldSpec("reason", code: 3, .text, .immutable, plan: true, required: true),
            FieldSpec("taken_on", code: 4, .date, .immutable, plan: true, required: true),
            FieldSpec("taken_by", code: 5, .text, .immutable, plan: true, required: true),
            FieldSpec("plan", code: 6, .text, .immutable, plan: true, required: true),
        ]),
        // A plan template (模板库, docs/design.md §15): a project's activities, goals and KPIs
        // kept as one canonical JSON `body` — dates as days from the start, budgets as shares of
        // the total — so that a merge never mixes two saves: the body is one `lww` value, and a
        // save writes every field in one change. One record per name (a save under a name
        // replaces it); shared, so every node can instantiate it.
        CollectionSpec("template", code: 20, kind: .hubOwned, scope: .shared, naturalKey: ["name"], fields: [
            FieldSpec("name", code: 1, .text, .immutable, plan: true, required: true),
            FieldSpec("body", code: 2, .text, .lww, plan: true, required: true),
            FieldSpec("source", code: 3, .text, .lww, plan: true),
            FieldSpec("saved_by", code: 4, .text, .lww, plan: true),
            FieldSpec("saved_on", code: 5, .date, .lww, plan: true),
        ]),
        // A suggestion (意见箱, docs/design.md §15), left at any node, scoped to that node's
        // department so it travels to the hub and never to another department's nodes. What
        // the suggester wrote is immutable; an anonymous one has neither `author` nor `node`.
        // The answer (`status`, `reply`, `answered_on`, `answered_by`) is the office's alone
        // (``WritePolicy/officeFields``) and written in one change, so concurrent answers
        // resolve whole, never a status from one and a reply from another.
        CollectionSpec("suggestion", code: 21, scope: .field("department"), fields: [
            // Text, not a reference: a node leaves a suggestion before its department's record
            // has ever reached it.
            FieldSpec("department", code: 1, .text, .immutable, required: true),
            FieldSpec("text", code: 2, .text, .immutable, required: true),
            FieldSpec("author", code: 3, .text, .immutable),
            FieldSpec("node", code: 4, .text, .immutable),
            FieldSpec("made_on", code: 5, .date, .immutable, required: true),
            FieldSpec("status", code: 6, .enumeration(["open", "accepted", "declined", "done"]), .lww),
            FieldSpec("reply", code: 7, .text, .lww),
            FieldSpec("answered_on", code: 8, .date, .lww),
            FieldSpec("answered_by", code: 9, .text, .lww),
        ]),
        // Goals down to people and periods (目标拆解, docs/design.md §16). An objective is a
        // city objective (no department: shared, every node sees it) or a department's
        // (scoped by `department`), under a parent objective with a weight among its siblings;
        // a project's top goal points at one (`goal.objective`). Plan data: the office's.
        CollectionSpec("objective", code: 24, kind: .hubOwned, scope: .fieldOrShared("department"), fields: [
            FieldSpec("title", code: 1, .text, .lww, plan: true, required: true),
            // Immutable: it is the record's scope, and a record never changes department.
            FieldSpec("department", code: 2, .ref("department"), .immutable, plan: true),
            FieldSpec("parent", code: 3, .ref("objective"), .lww, plan: true),
            FieldSpec("weight", code: 4, .decimal, .lww, plan: true),
            FieldSpec("owner", code: 5, .ref("staff"), .lww, plan: true),
        ]),
        // A goal's target for a period (a year, a quarter or a month), one record per goal and
        // period. The target is the plan's; the actual is a measured figure, like a KPI reading:
        // the goal's department writes it, and two concurrent differing actuals are an open
        // conflict for a person.
        CollectionSpec("goal_target", code: 25, scope: .inherited(from: "goal", optional: false), naturalKey: ["goal", "period"], fields: [
            FieldSpec("goal", code: 1, .ref("goal"), .immutable, plan: true, required: true),
            FieldSpec("period", code: 2, .text, .immutable, plan: true, required: true, constraint: .period),
            FieldSpec("target", code: 3, .decimal, .lww, plan: true, required: true),
            FieldSpec("actual", code: 4, .decimal, .mv),
        ]),
        // The same for an objective; scoped like the objective (a city objective's are shared,
        // so only the office writes their actuals).
        CollectionSpec("objective_target", code: 26, scope: .inherited(from: "objective", optional: false),
                       naturalKey: ["objective", "period"], fields: [
            FieldSpec("objective", code: 1, .ref("objective"), .immutable, plan: true, required: true),
            FieldSpec("period", code: 2, .text, .immutable, plan: true, required: true, constraint: .period),
            FieldSpec("target", code: 3, .decimal, .lww, plan: true, required: true),
            FieldSpec("actual", code: 4, .decimal, .mv),
        ]),
        // A person who owns work (goals, objectives, KPIs, activities, issues) and has a
        // scorecard. Not the hub's sign-in accounts (its local `person` table): a replicated
        // register kept by the central office, scoped by department (shared for city staff,
        // such as HRBPs and auditors), so that an owner is always of the record's department or
        // the city's. A move between departments is a new record; the old one goes inactive.
        CollectionSpec("staff", code: 27, kind: .hubOwned, scope: .fieldOrShared("department"), fields: [
            FieldSpec("name", code: 1, .text, .lww, plan: true, required: true),
            FieldSpec("department", code: 2, .ref("department"), .immutable, plan: true),
            FieldSpec("role", code: 3, .enumeration(["project_lead", "department_head", "hrbp", "auditor", "other"]), .lww, plan: true),
            // 1 (or empty): active; 0: left or moved, kept because records still name them.
            FieldSpec("active", code: 4, .int, .lww, plan: true, constraint: .intRange(0, 1)),
        ]),
    ])

    /// A project's stages in their order (`project.stage`, and the gates between them).
    public static let projectStages = ["initiation", "execution", "acceptance", "review", "closed", "archived"]
}
