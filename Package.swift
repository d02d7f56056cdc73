// swift-tools-version:6.1
import PackageDescription

// One arrow direction: Core (pure) ← Wire (encoding) ← Store (SQLite) ← Node (data directory,
// configuration, bundles) ← Domain (queries, plan import, progress, reports) ← sitesync (command
// line; a later HTTP API is a second face over Domain). Performance (the pure formulas: earned
// value, indices, scores, goal trees, warnings) stays a target of its own on Core alone, so its
// formulas are tested without a store: Core ← Performance ← Node (the [report] thresholds of
// node.toml) ← Domain.
let package = Package(
    name: "SiteSync",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sitesync", targets: ["sitesync"]),
        .executable(name: "sitesync-bench", targets: ["sitesync-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
        // libpq, for hubs that keep their store in PostgreSQL (docs/design.md, "Hubs on PostgreSQL").
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(
            name: "SiteSyncCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "SiteSyncPerformance", dependencies: ["SiteSyncCore"]),
        .target(
            name: "SiteSyncWire",
            dependencies: [
                "SiteSyncCore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "SiteSyncStore",
            dependencies: [
                "SiteSyncCore", "SiteSyncWire", "CSQLiteSession",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // SQLite's session extension (changesets), which <sqlite3.h> declares only on request, and
        // its process-wide settings (sqlite3_config, a variadic function Swift cannot call).
        .target(name: "CSQLiteSession", linkerSettings: [.linkedLibrary("sqlite3")]),
        // A small synchronous wrapper over libpq: connections, typed parameters and rows,
        // transactions with bounded retries of serialization failures.
        .target(name: "SiteSyncPostgres", dependencies: ["CLibPQ", "SiteSyncStore"]),
        // A private PostgreSQL cluster (initdb in a temporary directory, on a loopback port), for
        // the tests and the benchmark; never part of the shipped `sitesync`.
        .target(name: "SiteSyncPostgresCluster"),
        .target(
            name: "SiteSyncNet",
            dependencies: [
                "CZeroMQ", "SiteSyncCore", "SiteSyncWire", "SiteSyncStore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SiteSyncNode",
            dependencies: ["SiteSyncCore", "SiteSyncWire", "SiteSyncStore", "SiteSyncNet", "SiteSyncPerformance", "SiteSyncPostgres", "TOMLKit",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .target(
            name: "SiteSyncDomain",
            dependencies: ["SiteSyncCore", "SiteSyncStore", "SiteSyncNode", "SiteSyncPerformance",
                           // Plan templates may be written in TOML (Templates.swift).
                           "TOMLKit",
                           // scrypt for the passwords of person accounts (People.swift).
                           .product(name: "_CryptoExtras", package: "swift-crypto")]
        ),
        // The HTTP API (docs/design.md §11): a second face over Domain, beside the ZeroMQ listener.
        .target(
            name: "SiteSyncHTTP",
            dependencies: [
                "SiteSyncCore", "SiteSyncStore", "SiteSyncNode", "SiteSyncNet", "SiteSyncPerformance", "SiteSyncDomain",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The contract, served at GET /openapi.yaml: a link to protocol/http-api.yaml, so
            // that the document served is the one committed.
            resources: [.embedInCode("Contract/http-api.yaml")]
        ),
        .target(
            name: "SiteSyncBench",
            dependencies: [
                "SiteSyncCore", "SiteSyncWire", "SiteSyncStore", "SiteSyncNet", "SiteSyncNode", "SiteSyncPerformance", "SiteSyncDomain",
                "SiteSyncPostgres", "SiteSyncPostgresCluster",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "sitesync",
            dependencies: [
                "SiteSyncCore", "SiteSyncWire", "SiteSyncStore", "SiteSyncNode", "SiteSyncNet", "SiteSyncPerformance",
                "SiteSyncDomain", "SiteSyncHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The benchmarks and the soak (docs/design.md §9), apart so that the shipped `sitesync`
        // carries none of them; they start the `sitesync` built beside them as hub and nodes.
        .executableTarget(
            name: "sitesync-bench",
            dependencies: [
                "SiteSyncCore", "SiteSyncStore", "SiteSyncNode", "SiteSyncDomain", "SiteSyncBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "SiteSyncTestSupport", dependencies: ["SiteSyncPostgresCluster"], path: "Tests/SiteSyncTestSupport"),
        // A test-only SQLite VFS modelling a power cut (what survives is what was synced).
        .target(name: "CPowerCut", path: "Tests/CPowerCut", linkerSettings: [.linkedLibrary("sqlite3")]),
        .testTarget(
            name: "SiteSyncCoreTests",
            dependencies: ["SiteSyncCore", "SiteSyncTestSupport"]
        ),
        // Against a private PostgreSQL cluster started by the test (PostgresCluster).
        .testTarget(name: "SiteSyncPostgresTests", dependencies: ["SiteSyncPostgres", "SiteSyncStore", "SiteSyncCore", "SiteSyncTestSupport"]),
        .testTarget(name: "SiteSyncPerformanceTests", dependencies: ["SiteSyncPerformance", "SiteSyncCore"]),
        .testTarget(
            name: "SiteSyncDomainTests",
            dependencies: ["SiteSyncDomain", "SiteSyncPerformance", "SiteSyncNode", "SiteSyncStore", "SiteSyncCore", "SiteSyncTestSupport"]
        ),
        .testTarget(
            name: "SiteSyncWireTests",
            dependencies: [
                "SiteSyncCore", "SiteSyncWire", "SiteSyncTestSupport",
                // The fuzz tests run what follows decoding too: the chain check of a received batch.
                "SiteSyncStore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .testTarget(
            name: "SiteSyncStoreTests",
            dependencies: [
                "SiteSyncCore", "SiteSyncWire", "SiteSyncStore", "SiteSyncNode", "SiteSyncTestSupport", "CPowerCut",
            ]
        ),
        .testTarget(
            name: "SiteSyncNetTests",
            dependencies: [
                "SiteSyncCore", "SiteSyncStore", "SiteSyncNet", "SiteSyncNode", "SiteSyncTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The whole fleet in one process under seeded faults (docs/design.md §9).
        .testTarget(
            name: "SiteSyncSimulationTests",
            dependencies: ["SiteSyncCore", "SiteSyncWire", "SiteSyncStore", "SiteSyncTestSupport",
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The node's background services (sync runner, compaction, allow-list reloads) on a
        // manual clock.
        .testTarget(
            name: "SiteSyncNodeTests",
            dependencies: [
                "SiteSyncCore", "SiteSyncStore", "SiteSyncNet", "SiteSyncNode", "SiteSyncTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "SiteSyncBenchTests", dependencies: ["SiteSyncBench", "SiteSyncStore", "SiteSyncCore",
                                                               .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "SiteSyncEndToEndTests",
            dependencies: [
                "SiteSyncCore", "SiteSyncWire", "SiteSyncNet", "SiteSyncTestSupport", "SiteSyncPostgres",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
