import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// What the benchmarks print: figures as canonical JSON or as a table, progress on stderr
/// (as `sitesync` prints them, so scripts read both alike).
enum BenchOutput {
    /// Prints one canonical JSON value and a newline to standard output.
    static func json(_ value: JSONValue) {
        print(value.canonicalText)
    }

    /// Writes to standard error.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Left-aligned columns.
    static func table(_ rows: [[String]]) -> String { ReportText.table(rows) }

    /// A figure as a table shows it: numbers as JSON writes them, text (a setting such as
    /// `FULL`) without JSON's quotes.
    static func cell(_ value: JSONValue) -> String {
        if case .string(let text) = value { return text }
        return value.canonicalText
    }
}

/// The `sitesync` binary that the network figures and the soak start as hub and nodes.
enum SiteSyncExecutable {
    /// `$SITESYNC_BINARY` when set, else the `sitesync` beside this binary: SwiftPM builds every
    /// product of the package into the same directory.
    static func locate() throws -> URL {
        let url: URL
        if let path = ProcessInfo.processInfo.environment["SITESYNC_BINARY"], !path.isEmpty {
            url = URL(fileURLWithPath: path)
        } else {
            url = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
                .appendingPathComponent("sitesync")
        }
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw NodeError(.usage, "the network figures and the soak run the `sitesync` binary as hub and nodes, and there is "
                + "none at \(url.path): build it too (`swift build -c release` builds both) or set SITESYNC_BINARY to it; "
                + "the replica engine and the report alone need none (`sitesync-bench --no-network`)")
        }
        return url
    }
}
