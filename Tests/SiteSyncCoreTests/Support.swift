import SiteSyncCore
import SiteSyncTestSupport

/// A collection with one field per merge rule, for the algebra tests.
let sample = CollectionSpec("sample", code: 1, scope: .shared, fields: [
    FieldSpec("title", code: 1, .text, .lww),
    FieldSpec("notes", code: 2, .text, .mv),
    FieldSpec("crew", code: 3, .int, .max),
    FieldSpec("started", code: 4, .date, .min),
    FieldSpec("percent", code: 5, .decimal, .emax),
    FieldSpec("status", code: 6, .enumeration(["open", "doing", "done"]), .state),
    FieldSpec("tags", code: 7, .set, .orset),
    FieldSpec("code", code: 8, .text, .immutable),
])

/// An in-memory replica driven by the core alone: it writes with full contexts, keeps a
/// causal log and applies what it receives, as the store does.
struct SimReplica {
    let id: ReplicaID
    var counter: UInt64 = 0
    var clock: HybridLogicalClock
    var states: [RecordKey: RecordState] = [:]
    var log: [Change] = []
    var knowledge = VersionVector()

    init(id: ReplicaID, wallClock: @escaping @Sendable () -> UInt64 = { 1_700_000_000_000 }) {
        self.id = id
        clock = HybridLogicalClock(wallClock: wallClock)
    }

    func state(_ key: RecordKey) -> RecordState { states[key] ?? RecordState(key: key) }

    /// Issues and applies a local change to `key`.
    @discardableResult
    mutating func write(_ key: RecordKey, _ body: Change.Body) -> Change {
        counter += 1
        let change = Change(dot: Dot(replica: id, counter: counter), hlc: clock.tick(), record: key, department: "",
                            context: state(key).context, body: body)
        var s = state(key)
        try! s.apply(change, in: sample)
        states[key] = s
        log.append(change)
        knowledge.insert(change.dot)
        return change
    }

    /// Applies a remote change; `false` when it was already held.
    @discardableResult
    mutating func receive(_ change: Change) throws -> Bool {
        if knowledge.contains(change.dot) { return false }
        var s = state(change.record)
        let applied = try s.apply(change, in: sample)
        states[change.record] = s
        clock.observe(change.hlc)
        if applied {
            log.append(change)
            knowledge.insert(change.dot)
        }
        return applied
    }

    /// What a receiver with `base` lacks, in this replica's log order.
    func changes(lackedBy base: VersionVector) -> [Change] {
        log.filter { !base.contains($0.dot) }
    }

    /// A random write to `key` touching a random subset of fields, with values from small
    /// domains so that concurrent writes often collide.
    @discardableResult
    mutating func randomWrite<G: RandomNumberGenerator>(_ key: RecordKey, using g: inout G) -> Change {
        if Int.random(in: 0..<12, using: &g) == 0, !state(key).isEmpty {
            return write(key, .delete)
        }
        let current = state(key)
        var writes: [FieldWrite] = []
        for spec in sample.fields where Bool.random(using: &g) || writes.isEmpty && spec.code == 8 {
            let versions = current.versions(of: spec.code)
            switch spec.rule {
            case .orset:
                let pool = ["a", "b", "c"]
                let add = pool.filter { _ in Int.random(in: 0..<3, using: &g) == 0 }
                let present = Set(versions.compactMap { v -> String? in if case .text(let e) = v.value { return e } else { return nil } })
                let remove = present.filter { _ in Bool.random(using: &g) }.sorted()
                writes.append(FieldWrite(field: spec.code, .updateSet(add: add, remove: remove)))
            default:
                let value = Self.randomValue(spec, using: &g)
                let tag = LocalWritePlanner.tag(for: value, spec: spec, versions: versions)
                writes.append(.assign(spec.code, value, tag: tag, supersede: Int.random(in: 0..<8, using: &g) == 0))
            }
        }
        return write(key, .upsert(writes))
    }

    static func randomValue<G: RandomNumberGenerator>(_ spec: FieldSpec, using g: inout G) -> FieldValue {
        switch spec.type {
        case .text: return .text(["x", "y", "z"].randomElement(using: &g)!)
        case .int: return .int(Int64.random(in: 0...4, using: &g))
        case .date: return .date(CalendarDate(year: 2026, month: 11, day: Int.random(in: 1...4, using: &g))!)
        case .decimal: return .decimal(ExactDecimal(Int64.random(in: 0...4, using: &g) * 25))
        case .enumeration(let cases): return .symbol(cases.randomElement(using: &g)!)
        default: return .null
        }
    }
}

/// The canonical export of a set of record states, as the digest sees it.
func canonicalLines(_ states: [RecordKey: RecordState]) -> [String] {
    states.keys.sorted { $0.id < $1.id }.map { CanonicalRecord.json(states[$0]!, in: sample).canonicalText }
}
