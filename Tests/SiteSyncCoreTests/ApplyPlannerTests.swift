import Testing
@testable import SiteSyncCore

/// A replica as the apply planner sees it, held in plain values.
struct HeldValues: HeldFacts {
    var statuses: [Dot: ChangeStatus] = [:]
    /// The content held for each id (a change's bytes, here a string).
    var contents: [Dot: String] = [:]
    var refusalsGiven: [Dot: Refusal] = [:]
    var records: [RecordKey: RecordState] = [:]
    var referrerCounts: [RecordKey: [String: Int]] = [:]
    var withheldBelow = false

    func status(of dot: Dot) -> ChangeStatus? { statuses[dot] }
    func isReused(_ dot: Dot, department: String, content: String) -> Bool { contents[dot].map { $0 != content } ?? false }
    func refusalGiven(_ dot: Dot) -> Refusal? { refusalsGiven[dot] }
    func state(of key: RecordKey) -> RecordState? { records[key].flatMap { $0.isEmpty ? nil : $0 } }
    func referrers(of key: RecordKey) -> [String: Int] { referrerCounts[key] ?? [:] }
    func dependsOnWithheld(_ change: Change, state: RecordState) -> Bool { withheldBelow }
}

@Suite struct ApplyPlannerTests {
    let schema = Schema.siteSync
    let site = ReplicaID(rawValue: 0xA1)
    let office = ReplicaID(rawValue: 0xB2)
    var project: CollectionSpec { schema.collection(named: "project")! }
    var activity: CollectionSpec { schema.collection(named: "activity")! }
    var costEntry: CollectionSpec { schema.collection(named: "cost_entry")! }

    /// A field node of roads and the office, as a hub (authoritative) or a node sees them.
    func authorizer(authoritative: Bool) -> ChangeAuthorizer {
        ChangeAuthorizer(writers: [site: WriterIdentity(role: .field, department: "roads"),
                                   office: WriterIdentity(role: .office, department: "")], authoritative: authoritative)
    }

    func planner(authoritative: Bool? = nil) -> ApplyPlanner {
        ApplyPlanner(schema: schema, authorizer: authoritative.map { authorizer(authoritative: $0) })
    }

    func change(_ origin: ReplicaID, _ counter: UInt64, _ collection: CollectionSpec, _ id: String, department: String = "roads",
                context: VersionVector = VersionVector(), _ body: Change.Body) -> Change {
        Change(dot: Dot(replica: origin, counter: counter), hlc: HLCTimestamp(rawValue: counter << 16), record: RecordKey(collection: collection.code, id: id),
               department: department, context: context, body: body)
    }

    /// A cost entry of roads against `activityID` (a field node's typical write).
    func costChange(_ counter: UInt64, activityID: String = "act-1", amount: Int64 = 250) -> Change {
        change(site, counter, costEntry, "cost-\(counter)", .upsert([
            .assign(1, .ref(activityID)), .assign(2, .date(CalendarDate(year: 2025, month: 3, day: 4)!)), .assign(3, .decimal(ExactDecimal(amount))),
        ]))
    }

    /// Activity `id` of `department`, held (deleted when asked).
    func heldActivity(_ id: String, department: String, deleted: Bool = false) throws -> RecordState {
        var state = RecordState(key: RecordKey(collection: activity.code, id: id))
        let create = change(office, 1, activity, id, department: department, .upsert([.assign(1, .ref("p-1")), .assign(3, .text("Paving"))]))
        try state.apply(create, in: activity)
        if deleted {
            try state.apply(change(office, 2, activity, id, department: department, context: state.context, .delete), in: activity)
        }
        return state
    }

    func admit(_ planner: ApplyPlanner, _ change: Change, content: String = "bytes", known: OriginKnowledge = OriginKnowledge(),
               lastInBatch: UInt64? = nil, reusedFrom: UInt64? = nil, _ facts: HeldValues = HeldValues()) throws -> ApplyPlanner.Admission {
        try planner.admit(change, content: content, known: known, lastInBatch: lastInBatch, reusedFrom: reusedFrom, facts: facts)
    }

    func judge(_ planner: ApplyPlanner, _ change: Change, held: RecordState? = nil, hubRefused: Bool = false,
               _ facts: HeldValues = HeldValues()) throws -> ApplyPlanner.Verdict {
        try planner.judge(change, in: schema.collection(code: change.record.collection)!, held: held ?? RecordState(key: change.record),
                          hubRefused: hubRefused, facts: facts)
    }

    // MARK: - Is it new here?

    @Test func aChangeWithinTheKnowledgeIsAlreadyKnownAndOneAboveItIsNew() throws {
        let plain = planner()
        #expect(try admit(plain, costChange(3), known: OriginKnowledge(counter: 3, maxSeen: 3)) == .alreadyKnown(repeating: nil))
        #expect(try admit(plain, costChange(4), known: OriginKnowledge(counter: 3, maxSeen: 3)) == .new)
        // Above the contiguous knowledge, the log decides: held there or not.
        var facts = HeldValues()
        facts.statuses[Dot(replica: site, counter: 6)] = .inForce
        #expect(try admit(plain, costChange(6), known: OriginKnowledge(counter: 3, maxSeen: 7), facts) == .alreadyKnown(repeating: nil))
        #expect(try admit(plain, costChange(5), known: OriginKnowledge(counter: 3, maxSeen: 7), facts) == .new)
        #expect(try admit(plain, costChange(8), known: OriginKnowledge(counter: 3, maxSeen: 7), facts) == .new)
    }

    @Test func aHubRepeatsTheRefusalItGaveAChangeSentAgain() throws {
        let refusal = Refusal(dot: Dot(replica: site, counter: 2), code: .invalidValue, reason: "negative amount")
        var facts = HeldValues()
        facts.refusalsGiven[refusal.dot] = refusal
        let known = OriginKnowledge(counter: 2, maxSeen: 2)
        #expect(try admit(planner(authoritative: true), costChange(2), known: known, facts) == .alreadyKnown(repeating: refusal))
        #expect(try admit(planner(authoritative: false), costChange(2), known: known, facts) == .alreadyKnown(repeating: nil),
                "only the hub's refusals are final, so only the hub repeats them")
    }

    @Test func anOriginsChangesOutOfCounterOrderRefuseTheBatch() throws {
        #expect(try admit(planner(), costChange(5), lastInBatch: 5) == .outOfOrder(after: 5))
        #expect(try admit(planner(), costChange(4), lastInBatch: 5) == .outOfOrder(after: 5))
        #expect(try admit(planner(), costChange(6), lastInBatch: 5) == .new)
    }

    @Test func anIdHeldWithOtherContentOrFollowingOneIsReused() throws {
        var facts = HeldValues()
        facts.contents[Dot(replica: site, counter: 2)] = "first content"
        let known = OriginKnowledge(counter: 2, maxSeen: 2)
        guard case .reusedID(let refusal) = try admit(planner(), costChange(2), content: "second content", known: known, facts) else {
            Issue.record("a held id with other content is reused")
            return
        }
        #expect(refusal.code == .reusedID && refusal.dot == Dot(replica: site, counter: 2))
        #expect(try admit(planner(), costChange(2), content: "first content", known: known, facts) == .alreadyKnown(repeating: nil),
                "the same content again is a plain repeat")
        // Once an id of the origin was found reused, its later changes continue a history not held here.
        guard case .reusedID(let following) = try admit(planner(), costChange(3), known: known, reusedFrom: 2, facts) else {
            Issue.record("a change after a reused id is refused")
            return
        }
        #expect(following.code == .reusedID && following.reason.contains("follows a reused change id"))
        #expect(try admit(planner(), costChange(3), known: known, reusedFrom: 4, facts) == .new)
    }

    // MARK: - May it apply?

    @Test func aChangeTheHubRefusedBeforeIsWithheldWithoutANewRefusal() throws {
        #expect(try judge(planner(authoritative: true), costChange(1), hubRefused: true) == .withhold(nil, noting: []))
        #expect(try judge(planner(), costChange(1), hubRefused: true) == .withhold(nil, noting: []))
    }

    @Test func withoutAnAllowListEveryNewChangeApplies() throws {
        var facts = HeldValues()
        facts.records[RecordKey(collection: activity.code, id: "act-1")] = try heldActivity("act-1", department: "parks")
        #expect(try judge(planner(), costChange(1, amount: -5), facts) == .apply(noting: []))
    }

    @Test func theAuthorizersRefusalWithholdsTheChange() throws {
        let stranger = change(ReplicaID(rawValue: 0xC3), 1, costEntry, "cost-x", .upsert([.assign(3, .decimal(ExactDecimal(1)))]))
        guard case .withhold(let refusal?, noting: []) = try judge(planner(authoritative: true), stranger) else {
            Issue.record("a replica no one answers for is refused at the hub")
            return
        }
        #expect(refusal.code == .foreignActor)
        #expect(try judge(planner(authoritative: false), stranger) == .apply(noting: []), "a node takes it on its signature")
        let elsewhere = change(site, 1, costEntry, "cost-p", department: "parks", .upsert([.assign(3, .decimal(ExactDecimal(1)))]))
        guard case .withhold(let department?, noting: []) = try judge(planner(authoritative: false), elsewhere) else {
            Issue.record("a roads node writing for parks is refused")
            return
        }
        #expect(department.code == .forbiddenDepartment)
    }

    @Test func aReferenceToADeletedTargetIsRefusedAtTheHub() throws {
        var facts = HeldValues()
        facts.records[RecordKey(collection: activity.code, id: "act-1")] = try heldActivity("act-1", department: "roads", deleted: true)
        guard case .withhold(let refusal?, noting: []) = try judge(planner(authoritative: true), costChange(1), facts) else {
            Issue.record("a cost against a deleted activity is refused at the hub")
            return
        }
        #expect(refusal.code == .deletedTarget)
        #expect(try judge(planner(authoritative: false), costChange(1), facts) == .apply(noting: []),
                "a node does not judge deleted targets: the hub's word is final")
    }

    @Test func aReferenceIntoAnotherDepartmentIsRefused() throws {
        var facts = HeldValues()
        facts.records[RecordKey(collection: activity.code, id: "act-1")] = try heldActivity("act-1", department: "parks")
        guard case .withhold(let refusal?, noting: []) = try judge(planner(authoritative: false), costChange(1), facts) else {
            Issue.record("a roads cost against a parks activity is refused")
            return
        }
        #expect(refusal.code == .forbiddenDepartment)
    }

    @Test func aTargetNotHeldYetIsNotedAtTheHubOnly() throws {
        let target = RecordKey(collection: activity.code, id: "act-9")
        #expect(try judge(planner(authoritative: true), costChange(1, activityID: "act-9")) == .apply(noting: [target]))
        #expect(try judge(planner(authoritative: false), costChange(1, activityID: "act-9")) == .apply(noting: []))
        // A note made before a refusal stands with it.
        #expect(try judge(planner(authoritative: true), costChange(1, activityID: "act-9", amount: -1)).refusalCode == .invalidValue)
        guard case .withhold(_, let noting) = try judge(planner(authoritative: true), costChange(1, activityID: "act-9", amount: -1)) else {
            Issue.record("a negative cost is refused at the hub")
            return
        }
        #expect(noting == [target])
    }

    @Test func aValueRuleIsJudgedByTheHubOnly() throws {
        var facts = HeldValues()
        facts.records[RecordKey(collection: activity.code, id: "act-1")] = try heldActivity("act-1", department: "roads")
        #expect(try judge(planner(authoritative: true), costChange(1, amount: -5), facts).refusalCode == .invalidValue)
        #expect(try judge(planner(authoritative: false), costChange(1, amount: -5), facts) == .apply(noting: []))
        #expect(try judge(planner(authoritative: true), costChange(1, amount: 5), facts) == .apply(noting: []))
    }

    @Test func aDeletionOfARecordInUseIsRefusedAtTheHub() throws {
        let held = try heldActivity("act-1", department: "roads")
        let deletion = change(office, 2, activity, "act-1", context: held.context, .delete)
        var facts = HeldValues()
        facts.referrerCounts[held.key] = ["cost_entry": 2]
        #expect(try judge(planner(authoritative: true), deletion, held: held, facts).refusalCode == .referenced)
        #expect(try judge(planner(authoritative: true), deletion, held: held) == .apply(noting: []))
    }

    // MARK: - What does it do?

    @Test func aChangeThatHadNotSeenAConcurrentValueAppliesWithAConflict() throws {
        var state = RecordState(key: RecordKey(collection: project.code, id: "p-1"))
        let first = change(office, 1, project, "p-1", .upsert([.assign(2, .text("Ring road"))]))
        #expect(try planner().merge(first, into: &state, in: project, facts: HeldValues()) == .applied(conflict: false))
        let sequential = change(office, 2, project, "p-1", context: state.context, .upsert([.assign(2, .text("Ring road east"))]))
        #expect(try planner().merge(sequential, into: &state, in: project, facts: HeldValues()) == .applied(conflict: false))
        let concurrent = change(site, 1, project, "p-1", .upsert([.assign(2, .text("Bypass"))]))
        #expect(try planner().merge(concurrent, into: &state, in: project, facts: HeldValues()) == .applied(conflict: true))
        #expect(state.versions(of: 2).count == 2, "the merge keeps both concurrent names")
        #expect(state.conflictCount(in: project) == 1)
    }

    @Test func aChangeAlreadyInTheRecordIsLoggedIfTheLogLacksIt() throws {
        var state = RecordState(key: RecordKey(collection: project.code, id: "p-1"))
        let first = change(office, 1, project, "p-1", .upsert([.assign(2, .text("Ring road"))]))
        try state.apply(first, in: project)
        #expect(try planner().merge(first, into: &state, in: project, facts: HeldValues()) == .alreadyInState(logged: false))
        var facts = HeldValues()
        facts.statuses[first.dot] = .inForce
        #expect(try planner().merge(first, into: &state, in: project, facts: facts) == .alreadyInState(logged: true))
    }

    @Test func aChangeAheadOfItsDependenciesRefusesTheBatchUnlessTheyWereRefused() throws {
        var state = RecordState(key: RecordKey(collection: project.code, id: "p-1"))
        let ahead = change(site, 2, project, "p-1", context: VersionVector([(site, UInt64(1))]), .upsert([.assign(2, .text("Bypass"))]))
        guard case .unappliable(let error) = try planner(authoritative: true).merge(ahead, into: &state, in: project, facts: HeldValues()) else {
            Issue.record("a change whose dependencies are not held cannot apply")
            return
        }
        #expect(error.code == .causalityViolation)
        var facts = HeldValues()
        facts.withheldBelow = true
        guard case .withhold(let refusal) = try planner(authoritative: true).merge(ahead, into: &state, in: project, facts: facts) else {
            Issue.record("at the hub, a change made on top of a refused one is refused in turn")
            return
        }
        #expect(refusal.code == .dependsOnRefused)
        guard case .unappliable = try planner(authoritative: false).merge(ahead, into: &state, in: project, facts: facts) else {
            Issue.record("only the hub refuses a change for its dependencies")
            return
        }
        #expect(state.isEmpty, "nothing applied")
    }

    // MARK: - Holes

    @Test func aHoleRetractsAChangeHeldInForceAndKeepsItsPlaceOtherwise() throws {
        let hole = Hole(dot: Dot(replica: site, counter: 4), department: "roads", record: RecordKey(collection: costEntry.code, id: "cost-4"),
                        payloadHash: .of(payload: Array("bytes".utf8)))
        let known = OriginKnowledge(counter: 4, maxSeen: 4)
        var facts = HeldValues()
        #expect(try planner().admit(hole, known: OriginKnowledge(counter: 3, maxSeen: 3), reusedFrom: nil, facts: facts) == .withhold)
        facts.statuses[hole.dot] = .inForce
        #expect(try planner().admit(hole, known: known, reusedFrom: nil, facts: facts) == .retract)
        facts.statuses[hole.dot] = .withheld
        #expect(try planner().admit(hole, known: known, reusedFrom: nil, facts: facts) == .alreadyKnown)
        facts.statuses[hole.dot] = .retracted
        #expect(try planner().admit(hole, known: known, reusedFrom: nil, facts: facts) == .alreadyKnown)
        #expect(try planner().admit(hole, known: known, reusedFrom: 4, facts: facts) == .ignore, "it follows a reused id")
    }

    @Test func theStatusNumbersAreTheOnesStored() {
        #expect(ChangeStatus.allCases.map(\.rawValue) == [0, 1, 2])
        #expect(ChangeStatus.inForce.sql == "0" && ChangeStatus.retracted.sql == "2")
    }
}

extension ApplyPlanner.Verdict {
    /// The code of the refusal withholding the change, if any.
    var refusalCode: RefusalCode? {
        if case .withhold(let refusal?, _) = self { return refusal.code }
        return nil
    }
}
