import Foundation
import Testing

/// Issue 14, "two replicas, same digest, different grades": two sites read the same KPI for the
/// same month (97 and 91); two office nodes receive the readings in opposite orders by bundle.
/// They must hold the same data and print the same `report projects`, byte for byte, and show
/// the two readings as one open conflict.
@Suite(.serialized) struct KPIReadingOrderTests {
    @Test func twoOfficesReceivingTwoReadingsInOppositeOrdersPrintTheSameReport() throws {
        let cli = try SiteSyncBinary()
        defer { cli.remove() }
        try cli.ok("init", "--data-dir", "hub", "--node", "office-1", "--department", "office", "--role", "office")
        try cli.ok("init", "--data-dir", "office", "--node", "office-2", "--department", "office", "--role", "office")
        try cli.ok("init", "--data-dir", "a", "--node", "site-a", "--department", "roads")
        try cli.ok("init", "--data-dir", "b", "--node", "site-b", "--department", "roads")
        try cli.ok("record", "put", "--data-dir", "hub", "department", "roads", "name=Roads Bureau")
        try cli.ok("record", "import", "--data-dir", "hub", "-", stdin: """
            {"collection": "project", "id": "p1", "fields": {"code": "R-101", "name": "Ring road", "department": "roads", "budget": "300000"}}
            {"collection": "activity", "id": "a1", "fields": {"project": "p1", "name": "Earthworks", "budget": "300000", "ev_method": "manual", "planned_start": "2026-09-01", "planned_finish": "2026-12-31"}}
            {"collection": "kpi", "id": "k1", "fields": {"project": "p1", "name": "Pass rate", "direction": "higher_better", "baseline": "80", "target": "98", "weight": "1"}}
            """)
        try cli.ok("bundle", "export", "--data-dir", "hub", "--output", "plan.bundle", "--all")
        for node in ["office", "a", "b"] { try cli.ok("bundle", "import", "--data-dir", node, "plan.bundle") }

        try cli.ok("kpi", "read", "--data-dir", "a", "R-101/Pass rate", "97", "--period", "2026-11")
        try cli.ok("kpi", "read", "--data-dir", "b", "R-101/Pass rate", "91", "--period", "2026-11")
        for site in ["a", "b"] {
            try cli.ok("bundle", "export", "--data-dir", site, "--output", "\(site)-hub.bundle", "--for", "office-1")
            try cli.ok("bundle", "export", "--data-dir", site, "--output", "\(site)-office.bundle", "--for", "office-2")
        }
        try cli.ok("bundle", "import", "--data-dir", "hub", "a-hub.bundle")
        try cli.ok("bundle", "import", "--data-dir", "hub", "b-hub.bundle")
        try cli.ok("bundle", "import", "--data-dir", "office", "b-office.bundle")
        try cli.ok("bundle", "import", "--data-dir", "office", "a-office.bundle")

        #expect(try cli.digest("hub") == cli.digest("office"))
        let hub = try cli.ok("report", "projects", "--data-dir", "hub", "--as-of", "2026-11-30")
        let office = try cli.ok("report", "projects", "--data-dir", "office", "--as-of", "2026-11-30")
        #expect(hub == office, "hub:\n\(hub)\noffice:\n\(office)")
        #expect(hub.contains("R-101"))
        for node in ["hub", "office"] {
            let open = try #require(try cli.json("conflicts", "--data-dir", node, "--json", "--status", "open") as? [[String: Any]])
            #expect(open.contains { ($0["collection"] as? String) == "kpi_reading" }, "\(node): \(open)")
        }
    }
}
