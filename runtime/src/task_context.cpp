// Task-local values: lookups and copy-on-write sets on the calling code's context
// (detail/task_context.hpp).
#include <atomic>
#include <string>
#include <utility>

#include "context_map.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/errors.hpp"

namespace weft::detail {

namespace {

// Where the running task's context lives, and the task's id (a token's owner).
struct Slot {
  ContextMap** map = nullptr;
  std::uint64_t owner = 0;
};

Slot current_slot() noexcept {
  if (TaskHeader* t = current_task()) return {&t->context_, t->id_};
  return {};
}

ContextMap* current_map() noexcept {
  TaskHeader* t = current_task();
  return t ? t->context_ : nullptr;
}

std::string quoted(const char* name) {
  return std::string("weft::TaskLocal '") + name + "'";
}

// Builds the map `*slot` would be with `key` bound to `value` (null: unbound), swaps it in
// and returns the value `key` had. An empty result is no map at all, so the tasks spawned
// from here on pay nothing again.
std::shared_ptr<const void> replace(ContextMap** slot, const void* key,
                                    std::shared_ptr<const void> value) {
  ContextMap* old = *slot;
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
  *slot = next->entries.empty() ? nullptr : next.release();
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
  if (!s.map) throw UsageError(quoted(name) + " set outside a weft task");
  ContextUndo undo{key, s.owner, nullptr};
  undo.previous = replace(s.map, key, std::move(value));
  return undo;
}

void context_reset(const ContextUndo& undo, const char* name) {
  Slot s = current_slot();
  if (!s.map) throw UsageError(quoted(name) + " reset outside a weft task");
  if (s.owner != undo.owner) {
    throw UsageError(quoted(name) +
                     " reset with a token made in another task: a token undoes a set only in "
                     "the task that made it");
  }
  replace(s.map, undo.key, undo.previous);
}

void throw_context_unset(const char* name) {
  if (!current_task()) {
    throw UsageError(quoted(name) + " read outside a weft task");
  }
  throw UsageError(quoted(name) + " is not set in this task");
}

}  // namespace weft::detail
