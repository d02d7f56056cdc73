/// One `field=value`, `field+=element` or `field-=element` of a local write, as a person or a
/// script gave it, before it is checked against the schema.
public struct FieldAssignment: Hashable, Sendable {
    public enum Operation: Hashable, Sendable {
        case set
        /// `+=`: add elements to a set.
        case add
        /// `-=`: remove elements from a set.
        case remove
    }

    /// A value as typed: text to be parsed by the field's type, a list (a set from JSON), or
    /// an explicit null (clear the field).
    public enum Input: Hashable, Sendable {
        case text(String)
        case list([String])
        case null
    }

    public let field: String
    public let operation: Operation
    public let input: Input

    public init(field: String, operation: Operation = .set, input: Input) {
        self.field = field
        self.operation = operation
        self.input = input
    }

    /// Parses `field=value`, `field+=x` or `field-=x` (an empty value after `=` clears the field).
    public init(parsing argument: String) throws(CoreError) {
        guard let equals = argument.firstIndex(of: "=") else {
            throw CoreError(.invalidValue, "'\(argument)' is not field=value (use field=value, field+=x or field-=x)")
        }
        var name = String(argument[..<equals])
        var operation = Operation.set
        if name.hasSuffix("+") { operation = .add; name.removeLast() } else if name.hasSuffix("-") { operation = .remove; name.removeLast() }
        guard !name.isEmpty else {
            throw CoreError(.invalidValue, "'\(argument)' has no field name before '='")
        }
        self.init(field: name, operation: operation, input: .text(String(argument[argument.index(after: equals)...])))
    }
}

extension FieldSpec {
    /// Parses a typed-in value by this field's type and constraint.
    public func parse(_ input: FieldAssignment.Input) throws(CoreError) -> FieldValue {
        let text: String
        switch input {
        case .null:
            return .null
        case .list(let elements):
            guard case .set = type else {
                throw CoreError(.invalidValue, "\(name) is \(type.name), not a set: give one value")
            }
            return .set(try Self.setElements(elements, field: name))
        case .text(let t):
            text = t
        }
        if text.isEmpty { return .null }
        switch type {
        case .text:
            if constraint == .yearMonth {
                let parts = text.split(separator: "-", omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, Int(parts[0]) != nil,
                      let month = Int(parts[1]), (1...12).contains(month) else {
                    throw CoreError(.invalidValue, "\(name) must be a month written YYYY-MM (e.g. 2026-11), not '\(text)'")
                }
            }
            if constraint == .period {
                // Kept in its canonical spelling, so that `2026-q2` and `2026-Q2` make one natural key.
                guard let period = PlanPeriod(text) else {
                    throw CoreError(.invalidValue, "\(name) must be a year (2026), a quarter (2026-Q2) or a month (2026-05), not '\(text)'")
                }
                return .text(period.description)
            }
            return .text(text)
        case .int:
            guard let value = Int64(text) else {
                throw CoreError(.invalidValue, "\(name) must be a whole number, not '\(text)'")
            }
            if case .intRange(let low, let high) = constraint, !(low...high).contains(value) {
                throw CoreError(.invalidValue, "\(name) must be between \(low) and \(high), not \(value)")
            }
            return .int(value)
        case .decimal:
            guard let value = ExactDecimal(text) else {
                throw CoreError(.invalidValue,
                    "\(name) must be a decimal number such as 1250.75 (no exponent or separators, at most 9 decimals), not '\(text)'")
            }
            if case .decimalRange(let low, let high) = constraint, value < low || high < value {
                throw CoreError(.invalidValue, "\(name) must be between \(low) and \(high), not \(value)")
            }
            return .decimal(value)
        case .date:
            guard let value = CalendarDate(text) else {
                throw CoreError(.invalidValue, "\(name) must be a date written YYYY-MM-DD (e.g. 2026-11-30), not '\(text)'")
            }
            return .date(value)
        case .enumeration(let cases):
            guard cases.contains(text) else {
                throw CoreError(.invalidValue, "\(name) must be one of \(cases.joined(separator: ", ")), not '\(text)'")
            }
            return .symbol(text)
        case .set:
            let elements = text.split(separator: ",", omittingEmptySubsequences: false)
                .map { String($0).trimmingSpaces() }
            return .set(try Self.setElements(elements, field: name))
        case .ref(let target):
            do {
                try RecordID.validate(text)
            } catch {
                throw CoreError(.invalidValue, "\(name) must be the id of a \(target) record: \(error.message)")
            }
            return .ref(text)
        }
    }

    /// The elements of a set, checked: non-empty, at most 128 bytes, no commas; sorted, unique.
    static func setElements(_ elements: [String], field: String) throws(CoreError) -> [String] {
        var result: Set<String> = []
        for element in elements {
            guard !element.isEmpty, element.utf8.count <= 128, !element.contains(",") else {
                throw CoreError(.invalidValue, "\(field) elements must be 1 to 128 characters without commas")
            }
            result.insert(element)
        }
        return result.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars.removeFirst() }
        while scalars.last == " " { scalars.removeLast() }
        return String(scalars)
    }
}
