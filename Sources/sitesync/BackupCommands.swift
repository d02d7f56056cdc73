import ArgumentParser
import Foundation
import SiteSyncNode

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent copy of the node's database to a file, while the node runs.",
        discussion: """
            Uses SQLite's backup API from one read snapshot, so the copy is consistent even while \
            `serve`, `run` or local writes go on. Keep node.key safe separately: a backup holds no \
            secret key. Bring a backup back with `sitesync restore`, never by copying the file over \
            the database (a copied-back database would reuse change ids; SiteSync detects that and \
            recovers, but restore does it cleanly).

            Example: sitesync backup --data-dir site-a --output /media/usb/site-a-2026-11-30.db
            """)
    @OptionGroup var node: NodeOptions
    @Option(help: ArgumentHelp("The backup file to write (must not exist).", valueName: "file")) var output: String

    func run() throws {
        let node = try node.open()
        let bytes = try node.backup(to: output)
        let counts = try node.store.counts()
        print("backed up \(node.configuration.name) to \(output): \(Terminal.bytes(bytes)), \(counts.changes) changes, \(counts.records) records")
    }
}

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Install a backup of this node, under a new replica id so no change id is ever reused.",
        discussion: """
            The node must be stopped (no `serve` or `run` on it). The backup is checked to be this \
            node's, installed, and given a new replica epoch before anything is written: changes the \
            node made after the backup was taken, and had sent, come back from the hub at the next \
            sync (under their old id); new work goes under the new one. The database it replaces is \
            kept beside it (sitesync.db.replaced-TIME), never deleted.

            A hub whose store is PostgreSQL is restored with PostgreSQL's own tools; then \
            `sitesync restore --from-store` at one of its processes builds that process's working \
            copy again from the database and gives the hub its new epoch (docs/postgresql.md).

            Example: sitesync restore --data-dir site-a /media/usb/site-a-2026-11-30.db
            """)
    @OptionGroup var node: NodeOptions
    @Argument(help: ArgumentHelp("The backup file (what `sitesync backup` wrote).", valueName: "file")) var file: String?
    @Flag(help: "At a hub whose store is PostgreSQL, restored from a backup: build this process's working copy again from the database, under a new epoch.")
    var fromStore = false

    func validate() throws {
        if fromStore == (file != nil) {
            throw ValidationError(fromStore ? "--from-store takes no backup file: the database is the backup"
                                            : "give the backup file to restore (what `sitesync backup` wrote)")
        }
    }

    func run() throws {
        if fromStore {
            let summary = try Node.restoreFromStore(at: node.path)
            print("rebuilt \(node.path)'s working copy from the hub's database: \(summary.changes) changes; replica "
                  + "\(summary.previousReplica) → \(summary.replica) (epoch \(summary.epoch))")
            if let replaced = summary.replacedDatabase { print("the copy it replaced is kept as \(replaced)") }
            print("start the hub's processes; nodes send again what the restored database lacks at their next sync")
            return
        }
        guard let file else { return }
        let summary = try Node.restore(at: node.path, from: file)
        print("restored \(node.path) from \(file): \(summary.changes) changes; replica \(summary.previousReplica) → \(summary.replica) "
              + "(epoch \(summary.epoch))")
        if let replaced = summary.replacedDatabase {
            print("the database it replaced is kept as \(replaced); delete it once the node has synced")
        }
        print("sync now: what this node sent after the backup comes back from the hub")
    }
}
