import Foundation
import SiteSyncCore
@testable import SiteSyncDomain
import SiteSyncNode
import SiteSyncStore
import SiteSyncTestSupport
import Testing

/// API tokens and the writes made on their behalf: a token authenticates by its secret, of
/// which only the hash is kept; it acts as a node of its role and department, never beyond the
/// node serving it; and a write request retried under its idempotency key writes once.
@Suite struct ApiTokenTests {
    static let today = CalendarDate("2026-11-30")!

    static func node(_ root: TemporaryDirectory, _ name: String, _ role: Role, _ department: String) throws -> Node {
        try Node.initialize(at: root.path + "/" + name,
                            configuration: NodeConfiguration(name: name, department: department, role: role, durability: .off))
    }

    /// A hub holding two departments' plans: roads (project p1, activity a1, KPI k1) and water
    /// (project p2, activity a2, KPI k2).
    static func hub(_ root: TemporaryDirectory) throws -> Node {
        let hub = try node(root, "hub", .hub, "office")
        try hub.writeEntry("department", id: "roads", ["name=Roads"])
        try hub.writeEntry("department", id: "water", ["name=Water"])
        try hub.writeEntry("project", id: "p1", ["code=R-101", "name=Ring road", "department=roads", "budget=400000"])
        try hub.writeEntry("project", id: "p2", ["code=W-201", "name=Main pipe", "department=water", "budget=900000"])
        try hub.writeEntry("activity", id: "a1", ["project=p1", "name=Kerbs", "budget=100000", "budget_quantity=800", "unit=m",
                                                  "ev_method=units"])
        try hub.writeEntry("activity", id: "a2", ["project=p2", "name=Trench", "budget=300000", "ev_method=manual"])
        try hub.writeEntry("kpi", id: "k1", ["project=p1", "name=Pass rate", "direction=higher_better", "baseline=80", "target=98"])
        try hub.writeEntry("kpi", id: "k2", ["project=p2", "name=Leaks", "direction=lower_better", "baseline=10", "target=0"])
        return hub
    }

    static func changeCount(_ node: Node) throws -> Int { try node.store.counts().changes }

    static func count(_ node: Node, _ table: String) throws -> Int {
        Int(try node.store.rows([("SELECT count(*) FROM \(table)", [])])[0][0][0] ?? "0") ?? 0
    }

    /// A cost request for `token`, as the HTTP layer would make it.
    static func postCost(_ node: Node, _ token: ApiToken, key: String?, activity: String = "a1", amount: String = "1250.50")
        throws -> (status: Int, response: String, replayed: Bool) {
        let body = Array("{\"activity\":\"\(activity)\",\"amount\":\"\(amount)\"}".utf8)
        return try IntegrationWrites.perform(node, token: token, idempotencyKey: key,
                                             requestHash: IntegrationWrites.requestHash(method: "POST", path: "/v1/costs", body: body)) {
            let cost = try node.recordCost(activity: activity, date: today, amount: amount, today: today, as: token.writer)
            return (201, "{\"id\":\"\(cost.id)\"}")
        }
    }

    // MARK: - Tokens

    @Test func aTokenAuthenticatesByItsSecretUntilRevoked() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let made = try ApiTokens.create(hub, name: "finance", role: .office, department: nil, readOnly: false)
        #expect(made.secret.hasPrefix("sst_") && made.secret.count == 4 + 43, "sst_ and 32 bytes of base64url: \(made.secret.count)")
        #expect(!made.secret.contains("+") && !made.secret.contains("/") && !made.secret.contains("="))
        #expect(try ApiTokens.authenticate(hub, bearer: made.secret) == made.token)
        #expect(try ApiTokens.authenticate(hub, bearer: "Bearer " + made.secret) == made.token)
        #expect(try ApiTokens.authenticate(hub, bearer: PeopleTests.nearMiss(made.secret)) == nil, "a near miss")
        #expect(try ApiTokens.authenticate(hub, bearer: "") == nil)
        let other = try ApiTokens.create(hub, name: "kpi-roads", role: .field, department: "roads", readOnly: false)
        #expect(other.secret != made.secret)
        #expect(try ApiTokens.authenticate(hub, bearer: other.secret)?.scopeDepartment == "roads")
        #expect(made.token.scopeDepartment == nil, "an office token reads the whole city")

        #expect(throws: StoreError.self, "names are unique") {
            try ApiTokens.create(hub, name: "finance", role: .auditor, department: nil, readOnly: true)
        }
        let revoked = try ApiTokens.revoke(hub, name: "finance")
        #expect(revoked.isRevoked)
        #expect(try ApiTokens.authenticate(hub, bearer: made.secret) == nil, "a revoked token authenticates nothing")
        #expect(try ApiTokens.authenticate(hub, bearer: other.secret)?.name == "kpi-roads", "the other token still works")
        #expect(try ApiTokens.list(hub).map { "\($0.name):\($0.isRevoked)" } == ["finance:true", "kpi-roads:false"])
        #expect(throws: NodeError.self) { try ApiTokens.revoke(hub, name: "nobody") }
    }

    /// The database keeps the secret's hash, never the secret: the file's bytes (and its
    /// write-ahead log's) hold the one and not the other.
    @Test func onlyTheSecretsHashIsStored() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let made = try ApiTokens.create(hub, name: "finance", role: .office, department: nil, readOnly: false)
        let path = hub.store.path
        var bytes = Data()
        for file in [path, path + "-wal"] { bytes += (FileManager.default.contents(atPath: file) ?? Data()) }
        #expect(bytes.range(of: Data(made.secret.utf8)) == nil, "the secret is in the database file")
        #expect(bytes.range(of: Data(made.secret.dropFirst(4).prefix(20).utf8)) == nil, "part of the secret is in the database file")
        #expect(bytes.range(of: Data(ApiTokens.hash(made.secret).utf8)) != nil, "its hash is what authenticates it")
    }

    /// The tokens are this node's own: no change is written for them, and the digest other
    /// replicas compare stays as it was.
    @Test func tokensAreNotReplicatedData() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let before = (try Self.changeCount(hub), try hub.store.digest())
        let token = try ApiTokens.create(hub, name: "finance", role: .office, department: nil, readOnly: false).token
        try ApiTokens.revoke(hub, name: token.name)
        #expect(try Self.changeCount(hub) == before.0)
        #expect(try hub.store.digest() == before.1)
    }

    /// A node restored from its backup keeps its tokens (the backup copies the whole file).
    @Test func aRestoredBackupKeepsItsTokens() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let made = try ApiTokens.create(hub, name: "finance", role: .office, department: nil, readOnly: false)
        let backup = root.path + "/hub.backup"
        _ = try hub.backup(to: backup)
        try ApiTokens.revoke(hub, name: "finance")
        try hub.store.close()
        _ = try Node.restore(at: hub.dataDirectory, from: backup, environment: [:])
        let restored = try Node.open(at: hub.dataDirectory, environment: [:])
        #expect(try ApiTokens.authenticate(restored, bearer: made.secret) == made.token, "as the backup held it: not yet revoked")
    }

    @Test func aTokenNeverGoesBeyondItsRoleOrTheNodeServingIt() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        #expect(throws: NodeError.self, "no hub tokens") { try ApiTokens.create(hub, name: "t1", role: .hub, department: nil, readOnly: false) }
        #expect(throws: NodeError.self, "a field token needs its department") {
            try ApiTokens.create(hub, name: "t2", role: .field, department: nil, readOnly: false)
        }
        #expect(throws: NodeError.self, "an office token has no department") {
            try ApiTokens.create(hub, name: "t3", role: .office, department: "roads", readOnly: false)
        }
        #expect(throws: NodeError.self, "a name must be typeable") {
            try ApiTokens.create(hub, name: "two words", role: .office, department: nil, readOnly: false)
        }

        let department = try Self.node(root, "roads-office", .department, "roads")
        let office = #expect(throws: NodeError.self) {
            try ApiTokens.create(department, name: "finance", role: .office, department: nil, readOnly: false)
        }
        #expect(office?.message.contains("may make field or department tokens of roads only, not an office token") == true,
                "the refusal says what this node may make: \(office?.message ?? "")")
        #expect(throws: NodeError.self, "another department's token") {
            try ApiTokens.create(department, name: "water", role: .field, department: "water", readOnly: false)
        }
        #expect(throws: NodeError.self, "a department node makes no auditor tokens (it holds one department)") {
            try ApiTokens.create(department, name: "audit", role: .auditor, department: nil, readOnly: true)
        }
        _ = try ApiTokens.create(department, name: "crew", role: .field, department: "roads", readOnly: false)
        _ = try ApiTokens.create(department, name: "clerk", role: .department, department: "roads", readOnly: false)

        let field = try Self.node(root, "site", .field, "roads")
        #expect(throws: NodeError.self, "a field node makes no department tokens") {
            try ApiTokens.create(field, name: "clerk", role: .department, department: "roads", readOnly: false)
        }
        #expect(try ApiTokens.list(field).isEmpty)
        #expect(try ApiTokens.list(department).map(\.name) == ["crew", "clerk"])
    }

    // MARK: - Writes on behalf of a token

    /// A roads token writes nothing into water: not a cost or progress on its activity, nor a
    /// reading of its KPI, nor a risk pointing at its project. Each is refused whole.
    @Test func aDepartmentTokenCannotWriteAnotherDepartmentsRecords() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let token = try ApiTokens.create(hub, name: "kpi-roads", role: .field, department: "roads", readOnly: false).token
        let before = try Self.changeCount(hub)

        let cost = #expect(throws: CoreError.self) { try Self.postCost(hub, token, key: "c1", activity: "a2") }
        #expect(cost?.code == .permissionDenied && cost?.message.contains("water") == true, "\(cost?.message ?? "")")
        #expect(ApiProblem(try #require(cost)).status == 403)
        #expect(throws: CoreError.self) {
            try hub.recordProgress(ProgressEntry(activity: "a2", percent: "40", date: Self.today), today: Self.today, as: token.writer)
        }
        #expect(throws: CoreError.self) { try hub.recordKPIReading(kpi: "k2", period: "2026-11", value: "3", as: token.writer) }
        #expect(throws: CoreError.self, "a reference into water") {
            try hub.writeEntry("risk", ["project=p2", "title=Flood", "probability=3", "impact=3", "raised_on=2026-11-02"], as: token.writer)
        }
        let plan = #expect(throws: CoreError.self, "plan fields are the office's") {
            try hub.importPlan(csv: "project_code,project_name,department,activity\nR-101,Ring road,roads,Kerbs\n", as: token.writer)
        }
        #expect(plan?.code == .permissionDenied && plan?.message.hasPrefix("line 2: ") == true, "\(plan?.message ?? "")")
        #expect(try Self.changeCount(hub) == before, "nothing was written")
        #expect(try Self.count(hub, "cost_entry") == 0 && Self.count(hub, "percent_entry") == 0 && Self.count(hub, "kpi_reading") == 0)
        #expect(try hub.store.apiRequests().isEmpty, "a refused request leaves no record")

        // Its own department it may write.
        _ = try hub.recordProgress(ProgressEntry(activity: "a1", quantity: "12.5m", date: Self.today), today: Self.today, as: token.writer)
        _ = try hub.recordKPIReading(kpi: "k1", period: "2026-11", value: "91", as: token.writer)
        #expect(try Self.count(hub, "quantity_entry") == 1 && Self.count(hub, "kpi_reading") == 1)
    }

    @Test func aReadOnlyOrAuditorTokenWritesNothing() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let readOnly = try ApiTokens.create(hub, name: "dashboard", role: .office, department: nil, readOnly: true).token
        let auditor = try ApiTokens.create(hub, name: "audit", role: .auditor, department: nil, readOnly: false).token
        let before = try Self.changeCount(hub)
        for token in [readOnly, auditor] {
            let refusal = #expect(throws: ApiRefusal.self) { try Self.postCost(hub, token, key: nil) }
            #expect(refusal?.code == .forbidden && refusal?.status == 403)
            // Its writer identity writes nothing either, should a write be made for it directly.
            #expect(throws: CoreError.self) { try hub.recordCost(activity: "a1", date: Self.today, amount: "5", today: Self.today, as: token.writer) }
        }
        #expect(try Self.changeCount(hub) == before)
        #expect(try Self.count(hub, "cost_entry") == 0)
    }

    /// A token made at a department node writes as that node may; an identity beyond the node
    /// (an office's, which a token could not be made with here) is refused at write time too.
    @Test func aWriteAsAnIdentityBeyondTheNodeIsRefused() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let beyond = #expect(throws: CoreError.self) {
            try Self.node(root, "roads-office", .department, "roads")
                .writeEntry("department", id: "parks", ["name=Parks"], as: WriterIdentity(role: .office, department: "roads"))
        }
        #expect(beyond?.code == .permissionDenied, "\(beyond?.message ?? "")")
        #expect(try hub.planner(as: WriterIdentity(role: .office, department: "")).writer == WriterIdentity(role: .office, department: "office"),
                "a city-wide identity takes the node's department where a record takes its writer's")
    }

    /// A POST retried with its Idempotency-Key is answered again from its record and counts once.
    @Test func aRetriedRequestWritesOnce() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let token = try ApiTokens.create(hub, name: "finance", role: .field, department: "roads", readOnly: false).token
        let before = try Self.changeCount(hub)
        let first = try Self.postCost(hub, token, key: "7f8e-01")
        #expect(first.status == 201 && !first.replayed)
        #expect(try Self.changeCount(hub) == before + 1)
        let again = try Self.postCost(hub, token, key: "7f8e-01")
        #expect(again.replayed && again.status == 201 && again.response == first.response)
        #expect(try Self.changeCount(hub) == before + 1, "the retry wrote nothing")
        #expect(try Self.count(hub, "cost_entry") == 1)
        // Without a key, the same request is a new cost.
        _ = try Self.postCost(hub, token, key: nil)
        #expect(try Self.count(hub, "cost_entry") == 2)
        // The key is the token's own: another token's same key is another request.
        let other = try ApiTokens.create(hub, name: "finance-2", role: .office, department: nil, readOnly: false).token
        #expect(try !Self.postCost(hub, other, key: "7f8e-01").replayed)
        #expect(try Self.count(hub, "cost_entry") == 3)
    }

    @Test func aKeyReusedForAnotherRequestIsRefused() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let token = try ApiTokens.create(hub, name: "finance", role: .office, department: nil, readOnly: false).token
        _ = try Self.postCost(hub, token, key: "k-1", amount: "100")
        let before = try Self.changeCount(hub)
        let refusal = #expect(throws: ApiRefusal.self) { try Self.postCost(hub, token, key: "k-1", amount: "200") }
        #expect(refusal?.code == .idempotencyKeyReused)
        #expect(refusal.map { ApiProblem($0) }?.status == 422)
        #expect(refusal?.message.contains("this Idempotency-Key was used for a different request") == true)
        #expect(try Self.changeCount(hub) == before)
        #expect(try Self.count(hub, "cost_entry") == 1)
        #expect(throws: FieldProblem.self, "a key with a space") { try Self.postCost(hub, token, key: "two words") }
    }

    /// Each write request is recorded against its token with the changes it wrote (with a key
    /// or without), in the same transaction: when the request fails half-way, neither is kept.
    @Test func theChangesATokenWritesAreRecordedAgainstIt() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        let token = try ApiTokens.create(hub, name: "crew-app", role: .field, department: "roads", readOnly: false).token
        let hash = IntegrationWrites.requestHash(method: "POST", path: "/v1/progress", body: Array("{}".utf8))
        let answer = try IntegrationWrites.perform(hub, token: token, idempotencyKey: nil, requestHash: hash) {
            let outcome = try hub.recordProgress(ProgressEntry(activity: "a1", quantity: "20", date: Self.today),
                                                 today: Self.today, as: token.writer)
            #expect(outcome.installed == ExactDecimal(20), "the outcome sees the entry written in the request's transaction")
            return (201, "{\"changes\":\(outcome.changes)}")
        }
        #expect(answer.response == "{\"changes\":2}", "the quantity, and the activity now in progress")
        let records = try hub.store.apiRequests(token: "crew-app")
        let record = try #require(records.first)
        #expect(records.count == 1 && record.idempotencyKey == nil && record.requestSHA256 == hash && record.status == 201)
        let replica = hub.store.identity.replica
        let last = try hub.store.knowledge()[replica]
        #expect(record.changes == (last - 1...last).map { Dot(replica: replica, counter: $0) }, "the two changes it wrote")

        // A request that fails after writing keeps neither its writes nor its record.
        let before = try Self.changeCount(hub)
        #expect(throws: FieldProblem.self) {
            try IntegrationWrites.perform(hub, token: token, idempotencyKey: "k", requestHash: hash) {
                try hub.recordCost(activity: "a1", date: Self.today, amount: "10", today: Self.today, as: token.writer)
                try hub.recordCost(activity: "a1", date: Self.today, amount: "-10", today: Self.today, as: token.writer)
                return (201, "")
            }
        }
        #expect(try Self.changeCount(hub) == before && Self.count(hub, "cost_entry") == 0)
        #expect(try hub.store.apiRequests().count == 1)
    }

    /// Bad input is named by its field, and nothing is stored.
    @Test func badInputNamesItsField() throws {
        let root = TemporaryDirectory()
        let hub = try Self.hub(root)
        func field(_ body: () throws -> Void) -> String? { (#expect(throws: FieldProblem.self) { try body() })?.field }
        #expect(field { try hub.recordCost(activity: "a1", date: Self.today, amount: "12,5", today: Self.today) } == "amount")
        #expect(field { try hub.recordCost(activity: "a1", date: Self.today, amount: "0", today: Self.today) } == "amount")
        #expect(field { try hub.recordCost(activity: "nothing", date: Self.today, amount: "5", today: Self.today) } == "activity")
        #expect(field { try hub.recordCost(activity: "a1", date: CalendarDate("2026-12-01")!, amount: "5", today: Self.today) } == "date")
        #expect(field { try hub.recordKPIReading(kpi: "k1", period: "2026-13", value: "5") } == "period")
        #expect(field { try hub.recordKPIReading(kpi: "k1", period: "2026-11", value: "many") } == "value")
        #expect(field { try hub.recordKPIReading(kpi: "nothing", period: "2026-11", value: "5") } == "kpi")
        #expect(field { _ = try hub.recordProgress(ProgressEntry(activity: "a1", quantity: "3 t", date: Self.today), today: Self.today) } == "quantity")
        #expect(try Self.count(hub, "cost_entry") == 0 && Self.count(hub, "kpi_reading") == 0 && Self.count(hub, "quantity_entry") == 0)
    }
}
