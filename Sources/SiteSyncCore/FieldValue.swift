/// A typed value of one field.
///
/// Which case a field holds is fixed by its ``FieldType``; `null` means "not set" (or cleared).
/// A `set` field's versions each hold one element as `text`; its visible value is `set`.
public enum FieldValue: Hashable, Sendable {
    case null
    case text(String)
    case int(Int64)
    case decimal(ExactDecimal)
    case date(CalendarDate)
    /// A case of an `enum` field.
    case symbol(String)
    /// The id of another record.
    case ref(String)
    /// The elements of a `set` field, sorted and unique.
    case set([String])

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The value as a person types it (`set` elements joined with commas; `null` empty).
    public var displayText: String {
        switch self {
        case .null: ""
        case .text(let s), .symbol(let s), .ref(let s): s
        case .int(let i): String(i)
        case .decimal(let d): d.description
        case .date(let d): d.description
        case .set(let elements): elements.joined(separator: ",")
        }
    }
}

extension FieldValue {
    /// Orders two values of the same field for the `max` and `min` rules: numbers and dates
    /// numerically, enum cases by their declared rank, text by bytes. `null` sorts first.
    public static func rankOrder(_ a: FieldValue, _ b: FieldValue, type: FieldType) -> Bool {
        switch (a, b) {
        case (.null, .null): return false
        case (.null, _): return true
        case (_, .null): return false
        case let (.int(x), .int(y)): return x < y
        case let (.decimal(x), .decimal(y)): return x < y
        case let (.date(x), .date(y)): return x < y
        case let (.symbol(x), .symbol(y)):
            if case .enumeration(let cases) = type {
                return (cases.firstIndex(of: x) ?? -1) < (cases.firstIndex(of: y) ?? -1)
            }
            return x.utf8.lexicographicallyPrecedes(y.utf8)
        default:
            return a.displayText.utf8.lexicographicallyPrecedes(b.displayText.utf8)
        }
    }
}
