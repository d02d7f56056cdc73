import Foundation
import SiteSyncCore
import SiteSyncStore
import Synchronization

/// What a Welcome needs from the store and the allow-list (``WelcomeFacts``), gathered on a
/// reader thread once the Hello passed its cheap checks, so that the listener's loop never
/// waits on the database (or on counting a backlog) to answer a greeting.
extension WelcomeFacts {
    /// - Parameter directory: the allow-list in force, where the listener hands it to clients.
    /// - Throws: when the store cannot be read.
    static func gather(for hello: SyncMessage.Hello, client: PeerIdentity, store: any ReplicationStore, directory: Directory?,
                       digests: DirectoryDigests) throws -> WelcomeFacts {
        let knowledge = try store.knowledge()
        return WelcomeFacts(knowledge: knowledge,
                            pullEstimate: pullEstimate(hello.knowledge, client: client, knowledge: knowledge, store: store),
                            directory: directory, directoryDigest: directory.map(digests.digest(of:)))
    }

    /// The count costs an index range per origin, in proportion to what the client lacks (a
    /// client with empty knowledge: the whole log). A client whose knowledge covers this side's
    /// lacks nothing, which its vector alone says: no count at all, the common case.
    static func pullEstimate(_ clientKnowledge: VersionVector, client: PeerIdentity, knowledge: VersionVector,
                             store: any ReplicationStore) -> UInt64 {
        guard !knowledge.isCovered(by: clientKnowledge) else { return 0 }
        // Dropping a failed count is right: the estimate is only for the client's progress
        // display (protocol §7.2: a client must not rely on it), and 0 means "not known".
        return UInt64((try? store.backlogCount(beyond: clientKnowledge, scope: client.scope)) ?? 0)
    }
}

/// The digest of the allow-list last handed out: hashing every entry once per change of the
/// list instead of once per Hello (with a few hundred nodes, that hash was most of a
/// greeting's cost when the client's copy was current).
final class DirectoryDigests: Sendable {
    private let last = Mutex<(directory: Directory, digest: String)?>(nil)

    func digest(of directory: Directory) -> String {
        if let last = last.withLock({ $0 }), last.directory == directory { return last.digest }
        let digest = directory.digest
        last.withLock { $0 = (directory, digest) }
        return digest
    }
}
