import ArgumentParser
import SiteSyncCore
import SiteSyncNet
import SiteSyncNode

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a node: a data directory with node.toml, its keys (node.key) and an empty database.",
        discussion: """
            The node gets a fresh key pair (the secret half in node.key, mode 0600; the public half is \
            printed, and `sitesync keys show` prints it again) and a replica id derived from it. Its role \
            decides what it may write: field and department nodes write their own department's actuals, \
            office nodes also the plan (projects, activities' baselines, goals, KPI definitions), auditors \
            nothing. Behind CURVE the hub decides a node's role and department from its key (`sitesync \
            keys allow`), whatever node.toml says.

            Example:
              sitesync init --data-dir ./hub --node hub-1 --department office --role hub --listen tcp://0.0.0.0:7700
              sitesync init --data-dir ./site-a --node site-a --department roads --hub tcp://hub.example:7700 --hub-key HUBKEY

            A hub served by several processes (each at its own endpoint, possibly with its own key): \
            repeat --hub and --hub-key in pairs, in the order to try them; node.toml then lists them \
            as [[sync.hubs]] (config/node.example.toml).
              sitesync init --data-dir ./site-b --node site-b --department roads \\
                --hub tcp://hub-a.example:7700 --hub-key KEY_A --hub tcp://hub-b.example:7700 --hub-key KEY_B
            """
    )

    @OptionGroup var node: NodeOptions

    @Option(name: .customLong("node"), help: ArgumentHelp("This node's name, unique in the fleet.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("The department code this node belongs to (e.g. roads).", valueName: "code"))
    var department: String

    @Option(help: ArgumentHelp("field, department, office, auditor or hub.", valueName: "role"))
    var role: String = "field"

    @Option(help: ArgumentHelp(
        "The hub this node syncs with, tcp://HOST:PORT. Repeat it for a hub served by several processes, each with its --hub-key, in the same order: a sync moves on to the next when one does not answer.",
        valueName: "endpoint"))
    var hub: [String] = []

    @Option(help: ArgumentHelp("Where this node listens: a hub, or a node open to peers (tcp://HOST:PORT).", valueName: "endpoint"))
    var listen: String?

    @Option(name: .customLong("hub-key"), parsing: .unconditionalSingleValue, help: ArgumentHelp(
        "The hub's public key (what `sitesync keys show` prints at the hub); with several --hub, one per --hub, in the same order.",
        valueName: "key"))
    var hubKey: [String] = []

    @Flag(help: "Sync in plaintext instead of CURVE: for local experiments only (set it on both sides).")
    var insecure = false

    @Option(help: ArgumentHelp(
        "A hub's store in PostgreSQL (postgresql://USER@HOST:PORT/DATABASE, the password in PGPASSWORD or ~/.pgpass); this node's SQLite file becomes the first process's working copy of it. Hubs only; refused when the database already holds a hub (a further process needs only this one's node.toml and node.key: see docs/postgresql.md).",
        valueName: "url"))
    var store: String?

    func validate() throws {
        guard Role(rawValue: role) != nil else {
            throw ValidationError("'\(role)' is not a role; use one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        do {
            try DepartmentCode.validate(department)
            try NodeConfiguration.validateName(name)
            for endpoint in hub + [listen].compactMap({ $0 }) { try Endpoint.validate(endpoint) }
            for key in hubKey where NodePublicKey(text: key) == nil {
                throw ValidationError("--hub-key '\(key.prefix(90))' is not a SiteSync key: it must be the 80 characters `sitesync keys show` prints at the hub")
            }
            try checkHubPairs()
            if let store {
                guard store.hasPrefix("postgresql://") || store.hasPrefix("postgres://") else {
                    throw ValidationError("--store '\(store)' is not a PostgreSQL URL: write postgresql://USER@HOST:PORT/DATABASE")
                }
                guard role == Role.hub.rawValue else { throw ValidationError("--store is for a hub only (--role hub)") }
            }
            try NodeConfiguration.checkHubEndpoints(hubEndpoints, insecure: insecure, asList: hub.count > 1)
        } catch let error as NetError {
            throw ValidationError(error.message)
        } catch let error as CoreError {
            throw ValidationError(error.message)
        } catch let error as NodeError {
            throw ValidationError(error.message)
        }
    }

    /// Several --hub pair with as many --hub-key, in order; a single --hub takes one or none
    /// (`keys trust-hub` may pin it later), and a --hub-key alone pins the key of a hub reached
    /// by bundles only.
    func checkHubPairs() throws {
        if hub.count > 1 {
            guard hubKey.count == hub.count || (insecure && hubKey.isEmpty) else {
                throw ValidationError("--hub is given \(hub.count) times but --hub-key \(hubKey.count) time\(hubKey.count == 1 ? "" : "s"): give each "
                                      + "hub endpoint its key, in the same order (--hub E1 --hub-key K1 --hub E2 --hub-key K2), "
                                      + "each the key `sitesync keys show` prints for the hub process at that endpoint")
            }
        } else if hubKey.count > 1 {
            throw ValidationError("--hub-key is given \(hubKey.count) times but --hub \(hub.count == 1 ? "once" : "not at all"): "
                                  + "give one key per hub endpoint, each after its --hub")
        }
    }

    /// The --hub endpoints, each with its --hub-key.
    var hubEndpoints: [NodeConfiguration.HubEndpoint] {
        hub.enumerated().map { index, endpoint in
            NodeConfiguration.HubEndpoint(endpoint: endpoint, key: index < hubKey.count ? NodePublicKey(text: hubKey[index]) : nil)
        }
    }

    func run() throws {
        var sync = NodeConfiguration.SyncSettings(listen: listen, hubKey: hubKey.first.flatMap(NodePublicKey.init(text:)), insecure: insecure)
        try sync.setHubEndpoints(hubEndpoints)
        var configuration = NodeConfiguration(name: name, department: department, role: Role(rawValue: role)!, sync: sync)
        configuration.storeURL = store
        let created = try Node.initialize(at: node.path, configuration: configuration)
        print("created node \(name) (\(role), department \(department)) in \(node.path), replica \(created.store.identity.replica)")
        print("its public key: \(try created.publicKey())")
    }
}
