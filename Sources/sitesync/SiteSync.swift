import ArgumentParser
import SiteSyncStore

@main
struct SiteSync: ParsableCommand {
    static func main() {
        SQLiteProcess.configure()
        main(KeyArguments.parseable(Array(CommandLine.arguments.dropFirst())))
    }

    static let configuration = CommandConfiguration(
        commandName: "sitesync",
        abstract: "Offline-first replication for project performance management.",
        discussion: """
            Every node is a data directory (--data-dir, default $SITESYNC_DATA_DIR, else ./sitesync-data) \
            holding node.toml, its secret keys (node.key) and a SQLite database. Records are versioned with version vectors and merged \
            field by field, so every replica that has seen the same changes shows the same data.
            """,
        subcommands: [
            InitCommand.self, RecordCommand.self, ExportCommand.self, DigestCommand.self,
            ConflictsCommand.self, ResolveCommand.self, BundleCommand.self, ServeCommand.self, SyncCommand.self,
            DemoCommand.self, ImportCommand.self, ApiCommand.self, UserCommand.self, ProjectCommand.self, TemplateCommand.self, ActivityCommand.self, KPICommand.self, ProgressCommand.self, LogCommand.self, CostCommand.self, RiskCommand.self, IssueCommand.self, RunCommand.self, KeysCommand.self, AuditCommand.self, ReportCommand.self, ForecastCommand.self, PeriodCommand.self, SuggestionCommand.self, SuggestCommand.self, StageCommand.self, BaselineCommand.self, StaffCommand.self, ObjectiveCommand.self, GoalCommand.self, ScorecardCommand.self, StatusCommand.self, HistoryCommand.self, BackupCommand.self, RestoreCommand.self, CompactCommand.self,
        ]
    )
}
