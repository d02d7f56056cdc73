// TEMPORARY — a stand-in for the person accounts and sessions being written in SiteSyncDomain
// (Person, PersonRole, Sessions). Delete this file when they are merged: the dashboard uses only
// the names below, with the same shapes, and compiles against the real ones unchanged.
import Crypto
import Foundation
import Synchronization
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// TEMPORARY (see the top of this file): what a person does in the organisation.
enum PersonRole: String, Sendable {
    case leader, departmentHead = "department_head", projectLead = "project_lead", hrbp, auditor, office
}

/// TEMPORARY: a person who reads the figures, with what they may see and, when they may write,
/// the identity their writes are authorized as.
struct Person: Sendable {
    let name: String
    let role: PersonRole
    let department: String?
    let projects: Set<String>
    var scope: ReadScope
    var writer: WriterIdentity?
}

/// TEMPORARY: sessions held in memory, for the fixed test people below only (password
/// `sitesync-test`): `leader` sees the city and writes as the office; `roads-head` sees the
/// roads department and writes nothing.
enum Sessions {
    private struct Held: Sendable {
        let person: Person
        let csrfToken: String
    }

    private static let held = Mutex<[String: Held]>([:])

    static let testPassword = "sitesync-test"

    static let testPeople: [String: Person] = [
        "leader": Person(name: "leader", role: .leader, department: nil, projects: [], scope: .city,
                         writer: WriterIdentity(role: .office, department: "office")),
        "roads-head": Person(name: "roads-head", role: .departmentHead, department: "roads", projects: [],
                             scope: .department("roads"), writer: nil),
    ]

    static func signIn(_ node: Node, name: String, password: String, client: String) throws -> (sessionSecret: String, csrfToken: String, person: Person) {
        guard password == testPassword, let person = testPeople[name] else {
            throw NodeError(.usage, "the name or password is not right")
        }
        let secret = randomToken(), csrf = randomToken()
        held.withLock { $0[secret] = Held(person: person, csrfToken: csrf) }
        return (secret, csrf, person)
    }

    static func authenticate(_ node: Node, sessionSecret: String) throws -> (person: Person, csrfToken: String)? {
        held.withLock { $0[sessionSecret] }.map { ($0.person, $0.csrfToken) }
    }

    static func signOut(_ node: Node, sessionSecret: String) throws {
        _ = held.withLock { $0.removeValue(forKey: sessionSecret) }
    }

    private static func randomToken() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
