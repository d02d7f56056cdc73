import Foundation
import SiteSyncCore

/// The dashboard's charts as inline SVG, readable without a script; each comes with its figures
/// as a table too (a screen reader, a printout and a colour-blind reader get the same facts).
enum Charts {
    /// The S-curve of PV, EV and AC at each month's end: three polylines, told apart by colour
    /// and by dash pattern, with a legend in words.
    static func sCurve(_ points: [JSONValue], catalog c: Catalog) -> String {
        let months = points.map { $0.text("month") ?? "" }
        let series: [(key: String, label: String, stroke: String, dash: String)] = [
            ("planned_value", c[.plannedValue], "#36c", ""), ("earned_value", c[.earnedValue], "#2a8a3a", "6 3"),
            ("actual_cost", c[.actualCost], "#c0392b", "2 3"),
        ]
        let values = series.map { line in points.map { Double($0.text(line.key) ?? "") ?? 0 } }
        let top = max(values.flatMap { $0 }.max() ?? 0, 1)
        let (width, height, left, bottom) = (640.0, 260.0, 90.0, 30.0)
        let plotWidth = width - left - 20, plotHeight = height - bottom - 20
        func x(_ index: Int) -> Double { left + (months.count > 1 ? Double(index) / Double(months.count - 1) * plotWidth : plotWidth / 2) }
        func y(_ value: Double) -> Double { 20 + plotHeight - value / top * plotHeight }
        var svg = """
            <svg role="img" aria-labelledby="scurve-title" viewBox="0 0 \(Int(width)) \(Int(height + 40))" width="100%" style="max-width:\(Int(width))px">
            <title id="scurve-title">\(html(c[.sCurve]))</title>
            <line x1="\(left)" y1="\(y(0))" x2="\(width - 20)" y2="\(y(0))" stroke="#333"/>
            <line x1="\(left)" y1="20" x2="\(left)" y2="\(y(0))" stroke="#333"/>
            <text x="\(left - 4)" y="\(y(top) + 4)" text-anchor="end">\(html(c.number(String(format: "%.0f", top))))</text>
            <text x="\(left - 4)" y="\(y(0) + 4)" text-anchor="end">0</text>
            """
        // Short month labels (11月, Nov) fit twelve to the axis without touching; a longer curve
        // labels every n-th month. The year stands on a row of its own, at the first month and
        // at each January.
        let step = max(1, (months.count + 11) / 12)
        for (index, month) in months.enumerated() where index % step == 0 {
            svg += "<text x=\"\(x(index))\" y=\"\(y(0) + 16)\" text-anchor=\"middle\">\(html(c.shortMonth(month)))</text>"
        }
        for (index, month) in months.enumerated() where index == 0 || month.hasSuffix("-01") {
            svg += "<text x=\"\(x(index))\" y=\"\(y(0) + 30)\" text-anchor=\"middle\">\(html(c.year(month)))</text>"
        }
        for (number, line) in series.enumerated() {
            let coordinates = values[number].enumerated().map { "\(x($0.offset)),\(y($0.element))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(line.stroke)\" stroke-width=\"2.5\" stroke-dasharray=\"\(line.dash)\" points=\"\(coordinates)\"/>"
            for (index, value) in values[number].enumerated() {
                svg += "<circle cx=\"\(x(index))\" cy=\"\(y(value))\" r=\"3\" fill=\"\(line.stroke)\"/>"
            }
            let legendX = left + Double(number) * 180
            svg += "<line x1=\"\(legendX)\" y1=\"\(height + 20)\" x2=\"\(legendX + 30)\" y2=\"\(height + 20)\" stroke=\"\(line.stroke)\" "
                + "stroke-width=\"2.5\" stroke-dasharray=\"\(line.dash)\"/><text x=\"\(legendX + 36)\" y=\"\(height + 24)\">\(html(line.label))</text>"
        }
        svg += "</svg>"
        let rows = points.map { point in
            [html(c.month(point.text("month")))] + series.map { html(c.money(point.text($0.key))) }
        }
        return svg + "<details><summary>\(html(c[.sCurveSummary]))</summary>"
            + table(caption: c[.sCurve], headers: [c[.month]] + series.map(\.label), rows: rows, numeric: [1, 2, 3]) + "</details>"
    }

    /// The fan chart of a project's finish date: from today, the band of finishes between the
    /// P50 and the P80 dark, between the P80 and the P95 light, the planned finish marked;
    /// each date is written beside its mark, so the chart reads without its colours.
    static func finishFan(asOf: CalendarDate, planned: CalendarDate?, p50: CalendarDate, p80: CalendarDate, p95: CalendarDate,
                          catalog c: Catalog) -> String {
        let start = asOf.daysSinceEpoch
        let end = max(p95.daysSinceEpoch, planned?.daysSinceEpoch ?? 0, start + 1)
        let (width, left, right) = (640.0, 20.0, 20.0)
        func x(_ date: CalendarDate) -> Double {
            left + Double(max(0, date.daysSinceEpoch - start)) / Double(end - start) * (width - left - right)
        }
        var svg = """
            <svg role="img" aria-labelledby="fan-title" viewBox="0 0 \(Int(width)) 120" width="100%" style="max-width:\(Int(width))px">
            <title id="fan-title">\(html(c[.finishForecast])): P50 \(html(c.date(p50.description))), P80 \(html(c.date(p80.description))), \
            P95 \(html(c.date(p95.description)))</title>
            <line x1="\(left)" y1="60" x2="\(width - right)" y2="60" stroke="#333"/>
            <text x="\(left)" y="112">\(html(c[.today])) \(html(c.date(asOf.description)))</text>
            <rect x="\(x(p50))" y="44" width="\(max(1, x(p80) - x(p50)))" height="32" fill="#36c" fill-opacity="0.75"/>
            <rect x="\(x(p80))" y="44" width="\(max(1, x(p95) - x(p80)))" height="32" fill="#36c" fill-opacity="0.3"/>
            <line x1="\(x(p50))" y1="38" x2="\(x(p50))" y2="82" stroke="#123" stroke-width="2"/>
            <text x="\(x(p50))" y="32" text-anchor="middle">P50 \(html(c.date(p50.description)))</text>
            <text x="\(x(p80))" y="94" text-anchor="middle">P80 \(html(c.date(p80.description)))</text>
            <text x="\(x(p95))" y="108" text-anchor="end">P95 \(html(c.date(p95.description)))</text>
            """
        if let planned {
            svg += "<line x1=\"\(x(planned))\" y1=\"20\" x2=\"\(x(planned))\" y2=\"90\" stroke=\"#c0392b\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>"
                + "<text x=\"\(x(planned))\" y=\"14\" text-anchor=\"middle\">\(html(c[.plannedFinish])) \(html(c.date(planned.description)))</text>"
        }
        return svg + "</svg>"
    }

    /// A progress bar with its percentage written beside it.
    static func progress(_ percent: String?, catalog c: Catalog) -> String {
        let value = min(100, max(0, Double(percent ?? "") ?? 0))
        return "<span class=\"bar\" role=\"presentation\"><span style=\"width:\(String(format: "%.1f", value))%\"></span></span> "
            + html(c.percent(percent))
    }

    /// The open risks on a 5 × 5 grid as a table: impact across, probability down (5 at the
    /// top), each cell naming its risks; the cell's shade follows probability × impact, and
    /// the product is written in the cell too.
    static func riskMatrix(_ risks: [JSONValue], catalog c: Catalog) -> String {
        var cells: [Int: [String]] = [:]
        for risk in risks where (risk.text("status") ?? "open") != "closed" {
            guard let p = Int(risk.text("probability") ?? ""), let i = Int(risk.text("impact") ?? ""),
                  (1...5).contains(p), (1...5).contains(i) else { continue }
            cells[p * 10 + i, default: []].append(risk.text("title") ?? risk.text("id") ?? "")
        }
        var out = "<table class=\"matrix\"><caption>\(html(c[.riskMatrix]))</caption><thead><tr><th scope=\"col\">"
            + "\(html(c[.probability])) \\ \(html(c[.impact]))</th>"
        out += (1...5).map { "<th scope=\"col\">\(html(c[.impact])) \($0)</th>" }.joined() + "</tr></thead><tbody>"
        for p in (1...5).reversed() {
            out += "<tr><th scope=\"row\">\(html(c[.probability])) \(p)</th>"
            for i in 1...5 {
                let product = p * i
                let shade = product >= 15 ? "#f4b6ae" : product >= 8 ? "#fbe3a0" : "#d4ecd6"
                let names = (cells[p * 10 + i] ?? []).map { "<li>\(html($0))</li>" }.joined()
                out += "<td style=\"background:\(shade)\"><small>\(product)</small>\(names.isEmpty ? "" : "<ul>\(names)</ul>")</td>"
            }
            out += "</tr>"
        }
        return out + "</tbody></table>"
    }

    /// A colour as a swatch and its word.
    static func color(_ name: String?, catalog c: Catalog) -> String {
        let safe = ["green", "amber", "red"].contains(name ?? "") ? name! : "none"
        return "<span class=\"swatch \(safe)\" aria-hidden=\"true\"></span>\(html(c.color(name)))"
    }
}
