import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncStore
import SiteSyncTestSupport
import Testing

/// People who sign in to the dashboard: only scrypt hashes of their passwords are kept; each
/// role sees and writes what a node of its reach would, never beyond the node serving it;
/// sessions end on time, on sign-out, on disable and on a new password; CSRF tokens are checked;
/// and sign-in attempts are rate-limited.
@Suite struct PeopleTests {
    /// Cheap enough for tests (1 MiB); the default is ``PasswordHashing/standard``.
    static let cheap = PasswordHashing(logN: 10, blockSize: 8, parallelism: 1)
    static let password = "Tall-Giraffe-Sunrise-42"
    static let hour: UInt64 = 3_600_000

    static func node(_ root: TemporaryDirectory, _ name: String, _ role: Role, _ department: String) throws -> Node {
        try ApiTokenTests.node(root, name, role, department)
    }

    /// The token tests' hub: roads (project R-101) and water (project W-201), with their plans.
    static func hub(_ root: TemporaryDirectory) throws -> Node { try ApiTokenTests.hub(root) }

    @discardableResult
    static func add(_ node: Node, _ name: String, _ role: PersonRole, department: String? = nil, projects: [String] = [],
                    password: String = PeopleTests.password) throws -> Person {
        try People.add(node, name: name, role: role, department: department, projects: projects, password: password, hashing: cheap)
    }

    static func signIn(_ node: Node, _ name: String, _ password: String = PeopleTests.password, client: String = "127.0.0.1",
                       limiter: SignInLimiter = SignInLimiter(), at now: UInt64) throws -> (sessionSecret: String, csrfToken: String, person: Person) {
        try Sessions.signIn(node, name: name, password: password, client: client, limiter: limiter, hashing: cheap, at: now)
    }

    // MARK: - Passwords

    @Test func aPasswordVerifiesAgainstItsHashAndNoOtherDoes() throws {
        let phc = try Self.cheap.hash(Self.password)
        #expect(phc.hasPrefix("$scrypt$ln=10,r=8,p=1$"), "a PHC string naming its cost: \(phc)")
        let parts = phc.split(separator: "$")
        #expect(parts.count == 4 && PasswordHashing.unbase64(parts[2])?.count == 16 && PasswordHashing.unbase64(parts[3])?.count == 32)
        #expect(PasswordHashing.verify(Self.password, against: phc))
        #expect(!PasswordHashing.verify(Self.password + "x", against: phc))
        #expect(!PasswordHashing.verify("tall-giraffe-sunrise-42", against: phc), "case matters")
        #expect(!PasswordHashing.verify("", against: phc))
        #expect(try Self.cheap.hash(Self.password) != phc, "a fresh salt each time")
        #expect(!PasswordHashing.verify(Self.password, against: "$scrypt$ln=40,r=8,p=1$" + parts[2] + "$" + parts[3]), "a cost out of range")
        #expect(!PasswordHashing.verify(Self.password, against: "plain text"))
        // The same password typed in another Unicode form is the same password.
        let composed = try Self.cheap.hash("caf\u{E9}-au-lait-42")
        #expect(PasswordHashing.verify("cafe\u{301}-au-lait-42", against: composed))
    }

    /// The default is the strong cost, and a hash made at it verifies.
    @Test func theDefaultCostIsScryptAtTwoToTheFifteen() throws {
        #expect(PasswordHashing.standard == PasswordHashing(logN: 15, blockSize: 8, parallelism: 1))
        let started = ContinuousClock.now
        let phc = try PasswordHashing.standard.hash(Self.password)
        let took = ContinuousClock.now - started
        #expect(phc.hasPrefix("$scrypt$ln=15,r=8,p=1$"))
        #expect(PasswordHashing.verify(Self.password, against: phc))
        print("scrypt N=2^15 r=8 p=1: \(took)")
    }

    /// The database keeps the hash, never the password: the file's bytes (and its write-ahead
    /// log's) hold the one and not the other.
    @Test func theDatabaseHoldsTheHashNotThePassword() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        try Self.add(hub, "li.wei", .leader)
        let stored = try #require(try hub.store.person(named: "li.wei"))
        #expect(stored.passwordHash.hasPrefix("$scrypt$") && !stored.passwordHash.contains(Self.password))
        var bytes = Data()
        for file in [hub.store.path, hub.store.path + "-wal"] { bytes += FileManager.default.contents(atPath: file) ?? Data() }
        #expect(bytes.range(of: Data(Self.password.utf8)) == nil, "the password is in the database file")
        #expect(bytes.range(of: Data(stored.passwordHash.utf8)) != nil, "its hash is what is kept")
    }

    @Test func aPasswordIsLongEnoughAndNotTheName() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let short = #expect(throws: NodeError.self) { try Self.add(hub, "li.wei", .leader, password: "123456789") }
        #expect(short?.message.contains("at least 10 characters") == true, "\(short?.message ?? "")")
        let named = #expect(throws: NodeError.self) { try Self.add(hub, "administrator", .leader, password: "Administrator") }
        #expect(named?.message.contains("name") == true)
        #expect(try People.list(hub).isEmpty, "nothing was stored")
        try Self.add(hub, "li.wei", .leader, password: "1234567890")
        #expect(throws: NodeError.self, "names are unique") { try Self.add(hub, "li.wei", .auditor) }
    }

    // MARK: - What each role sees and does

    @Test func eachRoleReadsAndWritesAsItsReach() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let leader = try Self.add(hub, "leader", .leader)
        let head = try Self.add(hub, "head", .departmentHead, department: "roads")
        let lead = try Self.add(hub, "lead", .projectLead, department: "roads", projects: ["R-101", "R-102", "R-101"])
        let hrbp = try Self.add(hub, "hrbp", .hrbp)
        let roadsHRBP = try Self.add(hub, "hrbp-roads", .hrbp, department: "roads")
        let auditor = try Self.add(hub, "auditor", .auditor)
        let office = try Self.add(hub, "office", .office)

        #expect(leader.scope == .city && leader.writer == nil && leader.projects == nil && !leader.mayViewAudit)
        #expect(head.scope == .department("roads") && head.writer == WriterIdentity(role: .department, department: "roads"))
        // A project lead reads their projects only (codes matched case-insensitively).
        #expect(lead.scope == ReadScope(department: "roads", projects: ["r-101", "R-102"]) && lead.writer == WriterIdentity(role: .field, department: "roads"))
        #expect(lead.scope.includes(projectCode: "r-102", of: "roads") && !lead.scope.includes(projectCode: "R-103", of: "roads"))
        #expect(!lead.scope.includes(projectCode: "R-101", of: "water") && head.scope.includes(projectCode: "R-103", of: "roads"))
        #expect(lead.projects == ["R-101", "R-102"])
        #expect(hrbp.scope == .city && hrbp.writer == nil)
        #expect(roadsHRBP.scope == .department("roads") && roadsHRBP.writer == nil)
        #expect(auditor.scope == .city && auditor.writer == nil && auditor.mayViewAudit)
        #expect(office.scope == .city && office.writer == WriterIdentity(role: .office, department: "office"),
                "an office person writes as the serving node's office")

        #expect(lead.mayWrite(onProject: "R-101", of: "roads") && !lead.mayWrite(onProject: "R-103", of: "roads"))
        #expect(head.mayWrite(onProject: "R-103", of: "roads") && !head.mayWrite(onProject: "W-201", of: "water"))
        #expect(office.mayWrite(onProject: "W-201", of: "water") && !leader.mayWrite(onProject: "R-101", of: "roads"))
        #expect(try People.list(hub).map(\.name) == ["leader", "head", "lead", "hrbp", "hrbp-roads", "auditor", "office"])
        #expect(try People.person(hub, named: "lead") == lead)

        // The write policy holds them to it: a department head writes nothing into water, and
        // the plan is the office's.
        let before = try hub.store.counts().changes
        #expect(throws: CoreError.self) { try hub.writeEntry("risk", ["project=p2", "title=Flood", "probability=3", "impact=3",
                                                                       "raised_on=2026-11-02"], as: head.actingWriter) }
        #expect(throws: CoreError.self) { try hub.writeEntry("department", id: "parks", ["name=Parks"], as: lead.actingWriter) }
        // One who only reads writes nothing, even when a write is made for them by mistake.
        for reader in [leader, hrbp, roadsHRBP, auditor] {
            #expect(reader.actingWriter.role == .auditor)
            #expect(throws: CoreError.self) { try hub.writeEntry("department", id: "parks", ["name=Parks"], as: reader.actingWriter) }
        }
        #expect(try hub.store.counts().changes == before, "nothing was written")
        try hub.writeEntry("risk", ["project=p1", "title=Flood", "probability=3", "impact=3", "raised_on=2026-11-02"], as: head.actingWriter)
        try hub.writeEntry("department", id: "parks", ["name=Parks"], as: office.actingWriter)
    }

    @Test func anAccountNeedsWhatItsRoleNeeds() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        func refusal(_ body: () throws -> Void) -> String { (#expect(throws: NodeError.self) { try body() })?.message ?? "" }
        #expect(refusal { try Self.add(hub, "a", .departmentHead) }.contains("--department"))
        #expect(refusal { try Self.add(hub, "b", .projectLead, department: "roads") }.contains("--project"))
        #expect(refusal { try Self.add(hub, "c", .leader, department: "roads") }.contains("whole city"))
        #expect(refusal { try Self.add(hub, "d", .office, projects: ["R-101"]) }.contains("only a project_lead has projects"))
        #expect(refusal { try Self.add(hub, "e", .projectLead, department: "water", projects: ["R-101"]) }.contains("belongs to roads"))
        #expect(refusal { try Self.add(hub, "two words", .leader) }.contains("not a person's name"))
        #expect(refusal { try Self.add(hub, "f", .departmentHead, department: "Roads!") }.contains("department code"))
        try Self.add(hub, "g", .projectLead, department: "roads", projects: ["R-999"])  // a project not imported yet
        #expect(try People.list(hub).map(\.name) == ["g"])
    }

    @Test func anAccountNeverGoesBeyondTheNodeServingIt() throws {
        let root = TemporaryDirectory()
        let roadsOffice = try Self.node(root, "roads-office", .department, "roads")
        let leader = #expect(throws: NodeError.self) { try Self.add(roadsOffice, "leader", .leader) }
        #expect(leader?.message.contains("department node of roads: it may hold department_head, project_lead, hrbp accounts of roads only, "
                                         + "not a leader account") == true, "\(leader?.message ?? "")")
        #expect(throws: NodeError.self, "another department") { try Self.add(roadsOffice, "w", .departmentHead, department: "water") }
        #expect(throws: NodeError.self, "city-wide hrbp") { try Self.add(roadsOffice, "h", .hrbp) }
        #expect(throws: NodeError.self) { try Self.add(roadsOffice, "o", .office) }
        try Self.add(roadsOffice, "head", .departmentHead, department: "roads")
        try Self.add(roadsOffice, "hr", .hrbp, department: "roads")

        let audit = try Self.node(root, "audit", .auditor, "office")
        try Self.add(audit, "leader", .leader)
        try Self.add(audit, "auditor", .auditor)
        let office = #expect(throws: NodeError.self) { try Self.add(audit, "o", .office) }
        #expect(office?.message.contains("an auditor node") == true && office?.message.contains("not an office account") == true,
                "\(office?.message ?? "")")
        #expect(throws: NodeError.self) { try Self.add(audit, "head", .departmentHead, department: "roads") }
        #expect(People.authorityRefusal(role: .office, department: nil, node: WriterIdentity(role: .hub, department: "office")) == nil)
    }

    // MARK: - Sessions

    @Test func aSessionAuthenticatesUntilItIdlesOrExpiresOrSignsOut() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        try Self.add(hub, "lead", .projectLead, department: "roads", projects: ["R-101"])
        let t0 = hub.store.wallClock()
        let signed = try Self.signIn(hub, "lead", at: t0)
        #expect(signed.person.name == "lead" && signed.sessionSecret.count == 43 && signed.csrfToken.count == 43)
        #expect(signed.person.lastSignInMilliseconds == t0)
        let session = try #require(try Sessions.authenticate(hub, sessionSecret: signed.sessionSecret, at: t0 + 1_000))
        #expect(session.person == signed.person && session.csrfToken == signed.csrfToken && session.client == "127.0.0.1")
        #expect(session.expiresMilliseconds == t0 + Sessions.lifetimeMilliseconds)
        #expect(try Sessions.authenticate(hub, sessionSecret: Self.nearMiss(signed.sessionSecret), at: t0) == nil, "a near miss")
        #expect(try Sessions.authenticate(hub, sessionSecret: "", at: t0) == nil)

        // last_seen moves at most once a minute.
        #expect(try Sessions.authenticate(hub, sessionSecret: signed.sessionSecret, at: t0 + 30_000)?.lastSeenMilliseconds == t0)
        #expect(try Sessions.authenticate(hub, sessionSecret: signed.sessionSecret, at: t0 + 90_000)?.lastSeenMilliseconds == t0 + 90_000)
        #expect(try hub.store.personSessions(person: "lead").first?.lastSeenMilliseconds == t0 + 90_000)
        // Idle for 8 hours: ended, and removed.
        #expect(try Sessions.authenticate(hub, sessionSecret: signed.sessionSecret, at: t0 + 90_000 + 8 * Self.hour - 1) != nil)
        let idle = t0 + 90_000 + 8 * Self.hour - 1
        #expect(try Sessions.authenticate(hub, sessionSecret: signed.sessionSecret, at: idle + 8 * Self.hour) == nil)
        #expect(try hub.store.personSessions(person: "lead").isEmpty)

        // Used every 7 hours, a session still ends 7 days after sign-in.
        let busy = try Self.signIn(hub, "lead", at: t0)
        var now = t0
        while now + 7 * Self.hour < t0 + Sessions.lifetimeMilliseconds {
            now += 7 * Self.hour
            #expect(try Sessions.authenticate(hub, sessionSecret: busy.sessionSecret, at: now) != nil)
        }
        #expect(try Sessions.authenticate(hub, sessionSecret: busy.sessionSecret, at: t0 + Sessions.lifetimeMilliseconds) == nil)

        // Signing out ends it at once.
        let other = try Self.signIn(hub, "lead", at: t0)
        #expect(try Sessions.signOut(hub, sessionSecret: other.sessionSecret))
        #expect(try Sessions.authenticate(hub, sessionSecret: other.sessionSecret, at: t0 + 1) == nil)
        #expect(try !Sessions.signOut(hub, sessionSecret: other.sessionSecret))
    }

    @Test func disablingOrANewPasswordEndsTheSessions() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        try Self.add(hub, "head", .departmentHead, department: "roads")
        try Self.add(hub, "office", .office)
        let t0 = hub.store.wallClock()
        let first = try Self.signIn(hub, "head", at: t0)
        let bystander = try Self.signIn(hub, "office", at: t0)

        try People.setPassword(hub, name: "head", password: "Another-Long-Password", hashing: Self.cheap)
        #expect(try Sessions.authenticate(hub, sessionSecret: first.sessionSecret, at: t0 + 1) == nil, "a new password ends the session")
        #expect(try Sessions.authenticate(hub, sessionSecret: bystander.sessionSecret, at: t0 + 1) != nil, "others' go on")
        let old = #expect(throws: SignInRefusal.self) { try Self.signIn(hub, "head", at: t0 + 2) }
        #expect(old?.code == .wrongNameOrPassword)
        let second = try Self.signIn(hub, "head", "Another-Long-Password", at: t0 + 2)
        #expect(throws: NodeError.self, "the new password follows the rules too") {
            try People.setPassword(hub, name: "head", password: "short", hashing: Self.cheap)
        }
        #expect(try Sessions.authenticate(hub, sessionSecret: second.sessionSecret, at: t0 + 3) != nil, "a refused change ends nothing")

        let disabled = try People.disable(hub, name: "head")
        #expect(disabled.isDisabled)
        #expect(try Sessions.authenticate(hub, sessionSecret: second.sessionSecret, at: t0 + 4) == nil, "disabling ends the session")
        let refused = #expect(throws: SignInRefusal.self) { try Self.signIn(hub, "head", "Another-Long-Password", at: t0 + 5) }
        #expect(refused?.code == .disabled)
        #expect(throws: NodeError.self) { try People.disable(hub, name: "nobody") }
        #expect(throws: NodeError.self) { try People.setPassword(hub, name: "nobody", password: Self.password, hashing: Self.cheap) }
    }

    @Test func aFormCarriesItsSessionsCSRFToken() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        try Self.add(hub, "office", .office)
        let t0 = hub.store.wallClock()
        let one = try Self.signIn(hub, "office", at: t0), two = try Self.signIn(hub, "office", at: t0)
        let session = try #require(try Sessions.authenticate(hub, sessionSecret: one.sessionSecret, at: t0))
        #expect(Sessions.checkCSRF(token: one.csrfToken, session: session))
        #expect(!Sessions.checkCSRF(token: nil, session: session))
        #expect(!Sessions.checkCSRF(token: "", session: session))
        #expect(!Sessions.checkCSRF(token: two.csrfToken, session: session), "another session's token")
        #expect(!Sessions.checkCSRF(token: Self.nearMiss(one.csrfToken), session: session))
        #expect(!Sessions.checkCSRF(token: one.sessionSecret, session: session), "the session secret is not the token")
        let cookie = Sessions.cookieHeader(sessionSecret: one.sessionSecret, secure: true)
        #expect(cookie.hasPrefix("sitesync_session=\(one.sessionSecret);") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict")
                && cookie.contains("Secure"))
    }

    /// Only hashes of session secrets are kept.
    @Test func theDatabaseHoldsNoSessionSecret() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        try Self.add(hub, "office", .office)
        let signed = try Self.signIn(hub, "office", at: hub.store.wallClock())
        var bytes = Data()
        for file in [hub.store.path, hub.store.path + "-wal"] { bytes += FileManager.default.contents(atPath: file) ?? Data() }
        #expect(bytes.range(of: Data(signed.sessionSecret.utf8)) == nil)
        #expect(bytes.range(of: Data(signed.csrfToken.utf8)) == nil)
        #expect(try hub.store.personSessions().map(\.secretSHA256) == [ApiTokens.hash(signed.sessionSecret)])
    }

    // MARK: - Rate limiting

    @Test func fiveFailuresRefuseEvenTheRightPasswordUntilTheWindowPasses() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        try Self.add(hub, "office", .office)
        let limiter = SignInLimiter()
        let t0 = hub.store.wallClock()
        for attempt in 0..<5 {
            let wrong = #expect(throws: SignInRefusal.self) {
                try Self.signIn(hub, "office", "wrong-password-\(attempt)", limiter: limiter, at: t0 + UInt64(attempt) * 1_000)
            }
            #expect(wrong?.code == .wrongNameOrPassword)
        }
        let limited = #expect(throws: SignInRefusal.self) { try Self.signIn(hub, "office", limiter: limiter, at: t0 + 10_000) }
        #expect(limited?.code == .tooManyAttempts)
        #expect(limited?.retryAfterSeconds == 15 * 60 - 10, "until the first failure leaves the window: \(limited?.retryAfterSeconds ?? -1)")
        #expect(limited?.message.contains("try again in 890 s") == true)
        #expect(throws: SignInRefusal.self, "another client, the same name") {
            try Self.signIn(hub, "office", client: "10.0.0.9", limiter: limiter, at: t0 + 11_000)
        }
        #expect(try Self.signIn(hub, "office", limiter: limiter, at: t0 + 15 * 60_000).person.name == "office", "the window has passed")
    }

    @Test func aSuccessStartsTheNamesCountAgain() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        try Self.add(hub, "office", .office)
        let limiter = SignInLimiter()
        let t0 = hub.store.wallClock()
        func fail(_ times: Int) {
            for _ in 0..<times { _ = #expect(throws: SignInRefusal.self) { try Self.signIn(hub, "office", "nope-nope-nope", limiter: limiter, at: t0) } }
        }
        fail(4)
        _ = try Self.signIn(hub, "office", limiter: limiter, at: t0)
        #expect(limiter.failureCounts(name: "office", client: "127.0.0.1", now: t0) == (0, 4))
        fail(4)
        _ = try Self.signIn(hub, "office", limiter: limiter, at: t0)
    }

    @Test func anUnknownNameIsRefusedLikeAWrongPasswordAndAClientIsLimitedToo() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        try Self.add(hub, "office", .office)
        let limiter = SignInLimiter()
        let t0 = hub.store.wallClock()
        let unknown = #expect(throws: SignInRefusal.self) { try Self.signIn(hub, "nobody", limiter: limiter, at: t0) }
        let wrong = #expect(throws: SignInRefusal.self) { try Self.signIn(hub, "office", "wrong-password", limiter: limiter, at: t0) }
        #expect(unknown != nil && unknown == wrong, "the same refusal, word for word")
        // Twenty failures from one client, over many names: the client is refused, even for a right password.
        for index in 2..<20 { _ = #expect(throws: SignInRefusal.self) { try Self.signIn(hub, "guess-\(index)", limiter: limiter, at: t0) } }
        let limited = #expect(throws: SignInRefusal.self) { try Self.signIn(hub, "office", limiter: limiter, at: t0 + 1) }
        #expect(limited?.code == .tooManyAttempts && limited?.retryAfterSeconds == 900)
        #expect(try Self.signIn(hub, "office", client: "10.0.0.2", limiter: limiter, at: t0 + 1).person.name == "office",
                "another client is not held back")
    }

    // MARK: - Local to this node

    /// People and sessions are this node's own: no change is written for them, the digest
    /// stays as it was, and a restored backup keeps them.
    @Test func peopleAreNotReplicatedAndSurviveABackup() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let before = (try hub.store.counts().changes, try hub.store.digest())
        try Self.add(hub, "office", .office)
        let signed = try Self.signIn(hub, "office", at: hub.store.wallClock())
        try People.disable(hub, name: "office")
        try Self.add(hub, "auditor", .auditor)
        #expect(try hub.store.counts().changes == before.0)
        #expect(try hub.store.digest() == before.1)
        var export = ""
        try hub.store.exportLines { export += $0.canonicalText + "\n" }
        #expect(!export.isEmpty && !export.contains("auditor") && !export.contains("scrypt"), "the export holds no person")

        try People.setPassword(hub, name: "auditor", password: Self.password, hashing: Self.cheap)
        let backup = root.path + "/hub.backup"
        _ = try hub.backup(to: backup)
        try hub.store.close()
        _ = try Node.restore(at: hub.dataDirectory, from: backup, environment: [:])
        let restored = try Node.open(at: hub.dataDirectory, environment: [:])
        #expect(try People.list(restored).map { "\($0.name):\($0.isDisabled)" } == ["office:true", "auditor:false"])
        #expect(try Self.signIn(restored, "auditor", at: restored.store.wallClock()).person.role == .auditor)
        #expect(try Sessions.authenticate(restored, sessionSecret: signed.sessionSecret) == nil)
    }

    /// `secret` with its last character changed (always to another one: a random secret may
    /// already end in any given character).
    static func nearMiss(_ secret: String) -> String {
        String(secret.dropLast()) + (secret.hasSuffix("A") ? "B" : "A")
    }
}
