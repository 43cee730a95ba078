// A worker's loop (Worker::main): what a worker runs next, and how it runs a task.
//
// The rule (next_task, in next_task.hpp's order): every kEventInterval-th tick a
// maintenance pass (due timers, the ready I/O the local queue has room for) and one task
// from the injection queue come first; then the LIFO slot, at most kMaxLifoStreak times in a
// row; then the local queue; then a batch from the injection queue. Out of tasks, the worker
// takes its own epoll's ready I/O (poll_own) before it searches, except every
// kSearchFirst-th time, when it searches first (search.cpp); finding nothing either way, it
// parks (park.cpp).
// The guarantee: a busy worker looks at the injection queue, its timers and its I/O at least
// every kEventInterval ticks, and at its local queue at least after every kMaxLifoStreak
// LIFO polls. A task runs with a fresh budget of kBudget cooperative steps, and while it runs
// its worker publishes the poll it is in (Remote::poll_tick) for the workers that watch it
// (watch.cpp).
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

#include "reactor/dispatch.hpp"
#include "scheduler/scheduler.hpp"
#include "weft/runtime/detail/stack_guard.hpp"

namespace weft::detail {

namespace {

[[noreturn]] void fail_syscall(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

Worker::Worker(Scheduler& s, unsigned index, std::size_t workers)
    : sched_(s), index_(index), rng_(0x9E3779B97F4A7C15ull * (index + 1)), seen_(workers) {
  remote_.epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (remote_.epfd < 0) fail_syscall("weft: epoll_create1 for a worker");
  remote_.evfd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (remote_.evfd < 0) {
    ::close(remote_.epfd);
    fail_syscall("weft: eventfd for a worker");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up eventfd
  if (::epoll_ctl(remote_.epfd, EPOLL_CTL_ADD, remote_.evfd, &ev) < 0) {
    ::close(remote_.evfd);
    ::close(remote_.epfd);
    fail_syscall("weft: epoll_ctl(eventfd) for a worker");
  }
  token_ = std::make_unique<moodycamel::ProducerToken>(s.injection());
}

Worker::~Worker() {
  if (remote_.evfd >= 0) ::close(remote_.evfd);
  if (remote_.epfd >= 0) ::close(remote_.epfd);
}

void Worker::start() {
  thread_ = std::thread([this] { main(); });
  clockid_t clock;
  if (::pthread_getcpuclockid(thread_.native_handle(), &clock) == 0) {
    remote_.cpu_clock.store(clock, std::memory_order_relaxed);
  }
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Remote::wake() noexcept {
  std::uint64_t one = 1;
  ssize_t r = ::write(evfd, &one, sizeof one);
  (void)r;  // EAGAIN means the counter is already non-zero: the worker will wake anyway
}

void Worker::push_lifo(TaskHeader* t) noexcept {
  // Only this worker fills the slot; stealers only empty it. So a slot found empty stays
  // empty until we fill it, and a plain store will do (no read-modify-write on the usual
  // path, where the previous occupant has been run already).
  if (!remote_.lifo.load(std::memory_order_relaxed)) {
    // Release: pairs with the acquire exchange that takes it (next_task, search).
    remote_.lifo.store(t, std::memory_order_release);
    return;
  }
  // AcqRel: pairs with a stealer's exchange in search.
  TaskHeader* prev = remote_.lifo.exchange(t, std::memory_order_acq_rel);
  if (prev) {
    push_back(prev);
    sched_.notify_parked();
  }
}

std::size_t Worker::Remote::advance_timers(std::uint64_t now_tick) noexcept {
  if (wheel.size() == 0) return 0;
  std::size_t n = wheel.advance(now_tick);
  if (n) timers_fired.fetch_add(n, std::memory_order_relaxed);
  return n;
}

WorkerMetrics Worker::Remote::metrics(std::int64_t now_ns, std::int64_t started_ns) const noexcept {
  // Relaxed loads: each counter is a count of its own; a snapshot orders nothing.
  constexpr auto r = std::memory_order_relaxed;
  WorkerMetrics m;
  m.polls = polls.load(r);
  m.lifo_polls = lifo_polls.load(r);
  m.steals = steals.load(r);
  m.steal_attempts = steal_attempts.load(r);
  m.budget_yields = budget_yields.load(r);
  m.parks = parks.load(r);
  m.timers_fired = timers_fired.load(r);
  m.io_events = io_events.load(r);
  m.stalls = stalls.load(r);
  m.queue_depth = queue.size();
  std::int64_t parked = static_cast<std::int64_t>(parked_ns.load(r));
  if (const std::int64_t since = park_since_ns.load(r); since != 0 && now_ns > since) {
    parked += now_ns - since;
  }
  const std::int64_t up = std::max<std::int64_t>(now_ns - started_ns, 0);
  parked = std::min(parked, up);
  m.parked_ns = static_cast<std::uint64_t>(parked);
  m.busy_ns = static_cast<std::uint64_t>(up - parked);
  const clockid_t clock = cpu_clock.load(r);
  const std::int64_t cpu = clock == kNoCpuClock ? -1 : clock_ns(clock);
  m.cpu_ns = cpu > 0 ? static_cast<std::uint64_t>(cpu) : 0;
  return m;
}

void Worker::Remote::Histogram::record(std::int64_t ns) noexcept {
  const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0));
  add(buckets[DurationHistogram::bucket_of(v)], 1);
  add(sum_ns, v);
}

void Worker::Remote::Histogram::read_into(DurationHistogram& out) const noexcept {
  for (std::size_t i = 0; i < DurationHistogram::kBuckets; ++i) {
    const std::uint64_t n = buckets[i].load(std::memory_order_relaxed);
    out.buckets[i] += n;
    out.count += n;
  }
  out.sum_ns += sum_ns.load(std::memory_order_relaxed);
}

void Worker::main() {
  tls_worker = this;
  remote_.tid.store(static_cast<pid_t>(::gettid()), std::memory_order_relaxed);
  remote_.running.store(&tls_task, std::memory_order_release);
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
  // Poll counts start at 1, so 0 never comes: sampling off.
  sample_mask_ = sched_.sample_every() ? sched_.sample_every() - 1 : ~std::uint64_t{0};
  sample_at_ = sched_.sample_every();
  refresh_trace();
  // Two copies of the loop: the traced one runs a traced poll inline, so the untraced one
  // pays nothing for tracing but a check on paths that are cold anyway. Each returns when
  // the worker's tracing state no longer matches it.
  while (!sched_.stopping()) {
    if (trace_ != nullptr) {
      loop<true>();
    } else {
      loop<false>();
    }
  }
  remote_.running.store(nullptr, std::memory_order_relaxed);  // this thread's TLS ends
  tls_stack_floor = nullptr;
  tls_worker = nullptr;
}

template <bool kTraced>
void Worker::loop() noexcept {
  while (!sched_.stopping()) {
    if (TaskHeader* t = next_task()) {
      end_search();  // woken as a searcher, but found work at home
      if (run_task<kTraced>(t)) return;
      continue;
    }
    if ((trace_ != nullptr) != kTraced) return;
    if constexpr (kTraced) trace(TraceKind::kIdle, 0);
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
    remote_.poll_tick.store(kNoPoll, std::memory_order_relaxed);
    if (TaskHeader* t = search()) {
      end_search();
      if (run_task<kTraced>(t)) return;
      continue;
    }
    if (!own_first && poll_own()) continue;
    park();
    if ((trace_ != nullptr) != kTraced) return;
  }
}

template <bool kTraced>
[[gnu::always_inline]] inline bool Worker::run_task(TaskHeader* t) noexcept {
  if (TaskHeader::is_start_entry(t)) [[unlikely]] {
    t = TaskHeader::from_entry(t);
    if (!t->claim_start()) return false;  // a joiner ran it already (join inlining)
    // Untraced loop: noted, not written here (a call would cost its fast path saved
    // registers); its cold path writes it if the poll is traced.
    if constexpr (kTraced) {
      if (trace_ != nullptr) trace_start(t);
    } else if (trace_ != nullptr) [[unlikely]] {
      trace_first_ = t;
    }
  }
  // Relaxed, then release: the stall detector reads `polls` (acquire), then the task.
  tls_task.store(t, std::memory_order_relaxed);
  tls_budget = kBudget;
  remote_.poll_tick.store(order_.tick, std::memory_order_relaxed);
  const std::uint64_t polls = remote_.polls.load(std::memory_order_relaxed) + 1;
  remote_.polls.store(polls, std::memory_order_release);
  // One poll in sample_every (a power of two) is timed; it and the polls while a sampled
  // wake-up waits take the cold path (see sample_at_).
  if (polls == sample_at_) [[unlikely]] {
    resume_sampled(t);
    tls_task.store(nullptr, std::memory_order_relaxed);
    // Tracing started or stopped (refresh_trace sends the next poll here): switch loops.
    return (trace_ != nullptr) != kTraced;
  }
  if constexpr (kTraced) {
    if (trace_ == nullptr) [[unlikely]] {  // stopped in this pass's maintenance
      resume(t);
      tls_task.store(nullptr, std::memory_order_relaxed);
      return true;
    }
    resume_traced(t);
  } else {
    resume(t);
  }
  tls_task.store(nullptr, std::memory_order_relaxed);
  return false;
}

inline void Worker::resume(TaskHeader* t) noexcept {
  // The resume point was published by the claim (acquire in try_claim) or by our own
  // schedule.
  if (Waiter* hook = t->run_hook()) [[unlikely]] {
    hook->on_run(hook);
  } else {
    t->resume_point().resume();
  }
}

void Worker::resume_sampled(TaskHeader* t) noexcept {
  const std::uint64_t poll = remote_.polls.load(std::memory_order_relaxed);
  // Untraced, or this poll is timed or the sampled wake-up's: the whole path.
  if (trace_ == nullptr || sampled_task_ == t || (poll & sample_mask_) == 0) {
    resume_timed(t, poll);
    return;
  }
  // Traced: the traced loop's poll, and what the timed path would do when this poll was
  // chosen only to look for a sampled wake-up that went elsewhere.
  if (sampled_task_ != nullptr && poll > sampled_poll_ && poll - sampled_poll_ > kSampleExpiry) {
    sampled_task_ = nullptr;  // as in resume_timed
  }
  if (trace_first_ != nullptr) [[unlikely]] {
    if (trace_first_ == t) trace_start(t);
    trace_first_ = nullptr;
  }
  resume_traced(t);
  next_sample(poll);
}

[[gnu::always_inline]] inline void Worker::resume_traced(TaskHeader* t) noexcept {
  const TaskHeader* const lifo_before = remote_.lifo.load(std::memory_order_relaxed);
  const std::uint32_t pushed_before = remote_.queue.pushed();
  const std::uint64_t id = t->id();
  trace_poll(id, reinterpret_cast<std::uintptr_t>(t));
  resume(t);
  trace_wakes(lifo_before, pushed_before, id, t);  // `t` may be gone: its address only
}

void Worker::resume_timed(TaskHeader* t, std::uint64_t poll) noexcept {
  std::int64_t begin_ns = 0;
  if (sampled_task_ == t) {
    begin_ns = clock_ns(CLOCK_MONOTONIC);
    remote_.scheduling_delay.record(begin_ns - sampled_at_ns_);
    sampled_task_ = nullptr;
  } else if (sampled_task_ != nullptr && poll > sampled_poll_ &&
             poll - sampled_poll_ > kSampleExpiry) {
    // Polled elsewhere (stolen), or too long ago to trust. Not before its first possible
    // poll: a timed or traced poll may come while the tasks queued ahead of it still run.
    sampled_task_ = nullptr;
  }
  const bool timed = (poll & sample_mask_) == 0;
  if (!timed && trace_ == nullptr) {
    resume(t);
  } else {
    if (timed && begin_ns == 0) begin_ns = clock_ns(CLOCK_MONOTONIC);
    const TaskHeader* lifo_before = remote_.lifo.load(std::memory_order_relaxed);
    const std::uint32_t pushed_before = remote_.queue.pushed();
    // Whether this poll is traced is decided now: refresh_trace runs between polls, or in
    // this poll when its task starts tracing, which must not make half a poll. And `t` may
    // be gone at the end: what the end needs is read now.
    TraceBuffers* const traced = trace_;
    const std::uint64_t id = t->id();
    if (traced != nullptr) {
      if (trace_first_ == t) trace_start(t);
      trace_first_ = nullptr;
      trace_poll(id, reinterpret_cast<std::uintptr_t>(t));
    }
    resume(t);
    // `t` may be gone now.
    // No end event: the worker's next stamped one (the next poll's begin, running out of
    // tasks, a timer pass) ends the poll, so a traced poll reads the clock once and writes
    // its begin and its wake-ups (tracing.cpp).
    if (traced != nullptr) trace_wakes(lifo_before, pushed_before, id, t);
    if (timed) {
      const std::int64_t end_ns = clock_ns(CLOCK_MONOTONIC);
      remote_.poll_duration.record(end_ns - begin_ns);
      // The task this poll woke (or that yielded) is the sampled wake-up, runnable since the
      // poll ended: the LIFO slot's new task, else the first it queued. None: the next batch
      // between polls gives one (BatchSample).
      if (sampled_task_ == nullptr) {
        const TaskHeader* lifo = remote_.lifo.load(std::memory_order_relaxed);
        if (lifo != nullptr && lifo != lifo_before) {
          note_sampled_wake(lifo, end_ns, poll + 1);
        } else if (remote_.queue.pushed() != pushed_before) {
          note_sampled_queued(pushed_before, end_ns, poll);
        } else {
          sample_between_ = true;
        }
      }
    }
  }
  next_sample(poll);
}

void Worker::trace_start(const TaskHeader* t) noexcept {
  const std::source_location where = t->where();
  trace_at(0, TraceKind::kTaskStart, t->id(), reinterpret_cast<std::uintptr_t>(where.file_name()),
           where.line());
  if (!t->name().empty()) trace_->names.push(t->id(), t->name());
}

void Worker::trace_woken(const TaskHeader* entry, std::uint64_t waker) noexcept {
  // Addresses only: a task queued here may be stolen, run and freed by now. A start entry
  // (the task's address with its low bit set) is a spawn: one event either way, no branch.
  static_assert(static_cast<int>(TraceKind::kSpawn) == static_cast<int>(TraceKind::kWake) + 1);
  const auto e = reinterpret_cast<std::uintptr_t>(entry);
  const auto kind = static_cast<TraceKind>(static_cast<unsigned>(TraceKind::kWake) + (e & 1));
  trace_at(0, kind, e & ~std::uintptr_t{1}, waker);
}

[[gnu::always_inline]] inline void Worker::trace_wakes(const TaskHeader* lifo_before,
                                                       std::uint32_t pushed_before,
                                                       std::uint64_t waker,
                                                       const TaskHeader* self) noexcept {
  // A yield's requeue of its own task is no wake-up: `self` is skipped.
  const TaskHeader* const lifo = remote_.lifo.load(std::memory_order_relaxed);
  if (lifo != lifo_before && lifo != nullptr && lifo != self) trace_woken(lifo, waker);
  const std::uint32_t pushed = remote_.queue.pushed();
  if (pushed == pushed_before) return;
  if (pushed - pushed_before == 1) {  // the usual case, inline
    const TaskHeader* e = remote_.queue.pushed_at(pushed_before);
    if (e != self && e != lifo_before) trace_woken(e, waker);
    return;
  }
  trace_queued(lifo_before, pushed_before, waker, self);
}

void Worker::trace_queued(const TaskHeader* lifo_before, std::uint32_t pushed_before,
                          std::uint64_t waker, const TaskHeader* self) noexcept {
  // Only the owner pushes, so the last kCapacity pushes are still in their slots (popped,
  // stolen or moved on by an overflow maybe, which is all the same to a wake-up). A task the
  // LIFO slot held before was moved to the queue, not woken.
  const std::uint32_t pushed = remote_.queue.pushed();
  std::uint32_t from = pushed_before;
  if (pushed - from > LocalQueue::kCapacity) from = pushed - LocalQueue::kCapacity;
  for (std::uint32_t i = from; i != pushed; ++i) {
    const TaskHeader* e = remote_.queue.pushed_at(i);
    if (e != lifo_before && e != self) trace_woken(e, waker);
  }
}

void Worker::refresh_trace() noexcept {
  // Acquire: pairs with start_tracing's release store, after which the ring and trace_tsc()
  // are ready.
  TraceBuffers* ring = remote_.trace.load(std::memory_order_acquire);
  if (ring == trace_) return;
  trace_ = ring;
  if (ring == nullptr) return;  // the traced loop sees it at its next poll
  trace_tsc_ = sched_.trace_tsc();
  trace_short_poll_ = sched_.trace_short_poll();
  trace_last_poll_ = 0;
  trace_group_left_ = 0;
  sample_at_ = remote_.polls.load(std::memory_order_relaxed) + 1;
}

void Worker::note_sampled_wake(const TaskHeader* t, std::int64_t at_ns,
                               std::uint64_t first_poll) noexcept {
  // A spawned task is queued as its start entry (a tagged pointer); run_task compares with
  // the task it starts.
  auto* entry = const_cast<TaskHeader*>(t);
  sample_between_ = false;
  sampled_task_ = TaskHeader::is_start_entry(entry) ? TaskHeader::from_entry(entry) : t;
  sampled_at_ns_ = at_ns;
  sampled_poll_ = first_poll;
}

void Worker::note_sampled_queued(std::uint32_t index, std::int64_t at_ns,
                                 std::uint64_t poll) noexcept {
  // The tasks ahead of it in the queue (and the LIFO slot's) run first: it is looked for
  // from the poll after them on. Moved on to the injection queue by an overflow: no sample.
  const std::uint32_t since = remote_.queue.pushed() - index;
  const std::uint32_t size = remote_.queue.size();
  if (since > size) return;
  const std::uint64_t ahead =
      (size - since) + (remote_.lifo.load(std::memory_order_relaxed) != nullptr ? 1 : 0);
  note_sampled_wake(remote_.queue.pushed_at(index), at_ns, poll + ahead + 1);
}

void Worker::next_sample(std::uint64_t poll) noexcept {
  // While a sampled wake-up waits: from the first poll that may be its, every poll looks
  // for it; else the next timed poll.
  const std::uint64_t timed = (poll | sample_mask_) + 1;
  sample_at_ =
      sampled_task_ == nullptr ? timed : std::min(std::max(sampled_poll_, poll + 1), timed);
}

Worker::BatchSample::~BatchSample() {
  if (traced_ && w_.trace_ != nullptr) w_.trace_wakes(lifo_before_, before_, 0, nullptr);
  if (!armed_ || w_.remote_.queue.pushed() == before_) return;
  const std::uint64_t poll = w_.remote_.polls.load(std::memory_order_relaxed);
  w_.note_sampled_queued(before_, clock_ns(CLOCK_MONOTONIC), poll);
  if (w_.sampled_task_ != nullptr) w_.next_sample(poll);
}

TaskHeader* Worker::next_task() noexcept {
  // This worker's sources, in the order of next_task.hpp.
  struct Sources {
    Worker& w;
    void maintenance() noexcept { w.maintenance(); }
    TaskHeader* pop_inject_one() noexcept { return w.pop_inject_one(); }
    // Relaxed: only a hint; the exchange below decides.
    bool lifo_occupied() const noexcept {
      return w.remote_.lifo.load(std::memory_order_relaxed) != nullptr;
    }
    // AcqRel: pairs with push_lifo's release store (or exchange), and orders us against a
    // searcher's exchange: one of us gets the task.
    TaskHeader* take_lifo() noexcept {
      TaskHeader* t = w.remote_.lifo.exchange(nullptr, std::memory_order_acq_rel);
      if (t) add(w.remote_.lifo_polls, 1);
      return t;
    }
    void push_back(TaskHeader* t) noexcept { w.push_back(t); }
    TaskHeader* pop_local() noexcept { return w.remote_.queue.pop(); }
    TaskHeader* pop_inject_batch() noexcept { return w.pop_inject_batch(); }
  };
  Sources sources{*this};
  return pick_next_task(sources, order_);
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
  std::size_t room = LocalQueue::kCapacity - remote_.queue.size();
  std::size_t want = std::min<std::size_t>(kBatch, room + 1);
  std::size_t n = inj.try_dequeue_bulk(batch, want);
  if (n == 0) return nullptr;
  for (std::size_t i = 1; i < n; ++i) push_back(batch[i]);
  if (n > 1) sched_.notify_parked();
  return batch[0];
}

void Worker::maintenance() noexcept {
  refresh_trace();
  const BatchSample sample(*this);
  const std::size_t fired = remote_.advance_timers(sched_.clock().read_tick());
  if (fired != 0 && trace_ != nullptr) trace(TraceKind::kTimers, fired);
  // Take only as many I/O events as the local queue has room for (half of it, at least a
  // few): the tasks they wake would otherwise overflow to the injection queue, which is
  // served more slowly than the local queue, and the connections behind them would wait
  // while newer ones are served (their tail latency; measured:
  // bench/results/2026-12-06-scheduler-constants.md). Events left in the epoll are taken at
  // the next pass or when the queue has drained; a few are always taken, so I/O never waits
  // behind a long queue for good.
  const std::uint32_t room = LocalQueue::kCapacity - remote_.queue.size();
  poll_events(0, static_cast<int>(std::clamp<std::uint32_t>(room / 2, 4, kMaxEvents)));
}

int Worker::poll_events(int timeout_ms, int max_events) noexcept {
  epoll_event events[kMaxEvents];
  int n = ::epoll_wait(remote_.epfd, events, std::min(max_events, kMaxEvents), timeout_ms);
  int delivered = 0;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == 0) {
      std::uint64_t v;
      ssize_t r = ::read(remote_.evfd, &v, sizeof v);
      (void)r;
    } else {
      remote_.io_events.fetch_add(1, std::memory_order_relaxed);
      dispatch_io_event(events[i].data.u64, events[i].events);
      ++delivered;
    }
  }
  if (delivered != 0 && trace_ != nullptr) {
    trace(TraceKind::kIoEvents, static_cast<std::uint64_t>(delivered));
  }
  return delivered;
}

bool Worker::poll_own() noexcept {
  // A worker that never had an fd registered has nothing there (its eventfd aside): no
  // syscall. Timers are left to park, which fires them before it sleeps. Events that woke
  // nobody (a write edge no task waits for) count too: looking again costs one epoll_wait,
  // a park much more (measured: bench/results/2026-12-06-scheduler-constants.md).
  if (!has_io_.load(std::memory_order_relaxed)) return false;
  const BatchSample sample(*this);
  return poll_events(0) > 0;
}

void Worker::drain() noexcept {
  while (TaskHeader* t = remote_.queue.pop()) TaskHeader::drop_stale_entry(t);
  if (TaskHeader* t = remote_.lifo.exchange(nullptr, std::memory_order_acq_rel)) {
    TaskHeader::drop_stale_entry(t);
  }
}

}  // namespace weft::detail
