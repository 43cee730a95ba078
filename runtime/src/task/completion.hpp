// What the end of a task needs from the rest of the runtime (task/completion.cpp): where the
// last reference of a failed task sends an error nobody took.
#pragma once

#include "weft/runtime/detail/task_header.hpp"

namespace weft::detail {

/// Hands an error nobody observed to its runtime's handler, or to stderr if that runtime is
/// gone (a JoinHandle outlived it).
void report_unobserved_error(TaskHeader* t) noexcept;
/// The default handler: one line on stderr with the task's id, name and spawn site.
void print_unobserved_error(TaskHeader* t) noexcept;

/// From a Runtime's constructor: errors of `s`'s tasks go to its handler from now on.
void track_live_scheduler(const Scheduler* s);
/// From a Runtime's destructor: errors of `s`'s tasks go to stderr from now on.
void untrack_live_scheduler(const Scheduler* s) noexcept;

}  // namespace weft::detail
