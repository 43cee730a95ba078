// A worker's local run queue: a bounded (256) single-producer, multi-consumer ring.
//
// The owner pushes at the tail and pops at the head (FIFO); other workers steal half of it
// at once. `head_` packs two 32-bit indices: `steal` (where the current steal began) and
// `real` (the next task to pop). When no steal is in flight they are equal. A stealer first
// advances `real` past the tasks it takes (so the owner cannot pop them), copies them into
// its own queue, then sets `steal = real` to say it is done; while steal != real no other
// stealer starts, and the owner cannot move tasks to the injection queue on overflow.
// Indices are free-running u32 and wrap; the buffer index is `i & kMask`.
// (The algorithm is Tokio's queue.rs, written afresh for C++.)
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "weft/runtime/detail/task_header.hpp"

namespace weft::detail {

class LocalQueue {
 public:
  static constexpr std::uint32_t kCapacity = 256;
  static constexpr std::uint32_t kMask = kCapacity - 1;

  /// Owner only. Pushes `t`; when full, moves half of the queue plus `t` to `overflow`
  /// (a callable taking (TaskHeader** tasks, size_t n)).
  template <class Overflow>
  void push_back(TaskHeader* t, Overflow&& overflow) noexcept {
    for (;;) {
      std::uint64_t head = head_.load(std::memory_order_acquire);
      auto [steal, real] = unpack(head);
      std::uint32_t tail = tail_.load(std::memory_order_relaxed);  // we are the only writer
      if (tail - steal < kCapacity) {
        buffer_[tail & kMask].store(t, std::memory_order_relaxed);
        // Release: the slot's contents happen-before a stealer's/owner's read of tail.
        tail_.store(tail + 1, std::memory_order_release);
        return;
      }
      if (steal != real) {
        // A stealer is taking tasks right now; the queue will have room shortly.
        TaskHeader* one[1] = {t};
        overflow(one, 1);
        return;
      }
      if (push_overflow(t, real, overflow)) return;
      // Lost a race with a stealer; retry.
    }
  }

  /// Owner only. The next task, FIFO, or nullptr.
  TaskHeader* pop() noexcept {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    for (;;) {
      auto [steal, real] = unpack(head);
      std::uint32_t tail = tail_.load(std::memory_order_relaxed);
      if (real == tail) return nullptr;
      std::uint32_t next_real = real + 1;
      std::uint64_t next = steal == real ? pack(next_real, next_real) : pack(steal, next_real);
      // AcqRel: claims the slot against stealers (which CAS the same word).
      if (head_.compare_exchange_weak(head, next, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return buffer_[real & kMask].load(std::memory_order_relaxed);
      }
    }
  }

  /// Called by another worker that owns `dst` (which must be empty): moves half of this
  /// queue into `dst` and returns one of the stolen tasks, or nullptr.
  TaskHeader* steal_into(LocalQueue& dst) noexcept {
    std::uint32_t dst_tail = dst.tail_.load(std::memory_order_relaxed);
    std::uint32_t dst_steal = unpack(dst.head_.load(std::memory_order_acquire)).steal;
    if (dst_tail - dst_steal > kCapacity / 2) return nullptr;  // no room to steal into
    std::uint32_t n = steal_half_into(dst, dst_tail);
    if (n == 0) return nullptr;
    --n;
    TaskHeader* ret = dst.buffer_[(dst_tail + n) & kMask].load(std::memory_order_relaxed);
    if (n > 0) dst.tail_.store(dst_tail + n, std::memory_order_release);
    return ret;
  }

  /// Approximate number of queued tasks (exact for the owner).
  std::uint32_t size() const noexcept {
    std::uint32_t real = unpack(head_.load(std::memory_order_acquire)).real;
    return tail_.load(std::memory_order_acquire) - real;
  }
  bool empty() const noexcept { return size() == 0; }

  /// Owner only: how many tasks it has pushed here (a free-running count, the tail index).
  std::uint32_t pushed() const noexcept { return tail_.load(std::memory_order_relaxed); }
  /// Owner only: the task it pushed as number `i` of pushed(), unless that slot was reused
  /// since. Only to compare with: the task may have been popped, stolen or ended meanwhile.
  const TaskHeader* pushed_at(std::uint32_t i) const noexcept {
    return buffer_[i & kMask].load(std::memory_order_relaxed);
  }

 private:
  struct Pair {
    std::uint32_t steal, real;
  };
  static Pair unpack(std::uint64_t v) noexcept {
    return {static_cast<std::uint32_t>(v >> 32), static_cast<std::uint32_t>(v)};
  }
  static std::uint64_t pack(std::uint32_t steal, std::uint32_t real) noexcept {
    return (std::uint64_t{steal} << 32) | real;
  }

  template <class Overflow>
  bool push_overflow(TaskHeader* t, std::uint32_t head, Overflow&& overflow) noexcept {
    constexpr std::uint32_t kHalf = kCapacity / 2;
    std::uint64_t expected = pack(head, head);
    // Claim the oldest half; fails if a stealer got there first.
    if (!head_.compare_exchange_strong(expected, pack(head + kHalf, head + kHalf),
                                       std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return false;
    }
    std::array<TaskHeader*, kHalf + 1> batch;
    for (std::uint32_t i = 0; i < kHalf; ++i) {
      batch[i] = buffer_[(head + i) & kMask].load(std::memory_order_relaxed);
    }
    batch[kHalf] = t;
    overflow(batch.data(), batch.size());
    return true;
  }

  std::uint32_t steal_half_into(LocalQueue& dst, std::uint32_t dst_tail) noexcept {
    std::uint64_t prev = head_.load(std::memory_order_acquire);
    std::uint32_t n, from;
    std::uint64_t next;
    for (;;) {
      auto [src_steal, src_real] = unpack(prev);
      if (src_steal != src_real) return 0;  // another stealer is active
      std::uint32_t src_tail = tail_.load(std::memory_order_acquire);
      n = src_tail - src_real;
      n -= n / 2;
      if (n == 0) return 0;
      from = src_real;
      next = pack(src_steal, src_real + n);
      // AcqRel: claims [real, real+n) against the owner's pop and other stealers.
      if (head_.compare_exchange_weak(prev, next, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        break;
      }
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      TaskHeader* t = buffer_[(from + i) & kMask].load(std::memory_order_relaxed);
      dst.buffer_[(dst_tail + i) & kMask].store(t, std::memory_order_relaxed);
    }
    // Done: set steal = real so the owner may overflow and others may steal again.
    prev = next;
    for (;;) {
      std::uint32_t real = unpack(prev).real;
      if (head_.compare_exchange_weak(prev, pack(real, real), std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return n;
      }
    }
  }

  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  alignas(64) std::array<std::atomic<TaskHeader*>, kCapacity> buffer_{};
};

}  // namespace weft::detail
