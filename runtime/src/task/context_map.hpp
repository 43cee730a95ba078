// ContextMap: the immutable map of task-local values behind detail/task_context.hpp, and
// what a spawn copies from its spawner.
//
// The rule: a map is never changed once made; it is shared by reference count between the
// tasks (and blocking jobs) that see it, and freed by the last release_context.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "weft/runtime/detail/task_context.hpp"
#include "weft/runtime/detail/task_header.hpp"

namespace weft::detail {

struct ContextMap {
  struct Entry {
    const void* key;  // the TaskLocal's address
    std::shared_ptr<const void> value;
  };

  std::atomic<std::uint32_t> refs{1};
  // At most one entry per key, in no particular order. A program has a handful of
  // task-locals, so a linear search over one contiguous block beats a tree or a hash.
  std::vector<Entry> entries;
};

/// The innermost blocking job running on this thread, or nullptr (task_context.cpp).
extern constinit thread_local JobContextScope* tls_job_context;

/// The context a task spawned now starts with, with a reference for it: the spawner's (the
/// running task `spawner`, or else the blocking job on this thread), or nullptr.
inline ContextMap* inherit_context(TaskHeader* spawner) noexcept {
  ContextMap* m = nullptr;
  if (spawner) [[likely]] {
    m = spawner->context();
  } else if (JobContextScope* job = tls_job_context) {
    m = job->map;
  }
  // Relaxed: the spawner holds a reference, and the map reaches the child through the
  // spawn's queue hand-off; only the release in release_context must order the last drop.
  if (m) m->refs.fetch_add(1, std::memory_order_relaxed);
  return m;
}

}  // namespace weft::detail
