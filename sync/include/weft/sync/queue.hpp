// weft::Queue<T> (asyncio.Queue): the FIFO queue, bounded or unbounded, between tasks on any
// workers and plain threads. LifoQueue<T> (lifo_queue.hpp) and PriorityQueue<T>
// (priority_queue.hpp) have the same operations and hand the items out in another order; the
// exceptions of all three are in queue_errors.hpp.
//
// This header is the API. The implementation, a ring with a lock for each side so that
// producers and consumers on different cores do not contend, is detail::FifoQueue
// (detail/fifo_queue.hpp), whose opening comment explains its protocol.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "weft/runtime/detail/wait_counters.hpp"
#include "weft/sync/detail/fifo_queue.hpp"
#include "weft/sync/queue_errors.hpp"

namespace weft {

/// A FIFO queue (asyncio.Queue): get() returns the oldest item. Bounded or unbounded; tasks
/// on any worker and plain threads may share it, and every operation is thread-safe.
/// Destroying a queue while tasks or threads wait on it aborts the process with a message.
template <class T>
class Queue {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "weft::Queue moves items under a spin lock: T must be nothrow-move-constructible");

  using Impl = detail::FifoQueue<T>;

 public:
  /// The awaiter of put(). Movable until it is awaited.
  class [[nodiscard]] PutAwaiter : public Impl::PutAwaiter {
    using Base = typename Impl::PutAwaiter;

   public:
    using Base::Base;
  };
  /// The awaiter of get(); `co_await` gives the item. Movable until it is awaited.
  class [[nodiscard]] GetAwaiter : public Impl::GetAwaiter {
    using Base = typename Impl::GetAwaiter;

   public:
    using Base::Base;
  };
  /// The awaiter of join(). Movable until it is awaited.
  class [[nodiscard]] JoinAwaiter : public Impl::JoinAwaiter {
    using Base = typename Impl::JoinAwaiter;

   public:
    using Base::Base;
  };

  /// A queue of at most `maxsize` items; 0 means unbounded.
  explicit Queue(std::size_t maxsize = 0) noexcept : impl_(maxsize) {}
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  /// `co_await q.put(v)` adds `v`, waiting while the queue is full. Throws QueueShutDown
  /// once shut down. A cancellation point while it waits: CancelledError, nothing is put.
  PutAwaiter put(T v) noexcept { return PutAwaiter(impl_, std::move(v)); }
  /// `co_await q.get()` removes and returns the oldest item, waiting while the queue is
  /// empty. Throws QueueShutDown once shut down and drained. A cancellation point while it
  /// waits: CancelledError, and the item it would have got stays for the next getter.
  GetAwaiter get() noexcept { return GetAwaiter(impl_); }
  /// `co_await q.join()` returns once every item put has been marked task_done(). A
  /// cancellation point while it waits.
  JoinAwaiter join() noexcept { return JoinAwaiter(impl_); }

  /// Adds `v` without waiting. Throws QueueFull or QueueShutDown. Any thread.
  void put_nowait(T v) { impl_.put_nowait(v); }
  /// Removes and returns the oldest item without waiting. Throws QueueEmpty, or
  /// QueueShutDown if shut down and drained. Any thread.
  T get_nowait() { return impl_.get_nowait(); }

  /// put() for a plain thread: blocks the thread while the queue is full. Throws
  /// QueueShutDown, or UsageError on a worker thread.
  void blocking_put(T v) { impl_.blocking_put(v); }
  /// get() for a plain thread: blocks the thread while the queue is empty. Throws
  /// QueueShutDown, or UsageError on a worker thread.
  T blocking_get() { return impl_.blocking_get(); }

  /// Marks one item got earlier as processed; join() returns when none is left. Throws
  /// std::logic_error if called more times than items were put. Any thread.
  void task_done() { impl_.task_done(); }

  /// Shuts the queue down (asyncio.Queue.shutdown, Python 3.13): puts throw QueueShutDown
  /// from now on, waiting putters at once; gets throw it once the queue is drained.
  /// `immediate` also drops the items (counting each as task_done) and wakes every getter.
  /// Any thread.
  void shutdown(bool immediate = false) noexcept { impl_.shutdown(immediate); }

  /// Number of items in the queue. Any thread; a snapshot.
  std::size_t qsize() const noexcept { return impl_.qsize(); }
  /// True if the queue holds no item. Any thread; a snapshot.
  bool empty() const noexcept { return impl_.empty(); }
  /// True if the queue is bounded and holds maxsize() items. Any thread; a snapshot.
  bool full() const noexcept { return impl_.full(); }
  /// The bound given at construction (0: unbounded).
  std::size_t maxsize() const noexcept { return impl_.maxsize(); }

  /// Counts the waits of get() (for an item) and of put() (for room) from now on
  /// (weft/runtime/wait_stats.hpp: each wait then costs two clock reads). Any thread.
  void track_waits() { impl_.track_waits(); }
  /// The get() waits counted since track_waits(): consumers waiting for producers. Any
  /// thread; a snapshot.
  WaitStats get_wait_stats() const noexcept { return impl_.get_wait_stats(); }
  /// The put() waits counted since track_waits(): producers held back by a full queue.
  WaitStats put_wait_stats() const noexcept { return impl_.put_wait_stats(); }

 private:
  Impl impl_;
};

}  // namespace weft
