import Testing
@testable import SiteSyncCore

@Suite struct ValueTests {
    @Test(arguments: [
        ("12.50", "12.5"), ("0", "0"), ("-3", "-3"), ("100.000", "100"), ("0.125", "0.125"), ("+7", "7"),
        ("123456789012345678", "123456789012345678"), ("0.000000001", "0.000000001"), ("-0.5", "-0.5"),
    ])
    func decimalsParseToTheirCanonicalForm(input: String, canonical: String) throws {
        let value = try #require(ExactDecimal(input))
        #expect(value.description == canonical)
        #expect(ExactDecimal(canonical) == value)
    }

    @Test(arguments: ["", ".", "1.", ".5", "1e5", "1,000", "12a", "--1", "1.2.3", "1234567890123456789", "0.0000000001", " 1"])
    func malformedDecimalsAreRejected(input: String) {
        #expect(ExactDecimal(input) == nil)
    }

    @Test func decimalArithmeticIsExact() throws {
        let a = try #require(ExactDecimal("0.1")), b = try #require(ExactDecimal("0.2"))
        #expect(a.adding(b) == ExactDecimal("0.3"))
        let c = try #require(ExactDecimal("10.05")), d = try #require(ExactDecimal("0.05"))
        #expect(c.subtracting(d) == ExactDecimal(10))
        let e = try #require(ExactDecimal("2.5")), f = try #require(ExactDecimal("10"))
        #expect(e < f)
    }

    @Test func datesValidateRealCalendarDays() {
        #expect(CalendarDate("2024-02-29") != nil)
        #expect(CalendarDate("2025-02-29") == nil)
        #expect(CalendarDate("2026-13-01") == nil)
        #expect(CalendarDate("2026-1-01") == nil)
        #expect(CalendarDate("2026-11-30")?.description == "2026-11-30")
    }

    @Test func dayNumbersRoundTrip() {
        for day in stride(from: -800_000, through: 2_900_000, by: 997) {
            #expect(CalendarDate(daysSinceEpoch: day).daysSinceEpoch == day)
        }
        #expect(CalendarDate("1970-01-01")?.daysSinceEpoch == 0)
        #expect(CalendarDate("2000-03-01")?.daysSinceEpoch == 11_017)
    }

    @Test func naturalKeyIdsAreStableVersionFiveUUIDs() {
        let a = RecordID.natural(collection: "daily_log", key: ["p1", "2026-11-30"])
        let b = RecordID.natural(collection: "daily_log", key: ["p1", "2026-11-30"])
        let c = RecordID.natural(collection: "daily_log", key: ["p1", "2026-12-01"])
        #expect(a == b && a != c)
        #expect((RecordID.uuidBytes(a)?[6] ?? 0) >> 4 == 5)
        #expect(RecordID.format(RecordID.uuidBytes(a)!) == a)
    }

    @Test func canonicalJSONSortsKeysAndEscapesControlCharacters() {
        let value = JSONValue.object(["b": .int(1), "a": .string("x\"\n\u{1}é"), "c": .array([.null, .bool(true)])])
        #expect(value.canonicalText == #"{"a":"x\"\n\u0001é","b":1,"c":[null,true]}"#)
        #expect(JSONText.parse(value.canonicalText) == value)
    }

    @Test func jsonParserKeepsDecimalTextExactAndNamesTheProblemOffset() throws {
        #expect(JSONText.parse(#"{"q": 12345678901234.5678}"#) == .object(["q": .number("12345678901234.5678")]))
        #expect(throws: JSONText.ParseError.self) { try JSONText.parseOrThrow(#"{"a": 1,}"#) }
        do {
            _ = try JSONText.parseOrThrow(#"{"a": tru}"#)
        } catch {
            #expect(error.offset == 6)
        }
    }
}

@Suite struct CanonicalDecimalTests {
    @Test(arguments: ["0", "12.5", "-3", "0.125", "100", "-0.5", "123456789012345678"])
    func canonicalTextIsRecognised(text: String) {
        #expect(ExactDecimal.isCanonical(text))
        #expect(ExactDecimal(text)?.description == text)
    }

    @Test(arguments: ["012", "1.50", "+1", "-0", ".5", "1.", "00", "0.10", "-01"])
    func nonCanonicalTextIsRefused(text: String) {
        #expect(!ExactDecimal.isCanonical(text))
    }
}
