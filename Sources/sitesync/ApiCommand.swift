import ArgumentParser
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

struct ApiCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Manage this node's HTTP API access: its tokens, and the log of what they wrote.",
        subcommands: [TokenCommand.self, ApiLogCommand.self])
}

/// `sitesync api log`: every write request made through the HTTP API, with the token that made
/// it and the changes it wrote (recorded in the same transaction as the changes).
struct ApiLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "List the write requests made through the HTTP API: when, which token, its Idempotency-Key, the changes written.",
        discussion: """
            Newest last. Each change is named replica:counter, as `sitesync history` and the \
            audit name them. Example: sitesync api log --data-dir ./hub --token finance
            """)
    @OptionGroup var node: NodeOptions
    @Option(help: ArgumentHelp("Only this token's requests.", valueName: "name")) var token: String?
    @Option(help: ArgumentHelp("The last N requests (default 50).", valueName: "n")) var limit = 50
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let requests = try node.open().store.apiRequests(token: token).suffix(limit)
        if json {
            Output.json(.array(requests.map { request in
                .object([
                    "at": .string(Output.timestamp(milliseconds: request.atMilliseconds)), "token": .string(request.token),
                    "idempotency_key": request.idempotencyKey.map(JSONValue.string) ?? .null, "status": .int(Int64(request.status)),
                    "changes": .array(request.changes.map { .string($0.description) }),
                ])
            }))
            return
        }
        guard !requests.isEmpty else {
            print(token.map { "no write requests by token '\($0)'" } ?? "no write requests through the HTTP API yet")
            return
        }
        print(Output.table([["AT", "TOKEN", "IDEMPOTENCY-KEY", "STATUS", "CHANGES"]] + requests.map { request in
            [Output.timestamp(milliseconds: request.atMilliseconds), request.token, request.idempotencyKey ?? "-", String(request.status),
             request.changes.isEmpty ? "(none)" : request.changes.map(\.description).joined(separator: " ")]
        }))
    }
}

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Make, list and revoke the bearer tokens programs use to read and write through the HTTP API.",
        discussion: """
            A token acts as a node of its role and department would: a field or department token \
            reads and writes only its department's records, an office token the whole city's, an \
            auditor or --read-only token writes nothing. It never goes beyond the node that serves it \
            (a department node makes only field and department tokens of its own department). Every \
            write made with a token is recorded against it. The secret is printed once; the node \
            keeps only its SHA-256. Tokens belong to this node alone: they are never synced.

            Examples:
              sitesync api token create --data-dir ./hub --name finance --role office
              sitesync api token create --data-dir ./hub --name kpi-roads --role field --department roads
              sitesync api token create --data-dir ./hub --name dashboard --role auditor --read-only
              sitesync api token list --data-dir ./hub
              sitesync api token revoke --data-dir ./hub finance
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token and print its secret (shown this once only).",
            discussion: """
                Example: sitesync api token create --data-dir ./hub --name kpi-roads --role field --department roads
                Programs send the secret as `Authorization: Bearer sst_…`.
                """)
        @OptionGroup var node: NodeOptions
        @Option(help: ArgumentHelp("The token's name, unique on this node (letters, digits, '-', '_', '.').", valueName: "name"))
        var name: String
        @Option(help: ArgumentHelp("field, department, office or auditor.", valueName: "role")) var role: String
        @Option(help: ArgumentHelp("The department of a field or department token.", valueName: "dept")) var department: String?
        @Flag(name: .customLong("read-only"), help: "The token reads only: it writes nothing.") var readOnly = false

        func validate() throws {
            guard let parsed = Role(rawValue: role), parsed != .hub else {
                throw ValidationError("--role '\(role)' is not a token's role; use field, department, office or auditor")
            }
            if parsed.isDepartmentBound, department == nil {
                throw ValidationError("a \(role) token is bound to one department: add --department (e.g. --department roads)")
            }
        }

        func run() throws {
            let made = try ApiTokens.create(try node.open(), name: name, role: Role(rawValue: role)!, department: department,
                                            readOnly: readOnly)
            print(made.secret)
            Output.note("made the API token '\(made.token.name)' (\(describe(made.token))); "
                        + "the secret above is not shown again: keep it where the program that uses it can read it")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the tokens, revoked ones too (never their secrets).",
            discussion: "Example: sitesync api token list --data-dir ./hub --json")
        @OptionGroup var node: NodeOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let tokens = try ApiTokens.list(try node.open())
            if json {
                Output.json(.array(tokens.map { token in
                    .object([
                        "name": .string(token.name), "role": .string(token.role.rawValue),
                        "department": token.department.map(JSONValue.string) ?? .null, "read_only": .bool(token.readOnly),
                        "created": .string(Output.timestamp(milliseconds: token.createdMilliseconds)),
                        "revoked": token.revokedMilliseconds.map { .string(Output.timestamp(milliseconds: $0)) } ?? .null,
                    ])
                }))
                return
            }
            guard !tokens.isEmpty else {
                print("no API tokens: make one with `sitesync api token create --name NAME --role ROLE`")
                return
            }
            print(Output.table([["NAME", "ROLE", "DEPARTMENT", "READ-ONLY", "CREATED", "REVOKED"]] + tokens.map { token in
                [token.name, token.role.rawValue, token.department ?? "(all)", token.readOnly ? "yes" : "no",
                 Output.timestamp(milliseconds: token.createdMilliseconds),
                 token.revokedMilliseconds.map { Output.timestamp(milliseconds: $0) } ?? "-"]
            }))
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token: its secret is refused from now on (a running server included).",
            discussion: "Example: sitesync api token revoke --data-dir ./hub finance")
        @OptionGroup var node: NodeOptions
        @Argument(help: ArgumentHelp("The token's name, as `sitesync api token list` shows it.", valueName: "name")) var name: String

        func run() throws {
            let token = try ApiTokens.revoke(try node.open(), name: name)
            print("revoked the API token '\(token.name)' (\(describe(token)))")
        }
    }
}

/// `office, read-only` or `field of roads`.
private func describe(_ token: ApiToken) -> String {
    token.role.rawValue + (token.department.map { " of \($0)" } ?? "") + (token.readOnly ? ", read-only" : "")
}
