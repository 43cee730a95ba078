// A timer entry: lives in the frame of whoever waits (a sleep, a timeout scope) and is
// linked into the hierarchical wheel of the worker it was armed on (runtime/src/timer_wheel).
//
// Protocol: linking and unlinking happen under the wheel's lock. When the wheel expires an
// entry it unlinks it and marks it kFiring under the lock, then calls `fire` outside the
// lock. `fire` stores kFired (release) as its last touch of the entry, before it schedules
// anything that could free it; the wheel does not touch the entry after calling `fire`.
// `timer_cancel` on an entry that is kFiring spins until kFired, so the owner may free the
// entry when it returns.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>

#include "weft/runtime/detail/task_header.hpp"

namespace weft::detail {

class TimerWheel;

struct TimerEntry {
  enum : std::uint8_t { kIdle, kLinked, kFiring, kFired };

  TimerEntry* prev = nullptr;
  TimerEntry* next = nullptr;
  std::uint64_t deadline = 0;  // ms tick since the runtime's epoch
  std::uint16_t where = 0;     // level * 64 + slot, or kPendingList once due
  TimerWheel* wheel = nullptr;
  void (*fire)(TimerEntry*) noexcept = nullptr;
  void* context = nullptr;  // for `fire`: the awaiter or scope that owns this entry
  std::atomic<std::uint8_t> state{kIdle};
};

enum class ArmResult { kSuspended, kExpired, kCancelled };

/// Arms `e` on the current worker's wheel for `deadline` and, under the wheel's lock, begins
/// the task's wait (TaskHeader::begin_wait). kExpired: the deadline has passed; kCancelled: a
/// cancellation is pending. Neither suspends. Must be called on a worker.
ArmResult arm_wait_timer(TimerEntry& e, std::uint64_t deadline, TaskHeader* t, Waiter* w,
                         const WaitSite& site, std::coroutine_handle<> h) noexcept;

/// Arms `e` without a wait (timeout scopes). False if the deadline has already passed.
bool arm_timer(TimerEntry& e, std::uint64_t deadline) noexcept;

/// Disarms `e`. True if it was unlinked before firing; false if it fired (its `fire` has
/// returned by the time this does). Any thread.
bool timer_cancel(TimerEntry& e) noexcept;

}  // namespace weft::detail
