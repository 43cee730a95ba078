// The per-worker io_uring rings of weft::fs and the leader/follower wait (uring.hpp).
#include "uring.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <coroutine>
#include <memory>
#include <mutex>
#include <source_location>
#include <system_error>

#include <weft/runtime/budget.hpp>
#include <weft/runtime/detail/context.hpp>
#include <weft/runtime/detail/task_header.hpp>
#include <weft/runtime/errors.hpp>
#include <weft/runtime/io.hpp>
#include <weft/runtime/runtime.hpp>
#include <weft/runtime/time.hpp>

namespace weft::fs::detail {

namespace {

using weft::detail::TaskHeader;
using weft::detail::WaitResult;

constexpr unsigned kSqEntries = 256;
constexpr unsigned kCqEntries = 1024;

/// Sets up a ring with the CQ size weft uses; false (and nothing to clean up) on failure.
bool init_ring(io_uring* ring) noexcept {
  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE;
  p.cq_entries = kCqEntries;
  if (io_uring_queue_init_params(kSqEntries, ring, &p) < 0) return false;
  // Reads and writes at the file position (offset -1), and no completion ever dropped.
  const unsigned need = IORING_FEAT_RW_CUR_POS | IORING_FEAT_NODROP;
  if ((p.features & need) != need) {
    io_uring_queue_exit(ring);
    return false;
  }
  return true;
}

bool opcodes_supported(io_uring* ring) noexcept {
  io_uring_probe* probe = io_uring_get_probe_ring(ring);
  if (!probe) return false;
  bool ok = true;
  for (int op :
       {IORING_OP_OPENAT, IORING_OP_READ, IORING_OP_WRITE, IORING_OP_FSYNC, IORING_OP_CLOSE}) {
    ok = ok && io_uring_opcode_supported(probe, op);
  }
  io_uring_free_probe(probe);
  return ok;
}

}  // namespace

/// One in-flight operation, in the awaiting frame. The fields below `task` are guarded by
/// the ring's mutex.
struct UringOp : weft::detail::Waiter {
  TaskHeader* task = nullptr;
  int res = 0;
  bool done = false;
  bool follower = false;  // linked in the ring's follower list
  UringOp* prev = nullptr;
  UringOp* next = nullptr;
  UringOp* wake_next = nullptr;  // a reaper's private list of tasks to resume
};

class Ring {
 public:
  /// A new ring, or nullptr if io_uring or its eventfd cannot be set up here.
  static std::unique_ptr<Ring> create() noexcept;
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  /// Submits `req` for `op`; false if the ring is full (nothing submitted). Reaps at once:
  /// `op.done` may be true on return.
  bool submit(UringOp& op, const UringRequest& req);
  /// Becomes the leader unless `op` is done or another task leads. True: lead now.
  bool take_leadership_or_done(UringOp& op, bool& done);
  /// The leader's loop: reaps on each eventfd wake until `op` is done, then hands on.
  Task<void> lead(UringOp& op);

  class FollowAwaiter;

 private:
  Ring() = default;
  void reap_locked(UringOp*& wake) noexcept;
  void link_follower_locked(UringOp* op) noexcept;
  void unlink_follower_locked(UringOp* op) noexcept;
  void promote_locked(UringOp*& wake) noexcept;
  void set_eventfd_locked(bool on) noexcept;
  static void wake_all(UringOp* wake) noexcept;

  io_uring ring_{};
  int efd_ = -1;
  IoRegistration reg_;
  std::mutex mu_;
  bool leader_ = false;      // guarded by mu_
  bool eventfd_on_ = false;  // guarded by mu_
  bool reg_usable_ = true;   // the leader's: false once adding the eventfd to an epoll failed
  unsigned inflight_ = 0;    // guarded by mu_
  UringOp* followers_head_ = nullptr;  // guarded by mu_
  UringOp* followers_tail_ = nullptr;
};

std::unique_ptr<Ring> Ring::create() noexcept {
  std::unique_ptr<Ring> r(new (std::nothrow) Ring());
  if (!r) return nullptr;
  if (!init_ring(&r->ring_)) return nullptr;
  r->efd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r->efd_ < 0 || io_uring_register_eventfd(&r->ring_, r->efd_) < 0) {
    if (r->efd_ >= 0) ::close(r->efd_);
    io_uring_queue_exit(&r->ring_);
    return nullptr;
  }
  io_uring_cq_eventfd_toggle(&r->ring_, false);
  r->reg_ = IoRegistration(r->efd_);
  return r;
}

Ring::~Ring() {
  // Only at the worker thread's exit, after its runtime finished every task: nothing is in
  // flight and nobody waits on the eventfd.
  reg_.reset();
  io_uring_queue_exit(&ring_);
  ::close(efd_);
}

bool Ring::submit(UringOp& op, const UringRequest& req) {
  UringOp* wake = nullptr;
  {
    std::lock_guard lk(mu_);
    if (inflight_ >= kCqEntries) return false;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
      if (!sqe) return false;
    }
    switch (req.kind) {
      case UringRequest::Kind::Open:
        io_uring_prep_openat(sqe, AT_FDCWD, req.path, req.flags | O_CLOEXEC, req.mode);
        break;
      case UringRequest::Kind::Read:
        io_uring_prep_read(sqe, req.fd, req.buf, req.len, static_cast<__u64>(req.offset));
        break;
      case UringRequest::Kind::Write:
        io_uring_prep_write(sqe, req.fd, req.buf, req.len, static_cast<__u64>(req.offset));
        break;
      case UringRequest::Kind::Fsync:
        io_uring_prep_fsync(sqe, req.fd, static_cast<unsigned>(req.flags));
        break;
      case UringRequest::Kind::Close:
        io_uring_prep_close(sqe, req.fd);
        break;
    }
    io_uring_sqe_set_data(sqe, &op);
    ++inflight_;
    // A failed submit leaves the SQE queued: the next submit or the leader sends it.
    io_uring_submit(&ring_);
    reap_locked(wake);
  }
  wake_all(wake);
  return true;
}

bool Ring::take_leadership_or_done(UringOp& op, bool& done) {
  std::lock_guard lk(mu_);
  done = op.done;
  if (done || leader_) return false;
  leader_ = true;
  return true;
}

void Ring::reap_locked(UringOp*& wake) noexcept {
  io_uring_cqe* cqe;
  unsigned head;
  unsigned seen = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    auto* op = static_cast<UringOp*>(io_uring_cqe_get_data(cqe));
    op->res = cqe->res;
    op->done = true;
    --inflight_;
    ++seen;
    if (op->follower) {
      unlink_follower_locked(op);
      op->wake_next = wake;
      wake = op;
    }
  }
  io_uring_cq_advance(&ring_, seen);
}

void Ring::link_follower_locked(UringOp* op) noexcept {
  op->follower = true;
  op->next = nullptr;
  op->prev = followers_tail_;
  (followers_tail_ ? followers_tail_->next : followers_head_) = op;
  followers_tail_ = op;
}

void Ring::unlink_follower_locked(UringOp* op) noexcept {
  (op->prev ? op->prev->next : followers_head_) = op->next;
  (op->next ? op->next->prev : followers_tail_) = op->prev;
  op->prev = op->next = nullptr;
  op->follower = false;
}

void Ring::promote_locked(UringOp*& wake) noexcept {
  if (UringOp* op = followers_head_) {
    unlink_follower_locked(op);  // not done: done ones left the list when reaped
    op->wake_next = wake;
    wake = op;
  }
}

void Ring::set_eventfd_locked(bool on) noexcept {
  if (eventfd_on_ == on) return;
  io_uring_cq_eventfd_toggle(&ring_, on);
  eventfd_on_ = on;
}

void Ring::wake_all(UringOp* wake) noexcept {
  while (wake) {
    UringOp* op = wake;
    wake = op->wake_next;  // read first: the frame may be gone once the task runs
    // A follower's wait forwards cancellation and only a reaper claims it, so the claim
    // succeeds (after the follower's hold, if it is still registering).
    if (op->task->try_claim()) weft::detail::schedule(op->task);
  }
}

Task<void> Ring::lead(UringOp& op) {
  for (;;) {
    const std::uint32_t seq = reg_.ready_seq(Interest::kRead);  // before reaping
    UringOp* wake = nullptr;
    bool done;
    bool unsent;
    {
      std::lock_guard lk(mu_);
      set_eventfd_locked(true);  // before reaping: a later completion signals the eventfd
      if (io_uring_sq_ready(&ring_) > 0) io_uring_submit(&ring_);
      reap_locked(wake);
      unsent = io_uring_sq_ready(&ring_) > 0;
      done = op.done;
      if (done) {
        leader_ = false;
        set_eventfd_locked(false);
        promote_locked(wake);
      }
    }
    wake_all(wake);
    if (done) co_return;
    if (unsent || !reg_usable_) {
      // Submission failed for want of kernel resources, or the eventfd could not join an
      // epoll: poll the ring between the other tasks instead of waiting.
      co_await yield_now();
      continue;
    }
    try {
      co_await reg_.wait(Interest::kRead, seq);
    } catch (const std::system_error&) {
      reg_usable_ = false;
    }
  }
}

/// A follower's wait (see the top of uring.hpp): resumes when its operation completes, or
/// when the leader hands it the role; at once if either already happened.
class Ring::FollowAwaiter {
 public:
  FollowAwaiter(Ring& ring, UringOp& op) noexcept : ring_(ring), op_(op) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current()) noexcept {
    TaskHeader* t = op_.task;
    op_.on_forward = [](weft::detail::Waiter*) noexcept {};  // wait for the completion
    // Held: nobody claims it before it is linked, and it forwards (never kCancelled).
    t->begin_wait(&op_, h, /*forwarding=*/true, {"file io", where}, /*hold=*/true);
    {
      std::lock_guard lk(ring_.mu_);
      if (op_.done || !ring_.leader_) {
        t->abandon_held_wait();
        return false;
      }
      ring_.link_follower_locked(&op_);
    }
    if (t->end_hold() == WaitResult::kSuspendedMustForward) t->end_forward();
    return true;  // published: the frame is not touched again
  }
  void await_resume() const noexcept {}

 private:
  Ring& ring_;
  UringOp& op_;
};

bool uring_probe() noexcept {
  static const bool ok = [] {
    io_uring ring{};
    if (!init_ring(&ring)) return false;
    const bool supported = opcodes_supported(&ring);
    io_uring_queue_exit(&ring);
    return supported;
  }();
  return ok;
}

Ring* worker_ring() noexcept {
  struct Slot {
    std::unique_ptr<Ring> ring;
    bool tried = false;
  };
  thread_local Slot slot;
  if (!slot.tried) {
    if (!weft::in_runtime()) return nullptr;  // rings belong to worker threads only
    slot.tried = true;
    if (uring_probe()) slot.ring = Ring::create();
  }
  return slot.ring.get();
}

Task<std::optional<UringOutcome>> uring_call(Ring* ring, UringRequest req) {
  TaskHeader& task = weft::detail::require_task("weft::fs");
  if (task.take_cancel()) throw CancelledError();  // never submit
  UringOp op;
  op.task = &task;
  if (!ring->submit(op, req)) co_return std::nullopt;
  bool done = false;
  {
    // Outer cancellation waits for the completion (the kernel owns the buffer until then).
    struct Shield {
      TaskHeader& task;
      unsigned floor;
      ~Shield() { task.pop_shield(floor); }
    } shield{task, task.push_shield()};
    for (;;) {
      if (ring->take_leadership_or_done(op, done)) {
        co_await ring->lead(op);
        break;
      }
      if (done) break;
      co_await Ring::FollowAwaiter(*ring, op);
    }
  }
  if (done) co_await consume_budget();  // completed without waiting: share the worker
  UringOutcome out;
  out.result = op.res >= 0 ? SysResult{op.res, 0} : SysResult{0, -op.res};
  out.cancelled = task.take_cancel();
  co_return out;
}

}  // namespace weft::fs::detail
