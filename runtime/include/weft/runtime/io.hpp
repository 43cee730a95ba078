// The reactor's interface for I/O objects: readiness of a file descriptor, edge-triggered.
//
// ## How an I/O operation uses it (DESIGN §5)
//
//   for (;;) {
//     const auto seq = reg.ready_seq(Interest::kRead);  // before the syscall
//     ssize_t n = ::recv(fd, buf, len, 0);
//     if (n >= 0) return n;
//     if (errno != EAGAIN) throw ...;
//     co_await reg.wait(Interest::kRead, seq);          // until the fd is readable again
//   }
//
// The syscall comes first: a busy connection makes no epoll call. An IoRegistration is
// added to the epoll of the worker whose task first waits on it (EPOLLET, once) and stays
// there. Each event bumps a per-direction sequence number under the registration's lock;
// wait() returns at once if the number moved since `seq` (an edge arrived between the
// EAGAIN and the wait), otherwise it links a waiter node (in the awaiting frame, no
// allocation) that the event claims and resumes. Any number of tasks may wait on one
// registration, in either direction: a reader and a writer of one socket wait independently.
//
// ## Lifetime
// Registrations live in a process-wide table of slots that are reused but never freed, and
// an event names its slot by index and generation; so an event that an epoll_wait on any
// thread returned for a registration destroyed meanwhile finds the generation changed and
// is dropped, never touching freed memory. Destroy (or reset()) the registration before
// closing the fd; if the fd's owner closed it first (libpq does on a lost connection), use
// reset_closed(). Destroying one that a task waits on aborts with a message.
//
// ## Cancellation
// wait() is a cancellation point (DESIGN invariants 1-4): the canceller claims the node,
// unlinks it under the slot's lock, and resumes the task with CancelledError. Readiness is
// never consumed by a wait, so a cancelled wait loses nothing.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>

#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/wait_stats.hpp"

namespace weft {

/// Which readiness an operation waits for.
enum class Interest : std::uint8_t { kRead = 0, kWrite = 1 };

namespace detail {
class Worker;           // a runtime worker (runtime/src/scheduler/scheduler.hpp)
struct IoSlot;          // the reactor's state of one registration (runtime/src/reactor/io_slot.hpp)
struct IoWaitCounters;  // track_waits()'s counters (runtime/src/reactor/io_registration.cpp)
}  // namespace detail

/// A file descriptor's registration with the reactor. Does not own the fd. Move-only.
class IoRegistration {
 public:
  class WaitAwaiter;

  IoRegistration() noexcept = default;
  /// Prepares `fd` (which must be non-blocking) for waits; it joins an epoll at the first.
  explicit IoRegistration(int fd) noexcept : fd_(fd) {}
  IoRegistration(IoRegistration&& o) noexcept;
  IoRegistration& operator=(IoRegistration&& o) noexcept;
  /// Deregisters (see reset()).
  ~IoRegistration();
  IoRegistration(const IoRegistration&) = delete;
  IoRegistration& operator=(const IoRegistration&) = delete;

  /// Removes the fd from its epoll and forgets it; call before closing the fd. Aborts with a
  /// message if a task still waits on it. Any thread.
  void reset() noexcept;
  /// Forgets an fd that its owner has closed already (a library that closes its socket on
  /// an error, as libpq does when the server goes away), without epoll_ctl: closing took the
  /// fd out of its epoll, and the number may name another object's fd by now, whose
  /// registration a DEL would remove. Aborts as reset() if a task still waits. Any thread.
  void reset_closed() noexcept;

  /// The fd given at construction (-1 when empty).
  int fd() const noexcept { return fd_; }

  /// The readiness sequence number for `interest`: read it before the syscall whose EAGAIN
  /// leads to wait(). Any thread.
  std::uint32_t ready_seq(Interest interest) const noexcept;
  /// True once an event reported hang-up or an error (EPOLLRDHUP, EPOLLHUP, EPOLLERR): a
  /// read finds end of stream or the error at once, and no further edge may come. Read it
  /// after ready_seq: an event counted in the sequence read is seen here. Any thread.
  bool read_closed() const noexcept;

  /// `co_await reg.wait(interest, seq)` returns once the fd has become ready for `interest`
  /// (or reported an error or hang-up) after `seq` was read; at once if it already has. From
  /// a task on a worker; a cancellation point. Throws std::system_error if the fd cannot be
  /// added to the worker's epoll (the message names the fd).
  WaitAwaiter wait(Interest interest, std::uint32_t seq) noexcept;

  /// Adds the fd to the epoll of the worker running the caller now, unless it is in one
  /// already; its waits are then served there wherever they run. From a worker thread.
  /// Throws UsageError elsewhere, std::system_error if epoll_ctl fails.
  void register_here() { (void)slot_for_wait(); }
  /// Adds the fd to the epoll of worker `worker` (modulo their number) of the runtime
  /// running the caller, unless it is in one already: its events wake its waiters there
  /// (one SO_REUSEPORT listener per worker, each with its own reactor). From a worker
  /// thread; throws as register_here.
  void register_on(std::size_t worker);

  /// Counts the waits for readiness from now on, each direction apart (a wait that
  /// suspends; one an edge ends at once is not one): a counted wait costs two clock reads
  /// and a spin lock. The counters stay with the registration (moves too) until it is
  /// destroyed. Any thread.
  void track_waits();
  /// The waits for `interest` counted since track_waits(); all zero (`tracked` false) before
  /// it. Any thread; a snapshot.
  WaitStats wait_stats(Interest interest) const noexcept;

 private:
  friend class WaitAwaiter;
  void release(bool fd_open) noexcept;             // reset's and reset_closed's
  detail::IoSlot* slot_for_wait();                 // registers on first use (may throw)
  detail::IoSlot* register_in(detail::Worker& w);  // slot_for_wait's, on `w`'s epoll
  /// The slot once registered, else nullptr (also while another task registers it).
  detail::IoSlot* slot() const noexcept;

  int fd_ = -1;
  /// nullptr until the first wait; kRegistering while one task adds the fd to its epoll (a
  /// second task waiting at the same time spins until the slot is published). Acquire loads
  /// pair with the release store that publishes the registered slot.
  std::atomic<detail::IoSlot*> slot_{nullptr};
  /// track_waits()'s, made once and owned; acquire loads pair with its publishing CAS.
  std::atomic<detail::IoWaitCounters*> counters_{nullptr};
};

/// Awaiter of IoRegistration::wait. Not movable once awaited.
class [[nodiscard]] IoRegistration::WaitAwaiter : detail::Waiter {
 public:
  WaitAwaiter(IoRegistration& reg, Interest interest, std::uint32_t seq) noexcept
      : reg_(&reg), seq_(seq), interest_(interest) {}

  bool await_ready() const noexcept;
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current());
  void await_resume();

 private:
  friend struct detail::IoSlot;  // links, claims and wakes waiters
  static void cancel_wait(detail::Waiter* w) noexcept;

  IoRegistration* reg_;
  detail::IoSlot* slot_ = nullptr;
  detail::TaskHeader* task_ = nullptr;
  WaitAwaiter* prev_ = nullptr;  // the slot's waiter list, guarded by its lock
  WaitAwaiter* next_ = nullptr;
  WaitAwaiter* wake_next_ = nullptr;           // the poller's private list of claimed nodes
  detail::IoWaitCounters* counted_ = nullptr;  // a counted wait's counters (track_waits)
  std::int64_t began_ns_ = 0;                  // and when it began
  std::uint32_t seq_;
  Interest interest_;
  bool linked_ = false;
  bool cancelled_ = false;
};

inline IoRegistration::WaitAwaiter IoRegistration::wait(Interest interest,
                                                        std::uint32_t seq) noexcept {
  return WaitAwaiter(*this, interest, seq);
}

}  // namespace weft
