// The live-task registry: every spawned, unfinished task, so shutdown can cancel them all
// and `live_tasks()` can count them. Sharded intrusive lists, each under a spinlock, so a
// spawn or a completion costs one uncontended lock on the common path.
//
// The rule: a task is linked by its spawn (Scheduler::submit_new) before it is queued and
// unlinked by its completion (TaskHeader::complete), and its links change only under its
// shard's lock. The registry is the one friend of TaskHeader: it owns the links, the shard
// and the id it gives each task.
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
  /// Links `t` into shard `hint` (a worker's index, so spawns on different workers do not
  /// share a lock) and gives it a process-wide unique id.
  void add(TaskHeader* t, unsigned hint) noexcept {
    t->id_ = next_id();
    t->reg_shard_ = static_cast<std::uint8_t>(hint % kShards);
    Shard& s = shards_[t->reg_shard_];
    s.lock.lock();
    t->reg_prev_ = nullptr;
    t->reg_next_ = s.head;
    if (s.head) s.head->reg_prev_ = t;
    s.head = t;
    ++s.count;
    ++s.added;
    s.lock.unlock();
  }

  void remove(TaskHeader* t) noexcept {
    Shard& s = shards_[t->reg_shard_];
    s.lock.lock();
    if (t->reg_prev_)
      t->reg_prev_->reg_next_ = t->reg_next_;
    else
      s.head = t->reg_next_;
    if (t->reg_next_) t->reg_next_->reg_prev_ = t->reg_prev_;
    bool emptied = --s.count == 0;
    ++s.removed;
    s.lock.unlock();
    if (emptied && waiters_.load(std::memory_order_acquire) > 0) {
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

  /// Number of live tasks. Taking each shard's lock orders this against add(): a spawn
  /// whose add() this count missed runs its phase check after the count (shutdown relies
  /// on it).
  std::size_t live() const noexcept {
    std::size_t n = 0;
    for (const Shard& s : shards_) {
      s.lock.lock();
      n += s.count;
      s.lock.unlock();
    }
    return n;
  }

  /// Calls `f(*t)` under its shard's lock if `t` is a live task (linked): its fields stay
  /// valid meanwhile, however its poll goes. True if found. `t` is only compared, never
  /// dereferenced otherwise, so it may be stale. O(live tasks): for the rare diagnostic.
  template <class F>
  bool with_live(const TaskHeader* t, F&& f) const {
    if (!t) return false;
    for (const Shard& s : shards_) {
      s.lock.lock();
      for (const TaskHeader* x = s.head; x; x = x->reg_next_) {
        if (x == t) {
          f(*x);
          s.lock.unlock();
          return true;
        }
      }
      s.lock.unlock();
    }
    return false;
  }

  /// Tasks linked and unlinked since the registry was built, and linked now (metrics).
  struct Counts {
    std::uint64_t added = 0;
    std::uint64_t removed = 0;
    std::size_t live = 0;
  };
  Counts counts() const noexcept {
    Counts c;
    for (const Shard& s : shards_) {
      s.lock.lock();
      c.added += s.added;
      c.removed += s.removed;
      c.live += s.count;
      s.lock.unlock();
    }
    return c;
  }

  /// Waits up to `d` for the registry to become empty; true if it is.
  bool wait_empty_for(std::chrono::milliseconds d) {
    waiters_.fetch_add(1);
    std::unique_lock lk(mu_);
    bool empty = cv_.wait_for(lk, d, [&] { return live() == 0; });
    waiters_.fetch_sub(1);
    return empty;
  }

 private:
  static constexpr unsigned kShards = 16;
  struct alignas(64) Shard {
    mutable SpinLock lock;
    TaskHeader* head = nullptr;
    std::size_t count = 0;
    std::uint64_t added = 0;  // since the registry was built
    std::uint64_t removed = 0;
  };

  static std::uint64_t next_id() noexcept {
    // Ids come in per-thread blocks, so a spawn costs no shared atomic for its id.
    static std::atomic<std::uint64_t> g_next{1};
    constexpr std::uint64_t kBlock = 1024;
    thread_local std::uint64_t next = 0, end = 0;
    if (next == end) {
      next = g_next.fetch_add(kBlock, std::memory_order_relaxed);
      end = next + kBlock;
    }
    return next++;
  }

  std::array<Shard, kShards> shards_{};
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace weft::detail
