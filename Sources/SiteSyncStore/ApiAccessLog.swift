import Foundation
import GRDB
import SiteSyncCore

/// An API token as this node keeps it: who it acts as, and the SHA-256 of its secret (the
/// secret itself is shown once when the token is made and never stored). Local to this node:
/// never replicated (see ``StoreSchema``, `api_token`).
public struct StoredApiToken: Sendable, Equatable {
    public let name: String
    public let role: Role
    /// The department it is bound to (`nil`: the whole city).
    public let department: String?
    public let readOnly: Bool
    /// SHA-256 of the secret, as 64 lower-case hex digits.
    public let secretSHA256: String
    public let createdMilliseconds: UInt64
    public let revokedMilliseconds: UInt64?

    public init(name: String, role: Role, department: String?, readOnly: Bool, secretSHA256: String,
                createdMilliseconds: UInt64, revokedMilliseconds: UInt64? = nil) {
        self.name = name
        self.role = role
        self.department = department
        self.readOnly = readOnly
        self.secretSHA256 = secretSHA256
        self.createdMilliseconds = createdMilliseconds
        self.revokedMilliseconds = revokedMilliseconds
    }
}

/// One write request made through a token, as answered: kept so that a request retried with
/// the same idempotency key is answered again without writing twice, and so that every change
/// written through the API names the token that made it.
public struct ApiRequestRecord: Sendable, Equatable {
    public let token: String
    /// The client's `Idempotency-Key` (`nil`: it sent none; the request is still recorded).
    public let idempotencyKey: String?
    /// SHA-256 of the request (method, path and body), as hex: a key reused for another request is told apart.
    public let requestSHA256: String
    public let status: Int
    public let response: String
    /// The changes the request wrote, in the order written.
    public let changes: [Dot]
    public let atMilliseconds: UInt64

    public init(token: String, idempotencyKey: String?, requestSHA256: String, status: Int, response: String, changes: [Dot],
                atMilliseconds: UInt64) {
        self.token = token
        self.idempotencyKey = idempotencyKey
        self.requestSHA256 = requestSHA256
        self.status = status
        self.response = response
        self.changes = changes
        self.atMilliseconds = atMilliseconds
    }
}

/// The SQL of `api_token` and `api_request`, shared by the store's and a write session's
/// methods below.
enum ApiAccessLog {
    static let tokenColumns = "name, role, department, read_only, secret_sha256, created_ms, revoked_ms"
    static let requestColumns = "token, idempotency_key, request_sha256, status, response, changes, at_ms"

    static func token(_ row: Row) throws -> StoredApiToken {
        let roleText: String = row[1]
        guard let role = Role(rawValue: roleText) else {
            throw StoreError(.corrupt, "api_token \(row[0] as String) has the unknown role '\(roleText)'; revoke it and make it again")
        }
        return StoredApiToken(name: row[0], role: role, department: row[2], readOnly: row[3], secretSHA256: row[4],
                              createdMilliseconds: UInt64(row[5] as Int64), revokedMilliseconds: (row[6] as Int64?).map(UInt64.init))
    }

    static func request(_ row: Row) -> ApiRequestRecord {
        let changes = (row[5] as String).split(separator: " ").compactMap { text -> Dot? in
            let parts = text.split(separator: ":")
            guard parts.count == 2, let replica = ReplicaID(hex: String(parts[0])), let counter = UInt64(parts[1]) else { return nil }
            return Dot(replica: replica, counter: counter)
        }
        return ApiRequestRecord(token: row[0], idempotencyKey: row[1], requestSHA256: row[2], status: row[3], response: row[4],
                                changes: changes, atMilliseconds: UInt64(row[6] as Int64))
    }

    static func request(_ db: Database, token: String, idempotencyKey: String) throws -> ApiRequestRecord? {
        try Row.fetchOne(db, sql: "SELECT \(requestColumns) FROM api_request WHERE token = ? AND idempotency_key = ?",
                         arguments: [token, idempotencyKey]).map(request)
    }

    static func insert(_ db: Database, _ record: ApiRequestRecord) throws {
        try db.execute(sql: "INSERT INTO api_request (\(requestColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)", arguments: [
            record.token, record.idempotencyKey, record.requestSHA256, record.status, record.response,
            record.changes.map(\.description).joined(separator: " "), Int64(record.atMilliseconds),
        ])
    }
}

extension ReplicaStore {
    /// Keeps a new API token.
    /// - Throws: ``StoreError`` (`invalidWrite`) when a token of that name exists, revoked or
    ///   not; nothing is written then.
    public func addApiToken(_ token: StoredApiToken) throws {
        try StoreError.mapping {
            try pool.write { db in
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM api_token WHERE name = ?", arguments: [token.name]) != nil {
                    throw StoreError(.invalidWrite,
                        "an API token named '\(token.name)' already exists (names are never reused, not even after a revoke): choose another name")
                }
                try db.execute(sql: "INSERT INTO api_token (\(ApiAccessLog.tokenColumns)) VALUES (?, ?, ?, ?, ?, ?, NULL)", arguments: [
                    token.name, token.role.rawValue, token.department, token.readOnly, token.secretSHA256, Int64(token.createdMilliseconds),
                ])
            }
        }
    }

    /// Every API token, revoked ones included, oldest first.
    public func apiTokens() throws -> [StoredApiToken] {
        try StoreError.mapping {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT \(ApiAccessLog.tokenColumns) FROM api_token ORDER BY created_ms, rowid")
                    .map(ApiAccessLog.token)
            }
        }
    }

    /// Marks a token revoked at `milliseconds` (a token revoked before keeps its first revoke time).
    /// - Returns: the token as it now stands, or `nil` when there is none of that name.
    public func revokeApiToken(named name: String, at milliseconds: UInt64) throws -> StoredApiToken? {
        try StoreError.mapping {
            try pool.write { db in
                try db.execute(sql: "UPDATE api_token SET revoked_ms = ? WHERE name = ? AND revoked_ms IS NULL",
                               arguments: [Int64(milliseconds), name])
                return try Row.fetchOne(db, sql: "SELECT \(ApiAccessLog.tokenColumns) FROM api_token WHERE name = ?", arguments: [name])
                    .map(ApiAccessLog.token)
            }
        }
    }

    /// The write requests recorded for one token (every token when `nil`), in the order made.
    public func apiRequests(token: String? = nil) throws -> [ApiRequestRecord] {
        try StoreError.mapping {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT \(ApiAccessLog.requestColumns) FROM api_request WHERE ?1 IS NULL OR token = ?1 ORDER BY id",
                                 arguments: [token]).map(ApiAccessLog.request)
            }
        }
    }
}

extension LocalWriteSession {
    /// The request recorded earlier under this token and idempotency key, read inside this
    /// session's transaction (so two identical requests cannot both miss it).
    public func apiRequest(token: String, idempotencyKey: String) throws -> ApiRequestRecord? {
        try ApiAccessLog.request(db, token: token, idempotencyKey: idempotencyKey)
    }

    /// Records a write request in this session's transaction: it commits with the changes it
    /// names, or neither does.
    public func recordApiRequest(_ record: ApiRequestRecord) throws {
        try ApiAccessLog.insert(db, record)
    }

    /// Read-only queries as ``ReplicaStore/rows(_:)`` answers them, but inside this session's
    /// transaction: they see the writes made in it so far.
    public func rows(_ queries: [(sql: String, arguments: [String])]) throws -> [[[String?]]] {
        try ReplicaStore.rows(db, queries)
    }
}
