// The work-stealing scheduler: workers, the injection queue, idle coordination, the clock,
// the live-task registry and the blocking pool of one Runtime.
//
// One concept per file in this folder: scheduler.cpp (building and stopping the workers,
// where a runnable task goes), worker.cpp (the worker loop; what runs next: next_task.hpp),
// search.cpp (stealing), park.cpp (sleeping, and who wakes a sleeper; how long: park.hpp),
// watch.cpp (idle workers watching busy ones; what a look decides: watch.hpp),
// virtual_clock.cpp, context.cpp (the thread's context), offload.cpp (the blocking pool and
// the oneTBB arena); idle.hpp (who parks and who searches), local_queue.hpp (the run queue and
// stealing from it), runtime_clock.hpp. The .hpp files of decisions hold them as functions of
// the values a worker reads, unit-tested in tests/runtime/scheduler_test.cpp.
//
// Where a task goes when it becomes runnable (`schedule`):
//  - woken by the task running on a worker of the same runtime: that worker's LIFO slot
//    (the task it woke runs next, while the data it was sent is in cache); the slot's
//    previous occupant moves to the back of the local queue;
//  - woken on a worker between polls (expired timers): the back of the local queue, in
//    the order the timers fired;
//  - spawned on a worker, or yielding: the back of the local queue (so tasks spawned
//    together start in the order they were spawned, as in asyncio);
//  - from any other thread: the injection queue (moodycamel::ConcurrentQueue), plus a
//    notify_parked() so a sleeping worker comes for it.
// What a worker runs next (`Worker::next_task`): every 61st tick one task from the injection
// queue first (fairness) and a maintenance pass (timers, non-blocking epoll); then the LIFO
// slot (at most kMaxLifoStreak times in a row), the local queue, a batch from the injection
// queue (only when the local queue is empty, so a batch never overflows straight back); then it
// searches (steals half of a random victim's queue, or a LIFO task that has sat through a
// whole search round, or polls the epoll of a worker that has been running one poll for
// kLongPollNs); then it parks in its own epoll_wait until its next timer.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <time.h>

#include <concurrentqueue/concurrentqueue.h>
#include <oneapi/tbb/task_arena.h>

#include "blocking/blocking_pool.hpp"
#include "handle_state.hpp"
#include "scheduler/idle.hpp"
#include "scheduler/local_queue.hpp"
#include "scheduler/next_task.hpp"
#include "scheduler/park.hpp"
#include "scheduler/runtime_clock.hpp"
#include "scheduler/stall_detector.hpp"
#include "scheduler/watch.hpp"
#include "task/completion.hpp"
#include "task/dump_signal.hpp"
#include "task/registry.hpp"
#include "time/timer_wheel.hpp"
#include "trace/trace_clock.hpp"
#include "trace/trace_names.hpp"
#include "trace/trace_ring.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/task_dump.hpp"
#include "weft/runtime/time.hpp"

namespace weft::detail {

class Scheduler;

class Worker {
 public:
  /// Everything of a worker that other threads may touch (Tokio's `Remote`); the rest of
  /// Worker is read and written only by the worker's own thread once it runs. Other workers
  /// reach it through remote(): search and look_at read it, poll_other polls its epoll, park
  /// and the virtual clock fire its timers, the Scheduler wakes it and reads its metrics.
  struct Remote {
    // Thread CPU clocks are negative ids with the low bits 110, so -1 is none of them.
    static constexpr clockid_t kNoCpuClock = -1;

    /// The local run queue. The owner pushes and pops (Worker::push_back, next_task); other
    /// workers only steal (steal_into); any thread may read size() and empty(), a snapshot.
    /// Its own orderings: local_queue.hpp.
    LocalQueue queue;
    /// The task the running task woke, to run next. Filled only by the owner (push_lifo: a
    /// release store into an empty slot, an acq_rel exchange otherwise); emptied by the owner
    /// (next_task) or by a searcher (search), each with an acq_rel exchange, so exactly one
    /// of them gets the task. Peeks before the exchange are relaxed loads.
    alignas(64) std::atomic<TaskHeader*> lifo{nullptr};
    /// The owner's tick while it runs a task, kNoPoll while it searches: written only by the
    /// owner, relaxed; read relaxed by searchers (look_at). A stale value only delays or
    /// hastens a look: it neither hides nor duplicates a task.
    std::atomic<std::uint32_t> poll_tick{kNoPoll};
    /// The owner is in epoll_wait (park). Written only by the owner: true (relaxed) before it
    /// sleeps, false (seq_cst) after; read seq_cst by a parking worker (announce_unwatched,
    /// the pairing in watch.cpp), relaxed elsewhere (park, park_timeout).
    std::atomic<bool> parked{false};
    /// The worker's timers, under the wheel's own lock: armed by the owner, fired by the
    /// owner or by any worker (park, the virtual clock), cancelled from any thread.
    TimerWheel wheel;
    /// The worker's epoll, and the eventfd in it that wakes the owner: made by the
    /// constructor, closed by the destructor, constant in between. Any worker may take the
    /// epoll's I/O events (poll_other; it leaves the eventfd unread); any thread may write
    /// the eventfd (wake); only the owner reads it.
    int epfd = -1;
    int evfd = -1;
    /// The owner thread's CPU clock: stored once (relaxed) by start(), on the thread that
    /// builds the scheduler; read relaxed by searchers (look_at). kNoCpuClock until then.
    std::atomic<clockid_t> cpu_clock{kNoCpuClock};
    /// Counters, read relaxed by any thread (metrics). Written by the owner (relaxed; add()
    /// below), but timers_fired and io_events, which whoever fires the timers or takes the
    /// events adds to (fetch_add).
    std::atomic<std::uint64_t> polls{0}, steals{0}, parks{0}, timers_fired{0}, io_events{0};
    std::atomic<std::uint64_t> lifo_polls{0}, steal_attempts{0}, budget_yields{0}, parked_ns{0};
    /// Polls the stall detector reported: written by its monitor thread alone.
    std::atomic<std::uint64_t> stalls{0};
    /// The owner thread's tls_task, the task of its current (or last) poll, for the stall
    /// detector: published (release) when the thread starts, null before. The task is
    /// stored relaxed by the owner before its release store of `polls`; the detector only
    /// compares it and looks it up in the registry (stall_detector.hpp), never dereferences.
    std::atomic<const std::atomic<TaskHeader*>*> running{nullptr};
    /// The owner thread's id (gettid), stored (relaxed) when it starts: the stall detector
    /// reads its state in /proc. 0 until then.
    std::atomic<pid_t> tid{0};
    /// When the current park began (CLOCK_MONOTONIC ns), 0 while awake: written by the owner,
    /// read by metrics() to count a park in progress. Relaxed, like the counters.
    std::atomic<std::int64_t> park_since_ns{0};
    /// The sampled histograms' buckets and sums (metrics.hpp), written by the owner only.
    struct Histogram {
      std::array<std::atomic<std::uint64_t>, DurationHistogram::kBuckets> buckets{};
      std::atomic<std::uint64_t> sum_ns{0};
      void record(std::int64_t ns) noexcept;
      void read_into(DurationHistogram& out) const noexcept;
    };
    Histogram poll_duration, scheduling_delay;
    /// The rings this worker traces into while tracing is on, else null: stored (release)
    /// by Scheduler::start_tracing and stop_tracing, loaded (acquire) by the owner at each
    /// maintenance pass and park (Worker::refresh_trace). They outlive the worker.
    std::atomic<TraceBuffers*> trace{nullptr};

    /// Writes the eventfd: the owner's epoll_wait returns. Any thread; meant for a worker
    /// taken off the sleepers (Scheduler::notify_parked, shutdown).
    void wake() noexcept;
    /// Fires the timers due at `now_tick`; returns how many fired. Any worker.
    std::size_t advance_timers(std::uint64_t now_tick) noexcept;
    /// A task is queued here or sits in the LIFO slot (a snapshot). Any thread.
    bool has_local_work() const noexcept {
      return !queue.empty() || lifo.load(std::memory_order_relaxed) != nullptr;
    }
    /// A snapshot of the counters; `now_ns` and `started_ns` (CLOCK_MONOTONIC) give the
    /// busy and parked time. Any thread.
    WorkerMetrics metrics(std::int64_t now_ns, std::int64_t started_ns) const noexcept;
  };

  Worker(Scheduler& s, unsigned index, std::size_t workers);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The scheduler's thread, before the worker runs and after it stopped.
  void start();
  void join();
  void drain() noexcept;  // after join: drops stale start entries

  /// What other threads may touch.
  Remote& remote() noexcept { return remote_; }

  // The rest: the worker's own thread only.
  void push_lifo(TaskHeader* t) noexcept;
  void push_back(TaskHeader* t) noexcept;
  TimerWheel& wheel() noexcept { return remote_.wheel; }
  LocalQueue& queue() noexcept { return remote_.queue; }
  Scheduler& scheduler() noexcept { return sched_; }
  unsigned index() const noexcept { return index_; }
  int epoll_fd() const noexcept { return remote_.epfd; }
  /// An fd joins our epoll (any thread): from now on an empty queue looks in the epoll
  /// before it searches (poll_own). Relaxed: a worker that misses it for a while still
  /// takes the fd's events when it parks, in its own epoll_wait.
  void note_registration() noexcept { has_io_.store(true, std::memory_order_relaxed); }
  /// Tracing (docs/design.md §8): picks up the rings Scheduler::start_tracing published, or
  /// drops them after stop_tracing; a start sends the next poll down the cold path, where
  /// the worker switches to its traced loop. Owner thread, between polls or (start_tracing
  /// from a task) to start tracing.
  void refresh_trace() noexcept;
  /// The running task's budget ran out at an await: it yields (metrics). Owner thread.
  void count_budget_yield() noexcept { add(remote_.budget_yields, 1); }
  /// Adds to a counter only this worker writes: no read-modify-write (metrics() reads it).
  static void add(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

 private:
  // The order of next_task: next_task.hpp; the watch constants: watch.hpp.
  static constexpr int kBudget = 128;

  void main();
  TaskHeader* next_task() noexcept;
  TaskHeader* pop_inject_one() noexcept;
  TaskHeader* pop_inject_batch() noexcept;
  TaskHeader* search() noexcept;
  /// Reads `victim`'s published poll and updates what we saw of it (`seen`; watch.hpp).
  PollLook look_at(const Remote& victim, SeenPoll& seen, std::int64_t now_ns) noexcept;
  /// Polls another (busy) worker's epoll without blocking; true if it delivered an event.
  bool poll_other(Remote& busy) noexcept;
  /// The worker's loop, untraced or traced (Worker::main): returns when its tracing state
  /// no longer matches, or at the scheduler's stop.
  template <bool kTraced>
  void loop() noexcept;
  /// One poll of `t`; true if the loop must switch (tracing started or stopped).
  template <bool kTraced>
  bool run_task(TaskHeader* t) noexcept;
  void resume(TaskHeader* t) noexcept;  // runs one poll of `t`
  /// The same, sampled: traced unless timed or the sampled wake-up's, which resume_timed
  /// takes.
  void resume_sampled(TaskHeader* t) noexcept;
  /// The same, traced: its begin, then what it woke but itself.
  void resume_traced(TaskHeader* t) noexcept;
  void resume_timed(TaskHeader* t, std::uint64_t poll) noexcept;  // poll number `poll`
  /// `t`, runnable here since `at_ns`, is the sampled wake-up: polled here between poll
  /// `first_poll` and kSampleExpiry polls later, its scheduling delay is recorded
  /// (resume_timed).
  void note_sampled_wake(const TaskHeader* t, std::int64_t at_ns,
                         std::uint64_t first_poll) noexcept;
  /// The same for the task pushed as number `index` of our queue (LocalQueue::pushed), in
  /// poll `poll` or after it.
  void note_sampled_queued(std::uint32_t index, std::int64_t at_ns, std::uint64_t poll) noexcept;
  void next_sample(std::uint64_t poll) noexcept;  // sets sample_at_ after poll `poll`

  /// A stamped event other than a poll's begin: it ends any group of short polls, so the
  /// next poll is stamped (trace_poll).
  void trace(TraceKind kind, std::uint64_t task, std::uint64_t other = 0,
             std::uint32_t aux = 0) noexcept {
    trace_group_left_ = 0;
    trace_last_poll_ = 0;
    trace_at(trace_stamp(trace_tsc_), kind, task, other, aux);
  }
  /// A poll's begin: task `id` at `address`. Stamped, except in a group of short polls: a
  /// stamped poll that finds the polls since the last stamped one took under
  /// RuntimeOptions::trace_grouped_polls_under each on average leaves the next
  /// kTraceGroup - 1 unstamped, and the export spreads them evenly between the stamps around
  /// them (trace_stamps.cpp). A clock read costs about half of a yield's poll; a group's
  /// error is its own span, shown as such.
  void trace_poll(std::uint64_t id, std::uintptr_t address) noexcept {
    if (trace_group_left_ != 0) {
      --trace_group_left_;
      trace_at(0, TraceKind::kPollBegin, id, address);
      return;
    }
    const std::int64_t now = trace_stamp(trace_tsc_);
    // The polls since the last stamp: a whole group if one began there (a group that
    // another stamped event cut short left no stamp to measure from).
    const bool group =
        trace_last_poll_ != 0 &&
        now - trace_last_poll_ < trace_short_poll_ * static_cast<std::int64_t>(trace_polls_since_);
    trace_group_left_ = group ? kTraceGroup - 1 : 0;
    trace_polls_since_ = group ? kTraceGroup : 1;
    trace_last_poll_ = now;
    trace_at(now, TraceKind::kPollBegin, id, address);
  }
  /// An event stamped `ns` (0: at the next stamped event, trace_ring.hpp).
  void trace_at(std::int64_t ns, TraceKind kind, std::uint64_t task, std::uint64_t other = 0,
                std::uint32_t aux = 0) noexcept {
    TraceEvent e;
    e.ns = ns;
    e.task = task;
    e.other = other;
    e.aux = aux;
    e.kind = kind;
    trace_->events.push(e);
  }
  /// Records `t`'s first poll (run_task noted it in trace_first_), with its spawn site and
  /// name.
  void trace_start(const TaskHeader* t) noexcept;
  /// Records the tasks made runnable here since the LIFO slot held `lifo_before` and the
  /// local queue had pushed `pushed_before`, but `self` (the polled task, or nullptr): wakes
  /// by task `waker` (0: between polls), or spawns (start entries), as the tasks' addresses.
  inline void trace_wakes(const TaskHeader* lifo_before, std::uint32_t pushed_before,
                          std::uint64_t waker, const TaskHeader* self) noexcept;
  /// Records one task made runnable by task `waker`: `entry` as queued (a start entry is a
  /// spawn).
  inline void trace_woken(const TaskHeader* entry, std::uint64_t waker) noexcept;
  /// trace_wakes' loop over more than one push.
  void trace_queued(const TaskHeader* lifo_before, std::uint32_t pushed_before, std::uint64_t waker,
                    const TaskHeader* self) noexcept;
  /// Between polls (I/O events, timers): while armed by a timed poll that woke nobody, the
  /// first task a batch queues here is the sampled wake-up (note_sampled_wake).
  class BatchSample {
   public:
    explicit BatchSample(Worker& w) noexcept
        : w_(w),
          armed_(w.sample_between_),
          traced_(w.trace_ != nullptr),
          before_(armed_ || traced_ ? w.remote_.queue.pushed() : 0),
          lifo_before_(traced_ ? w.remote_.lifo.load(std::memory_order_relaxed) : nullptr) {}
    ~BatchSample();
    BatchSample(const BatchSample&) = delete;
    BatchSample& operator=(const BatchSample&) = delete;

   private:
    Worker& w_;
    const bool armed_;
    const bool traced_;  // also records the batch's wake-ups (trace_wakes)
    const std::uint32_t before_;
    const TaskHeader* const lifo_before_;
  };
  void maintenance() noexcept;
  void park() noexcept;
  /// How long to park (park.hpp): until the next timer of ours or of a busy worker if
  /// `with_timers` (not on the virtual clock), and briefly if `job_holds_clock`.
  int park_timeout(bool with_timers, bool job_holds_clock) noexcept;
  bool advance_virtual_clock() noexcept;
  /// Real time the virtual clock gives loopback I/O in flight before it jumps.
  static constexpr long kIoGraceNs = 200'000;
  static constexpr int kMaxEvents = 64;             // epoll events taken by one poll
  static constexpr std::uint32_t kSearchFirst = 8;  // see Worker::main
  /// Takes up to `max_events` events of our epoll; returns how many were I/O (not wake-ups).
  int poll_events(int timeout_ms, int max_events = kMaxEvents) noexcept;
  /// Takes our ready I/O without waiting: true if it delivered any (see Worker::poll_own).
  bool poll_own() noexcept;
  void poll_events_virtual(int timeout_ms) noexcept;  // a parked worker on the virtual clock
  void end_search() noexcept;
  /// Parking for longer than kWatchMs: counts this worker as watching nobody and returns
  /// true, or, if another worker is awake, shortens `timeout` to kWatchMs and returns false.
  bool announce_unwatched(int& timeout) noexcept;
  void call_a_watcher() noexcept;  // leaving a park with work: wake an unwatched sleeper

  Scheduler& sched_;
  const unsigned index_;
  Remote remote_;
  std::atomic<bool> has_io_{false};  // an fd was registered here
  std::uint32_t dry_ = 0;  // times the queue ran dry (every kSearchFirst-th searches first)
  // Sampling for the histograms (run_task, resume_sampled, BatchSample). A poll costs one
  // compare with sample_at_: the timed polls and, while a sampled wake-up waits, the polls
  // from the first that may be its (after the tasks queued ahead of it) until it is found
  // take the cold path. Waking a task costs nothing: the sampled wake-up is found
  // afterwards, in what the timed poll (or a batch between polls) queued.
  static constexpr std::uint64_t kSampleExpiry = LocalQueue::kCapacity + 1;
  std::uint64_t sample_mask_ = ~std::uint64_t{0};  // a poll count & it == 0: timed
  std::uint64_t sample_at_ = 0;                    // the next poll count to take the cold path
  bool sample_between_ = false;                    // armed: see BatchSample
  const TaskHeader* sampled_task_ = nullptr;       // the sampled wake-up's task, until polled
  std::int64_t sampled_at_ns_ = 0;
  std::uint64_t sampled_poll_ = 0;           // the first of our polls that may be its
  RunOrder order_;                           // next_task's tick and LIFO streak
  TraceBuffers* trace_ = nullptr;            // the rings while tracing (refresh_trace), else null
  bool trace_tsc_ = false;                   // its stamps are the TSC (trace_clock.hpp)
  const TaskHeader* trace_first_ = nullptr;  // the task whose first poll comes now
  // Grouped polls (trace_poll): the stamp of the last stamped poll (0: a stamped event of
  // another kind came since), the polls from it to the next stamp (1, or a group's), the
  // unstamped polls left in this group, and RuntimeOptions::trace_grouped_polls_under in
  // stamps.
  std::int64_t trace_last_poll_ = 0;
  std::uint32_t trace_polls_since_ = 0;
  std::uint32_t trace_group_left_ = 0;
  std::int64_t trace_short_poll_ = 0;
  bool searching_ = false;
  std::uint64_t rng_;
  std::vector<SeenPoll> seen_;  // per victim
  std::unique_ptr<moodycamel::ProducerToken> token_;
  std::thread thread_;
};

class Scheduler {
 public:
  enum Phase : int { kRunning, kDraining, kClosed };
  // Tasks woken between polls (I/O, timers) wake a parked helper only once more than this
  // many are queued on the worker (schedule): waking one for every batch spends an eventfd
  // write and a steal on tasks this worker serves sooner itself, and slows the round trips of
  // the connections they belong to. Measured: bench/results/2026-12-06-scheduler-constants.md.
  static constexpr std::size_t kHelpBatch = 16;

  explicit Scheduler(RuntimeOptions options);
  ~Scheduler();

  void submit_new(TaskHeader* t);
  void schedule(TaskHeader* t) noexcept;
  void schedule_yield(TaskHeader* t) noexcept;
  void inject(TaskHeader* t) noexcept;
  void inject_batch(TaskHeader** ts, std::size_t n, moodycamel::ProducerToken* tok) noexcept;
  void notify_parked() noexcept;
  void shutdown();

  void report_unobserved(TaskHeader* t) noexcept;
  void submit_blocking(BlockingJob* job);
  void submit_offload(BlockingJob* job);
  void job_finished() noexcept;

  bool stopping() const noexcept { return stop_.load(std::memory_order_acquire); }
  bool any_work_visible() const noexcept;

  const RuntimeOptions& options() const noexcept { return options_; }
  RuntimeClock& clock() noexcept { return clock_; }
  TaskRegistry& registry() noexcept { return registry_; }
  Idle& idle() noexcept { return idle_; }
  std::vector<std::unique_ptr<Worker>>& workers() noexcept { return workers_; }
  /// A snapshot of the runtime's metrics (Runtime::metrics, RuntimeHandle::metrics).
  RuntimeMetrics metrics() const;
  /// Every live task and what it does (task_dump.cpp). Any thread.
  TaskDump dump_tasks();
  std::uint32_t sample_every() const noexcept { return sample_every_; }
  /// Tracing (tracing.cpp): every worker records into its ring from its next maintenance
  /// pass or park on, until stop_tracing; trace_json writes what the rings hold of the
  /// latest start. Any thread.
  void start_tracing();
  void stop_tracing();
  std::string trace_json();
  /// The stamps of the rings are the TSC: fixed before the first ring is published.
  bool trace_tsc() const noexcept { return trace_tsc_; }
  /// RuntimeOptions::trace_grouped_polls_under in stamps: fixed with trace_tsc().
  std::int64_t trace_short_poll() const noexcept { return trace_short_poll_; }
  /// What RuntimeHandles share with this scheduler; closed by the destructor.
  const std::shared_ptr<HandleState>& handle_state() const noexcept { return handle_state_; }
  moodycamel::ConcurrentQueue<TaskHeader*>& injection() noexcept { return inject_; }
  std::size_t jobs_in_flight() const noexcept { return jobs_.load(std::memory_order_acquire); }
  std::mutex& virtual_clock_mutex() noexcept { return virtual_mu_; }
  /// Room for one pollfd per worker, for the virtual clock's grace (advance_virtual_clock),
  /// reserved at construction so that a jump allocates nothing; under virtual_clock_mutex.
  std::vector<pollfd>& grace_fds() noexcept { return grace_fds_; }
  /// Workers parked for longer than kWatchMs, so watching nobody (Worker::park,
  /// call_a_watcher).
  std::atomic<int>& unwatched_sleepers() noexcept { return unwatched_sleepers_; }

 private:
  void cancel_all();

  RuntimeOptions options_;
  const std::uint32_t sample_every_;  // options_.metrics_sample_every
  const std::int64_t started_ns_;     // CLOCK_MONOTONIC when built (uptime, busy time)
  RuntimeClock clock_;
  TaskRegistry registry_;
  moodycamel::ConcurrentQueue<TaskHeader*> inject_;
  Idle idle_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<int> phase_{kRunning};
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> jobs_{0};
  std::atomic<std::uint64_t> offload_jobs_{0};  // submitted (metrics); relaxed: a count only
  alignas(64) std::atomic<int> unwatched_sleepers_{0};
  BlockingPool pool_;
  std::unique_ptr<StallDetector> stall_;                 // none if options_.stall_threshold is 0
  std::unique_ptr<DumpSignalRegistration> dump_signal_;  // dump_tasks_on_sigusr1
  std::shared_ptr<HandleState> handle_state_;
  std::once_flag arena_once_;
  std::unique_ptr<tbb::task_arena> arena_;
  std::mutex offload_mu_;
  BlockingJob* offload_head_ = nullptr;  // guarded by offload_mu_
  BlockingJob* offload_tail_ = nullptr;
  std::mutex virtual_mu_;          // one worker at a time moves the virtual clock
  std::vector<pollfd> grace_fds_;  // guarded by virtual_mu_
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
  // Tracing, guarded by trace_mu_: one ring per worker, made by the first start and kept
  // until the scheduler goes (a worker may still write until its next maintenance pass);
  // the clock's first reading and the stamps that bound the latest trace.
  std::mutex trace_mu_;
  std::vector<std::unique_ptr<TraceBuffers>> trace_rings_;
  bool trace_tsc_ = false;             // written before the rings are published, then fixed
  std::int64_t trace_short_poll_ = 0;  // the same
  std::optional<TraceClock> trace_clock_;
  std::int64_t trace_from_ = 0, trace_until_ = 0;  // stamps; until 0: still tracing
};

/// The worker running on this thread (nullptr elsewhere).
Worker* current_worker() noexcept;

// The thread's context (context.cpp), each written only by its own thread. Inline
// definitions, not extern declarations: every file that uses them defines them, so the
// compiler addresses them directly from the thread pointer as it does a file's own
// thread-local variables; constinit, so no access goes through a TLS wrapper call.
inline constinit thread_local Worker* tls_worker = nullptr;
// tls_task is atomic only for the stall detector, which reads a worker's from its own thread
// (Remote::running); relaxed accesses, plain moves on x86, are all it needs.
inline constinit thread_local std::atomic<TaskHeader*> tls_task{nullptr};
// tls_budget is in weft/runtime/detail/context.hpp: awaiters inline its fast path.

/// A clock in nanoseconds, or -1 if it cannot be read (a thread's CPU clock after the thread
/// ended). CLOCK_MONOTONIC is the scheduler's own real time (how long a worker has been in
/// one poll), whatever clock the runtime's timers use.
inline std::int64_t clock_ns(clockid_t clock) noexcept {
  timespec ts{};
  if (::clock_gettime(clock, &ts) != 0) return -1;
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// The task resume_next() asked for (made current), or a no-op coroutine.
std::coroutine_handle<> take_resume_next() noexcept;

// Inline: every schedule and every turn of the worker loop go through these.
inline void Worker::push_back(TaskHeader* t) noexcept {
  remote_.queue.push_back(
      t, [this](TaskHeader** ts, std::size_t n) { sched_.inject_batch(ts, n, token_.get()); });
}

inline void Worker::end_search() noexcept {
  if (!searching_) return;
  searching_ = false;
  if (sched_.idle().transition_from_searching()) sched_.notify_parked();
}

}  // namespace weft::detail
