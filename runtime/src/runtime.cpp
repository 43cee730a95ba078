// Runtime, spawn plumbing, completion and observers.
#include "weft/runtime/runtime.hpp"

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <set>
#include <utility>

#include "context_map.hpp"
#include "scheduler/scheduler.hpp"
#include "weft/runtime/time.hpp"

namespace weft {

namespace detail {

namespace {
// Schedulers alive now, so an error reported after its runtime is gone goes to stderr.
std::mutex g_live_mu;
std::set<const Scheduler*>& live_schedulers() {
  static std::set<const Scheduler*> s;
  return s;
}
}  // namespace

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

}  // namespace detail

TaskInfo current_task() {
  detail::TaskHeader& t = detail::require_task("weft::current_task");
  return TaskInfo{t.id(), t.name(), t.where()};
}

bool in_runtime() noexcept {
  return detail::current_worker() != nullptr;
}

TimePoint now() noexcept {
  if (detail::Worker* w = detail::current_worker()) return w->scheduler().clock().now();
  return Clock::now();
}

namespace detail {
TimePoint deadline_after(Duration d) noexcept {
  TimePoint n = now();
  if (d >= TimePoint::max() - n) return TimePoint::max();
  return n + d;
}
}  // namespace detail

Runtime::Runtime(RuntimeOptions options)
    : sched_(std::make_unique<detail::Scheduler>(std::move(options))) {
  std::lock_guard lk(detail::g_live_mu);
  detail::live_schedulers().insert(sched_.get());
}

Runtime::~Runtime() {
  try {
    shutdown();
  } catch (...) {
    std::fputs("weft: Runtime destroyed from one of its own workers\n", stderr);
    std::terminate();
  }
  std::lock_guard lk(detail::g_live_mu);
  detail::live_schedulers().erase(sched_.get());
}

void Runtime::shutdown() {
  sched_->shutdown();
}

std::size_t Runtime::live_tasks() const noexcept {
  return sched_->registry().live();
}

std::size_t Runtime::workers() const noexcept {
  return sched_->workers().size();
}

std::vector<WorkerMetrics> Runtime::metrics() const {
  return sched_->metrics();
}

namespace {

// Runs `query` on the handle's scheduler while it is guaranteed alive (handle_state.hpp).
template <class F>
auto query_runtime(detail::HandleState& state, const char* what, F query) {
  detail::Scheduler* s = state.enter();
  if (!s) {
    throw UsageError(std::string(what) +
                     ": the runtime is gone (a RuntimeHandle is only valid while its Runtime "
                     "exists; weft::run destroys it when it returns)");
  }
  struct Leave {
    detail::HandleState& state;
    ~Leave() { state.leave(); }
  } leave{state};
  return query(*s);
}

}  // namespace

std::size_t RuntimeHandle::live_tasks() const {
  return query_runtime(*state_, "weft::RuntimeHandle::live_tasks",
                       [](detail::Scheduler& s) { return s.registry().live(); });
}

std::size_t RuntimeHandle::workers() const {
  return query_runtime(*state_, "weft::RuntimeHandle::workers",
                       [](detail::Scheduler& s) { return s.workers().size(); });
}

std::vector<WorkerMetrics> RuntimeHandle::metrics() const {
  return query_runtime(*state_, "weft::RuntimeHandle::metrics",
                       [](detail::Scheduler& s) { return s.metrics(); });
}

bool RuntimeHandle::alive() const noexcept {
  return !state_->closed();
}

RuntimeHandle current_runtime() {
  detail::Scheduler* s = nullptr;
  if (detail::Worker* w = detail::current_worker()) {
    s = &w->scheduler();
  } else {
    s = detail::BlockingPool::current_owner();
  }
  if (!s) {
    throw UsageError(
        "weft::current_runtime called outside a weft runtime (not on a worker or a "
        "blocking-pool thread of one)");
  }
  return RuntimeHandle(s->handle_state());
}

void Runtime::check_not_on_worker(const char* what) const {
  if (detail::current_worker()) {
    throw UsageError(std::string(what) +
                     " called on a worker thread: it would block the worker; co_await instead");
  }
}

void Runtime::wait_blocking(detail::TaskHeader* t) {
  struct Waiter : detail::Completion {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  } w;
  w.notify = [](detail::Completion* c, detail::TaskHeader*) noexcept {
    auto* self = static_cast<Waiter*>(c);
    std::lock_guard lk(self->mu);  // notify under the lock: the waiter may free `w` after
    self->done = true;
    self->cv.notify_one();
  };
  if (t->attach_observer(&w) != detail::Attach::kAttached) {
    if (t->completed()) return;
    throw UsageError("weft::Runtime::block_on: the task is already awaited elsewhere");
  }
  std::unique_lock lk(w.mu);
  w.cv.wait(lk, [&] { return w.done; });
}

}  // namespace weft
