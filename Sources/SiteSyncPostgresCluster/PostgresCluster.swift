import Foundation
import Synchronization

/// A private PostgreSQL cluster for one test or benchmark: its own data directory under a temporary
/// directory, listening on 127.0.0.1 on a free port, with its Unix sockets beside it, so that it
/// touches no cluster of the machine's and tests in parallel never meet.
///
/// initdb refuses to run as root, and tests may run as root: then the cluster runs as the
/// `postgres` user that Debian's `postgresql` package creates (through `setpriv`); otherwise as
/// the current user. The superuser `sitesync` logs in with a password over TCP (so that a wrong
/// password can be tested) and without one over the private socket (used only to create the
/// database).
///
/// The server is this process's child (`postgres -D …`, not `pg_ctl start`): a server that
/// `pg_ctl start` leaves behind keeps descriptors inherited from this process, and Foundation's
/// `Process` did not see `pg_ctl` end while that server ran (the tests hung). The server runs
/// with `fsync = on`, as in production; only initdb's first files skip their sync.
///
/// When PostgreSQL's server programs are missing, ``init()`` throws an error saying to run
/// `scripts/setup.sh`: a test that needs the cluster fails, never skips.
public final class PostgresCluster: Sendable {
    public let port: Int
    public let user = "sitesync"
    public let password: String
    public let database = "sitesync_test"
    /// The temporary directory: the data directory, the server's log, the sockets.
    public let directory: URL
    private let runner: Runner
    /// The running server; `nil` once stopped or killed, or after the cluster was removed.
    private let server: Mutex<Process?>
    private let removed = Mutex(false)

    /// The URL a connection uses: `postgresql://sitesync:…@127.0.0.1:port/sitesync_test`.
    public var url: String { url(password: password) }

    /// The URL with another password (a wrong one, for the tests of refused logins).
    public func url(password: String) -> String {
        "postgresql://\(user):\(password)@127.0.0.1:\(port)/\(database)"
    }

    /// Creates the cluster, starts it and creates the database (about three seconds on a busy
    /// two-core machine).
    public init() throws {
        password = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-pg-\(UUID().uuidString.prefix(8))")
        let runner = Runner(programs: try Self.serverPrograms(), serverUser: try Self.unprivilegedUser(), directory: directory)
        self.runner = runner
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        var started: Process?
        do {
            try runner.giveToServerUser(directory)
            let passwordFile = directory.appendingPathComponent("password")
            try password.write(to: passwordFile, atomically: false, encoding: .utf8)
            try runner.giveToServerUser(passwordFile)
            try runner.run("initdb", ["-D", runner.dataDirectory.path, "-U", user, "--pwfile=\(passwordFile.path)",
                                      "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C",
                                      "--no-sync", "--no-instructions"])
            try? FileManager.default.removeItem(at: passwordFile)
            try runner.configure()
            let (process, port) = try runner.startOnFreePort()
            started = process
            try runner.run("createdb", ["-h", directory.path, "-p", "\(port)", "-U", user, database])
            self.port = port
        } catch {
            runner.stop(started)
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        server = Mutex(started)
    }

    deinit { stop() }

    /// Stops the server (a fast shutdown: sessions are cut, nothing committed is lost) and
    /// removes the directory. Safe to call twice.
    public func stop() {
        guard removed.withLock({ removed in defer { removed = true }; return !removed }) else { return }
        server.withLock { server in
            runner.stop(server)
            server = nil
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the server (if it runs) and starts it again on the same port: every open
    /// connection breaks. After ``kill()``, the start recovers from the write-ahead log.
    public func restart() throws {
        try server.withLock { server in
            runner.stop(server)
            server = nil
            server = try runner.start(port: port)
        }
    }

    /// Kills the server and all its processes with SIGKILL, as a crash would: no shutdown
    /// checkpoint; ``restart()`` starts it again.
    public func kill() throws {
        try server.withLock { server in
            guard let process = server else { return }
            let postmaster = process.processIdentifier
            let processes = [postmaster] + Self.children(of: postmaster)
            for process in processes { _ = Foundation.kill(process, SIGKILL) }
            process.waitUntilExit()
            let deadline = Date().addingTimeInterval(10)
            while processes.contains(where: Self.isRunning) {
                guard Date() < deadline else { throw PostgresClusterError("the server's processes outlived SIGKILL for 10 s") }
                Thread.sleep(forTimeInterval: 0.01)
            }
            server = nil
            // The killed server's lock files name its process id, which another process may
            // take meanwhile: the next start would take that one for a live server.
            try? FileManager.default.removeItem(at: runner.pidFile)
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(".s.PGSQL.\(port).lock"))
        }
    }

    // MARK: - The machine

    /// The directory of `initdb` and `postgres`: `SITESYNC_PG_BIN`, else the newest of Debian's
    /// `/usr/lib/postgresql/<version>/bin`, else the PATH.
    static func serverPrograms() throws -> URL {
        let manager = FileManager.default
        func hasPrograms(_ directory: String) -> Bool {
            ["initdb", "postgres", "createdb"].allSatisfy { manager.isExecutableFile(atPath: "\(directory)/\($0)") }
        }
        if let chosen = ProcessInfo.processInfo.environment["SITESYNC_PG_BIN"] {
            guard hasPrograms(chosen) else {
                throw PostgresClusterError("SITESYNC_PG_BIN=\(chosen) holds no initdb, postgres and createdb: point it at PostgreSQL's bin directory, or unset it and run scripts/setup.sh")
            }
            return URL(fileURLWithPath: chosen)
        }
        let debian = "/usr/lib/postgresql"
        let versions = ((try? manager.contentsOfDirectory(atPath: debian)) ?? []).compactMap(Int.init).sorted(by: >)
        let candidates = versions.map { "\(debian)/\($0)/bin" }
            + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        guard let found = candidates.first(where: hasPrograms) else {
            throw PostgresClusterError("PostgreSQL's server programs (initdb, postgres) are not installed: run scripts/setup.sh, which installs Debian's postgresql package")
        }
        return URL(fileURLWithPath: found)
    }

    /// `nil` when the tests run as an ordinary user; as root, the `postgres` user.
    static func unprivilegedUser() throws -> ServerUser? {
        guard geteuid() == 0 else { return nil }
        guard let entry = getpwnam("postgres") else {
            throw PostgresClusterError("the tests run as root, which PostgreSQL refuses, and there is no postgres user to run it as: run scripts/setup.sh (Debian's postgresql package creates that user), or run the tests as an ordinary user")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            throw PostgresClusterError("the tests run as root, and /usr/bin/setpriv (Debian's util-linux) is missing to run PostgreSQL as the postgres user: install util-linux, or run the tests as an ordinary user")
        }
        return ServerUser(name: "postgres", uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// A port on 127.0.0.1 that nothing listens on now (the system's choice for port 0).
    public static func freeLoopbackPort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw PostgresClusterError("cannot open a socket to find a free port: errno \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(socket, address, length) == 0 && getsockname(socket, address, &length) == 0
            }
        }
        guard bound else { throw PostgresClusterError("cannot bind a socket on 127.0.0.1 to find a free port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The processes whose parent is `parent` (the server's backends and workers).
    static func children(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(pid_t.init).filter { process in
            guard let stat = try? String(contentsOfFile: "/proc/\(process)/stat", encoding: .utf8),
                  let end = stat.lastIndex(of: ")") else { return false }
            // After "pid (name) ": the state, then the parent's id.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent
        }
    }

    /// Whether `process` still runs: it exists and is not a zombie waiting to be reaped.
    static func isRunning(_ process: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(process)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: end)...].split(separator: " ").first != "Z"
    }
}

/// Runs PostgreSQL's programs for a cluster, as the server's user.
private struct Runner: Sendable {
    let programs: URL
    let serverUser: ServerUser?
    let directory: URL

    var dataDirectory: URL { directory.appendingPathComponent("data") }
    var logFile: URL { directory.appendingPathComponent("server.log") }
    var pidFile: URL { dataDirectory.appendingPathComponent("postmaster.pid") }

    /// The settings of a private test cluster, after initdb's (the port is given at start).
    func configure() throws {
        let settings = """

            # A private test cluster (SiteSyncTestSupport.PostgresCluster).
            listen_addresses = '127.0.0.1'
            unix_socket_directories = '\(directory.path)'
            fsync = on
            # After a crash (kill()), one syncfs of the file system instead of an fsync of each of
            # the data directory's thousands of files before recovery: seconds on a busy machine.
            recovery_init_sync_method = syncfs
            shared_buffers = 16MB
            max_connections = 40

            """
        let handle = try FileHandle(forWritingTo: dataDirectory.appendingPathComponent("postgresql.conf"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
        try handle.close()
    }

    /// Starts the server on a free port; another if that one was taken meanwhile.
    func startOnFreePort() throws -> (Process, Int) {
        var lastError: (any Error)?
        for _ in 0..<3 {
            let port = try PostgresCluster.freeLoopbackPort()
            do {
                return (try start(port: port), port)
            } catch {
                lastError = error
                let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
                guard log.contains("could not bind") || log.contains("already in use") else { throw error }
            }
        }
        throw lastError!
    }

    /// Starts the server and waits until it accepts connections: `postmaster.pid` names it and its
    /// status, the eighth line, says "ready" (padded with spaces), as `pg_ctl start -w` waits for.
    func start(port: Int) throws -> Process {
        let process = try launch("postgres", ["-D", dataDirectory.path, "-p", "\(port)"], output: logFile, append: true)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            guard process.isRunning else {
                process.waitUntilExit()
                throw PostgresClusterError("the server stopped at start with status \(process.terminationStatus)\(logTail())")
            }
            // The file of this server (a killed one leaves its own behind).
            if let text = try? String(contentsOf: pidFile, encoding: .utf8) {
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                if lines.first == "\(process.processIdentifier)", lines.count > 7,
                   lines[7].trimmingCharacters(in: .whitespaces) == "ready" {
                    return process
                }
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        stop(process)
        throw PostgresClusterError("the server did not accept connections within 30 s\(logTail())")
    }

    /// A fast shutdown (SIGINT: sessions cut, committed work kept), waited for.
    func stop(_ process: Process?) {
        guard let process, process.isRunning else { return }
        process.interrupt()
        process.waitUntilExit()
    }

    /// Runs one of PostgreSQL's programs to its end; throws with its output when it fails.
    @discardableResult
    func run(_ program: String, _ arguments: [String]) throws -> String {
        let outputFile = directory.appendingPathComponent("\(program).out")
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let process = try launch(program, arguments, output: outputFile, append: false)
        process.waitUntilExit()
        let text = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw PostgresClusterError("\(program) \(arguments.joined(separator: " ")) failed with status \(process.terminationStatus):\n\(text)\(logTail())")
        }
        return text
    }

    /// Starts one of PostgreSQL's programs as the server's user (`setpriv` execs it, so the
    /// process is the program itself), its output to `output`.
    private func launch(_ program: String, _ arguments: [String], output: URL, append: Bool) throws -> Process {
        let path = programs.appendingPathComponent(program).path
        let process = Process()
        if let serverUser {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(serverUser.uid)", "--regid=\(serverUser.gid)", "--clear-groups", "--", path] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
        }
        // The server's user may not be allowed into the test's working directory, nor into
        // root's home (where libpq would look for a password file).
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(["HOME": directory.path]) { $1 }
        if !append || !FileManager.default.fileExists(atPath: output.path) {
            guard FileManager.default.createFile(atPath: output.path, contents: nil) else {
                throw PostgresClusterError("cannot create \(output.path)")
            }
        }
        let handle = try FileHandle(forWritingTo: output)
        try handle.seekToEnd()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try handle.close()
        return process
    }

    private func logTail() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)).map { "\nserver log:\n\($0.suffix(2000))" } ?? ""
    }

    func giveToServerUser(_ file: URL) throws {
        guard let serverUser else { return }
        guard chown(file.path, serverUser.uid, serverUser.gid) == 0 else {
            throw PostgresClusterError("cannot give \(file.path) to user \(serverUser.name): errno \(errno)")
        }
    }
}

/// The unprivileged user the server runs as when the tests run as root.
struct ServerUser: Sendable {
    let name: String
    let uid: UInt32
    let gid: UInt32
}

/// Why the test cluster could not be made, started or stopped.
public struct PostgresClusterError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
