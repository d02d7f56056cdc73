/// A Z85 key may begin with "-=" (one key in 7,225). The argument parser splits every word
/// before it reads any command, and a word "-=…" is an option with an empty name to it, so
/// the whole command line would fail as "Invalid option". Such a word can never be an
/// option of ours, so before parsing it is attached to the option before it
/// (`--hub-key=-=…`), or, when it stands alone as an argument (`keys trust-hub KEY`),
/// moved after a "--", where the parser reads every word as an argument.
enum KeyArguments {
    static func parseable(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var trailing: [String] = []
        var terminated = false
        for word in arguments {
            if word == "--" { terminated = true }
            guard !terminated, word.hasPrefix("-=") else {
                result.append(word)
                continue
            }
            if let option = result.last, option.hasPrefix("--"), option.count > 2, !option.contains("=") {
                result[result.count - 1] = option + "=" + word
            } else {
                trailing.append(word)
            }
        }
        guard !trailing.isEmpty else { return result }
        if !terminated { result.append("--") }
        return result + trailing
    }
}
