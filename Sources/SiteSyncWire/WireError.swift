import SiteSyncCore

/// An error decoding or checking something that came from another replica or from a file.
///
/// The message names what is wrong and what to do; it never quotes payload bytes.
public struct WireError: SiteSyncError, Equatable {
    public enum Code: String, Sendable {
        /// Bytes that do not decode as the expected message.
        case malformed
        /// A message that decodes but breaks a rule (ordering, a limit, an unknown code).
        case invalid
        /// A bundle file that ends early or whose checksum does not match.
        case corrupted
        /// A file that is not a SiteSync bundle at all.
        case foreign
        /// A bundle not signed by the node it names as its sender: altered by whoever carried it.
        case tampered
        /// A peer or a bundle built for another protocol or schema version.
        case incompatible
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Text from a peer or a file, fit to quote in a message: at most `limit` characters, its
    /// control and formatting characters (escape sequences, line breaks, direction overrides)
    /// shown as `?`, so that quoting it cannot rewrite a terminal or forge a log line.
    public static func printable(_ text: some StringProtocol, limit: Int = 40) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in String(text.prefix(limit)).unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator: scalars.append("?")
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }
}

/// The limits a decoder enforces, so that a hostile or broken peer cannot make it allocate
/// without bound (protocol/README.md, "Limits").
public enum DecodeLimits {
    public static let maxWritesPerChange = 256
    public static let maxVectorEntries = 4096
    public static let maxStringBytes = 65_536
    public static let maxChangeBytes = 1 << 20
}

/// The protocol version this build speaks.
public enum ProtocolVersion {
    public static let current: UInt32 = 1
}
