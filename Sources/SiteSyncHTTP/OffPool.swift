import Dispatch

/// Runs blocking work — SQLite reads and writes, a computation of the figures — on a dispatch
/// thread instead of Swift's cooperative pool, which has one thread per core (two on a small
/// hub): a long computation for an uncached `as_of` must not stall every other request,
/// `/healthz` included.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try body() })
        }
    }
}
