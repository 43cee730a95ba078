// The end of a task: its completion, the observer told of it, its last reference, and the
// error nobody took.
//
// The rule (detail/task_header.hpp, "Completion and its observer" and "References"): a task
// completes once, on its own thread, at its root's final suspend. It leaves the live-task
// registry, drops its task-local values, tells its group, swaps COMPLETED into the observer
// word and notifies the observer it found there, and only then drops the run's reference
// (which may free the frame). Whoever drops the last reference destroys the frame, and first
// reports an error that no join, result(), block_on, gather or task group took: to the
// handler of the runtime that ran the task, or to stderr once that runtime is gone.
#include "task/completion.hpp"

#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "scheduler/scheduler.hpp"
#include "weft/runtime/errors.hpp"

namespace weft::detail {

namespace {
// Schedulers alive now, so an error reported after its runtime is gone goes to stderr.
std::mutex g_live_mu;
std::set<const Scheduler*>& live_schedulers() {
  static std::set<const Scheduler*> s;
  return s;
}
}  // namespace

void track_live_scheduler(const Scheduler* s) {
  std::lock_guard lk(g_live_mu);
  live_schedulers().insert(s);
}

void untrack_live_scheduler(const Scheduler* s) noexcept {
  std::lock_guard lk(g_live_mu);
  live_schedulers().erase(s);
}

std::coroutine_handle<> TaskHeader::complete() noexcept {
  sched_->registry().remove(this);
  if (context_) release_context(std::exchange(context_, nullptr));
  if (group_) group_->child_done(group_, this);
  // AcqRel: publishes the result to the observer; sees an observer attached before.
  std::uintptr_t old = observer_.exchange(kCompleted, std::memory_order_acq_rel);
  if (old > kCompleted) {
    auto* c = reinterpret_cast<Completion*>(old);
    c->notify(c, this);
  }
  release();  // may destroy this frame; we only return a handle after it
  return take_resume_next();
}

Attach TaskHeader::attach_observer(Completion* c) noexcept {
  hook(HookPoint::kAttach);
  std::uintptr_t expected = 0;
  if (observer_.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(c),
                                        std::memory_order_acq_rel, std::memory_order_acquire)) {
    return Attach::kAttached;
  }
  return expected == kCompleted ? Attach::kCompleted : Attach::kBusy;
}

bool TaskHeader::detach_observer(Completion* c) noexcept {
  hook(HookPoint::kDetach);
  auto expected = reinterpret_cast<std::uintptr_t>(c);
  return observer_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel,
                                           std::memory_order_acquire);
}

void TaskHeader::release() noexcept {
  // AcqRel: the last owner sees every other owner's writes before destroying the frame.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (error_ && !observed_.load(std::memory_order_relaxed) && !is_cancelled_error(error_)) {
    report_unobserved_error(this);
  }
  root_.destroy();
}

void report_unobserved_error(TaskHeader* t) noexcept {
  {
    std::lock_guard lk(g_live_mu);
    if (live_schedulers().count(t->scheduler())) {
      t->scheduler()->report_unobserved(t);
      return;
    }
  }
  print_unobserved_error(t);
}

void print_unobserved_error(TaskHeader* t) noexcept {
  try {
    std::string line = "weft: task " + std::to_string(t->id());
    if (!t->name().empty()) line += " '" + std::string(t->name()) + "'";
    line += " (spawned at " + std::string(t->where().file_name()) + ":" +
            std::to_string(t->where().line()) +
            ") failed and nobody awaited it: " + describe(t->error()) + "\n";
    std::fputs(line.c_str(), stderr);
  } catch (...) {
    std::fputs("weft: a task failed and nobody awaited it\n", stderr);
  }
}

}  // namespace weft::detail
