// weft::oneshot<T>() (tokio::sync::oneshot): a channel for exactly one value, from one
// Sender to one Receiver, between tasks on any workers and plain threads.
//
// ## Shared state
// One allocation per channel holds the value's storage, the receiving task and one atomic
// word of flags:
//   kValue      the value is stored (set by send, with kTxGone);
//   kTxGone     the sender is done: it sent, or it was destroyed without sending;
//   kRxGone     the receiver was destroyed;
//   kRxWaiting  the receiver's task is announced in `waiter` and waits (or is about to);
//   kTxDone     a sender that saw kRxWaiting lost the task's claim to a cancellation and
//               no longer touches the task or the state (see Cancellation).
// The state is freed by whichever side sets the second of kTxGone and kRxGone; a receiver
// that has taken the value frees it without looking: the sender set kTxGone with the value,
// and it touches the state no more once the receiver may run (it claimed the receiver's
// wait, or a withdraw waited for its kTxDone, or it never saw kRxWaiting).
//
// ## Send -> wake: one atomic exchange on the channel
// send() constructs the value in place and sets kValue|kTxGone with one fetch_or (release:
// the value; acquire: the waiter). If kRxWaiting was set, it claims the receiver's wait on
// the task header (try_claim_announced, the wait protocol of task_header.hpp) and schedules
// the task. No lock, no list; the receiver's wait allocates nothing.
//
// ## Receive: announce, then publish
// A receiver whose value is not there stores its task in `waiter`, *announces* its wait by
// setting kRxWaiting with a CAS (which fails if the sender acted meanwhile: it then takes
// the value at once), and then publishes the wait on its task header (begin_wait). From then
// on the sender and cancellation race to claim it; exactly one wins. A sender that saw
// kRxWaiting may find the wait not published yet: try_claim_announced waits for it while
// kRxWaiting holds, so a receiver still registering is never taken for a cancelled one. Two
// read-modify-writes to wait, one to send, one to claim.
//
// ## Cancellation (and timeouts): the value stays in the channel
// A cancellation that wins the claim runs on_cancel, which clears kRxWaiting. If the sender
// had already set kValue or kTxGone by then, it saw kRxWaiting and is about to fail its claim
// on the task; on_cancel waits (a few instructions) for its kTxDone before it lets the task
// run, so a stale claim can never reach the task's next wait (and a sender waiting in
// try_claim_announced sees kRxWaiting cleared and gives up). The cancelled recv raises
// CancelledError and the value, if it arrived, stays in the channel: the next recv() on the
// same receiver gets it. A cancellation already pending when the receiver publishes
// (begin_wait refuses) is withdrawn the same way, by the receiver itself.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <new>
#include <optional>
#include <source_location>
#include <thread>
#include <type_traits>
#include <utility>

#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/frame_allocator.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/sync/channel_error.hpp"
#include "weft/sync/detail/fatal.hpp"

namespace weft {

template <class T>
class OneshotSender;
template <class T>
class OneshotReceiver;

namespace detail {

/// The shared state of a oneshot channel (see the top of this file).
template <class T>
struct OneshotState : FrameAllocated {  // one per channel, from the frame allocator

  static constexpr std::uint32_t kValue = 1;
  static constexpr std::uint32_t kTxGone = 2;
  static constexpr std::uint32_t kRxGone = 4;
  static constexpr std::uint32_t kRxWaiting = 8;
  static constexpr std::uint32_t kTxDone = 16;

  OneshotState() noexcept {}
  ~OneshotState() {}
  OneshotState(const OneshotState&) = delete;
  OneshotState& operator=(const OneshotState&) = delete;

  std::atomic<std::uint32_t> state{0};
  TaskHeader* waiter = nullptr;  // the receiving task: written before kRxWaiting is set
  bool taken = false;            // receiver side only: the value was moved out
  union {
    T value;  // alive while kValue is set and !taken
  };

  /// The sender's one action: sets `bits` (kTxGone, and kValue if it sent) and wakes the
  /// receiver if it waits. False: the receiver was gone (a sent value is destroyed). The
  /// sender does not touch the state afterwards.
  static bool finish_sender(OneshotState* st, std::uint32_t bits) noexcept {
    // AcqRel. Release: the value (constructed before) is visible to the receiver that sees
    // kValue. Acquire: `waiter`, written before the receiver's release CAS of kRxWaiting, and
    // the receiver's last writes before kRxGone.
    std::uint32_t prev = st->state.fetch_or(bits, std::memory_order_acq_rel);
    if (prev & kRxGone) {
      if (bits & kValue) st->value.~T();
      delete st;
      return false;
    }
    if (prev & kRxWaiting) {
      TaskHeader* t = st->waiter;
      // Acquire: pairs with withdraw's fetch_and (only the word is read after it).
      auto announced = [st] { return (st->state.load(std::memory_order_acquire) & kRxWaiting); };
      if (t->try_claim_announced(announced)) {
        schedule(t);  // the state stays alive: its receiver cannot be dropped before it runs
        return true;
      }
      // A cancellation won the claim; its on_cancel waits for this before the task goes on.
      // Release: our read of `waiter` and failed claim happen-before the task's next wait.
      st->state.fetch_or(kTxDone, std::memory_order_release);
    }
    return true;
  }

  /// The receiver stops waiting (its wait was claimed by a cancellation, or refused by
  /// begin_wait): clears kRxWaiting, then, if the sender saw it, waits until the sender has
  /// finished its (failing) claim on the task.
  static void withdraw(OneshotState* st) noexcept {
    // Acquire: pairs with the sender's fetch_or, so its kTxDone store is ordered after.
    std::uint32_t prev = st->state.fetch_and(~kRxWaiting, std::memory_order_acq_rel);
    if (!(prev & (kValue | kTxGone))) return;  // the sender has not seen kRxWaiting
    // Acquire: pairs with the sender's release of kTxDone.
    for (unsigned spins = 0; !(st->state.load(std::memory_order_acquire) & kTxDone); ++spins) {
      if (spins < 64) {
        TaskHeader::spin_pause();
      } else {
        std::this_thread::yield();
      }
    }
  }
};

}  // namespace detail

/// The sending half of a oneshot channel. Move-only; any thread. Destroying it without
/// sending wakes the receiver with ChannelClosed.
template <class T>
class OneshotSender {
  using State = detail::OneshotState<T>;

 public:
  OneshotSender() noexcept = default;
  OneshotSender(OneshotSender&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  OneshotSender& operator=(OneshotSender&& o) noexcept {
    if (this != &o) {
      drop();
      st_ = std::exchange(o.st_, nullptr);
    }
    return *this;
  }
  ~OneshotSender() { drop(); }

  /// Sends the value and wakes the receiver; the sender is spent afterwards. Returns false if
  /// the receiver was already destroyed (the value is destroyed; tokio returns it instead).
  /// Throws UsageError if the sender already sent (or is moved-from). Any thread.
  bool send(T value) {
    if (!st_) {
      throw UsageError(
          "weft::OneshotSender::send: the value was already sent (or the sender is moved-from)");
    }
    ::new (static_cast<void*>(&st_->value)) T(std::move(value));  // may throw: nothing sent
    return State::finish_sender(std::exchange(st_, nullptr), State::kValue | State::kTxGone);
  }
  /// True if the receiver was destroyed (a send would return false), or if this sender has
  /// sent or is moved-from. Any thread; a snapshot.
  bool is_closed() const noexcept {
    // Relaxed: a hint only; send() decides with its own acquire.
    return !st_ || (st_->state.load(std::memory_order_relaxed) & State::kRxGone);
  }

 private:
  template <class U>
  friend std::pair<OneshotSender<U>, OneshotReceiver<U>> oneshot();
  explicit OneshotSender(State* st) noexcept : st_(st) {}

  void drop() noexcept {
    if (st_) State::finish_sender(std::exchange(st_, nullptr), State::kTxGone);
  }

  State* st_ = nullptr;
};

/// The receiving half of a oneshot channel. Move-only. `co_await rx.recv()` gives the value
/// once. Destroying it while a task awaits it aborts with a message.
template <class T>
class OneshotReceiver {
  using State = detail::OneshotState<T>;

 public:
  class RecvAwaiter;

  OneshotReceiver() noexcept = default;
  OneshotReceiver(OneshotReceiver&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  OneshotReceiver& operator=(OneshotReceiver&& o) noexcept {
    if (this != &o) {
      drop();
      st_ = std::exchange(o.st_, nullptr);
    }
    return *this;
  }
  ~OneshotReceiver() { drop(); }

  /// `co_await rx.recv()` returns the value, waiting until it is sent. Throws ChannelClosed
  /// if the sender was destroyed without sending. A cancellation point while it waits:
  /// CancelledError, and a value that arrives meanwhile stays for the next recv(). Throws
  /// UsageError if the value was already received (or the receiver is moved-from).
  RecvAwaiter recv() {
    check("recv");
    return RecvAwaiter(st_);
  }
  /// The value if it has been sent (and not received yet), else std::nullopt; never waits.
  /// Throws ChannelClosed if the sender was destroyed without sending, UsageError as
  /// recv(). Any thread.
  std::optional<T> try_recv() {
    check("try_recv");
    std::uint32_t s = st_->state.load(std::memory_order_acquire);  // pairs with send's release
    if (s & State::kValue) return take(st_);
    if (s & State::kTxGone) throw_closed();
    return std::nullopt;
  }

 private:
  template <class U>
  friend std::pair<OneshotSender<U>, OneshotReceiver<U>> oneshot();
  explicit OneshotReceiver(State* st) noexcept : st_(st) {}

  void check(const char* what) const {
    if (!st_ || st_->taken) {
      throw UsageError(std::string("weft::OneshotReceiver::") + what +
                       ": the value was already received (or the receiver is moved-from)");
    }
  }
  static T take(State* st) {
    T v = std::move(st->value);
    st->value.~T();
    st->taken = true;
    return v;
  }
  [[noreturn]] static void throw_closed() {
    throw ChannelClosed("weft::oneshot: the sender was dropped without sending a value");
  }

  void drop() noexcept {
    State* st = std::exchange(st_, nullptr);
    if (!st) return;
    if (st->taken) {  // the sender is done with the state (see the top of this file)
      delete st;
      return;
    }
    // AcqRel: our writes (taking the value) are visible to a sender that frees the state, and
    // a value sent before is visible to us if we free it.
    std::uint32_t prev = st->state.fetch_or(State::kRxGone, std::memory_order_acq_rel);
    if ((prev & State::kRxWaiting) && !(prev & (State::kValue | State::kTxGone))) {
      detail::fatal_destroyed_with_waiters("weft::OneshotReceiver", 1, "for the value");
    }
    if (!(prev & State::kTxGone)) return;  // the sender frees it
    if ((prev & State::kValue) && !st->taken) st->value.~T();
    delete st;
  }

  State* st_ = nullptr;
};

/// The awaiter of OneshotReceiver::recv(). Movable until it is awaited.
template <class T>
class [[nodiscard]] OneshotReceiver<T>::RecvAwaiter : detail::Waiter {
 public:
  RecvAwaiter(RecvAwaiter&& o) noexcept : detail::Waiter(), st_(o.st_) {}
  RecvAwaiter& operator=(RecvAwaiter&&) = delete;

  bool await_ready() noexcept {
    // Acquire: pairs with send's release; the value is visible.
    if (!(st_->state.load(std::memory_order_acquire) & (State::kValue | State::kTxGone))) {
      return false;
    }
    ready_ = true;
    return detail::budget_spend();  // spent: await_suspend yields
  }

  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current()) {
    detail::TaskHeader* t = &detail::require_task("weft::OneshotReceiver::recv");
    task_ = t;
    if (ready_) {  // out of budget: let the others run first
      t->set_resume_point(h);
      detail::schedule_yield(t);
      return true;
    }
    on_cancel = &RecvAwaiter::cancel_wait;
    st_->waiter = t;
    // Announce. Relaxed: the CAS checks the word, and await_resume reads the value after an
    // acquire of its own.
    std::uint32_t s = st_->state.load(std::memory_order_relaxed);
    do {
      if (s & (State::kValue | State::kTxGone)) return false;  // the sender acted: take it now
      // Release: `waiter` is visible to the sender that sees kRxWaiting.
    } while (!st_->state.compare_exchange_weak(s, s | State::kRxWaiting, std::memory_order_release,
                                               std::memory_order_relaxed));
    // Publish.
    if (t->begin_wait(this, h, /*forwarding=*/false, {"oneshot recv", where}) ==
        detail::WaitResult::kSuspended) {
      return true;  // do not touch the frame
    }
    // A cancellation was pending: nothing was published; take the announcement back.
    State::withdraw(st_);
    cancelled_ = true;
    return false;
  }

  T await_resume() {
    if (cancelled_) {
      task_->take_cancel();
      throw CancelledError();
    }
    // Acquire: pairs with send's release (the claim and schedule order it too).
    if (st_->state.load(std::memory_order_acquire) & State::kValue) return take(st_);
    throw_closed();
  }

 private:
  friend class OneshotReceiver;
  explicit RecvAwaiter(State* st) noexcept : st_(st) {}

  static void cancel_wait(detail::Waiter* w) noexcept {
    auto* self = static_cast<RecvAwaiter*>(w);
    State::withdraw(self->st_);  // the value, if any, stays in the channel
    self->cancelled_ = true;
    detail::schedule(self->task_);
  }

  State* st_;
  detail::TaskHeader* task_ = nullptr;
  bool ready_ = false;
  bool cancelled_ = false;
};

/// Creates a oneshot channel: `auto [tx, rx] = weft::oneshot<T>();`. One allocation (the
/// shared state); sending and receiving allocate nothing more.
template <class T>
std::pair<OneshotSender<T>, OneshotReceiver<T>> oneshot() {
  static_assert(std::is_move_constructible_v<T>, "weft::oneshot<T>: T must be movable");
  auto* st = new detail::OneshotState<T>();
  return {OneshotSender<T>(st), OneshotReceiver<T>(st)};
}

}  // namespace weft
