import Foundation

/// One page of a long list: which rows a page shows and the links to the others. A city's
/// department holds a thousand projects; a page of them all weighs a megabyte, so lists are cut
/// into pages of ``size`` rows, chosen with `?page=` (from 1), the other query items kept.
struct Paging {
    static let size = 100

    /// The page asked for, from 1, within the pages there are.
    let page: Int
    let total: Int
    /// The path the links point to, and the query items to keep (a filter), without `page`.
    let path: String
    let keep: [(String, String)]

    init(asked: String?, total: Int, path: String, keep: [(String, String)] = []) {
        let pages = max(1, (total + Self.size - 1) / Self.size)
        self.page = min(max(1, asked.flatMap { Int($0) } ?? 1), pages)
        self.total = total
        self.path = path
        self.keep = keep
    }

    var pages: Int { max(1, (total + Self.size - 1) / Self.size) }
    var offset: Int { (page - 1) * Self.size }
    var range: Range<Int> { offset..<min(total, offset + Self.size) }

    func slice<T>(_ rows: [T]) -> ArraySlice<T> { rows[min(offset, rows.count)..<min(rows.count, offset + Self.size)] }

    func link(_ page: Int) -> String {
        let items = keep + (page > 1 ? [("page", String(page))] : [])
        guard !items.isEmpty else { return path }
        return path + "?" + items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            .joined(separator: "&")
    }

    /// "1–100 of 1,000", then the previous and next pages and every page number (at most a
    /// few dozen: 5,000 projects make 50), the current one marked for screen readers too.
    func navigation(_ c: Catalog) -> String {
        let shown = total == 0 ? "0" : "\(c.number(String(range.lowerBound + 1)))–\(c.number(String(range.upperBound)))"
        var out = "<nav class=\"pages noprint\" aria-label=\"\(html(c[.pages]))\"><p>\(html(c.rowsShown(shown, of: c.number(String(total)))))"
        guard pages > 1 else { return out + "</p></nav>" }
        if page > 1 { out += " <a href=\"\(html(link(page - 1)))\" rel=\"prev\">\(html(c[.previousPage]))</a>" }
        if page < pages { out += " <a href=\"\(html(link(page + 1)))\" rel=\"next\">\(html(c[.nextPage]))</a>" }
        out += "</p><p>"
        out += (1...pages).map { number in
            number == page ? "<strong aria-current=\"page\">\(number)</strong>" : "<a href=\"\(html(link(number)))\">\(number)</a>"
        }.joined(separator: " ")
        return out + "</p></nav>"
    }
}
