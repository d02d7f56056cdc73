import ArgumentParser
import SiteSyncCore
import SiteSyncNode

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Show this node's public key; pin the hub's key; manage the hub's allow-list.",
        discussion: """
            Every node has a key pair made by `sitesync init`: the secret half stays in node.key \
            (mode 0600), the public half is what `keys show` prints — 80 characters holding the \
            node's CURVE key (its connections) and its Ed25519 key (its signatures).

            Setting up a node:
              sitesync keys show --data-dir ./hub                    # at the hub: its key
              sitesync keys trust-hub --data-dir ./site-a HUBKEY     # at the node
              sitesync keys show --data-dir ./site-a                 # at the node: its key
              sitesync keys allow --data-dir ./hub --node site-a --department roads --role field --key NODEKEY
            """,
        subcommands: [Show.self, TrustHub.self, Allow.self, Revoke.self, List.self]
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print this node's public key.")
        @OptionGroup var node: NodeOptions

        func run() throws {
            print(try node.open().publicKey())
        }
    }

    struct TrustHub: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "trust-hub",
            abstract: "Pin the hub's public key: this node talks to no other hub.",
            discussion: "Writes `hub_key` under [sync] in node.toml; the rest of the file is kept as it is.")
        @OptionGroup var node: NodeOptions
        // A Z85 key may begin with '-', which would otherwise read as an option.
        @Argument(parsing: .allUnrecognized, help: ArgumentHelp("The hub's key, as `sitesync keys show` prints it at the hub.", valueName: "key"))
        var keyWords: [String]
        // A key beginning "-=" comes after a "--" (KeyArguments), which this collects too.
    var key: String { keyWords.filter { $0 != "--" }.joined(separator: " ") }

        func validate() throws {
            guard NodePublicKey(text: key) != nil else {
                throw ValidationError("'\(key.prefix(90))' is not a SiteSync key: it must be the 80 characters `sitesync keys show` prints")
            }
        }

        func run() throws {
            let hubKey = NodePublicKey(text: key)!
            _ = try node.open()
            try Node.trustHub(at: node.path, key: hubKey)
            print("this node now trusts the hub key \(hubKey.fingerprint)…")
        }
    }

    struct Allow: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "At the hub: allow a node's key, with its role and department.",
            discussion: """
                The node may then sync: what it may write and which records it receives follow from the \
                role and department given here, whatever its own node.toml says. Allowing a node again \
                replaces its entry (a new key, role or department). A running hub takes the change within \
                a second.
                """)
        @OptionGroup var node: NodeOptions
        @Option(name: .customLong("node"), help: ArgumentHelp("The node's name.", valueName: "name")) var name: String
        @Option(help: ArgumentHelp("Its department code.", valueName: "code")) var department: String
        @Option(help: ArgumentHelp("field, department, office or auditor.", valueName: "role")) var role: String
        @Option(parsing: .unconditional, help: ArgumentHelp("Its key, as `sitesync keys show` prints it on the node.", valueName: "key")) var key: String

        func validate() throws {
            guard let parsed = Role(rawValue: role), parsed != .hub else {
                throw ValidationError("'\(role)' is not a role a node can be allowed as; use field, department, office or auditor")
            }
            guard NodePublicKey(text: key) != nil else {
                throw ValidationError("'\(key.prefix(90))' is not a SiteSync key: it must be the 80 characters `sitesync keys show` prints")
            }
        }

        func run() throws {
            let entry = try node.open().allow(node: name, role: Role(rawValue: role)!, department: department, key: NodePublicKey(text: key)!)
            print("allowed \(entry.node) as \(entry.role.rawValue) of \(entry.department) (key \(entry.key.fingerprint)…)")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "At the hub: revoke a node's key.",
            discussion: """
                The node can no longer connect; if it is connected now, the running hub cuts it off \
                within a second. Changes signed with its key are refused from then on, also when a peer \
                relays them. Its unsynced changes stay on the node.
                """)
        @OptionGroup var node: NodeOptions
        @Option(name: .customLong("node"), help: ArgumentHelp("The node's name.", valueName: "name")) var name: String

        func run() throws {
            let entry = try node.open().revoke(node: name)
            print("revoked \(entry.node) (key \(entry.key.fingerprint)…)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "At the hub: list the allow-list.")
        @OptionGroup var node: NodeOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let directory = try node.open().allowListEntries()
            if json {
                Output.json(.array(directory.entries.map { entry in
                    .object([
                        "node": .string(entry.node), "role": .string(entry.role.rawValue), "department": .string(entry.department),
                        "key": .string(entry.key.description), "status": .string(entry.active ? "active" : "revoked"),
                    ])
                }))
                return
            }
            guard !directory.isEmpty else {
                print("the allow-list is empty: allow nodes with `sitesync keys allow`")
                return
            }
            print(Output.table([["NODE", "ROLE", "DEPARTMENT", "STATUS", "KEY"]] + directory.entries.map {
                [$0.node, $0.role.rawValue, $0.department, $0.active ? "active" : "revoked", $0.key.description]
            }))
        }
    }
}
