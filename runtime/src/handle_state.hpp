// What a RuntimeHandle shares with its runtime: the scheduler, and whether it still exists.
//
// A handle may outlive its runtime (it can be returned from `weft::run` or handed to a
// plain thread), so it cannot hold the Scheduler itself. It holds this small block instead,
// shared (shared_ptr) by the Scheduler and every handle. `guard_` packs a closed bit (bit 0)
// and the number of queries in progress (the bits above, in steps of 2):
//  - a query adds a reader (one fetch_add) and reads the closed bit in the value it got: if
//    the runtime is gone it takes the reader back and throws; otherwise it may use the
//    scheduler until it takes its reader back;
//  - the scheduler's destructor, after its workers and blocking threads have stopped, sets
//    the closed bit and waits for the readers that entered before it to leave; only then
//    are the workers destroyed.
// So a query either sees the runtime closed or runs entirely before its destruction, with no
// lock between queries. Queries are short (a few counters, the registry's shard locks).
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace weft::detail {

class Scheduler;

class HandleState {
 public:
  explicit HandleState(Scheduler* s) noexcept : sched_(s) {}
  HandleState(const HandleState&) = delete;
  HandleState& operator=(const HandleState&) = delete;

  /// Begins a query: the scheduler, alive until leave(); nullptr (nothing to leave) if the
  /// runtime is gone.
  Scheduler* enter() noexcept {
    // Acquire: the query's reads of the scheduler stay after this check. Every RMW on the
    // one word is ordered, so either close() counts this reader or this sees kClosed.
    if (guard_.fetch_add(kReader, std::memory_order_acquire) & kClosed) {
      guard_.fetch_sub(kReader, std::memory_order_relaxed);
      return nullptr;
    }
    return sched_;
  }
  /// Ends a query begun by a successful enter().
  void leave() noexcept {
    // Release: the query's reads of the scheduler happen-before close() sees it gone.
    guard_.fetch_sub(kReader, std::memory_order_release);
  }
  /// The runtime is going away: later queries fail; returns once the running ones ended.
  void close() noexcept {
    std::uint64_t g = guard_.fetch_or(kClosed, std::memory_order_acquire);
    // Acquire: pairs with leave()'s release.
    while (g & ~kClosed) {
      std::this_thread::yield();
      g = guard_.load(std::memory_order_acquire);
    }
  }
  bool closed() const noexcept { return guard_.load(std::memory_order_acquire) & kClosed; }

 private:
  static constexpr std::uint64_t kClosed = 1;
  static constexpr std::uint64_t kReader = 2;

  Scheduler* const sched_;
  std::atomic<std::uint64_t> guard_{0};
};

}  // namespace weft::detail
