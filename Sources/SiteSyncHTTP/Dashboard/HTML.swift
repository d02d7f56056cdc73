import Foundation
import SiteSyncCore
import SiteSyncDomain

/// Escapes text for HTML, in element content and in quoted attribute values alike. Every text
/// that comes from the data (names, codes, remarks, values a site wrote) passes through here
/// and only here, so a project named `<script>…` shows as text and never runs.
func html(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text.unicodeScalars {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(character)
        }
    }
    return out
}

extension JSONValue {
    /// The member `key` of an object as text (`nil` for a missing key, `null` or not an
    /// object): strings as they are, numbers as written.
    func text(_ key: String) -> String? { member(key)?.plainText }

    /// The member `key` of an object.
    func member(_ key: String) -> JSONValue? {
        guard case .object(let object) = self else { return nil }
        return object[key]
    }

    /// The elements of an array (none for anything else).
    var elements: [JSONValue] {
        if case .array(let elements) = self { return elements }
        return []
    }

    /// The value as a person reads it: a string as it is, a number as written, `nil` for null.
    var plainText: String? {
        switch self {
        case .string(let text): text
        case .int(let number): String(number)
        case .number(let number): number
        case .bool(let flag): flag ? "true" : "false"
        case .null: nil
        default: canonicalText
        }
    }
}

/// A whole page: the head with the inline style sheet (a print sheet too), the navigation the
/// person may use, the language switch, and `body`.
struct PageFrame {
    let catalog: Catalog
    /// The path and query of this page, for the language switch (without `lang`).
    let path: String
    let person: Person?
    let csrfToken: String?

    func render(title: String, body: String) -> String {
        let c = catalog
        var nav = ""
        // The audit views, for the one role that may see them.
        let scorecardLink = person.map(DashboardRoutes.readsScorecards) == true ? "\n<li><a href=\"/scorecards\">\(html(c[.scorecards]))</a></li>" : ""
        let auditLink = person?.mayViewAudit == true ? "\n<li><a href=\"/audit\">\(html(c[.audit]))</a></li>" : ""
        if let person {
            nav = """
            <nav aria-label="\(html(c[.appName]))"><ul>
            <li><a href="/">\(html(c[.overview]))</a></li>
            <li><a href="/fleet">\(html(c[.fleet]))</a></li>
            <li><a href="/conflicts">\(html(c[.conflicts]))</a></li>
            <li><a href="/reports/monthly/\(html(Self.currentMonth()))">\(html(c[.monthlyReport]))</a></li>
            <li><a href="/goals">\(html(c[.goalTree]))</a></li>\(scorecardLink)
            <li><a href="/templates">\(html(c[.templates]))</a></li>
            <li><a href="/suggestions">\(html(c[.suggestions]))</a></li>\(auditLink)
            </ul>
            <form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="\(html(csrfToken ?? ""))">
            <span>\(html(c[.signedInAs])): \(html(person.name))</span> <button type="submit">\(html(c[.signOut]))</button></form>
            </nav>
            """
        }
        let separator = path.contains("?") ? "&" : "?"
        let other = c.language.other
        let switchLink = """
            <p class="lang">\(html(c[.language])): <a href="\(html(path + separator + "lang=" + other.rawValue))" hreflang="\(other.rawValue)" \
            lang="\(other.rawValue)">\(other == .en ? "English" : "中文")</a></p>
            """
        return """
            <!DOCTYPE html>
            <html lang="\(c.language.rawValue)"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(html(title)) · \(html(c[.appName]))</title>
            <style>\(Self.style)</style>\(PageSecurity.scriptTag)</head>
            <body><header><p class="app">\(html(c[.appName]))</p>\(nav)\(switchLink)</header>
            <main><h1>\(html(title))</h1>
            \(body)
            </main></body></html>
            """
    }

    static func currentMonth() -> String {
        String(CalendarDate(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)).description.prefix(7))
    }

    /// The style sheet: CJK-capable fonts first, colours with their words beside them, a
    /// visible keyboard focus, and a print sheet that drops navigation and keeps tables whole.
    static let style = """
        body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#1a1a1a;background:#fafafa;line-height:1.45}
        header{background:#123;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
        header a{color:#fff}header .app{font-weight:bold;margin:0}
        nav ul{list-style:none;display:flex;gap:1rem;margin:0;padding:0}nav{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
        .lang{margin:0 0 0 auto}.inline{display:inline}
        main{padding:1rem;max-width:80rem}
        table{border-collapse:collapse;margin:.5rem 0 1.5rem;background:#fff}
        th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
        th{background:#eef}td.num{text-align:right;font-variant-numeric:tabular-nums}
        a:focus,button:focus,input:focus,select:focus,summary:focus{outline:3px solid #f90;outline-offset:2px}
        .swatch{display:inline-block;width:.8em;height:.8em;border:1px solid #333;margin-right:.3em;vertical-align:middle}
        .green{background:#2a8a3a}.amber{background:#e0a000}.red{background:#c0392b}
        .bar{display:inline-block;width:8rem;height:.7rem;background:#ddd;border:1px solid #999;vertical-align:middle}
        .bar span{display:block;height:100%;background:#36c}
        .figures{display:flex;flex-wrap:wrap;gap:.5rem}.figures div{background:#fff;border:1px solid #ccc;padding:.5rem;min-width:10rem}
        .figures dt{font-size:.85rem;color:#444}.figures dd{margin:0;font-size:1.2rem;font-weight:bold}
        .message{padding:.5rem;border:2px solid #36c;background:#eef}.error{border-color:#c0392b;background:#fee}
        ol.timeline{list-style:none;padding-left:1rem;border-left:3px solid #36c}ol.timeline li{margin-bottom:.5rem}
        svg text{font-size:11px;font-family:inherit}
        @media print{header,nav,.lang,form,.noprint{display:none}body{background:#fff}main{max-width:none;padding:0}
        table{page-break-inside:avoid}a{color:inherit;text-decoration:none}}
        """
}

/// A table: a caption, header cells with `scope="col"`, and rows of cells already rendered
/// (each cell's text escaped by its maker). A cell starting with `<td` is used as it is.
func table(caption: String, headers: [String], rows: [[String]], numeric: Set<Int> = []) -> String {
    var out = "<table><caption>\(html(caption))</caption><thead><tr>"
    out += headers.map { "<th scope=\"col\">\(html($0))</th>" }.joined()
    out += "</tr></thead><tbody>"
    for row in rows {
        out += "<tr>"
        for (index, cell) in row.enumerated() {
            if cell.hasPrefix("<th") || cell.hasPrefix("<td") { out += cell } else {
                out += numeric.contains(index) ? "<td class=\"num\">\(cell)</td>" : "<td>\(cell)</td>"
            }
        }
        out += "</tr>"
    }
    return out + "</tbody></table>"
}
