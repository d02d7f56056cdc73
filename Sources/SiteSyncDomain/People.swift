import _CryptoExtras
import Crypto
import Foundation
import SiteSyncCore
import SiteSyncNode
import SiteSyncStore

/// What a person signed in to the web dashboard is there for. Each maps onto what a node (or
/// an API token) of some role may do, so that the same ``ReadScope`` and write policy apply:
/// a person never sees or writes more than the node serving them.
public enum PersonRole: String, Sendable, CaseIterable, Codable {
    /// Leadership: reads the whole city, writes nothing.
    case leader
    /// A department's head: reads and writes as that department's office node does.
    case departmentHead = "department_head"
    /// Leads some projects of one department: reads that department's headline figures and,
    /// of its projects, only their own (``Person/projects``: pages, lists, warnings, conflicts);
    /// writes as a field node of it on those projects only.
    case projectLead = "project_lead"
    /// An HR business partner: reads the scorecards, of the whole city or of one department.
    case hrbp
    /// Reads everything, including the audit views; writes nothing.
    case auditor
    /// Central office staff: the plan and the resolution of conflicts, city-wide, as an office node.
    case office

    /// Whether a person of this role is bound to one department: always, sometimes (`hrbp`), never.
    var department: Requirement {
        switch self {
        case .departmentHead, .projectLead: .required
        case .hrbp: .optional
        case .leader, .auditor, .office: .refused
        }
    }

    enum Requirement { case required, optional, refused }

    /// The node (or token) role whose reach this role's stays within, for the serving node's
    /// authority (``ApiTokens/authorityRefusal(role:department:node:)``): reading the whole city
    /// is an auditor's reach, one department a field node's.
    func reach(department: String?) -> Role {
        switch self {
        case .leader, .auditor: .auditor
        case .hrbp: department == nil ? .auditor : .field
        case .office: .office
        case .departmentHead: .department
        case .projectLead: .field
        }
    }
}

/// A person with an account at this node, and — in one place — what they may see and do.
public struct Person: Sendable, Equatable {
    public let name: String
    public let role: PersonRole
    /// The department they are bound to (`nil`: the whole city).
    public let department: String?
    /// The project codes a project lead leads; `nil` for every other role (no project filter).
    public let projects: Set<String>?
    public let createdMilliseconds: UInt64
    public let disabledMilliseconds: UInt64?
    public let passwordChangedMilliseconds: UInt64
    /// When they last signed in (`nil`: never).
    public let lastSignInMilliseconds: UInt64?
    /// The department of the node serving them: an office person writes as that node's office would.
    public let servingDepartment: String

    public init(name: String, role: PersonRole, department: String?, projects: Set<String>?, createdMilliseconds: UInt64,
                disabledMilliseconds: UInt64? = nil, passwordChangedMilliseconds: UInt64, lastSignInMilliseconds: UInt64? = nil,
                servingDepartment: String) {
        self.name = name
        self.role = role
        self.department = department
        self.projects = projects
        self.createdMilliseconds = createdMilliseconds
        self.disabledMilliseconds = disabledMilliseconds
        self.passwordChangedMilliseconds = passwordChangedMilliseconds
        self.lastSignInMilliseconds = lastSignInMilliseconds
        self.servingDepartment = servingDepartment
    }

    init(_ stored: StoredPerson, role: PersonRole, servingDepartment: String) {
        self.init(name: stored.name, role: role, department: stored.department,
                  projects: role == .projectLead ? Set(stored.projects) : nil, createdMilliseconds: stored.createdMilliseconds,
                  disabledMilliseconds: stored.disabledMilliseconds, passwordChangedMilliseconds: stored.passwordChangedMilliseconds,
                  lastSignInMilliseconds: stored.signedInMilliseconds, servingDepartment: servingDepartment)
    }

    public var isDisabled: Bool { disabledMilliseconds != nil }

    /// What they read: the whole city, or their department; a project lead's further keeps to
    /// ``projects`` (project pages, lists, warnings, conflicts; the headline stays the department's).
    public var scope: ReadScope { ReadScope(department: department, projects: projects) }

    /// Who they write as; `nil` when they only read (leader, hrbp, auditor). A project lead
    /// writes as a field node of their department, and only on their projects: check
    /// ``mayWrite(onProject:of:)`` first. Pass ``actingWriter`` to the domain's writes, never
    /// this: their `as: nil` means "as this node itself".
    public var writer: WriterIdentity? {
        switch role {
        case .office: WriterIdentity(role: .office, department: servingDepartment)
        case .departmentHead: department.map { WriterIdentity(role: .department, department: $0) }
        case .projectLead: department.map { WriterIdentity(role: .field, department: $0) }
        case .leader, .hrbp, .auditor: nil
        }
    }

    /// The identity to pass as `as:` to every domain write made for them (``Node/planner(as:)``,
    /// `writeEntry`, `recordCost`, …): ``writer``, or for a person who only reads an auditor's,
    /// which the write policy refuses everything — so that a write made for them by mistake
    /// writes nothing, where `as: nil` would write as the node.
    public var actingWriter: WriterIdentity { writer ?? WriterIdentity(role: .auditor, department: servingDepartment) }

    /// Whether they may write on (or resolve a conflict of) the project of code `code` in
    /// `projectDepartment`: a writer whose department scope holds it, and for a project lead
    /// one of their projects. The write policy still decides field by field.
    public func mayWrite(onProject code: String, of projectDepartment: String) -> Bool {
        guard writer != nil, scope.includes(department: projectDepartment) else { return false }
        return projects.map { $0.contains(code) } ?? true
    }

    /// Whether the audit views (chains, seals, the API's write log) are theirs to see.
    public var mayViewAudit: Bool { role == .auditor }
}

/// Adding, listing and disabling the people who sign in to this node's dashboard, and setting
/// their passwords. Only scrypt hashes of passwords are kept; everything is this node's own and
/// never synced.
public enum People {
    public static let minimumPasswordLength = 10
    /// Longer passwords are refused, so that no request makes the hash work on megabytes.
    public static let maximumPasswordLength = 1024

    /// Adds a person.
    /// - Parameters:
    ///   - projects: the project codes of a project lead (at least one); none for other roles.
    ///   - hashing: the scrypt cost; the default is the strong one (tests pass a cheaper one).
    /// - Throws: ``NodeError`` (`usage`) when the name, role, department, projects or password is
    ///   not allowed, or the role goes beyond this node's authority; ``StoreError`` when the name
    ///   is taken. Nothing is stored then.
    @discardableResult
    public static func add(_ node: Node, name: String, role: PersonRole, department: String?, projects: [String] = [],
                           password: String, hashing: PasswordHashing = .standard) throws -> Person {
        let (department, projects) = try checkedAccount(node, name: name, role: role, department: department, projects: projects)
        try checkPassword(password, name: name)
        let now = node.store.wallClock()
        let stored = StoredPerson(name: name, role: role.rawValue, department: department, projects: projects,
                                  passwordHash: try hashing.hash(password), createdMilliseconds: now, passwordChangedMilliseconds: now)
        try node.store.addPerson(stored)
        return Person(stored, role: role, servingDepartment: node.writer.department)
    }

    /// Checks an account before it is added (so that a command asks for no password in vain):
    /// the name is typeable and free, the department and projects fit the role, and the role
    /// stays within this node's authority.
    /// - Returns: the department and the project codes as they will be kept.
    /// - Throws: ``NodeError`` (`usage`) saying what to change.
    public static func checkedAccount(_ node: Node, name: String, role: PersonRole, department: String?, projects: [String])
        throws -> (department: String?, projects: [String]) {
        try validateName(name)
        let department = try checkedDepartment(role: role, department: department)
        if let refusal = authorityRefusal(role: role, department: department, node: node.writer) { throw NodeError(.usage, refusal) }
        let projects = try checkedProjects(node, role: role, department: department, projects: projects)
        if try node.store.person(named: name) != nil {
            throw NodeError(.usage, "a person named '\(name)' already exists (names are never reused, not even after a disable): "
                            + "choose another name, or set their password with `sitesync user password \(name)`")
        }
        return (department, projects)
    }

    /// Sets a person's password; every session of theirs ends.
    /// - Throws: ``NodeError`` (`usage`) when there is no such person or the password is not allowed.
    @discardableResult
    public static func setPassword(_ node: Node, name: String, password: String, hashing: PasswordHashing = .standard) throws -> Person {
        guard try node.store.person(named: name) != nil else { throw unknown(name) }
        try checkPassword(password, name: name)
        guard let stored = try node.store.setPersonPassword(named: name, passwordHash: try hashing.hash(password),
                                                            at: node.store.wallClock()) else { throw unknown(name) }
        return try person(stored, node)
    }

    /// Disables a person: they can no longer sign in, and every session of theirs ends.
    /// - Throws: ``NodeError`` (`usage`) when there is no such person.
    @discardableResult
    public static func disable(_ node: Node, name: String) throws -> Person {
        guard let stored = try node.store.disablePerson(named: name, at: node.store.wallClock()) else { throw unknown(name) }
        return try person(stored, node)
    }

    /// Enables a disabled person: they sign in again with the password they had.
    /// - Throws: ``NodeError`` (`usage`) when there is no such person.
    @discardableResult
    public static func enable(_ node: Node, name: String) throws -> Person {
        guard let stored = try node.store.enablePerson(named: name) else { throw unknown(name) }
        return try person(stored, node)
    }

    /// Gives a person another role (and department and projects, checked as ``add`` checks
    /// them); every session of theirs ends, so that no open page keeps the old reach.
    /// - Throws: ``NodeError`` (`usage`) when there is no such person, or the new account is
    ///   not allowed; nothing changes then.
    @discardableResult
    public static func changeRole(_ node: Node, name: String, role: PersonRole, department: String?, projects: [String] = []) throws -> Person {
        guard try node.store.person(named: name) != nil else { throw unknown(name) }
        let department = try checkedDepartment(role: role, department: department)
        if let refusal = authorityRefusal(role: role, department: department, node: node.writer) { throw NodeError(.usage, refusal) }
        let projects = try checkedProjects(node, role: role, department: department, projects: projects)
        guard let stored = try node.store.setPersonRole(named: name, role: role.rawValue, department: department,
                                                        projects: projects) else { throw unknown(name) }
        return try person(stored, node)
    }

    /// The live sessions of one person (everyone's when `name` is `nil`), oldest first.
    /// - Throws: ``NodeError`` (`usage`) when `name` names no person.
    public static func sessions(_ node: Node, name: String? = nil) throws -> [StoredPersonSession] {
        if let name, try node.store.person(named: name) == nil { throw unknown(name) }
        let now = node.store.wallClock()
        return try node.store.personSessions(person: name).filter {
            now < $0.expiresMilliseconds && now < $0.lastSeenMilliseconds + Sessions.idleTimeoutMilliseconds
        }
    }

    /// Ends every session of a person (they sign in again with their password).
    /// - Returns: how many sessions ended.
    /// - Throws: ``NodeError`` (`usage`) when there is no such person.
    public static func signOut(_ node: Node, name: String) throws -> Int {
        guard try node.store.person(named: name) != nil else { throw unknown(name) }
        return try node.store.removePersonSessions(person: name)
    }

    /// Every person, disabled ones included, oldest first.
    public static func list(_ node: Node) throws -> [Person] {
        try node.store.persons().map { try person($0, node) }
    }

    /// The person of that name, or `nil`.
    public static func person(_ node: Node, named name: String) throws -> Person? {
        try node.store.person(named: name).map { try person($0, node) }
    }

    /// Why a person of `role` and `department` would exceed a node writing as `node`, or `nil`
    /// when they do not: the decision is ``ApiTokens/authorityRefusal(role:department:node:)``'s,
    /// on the node role each person role reaches as far as (``PersonRole/reach(department:)``).
    public static func authorityRefusal(role: PersonRole, department: String?, node: WriterIdentity) -> String? {
        guard ApiTokens.authorityRefusal(role: role.reach(department: department), department: department, node: node) != nil else {
            return nil
        }
        let authority = ApiTokens.authority(of: node)
        // The roles this node may hold, each with the department it would have here.
        let allowed = PersonRole.allCases.filter { candidate in
            let department = candidate.department == .refused ? nil
                : authority.department ?? (candidate.department == .required ? "any" : nil)
            return ApiTokens.authorityRefusal(role: candidate.reach(department: department), department: department, node: node) == nil
        }
        let article = node.role == .auditor || node.role == .office ? "an" : "a"
        return "this is \(article) \(node.role.rawValue) node\(authority.department.map { " of \($0)" } ?? ""): it may hold "
            + allowed.map(\.rawValue).joined(separator: ", ") + " accounts\(authority.department.map { " of \($0)" } ?? "") only, "
            + "not a\(role == .office || role == .auditor ? "n" : "") \(role.rawValue) account\(department.map { " of \($0)" } ?? ""); "
            + "add that person at the hub or an office node"
    }

    // MARK: - Parts

    static func person(_ stored: StoredPerson, _ node: Node) throws -> Person {
        guard let role = PersonRole(rawValue: stored.role) else {
            throw StoreError(.corrupt, "person \(stored.name) has the unknown role '\(stored.role)'; disable them and add them again")
        }
        return Person(stored, role: role, servingDepartment: node.writer.department)
    }

    static func unknown(_ name: String) -> NodeError {
        NodeError(.usage, "there is no person named '\(name)': `sitesync user list` shows them")
    }

    /// A name as a person types it on the sign-in form and in `sitesync user disable NAME`:
    /// letters, digits, `-`, `_`, `.` and `@`, 1 to 64 characters.
    static func validateName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@")
        guard (1...64).contains(name.count), name.allSatisfy(allowed.contains) else {
            throw NodeError(.usage, "'\(name)' is not a person's name here: use 1 to 64 letters, digits, '-', '_', '.' or '@' (e.g. li.wei)")
        }
    }

    /// The department a person of `role` is bound to: required for department heads and project
    /// leads, optional for an HR business partner, refused for the city-wide roles.
    static func checkedDepartment(role: PersonRole, department: String?) throws -> String? {
        do {
            return try checkedDepartmentValue(role: role, department: department)
        } catch let error as CoreError {
            throw NodeError(.usage, error.message)
        }
    }

    private static func checkedDepartmentValue(role: PersonRole, department: String?) throws -> String? {
        let department = department.flatMap { $0.isEmpty ? nil : $0 }
        switch role.department {
        case .required:
            guard let department else {
                throw NodeError(.usage, "a \(role.rawValue) belongs to one department: give --department (e.g. --department roads)")
            }
            try DepartmentCode.validate(department)
            return department
        case .optional:
            if let department { try DepartmentCode.validate(department) }
            return department
        case .refused:
            guard let department else { return nil }
            throw NodeError(.usage, "a\(role == .office || role == .auditor ? "n" : "") \(role.rawValue) sees the whole city: "
                            + "leave out --department, or add a department_head of \(department)")
        }
    }

    /// A project lead's project codes (at least one; none for other roles), sorted and without
    /// repeats. A code of a project held here in another department is refused; one not held
    /// (yet) is taken as given, so that people can be added before the plan is imported.
    static func checkedProjects(_ node: Node, role: PersonRole, department: String?, projects: [String]) throws -> [String] {
        let codes = Array(Set(projects.map { $0.trimmingCharacters(in: .whitespaces) })).sorted()
        guard role == .projectLead else {
            guard codes.isEmpty else {
                throw NodeError(.usage, "only a project_lead has projects: leave out --project for a \(role.rawValue)")
            }
            return []
        }
        guard !codes.isEmpty else {
            throw NodeError(.usage, "a project_lead leads at least one project: give --project CODE (repeat it for more, e.g. --project R-101)")
        }
        for code in codes {
            guard (1...64).contains(code.count), !code.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                throw NodeError(.usage, "'\(code)' is not a project code: 1 to 64 characters without spaces (e.g. R-101)")
            }
            let held = try node.store.rows([("SELECT department FROM project WHERE code = ?", [code])])[0]
            if let other = held.compactMap({ $0[0] }).first(where: { $0 != department }) {
                throw NodeError(.usage, "project \(code) belongs to \(other), not \(department ?? "-"): "
                                + "a project_lead of \(department ?? "-") leads only that department's projects")
            }
        }
        return codes
    }

    /// At least ``minimumPasswordLength`` characters, at most ``maximumPasswordLength``, and
    /// not the person's name.
    static func checkPassword(_ password: String, name: String) throws {
        guard password.count >= minimumPasswordLength else {
            throw NodeError(.usage, "the password is too short: use at least \(minimumPasswordLength) characters (a few words make a good one)")
        }
        guard password.count <= maximumPasswordLength else {
            throw NodeError(.usage, "the password is too long: use at most \(maximumPasswordLength) characters")
        }
        guard password.lowercased() != name.lowercased() else {
            throw NodeError(.usage, "the password is the person's name: choose another")
        }
    }
}

/// The scrypt cost of password hashes, and the PHC strings they are kept as:
/// `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (unpadded base64). Each hash names its own cost, so
/// hashes made at another cost still verify.
public struct PasswordHashing: Sendable, Equatable {
    /// N = 2^logN, the memory and time factor.
    public let logN: Int
    /// r, the block size.
    public let blockSize: Int
    /// p, the parallelism.
    public let parallelism: Int

    /// N = 2^15, r = 8, p = 1: 32 MiB and a few tenths of a second per hash, the cost OWASP names for scrypt.
    public static let standard = PasswordHashing(logN: 15, blockSize: 8, parallelism: 1)

    public static let saltByteCount = 16
    public static let hashByteCount = 32

    public init(logN: Int, blockSize: Int, parallelism: Int) {
        precondition((1...20).contains(logN) && (1...32).contains(blockSize) && (1...16).contains(parallelism), "scrypt cost out of range")
        self.logN = logN
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    /// The PHC string of `password` under a fresh random salt.
    public func hash(_ password: String) throws -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<Self.saltByteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let derived = try derive(password, salt: salt)
        return "$scrypt$ln=\(logN),r=\(blockSize),p=\(parallelism)$\(Self.base64(salt))$\(Self.base64(derived))"
    }

    /// Whether `password` is the one `phc` was made from; the hashes are compared in constant
    /// time. A malformed string (or one naming a cost out of range) verifies nothing.
    public static func verify(_ password: String, against phc: String) -> Bool {
        guard let parsed = parse(phc), let derived = try? parsed.hashing.derive(password, salt: parsed.salt) else { return false }
        return constantTimeEqual(derived, parsed.hash)
    }

    func derive(_ password: String, salt: [UInt8]) throws -> [UInt8] {
        // The same password typed on another keyboard may come in another Unicode form.
        let bytes = Array(password.precomposedStringWithCanonicalMapping.utf8)
        // BoringSSL reads the password through its base address, which an empty buffer lacks.
        guard !bytes.isEmpty else { return [] }
        let key = try KDF.Scrypt.deriveKey(from: bytes, salt: salt, outputByteCount: Self.hashByteCount, rounds: 1 << logN,
                                           blockSize: blockSize, parallelism: parallelism)
        return key.withUnsafeBytes { Array($0) }
    }

    static func parse(_ phc: String) -> (hashing: PasswordHashing, salt: [UInt8], hash: [UInt8])? {
        let parts = phc.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt" else { return nil }
        var cost: [String: Int] = [:]
        for item in parts[2].split(separator: ",") {
            let pair = item.split(separator: "=")
            guard pair.count == 2, let value = Int(pair[1]) else { return nil }
            cost[String(pair[0])] = value
        }
        guard let logN = cost["ln"], let r = cost["r"], let p = cost["p"],
              (1...20).contains(logN), (1...32).contains(r), (1...16).contains(p),
              let salt = unbase64(parts[3]), let hash = unbase64(parts[4]), !salt.isEmpty, hash.count == hashByteCount else { return nil }
        return (PasswordHashing(logN: logN, blockSize: r, parallelism: p), salt, hash)
    }

    static func base64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    static func unbase64(_ text: Substring) -> [UInt8]? {
        let padded = String(text) + String(repeating: "=", count: (4 - text.count % 4) % 4)
        return Data(base64Encoded: padded).map(Array.init)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool { ApiTokens.constantTimeEqual(a, b) }
}
