import ArgumentParser
import Foundation
import SiteSyncNode

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check that nothing in a node's database was altered.",
        subcommands: [Verify.self]
    )

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every origin's hash chain and signatures, and every record against its changes.",
            discussion: """
                Each origin's changes form one hash chain per department, sealed with the origin's \
                signature. This recomputes every link from the stored bytes, checks every seal, \
                rebuilds every record from the change log and compares it with its stored state and \
                its row in the typed table. Exits 0 when all agree; otherwise prints the first broken \
                link and exits 1.
                """)
        @OptionGroup var node: NodeOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let report = try node.open().store.audit()
            if json {
                Output.json(.object([
                    "ok": .bool(report.broken == nil), "chains": .int(Int64(report.chains)), "changes": .int(Int64(report.entries)),
                    "seals": .int(Int64(report.seals)), "records": .int(Int64(report.records)),
                    "partial_records": .int(Int64(report.partialRecords)),
                    "broken": report.broken.map { .string($0) } ?? .null,
                ]))
            } else if let broken = report.broken {
                print("FAILED: \(broken)")
            } else {
                var notes: [String] = []
                if report.partialChains > 0 { notes.append("\(report.partialChains) chains held from their middle") }
                if report.partialRecords > 0 {
                    notes.append("\(report.partialRecords) records made partly by compacted changes, checked to hold the logged ones")
                }
                print("ok: \(report.entries) changes in \(report.chains) chains, \(report.seals) seals, \(report.records) records verified"
                      + (notes.isEmpty ? "" : " (" + notes.joined(separator: "; ") + ")"))
            }
            if report.broken != nil { throw ExitCode(1) }
        }
    }
}
