/// Mutates valid encodings into the broken ones a hostile peer or a damaged file would hand a
/// decoder: flipped bits, bytes inserted, deleted or repeated, a cut, two inputs spliced, and the
/// varints a decoder trusts (lengths and counts) overwritten with huge values or with lengths
/// that point past the end. Seeded, so that a failure replays from its seed.
public struct ByteMutator {
    /// One way of damaging an input, named for the failure messages.
    public enum Mutation: String, CaseIterable, Sendable {
        case flipBit, setByte, insertByte, deleteBytes, duplicateBytes, truncate, splice, hugeVarint, lengthPastEnd
    }

    public var generator: SeededGenerator

    public init(seed: UInt64) {
        generator = SeededGenerator(seed: seed)
    }

    /// Varints a decoder may trust too far: 2^64 − 1 (ten bytes), 2^63, 2^32 − 1 and 2^32 (a
    /// count that wraps a 32-bit integer), 2^31 (a negative Int32), and an unterminated run.
    public static let hugeVarints: [[UInt8]] = [
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        [0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
        [0x80, 0x80, 0x80, 0x80, 0x10],
        [0x80, 0x80, 0x80, 0x80, 0x08],
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
    ]

    /// Values that sit on the edges decoders test against.
    static let interestingBytes: [UInt8] = [0x00, 0x01, 0x07, 0x08, 0x0F, 0x10, 0x7F, 0x80, 0xFE, 0xFF]

    /// `input` with one to `maxMutations` random mutations applied; `other` is what a splice
    /// takes its second half from.
    public mutating func mutate(_ input: [UInt8], splicingWith other: [UInt8], maxMutations: Int = 4) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...max(1, maxMutations), using: &generator) {
            bytes = apply(Mutation.allCases.randomElement(using: &generator)!, to: bytes, other: other)
        }
        return bytes
    }

    /// `bytes` with one `mutation` applied (an empty input only grows).
    public mutating func apply(_ mutation: Mutation, to bytes: [UInt8], other: [UInt8]) -> [UInt8] {
        var bytes = bytes
        guard !bytes.isEmpty else {
            bytes.append(Self.interestingBytes.randomElement(using: &generator)!)
            return bytes
        }
        // One mutation in four hits the first bytes, where the counts and lengths of a header are.
        let at = Int.random(in: 0..<(Int.random(in: 0..<4, using: &generator) == 0 ? min(4, bytes.count) : bytes.count), using: &generator)
        switch mutation {
        case .flipBit:
            bytes[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &generator)
        case .setByte:
            bytes[at] = Bool.random(using: &generator) ? Self.interestingBytes.randomElement(using: &generator)!
                : UInt8.random(in: 0...255, using: &generator)
        case .insertByte:
            bytes.insert(UInt8.random(in: 0...255, using: &generator), at: at)
        case .deleteBytes:
            bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &generator)))
        case .duplicateBytes:
            let piece = bytes[at..<min(bytes.count, at + Int.random(in: 1...32, using: &generator))]
            bytes.insert(contentsOf: Array(piece), at: at)
        case .truncate:
            bytes.removeSubrange(at...)
        case .splice:
            let cut = other.isEmpty ? 0 : Int.random(in: 0..<other.count, using: &generator)
            bytes = Array(bytes[..<at]) + other[cut...]
        case .hugeVarint:
            bytes.replaceSubrange(at..<Self.varintEnd(in: bytes, from: at), with: Self.hugeVarints.randomElement(using: &generator)!)
        case .lengthPastEnd:
            // A length just past what is left after it, or far past it.
            let left = bytes.count - Self.varintEnd(in: bytes, from: at)
            let length = UInt64(left) + (Bool.random(using: &generator) ? UInt64.random(in: 1...4, using: &generator) : 1 << 20)
            bytes.replaceSubrange(at..<Self.varintEnd(in: bytes, from: at), with: Self.varint(length))
        }
        return bytes
    }

    /// Where the varint starting at `start` ends (at most ten bytes, or the end of `bytes`).
    static func varintEnd(in bytes: [UInt8], from start: Int) -> Int {
        var end = start
        while end < bytes.count, end - start < 10 {
            end += 1
            if bytes[end - 1] < 0x80 { break }
        }
        return end
    }

    public static func varint(_ value: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
        return bytes
    }
}
