internal import CZeroMQ
import SiteSyncCore

/// An error from the network layer: a ZeroMQ call that failed (with `zmq_strerror`'s text), a
/// peer that did not answer, or one that answered with a failure.
public struct NetError: SiteSyncError {
    public enum Code: String, Sendable {
        /// A libzmq call failed.
        case zmq
        /// An endpoint that is not `tcp://HOST:PORT` (or `ipc://`, `inproc://`).
        case badEndpoint = "bad-endpoint"
        /// The peer did not answer within the time allowed.
        case unreachable
        /// The peer went silent in the middle of a session.
        case silent
        /// The peer answered with a failure.
        case refused
        /// The peers speak different protocol or schema versions.
        case incompatible
        /// The peer broke the protocol.
        case protocolViolation = "protocol-violation"
        /// The local store could not do its part.
        case store
        /// The peer's security refused this node's key (ZAP 400: unknown or revoked).
        case keyRefused = "key-refused"
        /// The listener cut this node off while connected: its key was revoked (a `Failure` 403
        /// with `session` 0, protocol/README.md §12). A 403 of one session is `refused`.
        case keyRevoked = "key-revoked"
        /// The peer does not hold the key this node trusts for it (repeated failed handshakes).
        case keyMismatch = "key-mismatch"
        /// The security set-up failed (the ZAP handler, or its start-up self-test).
        case security
        /// The peer found this replica's change ids reused (its database was restored from an
        /// old copy): the store took a new epoch; open the node again and sync again.
        case newEpoch = "new-epoch"
    }

    public let code: Code
    public let message: String
    /// The errno of a failed libzmq call.
    public let errno: Int32?
    /// The code of the peer's `Failure`, when the peer refused (`refused`): what the caller
    /// decides by, never the English of the message.
    public let failure: FailureCode?

    public init(_ code: Code, _ message: String, errno: Int32? = nil, failure: FailureCode? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
        self.failure = failure
    }

    /// Whether retrying cannot help: the failure needs a person (a key refused or revoked, a
    /// peer key that does not match), or the node must be opened again (a new epoch). A
    /// long-running node stops on these instead of retrying with a backoff.
    public var isPermanent: Bool {
        switch code {
        case .keyRefused, .keyRevoked, .keyMismatch, .newEpoch: true
        default: false
        }
    }

    /// The error of the libzmq call `call` that just failed, with `zmq_strerror`'s text.
    static func zmq(_ call: String, errno: Int32 = sitesync_errno()) -> NetError {
        NetError(.zmq, "\(call) failed: \(String(cString: zmq_strerror(errno)))", errno: errno)
    }
}
