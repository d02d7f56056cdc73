// SiteSyncPostgres: what a hub whose store is in PostgreSQL talks to it through (docs/design.md,
// "Hubs on PostgreSQL"). It wraps libpq, PostgreSQL's own C client, rather than PostgresNIO:
// the store's interface (`ReplicationStore`, `ReplicaStore`) is synchronous and runs on the
// store's own threads, and libpq's blocking calls fit it as they are, with no async code bridged
// back into sync code; PostgresNIO would add minutes to every clean build (CI builds from a
// fresh clone) and an event loop per process that nothing else needs.

import CLibPQ
import Foundation
import Synchronization

/// How strictly a transaction is isolated from the others running beside it.
public enum PostgresIsolation: Sendable {
    case readCommitted, repeatableRead, serializable

    var sql: String {
        switch self {
        case .readCommitted: "READ COMMITTED"
        case .repeatableRead: "REPEATABLE READ"
        case .serializable: "SERIALIZABLE"
        }
    }
}

/// One connection to a PostgreSQL database, opened from a `postgresql://` URL.
///
/// Threading: a libpq connection may be used by one thread at a time. This one holds it behind
/// a lock, so any thread may call it, and calls wait their turn; a transaction holds the lock
/// from BEGIN to COMMIT, so nothing of another thread's runs inside it. Inside a transaction use
/// the ``PostgresTransaction`` handed to the body: calling the connection itself from the body
/// would wait for itself forever, so it throws a `.misuse` error instead. Statements run one
/// after another on a connection; for work in parallel, open one connection per thread.
///
/// Values travel in PostgreSQL's binary format (see ``PostgresValue``): a BYTEA comes back as the
/// bytes that went in, with no hex text to escape or unescape, and an INT8 as its eight bytes.
public final class PostgresConnection: Sendable {
    /// `user@host:port/database`, never the password: what error messages name.
    public let endpoint: String
    private let session: Mutex<Session>
    /// The thread inside `withSession`, 0 when none: a call from that same thread would wait
    /// for itself.
    private let holder = Atomic<UInt>(0)

    /// Connects, waiting at most `connectTimeout` seconds (unless the URL sets `connect_timeout`).
    /// Throws `.unreachable` when no server answers, `.authentication` when it refuses the
    /// password, with what to do in the message.
    /// - Parameter settings: server settings for this connection's sessions (`lock_timeout`…),
    ///   kept across reconnections.
    public init(url: String, connectTimeout: Int = 10, settings: [(name: String, value: String)] = []) throws {
        endpoint = try Self.endpoint(of: url)
        // Keywords are read in order, the URL expanded where `dbname` stands: it may override the
        // timeout and the application name, not the encoding that text decoding relies on. The
        // server keeps its notices ("relation … already exists, skipping") to itself.
        let settings = [("connect_timeout", "\(connectTimeout)"), ("application_name", "sitesync"),
                        ("dbname", url), ("client_encoding", "UTF8"),
                        ("options", (["client_min_messages=warning"] + settings.map { "\($0.name)=\($0.value)" }).map { "-c " + $0 }
                            .joined(separator: " "))]
        let connection = Self.withCStrings(settings.map(\.0)) { keywords in
            Self.withCStrings(settings.map(\.1)) { values in PQconnectdbParams(keywords, values, 1) }
        }
        guard let connection else {
            throw PostgresError(kind: .unreachable, message: "libpq could not allocate a connection to \(endpoint)")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let error = Self.connectionError(connection, endpoint: endpoint)
            PQfinish(connection)
            throw error
        }
        session = Mutex(Session(connection, endpoint: endpoint))
    }

    /// Runs one statement with `$1`, `$2`… bound to `parameters`, outside any transaction of
    /// the caller's (PostgreSQL commits it on its own).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [PostgresValue] = []) throws -> PostgresRows {
        try withSession { try $0.execute(sql, parameters) }
    }

    /// Runs several statements separated by semicolons, without parameters (a schema, a
    /// migration); what they return is dropped.
    public func executeScript(_ sql: String) throws {
        try withSession { try $0.executeScript(sql) }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws
    /// (and the error rethrown). A COMMIT the server turns into a rollback (because a statement
    /// inside had failed and its error was caught) throws too: nothing is lost silently.
    @discardableResult
    public func transaction<R>(isolation: PostgresIsolation = .readCommitted,
                               _ body: (PostgresTransaction) throws -> R) throws -> R {
        try withSession { session in
            try session.executeScript("BEGIN ISOLATION LEVEL \(isolation.sql)")
            let transaction = PostgresTransaction(session)
            defer { transaction.isOpen = false }
            let value: R
            do {
                value = try body(transaction)
                try session.commit()
            } catch {
                session.rollbackIfOpen()
                throw error
            }
            return value
        }
    }

    /// ``transaction(isolation:_:)`` run again, up to `maxAttempts` times in all, while it fails
    /// with a serialization failure (40001) or a deadlock (40P01): the server rolled it back, and
    /// a later attempt sees the other writer's work. A short random pause between attempts keeps
    /// two conflicting writers from meeting again at once. `body` must do nothing but its SQL:
    /// it may run more than once. Any other error is thrown at once.
    @discardableResult
    public func retryingTransaction<R>(isolation: PostgresIsolation = .serializable, maxAttempts: Int = 5,
                                       _ body: (PostgresTransaction) throws -> R) throws -> R {
        precondition(maxAttempts >= 1, "a transaction needs at least one attempt")
        for attempt in 1..<maxAttempts {
            do {
                return try transaction(isolation: isolation, body)
            } catch let error as PostgresError where error.isRetryable {
                Thread.sleep(forTimeInterval: Double.random(in: 0...min(0.2, 0.005 * Double(1 << attempt))))
            }
        }
        do {
            return try transaction(isolation: isolation, body)
        } catch let error as PostgresError where error.isRetryable {
            throw PostgresError(kind: error.kind, sqlState: error.sqlState, message: error.message, detail: error.detail,
                                advice: "Gave up after \(maxAttempts) attempts: other transactions kept conflicting with this one")
        }
    }

    /// Opens the connection again (after the server restarted, say), with the same settings.
    public func reconnect() throws {
        try withSession { try $0.reset() }
    }

    /// `body` with the session, the lock held; a call from inside a transaction's body on the
    /// same connection throws rather than waiting for itself.
    private func withSession<R>(_ body: (Session) throws -> R) throws -> R {
        let thread = currentThread()
        if holder.load(ordering: .relaxed) == thread {
            throw PostgresError(kind: .misuse, message: "the connection to \(endpoint) was called from inside its own transaction",
                                advice: "Run statements inside a transaction through the PostgresTransaction passed to its body")
        }
        return try session.withLock { session in
            holder.store(thread, ordering: .relaxed)
            defer { holder.store(0, ordering: .relaxed) }
            return try body(session)
        }
    }

    private func currentThread() -> UInt {
        #if os(Linux)
        UInt(pthread_self())
        #else
        UInt(bitPattern: pthread_self())
        #endif
    }

    /// `user@host:port/database` from the URL, checked by libpq's own parser.
    private static func endpoint(of url: String) throws -> String {
        var message: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &message) else {
            let reason = message.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "out of memory"
            PQfreemem(message)
            throw PostgresError(kind: .misuse, message: "the store URL is not one PostgreSQL reads: \(reason)",
                                advice: "Write it as postgresql://user:password@host:port/database")
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        let user = values["user"].map { "\($0)@" } ?? ""
        return "\(user)\(values["host"] ?? values["hostaddr"] ?? "localhost"):\(values["port"] ?? "5432")/\(values["dbname"] ?? values["user"] ?? "")"
    }

    /// Why a connection failed, told apart by what libpq knows of the exchange: the server asked
    /// for a password the URL lacks, or took the password and refused it, or never answered.
    private static func connectionError(_ connection: OpaquePointer, endpoint: String) -> PostgresError {
        let reason = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
        if PQconnectionNeedsPassword(connection) != 0 {
            return PostgresError(kind: .authentication, message: "PostgreSQL at \(endpoint) asks for a password: \(reason)",
                                 advice: "Give it in PGPASSWORD or ~/.pgpass (or in the URL: postgresql://user:password@host:port/database)")
        }
        if PQconnectionUsedPassword(connection) != 0 {
            return PostgresError(kind: .authentication, message: "PostgreSQL at \(endpoint) refused the connection: \(reason)",
                                 advice: "Check the user, password and database in the store URL (sitesync init --store, or [store] url in node.toml)")
        }
        return PostgresError(kind: .unreachable, message: "cannot connect to PostgreSQL at \(endpoint): \(reason)",
                             advice: "Check that PostgreSQL is running and listening there, and the host, port, user and database in the store URL (sitesync init --store, or [store] url in node.toml)")
    }

    /// `body` with `strings` as a NULL-terminated array of C strings.
    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { UnsafePointer(strdup($0)) } + [nil]
        defer { copies.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        return copies.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// The statements of one transaction, valid only inside the body it was handed to (and on that
/// body's thread: it is not `Sendable`).
public final class PostgresTransaction {
    private let session: Session
    fileprivate(set) var isOpen = true

    fileprivate init(_ session: Session) { self.session = session }

    /// Runs one statement of the transaction, with `$1`, `$2`… bound to `parameters`.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [PostgresValue] = []) throws -> PostgresRows {
        guard isOpen else {
            throw PostgresError(kind: .misuse, message: "a statement was run on a transaction that has ended",
                                advice: "Use a PostgresTransaction only inside the body it was handed to")
        }
        return try session.execute(sql, parameters)
    }

    /// Runs `statements` in order, their results unread: in libpq's pipeline mode, so that
    /// they cost a few round trips to the server instead of one each (replaying a changeset's
    /// thousands of row operations). The first that fails is thrown; the ones after it are not
    /// run, and the transaction is then failed, as after any failed statement.
    public func executeAll(_ statements: [(sql: String, parameters: [PostgresValue])]) throws {
        guard isOpen else {
            throw PostgresError(kind: .misuse, message: "a statement was run on a transaction that has ended",
                                advice: "Use a PostgresTransaction only inside the body it was handed to")
        }
        try session.executePipelined(statements)
    }
}

/// The libpq connection itself. `@unchecked Sendable` so that the connection's `Mutex` may hand
/// it to the code that holds the lock: it is reached only there (and through a transaction,
/// which is not `Sendable` and ends before the lock is released).
final class Session: @unchecked Sendable {
    private let connection: OpaquePointer
    private let endpoint: String

    init(_ connection: OpaquePointer, endpoint: String) {
        self.connection = connection
        self.endpoint = endpoint
    }

    deinit { PQfinish(connection) }

    func execute(_ sql: String, _ parameters: [PostgresValue]) throws -> PostgresRows {
        let result = Self.withParameters(parameters) { types, values, lengths, formats in
            PQexecParams(connection, sql, Int32(parameters.count), types, values, lengths, formats, 1)
        }
        return try rows(of: checked(result))
    }

    /// How many statements go to the server before their results are read: enough to hide
    /// the round trips, few enough that their results (a command tag each) never fill the
    /// socket's buffer while this side is still sending, which would block both ends.
    static let pipelineChunk = 500

    func executePipelined(_ statements: [(sql: String, parameters: [PostgresValue])]) throws {
        guard !statements.isEmpty else { return }
        guard PQenterPipelineMode(connection) == 1 else { throw lostOrFailed(sqlState: nil, message: libpqMessage(), detail: nil) }
        defer {
            // Results still pending (a send failed halfway): the connection's state is unknown,
            // and the transaction fails anyway; a fresh connection is the clean way out.
            if PQexitPipelineMode(connection) != 1 { PQreset(connection) }
        }
        var start = statements.startIndex
        while start < statements.endIndex {
            let end = min(start + Self.pipelineChunk, statements.endIndex)
            for (sql, parameters) in statements[start..<end] {
                let sent = Self.withParameters(parameters) { types, values, lengths, formats in
                    PQsendQueryParams(connection, sql, Int32(parameters.count), types, values, lengths, formats, 1)
                }
                guard sent == 1 else { throw lostOrFailed(sqlState: nil, message: libpqMessage(), detail: nil) }
            }
            guard PQpipelineSync(connection) == 1 else { throw lostOrFailed(sqlState: nil, message: libpqMessage(), detail: nil) }
            // Every statement's result (each followed by NULL), then the sync's. The first
            // failure is kept; the statements after it come back aborted.
            var failure: PostgresError?
            for _ in start..<end {
                while let result = PQgetResult(connection) {
                    switch PQresultStatus(result) {
                    case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_PIPELINE_ABORTED:
                        PQclear(result)
                    default:
                        do { PQclear(try checked(result)) } catch let error as PostgresError { failure = failure ?? error }
                    }
                }
                guard PQstatus(connection) == CONNECTION_OK else { break }
            }
            if PQstatus(connection) == CONNECTION_OK {
                while let result = PQgetResult(connection) {
                    let synced = PQresultStatus(result) == PGRES_PIPELINE_SYNC
                    PQclear(result)
                    if synced { break }
                }
            }
            if let failure { throw failure }
            guard PQstatus(connection) == CONNECTION_OK else { throw lostOrFailed(sqlState: nil, message: libpqMessage(), detail: nil) }
            start = end
        }
    }

    /// `body` with `parameters` as libpq takes them: types, values through C pointers (copies
    /// that live until it returns; a zero-length value still needs a pointer, nil being NULL),
    /// lengths and formats.
    private static func withParameters<R>(
        _ parameters: [PostgresValue],
        _ body: ([Oid], [UnsafePointer<CChar>?], [Int32], [Int32]) -> R
    ) -> R {
        let encoded = parameters.map(EncodedParameter.init)
        let buffers: [UnsafeMutablePointer<CChar>?] = encoded.map { parameter in
            parameter.bytes.map { bytes in
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
                bytes.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                return buffer
            }
        }
        defer { buffers.forEach { $0?.deallocate() } }
        return body(encoded.map(\.type), buffers.map { $0.map { UnsafePointer($0) } }, encoded.map { Int32($0.bytes?.count ?? 0) },
                    encoded.map(\.format))
    }

    func executeScript(_ sql: String) throws {
        PQclear(try checked(PQexec(connection, sql)))
    }

    /// COMMIT, throwing when the server answers ROLLBACK instead (the transaction had failed).
    func commit() throws {
        let result = try checked(PQexec(connection, "COMMIT"))
        defer { PQclear(result) }
        let tag = String(cString: PQcmdStatus(result))
        if tag != "COMMIT" {
            throw PostgresError(kind: .misuse, message: "PostgreSQL rolled the transaction back at COMMIT (it answered \(tag)): a statement inside it had failed",
                                advice: "Let a failed statement's error end the transaction instead of catching it inside")
        }
    }

    /// ROLLBACK if a transaction is still open; its own failure (a lost connection) is not the
    /// error the caller needs to see.
    func rollbackIfOpen() {
        guard PQstatus(connection) == CONNECTION_OK, PQtransactionStatus(connection) != PQTRANS_IDLE else { return }
        PQclear(PQexec(connection, "ROLLBACK"))
    }

    func reset() throws {
        PQreset(connection)
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw PostgresError(kind: .unreachable, message: "cannot connect again to PostgreSQL at \(endpoint): \(reason)",
                                advice: "Check that PostgreSQL is running and listening there")
        }
    }

    /// The result when the statement succeeded; else it is cleared and its error thrown.
    private func checked(_ result: OpaquePointer?) throws -> OpaquePointer {
        guard let result else { throw lostOrFailed(sqlState: nil, message: libpqMessage(), detail: nil) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return result
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            PQclear(result)
            // The server waits for COPY data nobody will send: the connection is of no more use.
            PQreset(connection)
            throw PostgresError(kind: .unsupported, message: "COPY is not run through PostgresConnection",
                                advice: "Use INSERT or SELECT statements")
        default:
            defer { PQclear(result) }
            func field(_ code: Character) -> String? {
                PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
            }
            throw lostOrFailed(sqlState: field("C"), message: field("M") ?? libpqMessage(), detail: field("D"))
        }
    }

    private func lostOrFailed(sqlState: String?, message: String, detail: String?) -> PostgresError {
        let message = message.isEmpty ? "the statement failed, and neither the server nor libpq said why" : message
        guard PQstatus(connection) == CONNECTION_OK else {
            return PostgresError(kind: .connectionLost, sqlState: sqlState,
                                 message: "the connection to PostgreSQL at \(endpoint) was lost: \(message)", detail: detail,
                                 advice: "The server may have stopped or restarted; reconnect and run the transaction again")
        }
        return PostgresError(kind: .server, sqlState: sqlState, message: message, detail: detail)
    }

    private func libpqMessage() -> String {
        String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The rows of a binary-format result, read whole; the result is cleared.
    private func rows(of result: OpaquePointer) throws -> PostgresRows {
        defer { PQclear(result) }
        let columnCount = PQnfields(result), rowCount = PQntuples(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        let types = (0..<columnCount).map { PQftype(result, $0) }
        var rows: [[PostgresValue]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            rows.append(try (0..<columnCount).map { column in
                if PQgetisnull(result, row, column) != 0 { return .null }
                let bytes = UnsafeRawBufferPointer(start: PQgetvalue(result, row, column), count: Int(PQgetlength(result, row, column)))
                guard let value = decodeBinary(type: types[Int(column)], bytes) else {
                    throw PostgresError(kind: .unsupported,
                                        message: "column \(columns[Int(column)]) has type OID \(types[Int(column)]), which PostgresRows does not read",
                                        advice: "Cast it in the SQL to one it reads (BIGINT, TEXT, BYTEA, BOOLEAN, NUMERIC), for example with ::text")
                }
                return value
            })
        }
        return PostgresRows(columns: columns, rows: rows, affectedRows: Int(String(cString: PQcmdTuples(result))) ?? 0)
    }
}
