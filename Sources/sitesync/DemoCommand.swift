import ArgumentParser
import Foundation
import SiteSyncCore
import SiteSyncDomain
import SiteSyncNode
import Synchronization

/// `sitesync demo`: the whole system on one machine, with the real commands shown as they run.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a city in miniature on this machine: a hub, an office and three field sites on loopback.",
        discussion: """
            Starts a hub (CURVE keys and an allow-list), an office and three field laptops of two \
            departments; the office imports road, drainage and park plans; the sites record several \
            days of progress offline — two crews on the same activity — then sync; the conflicts and \
            their resolution are shown, and the hub's reports printed. Every step is a real `sitesync` \
            command, printed before it runs. The data directories stay (their place is printed at the \
            end) so you can try more commands on them.

            On a terminal, the demo then leaves the hub's web dashboard running: it adds an office \
            person with a generated password, starts `sitesync serve --http 127.0.0.1:8080` (another \
            free port when 8080 is taken), prints the address, the name and the password, and stops \
            the server on Ctrl-C. Not on a terminal, or with --no-dashboard, it ends with the hub \
            stopped. Either way no process is left running.
            """)
    @Option(help: ArgumentHelp("Where to put the data directories (default: a new directory under /tmp).", valueName: "dir"))
    var dir: String?
    @Flag(help: "End with the hub stopped instead of leaving its web dashboard running until Ctrl-C (the default when standard output is no terminal).")
    var noDashboard = false

    func run() throws {
        let base = dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("sitesync-demo-\(Int(Date().timeIntervalSince1970))").path
        guard (try? FileManager.default.contentsOfDirectory(atPath: base))?.isEmpty ?? true else {
            throw NodeError(.usage, "\(base) is not empty: give an empty or new directory with --dir")
        }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let demo = Demo(base: base)
        defer { demo.stopHub() }
        // Interrupted (Ctrl-C), the demo stops its hub too: it leaves no process running. While
        // the dashboard runs, Ctrl-C is how it ends: the server is stopped and waited for.
        let hub = Mutex<(pid: Int32, dashboard: Bool)>((0, false))
        demo.onHubStarted = { pid, dashboard in hub.withLock { $0 = (pid, dashboard) } }
        Signals.onTerminate {
            let (pid, dashboard) = hub.withLock { $0 }
            if pid > 0 { kill(pid, SIGTERM) }
            if !dashboard { Foundation.exit(130) }
        }
        try demo.play()
        if !noDashboard && isatty(STDOUT_FILENO) == 1 { try demo.serveDashboard() }
    }
}

/// The demo's steps, each a `sitesync` run in a child process.
final class Demo {
    let base: String
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var hub: Process?
    /// Told each server's process id, and whether it is the dashboard left running for the user.
    var onHubStarted: (Int32, Bool) -> Void = { _, _ in }
    let today = CalendarDate.today

    init(base: String) { self.base = base }

    func day(_ offset: Int) -> String { today.adding(days: offset).description }

    func step(_ title: String) { print("\n" + Terminal.paint("== \(title)", .bold)) }

    /// Runs `sitesync ARGS` in the demo directory, printing the command and its output.
    @discardableResult
    /// - Parameter allowed: the exit statuses that are no failure (`status` answers with its own).
    /// - Parameter input: written to the command's standard input (a password), never printed.
    func run(_ arguments: String..., quiet: Bool = false, allowed: Set<Int32> = [0], input: String? = nil) throws -> String {
        if !quiet { print("$ sitesync " + arguments.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")) }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: base)
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let stdin = Pipe()
        if input != nil { process.standardInput = stdin }
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if !quiet { print(text, terminator: "") }
        guard allowed.contains(process.terminationStatus) else {
            throw NodeError(.usage, "the demo stopped: `sitesync \(arguments.joined(separator: " "))` failed: \(problems)")
        }
        return text
    }

    /// Starts `sitesync serve --data-dir hub ARGS` as the demo's hub (printed as it is typed),
    /// its log in `log` beside the data; returns it and the pipe of its standard output.
    func startServe(_ arguments: [String], log: String) throws -> (Process, Pipe) {
        print("$ sitesync " + (["serve", "--data-dir", "hub"] + arguments).joined(separator: " ") + " &")
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "--data-dir", "hub"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: base)
        let output = Pipe()
        process.standardOutput = output
        _ = FileManager.default.createFile(atPath: base + "/" + log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: base + "/" + log)
        try process.run()
        hub = process
        return (process, output)
    }

    func startHub() throws -> String {
        // The hub's log stays beside the data, for the curious.
        let (process, output) = try startServe([], log: "hub.log")
        onHubStarted(process.processIdentifier, false)
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw NodeError(.usage, "the demo hub did not start") }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "listening on ") else { throw NodeError(.usage, "the demo hub did not start: \(text)") }
        let endpoint = String(text[range.upperBound...].prefix { $0 != "\n" })
        print("hub listening on \(endpoint)")
        return endpoint
    }

    func stopHub() {
        guard let hub, hub.isRunning else { return }
        hub.terminate()
        hub.waitUntilExit()
    }

    /// The office's plan: a road, a drainage culvert and a park, scheduled around today.
    var planCSV: String {
        """
        project_code,project_name,department,project_budget,project_start,project_finish,goal,activity,activity_budget,quantity,unit,start,finish,method
        R-101,"Jianshe Road, widening",roads,4200000,\(day(-90)),\(day(120)),Carriageway,Earthworks,900000,12000,m3,\(day(-90)),\(day(-10)),units
        R-101,"Jianshe Road, widening",roads,4200000,\(day(-90)),\(day(120)),Carriageway,Base course,1400000,18000,m2,\(day(-30)),\(day(60)),units
        R-101,"Jianshe Road, widening",roads,4200000,\(day(-90)),\(day(120)),Footways,Kerbs,350000,5200,m,\(day(0)),\(day(90)),units
        D-201,Xiangjiang drainage culvert,water,1800000,\(day(-60)),\(day(60)),,Excavation,400000,3500,m3,\(day(-60)),\(day(0)),units
        D-201,Xiangjiang drainage culvert,water,1800000,\(day(-60)),\(day(60)),,Precast culvert,1100000,240,m,\(day(-20)),\(day(50)),units
        D-201,Xiangjiang drainage culvert,water,1800000,\(day(-60)),\(day(60)),,Supervision,300000,,,\(day(-60)),\(day(60)),level_of_effort
        P-301,Riverside park,parks,2600000,\(day(30)),\(day(300)),,Landscaping,2600000,42000,m2,\(day(30)),\(day(300)),units

        """
    }

    func play() throws {
        step("A hub at the central office, with its key")
        try run("init", "--data-dir", "hub", "--node", "hub-1", "--department", "office", "--role", "hub", "--listen", "tcp://127.0.0.1:*")
        let hubKey = try run("keys", "show", "--data-dir", "hub", quiet: true).trimmingCharacters(in: .whitespacesAndNewlines)
        let endpoint = try startHub()

        step("The office and three field laptops (two road crews, one drainage crew), each allowed by key at the hub")
        for (name, role, department) in [("office", "office", "office"), ("site-r1", "field", "roads"), ("site-r2", "field", "roads"),
                                         ("site-w1", "field", "water")] {
            try run("init", "--data-dir", name, "--node", name, "--department", department, "--role", role, "--hub", endpoint,
                    "--hub-key=\(hubKey)")
            let key = try run("keys", "show", "--data-dir", name, quiet: true).trimmingCharacters(in: .whitespacesAndNewlines)
            try run("keys", "allow", "--data-dir", "hub", "--node", name, "--department", department, "--role", role, "--key=\(key)")
        }

        step("The office plans: departments, the plan spreadsheet, KPIs")
        for (code, name) in [("roads", "Roads Bureau"), ("water", "Water Bureau"), ("parks", "Parks Bureau")] {
            try run("record", "put", "--data-dir", "office", "department", code, "name=\(name)")
        }
        try planCSV.write(toFile: base + "/plan.csv", atomically: true, encoding: .utf8)
        try run("import", "plan", "--data-dir", "office", "plan.csv")
        try run("kpi", "define", "--data-dir", "office", "R-101", "Lost-time accidents", "--direction", "lower_better", "--baseline", "4",
                "--target", "0", "--weight", "2")
        try run("kpi", "define", "--data-dir", "office", "R-101", "Local hires", "--direction", "higher_better", "--baseline", "0",
                "--target", "40")
        try run("project", "list", "--data-dir", "office")
        try run("sync", "--data-dir", "office")
        for site in ["site-r1", "site-r2", "site-w1"] { try run("sync", "--data-dir", site) }

        step("What the crews had on paper goes in first")
        try run("progress", "--data-dir", "site-r1", "R-101/Earthworks", "--qty", "7400", "--date", day(-6), "--note", "to date, from the paper logs")
        try run("progress", "--data-dir", "site-w1", "D-201/Excavation", "--qty", "2300", "--date", day(-6))
        try run("kpi", "read", "--data-dir", "office", "R-101/Lost-time accidents", "1")
        try run("kpi", "read", "--data-dir", "office", "R-101/Local hires", "31")

        step("Five days offline: both road crews work on the earthworks, the drainage crew digs")
        let earthworks = try Node.open(at: base + "/site-r1").findActivity("R-101/Earthworks").id
        for offset in -4...0 {
            try run("progress", "--data-dir", "site-r1", "R-101/Earthworks", "--qty", "\(620 + 15 * offset)m3", "--date", day(offset))
            try run("progress", "--data-dir", "site-r2", "R-101/Earthworks", "--qty", "\(540 - 10 * offset)", "--date", day(offset),
                    quiet: offset != 0)
            try run("progress", "--data-dir", "site-w1", "Excavation", "--qty", "\(95 + offset)", "--date", day(offset), quiet: offset != 0)
            try run("log", "--data-dir", "site-r1", "R-101", "--date", day(offset), "--crew", "\(14 + offset)", "--weather", "overcast",
                    quiet: offset != 0)
        }
        try run("cost", "--data-dir", "site-r1", "R-101/Earthworks", "182500", "--date", day(-2), "--note", "haulage, week 47")
        try run("cost", "--data-dir", "site-w1", "D-201/Excavation", "61800", "--date", day(-1))
        try run("risk", "--data-dir", "site-w1", "D-201", "Groundwater in the trench", "--probability", "4", "--impact", "4")
        // The same activity edited on both laptops: each crew writes its own remark, and each
        // noted a different first day on site.
        try run("record", "put", "--data-dir", "site-r1", "activity", earthworks, "remarks=North half compacted; south pending tests")
        try run("record", "put", "--data-dir", "site-r2", "activity", earthworks, "remarks=South half: rock at 1.2 m, breaker needed")
        try run("record", "put", "--data-dir", "site-r2", "activity", earthworks, "actual_start=\(day(-88))")

        step("A site manager asks: am I in sync? (exit status 2: changes wait to go up)")
        try run("status", "--data-dir", "site-r1", allowed: [2])

        step("The drainage site has no link today: its work goes to the hub on a USB stick")
        try run("bundle", "export", "--data-dir", "site-w1", "--all", "--output", "usb-site-w1.bundle")
        try run("bundle", "import", "--data-dir", "hub", "usb-site-w1.bundle")

        step("The road crews are back in range: everyone syncs with the hub")
        for site in ["site-r1", "site-r2", "site-w1", "office", "site-r1", "site-r2", "site-w1"] { try run("sync", "--data-dir", site) }

        step("The central office sees every site at a glance: who is behind, who is stale, who has conflicts")
        try run("status", "--data-dir", "hub", "--fleet", allowed: [0, 2, 3])

        step("Conflicts: each was detected and resolved by the field's rule; the remarks wait for a person")
        try run("conflicts", "--data-dir", "hub", "--all")
        try run("resolve", "--data-dir", "office", "activity", earthworks, "remarks",
                "--value", "North half compacted; south: rock at 1.2 m, breaker ordered")
        for site in ["office", "site-r1", "site-r2"] { try run("sync", "--data-dir", site) }
        try run("conflicts", "--data-dir", "site-r2")
        try run("status", "--data-dir", "site-r2")
        try run("history", "--data-dir", "site-r2", "--limit", "4")

        step("Every replica that has seen the same changes shows the same data")
        for node in ["hub", "site-r1", "site-r2"] {
            print("\(node.padding(toLength: 8, withPad: " ", startingAt: 0)) "
                  + (try run("digest", "--data-dir", node, "--department", "roads", quiet: true)), terminator: "")
        }

        step("At the hub: the city's projects and departments")
        try run("report", "projects", "--data-dir", "hub")
        try run("report", "departments", "--data-dir", "hub")
        try run("audit", "verify", "--data-dir", "hub")
        stopHub()

        step("For the office's other systems: a read-only token for the hub's HTTP API")
        let printed = try run("api", "token", "create", "--data-dir", "hub", "--name", "leadership-bi", "--role", "auditor")
        let token = printed.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("sst_") }.map(String.init) ?? "TOKEN"

        step("Done: the hub is stopped; the data stays in \(base) (the hub's log in hub.log)")
        print("""
            Try:
              sitesync report monthly --data-dir \(base)/hub --period \(day(0).prefix(7)) --format html --output review.html
              sitesync project show --data-dir \(base)/hub R-101
              sitesync activity list --data-dir \(base)/site-r1
              sitesync conflicts --data-dir \(base)/hub --all
              sitesync status --data-dir \(base)/hub --fleet
              sitesync keys list --data-dir \(base)/hub
            The HTTP API (protocol/http-api.yaml), with the token made above:
              sitesync serve --data-dir \(base)/hub --http 127.0.0.1:8080 &
              curl -H 'Authorization: Bearer \(token)' http://127.0.0.1:8080/api/v1/city
            """)
    }
}

extension Demo {
    /// The end of the demo on a terminal: the hub's web dashboard, running until Ctrl-C, with an
    /// office person to sign in as (a password generated now and printed once).
    func serveDashboard() throws {
        step("The hub's web dashboard, for a look in the browser (Ctrl-C stops it)")
        let name = "demo-office"
        let password = Self.generatedPassword()
        print("$ sitesync user add --data-dir hub --name \(name) --role office   # the password on standard input")
        try run("user", "add", "--data-dir", "hub", "--name", name, "--role", "office", quiet: true, input: password + "\n")
        // 8080 when it is free; else whichever port the system gives.
        guard let started = try startDashboard(port: 8080) ?? startDashboard(port: 0) else {
            throw NodeError(.usage, "the dashboard did not start; its log is in \(base)/dashboard.log")
        }
        let (server, url) = started
        print("""

            Dashboard:  \(url)
            Sign in as: \(name)
            Password:   \(password)   (shown only now; `sitesync user password --data-dir \(base)/hub \(name)` sets another)
            Press Ctrl-C to stop it.
            """)
        server.waitUntilExit()
        hub = nil
        print("\nThe dashboard is stopped; the data stays in \(base).")
    }

    /// Starts `sitesync serve --http 127.0.0.1:PORT` on the hub and waits for its `http on URL`
    /// line; `nil` when the server ends first (the port is taken).
    func startDashboard(port: Int) throws -> (Process, String)? {
        let (process, output) = try startServe(["--http", "127.0.0.1:\(port)"], log: "dashboard.log")
        onHubStarted(process.processIdentifier, true)
        var text = ""
        while true {
            if let range = text.range(of: "http on "), let end = text[range.upperBound...].firstIndex(of: "\n") {
                return (process, String(text[range.upperBound..<end]))
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        process.waitUntilExit()
        hub = nil
        print("(port \(port) is not free)")
        return nil
    }

    /// Sixteen letters and digits, without the ones easily misread (0/O, 1/l/I).
    static func generatedPassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
