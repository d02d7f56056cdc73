import Foundation
import Testing
@testable import SiteSyncCore
@testable import SiteSyncNet
@testable import SiteSyncNode
@testable import SiteSyncStore

/// `[[sync.hubs]]`: the endpoints of one hub served by several processes, how node.toml lists
/// them, what it refuses, and the order a round tries them in.
@Suite struct HubEndpointsTests {
    let directory = TemporaryDirectory()
    /// Two processes of one hub: their own CURVE keys, the hub's one signing key.
    let keyA = NodeSecretKey.generate().publicKey
    var keyB: NodePublicKey { NodePublicKey(curve: NodeSecretKey.generate().publicKey.curve, signing: keyA.signing) }

    /// `sync` as the `[sync]` section's body (and what follows it) of an otherwise valid node.toml.
    func load(_ sync: String, environment: [String: String] = [:]) throws -> NodeConfiguration {
        let path = directory.file("node.toml")
        try """
            [node]
            name = "site-a"
            department = "roads"
            role = "field"

            [sync]
            \(sync)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return try NodeConfiguration.load(from: path, environment: environment)
    }

    /// The message of the configuration error loading `sync` gives.
    func refusal(_ sync: String) -> String {
        do {
            _ = try load(sync)
            return "accepted"
        } catch let error as NodeError where error.code == .configuration {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func endpointsAreReadInOrderEachWithItsKeyAndTheFirstStandsAsTheHub() throws {
        let keyB = keyB
        let sync = try load("""
            timeout_seconds = 5

            [[sync.hubs]]
            endpoint = "tcp://hub-a:7700"
            key = "\(keyA)"

            [[sync.hubs]]
            endpoint = "tcp://hub-b:7700"
            key = "\(keyB)"
            """).sync
        #expect(sync.hubEndpoints == [.init(endpoint: "tcp://hub-a:7700", key: keyA), .init(endpoint: "tcp://hub-b:7700", key: keyB)])
        #expect(sync.hub == "tcp://hub-a:7700" && sync.hubKey == keyA)
        #expect(sync.timeoutSeconds == 5)
        // The inline form is the same list.
        let inline = try load("hubs = [{ endpoint = \"tcp://hub-a:7700\", key = \"\(keyA)\" }, { endpoint = \"tcp://hub-b:7700\", key = \"\(keyB)\" }]")
        #expect(inline.sync.hubEndpoints == sync.hubEndpoints)
    }

    @Test func theSingleHubAndHubKeyAreAOneEntryList() throws {
        let sync = try load("hub = \"tcp://hub:7700\"\nhub_key = \"\(keyA)\"").sync
        #expect(sync.hubEndpoints == [.init(endpoint: "tcp://hub:7700", key: keyA)])
        #expect(sync.hubs.isEmpty)
        // A key alone (a node that meets its hub by bundles only) is no endpoint.
        #expect(try load("hub_key = \"\(keyA)\"").sync.hubEndpoints.isEmpty)
        // In plaintext an entry needs no key.
        let insecure = try load("insecure = true\n[[sync.hubs]]\nendpoint = \"tcp://a:1\"\n[[sync.hubs]]\nendpoint = \"tcp://b:1\"").sync
        #expect(insecure.hubEndpoints.map(\.endpoint) == ["tcp://a:1", "tcp://b:1"] && insecure.hubEndpoints.allSatisfy { $0.key == nil })
    }

    @Test func aBadEntryIsRefusedNamingTheLineTheEntryAndWhatToDo() throws {
        let good = "[[sync.hubs]]\nendpoint = \"tcp://hub-a:7700\"\nkey = \"\(keyA)\"\n"
        let keyB = keyB
        // Line 7 is the first [[sync.hubs]], line 10 the second.
        let cases: [(String, [String])] = [
            (good + "[[sync.hubs]]\nkey = \"\(keyB)\"", ["node.toml:10:", "[[sync.hubs]] entry 2", "endpoint is missing", "tcp://HOST:PORT"]),
            (good + "[[sync.hubs]]\nendpoint = \"http://hub-b\"\nkey = \"\(keyB)\"", ["node.toml:10:", "entry 2", "'http://hub-b' is not an endpoint"]),
            (good + "[[sync.hubs]]\nendpoint = \"tcp://hub-b:7700\"\nkey = \"nonsense\"", ["node.toml:10:", "entry 2", "key"]),
            (good + "[[sync.hubs]]\nendpoint = \"tcp://hub-b:7700\"\nport = 7700", ["node.toml:10:", "entry 2", "unknown key 'port'", "endpoint and key"]),
            (good + "[[sync.hubs]]\nendpoint = \"tcp://hub-b:7700\"", ["hub endpoint 2 (tcp://hub-b:7700) has no key", "sitesync keys show"]),
            (good + good, ["hub endpoint 2 (tcp://hub-a:7700) is listed twice"]),
            // `keys trust-hub` leaves a list alone, so even a one-entry list needs its key.
            ("[[sync.hubs]]\nendpoint = \"tcp://hub-a:7700\"", ["hub endpoint 1 (tcp://hub-a:7700) has no key"]),
            (good + "[[sync.hubs]]\nendpoint = \"tcp://hub-b:7700\"\nkey = \"\(NodeSecretKey.generate().publicKey)\"",
             ["endpoint 2 (tcp://hub-b:7700) signs as another hub", "one hub"]),
            ("hub = \"tcp://hub-a:7700\"\n" + good, ["node.toml:8:", "not both", "move hub into a [[sync.hubs]] entry"]),
            ("hubs = []", ["node.toml:7:", "[sync] hubs", "must list the hub's endpoints"]),
            ("hubs = [\"tcp://hub-a:7700\"]", ["node.toml:7:", "entry 1", "must be a table with endpoint and key"]),
            ((1...9).map { "[[sync.hubs]]\nendpoint = \"tcp://h\($0):1\"\nkey = \"\(keyA)\"\n" }.joined(),
             ["9 hub endpoints are too many"]),
        ]
        for (sync, expected) in cases {
            let message = refusal(sync)
            for part in expected {
                #expect(message.contains(part), "\(sync)\n→ \(message)\nshould say: \(part)")
            }
        }
    }

    @Test func theEnvironmentsHubReplacesTheList() throws {
        let keyB = keyB
        let sync = try load("[[sync.hubs]]\nendpoint = \"tcp://hub-a:7700\"\nkey = \"\(keyA)\"\n[[sync.hubs]]\nendpoint = \"tcp://hub-b:7700\"\nkey = \"\(keyB)\"",
                            environment: ["SITESYNC_SYNC_HUB": "tcp://elsewhere:7700", "SITESYNC_SYNC_HUB_KEY": keyB.description]).sync
        #expect(sync.hubEndpoints == [.init(endpoint: "tcp://elsewhere:7700", key: keyB)])
    }

    @Test func aWrittenListReadsBackAndTrustHubLeavesItAlone() throws {
        var configuration = NodeConfiguration(name: "site-a", department: "roads", role: .field, durability: .off)
        let hubs: [NodeConfiguration.HubEndpoint] = [.init(endpoint: "tcp://hub-a:7700", key: keyA), .init(endpoint: "tcp://hub-b:7700", key: keyB)]
        try configuration.sync.setHubEndpoints(hubs)
        let node = try Node.initialize(at: directory.file("site-a"), configuration: configuration)
        #expect(try Node.open(at: node.dataDirectory, environment: [:]).configuration.sync.hubEndpoints == hubs)
        let refused = #expect(throws: NodeError.self) { try Node.trustHub(at: node.dataDirectory, key: keyA) }
        #expect(refused?.message.contains("[[sync.hubs]]") == true)
        // One endpoint is written as it always was.
        var single = NodeConfiguration(name: "site-b", department: "roads", role: .field, durability: .off)
        try single.sync.setHubEndpoints([hubs[0]])
        #expect(single.tomlText.contains("hub = \"tcp://hub-a:7700\"") && !single.tomlText.contains("[[sync.hubs]]"))
        // Two processes of different hubs are no list.
        #expect(throws: NodeError.self) {
            try single.sync.setHubEndpoints([hubs[0], .init(endpoint: "tcp://other:7700", key: NodeSecretKey.generate().publicKey)])
        }
    }

    @Test func aRoundStartsWithTheEndpointLastReachedThenTheOthersInOrder() throws {
        var configuration = NodeConfiguration(name: "site-a", department: "roads", role: .field, durability: .off)
        configuration.sync.insecure = true
        try configuration.sync.setHubEndpoints(["tcp://a:1", "tcp://b:1", "tcp://c:1"].map { .init(endpoint: $0) })
        let node = try Node.initialize(at: directory.file("site-a"), configuration: configuration)
        #expect(node.hubEndpointsInOrder().map(\.endpoint) == ["tcp://a:1", "tcp://b:1", "tcp://c:1"])
        func record(_ endpoint: String, ok: Bool, code: NetError.Code? = nil, at: UInt64) throws {
            var entry = SyncHistoryEntry(kind: .sync, startedMilliseconds: at - 10, endedMilliseconds: at, peer: ok ? "hub-1" : "", endpoint: endpoint, ok: ok)
            entry.errorCode = code?.rawValue
            try node.store.recordHistory(entry)
        }
        try record("tcp://a:1", ok: false, code: .unreachable, at: 1_000)
        try record("tcp://c:1", ok: true, at: 2_000)
        #expect(node.hubEndpointsInOrder().map(\.endpoint) == ["tcp://c:1", "tcp://a:1", "tcp://b:1"])
        #expect(try node.lastReachedHub() == HubContact(endpoint: "tcp://c:1", at: 2_000))
        // Not answering since does not make it any less the last reached; a refusal is an answer.
        try record("tcp://c:1", ok: false, code: .unreachable, at: 3_000)
        #expect(try node.lastReachedHub()?.endpoint == "tcp://c:1")
        try record("tcp://b:1", ok: false, code: .refused, at: 4_000)
        #expect(try node.lastReachedHub() == HubContact(endpoint: "tcp://b:1", at: 4_000))
        // A peer that is not the hub is no hub endpoint.
        try record("tcp://peer:1", ok: true, at: 5_000)
        #expect(node.hubEndpointsInOrder().first?.endpoint == "tcp://b:1")
        let status = try node.status()
        #expect(status.hubEndpoints == ["tcp://a:1", "tcp://b:1", "tcp://c:1"] && status.hubEndpoint == "tcp://b:1")
        #expect(status.lastReached?.endpoint == "tcp://b:1" && status.hubReachable == true)
    }

    @Test func onlyNoAnswerMovesARoundToTheNextEndpoint() {
        for code in [NetError.Code.unreachable, .silent, .zmq] {
            #expect(Node.movesToNextHub(NetError(code, "")), "\(code)")
        }
        let answers: [NetError] = [
            NetError(.refused, "", failure: .unavailable), NetError(.refused, "", failure: .forbidden), NetError(.keyRefused, ""),
            NetError(.keyRevoked, ""), NetError(.keyMismatch, ""), NetError(.incompatible, ""), NetError(.protocolViolation, ""),
            NetError(.store, ""), NetError(.newEpoch, ""), NetError(.security, ""), NetError(.badEndpoint, ""),
        ]
        for error in answers { #expect(!Node.movesToNextHub(error), "\(error.code)") }
    }
}
