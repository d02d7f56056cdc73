import Crypto
import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncStore
import Synchronization

/// A signed-in session, as a page sees it: whose it is, and the CSRF token every form it
/// serves must carry back.
public struct PersonSession: Sendable, Equatable {
    public let person: Person
    /// The token for the hidden form field ``Sessions/csrfFieldName``; check it with ``Sessions/checkCSRF(token:session:)``.
    public let csrfToken: String
    /// The client address it was signed in from.
    public let client: String
    public let createdMilliseconds: UInt64
    public let lastSeenMilliseconds: UInt64
    /// When it ends however active it is.
    public let expiresMilliseconds: UInt64
}

/// Why a sign-in was refused. The text is the same for an unknown name and a wrong password,
/// so that the form tells no one which names exist.
public struct SignInRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Unknown name or wrong password (HTTP 401 on the form).
        case wrongNameOrPassword = "wrong-name-or-password"
        /// The right password of a disabled person (told only to whoever knows the password).
        case disabled
        /// Too many failed attempts for this name or from this client (HTTP 429 with Retry-After).
        case tooManyAttempts = "too-many-attempts"
    }

    public let code: Code
    public let message: String
    /// For ``Code/tooManyAttempts``: how many seconds until an attempt is taken again.
    public let retryAfterSeconds: Int?

    public var description: String { message }

    static let wrongNameOrPassword = SignInRefusal(code: .wrongNameOrPassword,
        message: "wrong name or password: check both and try again", retryAfterSeconds: nil)
    static let disabled = SignInRefusal(code: .disabled,
        message: "this account is disabled: ask the office to enable it again or to add you anew", retryAfterSeconds: nil)

    static func tooManyAttempts(_ seconds: Int) -> SignInRefusal {
        SignInRefusal(code: .tooManyAttempts, message: "too many sign-in attempts: try again in \(seconds) s", retryAfterSeconds: seconds)
    }
}

/// Signing in to the dashboard, the sessions that follow, and their CSRF tokens.
///
/// A session's secret (32 random bytes, base64url) lives only in the person's cookie
/// (``cookieHeader(sessionSecret:secure:)``: HttpOnly, SameSite=Strict); the node keeps its
/// SHA-256, so a copy of the database signs no one in. A session ends after
/// ``idleTimeoutMilliseconds`` unused or ``lifetimeMilliseconds`` after it began, when its
/// person signs out, is disabled or has their password changed. Its CSRF token is an HMAC of
/// the secret's hash under a per-session random key kept with it.
public enum Sessions {
    /// 8 hours without a request.
    public static let idleTimeoutMilliseconds: UInt64 = 8 * 3_600_000
    /// 7 days from sign-in, however active.
    public static let lifetimeMilliseconds: UInt64 = 7 * 86_400_000
    /// `last_seen` is written at most this often, so that reading pages does not write on every request.
    public static let touchIntervalMilliseconds: UInt64 = 60_000
    /// The session cookie's name.
    public static let cookieName = "sitesync_session"
    /// The hidden form field carrying the CSRF token.
    public static let csrfFieldName = "csrf"
    /// The sign-in form's fields (`POST /login`).
    public static let nameFieldName = "name", passwordFieldName = "password"

    /// Signs `name` in with `password`, from the client at address `client`.
    /// - Parameters:
    ///   - limiter: counts failed attempts; the server keeps one for its life (``SignInLimiter/shared``).
    ///   - hashing: the cost of the stand-in hash verified for an unknown name, so that an
    ///     unknown name takes as long to refuse as a wrong password: the cost passwords are hashed at.
    ///   - now: the time, in milliseconds since the epoch (default: the node's clock).
    /// - Returns: the session's secret (for the cookie, never stored), its CSRF token, and the person.
    /// - Throws: ``SignInRefusal`` when the name or password is wrong, the person is disabled, or
    ///   there were too many failed attempts (then even the right password is refused).
    public static func signIn(_ node: Node, name: String, password: String, client: String, limiter: SignInLimiter = .shared,
                              hashing: PasswordHashing = .standard, at now: UInt64? = nil)
        throws -> (sessionSecret: String, csrfToken: String, person: Person) {
        let now = now ?? node.store.wallClock()
        try limiter.admit(name: name, client: client, now: now)
        let stored = try node.store.person(named: name)
        // No password can be longer than the longest allowed, so a huge one is not worth hashing.
        let verified = password.utf8.count <= 4 * People.maximumPasswordLength
            && PasswordHashing.verify(password, against: stored?.passwordHash ?? standIn(hashing))
        guard let stored, verified else { throw SignInRefusal.wrongNameOrPassword }
        limiter.succeeded(name: name, client: client)
        guard stored.disabledMilliseconds == nil else { throw SignInRefusal.disabled }
        let person = try People.person(stored, node)
        if let refusal = People.authorityRefusal(role: person.role, department: person.department, node: node.writer) {
            throw SignInRefusal(code: .disabled, message: "this account cannot be used here (\(refusal))", retryAfterSeconds: nil)
        }
        var generator = SystemRandomNumberGenerator()
        let secret = ApiTokens.base64URL((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let csrfKey = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let secretHash = ApiTokens.hash(secret)
        let kept = try node.store.addPersonSession(
            StoredPersonSession(secretSHA256: secretHash, person: name, csrfKey: csrfKey, client: client, createdMilliseconds: now,
                                lastSeenMilliseconds: now, expiresMilliseconds: now + lifetimeMilliseconds),
            idleSince: now > idleTimeoutMilliseconds ? now - idleTimeoutMilliseconds : 0, passwordHash: stored.passwordHash)
        // Disabled, or given a new password, while the old one was being checked.
        guard kept else { throw SignInRefusal.wrongNameOrPassword }
        return (secret, csrfToken(key: csrfKey, secretHash: secretHash), try People.person(node, named: name) ?? person)
    }

    /// The live session whose secret is `sessionSecret` (the cookie's value), or `nil`: unknown,
    /// malformed, expired, idle too long, or its person disabled. Its `last_seen` moves on at
    /// most once a minute.
    public static func authenticate(_ node: Node, sessionSecret: String, at now: UInt64? = nil) throws -> PersonSession? {
        guard sessionSecret.utf8.count == 43 else { return nil }
        let now = now ?? node.store.wallClock()
        let secretHash = ApiTokens.hash(sessionSecret)
        guard let (session, stored) = try node.store.personSession(secretSHA256: secretHash) else { return nil }
        guard now < session.expiresMilliseconds, now < session.lastSeenMilliseconds + idleTimeoutMilliseconds else {
            try node.store.removePersonSession(secretSHA256: secretHash)
            return nil
        }
        // Disabling a person and changing their password remove their sessions; this is the second lock.
        guard stored.disabledMilliseconds == nil else { return nil }
        let person = try People.person(stored, node)
        guard People.authorityRefusal(role: person.role, department: person.department, node: node.writer) == nil else { return nil }
        var lastSeen = session.lastSeenMilliseconds
        if now >= lastSeen + touchIntervalMilliseconds {
            try node.store.touchPersonSession(secretSHA256: secretHash, at: now)
            lastSeen = now
        }
        return PersonSession(person: person, csrfToken: csrfToken(key: session.csrfKey, secretHash: secretHash), client: session.client,
                             createdMilliseconds: session.createdMilliseconds, lastSeenMilliseconds: lastSeen,
                             expiresMilliseconds: session.expiresMilliseconds)
    }

    /// Ends the session whose secret is `sessionSecret`.
    /// - Returns: whether there was such a session.
    @discardableResult
    public static func signOut(_ node: Node, sessionSecret: String) throws -> Bool {
        try node.store.removePersonSession(secretSHA256: ApiTokens.hash(sessionSecret))
    }

    /// Whether `token` (the form's ``csrfFieldName`` field) is `session`'s CSRF token, compared
    /// in constant time. A missing token is refused.
    public static func checkCSRF(token: String?, session: PersonSession) -> Bool {
        guard let token else { return false }
        return ApiTokens.constantTimeEqual(Array(token.utf8), Array(session.csrfToken.utf8))
    }

    /// The `Set-Cookie` value for a new session: HttpOnly (no script reads it), SameSite=Strict
    /// (no other site's page sends it), Path=/, lasting the session's lifetime; `Secure` when
    /// served over TLS.
    public static func cookieHeader(sessionSecret: String, secure: Bool) -> String {
        "\(cookieName)=\(sessionSecret); Path=/; Max-Age=\(lifetimeMilliseconds / 1000); HttpOnly; SameSite=Strict"
            + (secure ? "; Secure" : "")
    }

    /// The `Set-Cookie` value that removes the session cookie (on sign-out).
    public static func clearingCookieHeader(secure: Bool) -> String {
        "\(cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    // MARK: - Parts

    static func csrfToken(key: [UInt8], secretHash: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(("csrf:" + secretHash).utf8), using: SymmetricKey(data: key))
        return ApiTokens.base64URL(Array(mac))
    }

    /// A hash no password matches, at `hashing`'s cost, made once per cost.
    static func standIn(_ hashing: PasswordHashing) -> String {
        standIns.withLock { cache in
            if let known = cache[hashing.logN << 16 | hashing.blockSize << 8 | hashing.parallelism] { return known }
            let made = (try? hashing.hash(ApiTokens.base64URL((0..<24).map { _ in UInt8.random(in: .min ... .max) }))) ?? ""
            cache[hashing.logN << 16 | hashing.blockSize << 8 | hashing.parallelism] = made
            return made
        }
    }

    private static let standIns = Mutex<[Int: String]>([:])
}

/// Counts failed sign-ins in memory, per name and per client address, over a sliding window:
/// past ``failuresPerName`` for a name or ``failuresPerClient`` from a client, attempts are
/// refused with the seconds to wait — even with the right password, so that guessing gains
/// nothing. Each attempt counts as a failure until it succeeds, so that attempts made at once
/// cannot slip past the limit together; a success clears its name's count.
public final class SignInLimiter: Sendable {
    public let failuresPerName: Int
    public let failuresPerClient: Int
    public let windowMilliseconds: UInt64
    /// The most names and clients tracked at once; beyond it, the quietest are forgotten first.
    public let capacity: Int

    /// The limiter of this process's server.
    public static let shared = SignInLimiter()

    /// Per key (`n:` and the lower-cased name, `c:` and the client), the times of its latest
    /// failures, oldest first, at most its limit.
    private let failures = Mutex<[String: [UInt64]]>([:])

    public init(failuresPerName: Int = 5, failuresPerClient: Int = 20, windowMilliseconds: UInt64 = 15 * 60_000, capacity: Int = 50_000) {
        self.failuresPerName = failuresPerName
        self.failuresPerClient = failuresPerClient
        self.windowMilliseconds = windowMilliseconds
        self.capacity = capacity
    }

    /// Takes an attempt for `name` from `client` at `now` (counting it as a failure until
    /// ``succeeded(name:client:)``), or refuses it.
    /// - Throws: ``SignInRefusal`` (`tooManyAttempts`, with the seconds to wait).
    public func admit(name: String, client: String, now: UInt64) throws(SignInRefusal) {
        let keys = [(Self.nameKey(name), failuresPerName), (Self.clientKey(client), failuresPerClient)]
        let wait: UInt64? = failures.withLock { table in
            var wait: UInt64 = 0
            for (key, limit) in keys {
                let recent = (table[key] ?? []).filter { $0 + windowMilliseconds > now }
                table[key] = recent.isEmpty ? nil : recent
                if recent.count >= limit { wait = max(wait, recent[recent.count - limit] + windowMilliseconds - now) }
            }
            if wait > 0 { return wait }
            for (key, limit) in keys { table[key, default: []] = Array((table[key, default: []] + [now]).suffix(limit)) }
            if table.count > capacity { forgetQuietest(&table) }
            return nil
        }
        if let wait { throw SignInRefusal.tooManyAttempts(Int((wait + 999) / 1000)) }
    }

    /// The attempt admitted for `name` from `client` succeeded: the name's count starts again,
    /// and the attempt no longer counts against the client.
    public func succeeded(name: String, client: String) {
        failures.withLock { table in
            table[Self.nameKey(name)] = nil
            let key = Self.clientKey(client)
            if var times = table[key], !times.isEmpty {
                times.removeLast()
                table[key] = times.isEmpty ? nil : times
            }
        }
    }

    /// The failures counted now for `name` and from `client`, within the window ending at `now`.
    public func failureCounts(name: String, client: String, now: UInt64) -> (name: Int, client: Int) {
        let window = windowMilliseconds
        return failures.withLock { table in
            let counts = [Self.nameKey(name), Self.clientKey(client)].map { key in (table[key] ?? []).filter { $0 + window > now }.count }
            return (counts[0], counts[1])
        }
    }

    private func forgetQuietest(_ table: inout [String: [UInt64]]) {
        let byLatest = table.sorted { ($0.value.last ?? 0) < ($1.value.last ?? 0) }
        for (key, _) in byLatest.prefix(table.count - capacity * 3 / 4) { table[key] = nil }
    }

    static func nameKey(_ name: String) -> String { "n:" + name.lowercased() }
    static func clientKey(_ client: String) -> String { "c:" + client }
}
