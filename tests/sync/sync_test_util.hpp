// Helpers shared by the sync tests: runtimes on the virtual clock, and a way for a test's
// main task to let a spawned task run until it waits (on one worker, deterministic).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>

#include <weft/sync.hpp>
#include <weft/weft.hpp>

namespace weft::test {

/// A runtime on the virtual clock: timeouts expire without real waiting.
inline RuntimeOptions virtual_clock(std::size_t workers = 1) {
  return {.workers = workers, .clock = ClockKind::Virtual};
}

/// Yields until `flag` reaches `n`, then once more per pending task, so that on one worker
/// every task that has arrived has also reached its suspension.
inline Task<void> settle(const std::atomic<int>& flag, int n) {
  while (flag.load() < n) co_await yield_now();
  co_await yield_now();
}

// weft::wait_for copies the awaited result (detail::run_with_deadline's static_cast), so it
// cannot return a move-only guard; these adapters await the lock or permit inside wait_for,
// keep it, and hand it back as a guard.

inline Task<void> lock_and_keep(Mutex& m) {
  (void)(co_await m.lock()).release();
}
inline Task<void> acquire_and_keep(Semaphore& s) {
  (void)(co_await s.acquire()).disarm();
}

/// weft::wait_for(m.lock(), d), giving the guard.
template <class Rep, class Period>
Task<MutexGuard> lock_within(Mutex& m, std::chrono::duration<Rep, Period> d) {
  co_await wait_for(lock_and_keep(m), d);
  co_return MutexGuard(m, std::adopt_lock);
}

/// weft::wait_for(s.acquire(), d), giving the guard.
template <class Rep, class Period>
Task<SemaphoreGuard> acquire_within(Semaphore& s, std::chrono::duration<Rep, Period> d) {
  co_await wait_for(acquire_and_keep(s), d);
  co_return SemaphoreGuard(s);
}

}  // namespace weft::test
