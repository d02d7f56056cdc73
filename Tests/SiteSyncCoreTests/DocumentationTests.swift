import Foundation
import Testing
@testable import SiteSyncCore

/// The documents other implementers rely on stay true to the code, and the repository stands
/// alone: what it cites is in it, and what its README says to run is what CI runs.
@Suite struct DocumentationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// What lies between two markers of `text`, or a failed requirement naming them.
    static func between(_ text: String, _ start: String, _ end: String, in file: String) throws -> String {
        let from = try #require(text.range(of: start), "\(file) has no \(start.debugDescription)")
        let to = try #require(text.range(of: end, range: from.upperBound..<text.endIndex), "\(file) has no \(end.debugDescription)")
        return String(text[from.upperBound..<to.lowerBound])
    }

    @Test func theProtocolSpecListsTheSchemaAsTheCodeDefinesIt() throws {
        let spec = try Self.text("protocol/README.md")
        let table = try Self.between(spec, "<!-- schema-table:start -->\n", "\n<!-- schema-table:end -->", in: "protocol/README.md")
        #expect(table == Schema.siteSync.markdownTable, "protocol/README.md's schema table is stale; it should read:\n\(Schema.siteSync.markdownTable)")
        #expect(spec.contains(Schema.siteSync.hash), "protocol/README.md should state the schema hash \(Schema.siteSync.hash)")
    }

    @Test func theDesignDocumentListsTheSchemaAndItsWritersAsTheCodeDefinesThem() throws {
        let design = try Self.text("docs/design.md")
        let tables = try Self.between(design, "<!-- design-schema:start -->\n", "\n<!-- design-schema:end -->", in: "docs/design.md")
        let expected = DesignSchemaTables.render(Schema.siteSync)
        #expect(tables == expected, """
            docs/design.md §3.3 is stale; replace what lies between its design-schema markers with:
            \(expected)
            """)
    }

    /// The README's test and demo commands are what CI runs, from a fresh clone, tests first.
    @Test func ciRunsTheReadmesTwoCommandsExactlyAsWritten() throws {
        let readme = try Self.text("README.md")
        let section = try Self.between(readme, "## Two commands\n", "\n## ", in: "README.md")
        let block = try Self.between(section, "```sh\n", "\n```", in: "README.md's Two commands")
        let commands = block.split(separator: "\n").map { line in
            String(line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]).trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        #expect(commands.count == 2, "README's Two commands: \(commands)")
        let ci = try Self.text(".ci/run")
        let run = ci.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { line in
            !line.isEmpty && !line.hasPrefix("#") && !line.hasPrefix("set ") && !line.hasPrefix("cd ")
        }
        #expect(Set(run) == Set(commands) && run.count == commands.count,
                ".ci/run should run exactly the README's commands \(commands), and nothing else; it runs \(run)")
        #expect(run.first == "scripts/test.sh", "CI runs the tests first, then the demo: \(run)")
    }

    /// A script committed without its run bit answers `Permission denied` on a fresh clone.
    @Test func everyScriptIsCommittedExecutable() throws {
        let listing = try Self.git("ls-files", "-s", "--", "scripts", ".ci")
        var committed: [String: String] = [:]
        for line in listing.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            guard parts.count == 2, let mode = parts[0].split(separator: " ").first else { continue }
            committed[String(parts[1])] = String(mode)
        }
        #expect(committed[".ci/run"] != nil && committed["scripts/test.sh"] != nil && committed["scripts/demo.sh"] != nil,
                "git ls-files lists \(committed.keys.sorted())")
        for (path, mode) in committed.sorted(by: { $0.key < $1.key }) {
            #expect(mode == "100755", "\(path) is committed as \(mode), without its run bit: `git update-index --chmod=+x \(path)`")
        }
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("scripts").path)
        for name in onDisk.sorted() where !name.hasPrefix(".") {
            #expect(committed["scripts/" + name] != nil, "scripts/\(name) is not committed")
        }
    }

    /// No file cites a document that is not in the repository: a reader of a fresh clone must
    /// find everything it points at. (The patterns are assembled so that this file holds none.)
    @Test func noFileCitesADocumentOutsideTheRepository() throws {
        let outside = ["DESIGN" + ".md", "DESIGN" + " §", "../" + "shared", "reference/" + "reliability",
                       "reliability" + ".md", "domain" + ".md", "STYLE" + ".md", "sync-" + "anchors"]
        var citations: [String] = []
        for (path, text) in try Self.repositoryTexts() {
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if let pattern = outside.first(where: { line.contains($0) }) {
                    citations.append("\(path):\(number + 1): cites \(pattern): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        #expect(citations.isEmpty, "cite docs/design.md (or protocol/README.md) instead:\n\(citations.joined(separator: "\n"))")
    }

    /// Every relative link of every Markdown file leads to a file of the repository.
    @Test func everyMarkdownLinkLeadsToAFileInTheRepository() throws {
        let link = try Regex(#"\]\(([^)\s]+)\)"#)
        var broken: [String] = []
        for (path, text) in try Self.repositoryTexts() where path.hasSuffix(".md") {
            let directory = Self.root.appendingPathComponent(path).deletingLastPathComponent()
            for match in text.matches(of: link) {
                guard let target = match.output[1].substring.map(String.init),
                      !target.hasPrefix("#"), !target.contains("://"), !target.hasPrefix("mailto:") else { continue }
                let file = String(target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0])
                let resolved = directory.appendingPathComponent(file).standardizedFileURL.path
                if !resolved.hasPrefix(Self.root.standardizedFileURL.path) || !FileManager.default.fileExists(atPath: resolved) {
                    broken.append("\(path): (\(target))")
                }
            }
        }
        #expect(broken.isEmpty, "links to nothing in the repository:\n\(broken.joined(separator: "\n"))")
    }

    // MARK: - Helpers

    /// Every text file of the repository by its path, skipping build products and hidden
    /// directories other than `.ci`.
    static func repositoryTexts() throws -> [(String, String)] {
        let rootPath = root.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey]) else {
            return []
        }
        var texts: [(String, String)] = []
        for case let url as URL in walker {
            let name = url.lastPathComponent
            let values = try url.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
            if values.isRegularFile != true {
                if name.hasPrefix(".") && name != ".ci" { walker.skipDescendants() }
                continue
            }
            guard (values.fileSize ?? 0) < 4_000_000, let data = FileManager.default.contents(atPath: url.path),
                  let text = String(data: data, encoding: .utf8) else { continue }
            texts.append((String(url.standardizedFileURL.path.dropFirst(rootPath.count + 1)), text))
        }
        #expect(texts.contains { $0.0 == "README.md" }, "found no README.md under \(rootPath)")
        return texts
    }

    static func git(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", root.path] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "git \(arguments.joined(separator: " ")) failed: run the tests in a git clone")
        return String(decoding: data, as: UTF8.self)
    }
}

/// The schema tables of docs/design.md §3.3, from the schema and the write policy: each
/// collection's kind, where its department comes from, how its ids are made and who creates
/// and deletes its records; each field's type, merge rule and the roles that write it.
enum DesignSchemaTables {
    static func render(_ schema: Schema) -> String {
        var lines = ["Schema version \(schema.version), hash `\(schema.hash)`.", "",
                     "| code | collection | kind | department from | id | created by | deleted by |", "|---|---|---|---|---|---|---|"]
        let collections = schema.collections.sorted { $0.code < $1.code }
        for collection in collections {
            let id = collection.naturalKey.map { "UUIDv5 of (" + $0.map { "`\($0)`" }.joined(separator: ", ") + ")" } ?? "given"
            lines.append("| \(collection.code) | `\(collection.name)` | \(collection.kind.rawValue) | \(departmentSource(collection.scope)) | "
                + "\(id) | \(roles { WritePolicy.denial($0, .create, collection) == nil }) | "
                + "\(roles { WritePolicy.denial($0, .delete, collection) == nil }) |")
        }
        lines += ["", "| field | code | type | rule | writes |", "|---|---|---|---|---|"]
        for collection in collections {
            let operation: WriteOperation = collection.kind == .appendOnly ? .create : .update
            for field in collection.fields.sorted(by: { $0.code < $1.code }) {
                var writers = roles { WritePolicy.denial($0, operation, collection, field: field) == nil }
                for state in (WritePolicy.approvals[collection.name]?[field.name] ?? []).sorted() {
                    writers += " (`\(state)`: "
                        + roles { WritePolicy.denial($0, operation, collection, field: field, value: .symbol(state)) == nil } + ")"
                }
                lines.append("| `\(collection.name).\(field.name)` | \(field.code) | \(typeName(field.type)) | \(field.rule.rawValue) | \(writers) |")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func roles(_ may: (Role) -> Bool) -> String {
        let allowed = Role.allCases.filter(may).map(\.rawValue)
        return allowed.isEmpty ? "nobody" : allowed.joined(separator: ", ")
    }

    static func departmentSource(_ scope: ScopeRule) -> String {
        switch scope {
        case .shared: "shared"
        case .field(let field): "its `\(field)`"
        case .fieldOrShared(let field): "its `\(field)`, else shared"
        case .inherited(let field, let optional): "its `\(field)`'s" + (optional ? ", else the writer's" : "")
        }
    }

    static func typeName(_ type: FieldType) -> String {
        switch type {
        case .enumeration(let cases): "enum(" + cases.joined(separator: " < ") + ")"
        case .ref(let target): "ref(" + target + ")"
        default: type.name
        }
    }
}
