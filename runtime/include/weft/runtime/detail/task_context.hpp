// The context behind TaskLocal<T> (task_local.hpp): the task-local values a task sees.
//
// A context is an immutable, reference-counted map from a TaskLocal's address to its value
// (ContextMap, runtime/src/task/context_map.hpp). A task's header points at one (`context_`,
// null while the task has no values, which is every task that never uses a TaskLocal).
// Setting a value never changes a map: it builds a new one with the value replaced and swaps
// the task's pointer, so the maps it shares stay as they were (copy on write). A spawn copies
// the spawner's pointer and takes a reference (asyncio's create_task copies the context); a
// task awaited directly runs as part of its awaiter's task and so uses its awaiter's map.
//
// Only the task itself reads or swaps its own pointer (and its spawner, before the spawn is
// published), so the pointer needs no synchronisation; the maps and values are shared
// between threads read-only, and only their reference counts are atomic.
//
// A job of the blocking pool or the CPU arena (to_thread, offload) sees the context of the
// task that submitted it, as asyncio.to_thread runs its function in a copy of the caller's
// context: while the job runs, a JobContextScope on its thread holds that map, and values
// the job sets stay in the job.
#pragma once

#include <cstdint>
#include <memory>

namespace weft::detail {

/// An immutable map of task-local values (runtime/src/task/context_map.hpp).
struct ContextMap;

/// Drops a reference on `m`; the last one frees the map and the values only it held. Any
/// thread.
void release_context(ContextMap* m) noexcept;

/// The value stored under `key` in the calling code's context (the running task's, or the
/// blocking job's on this thread), or nullptr if unset or outside both.
const void* context_find(const void* key) noexcept;

/// What a set replaced, so a token can undo it.
struct ContextUndo {
  const void* key = nullptr;
  std::uint64_t owner = 0;               ///< the task (or job) whose context was set
  std::shared_ptr<const void> previous;  ///< null if `key` was unset
};

/// Sets `key` to `value` in the calling code's context. Throws UsageError naming the
/// variable `name` outside a weft task or blocking job.
ContextUndo context_set(const void* key, std::shared_ptr<const void> value, const char* name);

/// Gives `undo.key` back the value `undo` recorded (or unsets it). Throws UsageError naming
/// `name` outside a task or job, or in another task than the one that set it.
void context_reset(const ContextUndo& undo, const char* name);

/// Throws the UsageError of a TaskLocal read that found no value.
[[noreturn]] void throw_context_unset(const char* name);

/// While alive, makes `inherited` (the submitting task's map) the context of the blocking
/// job running on this thread. Jobs are run on their own threads, one at a time, but a CPU
/// arena thread waiting inside a job's tbb::parallel_for may run another job: scopes nest.
struct JobContextScope {
  explicit JobContextScope(ContextMap* inherited) noexcept;
  ~JobContextScope();
  JobContextScope(const JobContextScope&) = delete;
  JobContextScope& operator=(const JobContextScope&) = delete;

  ContextMap* map = nullptr;  ///< owns a reference
  std::uint64_t owner = 0;    ///< token identity, given at the first set
  JobContextScope* outer = nullptr;
};

}  // namespace weft::detail
