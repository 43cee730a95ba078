// wait() and as_completed() awaiters (wait.hpp).
#include "weft/runtime/wait.hpp"

#include <mutex>

namespace weft::detail {

namespace {
// FirstException counts real exceptions, not cancellation (as asyncio does).
bool failed(const TaskHeader* t) noexcept {
  return t->error() && !is_cancelled_error(t->error());
}
void await_ack(const std::atomic<bool>& acked) noexcept {
  hook(HookPoint::kAckAwaited);
  // Acquire: pairs with the notifier's release store, its last touch of the slot.
  while (!acked.load(std::memory_order_acquire)) TaskHeader::spin_pause();
}
}  // namespace

// ---------------------------------------------------------------------------------------
// WaitAwaiter

WaitAwaiter::WaitAwaiter(TaskHeader* const* children, std::size_t n, ReturnWhen when,
                         std::optional<TimePoint> deadline)
    : children_(children), n_(n), when_(when), deadline_(deadline), slots_(new Slot[n]) {
  if (n == 0) throw std::invalid_argument("weft::wait: no handles to wait for");
  on_cancel = [](Waiter* w) noexcept {
    auto* self = static_cast<WaitAwaiter*>(w);
    self->cancelled_ = true;
    schedule(self->task_);
  };
}

bool WaitAwaiter::counts_meet(std::size_t done, bool failed) const noexcept {
  switch (when_) {
    case ReturnWhen::FirstCompleted:
      return done >= 1;
    case ReturnWhen::FirstException:
      return failed || done == n_;
    case ReturnWhen::AllCompleted:
      return done == n_;
  }
  return true;
}

bool WaitAwaiter::await_ready() const noexcept {
  std::size_t done = 0;
  bool failed = false;
  for (std::size_t i = 0; i < n_; ++i) {
    if (children_[i]->completed()) {
      ++done;
      failed = failed || detail::failed(children_[i]);
    }
  }
  return counts_meet(done, failed);
}

bool WaitAwaiter::await_suspend(std::coroutine_handle<> h, std::source_location where) {
  task_ = &require_task("weft::wait");
  for (std::size_t i = 0; i < n_; ++i) {
    if (children_[i]->observer_state() == TaskHeader::ObserverState::kAttached) {
      throw UsageError("weft::wait: a JoinHandle is already awaited by another task");
    }
  }
  holds_.store(2, std::memory_order_relaxed);  // our registration, and the trigger
  if (task_->begin_wait(this, h, /*forwarding=*/false, {"wait", where}, /*hold=*/true) ==
      WaitResult::kCancelled) {
    cancelled_ = true;
    return false;
  }
  if (deadline_) {
    timer_.fire = &WaitAwaiter::on_timer;
    timer_.context = this;
    timer_armed_ = arm_timer(timer_, deadline_tick(*deadline_));
    if (!timer_armed_) trigger();  // already expired: return with what is done
  }
  for (std::size_t i = 0; i < n_; ++i) {
    Slot& s = slots_[i];
    s.notify = &WaitAwaiter::on_child_done;
    s.owner = this;
    Attach a = children_[i]->attach_observer(&s);
    s.attached = a == Attach::kAttached;
    if (s.attached) children_[i]->note_awaited_by(task_->id());  // the dump's edge
    if (a == Attach::kCompleted) {
      done_.fetch_add(1, std::memory_order_relaxed);
      if (failed(children_[i])) failed_.store(true, std::memory_order_relaxed);
    } else if (a == Attach::kBusy) {
      done_.fetch_add(1, std::memory_order_relaxed);  // awaited elsewhere: reported pending
    }
  }
  if (counts_meet(done_.load(), failed_.load())) trigger();
  if (holds_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // Met while we registered: nobody could claim the held wait, so it is ours to end.
    task_->abandon_held_wait();
    release_all();
    return false;
  }
  if (task_->end_hold() == WaitResult::kCancelled) {
    cancelled_ = true;
    release_all();
    return false;
  }
  return true;
}

void WaitAwaiter::await_resume() {
  release_all();
  if (cancelled_) {
    task_->take_cancel();
    throw CancelledError();
  }
}

void WaitAwaiter::trigger() noexcept {
  if (triggered_.exchange(true, std::memory_order_acq_rel)) return;
  if (holds_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    TaskHeader* t = task_;
    if (t->try_claim()) schedule(t);
  }
}

void WaitAwaiter::on_child_done(Completion* c, TaskHeader* child) noexcept {
  auto* slot = static_cast<Slot*>(c);
  WaitAwaiter* self = slot->owner;
  std::size_t done = self->done_.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (failed(child)) self->failed_.store(true, std::memory_order_release);
  if (self->counts_meet(done, self->failed_.load(std::memory_order_acquire))) self->trigger();
  slot->acked.store(true, std::memory_order_release);  // last touch of the awaiter
}

void WaitAwaiter::on_timer(TimerEntry* e) noexcept {
  auto* self = static_cast<WaitAwaiter*>(e->context);
  TaskHeader* t = self->task_;
  bool won = t->try_claim();
  e->state.store(TimerEntry::kFired, std::memory_order_release);  // last touch
  if (won) schedule(t);
}

void WaitAwaiter::release_all() noexcept {
  if (timer_armed_) {
    timer_cancel(timer_);
    timer_armed_ = false;
  }
  for (std::size_t i = 0; i < n_; ++i) {
    Slot& s = slots_[i];
    if (!s.attached) continue;
    s.attached = false;
    if (children_[i]->detach_observer(&s)) {
      children_[i]->note_awaited_by(0);  // still running, awaited by nobody now
    } else {
      await_ack(s.acked);
    }
  }
}

// ---------------------------------------------------------------------------------------
// CompletionQueue (as_completed)

CompletionQueue::CompletionQueue(TaskHeader* const* children, std::size_t n)
    : children_(children), n_(n), slots_(new Slot[n]) {
  ready_.reserve(n);
  // The task that iterates, for the dump (0 outside a task).
  const TaskHeader* self = current_task();
  const std::uint64_t consumer = self != nullptr ? self->id() : 0;
  for (std::size_t i = 0; i < n; ++i) {
    Slot& s = slots_[i];
    s.notify = &CompletionQueue::on_child_done;
    s.owner = this;
    s.index = i;
    std::lock_guard lk(lock_);  // a child may notify as soon as it is attached
    s.attached = children[i]->attach_observer(&s) == Attach::kAttached;
    if (s.attached && consumer != 0) children[i]->note_awaited_by(consumer);  // the dump's edge
    if (!s.attached) {  // finished (or awaited elsewhere: awaiting it will say so)
      s.acked.store(true, std::memory_order_relaxed);  // no notifier will touch the slot
      ready_.push_back(i);
    }
  }
}

// A slot whose child has notified holds no claim on the child any more: its index may have
// been taken, its handle yielded and dropped, and the child freed. Only the slots still
// attached (their handles still in the generator's frame, so their children alive) are
// detached; for the others we wait only for the notifier to let go of the slot.
CompletionQueue::~CompletionQueue() {
  for (std::size_t i = 0; i < n_; ++i) {
    Slot& s = slots_[i];
    bool attached;
    {
      std::lock_guard lk(lock_);
      attached = s.attached;
    }
    if (attached && children_[i]->detach_observer(&s)) {
      children_[i]->note_awaited_by(0);
    } else {
      await_ack(s.acked);
    }
  }
}

// The consumer is claimed under the lock, while `waiting_` still names it: once the lock is
// released the consumer may have been cancelled, moved on to another wait and even
// finished, and a claim made then would take that other wait (or touch a freed task).
void CompletionQueue::on_child_done(Completion* c, TaskHeader*) noexcept {
  auto* slot = static_cast<Slot*>(c);
  CompletionQueue* q = slot->owner;
  TaskHeader* woken = nullptr;
  {
    std::lock_guard lk(q->lock_);
    slot->attached = false;
    q->ready_.push_back(slot->index);  // never reallocates: reserved for n
    TaskHeader* consumer = std::exchange(q->waiting_, nullptr);
    if (consumer && consumer->try_claim()) woken = consumer;
  }
  hook(HookPoint::kCompletionQueued);
  if (woken) schedule(woken);
  slot->acked.store(true, std::memory_order_release);  // last touch
}

bool CompletionQueue::Next::await_ready() noexcept {
  std::lock_guard lk(q.lock_);
  if (q.taken_ == q.ready_.size()) return false;
  index = q.ready_[q.taken_++];
  return true;
}

bool CompletionQueue::Next::await_suspend(std::coroutine_handle<> h, std::source_location where) {
  task = &require_task("weft::as_completed");
  on_cancel = [](Waiter* w) noexcept {
    auto* self = static_cast<Next*>(w);
    {
      std::lock_guard lk(self->q.lock_);
      if (self->q.waiting_ == self->task) self->q.waiting_ = nullptr;
    }
    self->cancelled = true;
    schedule(self->task);
  };
  std::lock_guard lk(q.lock_);
  if (q.taken_ < q.ready_.size()) {
    index = q.ready_[q.taken_++];
    return false;
  }
  if (task->begin_wait(this, h, /*forwarding=*/false, {"as_completed", where}) ==
      WaitResult::kCancelled) {
    cancelled = true;
    return false;
  }
  q.waiting_ = task;  // under the lock: a notifier sees it only once it is published
  return true;
}

std::size_t CompletionQueue::Next::await_resume() {
  if (cancelled) {
    task->take_cancel();
    throw CancelledError();
  }
  if (index == kNoIndex) {
    std::lock_guard lk(q.lock_);
    index = q.ready_[q.taken_++];
  }
  return index;
}

}  // namespace weft::detail
