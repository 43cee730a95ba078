// Work handed off the workers: the blocking pool (to_thread, spawn_blocking) and the oneTBB
// arena (offload).
//
// The rule: a job is counted (jobs_) from its submit until its job_finished, the job's last
// touch of the scheduler. Jobs cross to the arena through one queue under offload_mu_, and
// each arena task runs the oldest one.
// The guarantee: shutdown stops the workers only once the count is zero, and the virtual
// clock holds still while it is not.
#include <memory>
#include <mutex>

#include "scheduler/scheduler.hpp"
#include "weft/runtime/detail/blocking_job.hpp"

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace weft::detail {

namespace {

// oneTBB (libtbb) is not built with ThreadSanitizer, so the hand-off of a task to an arena
// thread is invisible to it; these make that hand-off an edge it can see.
inline void tsan_release([[maybe_unused]] void* addr) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(addr);
#endif
}
inline void tsan_acquire([[maybe_unused]] void* addr) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(addr);
#endif
}

}  // namespace

void Scheduler::submit_blocking(BlockingJob* job) {
  jobs_.fetch_add(1);
  pool_.submit(job);
}

void Scheduler::submit_offload(BlockingJob* job) {
  std::call_once(arena_once_, [this] {
    arena_ = std::make_unique<tbb::task_arena>();
    arena_->initialize();
  });
  jobs_.fetch_add(1);
  offload_jobs_.fetch_add(1, std::memory_order_relaxed);
  {
    // Jobs cross to the arena through this queue, each arena task runs the oldest one.
    std::lock_guard lk(offload_mu_);
    job->next = nullptr;
    (offload_tail_ ? offload_tail_->next : offload_head_) = job;
    offload_tail_ = job;
  }
  tsan_release(&offload_mu_);
  arena_->enqueue([this] {
    tsan_acquire(&offload_mu_);
    BlockingJob* j;
    {
      std::lock_guard lk(offload_mu_);
      j = offload_head_;
      offload_head_ = j->next;
      if (!offload_head_) offload_tail_ = nullptr;
    }
    j->run(j);
  });
}

// The job's last touch of the scheduler: shutdown waits for the count to reach zero.
void Scheduler::job_finished() noexcept {
  jobs_.fetch_sub(1);
}

void submit_blocking(TaskHeader* t, BlockingJob* job) {
  t->scheduler()->submit_blocking(job);
}
void submit_blocking(Scheduler* s, BlockingJob* job) {
  s->submit_blocking(job);
}

void submit_offload(TaskHeader* t, BlockingJob* job) {
  t->scheduler()->submit_offload(job);
}
void job_finished(Scheduler* s) noexcept {
  s->job_finished();
}

}  // namespace weft::detail
