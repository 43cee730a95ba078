// The counters behind a sync primitive's or a socket's wait_stats() (WaitStats,
// weft/runtime/wait_stats.hpp). Opt-in per object (`track_waits()`): only waits are counted,
// so an operation that does not wait costs nothing either way, and a tracked wait costs two
// clock reads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "weft/runtime/wait_stats.hpp"

namespace weft {

namespace detail {

/// The clock wait times are measured in (steady_clock), in nanoseconds.
inline std::int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// One list's counters: written under the primitive's lock that guards the list (relaxed
/// loads and stores, no read-modify-write: one writer at a time), read relaxed by any
/// thread, so a snapshot is not a transaction.
class WaitCounters {
 public:
  void began() noexcept {
    bump(waits_, 1);
    const std::uint64_t now = waiting_.load(std::memory_order_relaxed) + 1;
    waiting_.store(now, std::memory_order_relaxed);
    if (now > max_waiting_.load(std::memory_order_relaxed)) {
      max_waiting_.store(now, std::memory_order_relaxed);
    }
  }
  void ended(std::int64_t ns, bool cancelled) noexcept {
    bump(ended_, 1);
    if (cancelled) bump(cancelled_, 1);
    const std::uint64_t w = waiting_.load(std::memory_order_relaxed);
    waiting_.store(w ? w - 1 : 0, std::memory_order_relaxed);
    const auto d = static_cast<std::uint64_t>(ns > 0 ? ns : 0);
    bump(wait_ns_, d);
    if (d > max_wait_ns_.load(std::memory_order_relaxed)) {
      max_wait_ns_.store(d, std::memory_order_relaxed);
    }
  }
  WaitStats snapshot() const noexcept {
    WaitStats s;
    s.tracked = true;
    s.waits = waits_.load(std::memory_order_relaxed);
    s.ended = ended_.load(std::memory_order_relaxed);
    s.cancelled = cancelled_.load(std::memory_order_relaxed);
    s.waiting = waiting_.load(std::memory_order_relaxed);
    s.max_waiting = max_waiting_.load(std::memory_order_relaxed);
    s.wait_time = std::chrono::nanoseconds(wait_ns_.load(std::memory_order_relaxed));
    s.max_wait = std::chrono::nanoseconds(max_wait_ns_.load(std::memory_order_relaxed));
    return s;
  }

 private:
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::atomic<std::uint64_t> waits_{0}, ended_{0}, cancelled_{0}, waiting_{0}, max_waiting_{0};
  std::atomic<std::uint64_t> wait_ns_{0}, max_wait_ns_{0};
};

/// A primitive's counters, made by its first track_waits() and kept until it is destroyed.
class WaitTracking {
 public:
  WaitTracking() = default;
  WaitTracking(const WaitTracking&) = delete;
  WaitTracking& operator=(const WaitTracking&) = delete;
  ~WaitTracking() { delete counters_.load(std::memory_order_relaxed); }

  /// The counters, made on the first call. Any thread.
  WaitCounters* make() {
    WaitCounters* c = counters_.load(std::memory_order_acquire);
    if (c) return c;
    auto* fresh = new WaitCounters;
    if (counters_.compare_exchange_strong(c, fresh, std::memory_order_acq_rel)) return fresh;
    delete fresh;  // another thread's call made them first
    return c;
  }
  /// What they hold now; all zero (`tracked` false) before make(). Any thread.
  WaitStats snapshot() const noexcept {
    const WaitCounters* c = counters_.load(std::memory_order_acquire);
    return c ? c->snapshot() : WaitStats{};
  }

 private:
  std::atomic<WaitCounters*> counters_{nullptr};
};

}  // namespace detail
}  // namespace weft
