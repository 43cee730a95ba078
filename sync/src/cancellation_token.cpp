// weft::CancellationToken (cancellation_token.hpp, where the tree's protocol is explained).
#include "weft/sync/cancellation_token.hpp"

#include <mutex>

#include "weft/runtime/detail/spin_lock.hpp"

namespace weft::detail {

/// The lock one tree of tokens shares, counted by its nodes: a node's tree may split (a root
/// that goes away leaves its children as roots) but they keep the lock they had.
struct CancelFamily {
  SpinLock lock;
  std::atomic<std::uint32_t> refs{1};

  void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    // AcqRel: the last node to go sees every other node's use of the lock before freeing it.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

struct CancelNode {
  explicit CancelNode(CancelFamily* f) noexcept : family(f) {}

  std::atomic<std::uint32_t> refs{1};  // tokens, waiting awaiters, open scopes
  // Set once, under both family->lock and lock; read under either, or alone (acquire).
  std::atomic<bool> cancelled{false};
  CancelFamily* const family;

  // The tree, guarded by family->lock.
  CancelNode* parent = nullptr;
  CancelNode* first_child = nullptr;
  CancelNode* prev_sibling = nullptr;
  CancelNode* next_sibling = nullptr;
  CancelNode* walk_next = nullptr;  // cancel()'s lists of nodes to visit and to cancel

  // Who waits for this node, guarded by lock.
  SpinLock lock;
  WaiterList waiters;
  TokenScope* scopes = nullptr;

  void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }

  /// Drops a reference; the last one takes the node out of the tree and frees it.
  void release() noexcept {
    // AcqRel: whoever frees the node sees every other owner's use of it.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    CancelFamily* f = family;
    {
      std::lock_guard lk(f->lock);
      leave_tree();
    }
    delete this;
    f->release();
  }

  /// Under family->lock: unlinks from the parent and hands the children to it (with no
  /// parent, they become roots). A cancelled node has neither, so this is then a no-op.
  void leave_tree() noexcept {
    CancelNode* p = parent;
    if (p) p->unlink_child(this);
    while (CancelNode* c = first_child) {
      unlink_child(c);
      if (p) p->link_child(c);
    }
  }

  /// Under family->lock.
  void link_child(CancelNode* c) noexcept {
    c->parent = this;
    c->prev_sibling = nullptr;
    c->next_sibling = first_child;
    if (first_child) first_child->prev_sibling = c;
    first_child = c;
  }

  /// Under family->lock; `c` is a child of this node.
  void unlink_child(CancelNode* c) noexcept {
    (c->prev_sibling ? c->prev_sibling->next_sibling : first_child) = c->next_sibling;
    if (c->next_sibling) c->next_sibling->prev_sibling = c->prev_sibling;
    c->parent = c->prev_sibling = c->next_sibling = nullptr;
  }

  /// Under family->lock: sets the flag, claims the waiters into `woken` and moves the open
  /// scopes to `fire` (marked kFiring), all under the node's lock.
  void cancel_locked(WakeList& woken, TokenScope*& fire) noexcept {
    std::lock_guard lk(lock);
    // Release: what the canceller wrote before cancel() is visible to whoever sees the flag.
    cancelled.store(true, std::memory_order_release);
    while (SyncWaiter* w = waiters.claim_front()) woken.push(w);
    while (TokenScope* s = scopes) {
      scopes = s->next_;
      if (scopes) scopes->prev_ = nullptr;
      // Relaxed: under the lock close() reads it in; kFired, stored by fire(), is the edge.
      s->state_.store(TokenScope::kFiring, std::memory_order_relaxed);
      s->fire_next_ = fire;
      fire = s;
    }
  }

  /// Cancels this node's subtree (see the header): one walk under the family lock, then the
  /// wake-ups and the scopes' fires outside every lock.
  void cancel() noexcept {
    WakeList woken;
    TokenScope* fire = nullptr;
    {
      std::lock_guard lk(family->lock);
      if (cancelled.load(std::memory_order_relaxed)) return;
      if (parent) parent->unlink_child(this);
      // First take the subtree out of the tree, onto `done` with every node before its
      // parent. The nodes are not cancelled (a cancelled node is never linked) and stay
      // alive while we hold the family lock (a node that loses its last reference takes it
      // to leave the tree).
      CancelNode* done = nullptr;
      walk_next = nullptr;
      for (CancelNode* pending = this; CancelNode* n = pending;) {
        pending = n->walk_next;
        while (CancelNode* c = n->first_child) {
          n->unlink_child(c);
          c->walk_next = pending;
          pending = c;
        }
        n->walk_next = done;
        done = n;
      }
      // Then set the flags, descendants first: whoever sees a token cancelled finds every
      // token derived from it cancelled too.
      for (CancelNode* n = done; n; n = n->walk_next) n->cancel_locked(woken, fire);
    }
    woken.wake_all();
    if (fire) hook(HookPoint::kScopeFiring);
    while (TokenScope* s = fire) {
      fire = s->fire_next_;  // read first: the scope may be gone once it has fired
      s->fire();
    }
  }

  /// Under lock: links scope `s` (kLinked) unless the node is cancelled; false then.
  bool add_scope(TokenScope* s) noexcept {
    if (cancelled.load(std::memory_order_relaxed)) return false;
    s->prev_ = nullptr;
    s->next_ = scopes;
    if (scopes) scopes->prev_ = s;
    scopes = s;
    s->state_.store(TokenScope::kLinked, std::memory_order_relaxed);
    return true;
  }

  /// Under lock: unlinks scope `s` if it is still linked; false if cancel() took it.
  bool remove_scope(TokenScope* s) noexcept {
    if (s->state_.load(std::memory_order_relaxed) != TokenScope::kLinked) return false;
    (s->prev_ ? s->prev_->next_ : scopes) = s->next_;
    if (s->next_) s->next_->prev_ = s->prev_;
    s->prev_ = s->next_ = nullptr;
    s->state_.store(TokenScope::kIdle, std::memory_order_relaxed);
    return true;
  }
};

std::size_t linked_children(const CancellationToken& t) noexcept {
  CancelNode* n = t.node_;
  std::lock_guard lk(n->family->lock);
  std::size_t count = 0;
  for (CancelNode* c = n->first_child; c; c = c->next_sibling) ++count;
  return count;
}

// ---- TokenScope ----

TokenScope::TokenScope(TaskHeader& task, const CancellationToken& token)
    : task_(task),
      depth_(task.push_scope()),
      outside_at_open_(task.delivered_outside(depth_)),
      token_(token) {
  CancelNode* n = token_.node_;
  bool linked;
  {
    std::lock_guard lk(n->lock);
    linked = n->add_scope(this);
  }
  if (!linked) {
    state_.store(kFired, std::memory_order_relaxed);  // only this task reads it
    task_.request_cancel(depth_);
  }
}

bool TokenScope::close() noexcept {
  if (closed_) return false;
  closed_ = true;
  CancelNode* n = token_.node_;
  bool fired;
  {
    std::lock_guard lk(n->lock);
    fired = !n->remove_scope(this);
  }
  if (fired) {
    // cancel() took the scope: wait until its fire() is done with it (a few instructions,
    // unless the cancelling thread was preempted between unlocking and firing). Returning
    // earlier would let the frame holding the scope go while fire() still writes to it,
    // and leave the fire's request at a depth this task may open again.
    hook(HookPoint::kAckAwaited);
    // Acquire: pairs with fire()'s release store, its last touch of the scope.
    for (unsigned spins = 0; state_.load(std::memory_order_acquire) != kFired; ++spins) {
      if (spins < 64) {
        TaskHeader::spin_pause();
      } else {
        std::this_thread::yield();
      }
    }
  }
  bool mine = fired && task_.delivered_only_from(depth_, outside_at_open_);
  task_.pop_scope(depth_);
  return mine;
}

void TokenScope::fire() noexcept {
  task_.request_cancel(depth_);
  // Release: the last touch of the scope; close() may return, and the scope vanish, once it
  // sees kFired.
  state_.store(kFired, std::memory_order_release);
}

}  // namespace weft::detail

namespace weft {

CancellationToken::CancellationToken() {
  auto* f = new detail::CancelFamily;
  try {
    node_ = new detail::CancelNode(f);
  } catch (...) {
    f->release();
    throw;
  }
}

CancellationToken::CancellationToken(const CancellationToken& other) noexcept : node_(other.node_) {
  node_->add_ref();
}

CancellationToken& CancellationToken::operator=(const CancellationToken& other) noexcept {
  other.node_->add_ref();  // first: `other` may be this token
  node_->release();
  node_ = other.node_;
  return *this;
}

CancellationToken::~CancellationToken() {
  node_->release();
}

void CancellationToken::cancel() noexcept {
  node_->cancel();
}

bool CancellationToken::is_cancelled() const noexcept {
  return node_->cancelled.load(std::memory_order_acquire);
}

CancellationToken CancellationToken::child_token() const {
  detail::CancelFamily* f = node_->family;
  auto* c = new detail::CancelNode(f);
  f->add_ref();
  {
    std::lock_guard lk(f->lock);
    if (node_->cancelled.load(std::memory_order_relaxed)) {
      // Release: the parent's canceller's writes (ordered before us by the family lock)
      // are visible to whoever sees the child cancelled.
      c->cancelled.store(true, std::memory_order_release);
    } else {
      node_->link_child(c);
    }
  }
  return CancellationToken(c);
}

bool CancellationToken::CancelledAwaiter::await_ready() noexcept {
  if (!token_.is_cancelled()) return false;
  ready_ = true;
  return detail::budget_spend();  // spent: await_suspend yields
}

bool CancellationToken::CancelledAwaiter::await_suspend(std::coroutine_handle<> h,
                                                        std::source_location where) {
  detail::TaskHeader* t = &detail::require_task("weft::CancellationToken::cancelled");
  if (ready_) {  // out of budget: let the others run first
    t->set_resume_point(h);
    detail::schedule_yield(t);
    return true;
  }
  detail::CancelNode* n = token_.node_;
  init(t, &n->lock, &n->waiters);
  std::lock_guard lk(n->lock);
  if (n->cancelled.load(std::memory_order_acquire)) return false;
  if (!publish(h, {"cancellation token", where})) {
    this->cancelled = true;
    return false;
  }
  return true;  // published: the frame is not touched again
}

void CancellationToken::CancelledAwaiter::await_resume() {
  if (this->cancelled) {
    task->take_cancel();
    throw CancelledError();
  }
}

}  // namespace weft
