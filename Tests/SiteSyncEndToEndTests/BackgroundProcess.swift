import Foundation
import Synchronization
import Testing

/// A `sitesync` process running in the background (a hub's `serve`, a node's `run` or a long
/// `sync`), with its output collected as it comes.
final class BackgroundProcess: @unchecked Sendable {
    // @unchecked: `output` and `errors` are guarded by their Mutexes; `process` is set once.
    let process = Process()
    private let output = Mutex(Data())
    private let errors = Mutex(Data())

    init(_ cli: SiteSyncBinary, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: SiteSyncBinary.path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: cli.directory)
        var env = ProcessInfo.processInfo.environment
        env["SITESYNC_DATA_DIR"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        out.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            self?.output.withLock { $0.append(data) }
        }
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            self?.errors.withLock { $0.append(data) }
        }
        try process.run()
    }

    var stdout: String { output.withLock { String(decoding: $0, as: UTF8.self) } }
    var stderr: String { errors.withLock { String(decoding: $0, as: UTF8.self) } }

    /// Waits until standard output holds a line starting with `prefix`; returns the rest of it.
    func waitForLine(_ prefix: String, seconds: Double = 20) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            for line in stdout.split(separator: "\n") where line.hasPrefix(prefix) {
                return String(line.dropFirst(prefix.count))
            }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestFailure("no line starting with '\(prefix)' within \(seconds) s; stderr: \(stderr.suffix(2000))")
    }

    /// Waits for the process to end by itself; returns its exit status.
    func waitForExit(seconds: Double = 60) throws -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        guard !process.isRunning else { throw TestFailure("the process did not end within \(seconds) s") }
        // Let the last output arrive.
        Thread.sleep(forTimeInterval: 0.05)
        return process.terminationStatus
    }

    /// SIGTERM, then waits for the exit.
    func terminate() {
        if process.isRunning { process.terminate() }
        _ = try? waitForExit(seconds: 15)
    }

    /// SIGKILL: the process gets no chance to clean up.
    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
