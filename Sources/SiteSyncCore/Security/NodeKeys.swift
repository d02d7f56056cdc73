import Crypto

/// A node's public key as operators pass it around (`sitesync keys show`, `keys allow --key`,
/// `init --hub-key`): its CURVE public key, which authenticates the node's connections, and its
/// Ed25519 public key, which verifies the changes it signs — 64 bytes, written as 80 Z85
/// characters.
public struct NodePublicKey: Hashable, Sendable, CustomStringConvertible {
    /// The CURVE (X25519) public key, 32 bytes.
    public let curve: [UInt8]
    /// The Ed25519 public key, 32 bytes.
    public let signing: [UInt8]

    public init(curve: [UInt8], signing: [UInt8]) {
        precondition(curve.count == 32 && signing.count == 32)
        self.curve = curve
        self.signing = signing
    }

    /// Parses the 80-character form; `nil` when it is not one.
    public init?(text: String) {
        guard text.utf8.count == 80, let bytes = Z85.decode(text) else { return nil }
        curve = Array(bytes[0..<32])
        signing = Array(bytes[32..<64])
    }

    /// Parses the 80-character form, or explains what is wrong with `text`.
    public static func parse(_ text: String, what: String = "key") throws(CoreError) -> NodePublicKey {
        let trimmed = String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        guard let key = NodePublicKey(text: trimmed) else {
            throw CoreError(.invalidValue,
                "'\(trimmed.prefix(90))' is not a SiteSync \(what): it must be the 80 characters `sitesync keys show` prints")
        }
        return key
    }

    /// The 80 Z85 characters.
    public var description: String { Z85.encode(curve + signing) }

    /// The CURVE public key alone, as libzmq's socket options take it (40 Z85 characters).
    public var curveText: String { Z85.encode(curve) }

    /// A short form for messages and listings.
    public var fingerprint: String { String(description.prefix(12)) }
}

/// A node's secret keys: the CURVE secret key and the Ed25519 signing key. They live in the
/// node's key file (mode 0600), never in its database.
public struct NodeSecretKey: Sendable {
    /// The CURVE (X25519) secret key, 32 bytes.
    public let curveSecret: [UInt8]
    /// The Ed25519 secret key, 32 bytes.
    public let signingSecret: [UInt8]
    public let publicKey: NodePublicKey
    /// The signing key as made once: making it from the secret derives its public half, which
    /// cost as much as the signature itself on every local write. (Unchecked for `Sendable`:
    /// the key is immutable, and BoringSSL signs with it from any thread.)
    nonisolated(unsafe) private let signer: Curve25519.Signing.PrivateKey

    /// Fresh keys from the system's random source.
    public static func generate() -> NodeSecretKey {
        let curve = Curve25519.KeyAgreement.PrivateKey()
        // Both are valid raw keys by construction.
        return try! NodeSecretKey(curveSecret: Array(curve.rawRepresentation),
                                  signingSecret: Array(Curve25519.Signing.PrivateKey().rawRepresentation))
    }

    /// Keys from their raw 32-byte secrets.
    public init(curveSecret: [UInt8], signingSecret: [UInt8]) throws(CoreError) {
        guard curveSecret.count == 32, signingSecret.count == 32,
              let curve = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: curveSecret),
              let signing = try? Curve25519.Signing.PrivateKey(rawRepresentation: signingSecret) else {
            throw CoreError(.invalidValue, "the key file does not hold two 32-byte secret keys")
        }
        self.curveSecret = curveSecret
        self.signingSecret = signingSecret
        self.signer = signing
        self.publicKey = NodePublicKey(curve: Array(curve.publicKey.rawRepresentation),
                                       signing: Array(signing.publicKey.rawRepresentation))
    }

    /// An Ed25519 signature of `message`, 64 bytes.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        // Signing with a valid key cannot fail (the key was checked when this value was made).
        Array(try! signer.signature(for: message))
    }

    /// Whether `signature` is `key`'s Ed25519 signature of `message`.
    public static func verify(_ signature: [UInt8], of message: [UInt8], by key: [UInt8]) -> Bool {
        guard let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key) else { return false }
        return publicKey.isValidSignature(signature, for: message)
    }
}

/// The proof that a replica belongs to a signing key: a replica id is the first 8 bytes of
/// SHA-256 over the key and a random salt, so a replica's changes can be checked against its key
/// by anyone, and no other key can claim the id without about 2^64 work.
public struct ReplicaCredential: Hashable, Sendable {
    public let replica: ReplicaID
    /// The node behind the replica, as it calls itself (checked against the allow-list).
    public let node: String
    /// The Ed25519 public key the replica signs with, 32 bytes.
    public let signingKey: [UInt8]
    /// 8 random bytes, fresh for each replica of the node.
    public let salt: [UInt8]

    public init(replica: ReplicaID, node: String, signingKey: [UInt8], salt: [UInt8]) {
        self.replica = replica
        self.node = node
        self.signingKey = signingKey
        self.salt = salt
    }

    /// A new replica of the node holding `signingKey`.
    public static func issue(node: String, signingKey: [UInt8], salt: [UInt8]? = nil) -> ReplicaCredential {
        var salt = salt ?? []
        var generator = SystemRandomNumberGenerator()
        while true {
            if salt.count != 8 { salt = (0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) } }
            if let replica = replicaID(signingKey: signingKey, salt: salt) {
                return ReplicaCredential(replica: replica, node: node, signingKey: signingKey, salt: salt)
            }
            salt = []
        }
    }

    /// Whether the replica id is the one the key and salt make.
    public var isValid: Bool {
        signingKey.count == 32 && salt.count == 8 && Self.replicaID(signingKey: signingKey, salt: salt) == replica
    }

    static func replicaID(signingKey: [UInt8], salt: [UInt8]) -> ReplicaID? {
        var hasher = SHA256()
        hasher.update(data: Array("sitesync/replica/v1".utf8))
        hasher.update(data: signingKey)
        hasher.update(data: salt)
        let value = Array(hasher.finalize()).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return value == 0 ? nil : ReplicaID(rawValue: value)
    }
}
