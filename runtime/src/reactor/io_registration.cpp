// The reactor's registrations (weft/runtime/io.hpp): the slot table, waits and dispatch.
#include "weft/runtime/io.hpp"

#include <sys/epoll.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "reactor/dispatch.hpp"
#include "reactor/io_slot.hpp"
#include "scheduler/scheduler.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/spin_lock.hpp"
#include "weft/runtime/detail/wait_counters.hpp"
#include "weft/runtime/errors.hpp"

namespace weft::detail {

namespace {

constexpr std::uint32_t kChunkBits = 10;
constexpr std::uint32_t kChunkSize = 1u << kChunkBits;
constexpr std::uint32_t kMaxChunks = 1u << 12;  // 4 M registrations at once

/// The process-wide slot table (io_slot.hpp): chunks are allocated on demand and live until
/// exit. A free slot's state is poisoned under ASan; the poisoning happens under mu_.
class SlotTable {
 public:
  IoSlot* acquire() {
    std::lock_guard lk(mu_);
    if (free_.empty()) grow();
    IoSlot* s = free_.back();
    free_.pop_back();
    if constexpr (kAddressSanitized) unpoison_memory(&s->fd, state_bytes(s));
    return s;
  }
  void release(IoSlot* s) noexcept {
    std::lock_guard lk(mu_);
    if constexpr (kAddressSanitized) poison_memory(&s->fd, state_bytes(s));
    free_.push_back(s);  // never reallocates: it has held every slot at once
  }
  /// The slot with `index`, or nullptr if no such slot was ever made. Any thread, no lock:
  /// a chunk pointer is published (release) before any index in it is handed out.
  IoSlot* at(std::uint32_t index) const noexcept {
    std::uint32_t c = index >> kChunkBits;
    if (c >= kMaxChunks) return nullptr;
    IoSlot* chunk = chunks_[c].load(std::memory_order_acquire);
    return chunk ? &chunk[index & (kChunkSize - 1)] : nullptr;
  }

 private:
  void grow() {
    if (nchunks_ == kMaxChunks) {
      throw std::system_error(ENOMEM, std::generic_category(),
                              "weft: too many I/O registrations at once");
    }
    auto* chunk = new IoSlot[kChunkSize];  // never freed: stale events may look at it
    for (std::uint32_t i = 0; i < kChunkSize; ++i) {
      chunk[i].index = nchunks_ * kChunkSize + i;
    }
    chunks_[nchunks_].store(chunk, std::memory_order_release);
    ++nchunks_;
    for (std::uint32_t i = kChunkSize; i-- > 0;) {
      if constexpr (kAddressSanitized) poison_memory(&chunk[i].fd, state_bytes(&chunk[i]));
      free_.push_back(&chunk[i]);
    }
  }
  /// The size of a slot's state: from `fd` to the end of the slot.
  static std::size_t state_bytes(IoSlot* s) noexcept {
    return static_cast<std::size_t>(reinterpret_cast<char*>(s + 1) -
                                    reinterpret_cast<char*>(&s->fd));
  }

  std::mutex mu_;
  std::vector<IoSlot*> free_;  // guarded by mu_
  std::uint32_t nchunks_ = 0;  // guarded by mu_
  std::array<std::atomic<IoSlot*>, kMaxChunks> chunks_{};
};

SlotTable& slots() {
  static SlotTable* table = new SlotTable;  // never destroyed: events may outlive main()
  return *table;
}

std::uint64_t event_data(const IoSlot& s) noexcept {
  return (std::uint64_t{s.gen} << 32) | (std::uint64_t{s.index} + 1);  // 0 is the eventfd
}

}  // namespace

IoSlot* acquire_io_slot() {
  return slots().acquire();
}

void release_io_slot(IoSlot* s) noexcept {
  slots().release(s);
}

[[noreturn]] void fatal_waiters_left(int fd, std::size_t n) noexcept {
  std::fprintf(stderr,
               "weft: the I/O registration of fd %d was destroyed while %zu task(s) still wait "
               "on it; they could never resume. Close an I/O object only after every "
               "operation on it has finished.\n",
               fd, n);
  std::fflush(stderr);
  std::abort();
}

void IoSlot::link(IoRegistration::WaitAwaiter* w, int dir) noexcept {
  w->prev_ = tail[dir];
  w->next_ = nullptr;
  (tail[dir] ? tail[dir]->next_ : head[dir]) = w;
  tail[dir] = w;
  w->linked_ = true;
}

void IoSlot::unlink(IoRegistration::WaitAwaiter* w, int dir) noexcept {
  if (!w->linked_) return;
  (w->prev_ ? w->prev_->next_ : head[dir]) = w->next_;
  (w->next_ ? w->next_->prev_ : tail[dir]) = w->prev_;
  w->prev_ = w->next_ = nullptr;
  w->linked_ = false;
}

std::size_t IoSlot::waiters() const noexcept {
  std::size_t n = 0;
  for (auto* h : head) {
    for (; h; h = h->next_) ++n;
  }
  return n;
}

void IoSlot::deliver(std::uint32_t event_gen, std::uint32_t events) noexcept {
  const bool rd = events & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  const bool wr = events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
  IoRegistration::WaitAwaiter* woken = nullptr;
  {
    std::lock_guard lk(lock);
    if (gen != event_gen) return;  // the registration is gone: a stale event
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      read_closed.store(true, std::memory_order_relaxed);  // published by the seq below
    }
    for (int dir = 0; dir < 2; ++dir) {
      if (!(dir == 0 ? rd : wr)) continue;
      // Release: an operation that sees the new number also sees the data that made it.
      seq[dir].fetch_add(1, std::memory_order_release);
      while (auto* w = head[dir]) {
        unlink(w, dir);
        if (w->task_->try_claim()) {  // else a cancellation won: its on_cancel resumes it
          w->wake_next_ = woken;
          woken = w;
        }
      }
    }
  }
  while (woken) {
    auto* w = woken;
    woken = w->wake_next_;  // read before waking: the node may be gone afterwards
    schedule(w->task_);
  }
}

void dispatch_io_event(std::uint64_t data, std::uint32_t events) noexcept {
  IoSlot* s = slots().at(static_cast<std::uint32_t>(data) - 1);
  if (!s) return;
  s->deliver(static_cast<std::uint32_t>(data >> 32), events);
}

}  // namespace weft::detail

namespace weft {

namespace detail {

/// A registration's wait counters, one per direction. A wait begins under the slot's lock
/// and ends when its task resumes, so two tasks (a reader and a writer, or two readers on
/// two workers) may count at once: the spin lock keeps WaitCounters' one writer at a time.
struct IoWaitCounters {
  SpinLock lock;
  WaitCounters dir[2];
};

}  // namespace detail

IoRegistration::IoRegistration(IoRegistration&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      // Relaxed: moving must not race a wait (the documented rule), so no other thread
      // touches either registration now.
      slot_(o.slot_.exchange(nullptr, std::memory_order_relaxed)),
      counters_(o.counters_.exchange(nullptr, std::memory_order_relaxed)) {}

IoRegistration& IoRegistration::operator=(IoRegistration&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    slot_.store(o.slot_.exchange(nullptr, std::memory_order_relaxed), std::memory_order_relaxed);
    delete counters_.exchange(o.counters_.exchange(nullptr, std::memory_order_relaxed),
                              std::memory_order_relaxed);
  }
  return *this;
}

IoRegistration::~IoRegistration() {
  reset();
  delete counters_.load(std::memory_order_relaxed);
}

void IoRegistration::track_waits() {
  if (counters_.load(std::memory_order_acquire)) return;
  auto* fresh = new detail::IoWaitCounters;
  detail::IoWaitCounters* none = nullptr;
  if (!counters_.compare_exchange_strong(none, fresh, std::memory_order_acq_rel)) delete fresh;
}

WaitStats IoRegistration::wait_stats(Interest interest) const noexcept {
  const detail::IoWaitCounters* c = counters_.load(std::memory_order_acquire);
  return c ? c->dir[static_cast<int>(interest)].snapshot() : WaitStats{};
}

void IoRegistration::reset() noexcept {
  release(true);
}

void IoRegistration::reset_closed() noexcept {
  release(false);
}

void IoRegistration::release(bool fd_open) noexcept {
  // Acquire: pairs with the publishing store in slot_for_wait (reset must not race a wait,
  // but may run on another thread than the one that registered).
  if (detail::IoSlot* s = slot_.exchange(nullptr, std::memory_order_acquire)) {
    int epfd;
    {
      std::lock_guard lk(s->lock);
      if (std::size_t n = s->waiters()) detail::fatal_waiters_left(fd_, n);
      s->gen += 1;  // even: free; events naming the old generation are dropped
      epfd = std::exchange(s->epfd, -1);
      s->fd = -1;
    }
    // While the fd is open (the owner closes it after us), no other object can have
    // registered the same number: the DEL can only remove ours. A worker's epoll closed
    // meanwhile (runtime gone) gives EBADF, which is fine. Once the fd is closed, the
    // kernel has removed it from the epoll and the number is anyone's: no DEL.
    if (fd_open && epfd >= 0) ::epoll_ctl(epfd, EPOLL_CTL_DEL, fd_, nullptr);
    detail::release_io_slot(s);
  }
  fd_ = -1;
}

std::uint32_t IoRegistration::ready_seq(Interest interest) const noexcept {
  // Acquire: pairs with the poller's release, so data behind the event is visible.
  // Before the registration (or while it is being made) the sequence is 0, the value a new
  // slot starts with, so a wait that registers afterwards sees any event since as a change.
  detail::IoSlot* s = slot();
  return s ? s->seq[static_cast<int>(interest)].load(std::memory_order_acquire) : 0;
}

namespace {
detail::IoSlot* const kRegistering = reinterpret_cast<detail::IoSlot*>(std::uintptr_t{1});
}

bool IoRegistration::read_closed() const noexcept {
  // Relaxed: read after ready_seq's acquire, which saw any seq the flag came with.
  detail::IoSlot* s = slot();
  return s && s->read_closed.load(std::memory_order_relaxed);
}

detail::IoSlot* IoRegistration::slot() const noexcept {
  detail::IoSlot* s = slot_.load(std::memory_order_acquire);
  return s == kRegistering ? nullptr : s;
}

detail::IoSlot* IoRegistration::slot_for_wait() {
  detail::IoSlot* cur = slot_.load(std::memory_order_acquire);
  if (cur && cur != kRegistering) return cur;
  if (fd_ < 0) throw UsageError("weft::IoRegistration::wait on an empty registration");
  detail::Worker* w = detail::current_worker();
  if (!w) throw UsageError("weft::IoRegistration::wait outside a weft worker");
  return register_in(*w);
}

void IoRegistration::register_on(std::size_t worker) {
  if (fd_ < 0) throw UsageError("weft::IoRegistration::register_on: an empty registration");
  detail::Worker* here = detail::current_worker();
  if (!here) throw UsageError("weft::IoRegistration::register_on outside a weft worker");
  auto& workers = here->scheduler().workers();
  (void)register_in(*workers[worker % workers.size()]);
}

detail::IoSlot* IoRegistration::register_in(detail::Worker& target) {
  detail::Worker* w = &target;
  detail::IoSlot* cur = nullptr;
  // One task registers; a task that comes at the same moment waits for it (one epoll_ctl),
  // so the fd joins exactly one epoll.
  for (;;) {
    cur = nullptr;
    // Acquire on failure: pairs with the publishing store below.
    if (slot_.compare_exchange_weak(cur, kRegistering, std::memory_order_acquire)) break;
    if (cur && cur != kRegistering) return cur;
    std::this_thread::yield();
  }
  detail::IoSlot* s;
  try {
    s = detail::acquire_io_slot();
  } catch (...) {
    slot_.store(nullptr, std::memory_order_release);
    throw;
  }
  {
    std::lock_guard lk(s->lock);
    s->gen += 1;  // odd: in use
    s->fd = fd_;
    s->epfd = w->epoll_fd();
    s->seq[0].store(0, std::memory_order_relaxed);
    s->seq[1].store(0, std::memory_order_relaxed);
    s->read_closed.store(false, std::memory_order_relaxed);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
  ev.data.u64 = detail::event_data(*s);
  if (::epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd_, &ev) < 0) {
    const int err = errno;
    {
      std::lock_guard lk(s->lock);
      s->gen += 1;
      s->epfd = -1;
      s->fd = -1;
    }
    detail::release_io_slot(s);
    slot_.store(nullptr, std::memory_order_release);
    throw std::system_error(err, std::generic_category(),
                            "weft: adding fd " + std::to_string(fd_) + " to a worker's epoll");
  }
  w->note_registration();
  slot_.store(s, std::memory_order_release);  // publishes the slot's fields set above
  return s;
}

bool IoRegistration::WaitAwaiter::await_ready() const noexcept {
  // An event since `seq`: no need to wait (the caller retries its syscall).
  detail::IoSlot* s = reg_->slot();
  return s && s->seq[static_cast<int>(interest_)].load(std::memory_order_acquire) != seq_;
}

bool IoRegistration::WaitAwaiter::await_suspend(std::coroutine_handle<> h,
                                                std::source_location where) {
  task_ = &detail::require_task("weft::IoRegistration::wait");
  slot_ = reg_->slot_for_wait();  // may throw: nothing is published then
  on_cancel = &WaitAwaiter::cancel_wait;
  const int dir = static_cast<int>(interest_);
  std::lock_guard lk(slot_->lock);
  if (slot_->seq[dir].load(std::memory_order_relaxed) != seq_) return false;  // an edge came
  const detail::WaitSite site{interest_ == Interest::kRead ? "io readable" : "io writable", where};
  if (task_->begin_wait(this, h, /*forwarding=*/false, site) == detail::WaitResult::kCancelled) {
    cancelled_ = true;
    return false;
  }
  if (detail::IoWaitCounters* c = reg_->counters_.load(std::memory_order_acquire)) {
    counted_ = c;  // before the link: the frame is the waker's after it
    began_ns_ = detail::steady_now_ns();
    std::lock_guard count(c->lock);
    c->dir[dir].began();
  }
  slot_->link(this, dir);
  return true;  // published: the frame is not touched again
}

void IoRegistration::WaitAwaiter::cancel_wait(detail::Waiter* base) noexcept {
  auto* self = static_cast<WaitAwaiter*>(base);
  {
    std::lock_guard lk(self->slot_->lock);
    self->slot_->unlink(self, static_cast<int>(self->interest_));
  }
  self->cancelled_ = true;
  detail::schedule(self->task_);
}

void IoRegistration::WaitAwaiter::await_resume() {
  if (counted_) {
    const std::int64_t waited = detail::steady_now_ns() - began_ns_;
    std::lock_guard count(counted_->lock);
    counted_->dir[static_cast<int>(interest_)].ended(waited, cancelled_);
  }
  if (cancelled_) {
    task_->take_cancel();
    throw CancelledError();
  }
}

}  // namespace weft
