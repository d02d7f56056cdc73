import ArgumentParser
import Foundation
import SiteSyncBench
import SiteSyncCore

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the replica engine against a plain SQLite baseline (DESIGN §8).",
        discussion: """
            Prints apply_changes_per_s (remote changes decoded and applied through the store's batch \
            path), baseline_upsert_rows_per_s (a plain batched upsert of the same rows into the same \
            table, in the same run), apply_ratio (the first over the second; target at least 0.5) \
            and local_write_p50_ms (one durable single-record write; target at most 1 ms). Use a \
            release build for figures: swift run -c release sitesync bench. --quick finishes within \
            a minute. Runs in a temporary directory and removes it.
            """
    )

    @Flag(help: "A shorter run (20,000 changes, 300 local writes).") var quick = false
    @Flag(help: "Print JSON.") var json = false
    @Option(help: ArgumentHelp("Number of remote changes (overrides --quick).", valueName: "n")) var changes: Int?
    @Option(help: ArgumentHelp("Changes per applied batch (one transaction each).", valueName: "n")) var batchSize = 1000

    func validate() throws {
        if let changes, changes < 100 { throw ValidationError("--changes must be at least 100") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        let count = changes ?? (quick ? 20_000 : 200_000)
        let localWrites = quick ? 300 : 2000
        let result = try ReplicaBenchmark.run(changes: count, localWrites: localWrites, batchSize: batchSize) { step in
            if !json { Output.note("bench: \(step)") }
        }
        func rounded(_ value: Double, _ places: Int) -> JSONValue {
            .number(String(format: "%.\(places)f", value))
        }
        if json {
            Output.json(.object([
                "apply_changes_per_s": rounded(result.applyChangesPerSecond, 0),
                "baseline_upsert_rows_per_s": rounded(result.baselineUpsertRowsPerSecond, 0),
                "apply_ratio": rounded(result.applyRatio, 3),
                "local_write_p50_ms": rounded(result.localWriteP50Milliseconds, 3),
                "local_write_p99_ms": rounded(result.localWriteP99Milliseconds, 3),
                "changes": .int(Int64(result.changes)), "local_writes": .int(Int64(result.localWrites)),
                "batch_size": .int(Int64(result.batchSize)),
            ]))
            return
        }
        print(Output.table([
            ["figure", "measured", "target"],
            ["apply_changes_per_s", String(format: "%.0f", result.applyChangesPerSecond), ""],
            ["baseline_upsert_rows_per_s", String(format: "%.0f", result.baselineUpsertRowsPerSecond), "(plain SQLite, same rows)"],
            ["apply_ratio", String(format: "%.3f", result.applyRatio), ">= 0.5"],
            ["local_write_p50_ms", String(format: "%.3f", result.localWriteP50Milliseconds), "<= 1"],
            ["local_write_p99_ms", String(format: "%.3f", result.localWriteP99Milliseconds), ""],
        ]))
    }
}
