// Spawning a task: what a spawn fixes before the task is published, and handing it to its
// scheduler.
//
// The rule (detail/task_header.hpp, "Fixed at spawn" and "The first run"): the spawner
// writes everything a task carries besides its shared words (scheduler, group, root, name,
// spawn site, the id the registry gives, the task-local values it inherits) before the
// spawn is published by the run queue's hand-off (Scheduler::submit_new), and none of it
// changes afterwards, so readers on any thread need no ordering of their own. What is
// queued is a start entry: the worker that pops it and a joiner that runs the task inline
// race for the first run once, on the start word (TaskHeader::claim_start and
// claim_inline); an entry whose task a joiner ran stays queued with a reference of its own,
// and shutdown drops what is left of them (drop_stale_entry).

#include "scheduler/scheduler.hpp"
#include "task/context_map.hpp"
#include "weft/runtime/join_handle.hpp"

namespace weft {

namespace detail {

void submit_spawn(TaskHeader* t, Scheduler* sched) {
  TaskHeader* cur = current_task();
  if (!sched) {
    if (!cur) throw UsageError("weft::spawn called outside a weft task (no runtime here)");
    sched = cur->scheduler();
  }
  // asyncio's create_task: the child starts from a snapshot of the spawner's task-local
  // values. If the submission throws, the root's destruction drops the reference.
  t->set_context(inherit_context(cur));
  sched->submit_new(t);
}

void TaskHeader::drop_stale_entry(TaskHeader* e) noexcept {
  if (is_start_entry(e)) from_entry(e)->release();
}

void TaskHeader::set_name(std::string_view name) {
  if (name.empty()) return;
  name_ = new char[name.size() + 1];
  name.copy(name_, name.size());
  name_[name.size()] = '\0';
}

}  // namespace detail

TaskInfo current_task() {
  detail::TaskHeader& t = detail::require_task("weft::current_task");
  return TaskInfo{t.id(), t.name(), t.where()};
}

}  // namespace weft
