// A unit of work for the blocking pool or the CPU arena, living in the awaiting frame.
#pragma once

namespace weft::detail {

class TaskHeader;
class Scheduler;

struct BlockingJob {
  void (*run)(BlockingJob*) noexcept = nullptr;
  BlockingJob* next = nullptr;
};

/// Runs `job` on the blocking pool of `t`'s runtime. Any thread.
void submit_blocking(TaskHeader* t, BlockingJob* job);
/// Runs `job` on `s`'s blocking pool; the job calls job_finished(s) last. Any thread.
void submit_blocking(Scheduler* s, BlockingJob* job);
/// The scheduler of the runtime whose worker this thread is; nullptr on any other thread
/// (a plain thread, a blocking-pool thread, the oneTBB arena).
Scheduler* worker_scheduler() noexcept;
/// Runs `job` in the runtime's oneTBB arena (CPU work that may use tbb::parallel_for).
void submit_offload(TaskHeader* t, BlockingJob* job);
/// Marks the end of a job's run, called after it has scheduled its task (so with the
/// scheduler read before that): the virtual clock may advance once no job is in flight, and
/// shutdown waits for every job to have finished.
void job_finished(Scheduler* s) noexcept;

}  // namespace weft::detail
