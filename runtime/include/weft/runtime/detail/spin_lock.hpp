// A test-and-test-and-set spinlock for short critical sections (timer wheels, waiter lists,
// the task registry shards): a few dozen instructions, never a syscall inside. Uncontended,
// lock() is one exchange. Contended, the waiter backs off exponentially (1, 2, 4 ... 64
// pauses between looks at the lock) and yields the CPU after 16 looks: on two cores, a
// waiter polling after every pause took the lock's line away from the holder on each poll
// and made the holder's critical section several line transfers long (the measurements:
// bench/results/2026-12-06-sync-constants.md). Put the lock on a cache line of its own
// (alignas(64)) when other cores are expected to wait for it, so the data it guards is not
// on the line they poll.
#pragma once

#include <atomic>
#include <thread>

namespace weft::detail {

class SpinLock {
 public:
  void lock() noexcept {
    // Acquire: the previous holder's writes in its critical section are visible.
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    lock_contended();
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  // Release: publishes the critical section to the next acquirer.
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  // Waits with exponential backoff: a waiter that polls the lock's line less often lets the
  // holder keep it (and the lines it writes under the lock) instead of losing it to every
  // poll; after a while it yields the CPU.
  [[gnu::noinline]] void lock_contended() noexcept {
    unsigned pauses = 1;
    unsigned rounds = 0;
    for (;;) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++rounds > kRoundsBeforeYield) {
          std::this_thread::yield();
          rounds = 0;
          pauses = 1;
          continue;
        }
        for (unsigned i = 0; i < pauses; ++i) pause();
        if (pauses < kMaxPauses) pauses *= 2;
      }
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
    }
  }
  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  static constexpr unsigned kMaxPauses = 64;
  static constexpr unsigned kRoundsBeforeYield = 16;

  std::atomic<bool> locked_{false};
};

}  // namespace weft::detail
