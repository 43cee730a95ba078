// The state every spawned task carries, and the protocol by which waits are claimed.
//
// A spawned task is a root coroutine whose promise derives from TaskHeader. Everything that
// wakes, cancels or joins a task goes through the header, which is reference counted and so
// outlives every party that may still touch it.
//
// ## The wait word (`state_`)
// One 64-bit atomic holds, from the low bits up:
//   WAITING    the task is suspended on a wait that can still be claimed;
//   FORWARDING the current wait forwards cancellation (join, gather, TaskGroup, to_thread)
//              instead of being ended by it;
//   FWD_LOCK   the wait is held: a canceller is forwarding right now, or the task itself is
//              still registering the waiter with several sources (begin_wait with `hold`);
//              claimers spin until it clears, and a cancel just leaves its bit for the
//              holder to act on, so the waiter stays alive and untouched meanwhile;
//   shield floor (6 bits) the depth of the innermost `shield` scope;
//   cancel bits, one per cancel-scope depth: bit 0 is `JoinHandle::cancel()`, deeper bits
//              belong to timeout scopes and task groups.
// A cancellation is *effective* when a cancel bit at or above the shield floor is set.
//
// ## Claiming (DESIGN invariant 1)
// A task suspends by `begin_wait`, which publishes WAITING with a release CAS after it has
// stored `waiter_` and `resume_`. Completion, timeout and cancellation race to clear WAITING
// with one CAS (`try_claim`, or `request_cancel` for claimable waits); only the winner
// resumes the task, by handing it to the scheduler. A waiter that sits in some primitive's
// list is published into that list under the primitive's lock *after* WAITING is set, and a
// cancel that claimed the wait takes the same lock to unlink it before resuming the task; so
// a claimer that finds the waiter in the list (under the lock) always finds it alive.
// A lock-free primitive may instead let its waiter *announce* the wait on the primitive first
// and publish it here right after (a oneshot's kRxWaiting): a waker that learnt of the wait
// from the announcement claims with `try_claim_announced`, which waits the few instructions
// between announcement and publication rather than take the task for one already claimed.
//
// ## Scopes
// Cancel scopes (timeouts, task groups) and shields nest per task; `depth_` and
// `delivered_` are touched only by the task itself (the scheduler's queue hand-off orders
// them between threads). Delivery of a cancellation (`take_cancel`) clears every effective
// bit and adds them to `delivered_` (a scope's bit is cleared when the scope opens and
// closes), so a timeout scope can tell whether the CancelledError passing its boundary is
// its own (-> TimeoutError) or an outer one: its own bit was delivered, and no outer
// scope's has been since it opened. The bits accumulate rather than being replaced by each
// delivery, so that a scope whose CancelledError was caught, and whose task then ran an
// inner timeout to its end while cleaning up, still knows it fired (asyncio's
// timeout counts cancellations for the same reason).
//
// ## The first run (`start_`)
// A spawn puts a *start entry* (the header's address with the low bit set) in a run queue;
// a worker that pops it must win `start_` from NOT_STARTED to STARTED (`claim_start`) to
// run the task. A task that awaits the handle of a child nobody has started may win it
// instead, to INLINED (`claim_inline`), and run the child at once on its own thread,
// depth-first, as a fork-join pool would; the start entry then stays queued holding a
// reference of its own, and whoever pops it (or drops it at shutdown, `drop_stale_entry`)
// just releases that. Both transitions are one acq_rel CAS from NOT_STARTED, so exactly one
// of them happens; nothing else writes `start_`, and both end states are final.
//
// ## Completion and its observer (`observer_`)
// 0 (nobody waits for the end), a Completion* (the one observer: a join, gather, wait or
// block_on), or COMPLETED. An observer attaches with a CAS 0 -> itself (`attach_observer`)
// and may detach with a CAS back to 0 (`detach_observer`), from any thread, while the task
// runs. The task's final suspend (`complete`) exchanges in COMPLETED, once, and notifies
// the observer it found, which then can no longer detach (a detach that fails waits for the
// notification to end). COMPLETED is final. The exchange is acq_rel: it publishes the result
// and `error_` to whoever reads COMPLETED with acquire (`completed`, `observer_state`, an
// attach that fails), and it sees what the observer stored before its attach's release.
// `observed_` is set once the outcome reached someone (`claim_result`, `mark_observed`), so
// that the last `release` does not report the error as unobserved.
//
// ## References (`refs_`)
// A task starts with two: its JoinHandle's and its run's (dropped by `complete`). Others are
// taken with `add_ref` by holders that already own one or keep the task alive otherwise: a
// task group's child list, shutdown's snapshot of the live-task registry, and a start entry
// left queued by join inlining (`claim_inline`). Relaxed, since the adder's own hold keeps
// the count above zero. `release` is an acq_rel decrement: the last one sees every other
// owner's writes, reports an error nobody took to the runtime's handler, and destroys the
// root frame (the header with it).
//
// ## Task-local values
// `context_` points at the task's immutable map of TaskLocal values, or is null while it has
// none (detail/task_context.hpp). The task alone swaps it (copy on write) and its spawner
// fills it before the spawn is published; it is dropped when the task completes, so the
// values do not wait for the last JoinHandle.
//
// ## The last wait (for the task dump)
// begin_wait records what the wait is (WaitSite: kind, the co_await's location, the awaited
// task of a join) and when it began, from the runtime's coarse tick, in relaxed atomics that
// only the task writes: a few plain moves, no clock read. The dump reads them from another
// thread together with the wait word; they describe the last wait, which is the current one
// while WAITING is set.
//
// ## Fixed at spawn
// The scheduler, group, root, name, spawn site and id are set before the spawn is published
// (the run queue's hand-off orders them for every later reader) and never change; the
// live-task registry's links change only under its shard lock (TaskRegistry, a friend).
//
// The operations that are not inline here live in runtime/src/task/, one file per part of a
// task's life: spawn.cpp, cancel.cpp, completion.cpp, and task_context.cpp for task-locals.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <source_location>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "weft/runtime/detail/compiler_check.hpp"
#include "weft/runtime/detail/hooks.hpp"
#include "weft/runtime/detail/task_context.hpp"

namespace weft::detail {

class TaskHeader;
class Scheduler;

/// Suspension record of one wait, living in the awaiting coroutine's frame.
struct Waiter {
  /// Claimable waits: unlink from the primitive and resume the task (cancel won the claim).
  void (*on_cancel)(Waiter*) noexcept = nullptr;
  /// Forwarding waits: pass the cancellation on (to children); the wait goes on.
  void (*on_forward)(Waiter*) noexcept = nullptr;
  /// Run hook (TaskHeader::set_run_hook): when the task is next run, the worker calls this
  /// instead of resuming the coroutine. It may publish a new wait (the task stays suspended,
  /// e.g. a woken Mutex waiter that lost the mutex to a newcomer and waits again) or clear
  /// the run hook and resume the coroutine itself.
  void (*on_run)(Waiter*) noexcept = nullptr;
};

/// What a wait is, for the task dump: the kind of awaitable ("queue get", "sleep", "join"),
/// where the task awaits it (the `co_await` expression: each awaiter's await_suspend takes
/// a defaulted `std::source_location`, which the compilers fill in with the location of the
/// co_await that calls it), and for a join the id of the task awaited (0 otherwise).
struct WaitSite {
  const char* kind;  ///< a string literal
  std::source_location where;
  std::uint64_t awaited_task = 0;
};

/// The runtime's clock in ticks (ms) as its workers last read it, which they do anyway in
/// each maintenance pass and around each park: a task that begins a wait stamps the wait
/// with one load instead of a clock read (the task dump's "waiting for", coarse by design).
struct CoarseTick {
  std::atomic<std::uint64_t> tick{0};
  /// Any thread; stores only a changed value, so readers' copies stay valid between ticks.
  void note(std::uint64_t now) noexcept {
    if (tick.load(std::memory_order_relaxed) != now) tick.store(now, std::memory_order_relaxed);
  }
};

/// Observer of a task's completion (at most one per task: a join, gather or wait).
struct Completion {
  void (*notify)(Completion*, TaskHeader*) noexcept;
};

/// Notified when a task that belongs to a task group completes.
struct GroupLink {
  void (*child_done)(GroupLink*, TaskHeader*) noexcept;
};

enum class Attach { kAttached, kCompleted, kBusy };

enum class WaitResult {
  kSuspended,             ///< published; do not touch the frame again
  kSuspendedMustForward,  ///< published with FWD_LOCK held: forward, then end_forward()
  kHeld,                  ///< published with FWD_LOCK held for registration: end_hold()
  kCancelled,             ///< an effective cancellation is pending; not suspended
};

/// What a spawned task carries: the wait word and the rest of the state its wakers,
/// cancellers, joiners and scheduler share (see the opening comment for who may touch what).
class TaskHeader {
  static inline const CoarseTick kNoTick{};
  // The wait word's layout (see the opening comment).
  static constexpr std::uint64_t kWaiting = 1;
  static constexpr std::uint64_t kForwarding = 2;
  static constexpr std::uint64_t kFwdLock = 4;
  static constexpr unsigned kFloorShift = 3;
  static constexpr std::uint64_t kFloorMask = 63ull << kFloorShift;
  static constexpr unsigned kCancelShift = 9;

 public:
  /// Deepest cancel scope a task may open (timeouts, task groups and shields together).
  static constexpr unsigned kMaxDepth = 64 - kCancelShift - 1;

  TaskHeader() = default;
  TaskHeader(const TaskHeader&) = delete;
  TaskHeader& operator=(const TaskHeader&) = delete;
  ~TaskHeader() {
    delete[] name_;
    if (context_) release_context(context_);  // a task whose spawn failed still holds it
  }

  // ---- waits: the task's side (task-local) ----

  /// True if a cancellation would be delivered at the next suspension point.
  bool cancel_pending() const noexcept { return effective(state_.load(std::memory_order_acquire)); }

  /// Called by the task itself, in await_suspend, before the waiter becomes visible to any
  /// other thread. `forwarding` waits are not ended by cancellation. `site` says what the
  /// wait is, for the task dump.
  /// With `hold`, the wait is published held (nobody can claim it) so the task may go on
  /// registering it with its sources; end_hold() then lets go.
  WaitResult begin_wait(Waiter* w, std::coroutine_handle<> h, bool forwarding, const WaitSite& site,
                        bool hold = false) noexcept {
    waiter_ = w;
    resume_ = h;
    note_wait(site);
    hook(HookPoint::kPublish);
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      bool eff = effective(s);
      if (eff && !forwarding) return WaitResult::kCancelled;
      std::uint64_t n =
          s | kWaiting | (forwarding ? kForwarding : 0) | (eff || hold ? kFwdLock : 0);
      // Release: publishes waiter_/resume_ to whoever claims (acquire in try_claim).
      if (state_.compare_exchange_weak(s, n, std::memory_order_release,
                                       std::memory_order_relaxed)) {
        if (hold) return WaitResult::kHeld;
        return eff ? WaitResult::kSuspendedMustForward : WaitResult::kSuspended;
      }
    }
  }

  /// Ends the hold of a kHeld wait. kCancelled: a cancellation arrived meanwhile and the
  /// wait was taken back (the caller owns its frame, cleans up and does not suspend).
  /// kSuspendedMustForward: forwarding wait, still held: forward, then end_forward().
  /// kSuspended: published; do not touch the frame again.
  WaitResult end_hold() noexcept {
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      bool eff = effective(s);
      if (eff && (s & kForwarding)) return WaitResult::kSuspendedMustForward;
      std::uint64_t n = eff ? s & ~(kWaiting | kFwdLock) : s & ~kFwdLock;
      // Release: everything registered under the hold happens-before a claimer's resume.
      if (state_.compare_exchange_weak(s, n, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
        return eff ? WaitResult::kCancelled : WaitResult::kSuspended;
      }
    }
  }

  /// Takes back a wait the task still holds (its condition was met while registering).
  void abandon_held_wait() noexcept {
    state_.fetch_and(~(kWaiting | kForwarding | kFwdLock), std::memory_order_acq_rel);
  }

  /// Releases FWD_LOCK taken by begin_wait (kSuspendedMustForward) or request_cancel.
  void end_forward() noexcept {
    // Release: the forwarding done under the lock happens-before the claimer's resume.
    state_.fetch_and(~kFwdLock, std::memory_order_release);
  }

  /// The coroutine the task's next run resumes: set by begin_wait, and by a task that
  /// re-queues itself (a yield, a wait that ends at once after the budget ran out) before it
  /// hands itself to the scheduler. Task-local, or read by the claim winner.
  void set_resume_point(std::coroutine_handle<> h) noexcept { resume_ = h; }
  std::coroutine_handle<> resume_point() const noexcept { return resume_; }

  /// A waiter whose on_run the worker calls instead of resuming the coroutine when the task
  /// next runs (a woken Mutex or Condition waiter that must take the mutex first). Set by the
  /// task before it publishes the wait (begin_wait's release publishes it too), cleared by
  /// the task or by on_run itself.
  void set_run_hook(Waiter* w) noexcept { run_hook_ = w; }
  void clear_run_hook() noexcept { run_hook_ = nullptr; }
  Waiter* run_hook() const noexcept { return run_hook_; }

  /// True while the task is suspended on a published wait nobody has claimed yet. A
  /// snapshot, for tests that wait until a task sits in a wait. Any thread.
  bool is_waiting() const noexcept {
    return (state_.load(std::memory_order_acquire) & kWaiting) != 0;
  }

  /// The task's last wait as begin_wait recorded it, for the task dump. Any thread: each
  /// field is read on its own (relaxed), so a task that has begun another wait meanwhile may
  /// show one wait's kind with the next one's place; every value is a valid one.
  struct LastWait {
    const char* kind = nullptr;
    std::source_location where;
    std::uint64_t awaited_task = 0;
    std::uint64_t since_tick = 0;
  };
  LastWait last_wait() const noexcept {
    constexpr auto r = std::memory_order_relaxed;
    return {wait_kind_.load(r), wait_where_.load(r), wait_task_.load(r), wait_since_.load(r)};
  }
  /// The task whose gather, wait or as_completed awaits this one (0: none, or a join, which
  /// the joiner's own wait names), for the task dump: set by that task as it attaches, reset
  /// as it detaches. An id, not a pointer, so the dump never follows it into freed memory.
  void note_awaited_by(std::uint64_t task_id) noexcept {
    awaited_by_.store(task_id, std::memory_order_relaxed);
  }
  std::uint64_t awaited_by() const noexcept { return awaited_by_.load(std::memory_order_relaxed); }
  /// Whether the task has had its first run (a start entry still queued: not). Any thread.
  bool started() const noexcept { return start_.load(std::memory_order_relaxed) != kNotStarted; }

  // ---- waits: the waker's side (any thread) ----

  /// Claims the current wait for completion. True: the caller must hand the task to the
  /// scheduler (exactly once). False: somebody else (cancellation, a timeout) won.
  bool try_claim() noexcept {
    hook(HookPoint::kClaim);
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (s & kFwdLock) {
        spin_pause();
        s = state_.load(std::memory_order_acquire);
        continue;
      }
      if (!(s & kWaiting)) return false;
      // Acquire: sees waiter_/resume_ stored before begin_wait's release.
      if (state_.compare_exchange_weak(s, s & ~(kWaiting | kForwarding), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return true;
      }
    }
  }

  /// try_claim for a waker that learnt of the wait from the waiter's announcement on the
  /// primitive, made before the waiter publishes the wait here. While the task is not
  /// waiting but `announced()` still holds, the waiter is between announcing and begin_wait,
  /// or a cancellation claimed the wait and is about to withdraw the announcement: wait for
  /// either. False: a cancellation won, or the wait was withdrawn unpublished.
  template <class Announced>
  bool try_claim_announced(Announced announced) noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (unsigned spins = 0;; ++spins) {
      if ((s & kWaiting) && !(s & kFwdLock)) {
        // Acquire: sees waiter_/resume_ stored before begin_wait's release.
        if (state_.compare_exchange_weak(s, s & ~(kWaiting | kForwarding),
                                         std::memory_order_acq_rel, std::memory_order_acquire)) {
          return true;
        }
        continue;
      }
      if (!(s & kFwdLock) && !announced()) return false;
      if (spins < 64) {
        spin_pause();
      } else {
        std::this_thread::yield();  // the waiter was preempted while registering
      }
      s = state_.load(std::memory_order_acquire);
    }
  }

  // ---- cancellation and scopes (runtime/src/task/cancel.cpp) ----

  /// Requests cancellation at scope `depth` (0: the whole task). Any thread. If the task
  /// waits on a claimable wait, the wait is ended with CancelledError; a forwarding wait
  /// passes the request on to what it waits for.
  void request_cancel(unsigned depth) noexcept;

  /// Called by the task: if a cancellation is effective, consume it and return true (the
  /// caller throws CancelledError).
  bool take_cancel() noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (!effective(s)) return false;
      unsigned floor = static_cast<unsigned>((s & kFloorMask) >> kFloorShift);
      std::uint64_t mask = ~std::uint64_t{0} << (kCancelShift + floor);
      if (state_.compare_exchange_weak(s, s & ~mask, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        delivered_ |= (s & mask) >> kCancelShift;
        return true;
      }
    }
  }

  /// Opens a cancel scope (timeout, task group); returns its depth. Throws std::length_error
  /// past kMaxDepth. Task-local.
  unsigned push_scope();
  /// Closes the scope opened at `depth`; drops its pending request. Task-local.
  void pop_scope(unsigned depth) noexcept {
    state_.fetch_and(~cancel_bit(depth), std::memory_order_acq_rel);
    delivered_ &= ~(std::uint64_t{1} << depth);
    depth_ = static_cast<std::uint8_t>(depth - 1);
  }
  /// True if one more scope fits (push_scope would not throw). Task-local.
  bool can_open_scope() const noexcept { return depth_ < kMaxDepth; }
  /// The scopes outside `depth` (and the task itself) whose cancellation has been delivered
  /// since they opened, as bits. A scope reads it when it opens. Task-local.
  std::uint64_t delivered_outside(unsigned depth) const noexcept {
    return delivered_ & ((std::uint64_t{1} << depth) - 1);
  }
  /// True if scope `depth`'s cancellation has been delivered and no outer scope's has been
  /// since the scope opened (`outside_at_open`, from delivered_outside): the
  /// CancelledError crossing its boundary is then its own. Task-local.
  bool delivered_only_from(unsigned depth, std::uint64_t outside_at_open) const noexcept {
    return (delivered_ & (std::uint64_t{1} << depth)) &&
           delivered_outside(depth) == outside_at_open;
  }

  /// Opens a shield: outer cancellation stays pending until the shield closes. Returns the
  /// floor to restore. Task-local.
  unsigned push_shield();
  void pop_shield(unsigned saved_floor) noexcept;

  // ---- the first run (start entries and join inlining) ----

  /// The run-queue entry a spawn queues: the header's address with the low bit set.
  static TaskHeader* start_entry(TaskHeader* t) noexcept {
    return reinterpret_cast<TaskHeader*>(reinterpret_cast<std::uintptr_t>(t) | 1);
  }
  /// True for a start entry; any other entry is a task to resume.
  static bool is_start_entry(TaskHeader* e) noexcept {
    return reinterpret_cast<std::uintptr_t>(e) & 1;
  }
  /// The task a start entry names.
  static TaskHeader* from_entry(TaskHeader* e) noexcept {
    return reinterpret_cast<TaskHeader*>(reinterpret_cast<std::uintptr_t>(e) & ~std::uintptr_t{1});
  }
  /// Drops an entry left in a run queue once every task has finished (shutdown): what is
  /// left are start entries of tasks a joiner ran inline, each holding a reference.
  static void drop_stale_entry(TaskHeader* e) noexcept;

  /// True while nobody has started the task (a joiner may still run it inline). A relaxed
  /// snapshot: claim_inline decides.
  bool not_started() const noexcept {
    return start_.load(std::memory_order_relaxed) == kNotStarted;
  }
  /// Claims the first run for the worker that popped the task's start entry. False: a joiner
  /// ran the task inline already, and the reference the entry held is dropped.
  bool claim_start() noexcept {
    std::uint8_t s = kNotStarted;
    // AcqRel: exactly one of the joiner and the worker popping the start entry wins.
    if (start_.compare_exchange_strong(s, kStarted, std::memory_order_acq_rel)) return true;
    release();
    return false;
  }
  /// Claims the first run of a task for a joiner that will run it now. Any thread.
  bool claim_inline() noexcept {
    std::uint8_t s = kNotStarted;
    if (start_.load(std::memory_order_relaxed) != kNotStarted) return false;
    // AcqRel: exactly one of the joiner and the worker popping the start entry wins.
    if (!start_.compare_exchange_strong(s, kInlined, std::memory_order_acq_rel)) return false;
    add_ref();  // kept by the start entry still queued somewhere
    return true;
  }

  // ---- completion and its observer (runtime/src/task/completion.cpp) ----

  /// Completion of a root, on its final suspend: unregister, drop the task-local values,
  /// notify the group and the observer, drop the run's reference. Returns the coroutine to
  /// transfer to (a joiner that ran this task inline), or noop.
  std::coroutine_handle<> complete() noexcept;

  /// Attaches `c` as the completion observer: kCompleted if the task has already completed,
  /// kBusy if another observer is attached. Any thread.
  Attach attach_observer(Completion* c) noexcept;
  /// Detaches `c`; false if the task completed and is notifying or has notified `c`.
  bool detach_observer(Completion* c) noexcept;

  /// True once the task has completed; its result and error are then visible. Any thread.
  bool completed() const noexcept {
    return observer_.load(std::memory_order_acquire) == kCompleted;
  }
  enum class ObserverState { kNone, kAttached, kCompleted };
  /// One reading of the observer word: nobody, an observer attached, or completed (then
  /// the result and the error are visible). Any thread.
  ObserverState observer_state() const noexcept {
    std::uintptr_t o = observer_.load(std::memory_order_acquire);
    if (o == 0) return ObserverState::kNone;
    return o == kCompleted ? ObserverState::kCompleted : ObserverState::kAttached;
  }

  // ---- the outcome (read after completed()) ----

  /// Records the exception the task's body ended with (its promise's unhandled_exception).
  void record_error(std::exception_ptr e) noexcept { error_ = std::move(e); }
  /// The exception the task ended with, or null (a value, or still running).
  const std::exception_ptr& error() const noexcept { return error_; }
  /// Rethrows the task's exception, if it ended with one.
  void rethrow_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }

  /// Claims the outcome for the one caller that takes it (awaiting the handle, result()).
  /// False: it was taken (or handed on) already.
  bool claim_result() noexcept {
    // Relaxed: an exclusive flag; the outcome itself is published by completion (see
    // completed()), and the last release() reads the flag after its acq_rel decrement.
    return !observed_.exchange(true, std::memory_order_relaxed);
  }
  /// True if the outcome was taken or handed on (claim_result, mark_observed).
  bool result_taken() const noexcept { return observed_.load(std::memory_order_relaxed); }
  /// The outcome reached someone (block_on took it, a gather or task group handed the error
  /// on): an error is then not reported as unobserved.
  void mark_observed() noexcept {
    // Relaxed: read by the last release(), after its acq_rel decrement that follows this.
    observed_.store(true, std::memory_order_relaxed);
  }

  // ---- fixed at spawn (runtime/src/task/spawn.cpp) ----

  /// The root coroutine, set as its frame is made; the first run resumes it.
  void set_root(std::coroutine_handle<> h) noexcept {
    root_ = h;
    resume_ = h;
  }
  std::coroutine_handle<> root() const noexcept { return root_; }
  /// Copies `name` (empty: none, no allocation). Throws std::bad_alloc.
  void set_name(std::string_view name);
  std::string_view name() const noexcept {
    return name_ ? std::string_view(name_) : std::string_view();
  }
  void set_where(std::source_location where) noexcept { where_ = where; }
  /// Where the task was spawned.
  std::source_location where() const noexcept { return where_; }
  /// The task group told of the task's completion, or null.
  void set_group(GroupLink* group) noexcept { group_ = group; }
  /// The scheduler that runs the task and its coarse clock; set by its spawn before the task
  /// is queued.
  void set_scheduler(Scheduler* s, const CoarseTick* clock) noexcept {
    sched_ = s;
    coarse_ = clock;
  }
  Scheduler* scheduler() const noexcept { return sched_; }
  /// The process-wide unique id the live-task registry gave the task at its spawn.
  std::uint64_t id() const noexcept { return id_; }

  /// The task's task-local values (detail/task_context.hpp), or null. Only the task itself
  /// (and its spawner, before the spawn is published) reads or sets it; set_context takes
  /// over the reference `m` holds and leaves the old map's reference to the caller.
  ContextMap* context() const noexcept { return context_; }
  void set_context(ContextMap* m) noexcept { context_ = m; }

  // ---- references (release: runtime/src/task/completion.cpp) ----

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  /// Drops a reference; the last one destroys the task (and reports an unobserved error).
  void release() noexcept;

  static void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

 private:
  friend class TaskRegistry;  // its links, shard and the id it gives

  static constexpr std::uintptr_t kCompleted = 1;

  enum : std::uint8_t { kNotStarted, kStarted, kInlined };

  // Relaxed stores (plain moves): the dump reads each field on its own.
  void note_wait(const WaitSite& site) noexcept {
    constexpr auto r = std::memory_order_relaxed;
    wait_kind_.store(site.kind, r);
    wait_where_.store(site.where, r);
    wait_task_.store(site.awaited_task, r);
    wait_since_.store(coarse_->tick.load(r), r);
  }

  static constexpr std::uint64_t cancel_bit(unsigned depth) {
    return std::uint64_t{1} << (kCancelShift + depth);
  }
  static bool effective(std::uint64_t s) noexcept {
    unsigned floor = static_cast<unsigned>((s & kFloorMask) >> kFloorShift);
    return (s >> (kCancelShift + floor)) != 0;
  }

  // ---- shared state (atomics) ----
  std::atomic<std::uint64_t> state_{0};
  std::atomic<std::uintptr_t> observer_{0};  // 0, kCompleted, or a Completion*
  std::atomic<std::uint32_t> refs_{2};       // the JoinHandle and the running task
  std::atomic<bool> observed_{false};        // someone took the result or the error
  std::atomic<std::uint8_t> start_{0};       // kNotStarted, kStarted or kInlined (join inlining)
  std::uint8_t depth_ = 0;                   // task-local: current cancel-scope depth
  std::uint8_t reg_shard_ = 0;               // registry shard, fixed at spawn

  // ---- written by the task before publishing a wait, read by the claim winner ----
  Waiter* waiter_ = nullptr;
  std::coroutine_handle<> resume_;
  Waiter* run_hook_ = nullptr;  // task-local: a waiter whose on_run runs instead of resume_

  // ---- the last wait, written by the task at begin_wait, read by the task dump ----
  std::atomic<const char*> wait_kind_{nullptr};
  std::atomic<std::source_location> wait_where_{};
  std::atomic<std::uint64_t> wait_task_{0};
  std::atomic<std::uint64_t> wait_since_{0};
  std::atomic<std::uint64_t> awaited_by_{0};  // written by the awaiting task (note_awaited_by)

  // ---- task-local ----
  std::uint64_t delivered_ = 0;
  ContextMap* context_ = nullptr;  // TaskLocal values (one reference), null if none

  // ---- fixed at spawn ----
  Scheduler* sched_ = nullptr;
  // Never null: a task that is not spawned yet reads this one, which stays at 0.
  const CoarseTick* coarse_ = &kNoTick;
  GroupLink* group_ = nullptr;
  std::coroutine_handle<> root_;
  std::exception_ptr error_;
  char* name_ = nullptr;  // owned copy; nullptr when unnamed (most tasks: no allocation)
  std::source_location where_;
  std::uint64_t id_ = 0;
  TaskHeader* reg_prev_ = nullptr;  // live-task registry, guarded by its shard lock
  TaskHeader* reg_next_ = nullptr;
};

}  // namespace weft::detail
