// weft::Runtime and weft::run (asyncio.run).
//
// A Runtime owns the worker threads (one work-stealing scheduler, one epoll per worker), the
// timer wheels and the blocking pool. `run(task)` builds one, runs `task` to completion,
// cancels whatever else is still alive, waits for it, and returns the task's value.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "weft/runtime/join_handle.hpp"
#include "weft/runtime/metrics.hpp"
#include "weft/runtime/stall.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/task_dump.hpp"

namespace weft {

/// Which clock a runtime's timers follow.
enum class ClockKind {
  Default,  ///< Virtual if the environment has WEFT_CLOCK=virtual, else Real
  Real,     ///< the steady clock
  Virtual,  ///< starts at the real time, advances only when every worker is idle (jumps to
            ///< the next timer), so timer logic runs without real waiting
};

/// Called with a task's info and its error when a task failed and nobody took the error.
using UnobservedErrorHandler = std::function<void(const TaskInfo&, std::exception_ptr)>;

/// How to build a Runtime (designated initializers: `Runtime rt({.workers = 4});`).
struct RuntimeOptions {
  std::size_t workers = 0;                  ///< 0: $WEFT_WORKERS, else the number of CPUs
  std::string thread_name = "weft-worker";  ///< workers are named "<name>-<i>"
  bool pin_workers = false;                 ///< pin worker i to CPU i (mod CPUs)
  std::size_t max_blocking_threads = 512;   ///< cap of the to_thread pool
  std::chrono::milliseconds blocking_keep_alive{10'000};  ///< idle pool threads retire after
  ClockKind clock = ClockKind::Default;
  UnobservedErrorHandler on_unobserved_error{};  ///< default: print to stderr
  /// One poll and one wake-up in this many (rounded up to a power of two) are timed for
  /// metrics()' histograms; 0: none.
  std::uint32_t metrics_sample_every = 256;
  /// A task that holds a worker for longer than this in one poll is reported while it runs
  /// (stall.hpp), within about 1.25 times this; 0: no stall detector (no monitor thread).
  std::chrono::milliseconds stall_threshold{100};
  StallHandler on_stall{};  ///< default: print to_string(report) to stderr
  /// On SIGUSR1 the runtime dumps its tasks to on_task_dump (task_dump.hpp), from the
  /// runtime's start to the start of its shutdown; weft installs the signal's handler while
  /// a runtime asks for it and restores the one it replaced after. Off by default: SIGUSR1
  /// may be the program's own.
  bool dump_tasks_on_sigusr1 = false;
  TaskDumpHandler on_task_dump{};  ///< default: print TaskDump::text() to stderr
  /// Each worker's trace ring (start_tracing) keeps the latest this many events, rounded up
  /// to a power of two less one (24 bytes each), made when tracing first starts.
  std::size_t trace_events_per_worker = 1 << 16;
  /// While the polls before it averaged under this, a traced poll reads the clock once for
  /// a group of 16: the trace shows each of the group an even share of the group's span,
  /// marked "grouped" (a clock read costs about half of the shortest polls); 0: every poll
  /// timed on its own.
  std::chrono::nanoseconds trace_grouped_polls_under{125};
};

namespace detail {
class Scheduler;
class HandleState;
}  // namespace detail

/// A multi-threaded work-stealing runtime. Thread-safe: spawn and block_on from any thread
/// that is not one of its workers.
class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  /// Shuts down (see shutdown()).
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Spawns `task`; any thread. Throws RuntimeClosed once shutdown has begun.
  template <class T>
  [[nodiscard]] JoinHandle<T> spawn(Task<T> task, std::string_view name = {},
                                    std::source_location where = std::source_location::current()) {
    return detail::HandleAccess::make(detail::submit_root(
        detail::make_spawn_root(std::move(task), name, where, nullptr), sched_.get()));
  }

  /// Spawns a task that owns `f` and runs the Task `f()` returns (see weft::spawn(f)); any
  /// thread: `f` is called on a worker when the task starts. Throws RuntimeClosed once
  /// shutdown has begun.
  template <TaskCallable F>
  [[nodiscard]] JoinHandle<task_callable_value_t<F>> spawn(
      F&& f, std::string_view name = {},
      std::source_location where = std::source_location::current()) {
    return detail::HandleAccess::make(detail::submit_root(
        detail::make_spawn_root(std::forward<F>(f), name, where, nullptr), sched_.get()));
  }

  /// Runs `task` to completion and returns its value or rethrows its exception, blocking the
  /// calling thread. Throws UsageError on a worker thread (it would block a worker).
  template <class T>
  T block_on(Task<T> task, std::string_view name = "block_on",
             std::source_location where = std::source_location::current()) {
    check_not_on_worker("Runtime::block_on");
    JoinHandle<T> h = spawn(std::move(task), name, where);
    detail::RootPromise<T>* t = detail::HandleAccess::header(h);
    wait_blocking(t);
    t->mark_observed();
    return t->take();
  }

  /// Cancels every live task, waits until all have finished and every blocking-pool job has
  /// returned (those nobody awaits too: a dropped fs::File's flush), stops the workers and
  /// joins the blocking pool. Idempotent. Throws UsageError when called from a worker.
  void shutdown();

  /// Number of tasks spawned and not yet finished.
  std::size_t live_tasks() const noexcept;
  /// Number of worker threads.
  std::size_t workers() const noexcept;
  /// A snapshot of the runtime's counters, gauges and histograms (metrics.hpp). Any thread.
  RuntimeMetrics metrics() const;
  /// Every live task: running, runnable or waiting, on what, where and for how long
  /// (task_dump.hpp). Any thread, a task too.
  TaskDump dump_tasks() const;
  /// Starts a trace: from their next pass between polls on, the workers record every poll,
  /// wake-up, spawn, steal, park, I/O batch and timer pass, each worker the latest
  /// `RuntimeOptions::trace_events_per_worker` events, without a lock or an allocation. A
  /// start while tracing begins a new trace. Any thread, a task too.
  void start_tracing();
  /// Ends the trace; it stays readable (trace_json) until the next start. Any thread.
  void stop_tracing();
  /// The latest trace, so far or up to its stop, as Chrome trace event JSON, which Perfetto
  /// (ui.perfetto.dev) and chrome://tracing open: a track per worker with its polls and
  /// parks, a track per task with its polls, arrows from each wake-up and spawn to the poll
  /// it led to. Any thread, a task too.
  std::string trace_json() const;

 private:
  void check_not_on_worker(const char* what) const;
  void wait_blocking(detail::TaskHeader* t);

  std::unique_ptr<detail::Scheduler> sched_;
};

/// True when called on a worker thread of any weft runtime.
bool in_runtime() noexcept;

/// A copyable view of a runtime (Tokio's Handle): what `Runtime::metrics()` and friends
/// report, and its tracing, for code that runs inside `weft::run` and has no Runtime object. Get
/// one with current_runtime(). Its queries may be called from any thread, also after it was passed
/// out of the runtime. The handle does not keep the runtime alive: once the Runtime is destroyed
/// (for `weft::run`, when run returns), every query throws UsageError instead of touching freed
/// memory, and a query already running finishes before the workers go.
class RuntimeHandle {
 public:
  /// Number of tasks spawned and not yet finished. Throws UsageError once the runtime is
  /// gone.
  std::size_t live_tasks() const;
  /// Number of worker threads. Throws UsageError once the runtime is gone.
  std::size_t workers() const;
  /// A snapshot of the runtime's metrics (metrics.hpp). Throws UsageError once the runtime
  /// is gone.
  RuntimeMetrics metrics() const;
  /// Every live task (task_dump.hpp). Throws UsageError once the runtime is gone.
  TaskDump dump_tasks() const;
  /// Tracing, as Runtime's. Throw UsageError once the runtime is gone.
  void start_tracing() const;
  void stop_tracing() const;
  std::string trace_json() const;
  /// False once the runtime has been destroyed (its queries then throw UsageError).
  bool alive() const noexcept;

 private:
  friend RuntimeHandle current_runtime();
  explicit RuntimeHandle(std::shared_ptr<detail::HandleState> state) noexcept
      : state_(std::move(state)) {}

  std::shared_ptr<detail::HandleState> state_;
};

/// The runtime this thread belongs to: called on one of its workers (so from any task) or on
/// a thread of its blocking pool (inside `to_thread`). Throws UsageError on any other thread
/// (a plain thread, or a oneTBB thread running `offload`).
RuntimeHandle current_runtime();

/// asyncio.run: builds a Runtime with `options`, runs `main` to completion, cancels and
/// waits for every other task, shuts down, and returns main's value (or rethrows its
/// exception). Throws UsageError when called inside a running runtime.
template <class T>
T run(Task<T> main, RuntimeOptions options = {}) {
  if (in_runtime()) {
    throw UsageError("weft::run called inside a running runtime: co_await or spawn instead");
  }
  Runtime rt(std::move(options));
  // The destructor shuts down after the value is built (or while main's error unwinds).
  return rt.block_on(std::move(main), "main");
}

}  // namespace weft
