import ArgumentParser
import Foundation
import SiteSyncBench
import SiteSyncCore
import SiteSyncStore

/// The benchmarks and the soak, a binary of their own so that the shipped `sitesync` carries
/// none of their code.
@main
struct BenchCommand: ParsableCommand {
    /// SQLite's process-wide settings first, as `sitesync` makes them (both sides of every
    /// comparison run in this process, so both have them).
    static func main() {
        SQLiteProcess.configure()
        main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "sitesync-bench",
        abstract: "SiteSync's benchmarks: the performance targets of docs/design.md §9 (the default), or a fault soak (`sitesync-bench soak`).",
        discussion: """
            Built apart from `sitesync`, which ships without them. The network figures and the soak \
            start the `sitesync` binary beside this one (or $SITESYNC_BINARY) as hub and nodes, so \
            build both: swift build -c release && .build/release/sitesync-bench. The replica engine \
            and the report alone need only this one: swift build -c release --product sitesync-bench \
            && .build/release/sitesync-bench --no-network.
            """,
        subcommands: [Figures.self, Soak.self],
        defaultSubcommand: Figures.self
    )
}

extension BenchCommand {
    struct Figures: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "figures",
            abstract: "Measure the replica engine against a plain SQLite baseline (docs/design.md §9); `sitesync-bench` runs this.",
            discussion: """
                The replica engine: apply_changes_per_s (remote changes decoded and applied through the \
                store's batch path, 1,000 a transaction), baseline_upsert_rows_per_s (a plain batched \
                upsert of the same rows into the store's own typed table, its index included, 1,000 a \
                transaction, in the same run), apply_ratio (target at least 0.8); apply_session_changes_per_s \
                and apply_session_ratio, the same changes fed to the store as a session's receiver gets \
                them (the sender's window of 16 batches, the batches waiting applied in one transaction), \
                apply_pages_per_change and baseline_pages_per_row (the pages each side's writer wrote \
                to the log, counted by SQLite), local_write_p50_ms (one durable single-record write; target at most 1 ms). Both sides \
                commit at synchronous=FULL, read back from their connections after the timed writes \
                and printed as `synchronous`; the run fails if either side ran at another setting.

                Replication, with a hub in a process of its own on loopback ZeroMQ, with CURVE, the \
                allow-list and signed changes on: sync_changes_per_s (changes pushed node → hub, \
                checked, applied and acknowledged; target at least 0.8 × apply_changes_per_s, reported \
                as sync_ratio), sync_changes_per_s_insecure (the same push in plaintext) and \
                security_overhead_ratio (secure over plaintext throughput), wire_overhead_bytes_per_change (bytes on \
                the wire beyond the values; target at most 48), converge_seconds (nodes of four \
                departments with offline edits reconnecting together until every digest matches the \
                hub's; target 30 s for 20 × 5,000), hub_peak_rss_mb (the hub's peak memory while a node \
                pulls; target 256 MiB for 1,000,000 changes) and join_seconds (that pull: a fresh node \
                joining the hub in one `sync` round, with the default timeout and window).

                The HTTP API, over 5,000 projects × 20 activities (100,000) with weekly entries, the same \
                scale with --quick: http_city_p99_ms and http_projects_p99_ms (GET /api/v1/city and \
                GET /api/v1/projects answered to 4 concurrent keep-alive clients by a warm `sitesync serve \
                --http`; target at most 50 ms), beside http_city_command_ms and http_projects_command_ms \
                (`sitesync report departments` and `report projects`, the same figures through the command \
                line, whole runs) and http_fresh_seconds (from a POSTed cost's answer until GET /city shows \
                it; target at most 1 s); and the dashboard's pages signed in as an office person: \
                dashboard_overview_p99_ms, dashboard_department_p99_ms, dashboard_project_p99_ms, \
                dashboard_monthly_p99_ms, dashboard_fleet_p99_ms, dashboard_conflicts_p99_ms, \
                dashboard_goals_p99_ms (the city's goal tree), dashboard_scorecards_p99_ms (this quarter's, a \
                lead per project), dashboard_templates_p99_ms and dashboard_suggestions_p99_ms (target at most \
                100 ms), each page's first answer beside it (dashboard_<page>_first_ms: what a page keeps until \
                the data changes is computed then) and dashboard_page_kb_max (target under 300 kB). \
                --http-only measures these alone.

                The report: report_seconds_500_projects, the time `report projects` takes at the hub over \
                500 projects × 40 activities × 90 days of quantity entries (1.8 million) and weekly costs; \
                target at most 2 s (--quick: report_seconds_100_projects).

                The forecasts: forecast_seconds_500_projects, the time `sitesync forecast` takes (read, and \
                10,000 runs per project) over 500 projects × 40 activities × 90 days of entries with a daily \
                log a day (--quick: 28 days), target at most 2 s; forecast_read_seconds, the part of it spent \
                reading the records; beside it forecast_baseline_report_seconds, `report projects` over the \
                same data in the same run (the faster of two rounds; --quick: one). --forecast-only measures these \
                alone.

                Hubs on PostgreSQL (--postgres-only, with a private PostgreSQL cluster on loopback): \
                sync_changes_per_s_postgres and sync_changes_per_s_two_hubs (one hub process over \
                PostgreSQL; two, an office pushing half the changes to each at once) beside \
                sync_changes_per_s of a SQLite hub in the same run; converge_seconds_postgres and \
                converge_seconds_two_hubs (the nodes spread over the two) beside converge_seconds.

                --join-500k adds join_seconds_500k, a fresh node's first sync of 500,000 changes from \
                a hub over CURVE (needs `sitesync`), beside join_baseline_upsert_seconds_500k, a plain \
                upsert of the same rows (a few minutes more). --apply-only measures the replica engine's \
                apply and local writes alone (with --join-500k, that too).

                Full scale: 200,000 applied changes; 100,000 pushed; 20 nodes × 5,000 edits; 1,000,000 \
                pulled (several minutes). --quick: 20,000; 20,000; 8 nodes × 1,000; 100,000 (about a \
                minute). Use a release build for figures: swift build -c release && .build/release/sitesync-bench \
                (--no-network needs only swift build -c release --product sitesync-bench). Runs in a \
                temporary directory and removes it.
                """
        )

        @Flag(help: "A shorter run at smaller, stated scales.") var quick = false
        @Flag(help: "Only the replica engine, no network.") var noNetwork = false
        @Flag(help: "Only the replica engine's apply and local-write figures (no report, forecast or network).") var applyOnly = false
        @Flag(help: "Only the HTTP API's figures.") var httpOnly = false
        @Flag(help: "Only the figures cache at a city's scale (5,000 projects x 20 activities): a recompute, and a refresh after one progress write.")
        var cityFigures = false
        @Flag(help: "Only the completion forecasts over 500 projects, beside the projects report over the same data (--quick: 28 days of entries).")
        var forecastOnly = false
        @Flag(help: "Only hubs on PostgreSQL beside a SQLite hub: the push rate and convergence time of a SQLite hub, of one hub process over PostgreSQL and of two (needs `sitesync` and PostgreSQL's server programs, which scripts/setup.sh installs).")
        var postgresOnly = false
        @Flag(name: .customLong("join-500k"),
              help: "Also a fresh node's first sync of 500,000 changes over CURVE, beside a plain upsert of the same rows (a few minutes).")
        var join500k = false
        @Flag(help: "Print JSON.") var json = false
        @Option(help: ArgumentHelp("Number of remote changes (overrides --quick).", valueName: "n")) var changes: Int?
        @Option(help: ArgumentHelp("Changes per applied batch (one transaction each).", valueName: "n")) var batchSize = 1000

        func validate() throws {
            if httpOnly && noNetwork { throw ValidationError("--http-only measures the HTTP API over loopback: leave out --no-network") }
            if postgresOnly && noNetwork { throw ValidationError("--postgres-only measures hubs over loopback: leave out --no-network") }
            if let changes, changes < 100 { throw ValidationError("--changes must be at least 100") }
            if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        }

        func run() throws {
            if cityFigures {
                let result = try FiguresBenchmark.run(scale: .init(projects: 5_000, activitiesPerProject: 20, days: 10)) { step in
                    BenchOutput.note("bench: \(step)")
                }
                print("figures_recompute_s \(result.recomputeSeconds) (assessments \(result.assessmentSeconds))")
                print("figures_progress_refresh_s \(result.progressRefreshSeconds)")
                print("figures_unchanged_refresh_s \(result.unchangedRefreshSeconds)")
                return
            }
            if forecastOnly {
                let forecast = try ForecastBenchmark.run(scale: quick ? ForecastBenchmark.quick : ForecastBenchmark.full, rounds: quick ? 1 : 2) { step in
                    if !json { BenchOutput.note("bench: \(step)") }
                }
                try emit([("forecast_seconds_500_projects", rounded(forecast.forecastSeconds, 3), "<= 2 (\(forecast.runs) runs each)"),
                          ("forecast_read_seconds", rounded(forecast.readSeconds, 3), "(of which reading the records)"),
                          ("forecast_baseline_report_seconds", rounded(forecast.reportSeconds, 3), "(report projects, same data, same run)")])
                return
            }
            if httpOnly {
                try emit(httpFigures(try measureHTTP()))
                return
            }
            if postgresOnly {
                let scale: NetworkBenchmarkScale = quick ? .quick : .full
                let result = try PostgresBenchmark.run(executable: try SiteSyncExecutable.locate(), scale: scale) { step in
                    if !json { BenchOutput.note("bench: \(step)") }
                }
                let converge = "(\(result.convergeNodes) nodes x \(result.convergeEditsPerNode) edits)"
                try emit([
                    ("sync_changes", .int(Int64(result.syncChanges)), ""),
                    ("sync_changes_per_s", rounded(result.sqliteSyncChangesPerSecond, 0), "(SQLite hub, this run)"),
                    ("sync_changes_per_s_postgres", rounded(result.postgresSyncChangesPerSecond, 0), "(one hub process over PostgreSQL)"),
                    ("sync_changes_per_s_two_hubs", rounded(result.twoHubsSyncChangesPerSecond, 0),
                     "(two hub processes over one PostgreSQL, an office pushing half to each at once)"),
                    ("converge_seconds", rounded(result.sqliteConvergeSeconds, 2), "\(converge) SQLite hub, this run"),
                    ("converge_seconds_postgres", rounded(result.postgresConvergeSeconds, 2), "\(converge) one hub process over PostgreSQL"),
                    ("converge_seconds_two_hubs", rounded(result.twoHubsConvergeSeconds, 2),
                     "\(converge) two hub processes over one PostgreSQL, the nodes spread over them"),
                ])
                return
            }
            let count = changes ?? (quick ? 20_000 : 200_000)
            let localWrites = quick ? 300 : 2000
            let result = try ReplicaBenchmark.run(changes: count, localWrites: localWrites, batchSize: batchSize) { step in
                if !json { BenchOutput.note("bench: \(step)") }
            }
            var joinFigures: [(String, JSONValue, String)] = []
            if join500k {
                let join = try NetworkBenchmark.measureJoin(executable: try SiteSyncExecutable.locate(), changes: 500_000) { step in
                    if !json { BenchOutput.note("bench: \(step)") }
                }
                joinFigures = [
                    ("join_seconds_500k", rounded(join.joinSeconds, 1), "(a fresh node's first sync of 500,000 changes, CURVE)"),
                    ("join_baseline_upsert_seconds_500k", rounded(join.baselineUpsertSeconds, 1),
                     "(plain SQLite upsert of the same rows, 1,000 a transaction, FULL)"),
                    ("join_ratio_500k", rounded(join.baselineUpsertSeconds / join.joinSeconds, 3), "(upsert seconds / join seconds)"),
                ]
            }
            if applyOnly {
                try emit(replicaFigures(result) + joinFigures)
                return
            }
            let reportSeconds = try ReportBenchmark.run(scale: quick ? .quick : .full) { step in
                if !json { BenchOutput.note("bench: \(step)") }
            }
            let forecast = try ForecastBenchmark.run(scale: quick ? ForecastBenchmark.quick : ForecastBenchmark.full, rounds: quick ? 1 : 2) { step in
                if !json { BenchOutput.note("bench: \(step)") }
            }
            var network: NetworkBenchmarkResult?
            var http: HTTPBenchmarkResult?
            if !noNetwork {
                network = try NetworkBenchmark.run(executable: try SiteSyncExecutable.locate(), scale: quick ? .quick : .full) { step in
                    if !json { BenchOutput.note("bench: \(step)") }
                }
                http = try measureHTTP()
            }
            var figures: [(String, JSONValue, String)] = replicaFigures(result) + [
                (quick ? "report_seconds_100_projects" : "report_seconds_500_projects", rounded(reportSeconds, 3),
                 quick ? "(quick scale)" : "<= 2 (x 40 activities x 90 days)"),
                ("forecast_seconds_500_projects", rounded(forecast.forecastSeconds, 3),
                 "<= 2 (\(forecast.runs) runs each; x 40 activities x \(quick ? 28 : 90) days)"),
                ("forecast_read_seconds", rounded(forecast.readSeconds, 3), "(of which reading the records)"),
                ("forecast_baseline_report_seconds", rounded(forecast.reportSeconds, 3), "(report projects over the same 500 projects, same run)"),
            ]
            if let network {
                figures += [
                    ("sync_changes_per_s", rounded(network.syncChangesPerSecond, 0), ""),
                    ("sync_ratio", rounded(network.syncChangesPerSecond / result.applyChangesPerSecond, 3), ">= 0.8 (of apply_changes_per_s)"),
                    ("sync_changes", .int(Int64(network.syncChanges)), ""),
                    ("sync_changes_per_s_insecure", rounded(network.insecureSyncChangesPerSecond, 0), "(plaintext, no allow-list)"),
                    ("security_overhead_ratio", rounded(network.syncChangesPerSecond / network.insecureSyncChangesPerSecond, 3),
                     "secure / insecure throughput"),
                    ("wire_overhead_bytes_per_change", rounded(network.wireOverheadBytesPerChange, 1), "<= 48"),
                    ("converge_seconds", rounded(network.convergeSeconds, 2), "<= 30 (20 nodes x 5,000)"),
                    ("converge_nodes", .int(Int64(network.convergeNodes)), ""),
                    ("converge_edits_per_node", .int(Int64(network.convergeEditsPerNode)), ""),
                    ("hub_peak_rss_mb", rounded(network.hubPeakRSSMegabytes, 1), "<= 256 (1,000,000 changes)"),
                    ("rss_changes", .int(Int64(network.rssChanges)), ""),
                    ("join_seconds", rounded(network.joinSeconds, 1), "one sync (a fresh node pulls rss_changes)"),
                ]
            }
            if let http { figures += httpFigures(http) }
            try emit(figures + joinFigures)
        }

        func replicaFigures(_ result: ReplicaBenchmarkResult) -> [(String, JSONValue, String)] {
            [
                ("apply_changes_per_s", rounded(result.applyChangesPerSecond, 0), ""),
                ("baseline_upsert_rows_per_s", rounded(result.baselineUpsertRowsPerSecond, 0), "(plain SQLite, same rows)"),
                ("apply_ratio", rounded(result.applyRatio, 3), ">= 0.8 (one transaction per batch, as the baseline)"),
                ("apply_session_changes_per_s", rounded(result.sessionApplyChangesPerSecond, 0),
                 "(as a receiver applies: the batches waiting in one transaction, window 16)"),
                ("apply_session_ratio", rounded(result.sessionApplyRatio, 3), "(to baseline_upsert_rows_per_s, 1,000 a transaction)"),
                ("apply_session_transactions", .int(Int64(result.sessionTransactions)), "(batches: changes / batch_size)"),
                ("apply_pages_per_change", rounded(result.applyPagesPerChange, 3), "(pages the store's writer wrote to the log)"),
                ("baseline_pages_per_row", rounded(result.baselinePagesPerRow, 3), "(pages the plain baseline wrote to the log)"),
                ("synchronous", .string(result.synchronous), "(both sides, read back from their connections)"),
                ("local_write_p50_ms", rounded(result.localWriteP50Milliseconds, 3), "<= 1"),
                ("local_write_p99_ms", rounded(result.localWriteP99Milliseconds, 3), ""),
                ("changes", .int(Int64(result.changes)), ""),
                ("local_writes", .int(Int64(result.localWrites)), ""),
                ("batch_size", .int(Int64(result.batchSize)), ""),
            ]
        }

        func rounded(_ value: Double, _ places: Int) -> JSONValue {
            .number(String(format: "%.\(places)f", value))
        }

        func measureHTTP() throws -> HTTPBenchmarkResult {
            try HTTPBenchmark.run(executable: try SiteSyncExecutable.locate()) { step in
                if !json { BenchOutput.note("bench: \(step)") }
            }
        }

        func httpFigures(_ http: HTTPBenchmarkResult) -> [(String, JSONValue, String)] {
            [
                ("http_city_p99_ms", rounded(http.cityP99Milliseconds, 2), "<= 50 (\(http.clients) clients, \(http.requests) requests)"),
                ("http_city_p50_ms", rounded(http.cityP50Milliseconds, 2), ""),
                ("http_city_command_ms", rounded(http.cityCommandMilliseconds, 0), "(sitesync report departments, the same figures)"),
                ("http_projects_p99_ms", rounded(http.projectsP99Milliseconds, 2), "<= 50 (first page of 100)"),
                ("http_projects_p50_ms", rounded(http.projectsP50Milliseconds, 2), ""),
                ("http_projects_command_ms", rounded(http.projectsCommandMilliseconds, 0), "(sitesync report projects, every project)"),
                ("http_fresh_seconds", rounded(http.freshSeconds, 2), "<= 1 (a POSTed cost until GET /city shows it)"),
            ] + http.pageP99Milliseconds.map { page in
                ("dashboard_\(page.page)_p99_ms", rounded(page.milliseconds, 2), "<= 100 (signed in)")
            } + http.pageFirstMilliseconds.map { page in
                ("dashboard_\(page.page)_first_ms", rounded(page.milliseconds, 1), "(its first answer: what it keeps is computed)")
            } + [
                ("dashboard_page_kb_max", rounded(http.heaviestPageKilobytes, 1), "< 300 (the heaviest page)"),
                ("http_projects", .int(Int64(http.projects)), ""),
                ("http_activities", .int(Int64(http.activities)), ""),
            ]
        }

        func emit(_ figures: [(String, JSONValue, String)]) throws {
            if json {
                BenchOutput.json(.object(Dictionary(uniqueKeysWithValues: figures.map { ($0.0, $0.1) })))
                return
            }
            print(BenchOutput.table([["figure", "measured", "target"]] + figures.map { [$0.0, BenchOutput.cell($0.1), $0.2] }))
        }
    }
}

extension BenchCommand {
    struct Soak: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "soak",
            abstract: "A bounded fault soak on loopback: nodes write while nodes and the hub are killed, restarted and have their clocks jump.",
            discussion: """
                A hub and N field nodes in 4 departments (plus an office), each a process of its own \
                (`sitesync serve`, `sitesync run`, from the `sitesync` beside this binary or \
                $SITESYNC_BINARY), CURVE on, on 127.0.0.1 only. For --minutes, this process writes \
                on random nodes (each committed write noted in a ledger) and every 4-10 s SIGKILLs a node \
                (restarted 0.5-2 s later), restarts one with its clock 1-14 days off either way, restores \
                one from the backup taken at its start (after it pushed what it had), or — in \
                the first 30 % only, so the hub's memory over the second half is not a fresh process \
                warming up — SIGKILLs the hub. The hub compacts its change log every 15 s meanwhile. \
                Then writes and faults stop. With --postgres the hub's store is in a private PostgreSQL \
                cluster and two hub processes serve it, every node naming both; a hub fault kills either \
                process, or restarts PostgreSQL (half the time after SIGKILLing it), and at the end both \
                processes' copies must agree too.

                Figures: soak_lost_writes (ledger entries the hub lacks at the end; target 0), \
                soak_converge_seconds (from the last fault until every node shows the hub's data of its \
                department and the office all of it; target 60 s for 20 nodes x 10 min), \
                soak_rss_growth_pct (the hub's resident memory over the last half; target < 10 %), with \
                the counts of faults injected, the replica ids the hub's knowledge names (nodes and their \
                epochs), and the changes the hub holds and still logs at the end. Exits non-zero when a write was lost or the replicas did not \
                agree within 300 s. Use a release build of both: swift build -c release && \
                .build/release/sitesync-bench soak.
                """)
        @Option(help: ArgumentHelp("Field nodes (2-50).", valueName: "n")) var nodes = 20
        @Option(help: ArgumentHelp("Minutes of writes and faults (0.1-120).", valueName: "m")) var minutes = 10.0
        @Option(help: ArgumentHelp("Seed of the schedule of writes and faults.", valueName: "n")) var seed: UInt64 = 2026
        @Flag(help: "The hub's store in a private PostgreSQL cluster, served by two hub processes every node names; the faults kill either, and restart or kill PostgreSQL.")
        var postgres = false
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if !(2...50).contains(nodes) { throw ValidationError("--nodes must be from 2 to 50") }
            if !(0.1...120).contains(minutes) { throw ValidationError("--minutes must be from 0.1 to 120") }
        }

        func run() throws {
            let result = try SoakBenchmark.run(executable: try SiteSyncExecutable.locate(), nodes: nodes, minutes: minutes,
                                               seed: seed, postgres: postgres) { step in
                if !json { BenchOutput.note("bench: \(step)") }
            }
            let figures: [(String, JSONValue, String)] = [
                ("soak_lost_writes", .int(Int64(result.lostWrites)), "= 0"),
                ("soak_acknowledged_writes", .int(Int64(result.acknowledgedWrites)), ""),
                ("soak_converge_seconds", .number(String(format: "%.1f", result.convergeSeconds)), "<= 60 (20 nodes x 10 min)"),
                ("soak_rss_growth_pct", .number(String(format: "%.1f", result.rssGrowthPercent)), "< 10 (last half)"),
                ("soak_hub_rss_mb", .number(String(format: "%.1f", result.hubRSSMegabytes)), ""),
                ("soak_node_kills", .int(Int64(result.nodeKills)), ""),
                ("soak_hub_kills", .int(Int64(result.hubKills)), ""),
                ("soak_postgres_restarts", .int(Int64(result.postgresRestarts)), postgres ? "(half after a SIGKILL)" : "(--postgres only)"),
                ("soak_clock_jumps", .int(Int64(result.clockJumps)), ""),
                ("soak_restores", .int(Int64(result.restores)), "(each a new replica epoch)"),
                ("soak_hub_replica_ids", .int(Int64(result.hubReplicaIDs)), "(in the hub's knowledge: nodes and their epochs)"),
                ("soak_hub_changes", .int(Int64(result.hubChanges)), ""),
                ("soak_hub_logged_changes", .int(Int64(result.hubLoggedChanges)), "(the rest compacted)"),
                ("soak_nodes", .int(Int64(result.nodes)), ""),
                ("soak_minutes", .number(String(format: "%g", result.minutes)), ""),
            ]
            if json {
                BenchOutput.json(.object(Dictionary(uniqueKeysWithValues: figures.map { ($0.0, $0.1) })))
            } else {
                print(BenchOutput.table(figures.map { [$0.0, BenchOutput.cell($0.1), $0.2] }))
            }
            if result.lostWrites > 0 { throw ExitCode(1) }
        }
    }
}
