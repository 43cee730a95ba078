// io_uring for weft::fs: one ring per worker thread, completions delivered by the reactor.
//
// ## The ring
// Each worker thread makes its ring the first time one of its tasks submits (256 SQEs, 1024
// CQEs; at most 1024 operations in flight, beyond which a call uses the pool instead, so the
// CQ never overflows). A mutex guards the ring: the submission queue, the completion queue and
// the ring's waiter state, so a task that moved to another worker may still reap its ring.
// The ring's eventfd (io_uring_register_eventfd) is an IoRegistration: the reactor of the
// worker where it was first waited on reports its readiness. The eventfd is switched on only
// while a task waits on it (IORING_CQ_EVENTFD_DISABLED otherwise), so operations that complete
// while being submitted — a buffered read or write that finds its pages in the cache — wake
// no worker.
//
// ## Waiting: one leader, many followers
// An operation (UringOp, in the awaiting frame; its address is the SQE's user_data) is
// submitted, and the completion queue is reaped at once, under the lock. If it has not
// completed, its task waits in one of two roles:
//   - the *leader* (at most one per ring) waits on the eventfd's readiness; on each wake it
//     reaps every completion, resuming their tasks, until its own operation is done; then it
//     hands the role on by resuming one follower, which becomes the next leader;
//   - a *follower* waits on its UringOp, a forwarding wait (as to_thread's) that only the
//     reaper claims, when the operation completes or when the follower is promoted.
// A follower publishes its wait held (begin_wait with hold), and links itself under the lock
// only if the operation is still pending and a leader exists, so a completion is never missed
// and the ring is never left without a leader while operations wait. Reapers claim and
// schedule woken tasks after releasing the lock.
//
// ## Cancellation
// The kernel may write into the operation's buffer until its completion arrives, so an
// in-flight operation is never abandoned: the whole wait runs inside a shield (the leader's
// eventfd wait is otherwise a cancellation point), and a cancellation is delivered as
// CancelledError only after the completion (the same contract as to_thread). A task cancelled
// before it submits never submits.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include <weft/runtime/task.hpp>

#include "sys.hpp"

namespace weft::fs::detail {

class Ring;

/// One operation for the ring.
struct UringRequest {
  enum class Kind { Open, Read, Write, Fsync, Close };
  Kind kind = Kind::Read;
  int fd = -1;
  void* buf = nullptr;
  unsigned len = 0;
  std::int64_t offset = -1;  ///< Read/Write: -1 is the file position
  const char* path = nullptr;
  int flags = 0;  ///< Open: open(2) flags; Fsync: IORING_FSYNC_DATASYNC or 0
  mode_t mode = 0;
};

/// What the ring answered, and whether a cancellation arrived while it was in flight (it
/// is then consumed: the caller raises CancelledError after its cleanup).
struct UringOutcome {
  SysResult result;
  bool cancelled = false;
};

/// True if io_uring works in this process (probed once). Any thread.
bool uring_probe() noexcept;

/// This worker thread's ring, made on first use; nullptr off a worker or where io_uring cannot
/// be set up (the caller uses the pool).
Ring* worker_ring() noexcept;

/// Runs `req` on `ring` and waits for its completion (see the top of this file). nullopt: the
/// ring is full and nothing was submitted. Throws CancelledError, without submitting, if the
/// task was cancelled before.
Task<std::optional<UringOutcome>> uring_call(Ring* ring, UringRequest req);

}  // namespace weft::fs::detail
