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
            """
    )

    @OptionGroup var node: NodeOptions

    @Option(name: .customLong("node"), help: ArgumentHelp("This node's name, unique in the fleet.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("The department code this node belongs to (e.g. roads).", valueName: "code"))
    var department: String

    @Option(help: ArgumentHelp("field, department, office, auditor or hub.", valueName: "role"))
    var role: String = "field"

    @Option(help: ArgumentHelp("The hub this node syncs with, tcp://HOST:PORT.", valueName: "endpoint"))
    var hub: String?

    @Option(help: ArgumentHelp("Where this node listens: a hub, or a node open to peers (tcp://HOST:PORT).", valueName: "endpoint"))
    var listen: String?

    @Option(name: .customLong("hub-key"), parsing: .unconditional, help: ArgumentHelp(
        "The hub's public key (what `sitesync keys show` prints at the hub).", valueName: "key"))
    var hubKey: String?

    @Flag(help: "Sync in plaintext instead of CURVE: for local experiments only (set it on both sides).")
    var insecure = false

    func validate() throws {
        guard Role(rawValue: role) != nil else {
            throw ValidationError("'\(role)' is not a role; use one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        do {
            try DepartmentCode.validate(department)
            try NodeConfiguration.validateName(name)
            for endpoint in [hub, listen].compactMap({ $0 }) { try Endpoint.validate(endpoint) }
            if let hubKey, NodePublicKey(text: hubKey) == nil {
                throw ValidationError("--hub-key '\(hubKey.prefix(90))' is not a SiteSync key: it must be the 80 characters `sitesync keys show` prints at the hub")
            }
        } catch let error as NetError {
            throw ValidationError(error.message)
        } catch let error as CoreError {
            throw ValidationError(error.message)
        } catch let error as NodeError {
            throw ValidationError(error.message)
        }
    }

    func run() throws {
        let configuration = NodeConfiguration(
            name: name, department: department, role: Role(rawValue: role)!,
            sync: NodeConfiguration.SyncSettings(hub: hub, listen: listen, hubKey: hubKey.flatMap(NodePublicKey.init(text:)),
                                                 insecure: insecure))
        let created = try Node.initialize(at: node.path, configuration: configuration)
        print("created node \(name) (\(role), department \(department)) in \(node.path), replica \(created.store.identity.replica)")
        print("its public key: \(try created.publicKey())")
    }
}
