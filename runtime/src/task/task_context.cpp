// Task-local values: lookups and copy-on-write sets on the calling code's context
// (detail/task_context.hpp).
//
// The rule: only the code running as a task (or as a blocking job) reads or swaps its own
// context pointer, so the pointer needs no ordering; a set never writes a shared map but
// builds a new one and swaps it in, and the maps' reference counts are the only writes
// other threads see.
#include <atomic>
#include <string>
#include <utility>

#include "task/context_map.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/errors.hpp"

namespace weft::detail {

constinit thread_local JobContextScope* tls_job_context = nullptr;

namespace {

// Token owners: a task's id, or for a blocking job a number from this sequence with the top
// bit set (task ids count up from 1 and never reach it).
constexpr std::uint64_t kJobOwnerBit = std::uint64_t{1} << 63;
std::atomic<std::uint64_t> g_next_job_owner{1};

// Where the calling code's context lives: the running task's, else the blocking job's on
// this thread (jobs run on threads that are not workers, so never both).
struct Slot {
  TaskHeader* task = nullptr;
  JobContextScope* job = nullptr;
  std::uint64_t owner = 0;

  explicit operator bool() const noexcept { return task || job; }
  ContextMap* map() const noexcept { return task ? task->context() : job->map; }
  void set_map(ContextMap* m) const noexcept {
    if (task) {
      task->set_context(m);
    } else {
      job->map = m;
    }
  }
};

Slot current_slot() noexcept {
  if (TaskHeader* t = current_task()) return {t, nullptr, t->id()};
  if (JobContextScope* job = tls_job_context) {
    if (job->owner == 0) {
      job->owner = kJobOwnerBit | g_next_job_owner.fetch_add(1, std::memory_order_relaxed);
    }
    return {nullptr, job, job->owner};
  }
  return {};
}

ContextMap* current_map() noexcept {
  if (TaskHeader* t = current_task()) return t->context();
  JobContextScope* job = tls_job_context;
  return job ? job->map : nullptr;
}

std::string quoted(const char* name) {
  return std::string("weft::TaskLocal '") + name + "'";
}

// Builds the map `slot` would be with `key` bound to `value` (null: unbound), swaps it in
// and returns the value `key` had. An empty result is no map at all, so the tasks spawned
// from here on pay nothing again.
std::shared_ptr<const void> replace(const Slot& slot, const void* key,
                                    std::shared_ptr<const void> value) {
  ContextMap* old = slot.map();
  std::shared_ptr<const void> previous;
  auto next = std::make_unique<ContextMap>();
  if (old) {
    next->entries.reserve(old->entries.size() + 1);
    for (const ContextMap::Entry& e : old->entries) {
      if (e.key == key) {
        previous = e.value;
      } else {
        next->entries.push_back(e);
      }
    }
  }
  if (value) next->entries.push_back({key, std::move(value)});
  slot.set_map(next->entries.empty() ? nullptr : next.release());
  release_context(old);
  return previous;
}

}  // namespace

void release_context(ContextMap* m) noexcept {
  // AcqRel: the last owner sees every other owner's reads of the map done before it frees.
  if (m && m->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete m;
}

const void* context_find(const void* key) noexcept {
  ContextMap* m = current_map();
  if (!m) return nullptr;
  for (const ContextMap::Entry& e : m->entries) {
    if (e.key == key) return e.value.get();
  }
  return nullptr;
}

ContextUndo context_set(const void* key, std::shared_ptr<const void> value, const char* name) {
  Slot s = current_slot();
  if (!s) throw UsageError(quoted(name) + " set outside a weft task");
  ContextUndo undo{key, s.owner, nullptr};
  undo.previous = replace(s, key, std::move(value));
  return undo;
}

void context_reset(const ContextUndo& undo, const char* name) {
  Slot s = current_slot();
  if (!s) throw UsageError(quoted(name) + " reset outside a weft task");
  if (s.owner != undo.owner) {
    throw UsageError(quoted(name) +
                     " reset with a token made in another task: a token undoes a set only in "
                     "the task that made it");
  }
  replace(s, undo.key, undo.previous);
}

void throw_context_unset(const char* name) {
  if (!current_task() && !tls_job_context) {
    throw UsageError(quoted(name) + " read outside a weft task");
  }
  throw UsageError(quoted(name) + " is not set in this task");
}

JobContextScope::JobContextScope(ContextMap* inherited) noexcept
    : map(inherited), outer(tls_job_context) {
  // Relaxed: the submitting task holds a reference until the job has finished.
  if (map) map->refs.fetch_add(1, std::memory_order_relaxed);
  tls_job_context = this;
}

JobContextScope::~JobContextScope() {
  tls_job_context = outer;
  release_context(map);
}

}  // namespace weft::detail
