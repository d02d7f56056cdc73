import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode

/// The HTTP API at a city's scale (docs/design.md §9): the hub's `GET /api/v1/city` and
/// `GET /api/v1/projects` under concurrent clients on a warm server, beside the same figures
/// through the command line, and how soon a change shows in the figures.
public struct HTTPBenchmarkResult: Sendable {
    public let cityP99Milliseconds: Double
    public let projectsP99Milliseconds: Double
    public let cityP50Milliseconds: Double
    public let projectsP50Milliseconds: Double
    /// `sitesync report departments` and `report projects` (the same figures), whole runs.
    public let cityCommandMilliseconds: Double
    public let projectsCommandMilliseconds: Double
    public let requests: Int
    public let clients: Int
    /// From a write's answer until `GET /city` shows it.
    public let freshSeconds: Double
    public let projects: Int
    public let activities: Int
    /// The dashboard's pages (signed in as an office person), each page's p99 by its name
    /// (``dashboardPages``), and the heaviest page, in kB.
    public let pageP99Milliseconds: [(page: String, milliseconds: Double)]
    /// Each page's first answer on the warm server (whatever a page keeps until the data
    /// changes is computed then).
    public let pageFirstMilliseconds: [(page: String, milliseconds: Double)]
    public let heaviestPageKilobytes: Double
}

public enum HTTPBenchmark {
    /// 5,000 projects × 20 activities (100,000), a quantity entry a week for 12 weeks and a cost
    /// a week: the issue's scale, the same with --quick.
    public static let scale = ReportBenchmark.Scale(projects: 5_000, activitiesPerProject: 20, days: 84, entryEvery: 7)

    public static func run(executable: URL, requestsPerClient: Int = 250, clients: Int = 4,
                           progress: (String) -> Void) throws -> HTTPBenchmarkResult {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-httpbench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let hubPath = directory + "/hub"
        let hub = try NetworkBenchmark.hubNode(hubPath)
        // The city below is written straight into the tables; a write through the API needs an
        // activity the store knows as a record, so one project goes in first, through the plan import.
        try hub.writeEntry("department", id: "roads", ["name=Roads"])
        _ = try hub.importPlan(csv: "project_code,project_name,department,activity,activity_budget,start,finish\n"
                               + "PROBE-1,Freshness probe,roads,Probe,1000,2026-09-01,2026-12-31\n")
        progress("http: writing \(scale.projects) projects × \(scale.activitiesPerProject) activities")
        try ReportBenchmark.writeCity(at: hubPath + "/" + Node.databaseFile, scale: scale, asOf: CalendarDate("2026-11-30")!)
        try ReportBenchmark.writePlanning(at: hubPath + "/" + Node.databaseFile, scale: scale, quarter: Self.quarter)
        let token = try ApiTokens.create(hub, name: "bench", role: .office, department: nil, readOnly: false).secret
        _ = try People.add(hub, name: "bench-office", role: .office, department: nil, password: Self.password)

        progress("http: the same figures through the command line")
        let cityCommand = try timeCommand(executable, ["report", "departments", "--data-dir", hubPath, "--format", "json"])
        let projectsCommand = try timeCommand(executable, ["report", "projects", "--data-dir", hubPath, "--format", "json"])

        let server = try ServerProcess(executable: executable, arguments: ["serve", "--data-dir", hubPath, "--listen", "tcp://127.0.0.1:*",
                                                                           "--http", "127.0.0.1:0", "--quiet"],
                                       log: directory + "/serve.log")
        defer { server.stop() }
        let port = try server.httpPort()
        // Warm: the first answer waits for the first computation of the figures.
        let warm = try HTTPClient(port: port, token: token)
        _ = try warm.get("/api/v1/city", expecting: 200)
        _ = try warm.get("/api/v1/projects", expecting: 200)

        progress("http: \(clients) clients × \(requestsPerClient) requests of /city, then of /projects")
        let city = try drive(port: port, token: token, path: "/api/v1/city", clients: clients, requests: requestsPerClient)
        let projects = try drive(port: port, token: token, path: "/api/v1/projects", clients: clients, requests: requestsPerClient)

        progress("http: the dashboard's pages, \(clients) clients × \(requestsPerClient / 5) requests each")
        let cookie = try signIn(port: port)
        var pages: [(page: String, milliseconds: Double)] = []
        var heaviest = 0
        var firsts: [(page: String, milliseconds: Double)] = []
        for (name, path) in dashboardPages {
            let start = DispatchTime.now().uptimeNanoseconds
            heaviest = max(heaviest, try HTTPClient(port: port, credentials: cookie).get(path, expecting: 200).utf8.count)
            firsts.append((name, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6))
            pages.append((name, percentile(try drive(port: port, credentials: cookie, path: path, clients: clients,
                                                      requests: requestsPerClient / 5), 0.99)))
        }

        progress("http: how soon a write shows in /city")
        let fresh: Double
        do {
            fresh = try freshness(warm)
        } catch {
            throw BenchFailure("\(error); the server's log ends: \(server.logTail)")
        }
        return HTTPBenchmarkResult(
            cityP99Milliseconds: percentile(city, 0.99), projectsP99Milliseconds: percentile(projects, 0.99),
            cityP50Milliseconds: percentile(city, 0.5), projectsP50Milliseconds: percentile(projects, 0.5),
            cityCommandMilliseconds: cityCommand, projectsCommandMilliseconds: projectsCommand,
            requests: requestsPerClient * clients, clients: clients, freshSeconds: fresh,
            projects: scale.projects, activities: scale.projects * scale.activitiesPerProject,
            pageP99Milliseconds: pages, pageFirstMilliseconds: firsts, heaviestPageKilobytes: Double(heaviest) / 1024)
    }

    /// The pages measured, by name: the overview, a department of 1,000 projects (its first
    /// page of 100), a project, this month's review (its first page), the fleet, the conflict
    /// queue, the goal tree (a city's: every activity under its goals), the scorecards of this
    /// quarter (a lead per project), the template library and the suggestion box.
    public static let dashboardPages: [(name: String, path: String)] = [
        ("overview", "/"), ("department", "/departments/roads"), ("project", "/projects/P-1"),
        ("monthly", "/reports/monthly/\(today.description.prefix(7))"), ("fleet", "/fleet"), ("conflicts", "/conflicts"),
        ("goals", "/goals"), ("scorecards", "/scorecards?period=\(quarter)"), ("templates", "/templates"), ("suggestions", "/suggestions"),
    ]

    static var today: CalendarDate { CalendarDate(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)) }
    /// This quarter, whose goal targets the city holds and whose scorecards are measured.
    static var quarter: String { "\(today.year)-Q\((today.month - 1) / 3 + 1)" }

    static let password = "bench password, long enough"

    /// Signs in as the bench's office person; returns the header line of its session cookie.
    static func signIn(port: Int) throws -> String {
        let form = "name=bench-office&password=" + (password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        let answer = try HTTPClient(port: port, credentials: "").post("/login", body: form, type: "application/x-www-form-urlencoded",
                                                                        expecting: 303)
        guard let line = answer.headers.first(where: { $0.lowercased().hasPrefix("set-cookie: sitesync_session=") }),
              let pair = line.split(separator: " ", maxSplits: 1).last?.split(separator: ";").first else {
            throw BenchFailure("signing in set no session cookie")
        }
        return "Cookie: \(pair)\r\n"
    }

    /// Latencies in milliseconds of `requests` GETs by each of `clients` keep-alive connections
    /// at once, each connection asking with `credentials` (a header line).
    static func drive(port: Int, token: String, path: String, clients: Int, requests: Int) throws -> [Double] {
        try drive(port: port, credentials: "Authorization: Bearer \(token)\r\n", path: path, clients: clients, requests: requests)
    }

    static func drive(port: Int, credentials: String, path: String, clients: Int, requests: Int) throws -> [Double] {
        let results = ResultsBox()
        let group = DispatchGroup()
        for _ in 0..<clients {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let client = try HTTPClient(port: port, credentials: credentials)
                    var latencies: [Double] = []
                    for _ in 0..<requests {
                        let start = DispatchTime.now().uptimeNanoseconds
                        _ = try client.get(path, expecting: 200)
                        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                    }
                    results.add(latencies)
                } catch {
                    results.fail("\(error)")
                }
            }.start()
        }
        group.wait()
        return try results.all()
    }

    /// Seconds from a cost's `201` until `GET /city` shows the larger actual cost.
    static func freshness(_ client: HTTPClient) throws -> Double {
        func actualCost(_ client: HTTPClient) throws -> Double {
            let body = try client.get("/api/v1/city", expecting: 200)
            guard case .object(let city)? = JSONText.parse(body), let ac = city["ac"] else { throw BenchFailure("no ac in /city: \(body)") }
            switch ac {
            case .int(let value): return Double(value)
            case .number(let text): return Double(text) ?? 0
            default: throw BenchFailure("ac is not a number in /city: \(body)")
            }
        }
        let before = try actualCost(client)
        _ = try client.post("/api/v1/costs", json: #"{"activity": "PROBE-1/Probe", "amount": "1000000", "date": "2026-11-30"}"#, expecting: 201)
        let start = DispatchTime.now().uptimeNanoseconds
        while try actualCost(client) <= before {
            guard DispatchTime.now().uptimeNanoseconds - start < 30_000_000_000 else { throw BenchFailure("a cost did not show in /city within 30 s") }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Milliseconds of one run of `sitesync ARGS`, the faster of two.
    static func timeCommand(_ executable: URL, _ arguments: [String]) throws -> Double {
        var best = Double.infinity
        for _ in 0..<2 {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            let start = DispatchTime.now().uptimeNanoseconds
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw BenchFailure("sitesync \(arguments.joined(separator: " ")) failed") }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return best
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    final class ResultsBox: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        private let lock = NSLock()
        private var latencies: [Double] = []
        private var failures: [String] = []
        func add(_ values: [Double]) { lock.withLock { latencies += values } }
        func fail(_ failure: String) { lock.withLock { failures.append(failure) } }
        func all() throws -> [Double] {
            try lock.withLock {
                if let failure = failures.first { throw BenchFailure("a client failed: \(failure)") }
                return latencies
            }
        }
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `sitesync serve` in a process of its own, with what it prints collected.
final class ServerProcess {
    let process = Process()
    private let output = Pipe()
    private var printed = Data()
    private let log: String

    /// - Parameter log: where its standard error goes.
    init(executable: URL, arguments: [String], log: String) throws {
        self.log = log
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = output
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
    }

    /// The last lines it logged.
    var logTail: String {
        String((try? String(contentsOfFile: log, encoding: .utf8))?.suffix(2000) ?? "")
    }

    /// The port of its "http on http://127.0.0.1:PORT" line.
    func httpPort() throws -> Int {
        while true {
            let text = String(decoding: printed, as: UTF8.self)
            if let range = text.range(of: "http on http://127.0.0.1:"),
               let end = text[range.upperBound...].firstIndex(of: "\n"), let port = Int(text[range.upperBound..<end]) {
                return port
            }
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw BenchFailure("the server did not start its HTTP API") }
            printed.append(chunk)
        }
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// A minimal HTTP/1.1 client over one keep-alive TCP connection to 127.0.0.1: enough to time
/// requests without a client library's own costs in the figures.
final class HTTPClient {
    private let socket: Int32
    /// The header line that says who asks (a bearer token, or a session cookie), or "".
    private let credentials: String
    private var buffer: [UInt8] = []

    convenience init(port: Int, token: String) throws {
        try self.init(port: port, credentials: "Authorization: Bearer \(token)\r\n")
    }

    init(port: Int, credentials: String) throws {
        self.credentials = credentials
        socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw BenchFailure("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw BenchFailure("cannot connect to 127.0.0.1:\(port)") }
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(socket) }

    func get(_ path: String, expecting status: Int) throws -> String {
        try exchange("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(credentials)\r\n", expecting: status).body
    }

    func post(_ path: String, json: String, expecting status: Int) throws -> String {
        try post(path, body: json, type: "application/json", expecting: status).body
    }

    func post(_ path: String, body: String, type: String, expecting status: Int) throws -> (headers: [String], body: String) {
        try exchange("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(credentials)Content-Type: \(type)\r\n"
                     + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)", expecting: status)
    }

    private func exchange(_ request: String, expecting status: Int) throws -> (headers: [String], body: String) {
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw BenchFailure("send failed") }
            sent += n
        }
        let head = try readUntil([13, 10, 13, 10])
        let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
        let code = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "content-length" ? Int(parts[1].trimmingCharacters(in: .whitespaces)) : nil
        }.first ?? 0
        let body = try read(length)
        guard code == status else { throw BenchFailure("expected \(status), got \(code): \(String(decoding: body, as: UTF8.self))") }
        return (Array(lines.dropFirst()), String(decoding: body, as: UTF8.self))
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw BenchFailure("the server closed the connection") }
        buffer += chunk[0..<n]
    }

    private func readUntil(_ marker: [UInt8]) throws -> [UInt8] {
        while true {
            if buffer.count >= marker.count {
                for i in 0...(buffer.count - marker.count) where buffer[i..<(i + marker.count)].elementsEqual(marker) {
                    let head = Array(buffer[0..<(i + marker.count)])
                    buffer.removeFirst(i + marker.count)
                    return head
                }
            }
            try fill()
        }
    }

    private func read(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        let body = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return body
    }
}
