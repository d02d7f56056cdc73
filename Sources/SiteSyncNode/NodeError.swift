import SiteSyncCore

/// An error about a node's data directory, its configuration or a bundle.
public struct NodeError: SiteSyncError {
    public enum Code: String, Sendable {
        /// The data directory is missing or is not a SiteSync node.
        case notANode = "not-a-node"
        /// `init` on a directory that already holds a node.
        case alreadyInitialized = "already-initialized"
        /// A configuration file or environment variable with a bad value.
        case configuration
        /// A bundle that cannot be imported here.
        case bundle
        /// Anything the user asked for that does not make sense here.
        case usage
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

}
