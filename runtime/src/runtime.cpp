// Runtime and RuntimeHandle: a runtime's construction and shutdown, its queries, and
// block_on's wait from a plain thread.
#include "weft/runtime/runtime.hpp"

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <utility>

#include "scheduler/scheduler.hpp"
#include "task/completion.hpp"
#include "weft/runtime/time.hpp"

namespace weft {

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
  detail::track_live_scheduler(sched_.get());
}

Runtime::~Runtime() {
  try {
    shutdown();
  } catch (...) {
    std::fputs("weft: Runtime destroyed from one of its own workers\n", stderr);
    std::terminate();
  }
  detail::untrack_live_scheduler(sched_.get());
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

RuntimeMetrics Runtime::metrics() const {
  return sched_->metrics();
}

TaskDump Runtime::dump_tasks() const {
  return sched_->dump_tasks();
}

void Runtime::start_tracing() {
  sched_->start_tracing();
}

void Runtime::stop_tracing() {
  sched_->stop_tracing();
}

std::string Runtime::trace_json() const {
  return sched_->trace_json();
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

RuntimeMetrics RuntimeHandle::metrics() const {
  return query_runtime(*state_, "weft::RuntimeHandle::metrics",
                       [](detail::Scheduler& s) { return s.metrics(); });
}

TaskDump RuntimeHandle::dump_tasks() const {
  return query_runtime(*state_, "weft::RuntimeHandle::dump_tasks",
                       [](detail::Scheduler& s) { return s.dump_tasks(); });
}

void RuntimeHandle::start_tracing() const {
  query_runtime(*state_, "weft::RuntimeHandle::start_tracing",
                [](detail::Scheduler& s) { s.start_tracing(); });
}

void RuntimeHandle::stop_tracing() const {
  query_runtime(*state_, "weft::RuntimeHandle::stop_tracing",
                [](detail::Scheduler& s) { s.stop_tracing(); });
}

std::string RuntimeHandle::trace_json() const {
  return query_runtime(*state_, "weft::RuntimeHandle::trace_json",
                       [](detail::Scheduler& s) { return s.trace_json(); });
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
