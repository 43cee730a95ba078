// The gather awaiter (gather.hpp).
#include "weft/runtime/gather.hpp"

namespace weft::detail {

GatherAwaiter::GatherAwaiter(TaskHeader* const* children, std::size_t n, bool fail_fast)
    : children_(children), n_(n), fail_fast_(fail_fast), slots_(new Slot[n]) {
  on_forward = [](Waiter* w) noexcept {
    static_cast<GatherAwaiter*>(w)->cancel_children(~std::size_t{0});
  };
}

bool GatherAwaiter::await_suspend(std::coroutine_handle<> h, std::source_location where) {
  task_ = &require_task("weft::gather");
  for (std::size_t i = 0; i < n_; ++i) {
    if (children_[i]->observer_state() == TaskHeader::ObserverState::kAttached) {
      throw UsageError("weft::gather: a JoinHandle is already awaited by another task");
    }
  }
  remaining_.store(n_ + 1, std::memory_order_relaxed);  // +1: ours, while we attach
  if (task_->begin_wait(this, h, /*forwarding=*/true, {"gather", where}) ==
      WaitResult::kSuspendedMustForward) {
    cancel_children(~std::size_t{0});
    task_->end_forward();
  }
  for (std::size_t i = 0; i < n_; ++i) {
    slots_[i].notify = &GatherAwaiter::on_child_done;
    slots_[i].owner = this;
    slots_[i].index = i;
    switch (children_[i]->attach_observer(&slots_[i])) {
      case Attach::kAttached:
        slots_[i].awaited = true;
        children_[i]->note_awaited_by(task_->id());  // the dump's edge; it ends with the child
        break;
      case Attach::kCompleted:
        slots_[i].awaited = true;
        child_done(i, children_[i]);
        break;
      case Attach::kBusy:  // awaited elsewhere too: taking its result will say so
        remaining_.fetch_sub(1, std::memory_order_acq_rel);
        break;
    }
  }
  // AcqRel: the last decrement sees every child's result.
  if (remaining_.fetch_sub(1, std::memory_order_acq_rel) != 1) return true;
  // Every child had finished before we were done attaching: the wait is ours to end.
  return !task_->try_claim();
}

// Every child has finished. Cancelled meanwhile, we raise CancelledError (asyncio: even if
// the children swallowed it) unless the cancellation reached none of them in time: no child
// ended with CancelledError and at least one finished with the request we forwarded still
// undelivered (it finished in the same instant). Then the results are kept and our
// cancellation stays pending for the next await, or is dropped by the cancel scope
// (timeout) that requested it as the scope closes.
//
// When the gather raises (CancelledError, or the first failure, which the caller rethrows
// next), the other children's errors are marked observed. The gather awaited them, and
// most are what the cancellation it sent made of them (a cleanup that failed); reporting
// them as "failed and nobody awaited it" would be false, and noise on every handled
// failure. They are not attached to what the caller gets either: the first failure
// propagates unchanged, so callers catch its own type (C++ has no exception notes, and an
// ExceptionGroup would change the type). asyncio's gather drops them the same way; a caller
// that wants every error uses gather_settled or task_group (ExceptionGroup).
void GatherAwaiter::await_resume() {
  constexpr std::size_t kNone = ~std::size_t{0};
  bool cancelled = false;
  if (task_ && task_->cancel_pending()) {
    bool undelivered = false;
    for (std::size_t i = 0; i < n_; ++i) {
      TaskHeader* c = children_[i];
      if (c->error() && is_cancelled_error(c->error())) {
        undelivered = false;
        break;
      }
      undelivered = undelivered || c->cancel_pending();
    }
    cancelled = !undelivered;
  }
  if (cancelled) {
    observe_children(kNone);
    task_->take_cancel();
    throw CancelledError();
  }
  if (std::optional<std::size_t> f = first_failure()) observe_children(*f);
}

void GatherAwaiter::observe_children(std::size_t except) noexcept {
  for (std::size_t i = 0; i < n_; ++i) {
    // Relaxed: read by whoever drops the child's last reference (TaskHeader::release),
    // after the acq_rel decrement of the gather's handle, which comes after this store.
    if (i != except && slots_[i].awaited) {
      children_[i]->mark_observed();
    }
  }
}

std::optional<std::size_t> GatherAwaiter::first_failure() const noexcept {
  std::size_t f = first_failure_.load(std::memory_order_acquire);
  if (f == ~std::size_t{0}) return std::nullopt;
  return f;
}

void GatherAwaiter::on_child_done(Completion* c, TaskHeader* child) noexcept {
  auto* slot = static_cast<Slot*>(c);
  slot->owner->child_done(slot->index, child);
}

void GatherAwaiter::child_done(std::size_t index, TaskHeader* child) noexcept {
  if (fail_fast_ && child->error()) {
    std::size_t none = ~std::size_t{0};
    // A gather whose own cancellation is pending has forwarded it (or is forwarding it) to
    // every child: a second request would reach a child already in its cleanup and stay
    // pending past its end, which await_resume reads as our cancellation not delivered.
    if (first_failure_.compare_exchange_strong(none, index, std::memory_order_acq_rel) &&
        !task_->cancel_pending()) {
      cancel_children(index);
    }
  }
  // Last touch of this awaiter unless we bring the count to zero.
  if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    TaskHeader* t = task_;
    if (t->try_claim()) schedule(t);
  }
}

void GatherAwaiter::cancel_children(std::size_t except) noexcept {
  for (std::size_t i = 0; i < n_; ++i) {
    if (i != except) children_[i]->request_cancel(0);
  }
}

}  // namespace weft::detail
