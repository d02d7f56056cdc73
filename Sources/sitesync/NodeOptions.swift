import ArgumentParser
import Foundation
import SiteSyncNode
import SiteSyncStore

/// `--data-dir`, shared by every command that works on a node.
struct NodeOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp(
        "The node's data directory (default: $SITESYNC_DATA_DIR, else ./sitesync-data).", valueName: "dir"))
    var dataDirectory: String?

    var path: String {
        dataDirectory ?? ProcessInfo.processInfo.environment["SITESYNC_DATA_DIR"] ?? "./sitesync-data"
    }

    func open(options: StoreOptions = StoreOptions()) throws -> Node {
        try Node.open(at: path, options: options)
    }
}
