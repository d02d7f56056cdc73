import Foundation
import SiteSyncCore
import TOMLKit

/// The node's secret keys: `node.key` in its data directory, readable by its owner only
/// (mode 0600), and never part of the database (restoring a database must not restore a key).
enum NodeKeyFile {
    static let name = "node.key"

    /// Writes fresh keys, readable by the owner only.
    static func create(at path: String) throws -> NodeSecretKey {
        let key = NodeSecretKey.generate()
        let text = """
            # SiteSync node keys. SECRET: keep this file readable by its owner only (mode 0600),
            # out of shared backups, and never send it anywhere. The public half is what
            # `sitesync keys show` prints.
            curve_secret = "\(Z85.encode(key.curveSecret))"
            signing_secret = "\(Z85.encode(key.signingSecret))"

            """
        // Created with mode 0600 from the start, so the secret is never readable by others.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw NodeError(.usage, "cannot create \(path) (\(String(cString: strerror(errno)))); check the directory's permissions")
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw NodeError(.usage, "cannot write \(path) (\(String(cString: strerror(errno)))); check free space")
        }
        return key
    }

    /// Reads the keys; `nil` when the file does not exist.
    /// - Throws: ``NodeError`` when the file is unreadable, damaged, or readable by others.
    static func load(at path: String) throws -> NodeSecretKey? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            throw NodeError(.configuration,
                "\(path) holds this node's secret keys but others can read it: run `chmod 600 \(path)`")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw NodeError(.configuration, "cannot read \(path); check its permissions")
        }
        guard let table = try? TOMLTable(string: text),
              let curve = table["curve_secret"]?.string.flatMap(Z85.decode),
              let signing = table["signing_secret"]?.string.flatMap(Z85.decode),
              let key = try? NodeSecretKey(curveSecret: curve, signingSecret: signing) else {
            throw NodeError(.configuration, "\(path) is damaged: it must hold curve_secret and signing_secret; restore it from the node's backup")
        }
        return key
    }
}
