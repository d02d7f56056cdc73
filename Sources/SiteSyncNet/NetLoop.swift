internal import CZeroMQ
import Foundation
import Synchronization

/// The wait of the thread that owns a set of ZeroMQ sockets (ZeroMQ sockets are not
/// thread-safe).
///
/// It waits in `zmq_poll` on its sockets and on a pipe; other threads never touch the sockets,
/// they ``post(_:)`` items (store results), which ``wait(_:timeout:)`` hands back on the
/// owning thread, woken through the pipe. Store work runs on worker queues, so receiving,
/// decoding and applying overlap on different cores.
final class NetLoop<Item: Sendable>: @unchecked Sendable {
    // @unchecked: `posted` is guarded by its Mutex; the pipe's file descriptors are written from
    // any thread (a single-byte write is atomic) and read only on the owning thread.
    private let posted = Mutex<[Item]>([])
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init() throws(NetError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw NetError(.zmq, "cannot create the loop's wake-up pipe: \(String(cString: strerror(errno)))") }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeRead, F_SETFL, fcntl(wakeRead, F_GETFL) | O_NONBLOCK)
        _ = fcntl(wakeWrite, F_SETFL, fcntl(wakeWrite, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Hands `item` to the owning thread at its next wait. Callable from any thread.
    func post(_ item: Item) {
        let wasEmpty = posted.withLock { queue in
            queue.append(item)
            return queue.count == 1
        }
        if wasEmpty {
            var byte: UInt8 = 1
            // Only EAGAIN is dropped: the pipe is full, so the owner will wake anyway.
            retryingOnInterrupt { write(wakeWrite, &byte, 1) }
        }
    }

    /// Waits up to `timeout` milliseconds for a socket to become readable or an item to be
    /// posted.
    /// - Returns: for each socket, whether it is readable, and the items posted meanwhile.
    func wait(_ sockets: [ZMQSocket], timeout: Int) throws(NetError) -> (readable: [Bool], items: [Item]) {
        let readable = try zmqPoll(sockets, files: [wakeRead], timeout: timeout)
        return (Array(readable.dropLast()), takePosted())
    }

    /// What was posted, draining the pipe first so that a later post wakes the owner again.
    private func takePosted() -> [Item] {
        var buffer = [UInt8](repeating: 0, count: 64)
        while retryingOnInterrupt({ read(wakeRead, &buffer, buffer.count) }) > 0 {}
        return posted.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
    }
}

/// Milliseconds of a monotonic clock, for timeouts (never the wall clock).
func monotonicMilliseconds() -> UInt64 {
    DispatchTime.now().uptimeNanoseconds / 1_000_000
}
