/// How far a receiver's knowledge of one origin reaches.
public struct OriginKnowledge: Sendable, Equatable {
    /// Every change of the origin up to this counter is held (or vouched for by the hub).
    public var counter: UInt64
    /// The highest counter of the origin held at all: changes between `counter` and it may be
    /// held, with gaps among them.
    public var maxSeen: UInt64

    public init(counter: UInt64 = 0, maxSeen: UInt64 = 0) {
        self.counter = counter
        self.maxSeen = maxSeen
    }
}

/// What the apply planner may ask of the replica it plans for, beyond the change in hand:
/// facts read as they stand inside the batch's transaction (the batch's earlier changes
/// included). Read-only: the planner decides, the store writes.
///
/// ``RecordReader/state(of:)`` answers for records other than the change's own (a reference's
/// target, the record a value rule looks up): `nil` when not held, or held empty.
public protocol HeldFacts: RecordReader {
    /// The bytes a change came in, as the caller holds them (compared, never read, here).
    associatedtype Content

    /// What the log holds of `dot`, or `nil` when it holds nothing of it.
    func status(of dot: Dot) throws -> ChangeStatus?

    /// Whether `content` is other content than what this replica holds (or held) for `dot`:
    /// its origin used the id twice (its database went back to an old copy).
    func isReused(_ dot: Dot, department: String, content: Content) throws -> Bool

    /// The refusal this replica (a hub) gave `dot` before, to repeat when it comes again.
    func refusalGiven(_ dot: Dot) throws -> Refusal?

    /// Whether `change`, which does not follow `state`'s context, names a change that is
    /// withheld or retracted here.
    func dependsOnWithheld(_ change: Change, state: RecordState) throws -> Bool
}

/// Decides what happens to each change (and each hole) of a received batch, from the change,
/// what is held of it, its record's state, its origin's knowledge and the authorizer's,
/// references' and value rules' verdicts. It does no I/O: facts beyond the values given come
/// through ``HeldFacts``, and the store executes the decisions (docs/design.md §5).
///
/// A change goes through three questions, in order, each a method:
/// 1. ``admit(_:content:known:lastInBatch:reusedFrom:facts:)``: is it new here?
/// 2. ``judge(_:in:held:hubRefused:facts:)``: may it apply?
/// 3. ``merge(_:into:in:facts:)``: what does applying it do to its record?
public struct ApplyPlanner: Sendable {
    public let schema: Schema
    /// What each origin may write; `nil` where no allow-list applies.
    public let authorizer: ChangeAuthorizer?

    public init(schema: Schema, authorizer: ChangeAuthorizer?) {
        self.schema = schema
        self.authorizer = authorizer
    }

    /// Whether this receiver's word on a change is final (the hub's): only it judges value
    /// rules, deleted targets and changes made on top of refused ones.
    public var authoritative: Bool { authorizer?.authoritative == true }

    // MARK: - Is it new here?

    /// Whether a received change is new here.
    public enum Admission: Equatable, Sendable {
        /// The batch holds its origin's changes out of counter order (this one after `last`):
        /// the whole batch is refused.
        case outOfOrder(after: UInt64)
        /// Its id was used before for other content, or it follows such an id: it is kept
        /// aside (both contents are kept) and refused `reused-id`.
        case reusedID(Refusal)
        /// Held already (sent again, or duplicated): skipped. A hub repeats the refusal it gave
        /// it before, if any.
        case alreadyKnown(repeating: Refusal?)
        /// Not held: judge it.
        case new
    }

    /// - Parameters:
    ///   - content: the change's bytes, compared with what is held for its id.
    ///   - known: this replica's knowledge of the change's origin.
    ///   - lastInBatch: the counter of the origin's previous change in this batch.
    ///   - reusedFrom: the origin's first id found reused, if any.
    public func admit<Facts: HeldFacts>(
        _ change: Change, content: Facts.Content, known: OriginKnowledge, lastInBatch: UInt64?, reusedFrom: UInt64?, facts: Facts
    ) throws -> Admission {
        let dot = change.dot
        if let last = lastInBatch, dot.counter <= last { return .outOfOrder(after: last) }
        // Above the contiguous knowledge, only the log knows (asked only there: it costs a read).
        let held = try dot.counter <= known.counter || (dot.counter <= known.maxSeen && facts.status(of: dot) != nil)
        if held, try facts.isReused(dot, department: change.department, content: content) {
            return .reusedID(Refusal(dot: dot, code: .reusedID, reason:
                "change \(dot) was already received with other content: the sending node's database was restored from an old copy; "
                + "it takes a new replica id and re-issues its work (both contents are kept)"))
        }
        if !held, let from = reusedFrom, dot.counter >= from {
            return .reusedID(Refusal(dot: dot, code: .reusedID, reason:
                "change \(dot) follows a reused change id of its origin; it is kept aside, and its work re-issued under a new replica id"))
        }
        if held { return .alreadyKnown(repeating: authoritative ? try facts.refusalGiven(dot) : nil) }
        return .new
    }

    // MARK: - May it apply?

    /// Whether a new change may apply.
    public enum Verdict: Equatable, Sendable {
        /// It may apply. `noting`: the records it points at that are not held here yet; a hub
        /// notes them, to decide the reference when each arrives.
        case apply(noting: [RecordKey])
        /// It may not: only its place in its chain is kept (a hole). The refusal is `nil` for
        /// a change the hub refused before (its refusal is already known here). `noting` as
        /// for ``apply(noting:)``: the references noted before the refusal was found (a note
        /// for a withheld change is dropped, unused, when its target arrives).
        case withhold(Refusal?, noting: [RecordKey])
    }

    /// - Parameters:
    ///   - held: the change's record as held here (empty when never seen).
    ///   - hubRefused: whether the hub's refusal of this change is known here already.
    public func judge<Facts: HeldFacts>(
        _ change: Change, in collection: CollectionSpec, held: @autoclosure () -> RecordState, hubRefused: Bool, facts: Facts
    ) throws -> Verdict {
        if hubRefused { return .withhold(nil, noting: []) }
        guard let authorizer else { return .apply(noting: []) }
        // Read only here: a receiver that judges nothing does not copy the record.
        let held = held()
        if let refusal = try authorizer.refusal(for: change, held: held, schema: schema, referrers: { try facts.referrers(of: $0) }) {
            return .withhold(refusal, noting: [])
        }
        var noting: [RecordKey] = []
        if let refusal = try referenceRefusal(change, in: collection, noting: &noting, facts: facts) {
            return .withhold(refusal, noting: noting)
        }
        if authorizer.authoritative, let refusal = try valueRefusal(change, in: collection, held: held, facts: facts) {
            return .withhold(refusal, noting: noting)
        }
        return .apply(noting: noting)
    }

    /// Why `change` may not point where it does, by the department of each record it points at
    /// as held here. A target not held yet is decided when it arrives: the hub notes it (in
    /// `noting`), and refuses the change then if need be.
    private func referenceRefusal<Facts: HeldFacts>(
        _ change: Change, in collection: CollectionSpec, noting: inout [RecordKey], facts: Facts
    ) throws -> Refusal? {
        for (field, target) in ReferencePolicy.targets(of: change, schema: schema) {
            guard let held = try facts.state(of: target) else {
                if authoritative { noting.append(target) }
                continue
            }
            let what = "\(collection.name) \(change.record.id)"
            let targetName = schema.collection(code: target.collection)?.name ?? "\(target.collection)"
            if authoritative, held.isDeleted {
                return ReferencePolicy.deletedTargetRefusal(change.dot, what: what, field: field, target: targetName, targetID: target.id)
            }
            if let refusal = ReferencePolicy.refusal(change.dot, what: what, field: field, target: targetName, targetID: target.id,
                                                     department: change.department, targetDepartment: held.department) {
                return refusal
            }
        }
        return nil
    }

    /// Why `change` would leave its record breaking a value rule (``ValueRules``), judged on the
    /// record as held here with the change applied, other records looked up as held here. Only
    /// the hub judges: its word is final, and two receivers judging concurrent changes in
    /// different orders could disagree.
    private func valueRefusal<Facts: HeldFacts>(
        _ change: Change, in collection: CollectionSpec, held: RecordState, facts: Facts
    ) throws -> Refusal? {
        guard case .upsert(let writes) = change.body, ValueRules.judges(collection) else { return nil }
        var trial = held
        // A change that does not apply is answered by the merge.
        guard (try? trial.apply(change, in: collection)) == true else { return nil }
        let denial = try ValueRules.denial(collection, record: trial, written: Set(writes.map(\.field)), schema: schema) { key in
            try facts.state(of: key)
        }
        return denial.map { Refusal(dot: change.dot, code: $0.code, reason: $0.reason) }
    }

    // MARK: - What does it do?

    /// What applying a change did to its record.
    public enum MergeOutcome: Equatable, Sendable {
        /// Applied. `conflict`: the record now keeps values concurrent with this change's (it
        /// had not seen them all, and a field resolves with a conflict).
        case applied(conflict: Bool)
        /// The record had it already (received by state transfer): nothing changed.
        /// `logged`: whether the log holds it too; if not, it is logged now, so the chain held
        /// here goes on without a gap.
        case alreadyInState(logged: Bool)
        /// Made on top of a change that was refused: a hub refuses it in turn.
        case withhold(Refusal)
        /// It cannot apply (it depends on changes not held, or does not fit the schema): the
        /// whole batch is refused.
        case unappliable(CoreError)
    }

    /// Applies `change` to `state` (its record as held, changed in place).
    public func merge<Facts: HeldFacts>(
        _ change: Change, into state: inout RecordState, in collection: CollectionSpec, facts: Facts
    ) throws -> MergeOutcome {
        let sawAll = state.context.isCovered(by: change.context)
        let applied: Bool
        do {
            applied = try state.apply(change, in: collection)
        } catch {
            if error.code == .causalityViolation, authoritative, try facts.dependsOnWithheld(change, state: state) {
                return .withhold(Refusal(dot: change.dot, code: .dependsOnRefused,
                                         reason: "\(collection.name) \(change.record.id): it was made on top of a change that was refused"))
            }
            return .unappliable(error)
        }
        guard applied else { return .alreadyInState(logged: try facts.status(of: change.dot) != nil) }
        return .applied(conflict: !sawAll && state.conflictCount(in: collection) > 0)
    }

    // MARK: - Holes

    /// What happens to a received hole (a change its origin's hub refused: only its place in
    /// the chain travels).
    public enum HoleDecision: Equatable, Sendable {
        /// It follows a reused id of its origin: nothing of it is kept.
        case ignore
        /// Held already, and not in force: nothing to do.
        case alreadyKnown
        /// The change is held here in force: the hub refused it, so it is retracted and its
        /// record rebuilt without it.
        case retract
        /// Not held: its place is kept, withheld.
        case withhold
    }

    public func admit<Facts: HeldFacts>(_ hole: Hole, known: OriginKnowledge, reusedFrom: UInt64?, facts: Facts) throws -> HoleDecision {
        if let from = reusedFrom, hole.dot.counter >= from { return .ignore }
        if hole.dot.counter <= known.counter || hole.dot.counter <= known.maxSeen, let status = try facts.status(of: hole.dot) {
            return status == .inForce ? .retract : .alreadyKnown
        }
        return .withhold
    }
}
