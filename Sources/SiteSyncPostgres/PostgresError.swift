/// A failure talking to PostgreSQL: what happened, the server's SQLSTATE and message when the
/// server answered, and what to do about it.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No server answered at the address (not running, wrong host or port, refused).
        case unreachable
        /// The server answered but refused the user or the password.
        case authentication
        /// An open connection broke (the server stopped or restarted, the network cut).
        case connectionLost
        /// The server ran the statement and refused it: see `sqlState`.
        case server
        /// A column of a type the wrapper does not read, or a command it does not run (COPY).
        case unsupported
        /// The wrapper was used against its rules (a finished transaction, a nested one).
        case misuse
    }

    public let kind: Kind
    /// The five-character SQLSTATE the server sent ("40001", "23505"), when it sent one.
    public let sqlState: String?
    /// The server's primary message, or libpq's when the server never answered.
    public let message: String
    public let detail: String?
    /// What the user should do, when the wrapper knows.
    public let advice: String?

    public init(kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil, advice: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.advice = advice
    }

    /// A serialization failure (40001) or a deadlock (40P01): the server rolled the transaction
    /// back and running it again from the start may well succeed.
    public var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }

    public var description: String {
        var text = sqlState.map { "PostgreSQL error \($0): \(message)" } ?? message
        if let detail, !detail.isEmpty { text += " (\(detail))" }
        if let advice { text += (text.last.map { ".?!".contains($0) } == true ? " " : ". ") + advice }
        return text
    }
}
