// The live-task registry: every spawned, unfinished task, so shutdown can cancel them all
// and `live_tasks()` can count them. Sharded intrusive lists, each under a spinlock, so a
// spawn or a completion costs one uncontended lock on the common path.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "weft/runtime/detail/spin_lock.hpp"
#include "weft/runtime/detail/task_header.hpp"

namespace weft::detail {

class TaskRegistry {
 public:
  /// Links `t` and gives it an id. Sequentially consistent with shutdown's phase change.
  void add(TaskHeader* t) noexcept {
    t->id_ = next_id_.fetch_add(1, std::memory_order_relaxed) + 1;
    t->reg_shard_ = static_cast<unsigned>(t->id_ % kShards);
    Shard& s = shards_[t->reg_shard_];
    s.lock.lock();
    t->reg_prev_ = nullptr;
    t->reg_next_ = s.head;
    if (s.head) s.head->reg_prev_ = t;
    s.head = t;
    s.lock.unlock();
    live_.fetch_add(1);
  }

  void remove(TaskHeader* t) noexcept {
    Shard& s = shards_[t->reg_shard_];
    s.lock.lock();
    if (t->reg_prev_) t->reg_prev_->reg_next_ = t->reg_next_;
    else s.head = t->reg_next_;
    if (t->reg_next_) t->reg_next_->reg_prev_ = t->reg_prev_;
    s.lock.unlock();
    if (live_.fetch_sub(1) == 1 && waiters_.load() > 0) {
      std::lock_guard lk(mu_);
      cv_.notify_all();
    }
  }

  /// Every live task, each with a reference the caller must release().
  std::vector<TaskHeader*> snapshot() {
    std::vector<TaskHeader*> out;
    for (Shard& s : shards_) {
      s.lock.lock();
      for (TaskHeader* t = s.head; t; t = t->reg_next_) {
        t->add_ref();
        out.push_back(t);
      }
      s.lock.unlock();
    }
    return out;
  }

  std::size_t live() const noexcept { return live_.load(); }

  /// Waits up to `d` for the registry to become empty; true if it is.
  bool wait_empty_for(std::chrono::milliseconds d) {
    waiters_.fetch_add(1);
    std::unique_lock lk(mu_);
    bool empty = cv_.wait_for(lk, d, [&] { return live_.load() == 0; });
    waiters_.fetch_sub(1);
    return empty;
  }

 private:
  static constexpr unsigned kShards = 16;
  struct alignas(64) Shard {
    SpinLock lock;
    TaskHeader* head = nullptr;
  };
  std::array<Shard, kShards> shards_{};
  std::atomic<std::size_t> live_{0};
  std::atomic<std::uint64_t> next_id_{0};
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace weft::detail
