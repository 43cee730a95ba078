// TaskGroup (task_group.hpp).
#include "weft/runtime/task_group.hpp"

#include <algorithm>
#include <mutex>

namespace weft {

TaskGroup::TaskGroup(detail::TaskHeader& parent) : parent_(parent), depth_(parent.push_scope()) {
  link_.child_done = &TaskGroup::on_child_done;
  link_.owner = this;
}

TaskGroup::~TaskGroup() {
  for (detail::TaskHeader* t : children_) t->release();
  parent_.pop_scope(depth_);
}

void TaskGroup::add_child(detail::TaskHeader* t) {
  std::lock_guard lk(lock_);
  if (closed_) throw UsageError("weft::TaskGroup::spawn after the group has finished");
  children_.push_back(t);
  t->add_ref();
  t->note_awaited_by(parent_.id());  // the task dump lists it below the group's task
  ++active_;
  if (children_cancelled_) t->request_cancel(0);  // the group is aborting: it never starts
}

void TaskGroup::remove_child(detail::TaskHeader* t) noexcept {
  std::lock_guard lk(lock_);
  children_.erase(std::find(children_.begin(), children_.end(), t));
  t->release();
  --active_;
}

std::size_t TaskGroup::active() const noexcept {
  std::lock_guard lk(lock_);
  return active_;
}

void TaskGroup::cancel() noexcept {
  std::vector<detail::TaskHeader*> snapshot;
  {
    std::lock_guard lk(lock_);
    snapshot = children_;  // alive: the group holds a reference on each
  }
  for (detail::TaskHeader* t : snapshot) t->request_cancel(0);
}

void TaskGroup::cancel_children_once() noexcept {
  {
    std::lock_guard lk(lock_);
    if (std::exchange(children_cancelled_, true)) return;
  }
  cancel();
}

void TaskGroup::fail(std::exception_ptr e) noexcept {
  bool first;
  {
    std::lock_guard lk(lock_);
    errors_.push_back(std::move(e));
    first = !std::exchange(failing_, true);
  }
  if (!first) return;
  cancel_children_once();
  parent_.request_cancel(depth_);  // interrupts the body if it is still running
}

void TaskGroup::on_child_done(detail::GroupLink* link, detail::TaskHeader* child) noexcept {
  TaskGroup& g = *static_cast<Link*>(link)->owner;
  if (child->error() && !detail::is_cancelled_error(child->error())) {
    child->mark_observed();
    g.fail(child->error());
  }
  detail::TaskHeader* parent = nullptr;
  {
    std::lock_guard lk(g.lock_);
    if (--g.active_ == 0 && g.joining_) {
      g.closed_ = true;  // the join is over: nobody may add a child the group won't wait for
      parent = &g.parent_;
    }
  }
  // Last touch of the group unless we wake the parent (which may then destroy it).
  if (parent && parent->try_claim()) detail::schedule(parent);
}

std::vector<std::exception_ptr> TaskGroup::take_errors() {
  std::lock_guard lk(lock_);
  return std::move(errors_);
}

TaskGroup::JoinAwaiter::JoinAwaiter(TaskGroup& g) noexcept : group_(g) {
  on_forward = [](detail::Waiter* w) noexcept {
    static_cast<JoinAwaiter*>(w)->group_.cancel_children_once();
  };
}

bool TaskGroup::JoinAwaiter::await_suspend(std::coroutine_handle<> h, std::source_location where) {
  detail::TaskHeader& task = group_.parent_;
  detail::WaitResult r;
  {
    std::lock_guard lk(group_.lock_);
    if (group_.active_ == 0) {
      group_.closed_ = true;  // as in on_child_done: the join is over
      return false;
    }
    group_.joining_ = true;
    r = task.begin_wait(this, h, /*forwarding=*/true, {"task group join", where});
  }
  if (r == detail::WaitResult::kSuspendedMustForward) {
    group_.cancel_children_once();
    task.end_forward();
  }
  return true;
}

void TaskGroup::JoinAwaiter::await_resume() {
  if (group_.parent_.take_cancel()) throw CancelledError();
}

}  // namespace weft
