internal import CZeroMQ
import SiteSyncCore
import SiteSyncWire

/// The options protocol/README.md §11 and §15 require, set before `bind`/`connect` (libzmq
/// copies some at that moment: `ZMQ_MAXMSGSIZE` set later has no effect).
enum SocketOptions {
    /// A listener's ROUTER: unroutable replies are errors, not silent drops; oversized messages
    /// are refused; ZMTP heartbeats detect a dead peer within seconds.
    static func listener(_ socket: ZMQSocket) throws(NetError) {
        try socket.set(ZMQ_ROUTER_MANDATORY, Int32(1))
        try common(socket)
    }

    /// A connecting DEALER: reconnects with a capped backoff, queues nothing for a connection
    /// that is not up yet.
    static func client(_ socket: ZMQSocket) throws(NetError) {
        try socket.set(ZMQ_IMMEDIATE, Int32(1))
        try socket.set(ZMQ_RECONNECT_IVL, Int32(100))
        try socket.set(ZMQ_RECONNECT_IVL_MAX, Int32(5_000))
        try common(socket)
    }

    /// The one set-up of a listener's socket: a ROUTER with the options above and, where keys
    /// are checked, CURVE with this node's secret key (set before `bind`).
    static func listenerSocket(_ context: ZMQContext, curve key: NodeSecretKey?) throws(NetError) -> ZMQSocket {
        let socket = try ZMQSocket(context, .router)
        try listener(socket)
        if let key { try curveServer(socket, key: key) }
        return socket
    }

    /// The one set-up of a client's socket: a DEALER with the options above and, where keys are
    /// checked, CURVE with this node's keys and the key it trusts for its peer (set before
    /// `connect`).
    static func clientSocket(_ context: ZMQContext, curve: (key: NodeSecretKey, serverKey: NodePublicKey)?) throws(NetError) -> ZMQSocket {
        let socket = try ZMQSocket(context, .dealer)
        try client(socket)
        if let curve { try curveClient(socket, key: curve.key, serverKey: curve.serverKey) }
        return socket
    }

    private static func common(_ socket: ZMQSocket) throws(NetError) {
        try socket.set(ZMQ_MAXMSGSIZE, Int64(SyncFrames.maxMessageBytes))
        try socket.set(ZMQ_HEARTBEAT_IVL, Int32(1_000))
        try socket.set(ZMQ_HEARTBEAT_TIMEOUT, Int32(3_000))
        try socket.set(ZMQ_HEARTBEAT_TTL, Int32(10_000))
        try socket.set(ZMQ_HANDSHAKE_IVL, Int32(5_000))
        try socket.set(ZMQ_SNDHWM, Int32(1_000))
        try socket.set(ZMQ_RCVHWM, Int32(1_000))
        try socket.set(ZMQ_LINGER, Int32(0))
    }
}
