// The elastic blocking pool behind to_thread (and, later, files and DNS): threads are
// created on demand up to a cap and retire after sitting idle for the keep-alive. Jobs are
// intrusive (they live in the awaiting frame), queued FIFO under one mutex: the pool is
// for calls that block for microseconds to seconds, where a mutex costs nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "weft/runtime/detail/blocking_job.hpp"

namespace weft::detail {

class Scheduler;

class BlockingPool {
 public:
  /// `owner` is the scheduler whose pool this is: current_owner() on the pool's threads.
  BlockingPool(std::size_t max_threads, std::chrono::milliseconds keep_alive, std::string name,
               Scheduler* owner);
  ~BlockingPool();

  /// Queues `job`; starts a thread if none is idle and the cap allows. Any thread.
  void submit(BlockingJob* job);
  /// Runs every queued job, then joins every thread. Further submits run inline.
  void shutdown();
  /// Threads alive now.
  std::size_t threads() const;
  /// What the pool holds now, and the jobs submitted since it was built (metrics). Any
  /// thread.
  struct Stats {
    std::size_t threads = 0;  // alive
    std::size_t idle = 0;     // of which waiting for a job
    std::size_t queued = 0;   // jobs waiting for a thread
    std::uint64_t submitted = 0;
  };
  Stats stats() const;
  /// The owner of the pool whose thread calls this; nullptr on any other thread.
  static Scheduler* current_owner() noexcept;

 private:
  void thread_main(std::list<std::thread>::iterator self);
  void reap_locked();

  const std::size_t max_threads_;
  const std::chrono::milliseconds keep_alive_;
  const std::string name_;
  Scheduler* const owner_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  BlockingJob* head_ = nullptr;
  BlockingJob* tail_ = nullptr;
  std::size_t idle_ = 0;
  std::size_t alive_ = 0;
  std::size_t queued_ = 0;
  std::uint64_t submitted_ = 0;
  bool shutdown_ = false;
  std::list<std::thread> threads_;
  std::list<std::thread> retired_;
};

}  // namespace weft::detail
