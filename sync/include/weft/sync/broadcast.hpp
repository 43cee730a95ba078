// weft::broadcast<T>(capacity) (tokio::sync::broadcast): every receiver sees every message
// sent after it subscribed, from any number of senders, on any workers.
//
// ## Ring
// The channel keeps the last `capacity` messages in a ring, message number `seq` in slot
// `seq % capacity`; `tail` is the number of the next message. Each receiver keeps the number
// of the next message it wants. A receiver more than `capacity` behind has lost messages:
// its next receive raises Lagged(n), n the number overwritten, and moves it to the oldest
// message still held. A slot is overwritten only when the ring wraps (a message stays until
// then, even if every receiver has seen it).
//
// ## Protocol
// One SpinLock guards the ring, the counts and the list of waiting receivers. send() stores
// the message, claims every waiting receiver's node (in the receiving task's frame) and
// resumes the tasks after unlocking; each copies its message when it runs, under the lock
// (so a receive copies T under a spin lock: keep T cheap to copy, or send shared pointers).
// A woken receiver always finds something: its message, a lag, or the end. A waiter whose
// claim a cancellation (or timeout) won is skipped; it has taken nothing, so a later receive
// on the same receiver gets the message.
//
// ## Closing and lifetime
// Senders are copyable; the channel closes when the last one is destroyed, which wakes every
// waiting receiver. A receiver drains what it has not seen yet, then receives ChannelClosed.
// The shared state is freed by the last sender or receiver to go.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/sync/channel_error.hpp"
#include "weft/sync/detail/fatal.hpp"
#include "weft/sync/detail/waiter_list.hpp"

namespace weft {

template <class T>
class BroadcastSender;
template <class T>
class BroadcastReceiver;

namespace detail {

/// The shared state of a broadcast channel (see the top of this file).
template <class T>
struct BroadcastState {
  explicit BroadcastState(std::size_t capacity) : slots(capacity) {}

  /// Under the lock: true when no handle is left (the caller deletes after unlocking).
  bool release_locked() noexcept { return senders == 0 && receivers == 0; }

  SpinLock lock;
  std::vector<std::optional<T>> slots;  // guarded by lock: message seq in slots[seq % size]
  std::uint64_t tail = 0;               // guarded by lock: the number of the next message
  std::size_t senders = 1;              // guarded by lock
  std::size_t receivers = 0;            // guarded by lock
  WaiterList waiters;                   // guarded by lock
};

}  // namespace detail

/// A sending handle of a broadcast channel. Copyable (each copy is another sender); the
/// channel closes when the last sender is destroyed. Any thread.
template <class T>
class BroadcastSender {
  using State = detail::BroadcastState<T>;

 public:
  BroadcastSender() noexcept = default;
  BroadcastSender(const BroadcastSender& o) noexcept : st_(o.st_) {
    if (st_) {
      std::lock_guard lk(st_->lock);
      ++st_->senders;
    }
  }
  BroadcastSender(BroadcastSender&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  BroadcastSender& operator=(BroadcastSender o) noexcept {
    std::swap(st_, o.st_);
    return *this;
  }
  ~BroadcastSender() { drop(); }

  /// Another sender of the same channel (the same as a copy).
  BroadcastSender clone() const noexcept { return *this; }

  /// Sends `value` to every current receiver and wakes those that wait. Returns the number
  /// of receivers it was sent to; with none, the value is dropped and 0 returned (tokio
  /// returns an error). Throws UsageError on a moved-from sender. Any thread.
  std::size_t send(T value) {
    State* st = state("send");
    detail::WakeList woken;  // destroyed after the lock guard: wakes after unlocking
    std::lock_guard lk(st->lock);
    if (st->receivers == 0) return 0;
    st->slots[st->tail % st->slots.size()] = std::move(value);
    ++st->tail;
    while (detail::SyncWaiter* w = st->waiters.claim_front()) woken.push(w);
    return st->receivers;
  }

  /// A receiver that sees every message sent from now on. Throws UsageError on a moved-from
  /// sender. Any thread.
  BroadcastReceiver<T> subscribe() {
    State* st = state("subscribe");
    std::lock_guard lk(st->lock);
    ++st->receivers;
    return BroadcastReceiver<T>(st, st->tail);
  }

  /// The number of live receivers. Any thread; a snapshot.
  std::size_t receiver_count() const noexcept {
    if (!st_) return 0;
    std::lock_guard lk(st_->lock);
    return st_->receivers;
  }

 private:
  template <class U>
  friend BroadcastSender<U> broadcast(std::size_t capacity);
  explicit BroadcastSender(State* st) noexcept : st_(st) {}

  State* state(const char* what) const {
    if (!st_)
      throw UsageError(std::string("weft::BroadcastSender::") + what + ": moved-from sender");
    return st_;
  }

  void drop() noexcept {
    State* st = std::exchange(st_, nullptr);
    if (!st) return;
    bool last;
    {
      detail::WakeList woken;
      std::lock_guard lk(st->lock);
      if (--st->senders == 0) {  // closed: wake every waiting receiver
        while (detail::SyncWaiter* w = st->waiters.claim_front()) woken.push(w);
      }
      last = st->release_locked();
    }
    if (last) delete st;
  }

  State* st_ = nullptr;
};

/// A receiving handle of a broadcast channel. Move-only; one task receives on it at a time.
/// `co_await rx.recv()` gives the next message. Destroying it while a task awaits it aborts
/// with a message.
template <class T>
class BroadcastReceiver {
  using State = detail::BroadcastState<T>;

 public:
  class RecvAwaiter;

  BroadcastReceiver() noexcept = default;
  BroadcastReceiver(BroadcastReceiver&& o) noexcept
      : st_(std::exchange(o.st_, nullptr)), next_(o.next_) {}
  BroadcastReceiver& operator=(BroadcastReceiver&& o) noexcept {
    if (this != &o) {
      drop();
      st_ = std::exchange(o.st_, nullptr);
      next_ = o.next_;
    }
    return *this;
  }
  ~BroadcastReceiver() { drop(); }

  /// `co_await rx.recv()` returns a copy of the next message, waiting for it. Throws Lagged
  /// if messages were lost (the next recv continues with the oldest one held), and
  /// ChannelClosed once every sender is gone and this receiver has seen every message. A
  /// cancellation point while it waits: CancelledError, and no message is consumed.
  RecvAwaiter recv() {
    state("recv");
    return RecvAwaiter(*this);
  }
  /// The next message if there is one, else std::nullopt; never waits. Throws Lagged and
  /// ChannelClosed as recv().
  std::optional<T> try_recv() {
    State* st = state("try_recv");
    std::lock_guard lk(st->lock);
    return take_locked();
  }
  /// A new receiver of the same channel that sees the messages sent from now on.
  BroadcastReceiver resubscribe() const {
    State* st = state("resubscribe");
    std::lock_guard lk(st->lock);
    ++st->receivers;
    return BroadcastReceiver(st, st->tail);
  }

 private:
  friend class BroadcastSender<T>;
  BroadcastReceiver(State* st, std::uint64_t next) noexcept : st_(st), next_(next) {}

  State* state(const char* what) const {
    if (!st_) {
      throw UsageError(std::string("weft::BroadcastReceiver::") + what + ": moved-from receiver");
    }
    return st_;
  }

  /// Under the lock: true if a receive would not wait (a message, a lag, or the end).
  bool ready_locked() const noexcept { return next_ < st_->tail || st_->senders == 0; }

  /// Under the lock: the next message, or nullopt if none yet; throws Lagged / ChannelClosed.
  std::optional<T> take_locked() {
    const std::uint64_t cap = st_->slots.size();
    const std::uint64_t oldest = st_->tail > cap ? st_->tail - cap : 0;
    if (next_ < oldest) {
      const std::uint64_t missed = oldest - next_;
      next_ = oldest;
      throw Lagged(missed);
    }
    if (next_ < st_->tail) {
      std::optional<T> v(*st_->slots[next_ % cap]);  // a copying T may throw: nothing consumed
      ++next_;
      return v;
    }
    if (st_->senders == 0) {
      throw ChannelClosed("weft::broadcast: every sender was dropped and no message is left");
    }
    return std::nullopt;
  }

  void drop() noexcept {
    State* st = std::exchange(st_, nullptr);
    if (!st) return;
    bool last;
    {
      std::lock_guard lk(st->lock);
      if (waiting_) {
        detail::fatal_destroyed_with_waiters("weft::BroadcastReceiver", 1, "for a message");
      }
      --st->receivers;
      last = st->release_locked();
    }
    if (last) delete st;
  }

  State* st_ = nullptr;
  std::uint64_t next_ = 0;  // guarded by st_->lock: the number of the next message to take
  bool waiting_ = false;    // guarded by st_->lock: a task's recv node is linked
};

/// The awaiter of BroadcastReceiver::recv(). Movable until it is awaited.
template <class T>
class [[nodiscard]] BroadcastReceiver<T>::RecvAwaiter : detail::SyncWaiter {
 public:
  explicit RecvAwaiter(BroadcastReceiver& rx) noexcept : rx_(&rx) {}
  RecvAwaiter(RecvAwaiter&& o) noexcept : detail::SyncWaiter(), rx_(o.rx_) {}
  RecvAwaiter& operator=(RecvAwaiter&&) = delete;

  bool await_ready() const noexcept { return false; }

  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current()) {
    detail::TaskHeader* t = &detail::require_task("weft::BroadcastReceiver::recv");
    State* st = rx_->st_;
    init(t, &st->lock, &st->waiters);
    on_cancel = &RecvAwaiter::cancel_wait;
    {
      std::lock_guard lk(st->lock);
      if (!rx_->ready_locked()) {
        if (!publish(h, {"broadcast recv", where})) {
          cancelled = true;
          return false;
        }
        rx_->waiting_ = true;
        return true;  // published: the frame is not touched again
      }
    }
    if (detail::budget_spend()) return false;
    t->set_resume_point(h);  // out of budget: let the others run first
    detail::schedule_yield(t);
    return true;
  }

  T await_resume() {
    if (cancelled) {
      task->take_cancel();
      throw CancelledError();
    }
    std::lock_guard lk(rx_->st_->lock);
    rx_->waiting_ = false;
    // Woken by a send (a message or a lag) or by the close (the rest, or the end); the
    // ring only moves forward, so this never comes back empty.
    return std::move(*rx_->take_locked());
  }

 private:
  static void cancel_wait(detail::Waiter* w) noexcept {
    auto* self = static_cast<RecvAwaiter*>(w);
    self->owner_lock->lock();
    self->owner_list->remove(self);
    self->rx_->waiting_ = false;
    self->owner_lock->unlock();
    self->cancelled = true;
    detail::schedule(self->task);
  }

  BroadcastReceiver* rx_;
};

/// Creates a broadcast channel that keeps the last `capacity` messages and returns its first
/// sender; receivers come from sender.subscribe(). Throws std::invalid_argument if
/// `capacity` is 0.
template <class T>
BroadcastSender<T> broadcast(std::size_t capacity) {
  static_assert(std::is_copy_constructible_v<T>, "weft::broadcast<T>: T must be copyable");
  if (capacity == 0) throw std::invalid_argument("weft::broadcast: capacity must be at least 1");
  return BroadcastSender<T>(new detail::BroadcastState<T>(capacity));
}

}  // namespace weft
