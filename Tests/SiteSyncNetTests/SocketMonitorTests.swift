import Foundation
import Testing
@testable import SiteSyncNet

/// libzmq's I/O thread sends each monitor event to the monitor's PAIR socket and blocks while
/// no reader is connected: a monitor torn down in the wrong order stalls every connection of
/// its context. (It did: a hub's start-up self-test left one behind, and handshakes with real
/// nodes then timed out now and then.)
struct SocketMonitorTests {
    @Test func aClosedMonitorDoesNotStallTheOtherConnectionsOfItsContext() throws {
        let context = try ZMQContext()
        // A client connected to a listener, watched; the monitor goes, then the listener does,
        // so the client's "disconnected" event (and its reconnections) come after the monitor.
        let listener = try ZMQSocket(context, .router)
        try SocketOptions.listener(listener)
        let watched = try ZMQSocket(context, .dealer)
        try SocketOptions.client(watched)
        let monitor = try SocketMonitor(watching: watched, context: context)
        try watched.connect(try listener.bind("tcp://127.0.0.1:*"))
        // Connected once a message gets through (a poll with a deadline, not a guess of how long
        // a connection takes).
        #expect(try Self.exchange(from: watched, to: listener), "the watched client never connected")
        monitor.close()
        listener.close()
        // The one wait on real time left: nothing can be observed while libzmq's I/O thread
        // notices the closed listener and makes the events that would block it; the exchange
        // below must come after that for the test to catch a stall.
        Thread.sleep(forTimeInterval: 0.3)

        // Another pair in the same context must still talk.
        let server = try ZMQSocket(context, .router)
        let client = try ZMQSocket(context, .dealer)
        defer { client.close(); server.close(); watched.close() }
        try SocketOptions.listener(server)
        try SocketOptions.client(client)
        try client.connect(try server.bind("tcp://127.0.0.1:*"))
        #expect(try Self.exchange(from: client, to: server), "the context's I/O thread is stalled")
    }

    /// Sends a ping from `client` until `server` receives it, waiting in `zmq_poll` for at most
    /// 3 s. - Returns: whether it arrived.
    static func exchange(from client: ZMQSocket, to server: ZMQSocket) throws -> Bool {
        let deadline = Date().addingTimeInterval(3)
        var sent = false
        while Date() < deadline {
            if !sent { sent = try client.send([Data("ping".utf8)]) }
            if try zmqPoll([server], timeout: 10)[0], try server.receive() != nil { return true }
        }
        return false
    }
}
