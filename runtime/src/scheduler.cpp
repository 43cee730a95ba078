// The scheduler and the worker loop; see scheduler.hpp for where tasks go and in which
// order a worker looks for them, idle.hpp for parking, local_queue.hpp for stealing.
#include "scheduler.hpp"

#include "weft/runtime/detail/stack_guard.hpp"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <system_error>

#include "weft/runtime/errors.hpp"
#include "weft/runtime/io.hpp"

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace weft::detail {

constinit thread_local char* tls_stack_floor = nullptr;  // detail/stack_guard.hpp

namespace {

// oneTBB (libtbb) is not built with ThreadSanitizer, so the hand-off of a task to an arena
// thread is invisible to it; these make that hand-off an edge it can see.
inline void tsan_release([[maybe_unused]] void* addr) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(addr);
#endif
}
inline void tsan_acquire([[maybe_unused]] void* addr) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(addr);
#endif
}

// A clock in nanoseconds, or -1 if it cannot be read (a thread's CPU clock after the thread
// ended). CLOCK_MONOTONIC is the scheduler's own real time (how long a worker has been in
// one poll), whatever clock the runtime's timers use.
std::int64_t clock_ns(clockid_t clock) noexcept {
  timespec ts{};
  if (::clock_gettime(clock, &ts) != 0) return -1;
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

thread_local Worker* tls_worker = nullptr;
thread_local TaskHeader* tls_task = nullptr;
thread_local int tls_budget = 0;
thread_local TaskHeader* tls_next = nullptr;  // resume_next()'s task, until complete_task ends

std::size_t workers_from(const RuntimeOptions& o) {
  if (o.workers > 0) return o.workers;
  if (const char* env = std::getenv("WEFT_WORKERS")) {
    long n = std::strtol(env, nullptr, 10);
    if (n > 0 && n <= 1024) return static_cast<std::size_t>(n);
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

bool virtual_clock_from(const RuntimeOptions& o) {
  if (o.clock == ClockKind::Virtual) return true;
  if (o.clock == ClockKind::Real) return false;
  const char* env = std::getenv("WEFT_CLOCK");
  return env && std::string(env) == "virtual";
}

[[noreturn]] void fail_syscall(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

Worker* current_worker() noexcept {
  return tls_worker;
}

// ---------------------------------------------------------------------------------------
// Worker

Worker::Worker(Scheduler& s, unsigned index, std::size_t workers)
    : sched_(s), index_(index), rng_(0x9E3779B97F4A7C15ull * (index + 1)), seen_(workers) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) fail_syscall("weft: epoll_create1 for a worker");
  evfd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (evfd_ < 0) {
    ::close(epfd_);
    fail_syscall("weft: eventfd for a worker");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up eventfd
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev) < 0) {
    ::close(evfd_);
    ::close(epfd_);
    fail_syscall("weft: epoll_ctl(eventfd) for a worker");
  }
  token_ = std::make_unique<moodycamel::ProducerToken>(s.injection());
}

Worker::~Worker() {
  if (evfd_ >= 0) ::close(evfd_);
  if (epfd_ >= 0) ::close(epfd_);
}

void Worker::start() {
  thread_ = std::thread([this] { main(); });
  clockid_t clock;
  if (::pthread_getcpuclockid(thread_.native_handle(), &clock) == 0) {
    cpu_clock_.store(clock, std::memory_order_relaxed);
  }
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::wake() noexcept {
  std::uint64_t one = 1;
  ssize_t r = ::write(evfd_, &one, sizeof one);
  (void)r;  // EAGAIN means the counter is already non-zero: the worker will wake anyway
}

void Worker::push_back(TaskHeader* t) noexcept {
  queue_.push_back(
      t, [this](TaskHeader** ts, std::size_t n) { sched_.inject_batch(ts, n, token_.get()); });
}

void Worker::push_lifo(TaskHeader* t) noexcept {
  // Only this worker fills the slot; stealers only empty it. So a slot found empty stays
  // empty until we fill it, and a plain store will do (no read-modify-write on the usual
  // path, where the previous occupant has been run already).
  if (!lifo_.load(std::memory_order_relaxed)) {
    // Release: pairs with the acquire exchange that takes it (next_task, search).
    lifo_.store(t, std::memory_order_release);
    return;
  }
  // AcqRel: pairs with a stealer's exchange in search.
  TaskHeader* prev = lifo_.exchange(t, std::memory_order_acq_rel);
  if (prev) {
    push_back(prev);
    sched_.notify_parked();
  }
}

std::size_t Worker::advance_timers(std::uint64_t now_tick) noexcept {
  if (wheel_.size() == 0) return 0;
  std::size_t n = wheel_.advance(now_tick);
  if (n) timers_fired_.fetch_add(n, std::memory_order_relaxed);
  return n;
}

WorkerMetrics Worker::metrics() const noexcept {
  WorkerMetrics m;
  m.polls = polls_.load(std::memory_order_relaxed);
  m.steals = steals_.load(std::memory_order_relaxed);
  m.parks = parks_.load(std::memory_order_relaxed);
  m.timers_fired = timers_fired_.load(std::memory_order_relaxed);
  m.io_events = io_events_.load(std::memory_order_relaxed);
  m.queue_depth = queue_.size();
  return m;
}

void Worker::main() {
  tls_worker = this;
  tls_stack_floor = stack_pointer() - kStackBudget;
  std::string name = sched_.options().thread_name + "-" + std::to_string(index_);
  if (name.size() > 15) name.resize(15);
  ::pthread_setname_np(::pthread_self(), name.c_str());
  if (sched_.options().pin_workers) {
    cpu_set_t set;
    CPU_ZERO(&set);
    unsigned cpus = std::thread::hardware_concurrency();
    CPU_SET(index_ % (cpus ? cpus : 1), &set);
    ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
  }
  while (!sched_.stopping()) {
    if (TaskHeader* t = next_task()) {
      end_search();  // woken as a searcher, but found work at home
      run_task(t);
      continue;
    }
    // Out of tasks: our own epoll first (Go's findRunnable polls the network before it
    // steals), except every kSearchFirst-th time. What is ready there belongs to
    // connections whose events come here; served here, they stay on this core, and the
    // search and the park (Idle's lock, a wake-up another worker may spend on us) are
    // skipped for an event that is already waiting. The exception keeps us looking at the
    // others when our own I/O never runs dry: a task queued behind one that computes must
    // not wait for it while we serve a ping-pong.
    const bool own_first = ++dry_ % kSearchFirst != 0;
    if (own_first && poll_own()) continue;
    // Not in a poll any more: nobody must take this worker for stuck while it searches.
    poll_tick_.store(kNoPoll, std::memory_order_relaxed);
    if (TaskHeader* t = search()) {
      end_search();
      run_task(t);
      continue;
    }
    if (!own_first && poll_own()) continue;
    park();
  }
  tls_stack_floor = nullptr;
  tls_worker = nullptr;
}

void Worker::run_task(TaskHeader* t) noexcept {
  if (TaskHeader::is_start_entry(t)) {
    t = TaskHeader::from_entry(t);
    std::uint8_t s = TaskHeader::kNotStarted;
    if (!t->start_.compare_exchange_strong(s, TaskHeader::kStarted, std::memory_order_acq_rel)) {
      t->release();  // a joiner ran it already (join inlining); this entry held a reference
      return;
    }
  }
  tls_task = t;
  tls_budget = kBudget;
  poll_tick_.store(tick_, std::memory_order_relaxed);
  // Relaxed, and no read-modify-write: only this worker counts its polls; metrics() reads a
  // snapshot.
  polls_.store(polls_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // resume_ was published by the claim (acquire in try_claim) or by our own schedule.
  if (Waiter* hook = t->run_hook_) [[unlikely]] {
    hook->on_run(hook);
  } else {
    t->resume_.resume();
  }
  tls_task = nullptr;
}

TaskHeader* Worker::next_task() noexcept {
  ++tick_;
  if (tick_ % kEventInterval == 0) {
    maintenance();
    if (TaskHeader* t = pop_inject_one()) return t;
  }
  if (lifo_streak_ < kMaxLifoStreak) {
    if (lifo_.load(std::memory_order_relaxed)) {
      if (TaskHeader* t = lifo_.exchange(nullptr, std::memory_order_acq_rel)) {
        ++lifo_streak_;
        return t;
      }
    }
  } else if (TaskHeader* t = lifo_.exchange(nullptr, std::memory_order_acq_rel)) {
    // The LIFO slot has run enough in a row: send its task to the back of the line.
    push_back(t);
  }
  lifo_streak_ = 0;
  if (TaskHeader* t = queue_.pop()) return t;
  return pop_inject_batch();
}

TaskHeader* Worker::pop_inject_one() noexcept {
  // One task, not a batch (Tokio's rule): a batch pulled into a busy local queue would only
  // overflow back into the injection queue, dragging tasks from worker to worker. An empty
  // local queue takes a batch in next_task right after.
  auto& inj = sched_.injection();
  TaskHeader* t = nullptr;
  if (inj.size_approx() == 0 || !inj.try_dequeue(t)) return nullptr;
  return t;
}

TaskHeader* Worker::pop_inject_batch() noexcept {
  auto& inj = sched_.injection();
  if (inj.size_approx() == 0) return nullptr;
  constexpr std::size_t kBatch = 32;
  TaskHeader* batch[kBatch];
  std::size_t room = LocalQueue::kCapacity - queue_.size();
  std::size_t want = std::min<std::size_t>(kBatch, room + 1);
  std::size_t n = inj.try_dequeue_bulk(batch, want);
  if (n == 0) return nullptr;
  for (std::size_t i = 1; i < n; ++i) push_back(batch[i]);
  if (n > 1) sched_.notify_parked();
  return batch[0];
}

Worker::Look Worker::look_at(Worker& victim, std::int64_t now_ns) noexcept {
  // Has the victim's tick moved since our previous search round? A searching or parked
  // worker is in no poll (kNoPoll) and holds nothing back. One reading per victim per
  // round; it updates what we saw, and since when (`now_ns`: one clock read per round, on the
  // idle path, so that a stuck worker is known after two looks past kLongPollNs).
  std::uint32_t tick = victim.poll_tick_.load(std::memory_order_relaxed);
  Seen& seen = seen_[victim.index_];
  Look look;
  if (tick != seen.tick || tick == kNoPoll) {
    seen = Seen{tick, now_ns};
    return look;
  }
  look.same_poll = true;
  if (now_ns - seen.since_ns < kLongPollNs) return look;
  // In one poll for kLongPollNs. Running, or off its CPU (preempted by the kernel, or
  // blocked in a syscall)? Its thread's CPU clock tells: one syscall, made only here.
  const clockid_t clock = victim.cpu_clock_.load(std::memory_order_relaxed);
  const std::int64_t cpu = clock == kNoCpuClock ? -1 : clock_ns(clock);
  if (cpu < 0) return look;  // no clock (the thread has ended): nothing to help
  if (seen.cpu_ns < 0) {
    seen.cpu_ns = cpu;  // the first long look: compare at the next one
    seen.cpu_at_ns = now_ns;
    return look;
  }
  // Running for at least an eighth of the time since: a task that keeps its CPU.
  look.long_poll = (cpu - seen.cpu_ns) * 8 >= now_ns - seen.cpu_at_ns;
  return look;
}

TaskHeader* Worker::search() noexcept {
  if (!searching_) {
    if (!sched_.idle().transition_to_searching()) return nullptr;
    searching_ = true;
  }
  auto& ws = sched_.workers();
  const std::size_t n = ws.size();
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const std::size_t start = rng_ % n;
  for (std::size_t i = 0; i < n; ++i) {
    Worker& v = *ws[(start + i) % n];
    if (&v == this) continue;
    hook(HookPoint::kSteal);
    if (TaskHeader* t = v.queue_.steal_into(queue_)) {
      steals_.fetch_add(1, std::memory_order_relaxed);
      return t;
    }
  }
  if (TaskHeader* t = pop_inject_batch()) return t;
  // A worker that has stayed in one poll for a whole search round holds back its LIFO task:
  // take it (a busy worker cannot hide a runnable task; message-passing pairs keep their
  // locality otherwise). One that has been running one poll for kLongPollNs holds back its
  // I/O as well: poll its epoll for it, so I/O is not stuck behind CPU work. What that
  // delivers is queued here (dispatch schedules from a worker without a running task).
  // Every other worker serves its own epoll (every kEventInterval ticks, and whenever its
  // queue runs dry, or when the kernel runs it again): taking its events would only move
  // its connections to our core and back. On the echo benchmark at 2 workers, with "a
  // whole search round" as the rule for I/O too (rounds can be microseconds apart), an
  // idle worker took 45% of the other's events and the median round trip was 1.7x the
  // hand-written epoll server's; with kLongPollNs of wall time alone still 40-50% (the
  // kernel preempts workers: two workers and two load generator threads on two CPUs);
  // with the CPU clock's check 0.1-9%, and the median 1.3x.
  const std::int64_t now = clock_ns(CLOCK_MONOTONIC);
  for (std::size_t i = 0; i < n; ++i) {
    Worker& v = *ws[(start + i) % n];
    if (&v == this) continue;
    const Look look = look_at(v, now);
    if (!look.same_poll) continue;
    if (v.lifo_.load(std::memory_order_relaxed)) {
      if (TaskHeader* t = v.lifo_.exchange(nullptr, std::memory_order_acq_rel)) {
        steals_.fetch_add(1, std::memory_order_relaxed);
        return t;
      }
    }
    if (look.long_poll && poll_other(v)) {
      if (TaskHeader* t = next_task()) return t;
    }
  }
  return nullptr;
}

void Worker::end_search() noexcept {
  if (!searching_) return;
  searching_ = false;
  if (sched_.idle().transition_from_searching()) sched_.notify_parked();
}

void Worker::maintenance() noexcept {
  advance_timers(sched_.clock().now_tick());
  // Take only as many I/O events as the local queue has room for (half of it, at least a
  // few): the tasks they wake would otherwise overflow to the injection queue, which is
  // served more slowly than the local queue, and the connections behind them would wait
  // while newer ones are served (the echo benchmark's p99 at 1,024 connections was 5x the
  // epoll server's). Events left in the epoll are taken at the next pass or when the queue
  // has drained; a few are always taken, so I/O never waits behind a long queue for good.
  const std::uint32_t room = LocalQueue::kCapacity - queue_.size();
  poll_events(0, static_cast<int>(std::clamp<std::uint32_t>(room / 2, 4, kMaxEvents)));
}

int Worker::poll_events(int timeout_ms, int max_events) noexcept {
  epoll_event events[kMaxEvents];
  int n = ::epoll_wait(epfd_, events, std::min(max_events, kMaxEvents), timeout_ms);
  int delivered = 0;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == 0) {
      std::uint64_t v;
      ssize_t r = ::read(evfd_, &v, sizeof v);
      (void)r;
    } else {
      io_events_.fetch_add(1, std::memory_order_relaxed);
      dispatch_io_event(events[i].data.u64, events[i].events);
      ++delivered;
    }
  }
  return delivered;
}

bool Worker::poll_own() noexcept {
  // A worker that never had an fd registered has nothing there (its eventfd aside): no
  // syscall. Timers are left to park, which fires them before it sleeps. Events that woke
  // nobody (a write edge no task waits for) count too: looking again costs one epoll_wait,
  // a park much more (requiring a woken task here was 3-7% slower on the 2-worker echo).
  return has_io_ && poll_events(0) > 0;
}

void Worker::poll_events_virtual(int timeout_ms) noexcept {
  // Wait for readiness without taking the events (poll(2) on the epoll fd), then take them
  // under the virtual clock's mutex: the worker that moves the clock holds it and collects
  // every epoll's events first, so it either takes these itself or sees the work they made.
  pollfd p{epfd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return;
  std::lock_guard lk(sched_.virtual_clock_mutex());
  poll_events(0);
}

bool Worker::poll_other(Worker& busy) noexcept {
  epoll_event events[64];
  int n = ::epoll_wait(busy.epfd_, events, 64, 0);
  bool delivered = false;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == 0) {
      // Its wake-up, not ours: the eventfd is level-triggered and we did not read it, so
      // the owner's next epoll_wait still sees it.
      continue;
    }
    io_events_.fetch_add(1, std::memory_order_relaxed);
    dispatch_io_event(events[i].data.u64, events[i].events);
    delivered = true;
  }
  return delivered;
}

bool Worker::advance_virtual_clock() noexcept {
  // Called by the worker that parked last: nothing runs, nothing is queued, no blocking job
  // is in flight. Jump to the earliest timer of any worker and expire what is due
  // everywhere. A wheel's next deadline may be a higher level's slot start that only
  // cascades, so go on until something fires — but stop as soon as any worker is awake or
  // any work is visible: time must not move while something could still run.
  std::lock_guard lk(sched_.virtual_clock_mutex());
  Idle& idle = sched_.idle();
  // I/O that is ready is work too (a signal sent, a reply on loopback): take every epoll's
  // events first. Parked workers take theirs only under this mutex (poll_events_virtual), so
  // no event can be in a worker's hands unseen while the clock moves. Our own epoll is polled
  // like the others, leaving its eventfd unread: a wake-up meant for us (notify_parked may
  // pick us while we are registered as a sleeper) must still end our park.
  for (auto& w : sched_.workers()) poll_other(*w);
  for (;;) {
    if (idle.unparked() != 0 || sched_.jobs_in_flight() != 0 || sched_.any_work_visible()) {
      return has_local_work();
    }
    std::uint64_t earliest = ~std::uint64_t{0};
    for (auto& w : sched_.workers()) {
      if (auto d = w->wheel_.next_deadline()) earliest = std::min(earliest, *d);
    }
    if (earliest == ~std::uint64_t{0}) return false;
    sched_.clock().advance_to(earliest);
    std::size_t fired = 0;
    for (auto& w : sched_.workers()) fired += w->advance_timers(earliest);
    if (fired > 0 || has_local_work()) return true;
  }
}

void Worker::park() noexcept {
  hook(HookPoint::kPark);
  if (advance_timers(sched_.clock().now_tick()) > 0 && has_local_work()) return;
  Idle& idle = sched_.idle();
  Idle::Parked parked = idle.transition_to_parked(index_, searching_);
  searching_ = false;
  if (parked.last_searcher && sched_.any_work_visible()) sched_.notify_parked();

  int timeout = -1;
  if (sched_.clock().is_virtual()) {
    if (parked.last_awake && advance_virtual_clock()) {
      searching_ = idle.transition_from_parked(index_);
      call_a_watcher();
      return;
    }
    // A blocking job holds the clock still; look again soon (real time) for it to end.
    if (parked.last_awake && sched_.jobs_in_flight() != 0) timeout = 1;
    // Busy workers are watched as on the real clock (their timers wait for the clock).
    int watch = park_timeout(/*with_timers=*/false);
    if (watch >= 0 && (timeout < 0 || watch < timeout)) timeout = watch;
  } else {
    timeout = park_timeout(/*with_timers=*/true);
  }
  // Parking for longer than kWatchMs (no timeout, or until a far timer of our own: a task
  // sleeping an hour) watches nobody: say so, then look again whether every other worker is
  // still parked (seq_cst, against the store that ends their park and their load in
  // call_a_watcher: one of the two sees the other). One that is not gets watched.
  bool unwatched = false;
  if (timeout < 0 || timeout > kWatchMs) {
    sched_.unwatched_sleepers().fetch_add(1);
    bool others_parked = true;
    for (auto& w : sched_.workers()) {
      if (w.get() != this && !w->parked_.load()) others_parked = false;
    }
    if (others_parked) {
      unwatched = true;
    } else {
      timeout = kWatchMs;
      sched_.unwatched_sleepers().fetch_sub(1);
    }
  }
  if (!sched_.stopping()) {
    parks_.fetch_add(1, std::memory_order_relaxed);
    parked_.store(true, std::memory_order_relaxed);
    if (sched_.clock().is_virtual()) {
      poll_events_virtual(timeout);
    } else {
      poll_events(timeout);
    }
    parked_.store(false);  // seq_cst: see above
  }
  if (unwatched) sched_.unwatched_sleepers().fetch_sub(1);
  searching_ = idle.transition_from_parked(index_);
  std::uint64_t now = sched_.clock().now_tick();
  advance_timers(now);
  // Timers of workers that are busy (not parked) are ours to fire too: a worker stuck in
  // one long poll must not hold back its wheel. The wheels are lock-protected.
  for (auto& w : sched_.workers()) {
    if (w.get() != this && !w->parked_.load(std::memory_order_relaxed)) w->advance_timers(now);
  }
  call_a_watcher();
}

void Worker::call_a_watcher() noexcept {
  // We leave our park with work to do while another worker sleeps unwatching: wake
  // it, so that it parks again watching us (kWatchMs). Otherwise a task we make runnable
  // and do not get to (we compute, we block in a syscall) would wait for us, however long,
  // with an idle worker beside it. Small batches of wake-ups between polls wake nobody
  // (kHelpBatch), so this is what keeps an idle worker looking.
  if (has_local_work() && sched_.unwatched_sleepers().load() > 0) sched_.notify_parked();
}

int Worker::park_timeout(bool with_timers) noexcept {
  // Until our next timer, or a busy worker's. While some worker is busy, come back at least
  // every kWatchMs (it may arm timers, or sit in one long poll, after we parked), and after
  // 1 ms if its LIFO slot holds a task we may have to take (search, look_at).
  std::optional<std::uint64_t> due;
  if (with_timers) due = wheel_.next_deadline();
  bool others_busy = false;
  bool lifo_waiting = false;
  for (auto& w : sched_.workers()) {
    if (w.get() == this || w->parked_.load(std::memory_order_relaxed)) continue;
    others_busy = true;
    if (with_timers) {
      if (auto d = w->wheel_.next_deadline()) due = due ? std::min(*due, *d) : *d;
    }
    lifo_waiting = lifo_waiting || w->lifo_.load(std::memory_order_relaxed) != nullptr;
  }
  int timeout = -1;
  if (due) {
    std::uint64_t now = sched_.clock().now_tick();
    timeout = *due <= now ? 0 : static_cast<int>(std::min<std::uint64_t>(*due - now, 1u << 30));
  }
  auto cap = [&](int ms) {
    if (timeout < 0 || timeout > ms) timeout = ms;
  };
  if (others_busy) cap(kWatchMs);
  if (lifo_waiting) cap(1);
  return timeout;
}

// ---------------------------------------------------------------------------------------
// Scheduler

Scheduler::Scheduler(RuntimeOptions options)
    : options_(std::move(options)),
      clock_(virtual_clock_from(options_)),
      idle_(static_cast<unsigned>(workers_from(options_))),
      pool_(options_.max_blocking_threads, options_.blocking_keep_alive,
            options_.thread_name.substr(0, 8) + "-blk", this),
      handle_state_(std::make_shared<HandleState>(this)) {
  const std::size_t n = workers_from(options_);
  if (options_.max_blocking_threads == 0) {
    throw std::invalid_argument("weft::Runtime: max_blocking_threads must be at least 1");
  }
  workers_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, static_cast<unsigned>(i), n));
  }
  for (auto& w : workers_) w->start();
}

Scheduler::~Scheduler() {
  shutdown();
  // Every worker and blocking thread has stopped: no new handle can be made. Handles made
  // before fail from here on; a query in progress ends before the workers are destroyed.
  handle_state_->close();
}

std::vector<WorkerMetrics> Scheduler::metrics() const {
  std::vector<WorkerMetrics> out;
  out.reserve(workers_.size());
  for (auto& w : workers_) out.push_back(w->metrics());
  return out;
}

void Scheduler::submit_new(TaskHeader* t) {
  Worker* w = tls_worker;
  bool on_own_worker = w && &w->scheduler() == this;
  t->sched_ = this;
  // The shard lock orders add() before our phase load, and shutdown's phase store before
  // its live() count (which takes the same locks): one of the two sees the other.
  registry_.add(t,
                w ? w->index() : static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(t) >> 8));
  hook(HookPoint::kSpawnRegistered);
  int phase = phase_.load();
  if (phase == kClosed || (phase == kDraining && !on_own_worker)) {
    registry_.remove(t);
    throw RuntimeClosed("weft: spawn on a runtime that is shutting down or shut down");
  }
  if (phase == kDraining) t->request_cancel(0);  // spawned during shutdown: never starts
  if (on_own_worker) {
    // New tasks queue behind the others (asyncio's order); the LIFO slot is for wake-ups.
    // A lone new task is left to this worker (a chain of spawns stays on one core; parked
    // workers still look in every kWatchMs while we are busy); more wake a helper.
    w->push_back(TaskHeader::start_entry(t));
    if (w->queue().size() > 1) notify_parked();
  } else {
    inject(TaskHeader::start_entry(t));
  }
}

void Scheduler::schedule(TaskHeader* t) noexcept {
  Worker* w = tls_worker;
  if (!w || &w->scheduler() != this) {
    inject(t);
  } else if (tls_task) {
    w->push_lifo(t);  // woken by the running task: run it next
  } else {
    // I/O delivered or timers expired between polls: in the order they came. A helper is
    // woken only for a batch longer than kHelpBatch: a shorter one is served here sooner
    // than a wake-up and a steal take, and the tasks a helper steals are connections whose
    // epoll stays here, so they would only run there once and come back.
    w->push_back(t);
    if (w->queue().size() > kHelpBatch) notify_parked();
  }
}

void Scheduler::schedule_yield(TaskHeader* t) noexcept {
  Worker* w = tls_worker;
  if (w && &w->scheduler() == this) {
    w->push_back(t);
    notify_parked();
  } else {
    inject(t);
  }
}

void Scheduler::inject(TaskHeader* t) noexcept {
  while (!inject_.enqueue(t)) std::this_thread::yield();
  std::atomic_thread_fence(std::memory_order_seq_cst);  // push, then look for sleepers
  notify_parked();
}

void Scheduler::inject_batch(TaskHeader** ts, std::size_t n,
                             moodycamel::ProducerToken* tok) noexcept {
  while (!(tok ? inject_.enqueue_bulk(*tok, ts, n) : inject_.enqueue_bulk(ts, n))) {
    std::this_thread::yield();
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  notify_parked();
}

void Scheduler::notify_parked() noexcept {
  int i = idle_.notify_parked();
  if (i >= 0) workers_[static_cast<std::size_t>(i)]->wake();
}

bool Scheduler::any_work_visible() const noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // registered as sleeper, then look
  if (inject_.size_approx() != 0) return true;
  for (auto& w : workers_) {
    if (w->has_local_work()) return true;
  }
  return false;
}

void Scheduler::cancel_all() {
  std::vector<TaskHeader*> live = registry_.snapshot();
  hook(HookPoint::kShutdownSnapshot);
  for (TaskHeader* t : live) {
    t->request_cancel(0);
    t->release();
  }
}

void Scheduler::shutdown() {
  if (tls_worker && &tls_worker->scheduler() == this) {
    throw UsageError("weft::Runtime::shutdown called from one of its own workers");
  }
  std::lock_guard lk(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  phase_.store(kDraining);
  for (;;) {
    cancel_all();
    if (!registry_.wait_empty_for(std::chrono::milliseconds(20))) continue;
    phase_.store(kClosed);  // seq_cst: a racing spawn either sees kClosed or is counted
    if (registry_.live() == 0) break;
    phase_.store(kDraining);
  }
  while (jobs_.load() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop_.store(true, std::memory_order_release);
  for (unsigned i : idle_.unpark_all()) workers_[i]->wake();
  for (auto& w : workers_) w->wake();
  for (auto& w : workers_) w->join();
  for (auto& w : workers_) w->drain(*this);
  TaskHeader* t;
  while (inject_.try_dequeue(t)) drop_stale_entry(t);
  pool_.shutdown();
  if (arena_) arena_->terminate();
}

void Scheduler::drop_stale_entry(TaskHeader* e) noexcept {
  // Every task has finished: what is left in the queues are start entries of tasks that a
  // joiner ran inline, each holding a reference.
  if (TaskHeader::is_start_entry(e)) TaskHeader::from_entry(e)->release();
}

void Worker::drain(Scheduler& s) noexcept {
  while (TaskHeader* t = queue_.pop()) s.drop_stale_entry(t);
  if (TaskHeader* t = lifo_.exchange(nullptr, std::memory_order_acq_rel)) s.drop_stale_entry(t);
}

void Scheduler::report_unobserved(TaskHeader* t) noexcept {
  TaskInfo info{t->id_, t->name(), t->where_};
  try {
    if (options_.on_unobserved_error) {
      options_.on_unobserved_error(info, t->error_);
      return;
    }
  } catch (...) {
  }
  print_unobserved_error(t);
}

void Scheduler::submit_blocking(BlockingJob* job) {
  jobs_.fetch_add(1);
  pool_.submit(job);
}

void Scheduler::submit_offload(BlockingJob* job) {
  std::call_once(arena_once_, [this] {
    arena_ = std::make_unique<tbb::task_arena>();
    arena_->initialize();
  });
  jobs_.fetch_add(1);
  {
    // Jobs cross to the arena through this queue, each arena task runs the oldest one.
    std::lock_guard lk(offload_mu_);
    job->next = nullptr;
    (offload_tail_ ? offload_tail_->next : offload_head_) = job;
    offload_tail_ = job;
  }
  tsan_release(&offload_mu_);
  arena_->enqueue([this] {
    tsan_acquire(&offload_mu_);
    BlockingJob* j;
    {
      std::lock_guard lk(offload_mu_);
      j = offload_head_;
      offload_head_ = j->next;
      if (!offload_head_) offload_tail_ = nullptr;
    }
    j->run(j);
  });
}

// The job's last touch of the scheduler: shutdown waits for the count to reach zero.
void Scheduler::job_finished() noexcept {
  jobs_.fetch_sub(1);
}

// ---------------------------------------------------------------------------------------
// The thread's view (detail/context.hpp)

TaskHeader* current_task() noexcept {
  return tls_task;
}

void enter_task(TaskHeader* t) noexcept {
  tls_task = t;
}

void resume_next(TaskHeader* t) noexcept {
  tls_next = t;
}

std::coroutine_handle<> take_resume_next() noexcept {
  TaskHeader* t = std::exchange(tls_next, nullptr);
  if (!t) return std::noop_coroutine();
  if (stack_exhausted()) [[unlikely]] {  // see stack_guard.hpp: the joiner runs from the queue
    schedule_yield(t);
    return std::noop_coroutine();
  }
  tls_task = t;
  return t->resume_;
}

std::coroutine_handle<> resume_from_queue(std::coroutine_handle<> next) noexcept {
  TaskHeader* t = tls_task;
  if (!t || next.address() == std::noop_coroutine().address()) return next;
  t->resume_ = next;
  schedule_yield(t);
  return std::noop_coroutine();
}

TaskHeader& require_task(const char* what) {
  if (!tls_task) {
    throw UsageError(std::string(what) +
                     " awaited outside a weft task (no runtime is running "
                     "on this thread)");
  }
  return *tls_task;
}

void schedule(TaskHeader* t) noexcept {
  t->sched_->schedule(t);
}
void schedule_yield(TaskHeader* t) noexcept {
  t->sched_->schedule_yield(t);
}

bool budget_spend() noexcept {
  if (tls_budget <= 0) return false;
  --tls_budget;
  return true;
}

std::uint64_t deadline_tick(std::chrono::steady_clock::time_point tp) {
  Worker* w = tls_worker;
  if (!w) throw UsageError("weft: a timer was armed outside a weft runtime");
  return w->scheduler().clock().ceil_tick(tp);
}

void submit_blocking(TaskHeader* t, BlockingJob* job) {
  t->sched_->submit_blocking(job);
}
void submit_blocking(Scheduler* s, BlockingJob* job) {
  s->submit_blocking(job);
}
Scheduler* worker_scheduler() noexcept {
  return tls_worker ? &tls_worker->scheduler() : nullptr;
}
void submit_offload(TaskHeader* t, BlockingJob* job) {
  t->sched_->submit_offload(job);
}
void job_finished(Scheduler* s) noexcept {
  s->job_finished();
}

}  // namespace weft::detail
