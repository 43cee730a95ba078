// weft::Barrier (asyncio.Barrier): `parties` tasks wait for each other, round after round.
//
// ## Rounds
// One SpinLock guards the waiter list, the count of linked waiters and the broken flag. An
// arrival that does not complete the round links its node (in its frame) and suspends. The
// arrival that completes it trips the barrier: it claims every linked node in arrival order,
// gives the k-th the index k and keeps parties-1 for itself, and the barrier is empty and
// ready for the next round at once (no draining phase: a claimed waiter needs nothing more
// from the barrier). Claimed tasks are resumed after the lock is released.
//
// ## Cancellation (and timeouts) before the trip
// As in asyncio, a waiter that is cancelled leaves: its node is unlinked and the count goes
// back down, so the round needs another arrival. A cancellation can win a node's claim just
// before the tripping arrival takes the lock (the node is still linked until its on_cancel
// runs). The trip then finds fewer claimable waiters than it needs; it puts the ones it
// claimed back (re-publishing their waits — it owns them — in their old order) and waits
// itself. A waiter that is cancelled between that claim and its re-publication is resumed
// with CancelledError. A waiter that was claimed by a completed trip has passed the barrier:
// a cancellation arriving then stays pending for its next await.
//
// ## abort() and reset()
// abort() breaks the barrier: every waiter, now and later, raises BrokenBarrierError until
// reset(). reset() wakes the current waiters with BrokenBarrierError and leaves the barrier
// empty and unbroken (asyncio's reset()).
#pragma once

#include <coroutine>
#include <cstddef>
#include <source_location>
#include <stdexcept>
#include <string>

#include "weft/sync/detail/waiter_list.hpp"

namespace weft {

/// Raised by Barrier::wait on a barrier that was aborted, or reset while the task waited
/// (asyncio.BrokenBarrierError).
class BrokenBarrierError : public std::runtime_error {
 public:
  explicit BrokenBarrierError(const std::string& what) : std::runtime_error(what) {}
};

/// A cyclic barrier for tasks (asyncio.Barrier). Every operation may be called from any
/// thread; wait() from a task. Destroying a Barrier that tasks wait on aborts with a message.
class Barrier {
 public:
  class WaitAwaiter;

  /// A barrier for `parties` tasks. Throws std::invalid_argument if `parties` < 1.
  explicit Barrier(std::ptrdiff_t parties);
  ~Barrier();
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  /// `co_await b.wait()` waits until `parties()` tasks are waiting, then all of them pass;
  /// returns the task's arrival index in the round, 0 .. parties()-1 (unique). Throws
  /// BrokenBarrierError if the barrier is or gets broken or reset. A cancellation point
  /// while it waits: CancelledError, and the task no longer counts as arrived.
  WaitAwaiter wait() noexcept;
  /// Breaks the barrier: every waiting and future wait() raises BrokenBarrierError until
  /// reset(). Any thread.
  void abort() noexcept;
  /// Wakes the waiting tasks with BrokenBarrierError and returns the barrier to the empty,
  /// unbroken state. Any thread.
  void reset() noexcept;

  /// The number of tasks a round needs.
  std::ptrdiff_t parties() const noexcept { return parties_; }
  /// The number of tasks waiting in the current round. Any thread; a snapshot.
  std::ptrdiff_t n_waiting() const noexcept;
  /// True if the barrier is broken (aborted and not reset). Any thread; a snapshot.
  bool broken() const noexcept;

 private:
  /// Under lock_: claims every waiter into `woken` as broken.
  void break_waiters(detail::WakeList& woken) noexcept;

  const std::ptrdiff_t parties_;
  mutable detail::SpinLock lock_;
  detail::WaiterList waiters_;  // guarded by lock_
  std::ptrdiff_t count_ = 0;    // guarded by lock_: linked nodes
  bool broken_ = false;         // guarded by lock_
};

/// The awaiter of Barrier::wait(). Movable until it is awaited.
class [[nodiscard]] Barrier::WaitAwaiter : detail::SyncWaiter {
 public:
  explicit WaitAwaiter(Barrier& b) noexcept : b_(&b) {}
  WaitAwaiter(WaitAwaiter&& o) noexcept : detail::SyncWaiter(), b_(o.b_) {}
  WaitAwaiter& operator=(WaitAwaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current());
  std::ptrdiff_t await_resume();

 private:
  friend class Barrier;
  static void cancel_wait(detail::Waiter* w) noexcept;
  /// Under the lock: trips the barrier if this arrival completes the round. False: it does
  /// not (some waiters turned out to be cancelled); the claimed ones are linked again.
  bool trip(detail::WakeList& woken) noexcept;

  Barrier* b_;
  std::source_location where_;  // the co_await, for a wait that trip() publishes again
  std::ptrdiff_t index_ = 0;
  bool broken_ = false;
};

inline Barrier::WaitAwaiter Barrier::wait() noexcept {
  return WaitAwaiter(*this);
}

}  // namespace weft
