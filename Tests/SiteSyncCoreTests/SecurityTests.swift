import Testing
@testable import SiteSyncCore

@Suite struct SecurityTests {
    @Test func z85MatchesTheRFCTestVectorAndRoundTrips() {
        // ZeroMQ RFC 32's example.
        #expect(Z85.encode([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]) == "HelloWorld")
        #expect(Z85.decode("HelloWorld") == [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])
        let key = NodeSecretKey.generate().publicKey
        #expect(NodePublicKey(text: key.description) == key)
        #expect(key.description.count == 80)
        #expect(Z85.decode("Hello World") == nil)
        #expect(Z85.decode("Hell\"") == nil)
        #expect(NodePublicKey(text: String(key.description.dropLast())) == nil)
    }

    @Test func aReplicaIdIsItsKeysAndNoOneElsesToClaim() {
        let key = NodeSecretKey.generate(), other = NodeSecretKey.generate()
        let credential = ReplicaCredential.issue(node: "site-a", signingKey: key.publicKey.signing)
        #expect(credential.isValid)
        #expect(ReplicaCredential.issue(node: "site-a", signingKey: key.publicKey.signing).replica != credential.replica,
                "each replica of a node gets its own id")
        // Another key claiming the id, or the same key with another salt, does not check out.
        #expect(!ReplicaCredential(replica: credential.replica, node: "site-a", signingKey: other.publicKey.signing, salt: credential.salt).isValid)
        #expect(!ReplicaCredential(replica: credential.replica, node: "site-a", signingKey: key.publicKey.signing, salt: [1, 2, 3, 4, 5, 6, 7, 8]).isValid)
    }

    /// A chain of `count` changes of one origin with a seal at the end.
    static func chain(count: Int, key: NodeSecretKey) -> (entries: [ChainEntry], proof: BatchProof) {
        let credential = ReplicaCredential.issue(node: "site-a", signingKey: key.publicKey.signing)
        let chain = ChainKey(origin: credential.replica, department: "roads")
        var link = ChainHash.genesis
        var entries: [ChainEntry] = []
        for counter in 1...UInt64(count) {
            let entry = ChainEntry(dot: Dot(replica: credential.replica, counter: counter), department: "roads",
                                   payloadHash: .of(payload: Array("change \(counter)".utf8)))
            link = ChainHash.link(after: link, dot: entry.dot, payloadHash: entry.payloadHash)
            entries.append(entry)
        }
        let seal = Seal.make(chain: chain, counter: UInt64(count), link: link, key: key)
        return (entries, BatchProof(starts: [ChainStart(chain: chain, counter: 0, link: .genesis)], seals: [seal], credentials: [credential]))
    }

    @Test func aSealedChainChecksOutAndAnyAlterationDoesNot() throws {
        let key = NodeSecretKey.generate()
        let (entries, proof) = Self.chain(count: 5, key: key)
        #expect(try ChainVerifier.links(of: entries, proof: proof).count == 5)
        #expect(try ChainVerifier.links(of: entries.shuffled(), proof: proof).count == 5, "order within a batch is free; the chain orders")

        func refused(_ entries: [ChainEntry], _ proof: BatchProof) -> Bool {
            do { _ = try ChainVerifier.links(of: entries, proof: proof); return false } catch { return error.code == .badSignature }
        }
        var altered = entries
        altered[2] = ChainEntry(dot: entries[2].dot, department: "roads", payloadHash: .of(payload: Array("forged".utf8)))
        #expect(refused(altered, proof), "an altered change")
        #expect(refused(Array(entries.dropLast()), proof), "a change withheld from the end")
        #expect(refused(entries.enumerated().filter { $0.offset != 2 }.map(\.element), proof), "a change removed from the middle")
        #expect(refused(entries, BatchProof(starts: proof.starts, seals: [], credentials: proof.credentials)), "no seal")
        let forgedSeal = Seal.make(chain: proof.seals[0].chain, counter: 5, link: proof.seals[0].link, key: NodeSecretKey.generate())
        #expect(refused(entries, BatchProof(starts: proof.starts, seals: [forgedSeal], credentials: proof.credentials)), "a seal by another key")
        let otherCredential = ReplicaCredential.issue(node: "mallory", signingKey: NodeSecretKey.generate().publicKey.signing)
        #expect(refused(entries, BatchProof(starts: proof.starts, seals: proof.seals, credentials: [otherCredential])), "no key for the origin")
        let fake = ReplicaCredential(replica: proof.credentials[0].replica, node: "mallory",
                                     signingKey: NodeSecretKey.generate().publicKey.signing, salt: proof.credentials[0].salt)
        #expect(refused(entries, BatchProof(starts: proof.starts, seals: proof.seals, credentials: [fake])), "a key that does not make the id")
        #expect(refused(entries + [entries[0]], proof), "a change repeated")
        // Seals before the end travel too (the receiver keeps them to cut its own pages there):
        // each is checked like the last.
        let link3 = try ChainVerifier.links(of: entries, proof: proof)[entries[2].dot]!
        let middle = Seal.make(chain: proof.seals[0].chain, counter: 3, link: link3, key: key)
        #expect(try ChainVerifier.links(of: entries, proof: BatchProof(starts: proof.starts, seals: [middle] + proof.seals,
                                                                       credentials: proof.credentials)).count == 5)
        let wrongMiddle = Seal.make(chain: proof.seals[0].chain, counter: 3, link: proof.seals[0].link, key: key)
        #expect(refused(entries, BatchProof(starts: proof.starts, seals: [wrongMiddle] + proof.seals, credentials: proof.credentials)),
                "a seal before the end that does not match its change")
        let elsewhere = Seal.make(chain: ChainKey(origin: proof.seals[0].chain.origin, department: "water"), counter: 5,
                                  link: proof.seals[0].link, key: key)
        #expect(refused(entries, BatchProof(starts: proof.starts, seals: proof.seals + [elsewhere], credentials: proof.credentials)),
                "a seal for a chain the batch does not hold")
    }

    @Test(arguments: [
        // role, its department, collection, change department, written field, refusal
        (Role.field, "roads", "project", "roads", "budget", RefusalCode?.some(.planField)),
        (.field, "roads", "project", "water", "stage", .forbiddenDepartment),
        (.field, "roads", "activity", "roads", "remarks", nil),
        (.office, "office", "activity", "roads", "percent_complete", .invalidValue),
        (.field, "roads", "department", "", "name", .hubOwned),
        (.field, "roads", "daily_log", "roads", "status=approved", .approval),
        (.department, "roads", "daily_log", "roads", "status=approved", nil),
        (.office, "office", "project", "water", "budget", nil),
        (.office, "office", "department", "", "name", nil),
        (.auditor, "audit", "activity", "roads", "remarks", .readOnly),
    ])
    func whoMayWriteWhatFollowsTheRoleOfTheOrigin(role: Role, home: String, collection: String, department: String, field: String,
                                                 refusal: RefusalCode?) throws {
        let schema = Schema.siteSync
        let spec = schema.collection(named: collection)!
        let (name, state) = field.contains("=") ? (String(field.split(separator: "=")[0]), String(field.split(separator: "=")[1])) : (field, "")
        let fieldSpec = spec.field(named: name)!
        let value: FieldValue = state.isEmpty ? .text("x") : .symbol(state)
        let change = Change(dot: Dot(replica: ReplicaID(rawValue: 7), counter: 1), hlc: HLCTimestamp(rawValue: 1),
                            record: RecordKey(collection: spec.code, id: "r1"), department: department, context: VersionVector(),
                            body: .upsert([.assign(fieldSpec.code, value)]))
        let writer = WriterIdentity(role: role, department: home)
        #expect(try WritePolicy.refusal(for: change, by: writer, held: Self.held(change.record, department), schema: schema)?.code == refusal)
    }

    /// A record as a receiver holds it: seen before, of `department`.
    static func held(_ key: RecordKey, _ department: String) -> RecordState {
        RecordState(key: key, department: department, context: VersionVector([(ReplicaID(rawValue: 9), UInt64(1))]), versions: [],
                    tombstones: [])
    }

    @Test func aChangeClaimingAnotherDepartmentThanItsRecordsIsRefusedEvenFromTheOffice() throws {
        let schema = Schema.siteSync
        let project = schema.collection(named: "project")!
        let change = Change(dot: Dot(replica: ReplicaID(rawValue: 7), counter: 1), hlc: HLCTimestamp(rawValue: 1),
                            record: RecordKey(collection: project.code, id: "p1"), department: "roads", context: VersionVector(),
                            body: .upsert([.assign(project.field(named: "stage")!.code, .symbol("execution"))]))
        let office = WriterIdentity(role: .office, department: "office")
        #expect(try WritePolicy.refusal(for: change, by: office, held: Self.held(change.record, "water"), schema: schema)?.code == .forbiddenDepartment)
        #expect(try WritePolicy.refusal(for: change, by: office, held: Self.held(change.record, "roads"), schema: schema) == nil)
    }

    @Test func onlyTheHubsListIsTheLastWordOnAnOriginItDoesNotKnow() throws {
        let change = Change(dot: Dot(replica: ReplicaID(rawValue: 7), counter: 1), hlc: HLCTimestamp(rawValue: 1),
                            record: RecordKey(collection: 3, id: "a1"), department: "roads", context: VersionVector(), body: .delete)
        let hub = ChangeAuthorizer(writers: [:], authoritative: true), node = ChangeAuthorizer(writers: [:], authoritative: false)
        #expect(try hub.refusal(for: change, held: nil, schema: .siteSync)?.code == .foreignActor)
        #expect(try node.refusal(for: change, held: nil, schema: .siteSync) == nil)
    }
}

/// Every reference field of the schema, pointing at a record of its own department, of another,
/// and of shared reference data: only the other department is refused, for every role.
@Suite struct ReferencePolicyTests {
    @Test func everyReferenceIsAuthorizedByTheDepartmentOfItsTarget() throws {
        var checked = 0
        for collection in Schema.siteSync.collections {
            for field in collection.fields {
                guard case .ref(let target) = field.type else { continue }
                for (targetDepartment, refused) in [("roads", false), ("water", true), ("", false)] {
                    let change = Change(dot: Dot(replica: ReplicaID(rawValue: 9), counter: 1), hlc: HLCTimestamp(rawValue: 1),
                                        record: RecordKey(collection: collection.code, id: "r1"), department: "roads",
                                        context: VersionVector(), body: .upsert([.assign(field.code, .ref("t1"))]))
                    let targets = ReferencePolicy.targets(of: change, schema: .siteSync)
                    if target == "department" {
                        #expect(targets.isEmpty, "\(collection.name).\(field.name) points at the tree of departments")
                        continue
                    }
                    let found = try #require(targets.first, "\(collection.name).\(field.name)")
                    #expect(found.field == field.name && found.key.id == "t1")
                    let refusal = ReferencePolicy.refusal(change.dot, what: "\(collection.name) r1", field: field.name, target: target,
                                                          targetID: "t1", department: change.department, targetDepartment: targetDepartment)
                    #expect((refusal?.code == .forbiddenDepartment) == refused, "\(collection.name).\(field.name) → \(targetDepartment)")
                    checked += 1
                }
            }
        }
        #expect(checked >= 30, "every reference field, three ways: \(checked)")
    }
}
