import Foundation
import Testing

/// Runs the built `sitesync` executable, as a user would, and the benchmarks' `sitesync-bench`.
///
/// The binary is `$SITESYNC_BINARY` when set, else the package's `.build/debug/sitesync`
/// (build it with `swift build` before `swift test`, as the README's test command does).
/// `sitesync-bench` is `$SITESYNC_BENCH_BINARY` when set, else the one beside `sitesync`.
struct SiteSyncBinary {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static let path: String = {
        if let path = ProcessInfo.processInfo.environment["SITESYNC_BINARY"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/sitesync").path
    }()

    static let benchPath: String = {
        if let path = ProcessInfo.processInfo.environment["SITESYNC_BENCH_BINARY"] { return path }
        return URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("sitesync-bench").path
    }()

    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try #require(FileManager.default.isExecutableFile(atPath: Self.path),
                     "no sitesync binary at \(Self.path): run `swift build` first, or set SITESYNC_BINARY")
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// A path inside the test's directory.
    func file(_ name: String) -> String { directory + "/" + name }

    /// Runs `sitesync ARGS` in the test directory, with `stdin` piped in when given.
    @discardableResult
    func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        try run(Self.path, arguments, stdin: stdin, environment: environment)
    }

    /// Runs `sitesync-bench ARGS` in the test directory. It starts the `sitesync` beside it as
    /// hub and nodes, or `$SITESYNC_BINARY`, which it inherits when set: the one ``path`` names.
    func runBench(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        try #require(FileManager.default.isExecutableFile(atPath: Self.benchPath),
                     "no sitesync-bench binary at \(Self.benchPath): run `swift build` first, or set SITESYNC_BENCH_BINARY")
        return try run(Self.benchPath, arguments, environment: environment)
    }

    private func run(_ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        env["SITESYNC_DATA_DIR"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Runs a command that must succeed, returning its standard output.
    @discardableResult
    func ok(_ arguments: String..., stdin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try run(arguments, stdin: stdin)
        #expect(result.status == 0, "sitesync \(arguments.joined(separator: " ")) failed: \(result.stderr)", sourceLocation: sourceLocation)
        return result.stdout
    }

    /// Runs a command that must fail, returning its standard error.
    @discardableResult
    func fails(_ arguments: String..., stdin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try run(arguments, stdin: stdin)
        #expect(result.status != 0, "sitesync \(arguments.joined(separator: " ")) should have failed", sourceLocation: sourceLocation)
        #expect(!result.stderr.isEmpty, "a failure must explain itself on stderr", sourceLocation: sourceLocation)
        return result.stderr
    }

    func digest(_ node: String) throws -> String {
        try ok("digest", "--data-dir", node).trimmingCharacters(in: .newlines)
    }

    /// Parses the JSON a command printed.
    func json(_ arguments: String...) throws -> Any {
        let result = try run(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8), options: [.fragmentsAllowed])
    }
}
