import Testing
@testable import SiteSyncCore
@testable import SiteSyncNet

/// What a long-running node decides by travels as a value: the revocation's 403 (session 0) is
/// its own code, a session's 403 is not, and whether to stop retrying reads the code alone.
@Suite struct NetErrorTests {
    @Test func aRevocationIsPermanentAndASessionsRefusalIsNotWhateverTheirText() {
        let revoked = SyncClient.error(.revoked("no longer allowed"), endpoint: "tcp://127.0.0.1:1")
        #expect(revoked.code == .keyRevoked && revoked.failure == .forbidden && revoked.isPermanent)
        let refused = SyncClient.error(.session(SessionFailure(.refused(.forbidden), "it was revoked, says the text")),
                                       endpoint: "tcp://127.0.0.1:1")
        #expect(refused.code == .refused && !refused.isPermanent, "a session's 403 is decided by its code, not its English")
        for code: NetError.Code in [.keyRefused, .keyMismatch, .newEpoch] { #expect(NetError(code, "").isPermanent) }
        for code: NetError.Code in [.unreachable, .silent, .refused, .store, .zmq] { #expect(!NetError(code, "").isPermanent) }
        let store = SyncClient.error(.store("disk I/O error"), endpoint: "tcp://127.0.0.1:1")
        #expect(store.code == .store && store.message.contains("the peer was not asked"))
    }
}
