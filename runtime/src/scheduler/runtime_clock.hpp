// The runtime's clock (RuntimeClock): real time, or a virtual time that only the scheduler
// moves (virtual_clock.cpp). Timers count in ticks of 1 ms since the clock's epoch.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "time/timer_wheel.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/time.hpp"

namespace weft::detail {

/// The runtime's clock: real, or virtual (advanced by the last worker to go idle).
class RuntimeClock {
 public:
  explicit RuntimeClock(bool is_virtual) : virtual_(is_virtual), epoch_(Clock::now()) {}
  bool is_virtual() const noexcept { return virtual_; }
  TimePoint now() const noexcept {
    if (!virtual_) return Clock::now();
    return epoch_ + std::chrono::nanoseconds(virtual_ns_.load(std::memory_order_acquire));
  }
  /// Ticks (ms) since the epoch, rounded down: what is due now.
  std::uint64_t now_tick() const noexcept { return floor_tick(now()); }
  /// now_tick(), noted in the coarse tick that waits are stamped with.
  std::uint64_t read_tick() noexcept {
    const std::uint64_t t = now_tick();
    coarse_.note(t);
    return t;
  }
  /// The last tick a worker read (read_tick): what a task's wait is stamped with.
  const CoarseTick& coarse() const noexcept { return coarse_; }
  std::uint64_t floor_tick(TimePoint tp) const noexcept {
    if (tp <= epoch_) return 0;
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(tp - epoch_).count());
  }
  /// Ticks for a deadline, rounded up: a timer never fires early.
  std::uint64_t ceil_tick(TimePoint tp) const noexcept {
    if (tp <= epoch_) return 0;
    auto d = tp - epoch_;
    if (d >=
        std::chrono::duration_cast<Duration>(std::chrono::milliseconds(TimerWheel::kMaxTick))) {
      return ~std::uint64_t{0};
    }
    return static_cast<std::uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(d).count());
  }
  /// Virtual clock only: jumps forward to `tick` (never back).
  void advance_to(std::uint64_t tick) noexcept {
    std::int64_t ns = static_cast<std::int64_t>(tick) * 1'000'000;
    std::int64_t cur = virtual_ns_.load(std::memory_order_relaxed);
    while (cur < ns && !virtual_ns_.compare_exchange_weak(cur, ns, std::memory_order_acq_rel)) {
    }
  }

 private:
  const bool virtual_;
  const TimePoint epoch_;
  std::atomic<std::int64_t> virtual_ns_{0};
  CoarseTick coarse_;
};

}  // namespace weft::detail
