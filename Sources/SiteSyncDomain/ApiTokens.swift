import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncStore

/// A bearer token for this node's HTTP API: who a program (automatic KPI collection, the
/// finance system) acts as when it reads or writes here. It acts as a node of its role and
/// department would — the same ``WritePolicy`` decides what it may write — and never beyond
/// the node serving it (a department node makes no office tokens).
public struct ApiToken: Sendable, Equatable {
    public let name: String
    public let role: Role
    /// The department a `field` or `department` token is bound to; `nil` for `office` and `auditor`.
    public let department: String?
    public let readOnly: Bool
    public let createdMilliseconds: UInt64
    public let revokedMilliseconds: UInt64?

    public init(name: String, role: Role, department: String?, readOnly: Bool, createdMilliseconds: UInt64,
                revokedMilliseconds: UInt64? = nil) {
        self.name = name
        self.role = role
        self.department = department
        self.readOnly = readOnly
        self.createdMilliseconds = createdMilliseconds
        self.revokedMilliseconds = revokedMilliseconds
    }

    init(_ stored: StoredApiToken) {
        self.init(name: stored.name, role: stored.role, department: stored.department, readOnly: stored.readOnly,
                  createdMilliseconds: stored.createdMilliseconds, revokedMilliseconds: stored.revokedMilliseconds)
    }

    public var isRevoked: Bool { revokedMilliseconds != nil }

    /// Whether it may write at all: not when made read-only, nor as an auditor (who writes nothing).
    public var mayWrite: Bool { !readOnly && role != .auditor }

    /// The department whose records it reads, or `nil` for the whole city.
    public var scopeDepartment: String? { role.isDepartmentBound ? department : nil }

    /// Who it writes as, for ``LocalWritePlanner``. A token that may not write acts as an
    /// auditor, so that even a write made for it by mistake outside ``IntegrationWrites`` is
    /// refused by the write policy. A city-wide token has no department of its own: the
    /// serving node's is used where a record takes its writer's (``Node/planner(as:)``).
    public var writer: WriterIdentity {
        WriterIdentity(role: mayWrite ? role : .auditor, department: department ?? "")
    }
}

/// Making, listing, revoking and checking API tokens. A token's secret is `sst_` and 32
/// random bytes in base64url; only its SHA-256 is kept, so a copy of the database (a backup)
/// gives no one the API.
public enum ApiTokens {
    /// What every secret starts with, so that one pasted in the wrong place is recognisable.
    public static let secretPrefix = "sst_"

    /// Makes a token and returns its secret, which is shown once and never stored.
    /// - Throws: ``NodeError`` (`usage`) when the name, role or department is not allowed, or
    ///   the token would exceed the serving node's own authority; ``StoreError`` when the name
    ///   is taken. Nothing is stored then.
    public static func create(_ node: Node, name: String, role: Role, department: String?,
                              readOnly: Bool) throws -> (token: ApiToken, secret: String) {
        try validateName(name)
        let department = try checkedDepartment(role: role, department: department)
        if let refusal = authorityRefusal(role: role, department: department, node: node.writer) { throw NodeError(.usage, refusal) }
        var generator = SystemRandomNumberGenerator()
        let secret = secretPrefix + base64URL((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let stored = StoredApiToken(name: name, role: role, department: department, readOnly: readOnly, secretSHA256: hash(secret),
                                    createdMilliseconds: node.store.wallClock())
        try node.store.addApiToken(stored)
        return (ApiToken(stored), secret)
    }

    /// Every token, revoked ones included, oldest first.
    public static func list(_ node: Node) throws -> [ApiToken] {
        try node.store.apiTokens().map(ApiToken.init)
    }

    /// Revokes a token: from now on its secret authenticates nothing.
    /// - Throws: ``NodeError`` (`usage`) when there is no token of that name.
    @discardableResult
    public static func revoke(_ node: Node, name: String) throws -> ApiToken {
        guard let stored = try node.store.revokeApiToken(named: name, at: node.store.wallClock()) else {
            throw NodeError(.usage, "there is no API token named '\(name)': `sitesync api token list` shows them")
        }
        return ApiToken(stored)
    }

    /// The live token whose secret is `bearer` (with or without a leading `Bearer `), or `nil`:
    /// unknown, malformed or revoked. Every token's hash is compared in constant time, so the
    /// time taken does not tell how close a guess came.
    public static func authenticate(_ node: Node, bearer: String) throws -> ApiToken? {
        var secret = Substring(bearer.trimmingCharacters(in: .whitespaces))
        if secret.lowercased().hasPrefix("bearer ") { secret = secret.dropFirst(7).drop { $0 == " " } }
        guard secret.hasPrefix(secretPrefix) else { return nil }
        let presented = Array(hash(String(secret)).utf8)
        var found: StoredApiToken?
        for token in try node.store.apiTokens() where constantTimeEqual(presented, Array(token.secretSHA256.utf8)) {
            found = token
        }
        guard let found, found.revokedMilliseconds == nil else { return nil }
        return ApiToken(found)
    }

    /// Why a token of `role` and `department` would exceed a node writing as `node`, or `nil`
    /// when it does not: a token may do no more than the node serving it.
    public static func authorityRefusal(role: Role, department: String?, node: WriterIdentity) -> String? {
        let authority = authority(of: node)
        guard !authority.roles.contains(role) || (authority.department != nil && department != authority.department) else { return nil }
        let article = node.role == .auditor || node.role == .office ? "an" : "a"
        let may = authority.roles.map(\.rawValue).joined(separator: " or ") + (authority.department.map { " tokens of \($0)" } ?? " tokens")
        return "this is \(article) \(node.role.rawValue) node\(authority.department.map { " of \($0)" } ?? ""): it may make \(may) only, "
            + "not a\(role == .office || role == .auditor ? "n" : "") \(role.rawValue) token\(department.map { " of \($0)" } ?? ""); "
            + "make that token at the hub or an office node"
    }

    /// The roles a node writing as `node` may make tokens of, and the department they are
    /// bound to (`nil`: any): no more than the node itself may do.
    static func authority(of node: WriterIdentity) -> (roles: [Role], department: String?) {
        switch node.role {
        case .hub, .office: ([.field, .department, .office, .auditor], nil)
        case .auditor: ([.auditor], nil)
        case .department: ([.field, .department], node.department)
        case .field: ([.field], node.department)
        }
    }

    // MARK: - Parts

    /// A name as a person types it in `sitesync api token revoke NAME`: letters, digits, `-`,
    /// `_` and `.`, 1 to 64 characters.
    static func validateName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard (1...64).contains(name.count), name.allSatisfy(allowed.contains) else {
            throw NodeError(.usage, "'\(name)' is not a token name: use 1 to 64 letters, digits, '-', '_' or '.' (e.g. finance-export)")
        }
    }

    /// The department a token of `role` is bound to: required for `field` and `department`,
    /// refused for the city-wide roles; never `hub`.
    static func checkedDepartment(role: Role, department: String?) throws -> String? {
        switch role {
        case .hub:
            throw NodeError(.usage, "a token cannot act as the hub: use field, department, office or auditor")
        case .field, .department:
            guard let department, !department.isEmpty else {
                throw NodeError(.usage, "a \(role.rawValue) token is bound to one department: give --department (e.g. --department roads)")
            }
            try DepartmentCode.validate(department)
            return department
        case .office, .auditor:
            guard department == nil || department!.isEmpty else {
                throw NodeError(.usage, "an \(role.rawValue) token covers the whole city: leave out --department, "
                                + "or make a field or department token for \(department!)")
            }
            return nil
        }
    }

    static func hash(_ secret: String) -> String { SHA256Hex.digest(of: Array(secret.utf8)) }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Whether two byte strings are equal, in time that depends only on their lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
