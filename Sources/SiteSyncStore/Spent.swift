import Foundation

/// Frees what a writer is done with on another thread.
///
/// A received batch of a thousand changes (their decoded form, payloads and prepared records)
/// took about a millisecond to free, 6 % of a bulk apply's writer time, spent after each
/// commit. Its memory was allocated where it was decoded, off the writer; it is freed off the
/// writer too.
public enum Spent {
    private static let queue = DispatchQueue(label: "sitesync.spent", qos: .utility)

    /// Frees `value` on a background queue, once the caller's last reference to it is gone.
    public static func free<Value: Sendable>(_ value: consuming Value) {
        let value = value
        queue.async { withExtendedLifetime(value) {} }
    }
}
