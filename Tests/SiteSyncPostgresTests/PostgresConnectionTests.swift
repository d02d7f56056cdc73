import Foundation
import SiteSyncPostgres
import Synchronization
import SiteSyncTestSupport
import Testing

/// The libpq wrapper against a private PostgreSQL cluster per test (PostgresCluster): values
/// byte for byte, transactions, serialization failures retried, the errors a user meets.
@Suite struct PostgresConnectionTests {
    struct Abandoned: Error {}

    @Test func everyTypeRoundTripsExactly() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let connection = try PostgresConnection(url: cluster.url)
        try connection.executeScript("""
            CREATE TABLE sample (id BIGINT, name TEXT, content BYTEA, done BOOLEAN, amount NUMERIC);
            """)
        let everyByte = (0...255).map(UInt8.init)
        let rows: [[PostgresValue]] = [
            [.int64(.max), .text("混凝土 C30 ✓ 'quoted' \\ back"), .bytea(everyByte), .bool(true), .numeric("12345678901234567890.000000001")],
            [.int64(.min), .text(""), .bytea([]), .bool(false), .numeric("-0.0001")],
            [.int64(0), .null, .null, .null, .null],
            [.int64(42), .text("x"), .bytea([0, 0, 0]), .bool(true), .numeric("NaN")],
            [.int64(-1), .text("y"), .bytea([0xFF]), .bool(false), .numeric("100000000")],
            [.int64(7), .text("z"), .bytea([0x5C, 0x78]), .bool(true), .numeric("0.50")],
        ]
        for row in rows {
            let inserted = try connection.execute("INSERT INTO sample VALUES ($1, $2, $3, $4, $5)", row)
            #expect(inserted.affectedRows == 1)
        }
        let read = try connection.execute("SELECT id, name, content, done, amount FROM sample ORDER BY id DESC")
        #expect(read.columns == ["id", "name", "content", "done", "amount"])
        #expect(Set(read.rows) == Set(rows))
        #expect(read.count == rows.count)
        // The server holds the bytes themselves, not a text form of them.
        let stored = try connection.execute("SELECT octet_length(content), get_byte(content, 255), content = $1 FROM sample WHERE id = $2",
                                            [.bytea(everyByte), .int64(.max)])
        #expect(stored.rows == [[.int64(256), .int64(255), .bool(true)]])
        // Parameters echoed straight back, and the narrower integer and text types read as the wide ones.
        let echoed = try connection.execute("SELECT $1::bytea, $2::text, 5::int2, 6::int4, 'v'::varchar(3), NULL::bigint AS nothing",
                                            [.bytea(everyByte), .text("回")])
        #expect(echoed.rows == [[.bytea(everyByte), .text("回"), .int64(5), .int64(6), .text("v"), .null]])
        #expect(echoed.value(0, "nothing") == .null)
    }

    @Test func numericReadsAsThePostgresText() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let connection = try PostgresConnection(url: cluster.url)
        let decimals = ["0", "0.00", "1", "-1", "9999", "10000", "10000.0001", "-12.345", "0.00001234", "123456789.987654321",
                        "1e30", "Infinity", "-Infinity"]
        for decimal in decimals {
            // The server's own text for the value is what the binary form must read as.
            let rows = try connection.execute("SELECT $1::numeric, $1::numeric::text", [.numeric(decimal)])
            #expect(rows.rows[0][0] == .numeric(rows.rows[0][1].text!), "\(decimal)")
        }
    }

    @Test func aRolledBackTransactionLeavesNothing() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let connection = try PostgresConnection(url: cluster.url)
        try connection.execute("CREATE TABLE log (id BIGINT PRIMARY KEY)")

        #expect(throws: Abandoned.self) {
            try connection.transaction { transaction in
                try transaction.execute("INSERT INTO log VALUES (1)")
                throw Abandoned()
            }
        }
        let duplicate = #expect(throws: PostgresError.self) {
            try connection.transaction { transaction in
                try transaction.execute("INSERT INTO log VALUES (2)")
                try transaction.execute("INSERT INTO log VALUES (2)")
            }
        }
        #expect(duplicate?.sqlState == "23505")
        #expect(duplicate?.kind == .server)
        // A failed statement's error caught inside: PostgreSQL answers COMMIT with ROLLBACK.
        let swallowed = #expect(throws: PostgresError.self) {
            try connection.transaction { transaction in
                try transaction.execute("INSERT INTO log VALUES (3)")
                _ = try? transaction.execute("INSERT INTO log VALUES (3)")
            }
        }
        #expect(swallowed?.description.contains("rolled the transaction back") == true)
        #expect(try connection.execute("SELECT count(*) FROM log").scalar == .int64(0))

        try connection.transaction(isolation: .repeatableRead) { try $0.execute("INSERT INTO log VALUES (4)") }
        #expect(try connection.execute("SELECT id FROM log").rows == [[.int64(4)]])
    }

    /// Statements run pipelined, more than one chunk of them: all of them take effect, in
    /// order; a failing one is thrown with the server's message, nothing after it runs, and the
    /// connection goes on working once the transaction rolled back.
    @Test func pipelinedStatementsRunInOrderAndAFailureStopsThem() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let connection = try PostgresConnection(url: cluster.url)
        try connection.execute("CREATE TABLE t (n BIGINT PRIMARY KEY, label TEXT)")
        let count = 1_234
        try connection.transaction { transaction in
            try transaction.executeAll((1...count).map { ("INSERT INTO t (n, label) VALUES ($1, $2)", [.int64(Int64($0)), .text("row \($0)")]) }
                                       + [("UPDATE t SET label = 'last' WHERE n = $1", [.int64(Int64(count))])])
        }
        #expect(try connection.execute("SELECT count(*), max(n) FROM t").rows.first == [.int64(Int64(count)), .int64(Int64(count))])
        #expect(try connection.execute("SELECT label FROM t WHERE n = $1", [.int64(Int64(count))]).scalar?.text == "last")

        let failure = #expect(throws: PostgresError.self) {
            try connection.transaction { transaction in
                try transaction.executeAll([("INSERT INTO t (n) VALUES (5000)", []), ("INSERT INTO t (n) VALUES (1)", []),
                                            ("INSERT INTO t (n) VALUES (5001)", [])])
            }
        }
        #expect(failure?.sqlState == "23505", "a duplicate key: \(String(describing: failure))")
        #expect(try connection.execute("SELECT count(*) FROM t WHERE n >= 5000").scalar?.int64 == 0)
        #expect(try connection.execute("SELECT count(*) FROM t").scalar?.int64 == Int64(count))
    }

    @Test func misuseThrowsInsteadOfHanging() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let connection = try PostgresConnection(url: cluster.url)
        var kept: PostgresTransaction?
        let nested = #expect(throws: PostgresError.self) {
            try connection.transaction { transaction in
                kept = transaction
                try connection.execute("SELECT 1")
            }
        }
        #expect(nested?.kind == .misuse)
        #expect(try connection.execute("SELECT 1::bigint").scalar == .int64(1))
        let late = #expect(throws: PostgresError.self) { try kept?.execute("SELECT 1") }
        #expect(late?.kind == .misuse)
        let unread = #expect(throws: PostgresError.self) { try connection.execute("SELECT now()") }
        #expect(unread?.kind == .unsupported)
        #expect(unread?.description.contains("::text") == true)
    }

    /// One connection shared by several threads: each call waits its turn, and no thread's
    /// statement lands inside another's transaction.
    @Test func threadsTakeTurnsOnOneConnection() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let connection = try PostgresConnection(url: cluster.url)
        try connection.execute("CREATE TABLE reading (thread BIGINT, n BIGINT)")
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            do {
                for n in 0..<25 {
                    try connection.execute("INSERT INTO reading VALUES ($1, $2)", [.int64(Int64(thread)), .int64(Int64(n))])
                }
                // Rolled back: a statement of another thread run inside it would be lost with it.
                _ = try? connection.transaction { transaction in
                    for n in 100..<110 {
                        try transaction.execute("INSERT INTO reading VALUES ($1, $2)", [.int64(Int64(thread)), .int64(Int64(n))])
                    }
                    throw Abandoned()
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let counts = try connection.execute("SELECT thread, count(*) FROM reading GROUP BY thread ORDER BY thread")
        #expect(counts.rows == (0..<4).map { [.int64(Int64($0)), .int64(25)] })
    }

    /// Write skew: each transaction reads the table, then adds a row the other's read would
    /// have seen. Under SERIALIZABLE the second to commit fails with 40001.
    @Test func aSerializationFailureIsRetriedWithinItsBound() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let first = try PostgresConnection(url: cluster.url)
        let second = try PostgresConnection(url: cluster.url)
        try first.execute("CREATE TABLE shift (id BIGINT PRIMARY KEY, crew TEXT NOT NULL)")

        /// The other writer: reads the table, adds a row and commits, inside `first`'s transaction.
        func interfere(_ id: Int64) throws {
            try second.transaction(isolation: .serializable) { transaction in
                _ = try transaction.execute("SELECT count(*) FROM shift")
                try transaction.execute("INSERT INTO shift VALUES ($1, 'night')", [.int64(id)])
            }
        }
        func conflicting(_ transaction: PostgresTransaction, id: Int64, interferingWith other: Int64?) throws {
            _ = try transaction.execute("SELECT count(*) FROM shift")
            if let other { try interfere(other) }
            try transaction.execute("INSERT INTO shift VALUES ($1, 'day')", [.int64(id)])
        }

        let plain = #expect(throws: PostgresError.self) {
            try first.transaction(isolation: .serializable) { try conflicting($0, id: 1, interferingWith: 100) }
        }
        #expect(plain?.sqlState == "40001")
        #expect(plain?.isRetryable == true)

        var attempts = 0
        try first.retryingTransaction(isolation: .serializable, maxAttempts: 3) { transaction in
            attempts += 1
            try conflicting(transaction, id: 2, interferingWith: attempts == 1 ? 101 : nil)
        }
        #expect(attempts == 2)
        #expect(try first.execute("SELECT id FROM shift ORDER BY id").rows == [[.int64(2)], [.int64(100)], [.int64(101)]])

        attempts = 0
        let exhausted = #expect(throws: PostgresError.self) {
            try first.retryingTransaction(isolation: .serializable, maxAttempts: 3) { transaction in
                attempts += 1
                try conflicting(transaction, id: 3, interferingWith: 200 + Int64(attempts))
            }
        }
        #expect(attempts == 3)
        #expect(exhausted?.sqlState == "40001")
        #expect(exhausted?.description.contains("Gave up after 3 attempts") == true)

        // Any other error is not retried.
        attempts = 0
        #expect(throws: PostgresError.self) {
            try first.retryingTransaction { transaction in
                attempts += 1
                try transaction.execute("INSERT INTO shift VALUES (2, 'again')")
            }
        }
        #expect(attempts == 1)
    }

    /// Two transactions on two threads take two rows in opposite orders: PostgreSQL finds the
    /// deadlock (after `deadlock_timeout`, a second), fails one with 40P01, and its retry
    /// commits once the other has.
    @Test func aDeadlockIsRetried() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let setup = try PostgresConnection(url: cluster.url)
        try setup.executeScript("CREATE TABLE crane (id BIGINT PRIMARY KEY, hours BIGINT NOT NULL); INSERT INTO crane VALUES (1, 0), (2, 0);")
        let first = try PostgresConnection(url: cluster.url), second = try PostgresConnection(url: cluster.url)
        let holds = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        let failures = Mutex<[String?]>([]), attempts = Mutex(0)

        /// Takes `own`, waits (on the first attempt) until the other holds its row, then takes `other`.
        @Sendable func work(_ connection: PostgresConnection, own: Int64, other: Int64,
                            signal: DispatchSemaphore, wait: DispatchSemaphore) throws {
            try connection.retryingTransaction(isolation: .readCommitted, maxAttempts: 3) { transaction in
                let attempt = attempts.withLock { count in count += 1; return count }
                do {
                    try transaction.execute("UPDATE crane SET hours = hours + 1 WHERE id = $1", [.int64(own)])
                    if attempt <= 2 {
                        signal.signal()
                        wait.wait()
                    }
                    try transaction.execute("UPDATE crane SET hours = hours + 1 WHERE id = $1", [.int64(other)])
                } catch let error as PostgresError {
                    failures.withLock { $0.append(error.sqlState) }
                    throw error
                }
            }
        }
        let done = DispatchGroup()
        let outcomes = Mutex<[String]>([])
        for (connection, own, other, signal, wait) in [(first, Int64(1), Int64(2), holds.0, holds.1), (second, 2, 1, holds.1, holds.0)] {
            DispatchQueue.global().async(group: done) {
                do { try work(connection, own: own, other: other, signal: signal, wait: wait) } catch {
                    outcomes.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(done.wait(timeout: .now() + 15) == .success)
        #expect(outcomes.withLock { $0 } == [])
        #expect(failures.withLock { $0 } == ["40P01"])
        #expect(attempts.withLock { $0 } == 3)
        #expect(try setup.execute("SELECT hours FROM crane ORDER BY id").rows == [[.int64(2)], [.int64(2)]])
    }

    @Test func refusedAndUnreachableServersSayWhatToDo() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let wrong = #expect(throws: PostgresError.self) { try PostgresConnection(url: cluster.url(password: "not-the-password")) }
        #expect(wrong?.kind == .authentication)
        #expect(wrong?.description.contains("127.0.0.1:\(cluster.port)") == true)
        #expect(wrong?.description.contains("password") == true)
        #expect(wrong?.description.contains("not-the-password") == false)

        let none = #expect(throws: PostgresError.self) {
            try PostgresConnection(url: "postgresql://\(cluster.user)@127.0.0.1:\(cluster.port)/\(cluster.database)")
        }
        #expect(none?.kind == .authentication)
        #expect(none?.description.contains("PGPASSWORD or ~/.pgpass") == true)

        let port = try PostgresCluster.freeLoopbackPort()
        let started = ContinuousClock.now
        let unreachable = #expect(throws: PostgresError.self) {
            try PostgresConnection(url: "postgresql://sitesync:secret@127.0.0.1:\(port)/sitesync", connectTimeout: 5)
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(unreachable?.kind == .unreachable)
        #expect(unreachable?.description.contains("sitesync@127.0.0.1:\(port)/sitesync") == true)
        #expect(unreachable?.description.contains("Check that PostgreSQL is running") == true)
        #expect(unreachable?.description.contains("secret") == false)

        let malformed = #expect(throws: PostgresError.self) { try PostgresConnection(url: "postgresql://[broken") }
        #expect(malformed?.description.contains("postgresql://user:password@host:port/database") == true)
    }

    @Test func aNewConnectionWorksAfterTheServerRestarts() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let connection = try PostgresConnection(url: cluster.url)
        try connection.execute("CREATE TABLE mark (id BIGINT)")
        try connection.execute("INSERT INTO mark VALUES (1)")

        try cluster.restart()
        let lost = #expect(throws: PostgresError.self) { try connection.execute("SELECT count(*) FROM mark") }
        #expect(lost?.kind == .connectionLost)
        #expect(lost?.description.contains("reconnect") == true)
        #expect(try PostgresConnection(url: cluster.url).execute("SELECT count(*) FROM mark").scalar == .int64(1))
        try connection.reconnect()
        try connection.execute("INSERT INTO mark VALUES (2)")

        // A crash: what was committed survives recovery from the write-ahead log.
        try cluster.kill()
        #expect(throws: PostgresError.self) { try PostgresConnection(url: cluster.url, connectTimeout: 2) }
        try cluster.restart()
        #expect(try PostgresConnection(url: cluster.url).execute("SELECT id FROM mark ORDER BY id").rows == [[.int64(1)], [.int64(2)]])
    }
}
