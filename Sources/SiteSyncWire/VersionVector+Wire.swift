import SiteSyncCore

extension WireVersionVector {
    /// The wire form of a version vector.
    public init(_ vector: VersionVector) {
        self.init()
        replicas = vector.entries.map(\.replica.rawValue)
        counters = vector.entries.map(\.counter)
    }
}

extension VersionVector {
    /// Decodes and checks a wire version vector: equal lengths, replicas strictly ascending and
    /// non-zero, counters at least 1, at most ``WireLimits/maxVectorEntries`` entries.
    public init(wire: WireVersionVector) throws(WireError) {
        guard wire.replicas.count == wire.counters.count else {
            throw WireError(.invalid, "version vector has \(wire.replicas.count) replicas but \(wire.counters.count) counters")
        }
        guard wire.replicas.count <= DecodeLimits.maxVectorEntries else {
            throw WireError(.invalid, "version vector has \(wire.replicas.count) entries, more than the limit of \(DecodeLimits.maxVectorEntries)")
        }
        var previous: UInt64 = 0
        for (replica, counter) in zip(wire.replicas, wire.counters) {
            guard replica > previous, counter > 0 else {
                throw WireError(.invalid, "version vector entries must have ascending non-zero replicas and counters of at least 1")
            }
            previous = replica
        }
        self.init(zip(wire.replicas, wire.counters).map { (ReplicaID(rawValue: $0.0), $0.1) })
    }
}
