import Foundation
import SiteSyncCore

/// The compact encoding of the changes of a `Batch` (protocol/README.md, "Batch encoding").
///
/// On the wire a change costs a few bytes beyond its values: the batch holds one table of the
/// replica ids and one of the department codes it uses, and each change refers to them by
/// index, gives its counter and HLC as deltas and each written field in two bytes. The receiver
/// rebuilds every change and stores its canonical `sitesync.v1.Change` encoding, which is what
/// the origin stored, so a change's bytes are the same on every replica.
public enum BatchCodec {
    public static let formatVersion: UInt8 = 1

    /// Encodes changes (in the sender's log order).
    public static func encode(_ changes: [Change]) -> Data {
        var replicas: [ReplicaID] = [], replicaIndex: [ReplicaID: Int] = [:]
        var departments: [String] = [], departmentIndex: [String: Int] = [:]
        func replica(_ id: ReplicaID) -> Int {
            if let index = replicaIndex[id] { return index }
            replicaIndex[id] = replicas.count
            replicas.append(id)
            return replicas.count - 1
        }
        func department(_ code: String) -> Int {
            if let index = departmentIndex[code] { return index }
            departmentIndex[code] = departments.count
            departments.append(code)
            return departments.count - 1
        }
        var body = Writer(capacity: changes.count * 64)
        var lastCounter: [ReplicaID: UInt64] = [:]
        var lastHLC: UInt64 = 0
        for change in changes {
            body.varint(UInt64(replica(change.dot.replica)))
            body.varint(change.dot.counter &- (lastCounter[change.dot.replica] ?? 0))
            lastCounter[change.dot.replica] = change.dot.counter
            body.signed(Int64(bitPattern: change.hlc.rawValue &- lastHLC))
            lastHLC = change.hlc.rawValue
            let uuid = RecordID.uuidBytes(change.record.id)
            var flags: UInt8 = change.isDelete ? 1 : 0
            if uuid != nil { flags |= 2 }
            if !change.context.isEmpty { flags |= 4 }
            body.byte(flags)
            body.varint(UInt64(change.record.collection))
            if let uuid { body.bytes(uuid) } else { body.string(change.record.id) }
            body.varint(UInt64(department(change.department)))
            if !change.context.isEmpty {
                body.varint(UInt64(change.context.entries.count))
                for entry in change.context.entries {
                    body.varint(UInt64(replica(entry.replica)))
                    body.varint(entry.counter)
                }
            }
            guard case .upsert(let writes) = change.body else { continue }
            body.varint(UInt64(writes.count))
            for write in writes {
                body.varint(UInt64(write.field))
                switch write.operation {
                case .assign(let value, let tag, let supersede):
                    var kind: UInt8
                    switch value {
                    case .null: kind = 0
                    case .text: kind = 1
                    case .int: kind = 2
                    case .decimal: kind = 3
                    case .date: kind = 4
                    case .symbol: kind = 5
                    case .ref: kind = 6
                    case .set: kind = 0  // never produced: sets travel as updates
                    }
                    if supersede { kind |= 8 }
                    if tag != 0 { kind |= 16 }
                    body.byte(kind)
                    if tag != 0 { body.varint(UInt64(tag)) }
                    switch value {
                    case .null, .set: break
                    case .text(let s), .symbol(let s), .ref(let s): body.string(s)
                    case .int(let i): body.signed(i)
                    case .decimal(let d): body.string(d.description)
                    case .date(let d): body.signed(Int64(d.daysSinceEpoch))
                    }
                case .updateSet(let add, let remove):
                    body.byte(7)
                    body.varint(UInt64(add.count))
                    add.forEach { body.string($0) }
                    body.varint(UInt64(remove.count))
                    remove.forEach { body.string($0) }
                }
            }
        }
        var out = Writer(capacity: body.bytes.count + replicas.count * 8 + 16)
        out.byte(formatVersion)
        out.varint(UInt64(replicas.count))
        for id in replicas { out.fixed64(id.rawValue) }
        out.varint(UInt64(departments.count))
        departments.forEach { out.string($0) }
        out.bytes(body.bytes)
        return Data(out.bytes)
    }

    /// Decodes `count` changes and checks each as ``ChangeCodec/decode`` does.
    /// - Throws: ``WireError`` when the bytes do not decode to exactly `count` valid changes.
    public static func decode(_ data: Data, count: Int, schema: Schema) throws(WireError) -> [Change] {
        guard count >= 0 else { throw WireError(.invalid, "a batch claims \(count) changes; a count cannot be negative") }
        let result: Result<[ChangeDecoder.RawChange], ChangeDecoder.Malformed> = data.withUnsafeBytes { bytes in
            var reader = ChangeDecoder(bytes)
            return Result { () throws(ChangeDecoder.Malformed) in try reader.compactBatch(count: count) }
        }
        guard case .success(let raws) = result else {
            throw WireError(.malformed, "a batch's changes do not decode (expected \(count) in the compact encoding)")
        }
        var changes: [Change] = []
        changes.reserveCapacity(raws.count)
        for raw in raws {
            changes.append(try ChangeCodec.change(from: raw, dot: Dot(replica: ReplicaID(rawValue: raw.origin), counter: raw.counter),
                                                  schema: schema))
        }
        return changes
    }

    /// The number of bytes of the written values of `change`, as people see them (text as
    /// UTF-8, numbers and dates in their canonical text): what the wire overhead is measured
    /// against.
    public static func valueBytes(_ change: Change) -> Int {
        guard case .upsert(let writes) = change.body else { return 0 }
        return writes.reduce(0) { total, write in
            switch write.operation {
            case .assign(let value, _, _): total + value.displayText.utf8.count
            case .updateSet(let add, let remove): total + (add + remove).reduce(0) { $0 + $1.utf8.count }
            }
        }
    }

    /// A growable little-endian buffer with protobuf-style varints.
    /// Batches are written with the one byte writer.
    typealias Writer = ByteWriter
}

extension ChangeDecoder {
    /// The fewest bytes a change takes in a compact batch: origin, counter, clock, flags,
    /// collection, record id and department of one byte each.
    static let minimumCompactChangeBytes = 7

    /// Reads a compact batch into the same raw parts the protobuf decoder produces, so that one
    /// set of checks serves both.
    mutating func compactBatch(count: Int) throws(Malformed) -> [RawChange] {
        guard !isAtEnd, try byte() == BatchCodec.formatVersion else { throw Malformed() }
        let replicaCount = try varint()
        guard replicaCount <= UInt64(DecodeLimits.maxVectorEntries) else { throw Malformed() }
        var replicas: [UInt64] = []
        for _ in 0..<replicaCount { replicas.append(try fixed64()) }
        let departmentCount = try varint()
        guard departmentCount <= 4096 else { throw Malformed() }
        var departments: [String] = []
        for _ in 0..<departmentCount { departments.append(try string()) }
        func replica(_ index: UInt64) throws(Malformed) -> UInt64 {
            guard index < UInt64(replicas.count) else { throw Malformed() }
            return replicas[Int(index)]
        }
        var lastCounter: [UInt64: UInt64] = [:]
        var lastHLC: UInt64 = 0
        var changes: [RawChange] = []
        // Room for the changes the bytes can hold, not for the count a peer claims.
        changes.reserveCapacity(min(count, remaining / Self.minimumCompactChangeBytes))
        for _ in 0..<count {
            var raw = RawChange()
            let origin = try replica(try varint())
            let (counter, overflow) = (lastCounter[origin] ?? 0).addingReportingOverflow(try varint())
            guard !overflow else { throw Malformed() }
            lastCounter[origin] = counter
            raw.origin = origin
            raw.counter = counter
            let zigzag = try varint()
            lastHLC = lastHLC &+ UInt64(bitPattern: Varint.signed(zigzag))
            raw.hlc = lastHLC
            let flags = try byte()
            guard flags < 8 else { throw Malformed() }
            raw.isDelete = flags & 1 != 0
            raw.collection = try varint()
            if flags & 2 != 0 {
                raw.recordUUID = try fixedBytes(16)
            } else {
                raw.recordID = try string()
            }
            let departmentIndex = try varint()
            guard departmentIndex < UInt64(departments.count) else { throw Malformed() }
            raw.department = departments[Int(departmentIndex)]
            if flags & 4 != 0 {
                let entries = try varint()
                guard entries > 0, entries <= UInt64(DecodeLimits.maxVectorEntries) else { throw Malformed() }
                for _ in 0..<entries {
                    raw.replicas.append(try replica(try varint()))
                    raw.counters.append(try varint())
                }
            }
            if !raw.isDelete {
                let writes = try varint()
                guard writes <= UInt64(DecodeLimits.maxWritesPerChange) else { throw Malformed() }
                for _ in 0..<writes {
                    var write = RawWrite()
                    write.field = try varint()
                    let kind = try byte()
                    guard kind < 32 else { throw Malformed() }
                    write.supersede = kind & 8 != 0
                    if kind & 16 != 0 { write.tag = try varint() }
                    switch kind & 7 {
                    case 0: write.value = .null
                    case 1: write.value = .text(try string())
                    case 2: write.value = .int(try signed())
                    case 3: write.value = .decimal(try string())
                    case 4:
                        let days = try signed()
                        guard let narrow = Int32(exactly: days) else { throw Malformed() }
                        write.value = .date(narrow)
                    case 5: write.value = .symbol(try string())
                    case 6: write.value = .ref(try string())
                    default:
                        guard kind == 7 else { throw Malformed() }
                        let adds = try varint()
                        guard adds <= 4096 else { throw Malformed() }
                        for _ in 0..<adds { write.add.append(try string()) }
                        let removes = try varint()
                        guard removes <= 4096 else { throw Malformed() }
                        for _ in 0..<removes { write.remove.append(try string()) }
                    }
                    raw.writes.append(write)
                }
            }
            changes.append(raw)
        }
        guard isAtEnd else { throw Malformed() }
        return changes
    }
}
