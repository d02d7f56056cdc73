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
        Thread.sleep(forTimeInterval: 0.2)
        monitor.close()
        listener.close()
        Thread.sleep(forTimeInterval: 0.3)

        // Another pair in the same context must still talk.
        let server = try ZMQSocket(context, .router)
        let client = try ZMQSocket(context, .dealer)
        defer { client.close(); server.close(); watched.close() }
        try SocketOptions.listener(server)
        try SocketOptions.client(client)
        try client.connect(try server.bind("tcp://127.0.0.1:*"))
        let deadline = Date().addingTimeInterval(3)
        var sent = false, heard = false
        while !heard && Date() < deadline {
            if !sent { sent = try client.send([Data("ping".utf8)]) }
            heard = try server.receive() != nil
            if !heard { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(heard, "the context's I/O thread is stalled")
    }
}
