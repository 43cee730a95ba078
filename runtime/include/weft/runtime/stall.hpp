// The stall detector's report (RuntimeOptions::stall_threshold, on_stall): a task that has
// held its worker for longer than the threshold in one poll — computing, or blocked in a
// system call — is reported while it still runs, asyncio's slow_callback_duration warning
// made live.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <source_location>
#include <string>

namespace weft {

/// One poll that held a worker for at least the runtime's stall_threshold.
struct StallReport {
  unsigned worker = 0;         ///< the worker it holds
  std::uint64_t task_id = 0;   ///< 0 if the task could not be named (its poll ended meanwhile)
  std::string task_name;       ///< empty if unnamed
  std::source_location where;  ///< where the task was spawned (empty if task_id is 0)
  std::chrono::nanoseconds held{0};  ///< at least this long in this one poll, so far
  /// True if the worker's thread sleeps in a system call (its state in /proc is not
  /// running); false if it computes, or waits for a CPU to compute on.
  bool blocked = false;
};

/// Called on the runtime's monitor thread for each stall, once per poll that stalls.
using StallHandler = std::function<void(const StallReport&)>;

/// One line describing `r`, as the default handler prints it to stderr: "weft: task 7
/// 'name' spawned at file.cpp:12 has held worker 1 for 312 ms (computing)".
std::string to_string(const StallReport& r);

}  // namespace weft
