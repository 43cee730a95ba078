// The elastic blocking pool (blocking_pool.hpp).
#include "blocking/blocking_pool.hpp"

#include <pthread.h>

namespace weft::detail {

namespace {
thread_local Scheduler* tls_pool_owner = nullptr;  // set for the life of a pool thread
}  // namespace

BlockingPool::BlockingPool(std::size_t max_threads, std::chrono::milliseconds keep_alive,
                           std::string name, Scheduler* owner)
    : max_threads_(max_threads), keep_alive_(keep_alive), name_(std::move(name)), owner_(owner) {}

Scheduler* BlockingPool::current_owner() noexcept {
  return tls_pool_owner;
}

BlockingPool::~BlockingPool() {
  shutdown();
}

void BlockingPool::submit(BlockingJob* job) {
  std::unique_lock lk(mu_);
  if (shutdown_) {
    lk.unlock();
    job->run(job);
    return;
  }
  job->next = nullptr;
  if (tail_)
    tail_->next = job;
  else
    head_ = job;
  tail_ = job;
  ++queued_;
  ++submitted_;
  reap_locked();
  if (idle_ > 0) {
    cv_.notify_one();
    return;
  }
  if (alive_ < max_threads_) {
    ++alive_;
    threads_.emplace_back();
    auto it = std::prev(threads_.end());
    *it = std::thread([this, it] { thread_main(it); });
  }
  // Otherwise the job waits for a busy thread to come back for it.
}

void BlockingPool::thread_main(std::list<std::thread>::iterator self) {
  std::string n = name_.substr(0, 15);
  ::pthread_setname_np(::pthread_self(), n.c_str());
  tls_pool_owner = owner_;
  std::unique_lock lk(mu_);
  for (;;) {
    while (!head_) {
      if (shutdown_) {
        --alive_;
        return;
      }
      ++idle_;
      bool woke = cv_.wait_for(lk, keep_alive_, [&] { return head_ || shutdown_; });
      --idle_;
      if (!woke) {
        // Idle for the whole keep-alive: retire. Someone else joins this thread.
        --alive_;
        retired_.splice(retired_.end(), threads_, self);
        return;
      }
    }
    BlockingJob* job = head_;
    head_ = job->next;
    if (!head_) tail_ = nullptr;
    --queued_;
    lk.unlock();
    job->run(job);
    lk.lock();
  }
}

void BlockingPool::reap_locked() {
  // Retired threads have returned (or are about to); joining them is quick.
  for (auto& t : retired_) {
    if (t.joinable()) t.join();
  }
  retired_.clear();
}

void BlockingPool::shutdown() {
  std::list<std::thread> all;
  {
    std::lock_guard lk(mu_);
    shutdown_ = true;
    cv_.notify_all();
    all.splice(all.end(), threads_);
    all.splice(all.end(), retired_);
  }
  for (auto& t : all) {
    if (t.joinable()) t.join();
  }
}

std::size_t BlockingPool::threads() const {
  std::lock_guard lk(mu_);
  return alive_;
}

BlockingPool::Stats BlockingPool::stats() const {
  std::lock_guard lk(mu_);
  return {.threads = alive_, .idle = idle_, .queued = queued_, .submitted = submitted_};
}

}  // namespace weft::detail
