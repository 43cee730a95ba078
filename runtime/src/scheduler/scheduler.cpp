// The scheduler of one Runtime: building and stopping its workers, and where a task goes when
// it is spawned or becomes runnable (submit_new, schedule, inject; the rules are in
// scheduler.hpp).
//
// The guarantee: work pushed where another worker may take it is followed by notify_parked
// (after a seq_cst fence for the injection queue), which pairs with a parking worker's
// register-then-check (Idle, any_work_visible): no runnable task is left with every worker
// asleep. shutdown cancels every live task and waits for them and for jobs in flight before
// it stops the workers; a spawn racing it is either refused or counted and cancelled.
#include <algorithm>
#include <bit>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "scheduler/scheduler.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/exposed_waits.hpp"

namespace weft::detail {

namespace {

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

}  // namespace

Scheduler::Scheduler(RuntimeOptions options)
    : options_(std::move(options)),
      sample_every_(options_.metrics_sample_every == 0
                        ? 0
                        : std::bit_ceil(std::min(options_.metrics_sample_every, 1u << 31))),
      started_ns_(clock_ns(CLOCK_MONOTONIC)),
      clock_(virtual_clock_from(options_)),
      idle_(static_cast<unsigned>(workers_from(options_))),
      pool_(options_.max_blocking_threads, options_.blocking_keep_alive,
            options_.thread_name.substr(0, 8) + "-blk", this),
      handle_state_(std::make_shared<HandleState>(this)) {
  const std::size_t n = workers_from(options_);
  if (options_.max_blocking_threads == 0) {
    throw std::invalid_argument("weft::Runtime: max_blocking_threads must be at least 1");
  }
  if (options_.stall_threshold.count() < 0) {
    throw std::invalid_argument("weft::Runtime: stall_threshold must not be negative");
  }
  if (clock_.is_virtual()) grace_fds_.reserve(n);
  workers_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, static_cast<unsigned>(i), n));
  }
  for (auto& w : workers_) w->start();
  if (options_.stall_threshold.count() > 0) {
    stall_ = std::make_unique<StallDetector>(*this, options_.stall_threshold, options_.on_stall);
  }
  if (options_.dump_tasks_on_sigusr1) {
    dump_signal_ = std::make_unique<DumpSignalRegistration>(*this, options_.on_task_dump);
  }
}

Scheduler::~Scheduler() {
  shutdown();
  // Every worker and blocking thread has stopped: no new handle can be made. Handles made
  // before fail from here on; a query in progress ends before the workers are destroyed.
  handle_state_->close();
}

RuntimeMetrics Scheduler::metrics() const {
  RuntimeMetrics m;
  const std::int64_t now = clock_ns(CLOCK_MONOTONIC);
  m.uptime_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(now - started_ns_, 0));
  m.workers.reserve(workers_.size());
  for (auto& w : workers_) {
    const Worker::Remote& r = w->remote();
    m.workers.push_back(r.metrics(now, started_ns_));
    r.poll_duration.read_into(m.poll_duration);
    r.scheduling_delay.read_into(m.scheduling_delay);
  }
  const TaskRegistry::Counts tasks = registry_.counts();
  m.spawned_tasks = tasks.added;
  m.completed_tasks = tasks.removed;
  m.live_tasks = tasks.live;
  m.injection_queue_depth = inject_.size_approx();
  const BlockingPool::Stats pool = pool_.stats();
  m.blocking_threads = pool.threads;
  m.blocking_idle_threads = pool.idle;
  m.blocking_queue_depth = pool.queued;
  m.blocking_jobs = pool.submitted;
  m.offload_jobs = offload_jobs_.load(std::memory_order_relaxed);
  m.sample_every = sample_every_;
  m.waits = metrics::exposed_waits();
  return m;
}

void Scheduler::submit_new(TaskHeader* t) {
  Worker* w = tls_worker;
  bool on_own_worker = w && &w->scheduler() == this;
  t->set_scheduler(this, &clock_.coarse());
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
    return;
  }
  if (tls_task.load(std::memory_order_relaxed)) {
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

// detail/context.hpp's schedule and schedule_yield live here, beside the members they call,
// so that the compiler can inline those into them.
void schedule(TaskHeader* t) noexcept {
  t->scheduler()->schedule(t);
}
void schedule_yield(TaskHeader* t) noexcept {
  t->scheduler()->schedule_yield(t);
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
  if (i >= 0) workers_[static_cast<std::size_t>(i)]->remote().wake();
}

bool Scheduler::any_work_visible() const noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // registered as sleeper, then look
  if (inject_.size_approx() != 0) return true;
  for (auto& w : workers_) {
    if (w->remote().has_local_work()) return true;
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
  dump_signal_.reset();  // waits for a dump in progress
  phase_.store(kDraining);
  for (;;) {
    cancel_all();
    if (!registry_.wait_empty_for(std::chrono::milliseconds(20))) continue;
    phase_.store(kClosed);  // seq_cst: a racing spawn either sees kClosed or is counted
    if (registry_.live() == 0) break;
    phase_.store(kDraining);
  }
  while (jobs_.load() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (stall_) stall_->stop();  // it looks at the workers: before they stop
  stop_.store(true, std::memory_order_release);
  for (unsigned i : idle_.unpark_all()) workers_[i]->remote().wake();
  for (auto& w : workers_) w->remote().wake();
  for (auto& w : workers_) w->join();
  for (auto& w : workers_) w->drain();
  TaskHeader* t;
  while (inject_.try_dequeue(t)) TaskHeader::drop_stale_entry(t);
  pool_.shutdown();
  if (arena_) arena_->terminate();
}

void Scheduler::report_unobserved(TaskHeader* t) noexcept {
  TaskInfo info{t->id(), t->name(), t->where()};
  try {
    if (options_.on_unobserved_error) {
      options_.on_unobserved_error(info, t->error());
      return;
    }
  } catch (...) {
  }
  print_unobserved_error(t);
}

}  // namespace weft::detail
