internal import CZeroMQ
import Foundation
import Synchronization

/// The connection events of a socket (`zmq_socket_monitor`): connected, disconnected, and why a
/// handshake failed. ZeroMQ hides these from the socket itself; a client needs them to notice a
/// peer that went away mid-session, or refused its key, instead of waiting in silence.
final class SocketMonitor {
    struct Event: Sendable, Equatable {
        let kind: Int32
        /// The event's value: for a handshake failure, the ZAP status or protocol error.
        let value: Int32
    }

    let socket: ZMQSocket
    /// Held so that the watched socket outlives the monitor: see ``close()``.
    private let watched: ZMQSocket
    private static let counter = Atomic<Int>(0)

    init(watching watched: ZMQSocket, context: ZMQContext) throws(NetError) {
        self.watched = watched
        let endpoint = "inproc://sitesync-monitor-\(getpid())-\(Self.counter.add(1, ordering: .relaxed).newValue)"
        // CONNECT_RETRIED: a connection attempt failed (refused: nothing listens) and another is
        // scheduled; a client with another endpoint of its hub to try moves on at once.
        let events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
            | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
        guard zmq_socket_monitor(watched.handle, endpoint, Int32(events)) == 0 else { throw NetError.zmq("zmq_socket_monitor") }
        socket = try ZMQSocket(context, .pair)
        try socket.connect(endpoint)
    }

    deinit { close() }

    /// Stops monitoring, then closes the reading end. The order matters: libzmq's I/O thread
    /// sends each event to the monitor's PAIR socket and blocks while no reader is connected,
    /// so a reader closed while the watched socket still makes events (reconnecting, closing)
    /// would stall every connection of the context — a hub's handshakes included.
    func close() {
        if !watched.closed { zmq_socket_monitor(watched.handle, nil, 0) }
        socket.close()
    }

    /// The events that arrived since the last call.
    func events() -> [Event] {
        var result: [Event] = []
        // A failed read of the monitor's in-process pipe ends the batch: the events are hints
        // (a drop, a refused key), and a client that misses one still learns it by its
        // timeouts; nothing is lost that a later call would not read.
        while let message = try? socket.receive(), let first = message.frames.first, first.count >= 6 {
            let kind = Int32(first[first.startIndex]) | Int32(first[first.startIndex + 1]) << 8
            var value: Int32 = 0
            for index in 0..<4 { value |= Int32(first[first.startIndex + 2 + index]) << Int32(8 * index) }
            result.append(Event(kind: kind, value: value))
        }
        return result
    }
}
