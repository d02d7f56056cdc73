internal import CZeroMQ
import Foundation
import Logging
import SiteSyncCore
import Synchronization

/// How a listener authenticates: CURVE with this node's secret key, every client key checked by
/// a ZAP handler against the allow-list in force (docs/design.md §7.1, §10.9).
public struct ServerSecurity: Sendable {
    public let key: NodeSecretKey
    /// The allow-list in force now (re-read on every handshake, so a revocation counts at once).
    public let allowList: @Sendable () -> Directory

    public init(key: NodeSecretKey, allowList: @escaping @Sendable () -> Directory) {
        self.key = key
        self.allowList = allowList
    }
}

/// How a client authenticates: CURVE with this node's keys, and the key it trusts for its peer.
public struct ClientSecurity: Sendable {
    public let key: NodeSecretKey
    public let serverKey: NodePublicKey
    /// What to tell the user when the peer refuses this node's key.
    public let refusedAdvice: String

    public init(key: NodeSecretKey, serverKey: NodePublicKey, refusedAdvice: String) {
        self.key = key
        self.serverKey = serverKey
        self.refusedAdvice = refusedAdvice
    }
}

extension SocketOptions {
    /// The ZAP domain every SiteSync listener uses.
    static let zapDomain = "sitesync"

    /// CURVE server options, set before `bind` (libzmq snapshots them there): the secret key,
    /// the ZAP domain, and ZAP_ENFORCE_DOMAIN so that a missing handler refuses everyone
    /// instead of letting everyone in.
    static func curveServer(_ socket: ZMQSocket, key: NodeSecretKey) throws(NetError) {
        try socket.set(ZMQ_CURVE_SERVER, Int32(1))
        try socket.set(ZMQ_CURVE_SECRETKEY, bytes: key.curveSecret)
        try socket.set(ZMQ_ZAP_DOMAIN, string: zapDomain)
        try socket.set(SITESYNC_ZMQ_ZAP_ENFORCE_DOMAIN, Int32(1))
    }

    /// CURVE client options, set before `connect`.
    static func curveClient(_ socket: ZMQSocket, key: NodeSecretKey, serverKey: NodePublicKey) throws(NetError) {
        try socket.set(ZMQ_CURVE_SERVERKEY, bytes: serverKey.curve)
        try socket.set(ZMQ_CURVE_PUBLICKEY, bytes: key.publicKey.curve)
        try socket.set(ZMQ_CURVE_SECRETKEY, bytes: key.curveSecret)
    }
}

/// The ZAP handler (ZeroMQ RFC 27) of one context: a thread answering libzmq's authentication
/// requests on `inproc://zeromq.zap.01`, accepting a CURVE key only when it is active on the
/// allow-list, with the node's name as the connection's `User-Id`.
///
/// It must run before any listener binds. If it fails, it stops answering and tells its owner
/// (`onFailure`), which stops the listener: with ZAP_ENFORCE_DOMAIN set, libzmq refuses every
/// key while no handler answers, and the listener must not go on as if keys were checked.
final class ZAPHandler: @unchecked Sendable {
    // @unchecked: the socket is touched only by the handler thread; `stopping` is a Mutex.
    static let endpoint = "inproc://zeromq.zap.01"
    private let socket: ZMQSocket
    private let allowList: @Sendable () -> Directory
    private let logger: Logger
    private let onFailure: @Sendable (NetError) -> Void
    private let stopping = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    /// The key of the start-up self-test, refused quietly (it is no intruder).
    let selfTestKey = Mutex<[UInt8]?>(nil)

    /// Binds the handler's socket and starts answering.
    /// - Parameter onFailure: told, on the handler's thread, when it failed and stopped.
    init(context: ZMQContext, allowList: @escaping @Sendable () -> Directory, logger: Logger,
         onFailure: @escaping @Sendable (NetError) -> Void = { _ in }) throws(NetError) {
        socket = try ZMQSocket(context, .rep)
        do {
            try socket.bind(Self.endpoint)
        } catch {
            throw NetError(.security, "cannot start the ZAP handler (\(error.message)); is another one running in this process?")
        }
        self.allowList = allowList
        self.logger = logger
        self.onFailure = onFailure
        let handler = self
        let thread = Thread {
            handler.serve()
            handler.finished.signal()
        }
        thread.name = "sitesync-zap"
        thread.start()
    }

    func stop() {
        stopping.withLock { $0 = true }
        finished.wait()
    }

    private func serve() {
        while !stopping.withLock({ $0 }) {
            do {
                guard try zmqPoll([socket], timeout: 200)[0] else { continue }
                guard let request = try socket.receive() else { continue }
                try socket.send(answer(request.frames), dontWait: false)
            } catch {
                // Without its handler a CURVE listener must not go on: its owner stops it.
                logger.critical("the ZAP handler failed; stopping the listener so that no key goes unchecked", metadata: ["error": "\(error)"])
                onFailure(NetError(.security, "the ZAP handler failed (\(error.message)): the listener stopped so that no key goes "
                                   + "unchecked; start it again"))
                break
            }
        }
        socket.close()
    }

    /// The reply to one request: [version, request id, status, text, user id, metadata].
    func answer(_ frames: [Data]) -> [Data] {
        let version = Data("1.0".utf8)
        guard frames.count >= 6, frames[0] == version else {
            return [version, frames.count > 1 ? frames[1] : Data(), Data("500".utf8), Data("malformed ZAP request".utf8), Data(), Data()]
        }
        let requestID = frames[1]
        func reply(_ status: String, _ text: String, user: String = "") -> [Data] {
            [version, requestID, Data(status.utf8), Data(text.utf8), Data(user.utf8), Data()]
        }
        let domain = String(decoding: frames[2], as: UTF8.self), address = String(decoding: frames[3], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        guard domain == SocketOptions.zapDomain, mechanism == "CURVE", frames.count >= 7, frames[6].count == 32 else {
            logger.warning("refused a connection: not CURVE in our domain", metadata: ["peer.address": "\(address)", "mechanism": "\(mechanism)"])
            return reply("400", "CURVE only")
        }
        let key = [UInt8](frames[6])
        guard let entry = allowList().active(curveKey: key) else {
            if selfTestKey.withLock({ $0 == key }) {
                logger.debug("self-test: a key not on the allow-list was refused, as it must be")
                return reply("400", "key not allowed")
            }
            logger.warning("refused a key not on the allow-list", metadata: [
                "peer.address": "\(address)", "key": "\(Z85.encode(key).prefix(12))",
            ])
            return reply("400", "key not allowed")
        }
        return reply("200", "OK", user: entry.node)
    }
}

/// Checks, before a CURVE listener binds its real endpoint, that a key not on the allow-list
/// is refused: a listener whose ZAP handler is missing or lets everyone in must not serve.
enum SecuritySelfTest {
    static func run(context: ZMQContext, key: NodeSecretKey, handler: ZAPHandler) throws(NetError) {
        let stranger = NodeSecretKey.generate()
        handler.selfTestKey.withLock { $0 = stranger.publicKey.curve }
        let server = try SocketOptions.listenerSocket(context, curve: key)
        let endpoint = try server.bind("tcp://127.0.0.1:*")
        let client = try SocketOptions.clientSocket(context, curve: (stranger, key.publicKey))
        let monitor = try SocketMonitor(watching: client, context: context)
        // Torn down in this order, whatever happens: see SocketMonitor.close().
        defer {
            monitor.close()
            client.close()
            server.close()
        }
        try client.connect(endpoint)
        _ = try client.send([Data("SSP1".utf8), Data()])
        let deadline = monotonicMilliseconds() + 5_000
        while monotonicMilliseconds() < deadline {
            _ = try zmqPoll([monitor.socket], timeout: 100)
            for event in monitor.events() {
                if event.kind == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH { return }
                if event.kind == ZMQ_EVENT_HANDSHAKE_SUCCEEDED {
                    throw NetError(.security, "self-test failed: a key not on the allow-list was let in; the listener will not serve")
                }
            }
            // A receive that fails lets nothing through: only a message received is a breach.
            if (try? server.receive()) != nil {
                throw NetError(.security, "self-test failed: a message from a key not on the allow-list got through; the listener will not serve")
            }
        }
        throw NetError(.security, "self-test failed: a key not on the allow-list was neither refused nor let in within 5 s; the listener will not serve")
    }
}
