internal import CZeroMQ
import Foundation

/// A ZeroMQ context. The corresponding C functions are `zmq_ctx_new` and `zmq_ctx_term`.
// libzmq contexts are thread-safe by design; the pointer is never reassigned.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws(NetError) {
        guard let handle = zmq_ctx_new() else { throw NetError.zmq("zmq_ctx_new") }
        self.handle = handle
    }

    deinit {
        _ = retryingOnInterrupt { zmq_ctx_term(handle) }
    }
}

/// The socket types SiteSync uses.
public enum ZMQSocketType: Int32, Sendable {
    case pair = 0
    case rep = 4
    case dealer = 5
    case router = 6
}

/// One message: its frames, and the metadata libzmq attached to it (the peer's address, the
/// ZAP `User-Id`).
public struct ZMQMessage: Sendable {
    public var frames: [Data]
    public var metadata: [String: String]

    public init(frames: [Data], metadata: [String: String] = [:]) {
        self.frames = frames
        self.metadata = metadata
    }
}

/// A ZeroMQ socket. Not thread-safe: one thread owns it (see ``NetLoop``).
/// The corresponding C functions are `zmq_socket`, `zmq_setsockopt`, `zmq_bind`,
/// `zmq_connect`, `zmq_msg_send`, `zmq_msg_recv` and `zmq_close`.
public final class ZMQSocket {
    let handle: UnsafeMutableRawPointer
    public let type: ZMQSocketType
    /// Held so that the context outlives its sockets: `zmq_ctx_term` waits for every socket.
    private let context: ZMQContext
    private(set) var closed = false

    /// The most frames a message may have; the rest of a longer one is read and dropped.
    public static let maxFrames = 8

    public init(_ context: ZMQContext, _ type: ZMQSocketType) throws(NetError) {
        guard let handle = zmq_socket(context.handle, type.rawValue) else { throw NetError.zmq("zmq_socket") }
        self.handle = handle
        self.type = type
        self.context = context
        try set(ZMQ_LINGER, Int32(0))
    }

    deinit { close() }

    public func close() {
        guard !closed else { return }
        closed = true
        zmq_close(handle)
    }

    public func set(_ option: Int32, _ value: Int32) throws(NetError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else { throw NetError.zmq("zmq_setsockopt(\(option))") }
    }

    public func set(_ option: Int32, _ value: Int64) throws(NetError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size) == 0 else { throw NetError.zmq("zmq_setsockopt(\(option))") }
    }

    public func set(_ option: Int32, bytes: [UInt8]) throws(NetError) {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw NetError.zmq("zmq_setsockopt(\(option))") }
    }

    public func set(_ option: Int32, string: String) throws(NetError) {
        try set(option, bytes: Array(string.utf8))
    }

    /// Binds and returns the endpoint actually bound (a `tcp://127.0.0.1:*` port resolved).
    @discardableResult
    public func bind(_ endpoint: String) throws(NetError) -> String {
        guard zmq_bind(handle, endpoint) == 0 else {
            throw NetError(.zmq, "cannot listen on \(endpoint): \(String(cString: zmq_strerror(sitesync_errno())))", errno: sitesync_errno())
        }
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return endpoint }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Stops listening on `endpoint` and closes every connection accepted there.
    public func unbind(_ endpoint: String) throws(NetError) {
        guard zmq_unbind(handle, endpoint) == 0 else { throw NetError.zmq("zmq_unbind(\(endpoint))") }
    }

    public func connect(_ endpoint: String) throws(NetError) {
        guard zmq_connect(handle, endpoint) == 0 else {
            throw NetError(.zmq, "cannot connect to \(endpoint): \(String(cString: zmq_strerror(sitesync_errno())))", errno: sitesync_errno())
        }
    }

    /// Sends a multi-frame message.
    /// - Returns: `false` when it would block (`EAGAIN`: the peer's queue is full) or the peer
    ///   is unknown to a ROUTER (`EHOSTUNREACH`, with `ZMQ_ROUTER_MANDATORY`).
    @discardableResult
    public func send(_ frames: [Data], dontWait: Bool = true) throws(NetError) -> Bool {
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
            if index < frames.count - 1 { flags |= ZMQ_SNDMORE }
            let rc = retryingOnInterrupt { frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) } }
            if rc < 0 {
                let error = sitesync_errno()
                if (error == EAGAIN || error == EHOSTUNREACH) && index == 0 { return false }
                throw NetError.zmq("zmq_send", errno: error)
            }
        }
        return true
    }

    /// Receives one whole message, or `nil` when none is waiting.
    /// - Parameter metadata: the properties to read (`Peer-Address`, `User-Id`…).
    public func receive(metadata keys: [String] = []) throws(NetError) -> ZMQMessage? {
        var frames: [Data] = []
        var metadata: [String: String] = [:]
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            let rc = retryingOnInterrupt { zmq_msg_recv(&message, handle, ZMQ_DONTWAIT) }
            if rc == -1 {
                let error = sitesync_errno()
                if error == EAGAIN && frames.isEmpty { return nil }
                throw NetError.zmq("zmq_msg_recv", errno: error)
            }
            if frames.count < Self.maxFrames {
                frames.append(Data(bytes: zmq_msg_data(&message), count: zmq_msg_size(&message)))
            }
            // The routing id frame a ROUTER adds carries no metadata; the peer's frames do.
            for key in keys where metadata[key] == nil {
                if let value = zmq_msg_gets(&message, key) { metadata[key] = String(cString: value) }
            }
            if zmq_msg_more(&message) == 0 { break }
        }
        return ZMQMessage(frames: frames, metadata: metadata)
    }

    /// Whether a message can be read now (`ZMQ_EVENTS` has `ZMQ_POLLIN`).
    public var isReadable: Bool {
        var events: Int32 = 0
        var size = MemoryLayout<Int32>.size
        return zmq_getsockopt(handle, ZMQ_EVENTS, &events, &size) == 0 && events & Int32(ZMQ_POLLIN) != 0
    }
}

/// Waits until one of `sockets` has a message, one of the file descriptors `files` is readable,
/// or `timeout` milliseconds pass (`zmq_poll`). The one poll of SiteSyncNet.
/// - Returns: for each socket, then each file descriptor, whether it is readable.
public func zmqPoll(_ sockets: [ZMQSocket], files: [Int32] = [], timeout: Int) throws(NetError) -> [Bool] {
    var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
        + files.map { zmq_pollitem_t(socket: nil, fd: $0, events: Int16(ZMQ_POLLIN), revents: 0) }
    guard retryingOnInterrupt({ zmq_poll(&items, Int32(items.count), timeout) }) >= 0 else { throw NetError.zmq("zmq_poll") }
    return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
}

/// Calls `call` again for as long as it fails (-1) with `EINTR`: a signal interrupted it before
/// anything happened. The one `EINTR` loop of SiteSyncNet: every libzmq or POSIX call that can
/// block or be interrupted (poll, send, receive, the loop's wake-up pipe) goes through here.
@discardableResult
func retryingOnInterrupt<Result: BinaryInteger>(_ call: () -> Result) -> Result {
    while true {
        let rc = call()
        if rc != -1 || sitesync_errno() != EINTR { return rc }
    }
}

/// Endpoints SiteSync accepts: `tcp://HOST:PORT`, `ipc://PATH`, `inproc://NAME`.
public enum Endpoint {
    public static func validate(_ endpoint: String) throws(NetError) {
        let valid: Bool
        if endpoint.hasPrefix("tcp://") {
            let rest = endpoint.dropFirst(6)
            guard let colon = rest.lastIndex(of: ":") else {
                throw NetError(.badEndpoint, "'\(endpoint)' has no port: write it as tcp://HOST:PORT (e.g. tcp://127.0.0.1:7700)")
            }
            let port = rest[rest.index(after: colon)...]
            valid = !rest[..<colon].isEmpty && (port == "*" || (UInt16(port) != nil && UInt16(port)! > 0))
        } else {
            valid = (endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://")) && endpoint.count > 8
        }
        guard valid else {
            throw NetError(.badEndpoint, "'\(endpoint)' is not an endpoint: write it as tcp://HOST:PORT (e.g. tcp://127.0.0.1:7700)")
        }
    }
}
