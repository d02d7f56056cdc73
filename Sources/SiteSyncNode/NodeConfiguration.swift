import Foundation
import SiteSyncCore
import SiteSyncPerformance
import SiteSyncStore
import TOMLKit

/// A node's configuration: `node.toml` in its data directory, every key documented in
/// `config/node.example.toml`, each overridable by an environment variable
/// `SITESYNC_<SECTION>_<KEY>` (for example `SITESYNC_STORAGE_DURABILITY=normal`).
public struct NodeConfiguration: Sendable, Equatable {
    /// `[node] name`: the node's human name, unique in the fleet.
    public var name: String
    /// `[node] department`: the department code this node belongs to.
    public var department: String
    /// `[node] role`: what this node may write and receive.
    public var role: Role
    /// `[storage] durability`: SQLite's synchronous mode; `full` unless you know why not.
    public var durability: StoreOptions.Durability
    /// `[storage] max_megabytes`: the most the database may grow to (0: as far as the disk
    /// allows); past it, writes fail with "storage full" and nothing partial is kept.
    public var maxMegabytes: Int = 0
    /// `[store] url`: a hub's store in PostgreSQL (`postgresql://…`), with this process's
    /// SQLite file as its working copy (docs/design.md §18); `nil`: the SQLite file is the store.
    public var storeURL: String?
    /// `[sync]`: where and how this node replicates.
    public var sync: SyncSettings
    /// Grade, colour and warning thresholds for the reports (`[report]`).
    public var report: Thresholds
    /// `[compaction]`: when the hub lets go of changes every node holds.
    public var compaction = CompactionSettings()
    /// `[http]`: the HTTP API beside the ZeroMQ listener (`sitesync serve`).
    public var http = HTTPSettings()
    /// `[dashboard]`: the web pages the HTTP server offers people who read the figures.
    public var dashboard = DashboardSettings()
    /// `[forecast]`: the completion forecasts' daily-log tags.
    public var forecast = ForecastConfiguration()

    /// The `[forecast]` section (docs/design.md §17).
    public struct ForecastConfiguration: Sendable, Equatable {
        /// `[forecast.tags]`: each tag's phrases; a tag named there replaces the shipped
        /// phrases of that tag (an empty list drops it), a new name adds a tag, the others stay
        /// as shipped (``DailyLogTags/standard``).
        public var tags = DailyLogTags.standard

        public init(tags: DailyLogTags = .standard) { self.tags = tags }
    }

    /// The `[dashboard]` section: the language a page takes when the browser asks for neither
    /// Chinese nor English and the reader has not chosen one.
    public struct DashboardSettings: Sendable, Equatable {
        /// The languages the dashboard speaks.
        public static let languages = ["zh-CN", "en"]
        /// `language`: `zh-CN` or `en`.
        public var language = "zh-CN"

        public init(language: String = "zh-CN") { self.language = language }
    }

    /// The `[http]` section: where `sitesync serve` answers HTTP, and with which certificate.
    public struct HTTPSettings: Sendable, Equatable {
        /// `listen`: `ADDRESS:PORT` (`127.0.0.1:8080`, `[::1]:8080`); `nil`: no HTTP server
        /// unless `serve --http` names one.
        public var listen: String?
        /// `tls_certificate` and `tls_key`: PEM files; both or neither. With them the server
        /// answers HTTPS only.
        public var tlsCertificate: String?
        public var tlsKey: String?
        /// `insecure`: allow plain HTTP on an address other than loopback (tokens and figures
        /// then cross the network readable by anyone on it).
        public var insecure = false

        public init(listen: String? = nil, tlsCertificate: String? = nil, tlsKey: String? = nil, insecure: Bool = false) {
            self.listen = listen
            self.tlsCertificate = tlsCertificate
            self.tlsKey = tlsKey
            self.insecure = insecure
        }
    }

    /// The `[compaction]` section (read by the hub; other nodes keep their whole log).
    public struct CompactionSettings: Sendable, Equatable {
        /// `horizon`: a node whose last completed sync is older than this no longer holds log
        /// compaction back; when it returns, a state transfer brings it up to date.
        public var horizonSeconds = 90 * 86_400
        /// `interval`: how often `serve` compacts (0, written `off`: only `sitesync compact`).
        public var intervalSeconds = 6 * 3_600

        public init() {}
    }

    /// One endpoint of the hub with the key its listener there holds: an entry of
    /// `[[sync.hubs]]`, or the single `hub` and `hub_key`.
    public struct HubEndpoint: Sendable, Equatable {
        /// `endpoint`: where a process of the hub listens, `tcp://HOST:PORT`.
        public var endpoint: String
        /// `key`: that process's public key (`sitesync keys show` in its data directory); `nil`
        /// only when none is known yet (a single `hub` without `hub_key`, or `insecure`).
        public var key: NodePublicKey?

        public init(endpoint: String, key: NodePublicKey? = nil) {
            self.endpoint = endpoint
            self.key = key
        }
    }

    /// The most endpoints `[[sync.hubs]]` may list: each one that does not answer costs a round
    /// up to 10 s before the next is tried.
    public static let maxHubEndpoints = 8

    /// The `[sync]` section.
    public struct SyncSettings: Sendable, Equatable {
        /// `hub`: the hub's endpoint, `tcp://HOST:PORT`; none for a hub or an unconnected node.
        /// With `[[sync.hubs]]`, the first entry's.
        public var hub: String?
        /// `[[sync.hubs]]`: the endpoints of one hub (several processes serving it), tried in turn
        /// when one does not answer (docs/design.md §6.3, "Failover"); empty when the single `hub` and
        /// `hub_key` say where the hub is. See ``hubEndpoints``.
        public var hubs: [HubEndpoint] = []
        /// `listen`: where this node listens (a hub; or a node open to peers).
        public var listen: String?
        /// `hub_key`: the hub's public key (80 Z85 characters, as `sitesync keys show` prints
        /// it at the hub): the only hub this node will talk to. With `[[sync.hubs]]`, the first
        /// entry's key (every entry's key signs as the same hub).
        public var hubKey: NodePublicKey?
        /// `insecure`: plaintext instead of CURVE, for local experiments only.
        public var insecure: Bool
        /// `interval_seconds`: how often `sitesync run` syncs when nothing prompts it.
        public var intervalSeconds: Int
        /// `timeout_seconds`: how long a sync round waits while the peer moves nothing before it
        /// gives up (a round that keeps moving is never cut off).
        public var timeoutSeconds: Int
        /// `batch_changes`, `batch_bytes`, `window`: what this node accepts per batch and in flight.
        public var batchChanges: Int
        public var batchBytes: Int
        public var window: Int
        /// `stale_after`: a node not synced for longer than this is stale (in `status`, and at
        /// the hub in the fleet view).
        public var staleAfterSeconds: Int
        /// `sessions_per_node`, `hello_burst`, `hellos_per_second`: what one node may open at
        /// this node's listener, so that one node's flood of Hellos does not hold up the others.
        public var sessionsPerNode = 4
        public var helloBurst = 10
        public var hellosPerSecond = 2.0

        public init(hub: String? = nil, listen: String? = nil, hubKey: NodePublicKey? = nil, insecure: Bool = false,
                    intervalSeconds: Int = 30, timeoutSeconds: Int = 30, batchChanges: Int = 1000, batchBytes: Int = 512 * 1024,
                    window: Int = SessionLimits.defaultWindow, staleAfterSeconds: Int = 86_400) {
            self.staleAfterSeconds = staleAfterSeconds
            self.hub = hub
            self.hubKey = hubKey
            self.listen = listen
            self.insecure = insecure
            self.intervalSeconds = intervalSeconds
            self.timeoutSeconds = timeoutSeconds
            self.batchChanges = batchChanges
            self.batchBytes = batchBytes
            self.window = window
        }

        /// The hub's endpoints, in the order they are configured: `[[sync.hubs]]`, or the single
        /// `hub` with `hub_key`; empty when no hub is configured.
        public var hubEndpoints: [HubEndpoint] {
            if !hubs.isEmpty { return hubs }
            return hub.map { [HubEndpoint(endpoint: $0, key: hubKey)] } ?? []
        }

        /// Sets the hub's endpoints: one is written as `hub` and `hub_key`, several as
        /// `[[sync.hubs]]`.
        /// - Throws: ``NodeError`` when they are not the endpoints of one hub (see
        ///   ``NodeConfiguration/checkHubEndpoints(_:insecure:)``).
        public mutating func setHubEndpoints(_ endpoints: [HubEndpoint]) throws {
            try NodeConfiguration.checkHubEndpoints(endpoints, insecure: insecure, asList: endpoints.count > 1)
            hubs = endpoints.count > 1 ? endpoints : []
            hub = endpoints.first?.endpoint
            hubKey = endpoints.first?.key ?? hubKey
        }
    }

    /// Checks that `endpoints` name one hub: distinct endpoints, at most
    /// ``maxHubEndpoints``, each with a key unless `insecure` (a lone `hub` may wait for `keys
    /// trust-hub`; a `[[sync.hubs]]` entry, which that command leaves alone, may not), and every
    /// key signing as the same hub (the processes of one hub share its signing identity; each
    /// may have its own CURVE key).
    /// - Parameter asList: whether they are written as `[[sync.hubs]]` (several always are).
    /// - Throws: ``NodeError`` naming the entry (counted from 1) and what to do.
    public static func checkHubEndpoints(_ endpoints: [HubEndpoint], insecure: Bool, asList: Bool = true) throws {
        guard endpoints.count <= maxHubEndpoints else {
            throw NodeError(.configuration, "\(endpoints.count) hub endpoints are too many: list at most \(maxHubEndpoints) "
                            + "(each one that does not answer costs up to 10 s before the next is tried)")
        }
        var seen: Set<String> = []
        for (index, hub) in endpoints.enumerated() {
            guard seen.insert(hub.endpoint).inserted else {
                throw NodeError(.configuration, "hub endpoint \(index + 1) (\(hub.endpoint)) is listed twice: list each endpoint once")
            }
            guard hub.key != nil || insecure || (endpoints.count == 1 && !asList) else {
                throw NodeError(.configuration, "hub endpoint \(index + 1) (\(hub.endpoint)) has no key: give it the key `sitesync keys show` "
                                + "prints in the data directory of the hub process listening there (or set `insecure = true` on both sides "
                                + "for a local experiment)")
            }
        }
        let keyed = endpoints.enumerated().compactMap { entry in entry.element.key.map { (entry.offset, entry.element, $0) } }
        if let (_, firstHub, first) = keyed.first,
           let (index, hub, _) = keyed.first(where: { $0.2.signing != first.signing }) {
            throw NodeError(.configuration, "the key of hub endpoint \(index + 1) (\(hub.endpoint)) signs as another hub than the key of "
                            + "\(firstHub.endpoint): the endpoints of one list must be processes of one hub (its signing key, the "
                            + "key's last 40 characters, is the same at each); a node syncs with one hub")
        }
    }

    public init(name: String, department: String, role: Role, durability: StoreOptions.Durability = .full,
                sync: SyncSettings = SyncSettings(), report: Thresholds = .standard) {
        self.name = name
        self.department = department
        self.role = role
        self.durability = durability
        self.sync = sync
        self.report = report
    }

    /// The `[report]` keys: each threshold of ``Thresholds`` under its own name.
    static var reportKeys: [(key: String, path: WritableKeyPath<Thresholds, Double>, range: ClosedRange<Double>)] { [
        ("grade_excellent", \.excellent, 0...200), ("grade_good", \.good, 0...200), ("grade_fair", \.fair, 0...200),
        ("schedule_green", \.scheduleGreen, 0...2), ("schedule_amber", \.scheduleAmber, 0...2),
        ("cost_green", \.costGreen, 0...2), ("cost_amber", \.costAmber, 0...2), ("cost_from_percent", \.costFromPercent, 0...100),
        ("score_green", \.scoreGreen, 0...200), ("score_amber", \.scoreAmber, 0...200), ("kpi_cap", \.kpiCap, 0.5...2),
    ] }

    /// The keys this version understands, by section.
    static let knownKeys: [String: Set<String>] = [
        "node": ["name", "department", "role"],
        "storage": ["durability", "max_megabytes"],
        "store": ["url"],
        "sync": ["hub", "hubs", "listen", "hub_key", "insecure", "interval_seconds", "timeout_seconds", "batch_changes", "batch_bytes", "window", "stale_after",
                 "sessions_per_node", "hello_burst", "hellos_per_second"],
        "compaction": ["horizon", "interval"],
        "http": ["listen", "tls_certificate", "tls_key", "insecure"],
        "dashboard": ["language"],
        "forecast": ["tags"],
        "report": Set(reportKeys.map(\.key) + ["stale_days", "risk_high", "risk_elevated"]),
    ]

    /// Validates a node name: 1–64 characters of letters, digits, `.`, `_` and `-`.
    public static func validateName(_ name: String) throws {
        let ok = (1...64).contains(name.utf8.count) && name.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || [0x2E, 0x5F, 0x2D].contains($0)
        }
        guard ok else {
            throw NodeError(.configuration, "node name '\(name)' must be 1 to 64 letters, digits, '.', '_' or '-' (e.g. site-12)")
        }
    }

    /// Loads and checks `node.toml`, then applies environment overrides.
    /// - Throws: ``NodeError`` naming the file, the line and the key of a bad value (or the
    ///   environment variable it came from).
    public static func load(from path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> NodeConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw NodeError(.notANode, "cannot read \(path); is this a SiteSync data directory? (create one with `sitesync init`)")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw NodeError(.configuration, "\(path):\(error.source.begin.line): \(error.description)")
        }
        let reader = Reader(path: path, text: text, table: table, environment: environment)
        try reader.checkKeys()
        let name = try reader.required("node", "name") { try validateName($0); return $0 }
        let department = try reader.required("node", "department") { try DepartmentCode.validate($0); return $0 }
        let role = try reader.required("node", "role") { text -> Role in
            guard let role = Role(rawValue: text) else {
                throw NodeError(.configuration, "'\(text)' is not a role; use one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return role
        }
        let durability = try reader.optional("storage", "durability") { text -> StoreOptions.Durability in
            guard let value = StoreOptions.Durability(rawValue: text) else {
                throw NodeError(.configuration, "'\(text)' is not a durability; use full, normal or off")
            }
            return value
        } ?? .full
        let defaults = SyncSettings()
        let endpoint = { (text: String) throws -> String in
            guard text.hasPrefix("tcp://") || text.hasPrefix("ipc://") || text.hasPrefix("inproc://") else {
                throw NodeError(.configuration, "'\(text)' is not an endpoint; write it as tcp://HOST:PORT")
            }
            return text
        }
        var sync = SyncSettings(
            hub: try reader.optional("sync", "hub", endpoint),
            listen: try reader.optional("sync", "listen", endpoint),
            hubKey: try reader.optional("sync", "hub_key") { try NodePublicKey.parse($0, what: "hub key") },
            insecure: try reader.optionalBool("sync", "insecure") ?? defaults.insecure,
            intervalSeconds: try reader.optionalInt("sync", "interval_seconds", in: 1...86_400) ?? defaults.intervalSeconds,
            timeoutSeconds: try reader.optionalInt("sync", "timeout_seconds", in: 1...3_600) ?? defaults.timeoutSeconds,
            batchChanges: try reader.optionalInt("sync", "batch_changes", in: 256...10_000) ?? defaults.batchChanges,
            batchBytes: try reader.optionalInt("sync", "batch_bytes", in: 4_096...4_194_304) ?? defaults.batchBytes,
            window: try reader.optionalInt("sync", "window", in: 1...16) ?? defaults.window,
            staleAfterSeconds: try reader.optional("sync", "stale_after") { try DurationText.seconds($0) } ?? defaults.staleAfterSeconds)
        try reader.readHubList(into: &sync, endpoint: endpoint)
        sync.sessionsPerNode = try reader.optionalInt("sync", "sessions_per_node", in: 1...1_000) ?? defaults.sessionsPerNode
        sync.helloBurst = try reader.optionalInt("sync", "hello_burst", in: 1...10_000) ?? defaults.helloBurst
        sync.hellosPerSecond = try reader.optionalNumber("sync", "hellos_per_second", in: 0.1...10_000) ?? defaults.hellosPerSecond
        var report = Thresholds.standard
        for (key, path, range) in reportKeys {
            if let value = try reader.optionalNumber("report", key, in: range) { report[keyPath: path] = value }
        }
        report.staleDays = try reader.optionalInt("report", "stale_days", in: 1...365) ?? report.staleDays
        report.riskHigh = try reader.optionalInt("report", "risk_high", in: 1...25) ?? report.riskHigh
        report.riskElevated = try reader.optionalInt("report", "risk_elevated", in: 1...25) ?? report.riskElevated
        guard report.excellent >= report.good, report.good >= report.fair, report.scheduleGreen >= report.scheduleAmber,
              report.costGreen >= report.costAmber, report.scoreGreen >= report.scoreAmber, report.riskHigh >= report.riskElevated else {
            throw NodeError(.configuration, "\(path): [report] thresholds must not cross: grade_excellent ≥ grade_good ≥ grade_fair, "
                            + "each *_green ≥ its *_amber, risk_high ≥ risk_elevated")
        }
        var configuration = NodeConfiguration(name: name, department: department, role: role, durability: durability, sync: sync, report: report)
        configuration.maxMegabytes = try reader.optionalInt("storage", "max_megabytes", in: 0...10_000_000) ?? 0
        configuration.storeURL = try reader.optional("store", "url") { text in
            guard text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") else {
                throw NodeError(.configuration, "'\(text)' is not a PostgreSQL URL: write postgresql://USER@HOST:PORT/DATABASE "
                                + "(the password in PGPASSWORD or ~/.pgpass, not in this file)")
            }
            guard role == .hub else {
                throw NodeError(.configuration, "only a hub keeps its store in PostgreSQL; remove [store] url, or make this node the hub")
            }
            return text
        }
        configuration.compaction.horizonSeconds = try reader.optional("compaction", "horizon") { try DurationText.seconds($0) }
            ?? configuration.compaction.horizonSeconds
        configuration.compaction.intervalSeconds = try reader.optional("compaction", "interval") {
            $0.trimmingCharacters(in: .whitespaces).lowercased() == "off" ? 0 : try DurationText.seconds($0)
        } ?? configuration.compaction.intervalSeconds
        configuration.http = HTTPSettings(
            listen: try reader.optional("http", "listen") { text in
                guard HTTPAddress(text) != nil else {
                    throw NodeError(.configuration, "'\(text)' is not an address: write ADDRESS:PORT, e.g. 127.0.0.1:8080")
                }
                return text
            },
            tlsCertificate: try reader.optional("http", "tls_certificate") { $0 },
            tlsKey: try reader.optional("http", "tls_key") { $0 },
            insecure: try reader.optionalBool("http", "insecure") ?? false)
        guard (configuration.http.tlsCertificate == nil) == (configuration.http.tlsKey == nil) else {
            throw NodeError(.configuration, "\(path): [http] tls_certificate and tls_key go together: give both PEM files, or neither")
        }
        configuration.dashboard.language = try reader.optional("dashboard", "language") { text in
            guard let language = DashboardSettings.languages.first(where: { $0.lowercased() == text.lowercased() }) else {
                throw NodeError(.configuration, "'\(text)' is not a language the dashboard speaks: write \"zh-CN\" or \"en\"")
            }
            return language
        } ?? configuration.dashboard.language
        configuration.forecast.tags = DailyLogTags.standard.overridden(by: try reader.tagPhrases())
        return configuration
    }

    /// Reads typed values from the TOML table or their environment overrides, naming where a
    /// bad value came from.
    struct Reader {
        let path: String
        let text: String
        let table: TOMLTable
        let environment: [String: String]

        func variable(_ section: String, _ key: String) -> String { "SITESYNC_\(section.uppercased())_\(key.uppercased())" }

        func checkKeys() throws {
            for section in table.keys {
                guard let known = knownKeys[section] else {
                    throw NodeError(.configuration,
                        "\(path):\(line(ofSection: section)): unknown section [\(section)]; the sections are \(knownKeys.keys.sorted().joined(separator: ", "))")
                }
                guard let inner = table[section]?.table else {
                    throw NodeError(.configuration, "\(path): \(section) must be a [section]")
                }
                for key in inner.keys where !known.contains(key) {
                    throw fail(section, key, "unknown key; the keys of [\(section)] are \(known.sorted().joined(separator: ", "))")
                }
            }
        }

        func fail(_ section: String, _ key: String, _ message: String) -> NodeError {
            if environment[variable(section, key)] != nil {
                return NodeError(.configuration, "environment variable \(variable(section, key)): \(message)")
            }
            return NodeError(.configuration, "\(path):\(line(of: key, in: section)): [\(section)] \(key): \(message)")
        }

        /// The raw value: the environment's text, or the file's value.
        enum Raw { case text(String), value(any TOMLValueConvertible) }

        func raw(_ section: String, _ key: String) -> Raw? {
            if let value = environment[variable(section, key)] { return .text(value) }
            return table[section]?.table?[key].map { .value($0) }
        }

        func check<T>(_ section: String, _ key: String, _ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch {
                let message = (error as? NodeError)?.message ?? (error as? CoreError)?.message ?? "\(error)"
                throw fail(section, key, message)
            }
        }

        func optional<T>(_ section: String, _ key: String, _ parse: (String) throws -> T) throws -> T? {
            switch raw(section, key) {
            case nil: return nil
            case .text(let text)?: return try check(section, key) { try parse(text) }
            case .value(let value)?:
                guard let text = value.string else { throw fail(section, key, "must be a quoted string") }
                return try check(section, key) { try parse(text) }
            }
        }

        func required<T>(_ section: String, _ key: String, _ parse: (String) throws -> T) throws -> T {
            guard let value = try optional(section, key, parse) else {
                throw NodeError(.configuration, "\(path): [\(section)] \(key) is missing; see config/node.example.toml")
            }
            return value
        }

        func optionalInt(_ section: String, _ key: String, in range: ClosedRange<Int>) throws -> Int? {
            let number: Int?
            switch raw(section, key) {
            case nil: return nil
            case .text(let text)?: number = Int(text)
            case .value(let value)?: number = value.int
            }
            guard let number, range.contains(number) else {
                throw fail(section, key, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }

        func optionalNumber(_ section: String, _ key: String, in range: ClosedRange<Double>) throws -> Double? {
            let number: Double?
            switch raw(section, key) {
            case nil: return nil
            case .text(let text)?: number = Double(text)
            case .value(let value)?: number = value.double ?? value.int.map(Double.init)
            }
            guard let number, range.contains(number) else {
                throw fail(section, key, "must be a number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }

        /// `[forecast.tags]`: tag name = list of phrases (strings). Not overridable by the
        /// environment: a table has no one-line form.
        func tagPhrases() throws -> [String: [String]] {
            guard let value = table["forecast"]?.table?["tags"] else { return [:] }
            guard let tags = value.table else {
                throw fail("forecast", "tags", "must be a table: [forecast.tags] with lines such as rain = [\"雨\", \"rain\"]")
            }
            var result: [String: [String]] = [:]
            for tag in tags.keys {
                guard DailyLogTags.isValidName(tag) else {
                    throw fail("forecast", "tags", "tag '\(tag)' must be 1 to 32 lowercase letters, digits, '_' or '-'")
                }
                guard let list = tags[tag]?.array else {
                    throw fail("forecast", "tags", "tag '\(tag)' must be a list of quoted phrases, such as [\"雨\", \"rain\"]")
                }
                result[tag] = try list.map { item in
                    guard let phrase = item.string, !phrase.trimmingCharacters(in: .whitespaces).isEmpty else {
                        throw fail("forecast", "tags", "tag '\(tag)' must list non-empty quoted phrases")
                    }
                    return phrase
                }
            }
            return result
        }

        /// `[[sync.hubs]]`: the hub's endpoints, each with its key, into `sync` (its first entry
        /// also as `hub` and `hub_key`). Not overridable by the environment, a list of tables
        /// having no one-line form: `SITESYNC_SYNC_HUB` replaces the whole list.
        func readHubList(into sync: inout SyncSettings, endpoint: (String) throws -> String) throws {
            guard let value = table["sync"]?.table?["hubs"], environment[variable("sync", "hub")] == nil else { return }
            let single = ["hub", "hub_key"].filter { table["sync"]?.table?[$0] != nil }
            guard single.isEmpty else {
                throw hubListFail("give the hub either as `hub` and `hub_key` or as [[sync.hubs]] entries, not both: "
                                  + "move \(single.joined(separator: " and ")) into a [[sync.hubs]] entry (endpoint = \"…\", key = \"…\")")
            }
            guard let list = value.array, !list.isEmpty else {
                throw hubListFail("must list the hub's endpoints, one [[sync.hubs]] table each, with endpoint = \"tcp://HOST:PORT\" "
                                  + "and key = \"…\" (see config/node.example.toml)")
            }
            var hubs: [HubEndpoint] = []
            for (index, item) in list.enumerated() {
                guard let entry = item.table else {
                    throw hubEntryFail(index, "must be a table with endpoint and key, e.g. { endpoint = \"tcp://hub-a:7700\", key = \"…\" }")
                }
                for key in entry.keys where !["endpoint", "key"].contains(key) {
                    throw hubEntryFail(index, "unknown key '\(key)'; an entry has endpoint and key")
                }
                guard let text = entry["endpoint"]?.string else {
                    throw hubEntryFail(index, "endpoint is missing or not a quoted string: write endpoint = \"tcp://HOST:PORT\"")
                }
                let address = try checkHubEntry(index) { try endpoint(text) }
                var key: NodePublicKey?
                if let keyValue = entry["key"] {
                    guard let keyText = keyValue.string else { throw hubEntryFail(index, "key must be a quoted string") }
                    key = try checkHubEntry(index) { try NodePublicKey.parse(keyText, what: "key") }
                }
                hubs.append(HubEndpoint(endpoint: address, key: key))
            }
            do { try checkHubEndpoints(hubs, insecure: sync.insecure) } catch let error as NodeError { throw hubListFail(error.message) }
            sync.hubs = hubs
            sync.hub = hubs[0].endpoint
            sync.hubKey = hubs[0].key ?? sync.hubKey
        }

        func hubListFail(_ message: String) -> NodeError {
            NodeError(.configuration, "\(path):\(line(ofHubEntry: 0)): [sync] hubs: \(message)")
        }

        func hubEntryFail(_ index: Int, _ message: String) -> NodeError {
            NodeError(.configuration, "\(path):\(line(ofHubEntry: index)): [[sync.hubs]] entry \(index + 1): \(message)")
        }

        func checkHubEntry<T>(_ index: Int, _ body: () throws -> T) throws -> T {
            do { return try body() } catch {
                throw hubEntryFail(index, (error as? NodeError)?.message ?? (error as? CoreError)?.message ?? "\(error)")
            }
        }

        /// The line of the `index`th `[[sync.hubs]]` header (from 0), or of `hubs =` under
        /// `[sync]` when the list is written inline.
        func line(ofHubEntry index: Int) -> String {
            var seen = 0
            for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.trimmingCharacters(in: .whitespaces)
                guard line.hasPrefix("[["), line.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")) == "sync.hubs" else { continue }
                if seen == index { return String(number + 1) }
                seen += 1
            }
            return self.line(of: "hubs", in: "sync")
        }

        func optionalBool(_ section: String, _ key: String) throws -> Bool? {
            switch raw(section, key) {
            case nil: return nil
            case .text(let text)?:
                guard text == "true" || text == "false" else { throw fail(section, key, "must be true or false") }
                return text == "true"
            case .value(let value)?:
                guard let flag = value.bool else { throw fail(section, key, "must be true or false") }
                return flag
            }
        }

        func line(of key: String, in section: String) -> String {
            var current = ""
            for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.hasPrefix("[") { current = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")) }
                if current == section, line.hasPrefix(key), line.dropFirst(key.count).trimmingCharacters(in: .whitespaces).hasPrefix("=") {
                    return String(index + 1)
                }
            }
            return "?"
        }

        func line(ofSection section: String) -> String {
            for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where raw.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "[] ")) == section {
                return String(index + 1)
            }
            return "?"
        }
    }

    /// `text` (a `node.toml`) with `[sync] hub_key` set to `key`: the line replaced where there
    /// is one, else added under `[sync]`; the rest of the file, comments included, unchanged.
    static func settingHubKey(_ key: NodePublicKey, in text: String) -> String {
        var lines = text.components(separatedBy: "\n")
        let line = "hub_key = \"\(key)\""
        var section = ""
        var syncHeader: Int?
        for (index, raw) in lines.enumerated() {
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("[") {
                section = trimmed.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
                if section == "sync" { syncHeader = index }
                continue
            }
            if section == "sync", trimmed.hasPrefix("hub_key"), trimmed.dropFirst(7).trimmingCharacters(in: .whitespaces).hasPrefix("=") {
                lines[index] = line
                return lines.joined(separator: "\n")
            }
        }
        if let syncHeader {
            lines.insert(line, at: syncHeader + 1)
        } else {
            lines += ["", "[sync]", line, ""]
        }
        return lines.joined(separator: "\n")
    }

    /// `[[sync.hubs]]` as `tomlText` writes it: one table per endpoint, in order ("" for a
    /// single hub, written as `hub` and `hub_key`).
    var hubTables: String {
        guard !sync.hubs.isEmpty else { return "" }
        let tables = sync.hubs.map { hub in
            "[[sync.hubs]]\nendpoint = \"\(hub.endpoint)\"\n" + (hub.key.map { "key = \"\($0)\"\n" } ?? "")
        }
        return "\n# The hub's endpoints (processes of one hub), tried in this order when one does not answer,\n"
            + "# starting with the one last reached; each with the key `sitesync keys show` prints for it.\n"
            + tables.joined(separator: "\n")
    }

    /// The text of a fresh `node.toml`, with a comment on every key.
    public var tomlText: String {
        func quoted(_ value: String?) -> String { value.map { "\"\($0)\"" } ?? "\"\"" }
        return """
        # SiteSync node configuration. Every key is documented in config/node.example.toml;
        # each can be overridden by an environment variable SITESYNC_<SECTION>_<KEY>.

        [node]
        # This node's name, unique in the fleet (letters, digits, '.', '_', '-').
        name = "\(name)"
        # The department this node belongs to (its short code).
        department = "\(department)"
        # field | department | office | auditor | hub
        role = "\(role.rawValue)"

        [storage]
        # SQLite synchronous mode: full (every write durable when the command returns), normal, off.
        durability = "\(durability.rawValue)"
        # The most the database may grow to, in megabytes (0: as far as the disk allows).
        max_megabytes = \(maxMegabytes)
        \(storeURL.map { "\n[store]\n# The hub's store in PostgreSQL; this file is this process's working copy of it.\nurl = \(quoted($0))" } ?? "")

        [sync]
        \(!sync.hubs.isEmpty ? "# The hub's endpoints, each with its key: the [[sync.hubs]] tables at the end of this section." : sync.hub.map { "# The hub this node syncs with.\nhub = \(quoted($0))" } ?? "# The hub this node syncs with, tcp://HOST:PORT (none yet).\n# hub = \"tcp://hub.example:7700\"")
        \(sync.listen.map { "# Where this node listens (a hub, or a node open to peers).\nlisten = \(quoted($0))" } ?? "# Where this node listens, if it does (a hub, or a node open to peers).\n# listen = \"tcp://0.0.0.0:7700\"")
        \(!sync.hubs.isEmpty ? "" : sync.hubKey.map { "# The hub's public key (`sitesync keys show` at the hub); set with `sitesync keys trust-hub`.\nhub_key = \(quoted($0.description))" } ?? "# The hub's public key (`sitesync keys show` at the hub); set it with `sitesync keys trust-hub`.\n# hub_key = \"...80 characters...\"")
        # Plaintext instead of CURVE encryption: for local experiments only, on both sides.
        insecure = \(sync.insecure)
        # How often `sitesync run` syncs when nothing prompts it, and how long a round waits while
        # the peer moves nothing (a round that keeps moving is never cut off).
        interval_seconds = \(sync.intervalSeconds)
        timeout_seconds = \(sync.timeoutSeconds)
        # What this node accepts per batch, and how many batches may be in flight.
        batch_changes = \(sync.batchChanges)
        batch_bytes = \(sync.batchBytes)
        window = \(sync.window)
        # A node not synced for longer than this is stale (`sitesync status`, the hub's fleet view): 90s, 30m, 6h, 2d, 1w.
        stale_after = "\(DurationText.text(sync.staleAfterSeconds))"
        \(hubTables)

        [compaction]
        # The hub lets go of changes every registered node holds. A node not synced for longer
        # than the horizon stops holding that back, and gets a state transfer when it returns.
        horizon = "\(DurationText.text(compaction.horizonSeconds))"
        # How often `sitesync serve` compacts (off: only `sitesync compact`).
        interval = "\(compaction.intervalSeconds == 0 ? "off" : DurationText.text(compaction.intervalSeconds))"

        """
    }
}
