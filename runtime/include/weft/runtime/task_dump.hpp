// The task dump: every live task of a runtime, what it is doing and what it waits on
// (asyncio's `Task.print_stack` for all tasks at once, Tokio's task dump).
//
//   weft::TaskDump d = rt.dump_tasks();      // or current_runtime().dump_tasks()
//   std::fputs(d.text().c_str(), stderr);    // await chains as indented trees
//   write_file("tasks.json", d.json());
//
// A task is running (on a worker, now), runnable (queued, or never started yet) or waiting;
// a waiting task names the kind of its awaitable ("queue get", "sleep", "join", "io
// readable"...), the `co_await` that waits (file and line), since when, and for a join the
// task it awaits; a task awaited by a gather, wait or as_completed names the task that
// awaits it; so the text shows who waits for whom. The wait of a task that awaits
// a plain Task<T> is the innermost one: the awaitable that suspended it, wherever it is.
//
// Cost: nothing while nobody dumps beyond a few stores per wait (the wait's kind, place
// and start, from a clock the workers read anyway, so its resolution is a maintenance
// pass: about a millisecond). A dump locks each shard of the live-task registry while it
// copies that shard's tasks, so spawns and completions wait for the copy; it is meant for
// diagnosis, not for every request.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

/// One live task in a TaskDump.
struct LiveTask {
  enum class State {
    kRunning,   ///< in a poll on `worker`
    kRunnable,  ///< queued to run (or being woken); `started` says if it ever ran
    kWaiting,   ///< suspended on `wait_kind` at `waiting_at`
  };
  std::uint64_t id = 0;
  std::string name;                 ///< empty if the task was not named
  std::source_location spawned_at;  ///< where it was spawned
  State state = State::kRunnable;
  int worker = -1;      ///< kRunning: the worker running it; -1 otherwise
  bool started = true;  ///< false: spawned and queued, never run yet
  /// kWaiting: the kind of awaitable ("queue get", "sleep", "join", "mutex lock", ...).
  std::string_view wait_kind;
  std::source_location waiting_at;  ///< kWaiting: the co_await that waits
  std::uint64_t awaited_task = 0;   ///< kWaiting on a join: the id of the task awaited
  /// The id of the task whose gather, wait or as_completed awaits this one; 0 if none (or a
  /// join: the joiner's awaited_task names this task instead).
  std::uint64_t awaited_by = 0;
  /// kWaiting: how long it has waited, on the runtime's clock, to about a millisecond.
  std::chrono::milliseconds waiting_for{0};
};

/// The live tasks of a runtime at one moment (Runtime::dump_tasks). Each task is read on its
/// own while the others run on, so two tasks may be seen at slightly different moments.
struct TaskDump {
  std::vector<LiveTask> tasks;  ///< ordered by id (the order of spawning)
  std::size_t workers = 0;      ///< the runtime's workers

  /// Text for a person: a summary line, then one line per task; a task that awaits others
  /// (a join, a gather, a wait, as_completed) has the awaited tasks' lines indented below its
  /// own, so each await chain reads as a tree from the task nobody awaits down to what the
  /// innermost ones wait on.
  std::string text() const;
  /// The same as one JSON object: {"workers": N, "tasks": [{"id", "name", "spawned_at":
  /// {"file", "line", "function"}, "state": "running"|"runnable"|"waiting", "worker",
  /// "started", "awaited_by", "wait": {"kind", "file", "line", "function", "awaited_task",
  /// "for_ms"}}]} ("wait" only for a waiting task; "worker" only for a running one;
  /// "awaited_by" only when not 0).
  std::string json() const;
  /// The task with this id, or nullptr.
  const LiveTask* find(std::uint64_t id) const noexcept;
};

/// Called with a dump when the process gets SIGUSR1 (RuntimeOptions::dump_tasks_on_sigusr1),
/// on a thread of weft's, not a worker. It must not destroy a runtime.
using TaskDumpHandler = std::function<void(const TaskDump&)>;

}  // namespace weft
