import Foundation

/// The languages the dashboard speaks.
enum Language: String, CaseIterable, Sendable {
    case zhCN = "zh-CN"
    case en

    /// A language from its tag as a query, a cookie or the node's configuration give it
    /// (`zh-CN`, `zh`, `en`, `en-GB`, case-insensitive).
    init?(tag: String) {
        let tag = tag.trimmingCharacters(in: .whitespaces).lowercased()
        if tag == "zh" || tag.hasPrefix("zh-") { self = .zhCN } else if tag == "en" || tag.hasPrefix("en-") { self = .en } else { return nil }
    }

    /// The first language of `Accept-Language` the dashboard speaks, by quality then order.
    static func preferred(acceptLanguage: String?) -> Language? {
        guard let acceptLanguage else { return nil }
        var best: (language: Language, quality: Double)?
        for part in acceptLanguage.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = pieces.first, let language = Language(tag: tag) else { continue }
            let quality = pieces.dropFirst().compactMap { $0.hasPrefix("q=") ? Double($0.dropFirst(2)) : nil }.first ?? 1
            if quality > 0, quality > (best?.quality ?? 0) { best = (language, quality) }
        }
        return best?.language
    }

    /// The other language: what the switch link on every page offers.
    var other: Language { self == .zhCN ? .en : .zhCN }
}

/// Every label and message of the dashboard in Chinese and English, and the numbers and dates
/// as each writes them. A page asks its catalog for ``Key``s, never for literal text, so a
/// label cannot be missing in one language (the switch in ``texts(_:)`` is exhaustive).
struct Catalog: Sendable {
    let language: Language

    subscript(_ key: Key) -> String {
        let pair = Self.texts(key)
        return language == .zhCN ? pair.zh : pair.en
    }

    // MARK: - Numbers and dates

    /// A decimal as written by the domain (`1234567.891`, `-12`) with thousands grouped and
    /// `places` decimals (rounded half away from zero on the text, so money stays exact);
    /// both languages group with commas: 1,234,567.89. Text that is not a number is returned.
    func number(_ text: String?, places: Int? = nil) -> String {
        guard var text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return "—" }
        let negative = text.hasPrefix("-")
        if negative || text.hasPrefix("+") { text.removeFirst() }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCII), whole.allSatisfy(\.isNumber),
              parts.count == 1 || parts[1].allSatisfy({ $0.isASCII && $0.isNumber }) else { return text }
        var digits = Array(whole), fraction = parts.count > 1 ? Array(parts[1]) : []
        if let places {
            if fraction.count > places {
                let roundUp = fraction[places] >= "5"
                fraction = Array(fraction.prefix(places))
                if roundUp { Self.increment(&digits, &fraction) }
            }
            while fraction.count < places { fraction.append("0") }
        }
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        let isZero = digits.allSatisfy { $0 == "0" } && fraction.allSatisfy { $0 == "0" }
        return (negative && !isZero ? "-" : "") + grouped + (fraction.isEmpty ? "" : "." + String(fraction))
    }

    /// Adds one unit in the last place of `whole`.`fraction`, carrying.
    private static func increment(_ whole: inout [Character], _ fraction: inout [Character]) {
        for index in fraction.indices.reversed() {
            if fraction[index] == "9" { fraction[index] = "0" } else { fraction[index] = Character(String(fraction[index].wholeNumberValue! + 1)); return }
        }
        for index in whole.indices.reversed() {
            if whole[index] == "9" { whole[index] = "0" } else { whole[index] = Character(String(whole[index].wholeNumberValue! + 1)); return }
        }
        whole.insert("1", at: 0)
    }

    /// Money: two decimals, grouped.
    func money(_ text: String?) -> String { number(text, places: 2) }

    /// A percentage to one decimal.
    func percent(_ text: String?) -> String { text == nil ? "—" : number(text, places: 1) + " %" }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `2026-11-30` as 2026年11月30日 or 30 Nov 2026; other text as it is.
    func date(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "—" }
        let parts = text.prefix(10).split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]) else { return text }
        return language == .zhCN ? "\(parts[0])年\(parts[1])月\(parts[2])日" : "\(parts[2]) \(Self.months[parts[1] - 1]) \(parts[0])"
    }

    /// `2026-11` as 2026年11月 or Nov 2026.
    func month(_ text: String?) -> String {
        guard let text else { return "—" }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, (1...12).contains(parts[1]) else { return text }
        return language == .zhCN ? "\(parts[0])年\(parts[1])月" : "\(Self.months[parts[1] - 1]) \(parts[0])"
    }

    /// `2026-11` as 11月 or Nov: an axis label, the year said once beside it (``year(_:)``).
    func shortMonth(_ text: String?) -> String {
        guard let text else { return "—" }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, (1...12).contains(parts[1]) else { return text }
        return language == .zhCN ? "\(parts[1])月" : Self.months[parts[1] - 1]
    }

    /// `2026-11` as 2026年 or 2026.
    func year(_ text: String?) -> String {
        guard let year = text?.split(separator: "-").first.flatMap({ Int($0) }) else { return text ?? "—" }
        return language == .zhCN ? "\(year)年" : String(year)
    }

    /// `2026-11-30T08:15:02Z` as the date and the time of day (UTC).
    func moment(_ text: String?) -> String {
        guard let text, text.count >= 19 else { return text ?? "—" }
        let time = String(text.dropFirst(11).prefix(8))
        return "\(date(String(text.prefix(10)))) \(time) UTC"
    }

    /// A project's or department's colour as a word (the colour is never the only signal).
    func color(_ name: String?) -> String {
        switch name {
        case "green": self[.green]
        case "amber": self[.amber]
        case "red": self[.red]
        default: name ?? "—"
        }
    }

    /// A grade as a word beside the character the domain uses (优, 良, 中, 差).
    func grade(_ grade: String?) -> String {
        guard let grade else { return "—" }
        guard language == .en else { return grade }
        switch grade {
        case "优": return "优 excellent"
        case "良": return "良 good"
        case "中": return "中 fair"
        case "差": return "差 poor"
        default: return grade
        }
    }

    /// A label of the monthly review's headline (the domain writes them in English).
    func reviewLabel(_ label: String) -> String {
        let keys: [String: Key] = [
            "Projects": .projects, "Budget (BAC)": .budget, "Planned value (PV)": .plannedValue, "Earned value (EV)": .earnedValue,
            "Actual cost (AC)": .actualCost, "Complete": .percentComplete, "SPI": .spi, "CPI": .cpi, "SPI(t)": .spiT,
            "Green / amber / red": .greenAmberRed, "Early warnings": .warnings, "Closed or archived (apart)": .closedApart,
        ]
        return keys[label].map { self[$0] } ?? label
    }

    /// "Rows 1–100 of 1,000" in the page's language.
    func rowsShown(_ shown: String, of total: String) -> String {
        language == .zhCN ? "第 \(shown) 项，共 \(total) 项" : "\(shown) of \(total)"
    }

    /// A project stage as a word.
    func stageName(_ stage: String?) -> String {
        guard let stage else { return "—" }
        let names: [String: (String, String)] = [
            "initiation": ("立项", "initiation"), "execution": ("执行", "execution"), "acceptance": ("验收", "acceptance"),
            "review": ("复盘", "review"), "closed": ("关闭", "closed"), "archived": ("归档", "archived"),
        ]
        return names[stage].map { language == .zhCN ? $0.0 : $0.1 } ?? stage
    }

    /// A stage proposal's decision as a word (waiting when none yet).
    func decision(_ decision: String?) -> String {
        switch (decision, language) {
        case ("approved", .zhCN): "批准"
        case ("returned", .zhCN): "退回"
        case (nil, .zhCN): "待审批"
        case (nil, _): "waiting"
        default: decision ?? "—"
        }
    }

    /// A plan variance line's change (an activity added or removed since the baseline).
    func planChange(_ change: String?) -> String {
        switch (change, language) {
        case ("added", .zhCN): "新增"
        case ("removed", .zhCN): "删除"
        default: change ?? ""
        }
    }

    /// A daily-log tag as a word.
    func tag(_ tag: String) -> String {
        let names: [String: (String, String)] = [
            "rain": ("雨", "rain"), "breakdown": ("故障", "breakdown"), "material_shortage": ("缺料", "material shortage"),
            "accident": ("事故", "accident"), "inspection": ("检查", "inspection"), "stoppage": ("停工", "stoppage"),
        ]
        return names[tag].map { language == .zhCN ? $0.0 : $0.1 } ?? tag
    }

    /// Where an activity's forecast rate comes from.
    func basis(_ basis: String?) -> String {
        switch (basis, language) {
        case ("observed", .zhCN): "实测工效"
        case ("planned", .zhCN): "计划工效（尚无进度）"
        case ("finished", .zhCN): "已完工"
        case ("planned", _): "planned rate (no progress yet)"
        case ("observed", _): "observed rate"
        default: basis ?? "—"
        }
    }

    /// A suggestion's status as a word.
    func suggestionStatus(_ status: String) -> String {
        switch (status, language) {
        case ("open", .zhCN): "待答复"
        case ("accepted", .zhCN): "采纳"
        case ("declined", .zhCN): "不采纳"
        case ("done", .zhCN): "已办结"
        case ("open", _): "open"
        case ("accepted", _): "accepted"
        case ("declined", _): "declined"
        case ("done", _): "done"
        default: status
        }
    }

    /// A warning level (red, amber) as a word.
    func level(_ level: String?) -> String { color(level) }

    /// A value of one of the schema's enumerations a page shows as it is stored (an activity's,
    /// issue's or risk's status, an issue's priority, a conflict's state) or a role (a person's,
    /// a node's), as a word of the page's language; a value it does not know, as it is.
    func word(_ value: String?) -> String {
        guard let value, !value.isEmpty else { return "—" }
        guard let pair = Self.words[value] else { return value }
        return language == .zhCN ? pair.zh : pair.en
    }

    /// An early warning's reason in the page's language. The domain writes each rule's reason
    /// in English, in a fixed form (``WarningRules``); in Chinese each form is read back and
    /// said again, its numbers and names kept and its dates written the Chinese way. A reason
    /// in no known form is shown after its rule's name, as the domain wrote it.
    func warningReason(rule: String?, reason: String?) -> String {
        guard let reason else { return "—" }
        guard language == .zhCN else { return reason }
        let whole = NSRange(reason.startIndex..., in: reason)
        for form in Self.warningForms {
            guard let match = form.expression.firstMatch(in: reason, range: whole) else { continue }
            let groups = (1..<match.numberOfRanges).map { index in
                Range(match.range(at: index), in: reason).map { String(reason[$0]) } ?? ""
            }
            return form.say(self, groups)
        }
        return "\(ruleName(rule))：\(reason)"
    }

    /// The forms of ``WarningRules``' reasons, each with its Chinese saying (compiled once;
    /// matching with an `NSRegularExpression` is safe from any thread).
    nonisolated(unsafe) private static let warningForms: [(expression: NSRegularExpression, say: (Catalog, [String]) -> String)] = [
        (try! NSRegularExpression(pattern: #"^SPI\(t\) ([-\d.]+) is below ([-\d.]+): the work done so far was planned to take ([-\d.]+)% of the time it took$"#),
         { c, g in "SPI(t) 为 \(g[0])，低于 \(g[1])：至今完成的工作按计划只需实际用时的 \(g[2])%" }),
        (try! NSRegularExpression(pattern: #"^CPI ([-\d.]+): each unit of value earned cost ([-\d.]+)$"#), { c, g in "CPI 为 \(g[0])：每挣得 1 元价值实际花费 \(g[1]) 元" }),
        (try! NSRegularExpression(pattern: #"^SPI\(t\) fell by ([-\d.]+) a month over the last (\d+) months \((.*)\)$"#),
         { c, g in "近 \(g[1]) 个月 SPI(t) 每月下降 \(g[0])（\(g[2])）" }),
        (try! NSRegularExpression(pattern: "^(.*) was due (\\d{4}-\\d{2}-\\d{2}) and is not finished \\((\\d+) days late\\)$"),
         { c, g in "\(g[0]) 应于 \(c.date(g[1])) 完成，至今未完工（已逾期 \(g[2]) 天）" }),
        (try! NSRegularExpression(pattern: "^(.*) was to start (\\d{4}-\\d{2}-\\d{2}) and has not started \\((\\d+) days\\)$"),
         { c, g in "\(g[0]) 应于 \(c.date(g[1])) 开工，至今未开工（已 \(g[2]) 天）" }),
        (try! NSRegularExpression(pattern: #"^work is due but no field entry was ever recorded$"#), { _, _ in "工作已到期，但从未录入现场数据" }),
        (try! NSRegularExpression(pattern: "^no field entry for (\\d+) days \\(the last on (\\d{4}-\\d{2}-\\d{2})\\)$"),
         { c, g in "已 \(g[0]) 天没有现场数据（最近一次在 \(c.date(g[1]))）" }),
        (try! NSRegularExpression(pattern: #"^activities cover (.*) of the budget (.*): the rest is planned in no activity and earns no value$"#),
         { c, g in "各作业预算合计 \(g[0])，少于项目预算 \(g[1])：其余部分未落实到作业，不产生挣值" }),
        (try! NSRegularExpression(pattern: #"^activities' budgets add up to (.*), more than the budget (.*)$"#), { c, g in "各作业预算合计 \(g[0])，超过项目预算 \(g[1])" }),
        (try! NSRegularExpression(pattern: #"^open risk "(.*)" scores (\d+) \(probability (\d+) × impact (\d+)\)$"#),
         { c, g in "未关闭风险“\(g[0])”评分 \(g[1])（可能性 \(g[2]) × 影响 \(g[3])）" }),
        (try! NSRegularExpression(pattern: #"^(\d+) open risks score (\d+) or more$"#), { c, g in "\(g[0]) 个未关闭风险评分达到 \(g[1]) 或以上" }),
    ]

    /// A warning rule's name (`schedule`, `overdue`, …) as a word of the page's language.
    func ruleName(_ rule: String?) -> String {
        let names: [String: (zh: String, en: String)] = [
            "schedule": ("进度", "schedule"), "cost": ("费用", "cost"), "slip-trend": ("进度下滑", "slipping"),
            "overdue": ("逾期", "overdue"), "not-started": ("未按期开工", "not started"), "stale": ("数据陈旧", "stale"),
            "risk": ("风险", "risk"), "budget-coverage": ("预算分解", "budget coverage"),
        ]
        guard let rule, let pair = names[rule] else { return rule ?? "—" }
        return language == .zhCN ? pair.zh : pair.en
    }

    /// A feature of the delay model (``DelayFeatures/names``) as words of the page's language.
    func delayFeature(_ name: String) -> String {
        let names: [String: (zh: String, en: String)] = [
            "spi_t": ("时间进度指数 SPI(t)", "SPI(t)"), "spi_t_trend": ("SPI(t) 变化趋势", "SPI(t) trend"),
            "elapsed_share": ("已用工期占比", "share of the time elapsed"), "max_open_risk": ("最高未关闭风险评分", "highest open risk"),
            "days_since_report": ("距上次填报天数", "days since the last report"), "productivity_cv": ("工效波动", "spread of productivity"),
            "rain_days_30": ("近 30 天雨天", "rain days (30 days)"), "breakdown_days_30": ("近 30 天故障天数", "breakdown days (30 days)"),
            "shortage_days_30": ("近 30 天缺料天数", "material shortage days (30 days)"),
        ]
        guard let pair = names[name] else { return name }
        return language == .zhCN ? pair.zh : pair.en
    }

    /// An error page's title: the status code and its meaning in the page's language.
    func statusTitle(_ code: Int) -> String {
        let names: [Int: (zh: String, en: String)] = [
            400: ("请求有误", "Bad request"), 401: ("未登录", "Not signed in"), 403: ("无权操作", "Forbidden"),
            404: ("未找到", "Not found"), 409: ("数据冲突", "Conflict"), 413: ("提交内容过大", "Too large"),
            422: ("输入有误", "Not accepted"), 429: ("尝试次数过多", "Too many attempts"), 500: ("服务器出错", "Server error"),
            503: ("服务暂不可用", "Unavailable"),
        ]
        let name = names[code] ?? (code >= 500 ? names[500]! : names[400]!)
        return "\(code) " + (language == .zhCN ? name.zh : name.en)
    }

    private static let words: [String: (zh: String, en: String)] = [
        // Statuses of activities, issues, risks, plans and conflicts.
        "not_started": ("未开工", "not started"), "in_progress": ("进行中", "in progress"), "completed": ("已完工", "completed"),
        "accepted": ("已验收", "accepted"), "open": ("未关闭", "open"), "resolved": ("已解决", "resolved"), "closed": ("已关闭", "closed"),
        "identified": ("已识别", "identified"), "mitigating": ("应对中", "mitigating"), "draft": ("草稿", "draft"),
        "submitted": ("已提交", "submitted"), "approved": ("已批准", "approved"), "auto": ("自动合并", "merged by rule"),
        // Priorities.
        "low": ("低", "low"), "medium": ("中", "medium"), "high": ("高", "high"), "critical": ("紧急", "critical"),
        // People's roles and nodes' roles.
        "leader": ("市领导", "leader"), "department_head": ("部门负责人", "department head"), "project_lead": ("项目负责人", "project lead"),
        "hrbp": ("人力资源业务伙伴", "HR business partner"), "auditor": ("审计", "auditor"), "office": ("中心办公室", "office"),
        "field": ("现场", "field"), "department": ("部门", "department"), "hub": ("中心节点", "hub"), "other": ("其他", "other"),
    ]
}

extension Catalog {
    /// The keys of every text the dashboard shows.
    enum Key: CaseIterable, Sendable {
        case appName, signIn, signOut, name, password, signInFailed, signInTitle, signedInAs
        case overview, fleet, conflicts, monthlyReport, language
        case asOf, projects, departments, department, project, code, stage
        case percentComplete, budget, plannedValue, earnedValue, actualCost, spi, cpi, spiT, score, grade, color
        case green, amber, red, warnings, warningsFeed, noWarnings, level, subject, reason
        case redList, blackList, noneListed, rank, sCurve, month, sCurveSummary
        case activities, activity, status, plannedStart, plannedFinish, actualStart, actualFinish, progress
        case goals, goal, weight, kpis, kpi, baseline, target, reading, readings, period, unit
        case risks, riskMatrix, probability, impact, risk, mitigation, issues, openIssues, priority, due, assignees, opened
        case date, dailyLogs, weather, crew, summary, noneYet
        case node, role, lastSeen, behind, stale, staleYes, staleNo, openConflicts, clockOffset, lastExchange, yes, no
        case collection, record, field, value, writtenBy, writtenAt, detectedAt, keepThisValue, resolve, resolved, noConflicts
        case print, standing, closedPeriod, openPeriod, lateEntries, entry, freshness, daysSinceSync, headline, league
        case greenAmberRed, closedApart, notFound, forbidden, csrfRefused, noWriter, liveUpdates, departmentsRanked, projectsOf, back
        case allColors, onlyColor, moreNotShown
        case templates, templatesIntro, template, title, days, savedOn, startDay, finishDay, budgetShare, quantity
        case suggestions, suggestion, leaveSuggestion, anonymously, anonymous, send, madeOn, reply, answerIt
        case suggestionLeft, suggestionAnswered
        case stageGates, waitingProposal, proposedBy, decision, decidedBy, varianceAgainst, finishDays, startDays, sinceBaseline
        case goalTree, goalLegend, owner, actual, badPeriod, scorecards, scorecardRule, downloadCSV
        case finishForecast, forecastNote, today, basis, delayProbability, movedMostBy, logTags
        case suggestedWeights, suggestedWeightsNote, currentWeight, suggestedWeight
        case audit, auditIntro, signIns, people, liveSessions, created, passwordChanged, lastSignIn, disabled, never, from, signedInAt
        case lastUsed, endsBy, apiLog, apiLogNote, token, idempotencyKey, statusCode, changeCount, at, rejections, refusedBy, origin
        case refusalCode, conflictHistory, rule, settledAt, settledBy, stillSideBySide, values, recordHistory, recordHistoryHelp, show
        case deleted, inForce, notInForce, logPosition, previousPage, nextPage, pages, change, signInsNote, history
        case formIncomplete, refusedBecause, crossSiteSignIn, tooManyAttempts, suggestionEmpty, replyEmpty, notAnAnswer
    }

    /// The text of `key` in Chinese and in English.
    static func texts(_ key: Key) -> (zh: String, en: String) {
        switch key {
        case .appName: ("SiteSync 工程看板", "SiteSync dashboard")
        case .signIn: ("登录", "Sign in")
        case .signOut: ("退出登录", "Sign out")
        case .name: ("用户名", "Name")
        case .password: ("密码", "Password")
        case .signInFailed: ("用户名或密码不正确，请重新输入。", "The name or password is not right: try again.")
        case .signInTitle: ("登录工程看板", "Sign in to the dashboard")
        case .signedInAs: ("当前用户", "Signed in as")
        case .overview: ("全市总览", "City overview")
        case .fleet: ("节点状态", "Fleet")
        case .conflicts: ("冲突处理", "Conflicts")
        case .monthlyReport: ("月度报告", "Monthly report")
        case .language: ("语言", "Language")
        case .asOf: ("数据截至", "As of")
        case .projects: ("项目数", "Projects")
        case .departments: ("部门", "Departments")
        case .department: ("部门", "Department")
        case .project: ("项目", "Project")
        case .code: ("编号", "Code")
        case .stage: ("阶段", "Stage")
        case .percentComplete: ("完成率", "Complete")
        case .budget: ("预算 (BAC)", "Budget (BAC)")
        case .plannedValue: ("计划值 (PV)", "Planned value (PV)")
        case .earnedValue: ("挣值 (EV)", "Earned value (EV)")
        case .actualCost: ("实际成本 (AC)", "Actual cost (AC)")
        case .spi: ("进度绩效指数 SPI", "SPI")
        case .cpi: ("成本绩效指数 CPI", "CPI")
        case .spiT: ("时间进度指数 SPI(t)", "SPI(t)")
        case .score: ("得分", "Score")
        case .grade: ("等级", "Grade")
        case .color: ("状态色", "Colour")
        case .green: ("绿", "green")
        case .amber: ("黄", "amber")
        case .red: ("红", "red")
        case .warnings: ("预警", "Warnings")
        case .warningsFeed: ("预警动态", "Warnings feed")
        case .noWarnings: ("暂无预警。", "No warnings.")
        case .level: ("级别", "Level")
        case .subject: ("对象", "Subject")
        case .reason: ("原因", "Reason")
        case .redList: ("红榜（等级优）", "红榜 Commended (grade 优)")
        case .blackList: ("黑榜（等级差）", "黑榜 Black list (grade 差)")
        case .noneListed: ("暂无。", "None.")
        case .rank: ("名次", "Rank")
        case .sCurve: ("S 曲线：计划值、挣值、实际成本（按月）", "S-curve: planned value, earned value, actual cost by month")
        case .month: ("月份", "Month")
        case .sCurveSummary: ("S 曲线数据表", "S-curve as a table")
        case .activities: ("作业", "Activities")
        case .activity: ("作业", "Activity")
        case .status: ("状态", "Status")
        case .plannedStart: ("计划开始", "Planned start")
        case .plannedFinish: ("计划完成", "Planned finish")
        case .actualStart: ("实际开始", "Actual start")
        case .actualFinish: ("实际完成", "Actual finish")
        case .progress: ("进度", "Progress")
        case .goals: ("目标树", "Goal tree")
        case .goal: ("目标", "Goal")
        case .weight: ("权重", "Weight")
        case .kpis: ("关键绩效指标", "KPIs")
        case .kpi: ("指标", "KPI")
        case .baseline: ("基准值", "Baseline")
        case .target: ("目标值", "Target")
        case .reading: ("当前读数", "Reading")
        case .readings: ("历次读数", "Readings over time")
        case .period: ("期间", "Period")
        case .unit: ("单位", "Unit")
        case .risks: ("风险", "Risks")
        case .riskMatrix: ("风险矩阵（可能性 × 影响）", "Risk matrix (probability × impact)")
        case .probability: ("可能性", "Probability")
        case .impact: ("影响", "Impact")
        case .risk: ("风险", "Risk")
        case .mitigation: ("应对措施", "Mitigation")
        case .issues: ("问题", "Issues")
        case .openIssues: ("未关闭问题", "Open issues")
        case .priority: ("优先级", "Priority")
        case .due: ("期限", "Due")
        case .assignees: ("负责人", "Assignees")
        case .opened: ("提出日期", "Opened")
        case .date: ("日期", "Date")
        case .dailyLogs: ("施工日志", "Daily logs")
        case .weather: ("天气", "Weather")
        case .crew: ("人数", "Crew")
        case .summary: ("摘要", "Summary")
        case .noneYet: ("暂无记录。", "Nothing recorded yet.")
        case .node: ("节点", "Node")
        case .role: ("角色", "Role")
        case .lastSeen: ("最近联系", "Last seen")
        case .behind: ("待同步变更", "Changes behind")
        case .stale: ("是否过期", "Stale")
        case .staleYes: ("过期", "stale")
        case .staleNo: ("正常", "fresh")
        case .openConflicts: ("未决冲突", "Open conflicts")
        case .clockOffset: ("时钟偏差（毫秒）", "Clock offset (ms)")
        case .lastExchange: ("最近同步", "Last exchange")
        case .yes: ("是", "yes")
        case .no: ("否", "no")
        case .collection: ("数据集", "Collection")
        case .record: ("记录", "Record")
        case .field: ("字段", "Field")
        case .value: ("值", "Value")
        case .writtenBy: ("写入节点", "Written by")
        case .writtenAt: ("写入时间", "Written at")
        case .detectedAt: ("发现时间", "Detected")
        case .keepThisValue: ("保留的值", "Value to keep")
        case .resolve: ("确认处理", "Resolve")
        case .resolved: ("冲突已处理。", "The conflict is resolved.")
        case .noConflicts: ("没有未决冲突。", "No open conflicts.")
        case .print: ("打印", "Print")
        case .standing: ("状态", "Standing")
        case .closedPeriod: ("已结账", "closed")
        case .openPeriod: ("未结账", "open")
        case .lateEntries: ("迟报记录", "Late entries")
        case .entry: ("内容", "Entry")
        case .freshness: ("各站点同步情况", "Sites' freshness")
        case .daysSinceSync: ("距上次同步天数", "Days since sync")
        case .headline: ("总体指标", "Headline figures")
        case .league: ("部门排名", "Departments ranked")
        case .greenAmberRed: ("绿 / 黄 / 红", "Green / amber / red")
        case .closedApart: ("已关闭或归档（另列）", "Closed or archived (apart)")
        case .notFound: ("没有找到，或您无权查看。", "Not found, or not yours to see.")
        case .forbidden: ("您无权执行此操作。", "You may not do this.")
        case .csrfRefused: ("表单已过期或来源不明，请刷新页面后重试。", "The form is stale or came from elsewhere: reload the page and try again.")
        case .noWriter: ("您的账号只读，不能写入；请联系管理员。", "Your account reads only and cannot write: ask the hub's operator.")
        case .liveUpdates: ("数据同步后自动刷新", "Refreshes when a sync lands")
        case .departmentsRanked: ("部门排名（按得分）", "Departments ranked by score")
        case .projectsOf: ("项目列表", "Projects")
        case .back: ("返回总览", "Back to the overview")
        case .templates: ("模板库", "Templates")
        case .templatesIntro: ("项目模板：工期按开工后的天数、预算按总额的比例保存；中心办公室在节点上用 `sitesync project add --template` 建项目。",
                               "Project templates: durations as days from the start, budgets as shares of the total; the office makes a project from one with `sitesync project add --template`.")
        case .template: ("模板", "Template")
        case .title: ("标题", "Title")
        case .days: ("工期（天）", "Days")
        case .savedOn: ("保存", "Saved")
        case .startDay: ("开始（第几天）", "Starts on day")
        case .finishDay: ("完成（第几天）", "Finishes on day")
        case .budgetShare: ("预算占比", "Budget share")
        case .quantity: ("工程量", "Quantity")
        case .suggestions: ("意见箱", "Suggestion box")
        case .suggestion: ("意见", "Suggestion")
        case .leaveSuggestion: ("提一条意见", "Leave a suggestion")
        case .anonymously: ("匿名（不记录姓名和节点）", "Anonymously (no name and no node stored)")
        case .anonymous: ("匿名", "anonymous")
        case .send: ("提交", "Send")
        case .madeOn: ("提出日期", "Made on")
        case .reply: ("答复", "Reply")
        case .answerIt: ("答复", "Answer")
        case .suggestionLeft: ("意见已提交，将随同步送达中心办公室。", "Your suggestion is saved and travels to the office with the next sync.")
        case .suggestionAnswered: ("答复已保存，将随同步送回提出意见的部门。", "The answer is saved and travels back to the suggester's department.")
        case .stageGates: ("阶段审批（立项 → 执行 → 验收 → 复盘）", "Stage gates (initiation → execution → acceptance → review)")
        case .waitingProposal: ("待审批的申请", "Waiting for approval")
        case .proposedBy: ("申请", "Proposed")
        case .decision: ("审批结果", "Decision")
        case .decidedBy: ("审批", "Decided")
        case .varianceAgainst: ("与基线对比，基线", "Variance against baseline")
        case .finishDays: ("完成日偏差（天）", "Finish (days)")
        case .startDays: ("开始日偏差（天）", "Start (days)")
        case .sinceBaseline: ("变化", "Since the baseline")
        case .goalTree: ("目标拆解", "Goal tree")
        case .goalLegend: ("◆ 全市目标 · ◇ 部门目标 · ● 项目目标 · 工作项", "◆ city objective · ◇ department objective · ● project goal · activity")
        case .owner: ("负责人", "Owner")
        case .actual: ("实际", "Actual")
        case .badPeriod: ("期间格式不对：请写年份（2026）、季度（2026-Q2）或月份（2026-05）。",
                          "That is not a period: write a year (2026), a quarter (2026-Q2) or a month (2026-05).")
        case .scorecards: ("个人绩效", "Scorecards")
        case .scorecardRule: ("目标 40%、指标 30%、工作项 30%，按各人负责的内容加权", "Goals 40 %, KPIs 30 %, activities 30 %, weighted over what each person owns")
        case .downloadCSV: ("下载 CSV（供人力资源使用）", "Download CSV (for HR)")
        case .finishForecast: ("完工预测", "Completion forecast")
        case .forecastNote: ("按各工作项实际达到的工效及其波动模拟 10,000 次；P80 表示 80% 的模拟在该日前完工。深色为 P50–P80，浅色为 P80–P95，红色虚线为计划完工日。",
                             "10,000 runs at the rate each activity has achieved, with its spread; P80 means 80 % of the runs finish by that day. Dark: P50–P80; light: P80–P95; red dashes: the planned finish.")
        case .today: ("今天", "Today")
        case .delayProbability: ("延期概率（模型预测）", "Delay probability (the model's)")
        case .movedMostBy: ("影响最大的因素", "moved most by")
        case .logTags: ("施工日志标签（天数）", "Daily-log tags (days)")
        case .suggestedWeights: ("建议的指标权重（熵权法）", "Suggested KPI weights (entropy-weight method)")
        case .suggestedWeightsNote: ("按各月读数的离散程度计算，仅供参考；由机关用 sitesync kpi weights suggest --apply 采用。",
                                     "From how much the monthly readings differ: a suggestion to judge; an office applies it with sitesync kpi weights suggest --apply.")
        case .currentWeight: ("现行权重", "Current weight")
        case .suggestedWeight: ("建议权重", "Suggested")
        case .basis: ("工效依据", "Rate from")
        case .allColors: ("全部", "All")
        case .onlyColor: ("只看", "Only")
        case .moreNotShown: ("其余未列出：", "More not listed:")
        case .audit: ("审计", "Audit")
        case .auditIntro: ("只读的审计视图：每张表按时间倒序，每页 100 行。", "Read-only audit views: each table newest first, 100 rows a page.")
        case .signIns: ("登录记录", "Sign-ins")
        case .signInsNote: ("每个账号的最近登录时间，以及当前有效的会话。", "Each account's last sign-in, and the sessions live now.")
        case .people: ("人员账号", "People")
        case .liveSessions: ("当前会话", "Live sessions")
        case .created: ("创建时间", "Created")
        case .passwordChanged: ("密码修改时间", "Password changed")
        case .lastSignIn: ("最近登录", "Last sign-in")
        case .disabled: ("停用时间", "Disabled")
        case .never: ("从未", "never")
        case .from: ("来源地址", "From")
        case .signedInAt: ("登录时间", "Signed in")
        case .lastUsed: ("最近使用", "Last used")
        case .endsBy: ("最迟结束", "Ends by")
        case .apiLog: ("接口访问记录", "API access log")
        case .apiLogNote: ("经接口令牌提交的每一次写入请求。", "Every write request made with an API token.")
        case .token: ("令牌", "Token")
        case .idempotencyKey: ("幂等键", "Idempotency key")
        case .statusCode: ("HTTP 状态码", "HTTP status")
        case .changeCount: ("变更数", "Changes")
        case .at: ("时间", "At")
        case .rejections: ("被拒绝的变更", "Refused changes")
        case .refusedBy: ("拒绝方", "Refused by")
        case .origin: ("来源节点", "Origin")
        case .refusalCode: ("拒绝代码", "Code")
        case .conflictHistory: ("冲突记录（已处理与未决）", "Conflicts, resolved and open")
        case .rule: ("合并规则", "Rule")
        case .settledAt: ("处理时间", "Settled")
        case .settledBy: ("处理方", "Settled by")
        case .stillSideBySide: ("多值并存", "Values side by side")
        case .values: ("各方的值", "Values")
        case .recordHistory: ("记录变更历史", "A record's change history")
        case .recordHistoryHelp: ("输入数据集和记录编号，查看该记录在本节点日志中的全部变更。",
                                  "Give a collection and a record id to see every change of that record in this node's log.")
        case .show: ("查看", "Show")
        case .deleted: ("删除记录", "deleted the record")
        case .inForce: ("生效", "in force")
        case .notInForce: ("未生效", "not in force")
        case .logPosition: ("日志序号", "Log position")
        case .previousPage: ("上一页", "Previous page")
        case .nextPage: ("下一页", "Next page")
        case .pages: ("分页", "Pages")
        case .change: ("变更内容", "Change")
        case .history: ("历史", "History")
        case .formIncomplete: ("表单不完整：数据集、记录、字段和值都要填写，请刷新页面后重试。",
                               "The form is incomplete: collection, id, field and value are all needed; reload the page and try again.")
        case .tooManyAttempts: ("登录失败次数过多，暂不接受登录（密码正确也不行）；请稍后再试，或请管理员重置密码。",
                                "Too many failed sign-ins: signing in is refused for now, the right password too; try again later, or ask the hub's operator.")
        case .suggestionEmpty: ("意见是空的：请写下您的意见再提交。", "The suggestion is empty: write what you suggest, then send it.")
        case .replyEmpty: ("答复是空的：请写明中心办公室将怎么做，或为什么不采纳。", "The reply is empty: say what the office will do, or why not.")
        case .notAnAnswer: ("请选择答复结果：采纳、不采纳或已办结。", "Choose the answer: accepted, declined or done.")
        case .refusedBecause: ("未能完成，原因（系统原文）：", "Not done, because:")
        case .crossSiteSignIn: ("登录表单来自其他网站，已拒绝；请直接打开本看板的登录页面登录。",
                                "The sign-in form came from another site and is refused: open this dashboard's sign-in page and sign in there.")
        }
    }
}
