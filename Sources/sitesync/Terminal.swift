import Foundation

/// What a person reads on a terminal: relative times, sizes, colour (only on a terminal), and
/// progress bars (plain occasional lines when the output is not a terminal).
enum Terminal {
    /// Whether `descriptor` is a terminal that takes escape codes (not `TERM=dumb`, no `NO_COLOR`).
    static func isStyled(_ descriptor: Int32) -> Bool {
        let environment = ProcessInfo.processInfo.environment
        return isatty(descriptor) == 1 && environment["TERM"] != "dumb" && environment["NO_COLOR"] == nil
    }

    enum Colour: String {
        case green = "32", yellow = "33", red = "31", bold = "1"
    }

    /// `text` in `colour` when standard output is a terminal; as is otherwise.
    static func paint(_ text: String, _ colour: Colour) -> String {
        isStyled(STDOUT_FILENO) ? "\u{1B}[\(colour.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// A moment relative to `now`: "just now", "42 s ago", "3 min ago", "5 h ago", "2 d ago"
    /// (or "in 3 h" for a moment ahead of this clock).
    static func ago(_ milliseconds: UInt64, now: UInt64) -> String {
        let ahead = milliseconds > now
        let span = ahead ? milliseconds - now : now - milliseconds
        if span < 1_000 { return "just now" }
        return ahead ? "in \(duration(span))" : "\(duration(span)) ago"
    }

    /// A span of time in its largest sensible unit: "40 ms", "4.2 s", "42 s", "3 min", "5 h", "2 d".
    static func duration(_ milliseconds: UInt64) -> String {
        let seconds = Double(milliseconds) / 1000
        switch seconds {
        case ..<1: return "\(milliseconds) ms"
        case ..<10: return String(format: "%.1f s", seconds)
        case ..<90: return "\(Int(seconds)) s"
        case ..<(90 * 60): return "\(Int(seconds / 60)) min"
        case ..<(48 * 3600): return "\(Int(seconds / 3600)) h"
        default: return "\(Int(seconds / 86_400)) d"
        }
    }

    /// A byte count: "512 B", "4.2 kB", "13.0 MB".
    static func bytes(_ count: Int) -> String {
        switch count {
        case ..<1_000: "\(count) B"
        case ..<1_000_000: String(format: "%.1f kB", Double(count) / 1e3)
        case ..<1_000_000_000: String(format: "%.1f MB", Double(count) / 1e6)
        default: String(format: "%.2f GB", Double(count) / 1e9)
        }
    }

    /// A count with thousands separators: 12,345.
    static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (n < 0 ? "-" : "") + out
    }
}

/// Progress of a long operation on standard error: on a terminal a bar redrawn in place with
/// counts, rate and time left; otherwise a plain line every few seconds (logs stay readable).
final class ProgressDisplay: @unchecked Sendable {
    // @unchecked: used from one thread at a time (the command's), never concurrently.
    private let label: String
    private let unit: String
    private let styled = Terminal.isStyled(STDERR_FILENO)
    private let started = DispatchTime.now().uptimeNanoseconds
    private var lastDrawn: UInt64 = 0
    private var drawn = false
    private var latest = (done: 0, total: 0)

    init(_ label: String, unit: String = "changes") {
        self.label = label
        self.unit = unit
    }

    /// At most every this many milliseconds: redraw on a terminal, a line otherwise.
    private var interval: UInt64 { styled ? 100 : 5_000 }

    func update(done: Int, total: Int) {
        latest = (done, total)
        let now = DispatchTime.now().uptimeNanoseconds
        // Nothing for the first quarter second: a quick operation needs no bar.
        guard now - started >= 250_000_000, now - lastDrawn >= interval * 1_000_000 else { return }
        lastDrawn = now
        draw(final: false)
    }

    /// Draws the final state (on a terminal, only if a bar was shown) and ends the line.
    func finish() {
        guard drawn, styled else { return }
        draw(final: true)
    }

    private func draw(final: Bool) {
        let (done, total) = latest
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var text = "\(label) "
        if total > 0 && styled {
            let width = 24, filled = min(width, done * width / max(total, 1))
            text += "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
        }
        text += total > 0 ? "\(Terminal.count(done))/\(Terminal.count(total)) \(unit)" : "\(Terminal.count(done)) \(unit)"
        if rate > 0 { text += "  \(Terminal.count(Int(rate)))/s" }
        if total > done && rate > 0 {
            text += "  \(Terminal.duration(UInt64(Double(total - done) / rate * 1000))) left"
        } else if final {
            text += "  done in \(Terminal.duration(UInt64(elapsed * 1000)))"
        }
        drawn = true
        FileHandle.standardError.write(Data((styled ? "\r\u{1B}[2K" + text + (final ? "\n" : "") : text + "\n").utf8))
    }
}
