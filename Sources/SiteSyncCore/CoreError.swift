/// What every SiteSync error type shares: a message that says what happened and what to do
/// next. Each module has one error type of its own, with its own codes.
public protocol SiteSyncError: Error, Sendable, CustomStringConvertible {
    var message: String { get }
}

extension SiteSyncError {
    public var description: String { message }
}

/// An error from the core: a value, an edit or a change that breaks the schema or the rules.
///
/// The message says what is wrong and what to do; it never contains record payloads beyond the
/// offending field's name and the text the user typed.
public struct CoreError: SiteSyncError, Equatable {
    public enum Code: String, Sendable {
        case unknownCollection = "unknown-collection"
        case unknownField = "unknown-field"
        case invalidValue = "invalid-value"
        case invalidRecordID = "invalid-record-id"
        case missingField = "missing-field"
        case notFound = "not-found"
        case permissionDenied = "permission-denied"
        case immutableField = "immutable-field"
        case appendOnly = "append-only"
        /// A change arrived before a change it depends on.
        case causalityViolation = "causality-violation"
        /// A change that cannot be interpreted under this schema.
        case invalidChange = "invalid-change"
        case nothingToResolve = "nothing-to-resolve"
        /// A change that does not match its origin's signature, or comes without one.
        case badSignature = "bad-signature"
    }

    public let code: Code
    public let message: String
    /// The write policy's code, when the write policy (``WritePolicy``) stopped a local write:
    /// the code a receiver would refuse the same change with.
    public let refusal: RefusalCode?

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
        refusal = nil
    }

    /// A local write the write policy does not allow, with the reason a receiver would give.
    public init(_ denial: WriteDenial) {
        code = switch denial.code {
        case .appendOnly: .appendOnly
        case .invalidValue: .invalidValue
        default: .permissionDenied
        }
        message = denial.reason
        refusal = denial.code
    }

}
