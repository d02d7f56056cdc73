import Foundation
import GRDB
import SiteSyncCore

/// A person who signs in to this node's web dashboard, as this node keeps them. Local to this
/// node: never replicated (see ``StoreSchema``, `person`). The role is kept as text: what each
/// role may see and do is the domain's business (`PersonRole` in SiteSyncDomain).
public struct StoredPerson: Sendable, Equatable {
    public let name: String
    public let role: String
    /// The department the person is bound to (`nil`: the whole city).
    public let department: String?
    /// The codes of the projects a project lead leads (empty for every other role).
    public let projects: [String]
    /// The password's hash as a PHC string (`$scrypt$ln=15,r=8,p=1$salt$hash`); never the password.
    public let passwordHash: String
    public let createdMilliseconds: UInt64
    public let disabledMilliseconds: UInt64?
    public let passwordChangedMilliseconds: UInt64
    /// When the person last signed in (`nil`: never).
    public let signedInMilliseconds: UInt64?

    public init(name: String, role: String, department: String?, projects: [String], passwordHash: String,
                createdMilliseconds: UInt64, disabledMilliseconds: UInt64? = nil, passwordChangedMilliseconds: UInt64,
                signedInMilliseconds: UInt64? = nil) {
        self.name = name
        self.role = role
        self.department = department
        self.projects = projects
        self.passwordHash = passwordHash
        self.createdMilliseconds = createdMilliseconds
        self.disabledMilliseconds = disabledMilliseconds
        self.passwordChangedMilliseconds = passwordChangedMilliseconds
        self.signedInMilliseconds = signedInMilliseconds
    }
}

/// A signed-in session as this node keeps it: the SHA-256 of its secret (the secret is only in
/// the person's cookie), whose it is, and the key its CSRF token derives from.
public struct StoredPersonSession: Sendable, Equatable {
    /// SHA-256 of the session secret, as 64 lower-case hex digits.
    public let secretSHA256: String
    public let person: String
    /// 32 random bytes; the session's CSRF token is an HMAC under it (see `Sessions` in SiteSyncDomain).
    public let csrfKey: [UInt8]
    /// The client address it was signed in from, for the person's own list of sessions.
    public let client: String
    public let createdMilliseconds: UInt64
    public let lastSeenMilliseconds: UInt64
    /// When it ends however active it is (the absolute lifetime).
    public let expiresMilliseconds: UInt64

    public init(secretSHA256: String, person: String, csrfKey: [UInt8], client: String, createdMilliseconds: UInt64,
                lastSeenMilliseconds: UInt64, expiresMilliseconds: UInt64) {
        self.secretSHA256 = secretSHA256
        self.person = person
        self.csrfKey = csrfKey
        self.client = client
        self.createdMilliseconds = createdMilliseconds
        self.lastSeenMilliseconds = lastSeenMilliseconds
        self.expiresMilliseconds = expiresMilliseconds
    }
}

/// The SQL of `person` and `person_session`, shared by the store's methods below.
enum PersonLog {
    static let personColumns = "name, role, department, projects, password_hash, created_ms, disabled_ms, password_changed_ms, signed_in_ms"
    static let sessionColumns = "secret_sha256, person, csrf_key, client, created_ms, last_seen_ms, expires_ms"

    static func person(_ row: Row) throws -> StoredPerson {
        let name: String = row[0]
        let projectsText: String = row[3]
        guard let projects = try? JSONDecoder().decode([String].self, from: Data(projectsText.utf8)) else {
            throw StoreError(.corrupt, "person \(name) has projects that are not a JSON array of codes ('\(projectsText)'); "
                             + "disable the person and add them again")
        }
        return StoredPerson(name: name, role: row[1], department: row[2], projects: projects, passwordHash: row[4],
                            createdMilliseconds: UInt64(row[5] as Int64), disabledMilliseconds: (row[6] as Int64?).map(UInt64.init),
                            passwordChangedMilliseconds: UInt64(row[7] as Int64), signedInMilliseconds: (row[8] as Int64?).map(UInt64.init))
    }

    static func session(_ row: Row) -> StoredPersonSession {
        StoredPersonSession(secretSHA256: row[0], person: row[1], csrfKey: [UInt8](row[2] as Data), client: row[3],
                            createdMilliseconds: UInt64(row[4] as Int64), lastSeenMilliseconds: UInt64(row[5] as Int64),
                            expiresMilliseconds: UInt64(row[6] as Int64))
    }

    static func projectsJSON(_ projects: [String]) -> String {
        // Codes are plain text; JSONEncoder escapes whatever needs it.
        String(decoding: (try? JSONEncoder().encode(projects)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func person(_ db: Database, named name: String) throws -> StoredPerson? {
        try Row.fetchOne(db, sql: "SELECT \(personColumns) FROM person WHERE name = ?", arguments: [name]).map(person)
    }
}

extension ReplicaStore {
    /// Keeps a new person.
    /// - Throws: ``StoreError`` (`invalidWrite`) when a person of that name exists, disabled or
    ///   not; nothing is written then.
    public func addPerson(_ person: StoredPerson) throws {
        try StoreError.mapping {
            try pool.write { db in
                if try PersonLog.person(db, named: person.name) != nil {
                    throw StoreError(.invalidWrite,
                        "a person named '\(person.name)' already exists (names are never reused, not even after a disable): choose another name")
                }
                try db.execute(sql: "INSERT INTO person (\(PersonLog.personColumns)) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, NULL)", arguments: [
                    person.name, person.role, person.department, PersonLog.projectsJSON(person.projects), person.passwordHash,
                    Int64(person.createdMilliseconds), Int64(person.passwordChangedMilliseconds),
                ])
            }
        }
    }

    /// Every person, disabled ones included, oldest first.
    public func persons() throws -> [StoredPerson] {
        try StoreError.mapping {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT \(PersonLog.personColumns) FROM person ORDER BY created_ms, rowid").map(PersonLog.person)
            }
        }
    }

    /// The person of that name, or `nil`.
    public func person(named name: String) throws -> StoredPerson? {
        try StoreError.mapping { try pool.read { db in try PersonLog.person(db, named: name) } }
    }

    /// Replaces a person's password hash and ends every session of theirs, in one transaction
    /// (whoever knew the old password is signed out).
    /// - Returns: the person as they now stand, or `nil` when there is none of that name.
    public func setPersonPassword(named name: String, passwordHash: String, at milliseconds: UInt64) throws -> StoredPerson? {
        try StoreError.mapping {
            try pool.write { db in
                try db.execute(sql: "UPDATE person SET password_hash = ?, password_changed_ms = ? WHERE name = ?",
                               arguments: [passwordHash, Int64(milliseconds), name])
                try db.execute(sql: "DELETE FROM person_session WHERE person = ?", arguments: [name])
                return try PersonLog.person(db, named: name)
            }
        }
    }

    /// Marks a person disabled at `milliseconds` (one disabled before keeps its first time) and
    /// ends every session of theirs, in one transaction.
    /// - Returns: the person as they now stand, or `nil` when there is none of that name.
    public func disablePerson(named name: String, at milliseconds: UInt64) throws -> StoredPerson? {
        try StoreError.mapping {
            try pool.write { db in
                try db.execute(sql: "UPDATE person SET disabled_ms = ? WHERE name = ? AND disabled_ms IS NULL",
                               arguments: [Int64(milliseconds), name])
                try db.execute(sql: "DELETE FROM person_session WHERE person = ?", arguments: [name])
                return try PersonLog.person(db, named: name)
            }
        }
    }

    /// Lets a disabled person sign in again (their password is unchanged).
    /// - Returns: the person as they now stand, or `nil` when there is none of that name.
    public func enablePerson(named name: String) throws -> StoredPerson? {
        try StoreError.mapping {
            try pool.write { db in
                try db.execute(sql: "UPDATE person SET disabled_ms = NULL WHERE name = ?", arguments: [name])
                return try PersonLog.person(db, named: name)
            }
        }
    }

    /// Gives a person another role, department and projects, and ends every session of theirs
    /// in the same transaction: a page open under the old role must not keep its reach.
    /// - Returns: the person as they now stand, or `nil` when there is none of that name.
    public func setPersonRole(named name: String, role: String, department: String?, projects: [String]) throws -> StoredPerson? {
        try StoreError.mapping {
            try pool.write { db in
                try db.execute(sql: "UPDATE person SET role = ?, department = ?, projects = ? WHERE name = ?",
                               arguments: [role, department, PersonLog.projectsJSON(projects), name])
                try db.execute(sql: "DELETE FROM person_session WHERE person = ?", arguments: [name])
                return try PersonLog.person(db, named: name)
            }
        }
    }

    /// Ends every session of one person.
    /// - Returns: how many there were.
    public func removePersonSessions(person: String) throws -> Int {
        try StoreError.mapping {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM person_session WHERE person = ?", arguments: [person])
                return db.changesCount
            }
        }
    }

    /// Keeps a new session, records the sign-in on its person, and drops sessions that ended
    /// before `session` began (expired, or idle since `idleSince`), so the table stays small.
    /// - Parameter passwordHash: the hash the password was verified against: when the person's
    ///   password was changed (or they were disabled) while it was being checked, no session is kept.
    /// - Returns: whether the session was kept.
    public func addPersonSession(_ session: StoredPersonSession, idleSince: UInt64, passwordHash: String) throws -> Bool {
        try StoreError.mapping {
            try pool.write { db in
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM person WHERE name = ? AND password_hash = ? AND disabled_ms IS NULL",
                                        arguments: [session.person, passwordHash]) != nil else { return false }
                try db.execute(sql: "DELETE FROM person_session WHERE expires_ms <= ? OR last_seen_ms <= ?",
                               arguments: [Int64(session.createdMilliseconds), Int64(idleSince)])
                try db.execute(sql: "INSERT INTO person_session (\(PersonLog.sessionColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)", arguments: [
                    session.secretSHA256, session.person, Data(session.csrfKey), session.client, Int64(session.createdMilliseconds),
                    Int64(session.lastSeenMilliseconds), Int64(session.expiresMilliseconds),
                ])
                try db.execute(sql: "UPDATE person SET signed_in_ms = ? WHERE name = ?",
                               arguments: [Int64(session.createdMilliseconds), session.person])
                return true
            }
        }
    }

    /// The session whose secret hashes to `secretSHA256`, with its person, or `nil`.
    public func personSession(secretSHA256: String) throws -> (session: StoredPersonSession, person: StoredPerson)? {
        try StoreError.mapping {
            try pool.read { db in
                guard let session = try Row.fetchOne(db, sql: "SELECT \(PersonLog.sessionColumns) FROM person_session WHERE secret_sha256 = ?",
                                                     arguments: [secretSHA256]).map(PersonLog.session),
                      let person = try PersonLog.person(db, named: session.person) else { return nil }
                return (session, person)
            }
        }
    }

    /// Every live session of one person (every person's when `nil`), oldest first.
    public func personSessions(person: String? = nil) throws -> [StoredPersonSession] {
        try StoreError.mapping {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT \(PersonLog.sessionColumns) FROM person_session WHERE ?1 IS NULL OR person = ?1 "
                                 + "ORDER BY created_ms", arguments: [person]).map(PersonLog.session)
            }
        }
    }

    /// Records that a session was used at `milliseconds`.
    public func touchPersonSession(secretSHA256: String, at milliseconds: UInt64) throws {
        try StoreError.mapping {
            try pool.write { db in
                try db.execute(sql: "UPDATE person_session SET last_seen_ms = max(last_seen_ms, ?) WHERE secret_sha256 = ?",
                               arguments: [Int64(milliseconds), secretSHA256])
            }
        }
    }

    /// Ends one session.
    /// - Returns: whether there was such a session.
    @discardableResult
    public func removePersonSession(secretSHA256: String) throws -> Bool {
        try StoreError.mapping {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM person_session WHERE secret_sha256 = ?", arguments: [secretSHA256])
                return db.changesCount > 0
            }
        }
    }
}
