import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// `sitesync user`: the people who sign in to this node's web dashboard.
struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage the people who sign in to this node's web dashboard: add, set a password or role, list, disable, enable, sign out.",
        discussion: """
            A person reads and writes as a node of their role would, never beyond the node that \
            serves them (a department node holds only department_head, project_lead and hrbp \
            accounts of its own department):
              leader           the whole city, reads only
              department_head  their --department, as its office node does
              project_lead     their --department; writes on their --project only
              hrbp             the scorecards: the whole city, or one --department
              auditor          everything and the audit views, reads only
              office           the plan and conflict resolution, city-wide

            The password is read from standard input when it is not a terminal (its first line), \
            else asked for twice without echo. It needs at least 10 characters and must not be \
            the name. Only its scrypt hash is kept. People belong to this node alone: they are \
            never synced (a backup keeps them).

            Examples:
              sitesync user add --data-dir ./hub --name li.wei --role leader
              sitesync user add --data-dir ./hub --name chen --role project_lead \\
                  --department roads --project R-101 --project R-102
              printf '%s\\n' "$PASSWORD" | sitesync user add --data-dir ./hub \\
                  --name zhao --role office
              sitesync user password --data-dir ./hub chen
              sitesync user list --data-dir ./hub
              sitesync user disable --data-dir ./hub chen
              sitesync user enable --data-dir ./hub chen
              sitesync user role --data-dir ./hub chen --role department_head \\
                  --department roads
              sitesync user sessions --data-dir ./hub chen
              sitesync user sign-out --data-dir ./hub chen
            """,
        subcommands: [Add.self, Password.self, SetRole.self, List.self, SessionList.self, Disable.self, Enable.self, SignOut.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a person who signs in to the dashboard.",
            discussion: """
                Examples:
                  sitesync user add --data-dir ./hub --name wang --role department_head \\
                      --department roads
                  sitesync user add --data-dir ./hub --name chen --role project_lead \\
                      --department roads --project R-101
                  echo 'correct horse battery' | sitesync user add --data-dir ./hub \\
                      --name audit-1 --role auditor
                """)
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("Their sign-in name, unique on this node (letters, digits, '-', '_', '.', '@').", valueName: "name"))
        var name: String
        @OptionGroup var reach: PersonReach

        func run() throws {
            let node = try node.open()
            let (role, department, projects) = (reach.personRole, reach.department, reach.projects)
            // The account's shape is checked before the password is asked for.
            _ = try People.checkedAccount(node, name: name, role: role, department: department, projects: projects)
            let password = try PasswordInput.read(for: name)
            let person = try People.add(node, name: name, role: role, department: department, projects: projects, password: password)
            print("added \(person.name) (\(describe(person))); they sign in to the dashboard with that name and password")
        }
    }

    struct Password: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a person's password; every session of theirs ends.",
            discussion: """
                Examples:
                  sitesync user password --data-dir ./hub chen
                  printf '%s\\n' "$NEW_PASSWORD" | sitesync user password \\
                      --data-dir ./hub chen
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("Their name, as `sitesync user list` shows it.", valueName: "name")) var name: String

        func run() throws {
            let node = try node.open()
            guard try People.person(node, named: name) != nil else {
                throw NodeError(.usage, "there is no person named '\(name)': `sitesync user list` shows them")
            }
            let person = try People.setPassword(node, name: name, password: try PasswordInput.read(for: name))
            print("set the password of \(person.name); their sessions have ended")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the people, disabled ones too (never their passwords).",
            discussion: "Example: sitesync user list --data-dir ./hub --json")
        @OptionGroup var node: NodeOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let people = try People.list(try node.open())
            if json {
                Output.json(.array(people.map { person in
                    .object([
                        "name": .string(person.name), "role": .string(person.role.rawValue),
                        "department": person.department.map(JSONValue.string) ?? .null,
                        "projects": .array((person.projects ?? []).sorted().map(JSONValue.string)),
                        "created": .string(Output.timestamp(milliseconds: person.createdMilliseconds)),
                        "disabled": person.disabledMilliseconds.map { .string(Output.timestamp(milliseconds: $0)) } ?? .null,
                        "password_changed": .string(Output.timestamp(milliseconds: person.passwordChangedMilliseconds)),
                        "last_sign_in": person.lastSignInMilliseconds.map { .string(Output.timestamp(milliseconds: $0)) } ?? .null,
                    ])
                }))
                return
            }
            guard !people.isEmpty else {
                print("no people yet: add one with `sitesync user add --name NAME --role ROLE`")
                return
            }
            print(Output.table([["NAME", "ROLE", "DEPARTMENT", "PROJECTS", "DISABLED", "LAST SIGN-IN"]] + people.map { person in
                [person.name, person.role.rawValue, person.department ?? "(all)",
                 person.projects.map { $0.sorted().joined(separator: ",") } ?? "-",
                 person.disabledMilliseconds.map { Output.timestamp(milliseconds: $0) } ?? "-",
                 person.lastSignInMilliseconds.map { Output.timestamp(milliseconds: $0) } ?? "never"]
            }))
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a person: they can no longer sign in, and their sessions end (a running server's included).",
            discussion: "Example: sitesync user disable --data-dir ./hub chen")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("Their name, as `sitesync user list` shows it.", valueName: "name")) var name: String

        func run() throws {
            let person = try People.disable(try node.open(), name: name)
            print("disabled \(person.name) (\(describe(person))); their sessions have ended")
        }
    }
}

extension UserCommand {
    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enable a disabled person: they sign in again with the password they had.",
            discussion: "Example: sitesync user enable --data-dir ./hub chen")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("Their name, as `sitesync user list` shows it.", valueName: "name")) var name: String

        func run() throws {
            let person = try People.enable(try node.open(), name: name)
            print("enabled \(person.name) (\(describe(person))); they sign in with the password they had "
                  + "(set another with `sitesync user password \(person.name)`)")
        }
    }

    struct SetRole: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "role",
            abstract: "Give a person another role (and department and projects); their sessions end.",
            discussion: """
                The new role, department and projects are checked as `user add` checks them. \
                Every session of theirs ends, a running server's included: they sign in again \
                and see what the new role lets them see.

                Examples:
                  sitesync user role --data-dir ./hub chen --role department_head \\
                      --department roads
                  sitesync user role --data-dir ./hub chen --role project_lead \\
                      --department roads --project R-101 --project R-103
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("Their name, as `sitesync user list` shows it.", valueName: "name")) var name: String
        @OptionGroup var reach: PersonReach

        func run() throws {
            let person = try People.changeRole(try node.open(), name: name, role: reach.personRole, department: reach.department,
                                               projects: reach.projects)
            print("\(person.name) is now \(describe(person)); their sessions have ended")
        }
    }

    struct SessionList: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sessions",
            abstract: "List the live dashboard sessions: everyone's, or one person's.",
            discussion: """
                Each session with its person, the address it signed in from, when it began, \
                when it was last used and when it ends at the latest. Never the session's secret.

                Examples:
                  sitesync user sessions --data-dir ./hub
                  sitesync user sessions --data-dir ./hub chen --json
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("Only this person's sessions.", valueName: "name")) var name: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let sessions = try People.sessions(try node.open(), name: name)
            func time(_ milliseconds: UInt64) -> String { Output.timestamp(milliseconds: milliseconds) }
            if json {
                Output.json(.array(sessions.map { session in
                    .object(["person": .string(session.person), "client": .string(session.client), "created": .string(time(session.createdMilliseconds)),
                             "last_seen": .string(time(session.lastSeenMilliseconds)), "expires": .string(time(session.expiresMilliseconds))])
                }))
                return
            }
            guard !sessions.isEmpty else {
                print(name.map { "\($0) has no live session" } ?? "no live sessions")
                return
            }
            print(Output.table([["PERSON", "FROM", "SIGNED IN", "LAST SEEN", "ENDS BY"]] + sessions.map { session in
                [session.person, session.client, time(session.createdMilliseconds), time(session.lastSeenMilliseconds),
                 time(session.expiresMilliseconds)]
            }))
        }
    }

    struct SignOut: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-out",
            abstract: "End every session of a person, a running server's included; they may sign in again.",
            discussion: """
                To keep them out, use `sitesync user disable` (which also ends their sessions).

                Example: sitesync user sign-out --data-dir ./hub chen
                """)
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("Their name, as `sitesync user list` shows it.", valueName: "name")) var name: String

        func run() throws {
            let ended = try People.signOut(try node.open(), name: name)
            print("signed out \(name): \(ended) session\(ended == 1 ? "" : "s") ended")
        }
    }
}

/// Reads a new password: the first line of standard input when it is not a terminal (for
/// scripts), else typed twice at a prompt with echo off.
enum PasswordInput {
    static func read(for name: String) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw NodeError(.usage, "no password on standard input: give it as its first line "
                                + "(e.g. printf '%s\\n' \"$PASSWORD\" | sitesync user ...), or run the command on a terminal to type it")
            }
            return line
        }
        let first = try prompt("new password for \(name) (at least \(People.minimumPasswordLength) characters): ")
        let second = try prompt("the same password again: ")
        guard first == second else { throw NodeError(.usage, "the two passwords differ: nothing was changed; run the command again") }
        return first
    }

    /// One line typed at the terminal without echo; the terminal is restored afterwards.
    static func prompt(_ text: String) throws -> String {
        FileHandle.standardError.write(Data(text.utf8))
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else {
            throw NodeError(.usage, "cannot turn off echo on this terminal: pipe the password on standard input instead")
        }
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
            Output.note("")
        }
        guard let line = readLine(strippingNewline: true) else { throw NodeError(.usage, "no password typed: nothing was changed") }
        return line
    }
}

/// `office`, `department_head of roads` or `project_lead of roads: R-101, R-102`.
private func describe(_ person: Person) -> String {
    person.role.rawValue + (person.department.map { " of \($0)" } ?? "")
        + (person.projects.map { ": " + $0.sorted().joined(separator: ", ") } ?? "") + (person.isDisabled ? ", disabled" : "")
}

/// What a person's role reaches: the role, and the department and projects it is bound to
/// (`user add` and `user role`).
struct PersonReach: ParsableArguments {
    @Option(help: ArgumentHelp("leader, department_head, project_lead, hrbp, auditor or office.", valueName: "role"))
    var role: String
    @Option(help: ArgumentHelp("Their department: required for department_head and project_lead, optional for hrbp.",
                               valueName: "dept"))
    var department: String?
    @Option(name: .customLong("project"),
            help: ArgumentHelp("A project a project_lead leads, by its code; repeat for several.", valueName: "code"))
    var projects: [String] = []

    func validate() throws {
        guard PersonRole(rawValue: role) != nil else {
            throw ValidationError("--role '\(role)' is not a person's role; use " + PersonRole.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    var personRole: PersonRole { PersonRole(rawValue: role)! }
}
