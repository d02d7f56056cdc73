import Foundation
import Testing
@testable import SiteSyncCore

/// The documents other implementers rely on stay true to the code.
@Suite struct DocumentationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theProtocolSpecListsTheSchemaAsTheCodeDefinesIt() throws {
        let spec = try String(contentsOf: Self.root.appendingPathComponent("protocol/README.md"), encoding: .utf8)
        let start = try #require(spec.range(of: "<!-- schema-table:start -->\n"))
        let end = try #require(spec.range(of: "\n<!-- schema-table:end -->"))
        let table = String(spec[start.upperBound..<end.lowerBound])
        #expect(table == Schema.siteSync.markdownTable, "protocol/README.md's schema table is stale; it should read:\n\(Schema.siteSync.markdownTable)")
        #expect(spec.contains(Schema.siteSync.hash), "protocol/README.md should state the schema hash \(Schema.siteSync.hash)")
    }
}
