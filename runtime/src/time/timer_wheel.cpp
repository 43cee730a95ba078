// Hierarchical timer wheel; see timer_wheel.hpp.
#include "time/timer_wheel.hpp"

#include <algorithm>
#include <bit>
#include <utility>

#include "scheduler/scheduler.hpp"

namespace weft::detail {

namespace {
constexpr std::uint16_t kPendingList = 0xffff;
}  // namespace

unsigned TimerWheel::level_for(std::uint64_t elapsed, std::uint64_t when) noexcept {
  std::uint64_t masked = (elapsed ^ when) | (kSlots - 1);
  if (masked >= kMaxTick) masked = kMaxTick - 1;
  unsigned significant = 63u - static_cast<unsigned>(std::countl_zero(masked));
  return significant / 6;
}

void TimerWheel::List::push_back(TimerEntry& e) noexcept {
  e.next = nullptr;
  e.prev = tail;
  if (tail)
    tail->next = &e;
  else
    head = &e;
  tail = &e;
}

void TimerWheel::List::erase(TimerEntry& e) noexcept {
  if (e.prev)
    e.prev->next = e.next;
  else
    head = e.next;
  if (e.next)
    e.next->prev = e.prev;
  else
    tail = e.prev;
  e.prev = e.next = nullptr;
}

TimerEntry* TimerWheel::List::pop_front() noexcept {
  TimerEntry* e = head;
  if (e) erase(*e);
  return e;
}

void TimerWheel::push_slot(TimerEntry& e) noexcept {
  std::uint64_t when = e.deadline;
  if (when - elapsed_ >= kMaxTick) when = elapsed_ + kMaxTick - 1;  // clamped; re-linked later
  unsigned level = level_for(elapsed_, when);
  unsigned slot = static_cast<unsigned>((when >> (6 * level)) & (kSlots - 1));
  Level& lv = levels_[level];
  e.where = static_cast<std::uint16_t>(level * kSlots + slot);
  lv.slots[slot].push_back(e);
  lv.occupied |= std::uint64_t{1} << slot;
}

bool TimerWheel::link_locked(TimerEntry& e) noexcept {
  if (e.deadline <= elapsed_) return false;
  push_slot(e);  // e.wheel was set by the arming code, before any other thread can see e
  e.state.store(TimerEntry::kLinked, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void TimerWheel::unlink_locked(TimerEntry& e) noexcept {
  if (e.where == kPendingList) {
    pending_.erase(e);
  } else {
    List& l = levels_[e.where / kSlots].slots[e.where % kSlots];
    l.erase(e);
    if (!l.head) levels_[e.where / kSlots].occupied &= ~(std::uint64_t{1} << (e.where % kSlots));
  }
  count_.fetch_sub(1, std::memory_order_relaxed);
}

std::optional<TimerWheel::Due> TimerWheel::next_due_locked() const noexcept {
  // The first occupied level holds the earliest slot: an entry sits at the level of the
  // highest bit in which its deadline differs from elapsed_. Within a level, the first
  // occupied slot at or after the current one. Only the top level wraps (deadlines up to a
  // full span ahead, and clamped ones), so there every occupied slot is considered.
  for (unsigned level = 0; level < kLevels; ++level) {
    const Level& lv = levels_[level];
    if (!lv.occupied) continue;
    const std::uint64_t slot_range = std::uint64_t{1} << (6 * level);
    const std::uint64_t level_range = slot_range << 6;
    const std::uint64_t level_start = elapsed_ & ~(level_range - 1);
    auto deadline_of = [&](unsigned slot) {
      std::uint64_t d = level_start + slot * slot_range;
      return d <= elapsed_ ? d + level_range : d;  // wrapped: the next turn of the top level
    };
    if (level + 1 < kLevels) {
      const unsigned now_slot = static_cast<unsigned>((elapsed_ >> (6 * level)) & (kSlots - 1));
      const unsigned zeros = static_cast<unsigned>(
          std::countr_zero(std::rotr(lv.occupied, static_cast<int>(now_slot))));
      const unsigned slot = (zeros + now_slot) % kSlots;
      return Due{deadline_of(slot), level, slot};
    }
    std::optional<Due> best;
    for (std::uint64_t bits = lv.occupied; bits; bits &= bits - 1) {
      const unsigned slot = static_cast<unsigned>(std::countr_zero(bits));
      const std::uint64_t d = deadline_of(slot);
      if (!best || d < best->deadline) best = Due{d, level, slot};
    }
    return best;
  }
  return std::nullopt;
}

TimerEntry* TimerWheel::pop_expired_locked(std::uint64_t now) noexcept {
  // Several threads may advance one wheel, each with its own reading of the clock: time
  // already processed by another is due for everybody.
  now = std::max(now, elapsed_);
  for (;;) {
    if (TimerEntry* e = pending_.pop_front()) {
      count_.fetch_sub(1, std::memory_order_relaxed);
      if (e->deadline > now) {  // a clamped far deadline: not due yet
        push_slot(*e);
        count_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      e->state.store(TimerEntry::kFiring, std::memory_order_relaxed);
      return e;
    }
    std::optional<Due> due = next_due_locked();
    if (!due || due->deadline > now) return nullptr;
    Level& lv = levels_[due->level];
    List list = std::exchange(lv.slots[due->slot], List{});
    lv.occupied &= ~(std::uint64_t{1} << due->slot);
    elapsed_ = due->deadline;
    // Every entry of the slot either is due (-> pending) or moves to a lower level; both
    // keep the slot's order.
    while (TimerEntry* e = list.pop_front()) {
      if (e->deadline <= elapsed_ || due->level == 0) {
        e->where = kPendingList;
        pending_.push_back(*e);
      } else {
        push_slot(*e);
      }
    }
  }
}

std::size_t TimerWheel::advance(std::uint64_t now) noexcept {
  std::size_t fired = 0;
  for (;;) {
    lock_.lock();
    TimerEntry* e = pop_expired_locked(now);
    if (!e) {
      if (now > elapsed_) elapsed_ = now;
      lock_.unlock();
      return fired;
    }
    lock_.unlock();
    e->fire(e);  // stores kFired itself; e may be gone after this
    ++fired;
  }
}

std::optional<std::uint64_t> TimerWheel::next_deadline() noexcept {
  lock_.lock();
  std::optional<std::uint64_t> d;
  if (pending_.head) {
    d = elapsed_;
  } else if (auto due = next_due_locked()) {
    d = due->deadline;
  }
  lock_.unlock();
  return d;
}

// ---------------------------------------------------------------------------------------

ArmResult arm_wait_timer(TimerEntry& e, std::uint64_t deadline, TaskHeader* t, Waiter* w,
                         const WaitSite& site, std::coroutine_handle<> h) noexcept {
  TimerWheel& wheel = current_worker()->wheel();
  e.deadline = deadline;
  e.wheel = &wheel;  // before begin_wait publishes: a cancelling claimer reads it
  std::lock_guard lk(wheel.lock());
  if (deadline <= wheel.elapsed_locked()) return ArmResult::kExpired;
  if (t->begin_wait(w, h, /*forwarding=*/false, site) == WaitResult::kCancelled) {
    return ArmResult::kCancelled;
  }
  wheel.link_locked(e);
  return ArmResult::kSuspended;
}

bool arm_timer(TimerEntry& e, std::uint64_t deadline) noexcept {
  TimerWheel& wheel = current_worker()->wheel();
  e.deadline = deadline;
  e.wheel = &wheel;
  std::lock_guard lk(wheel.lock());
  return wheel.link_locked(e);
}

bool timer_cancel(TimerEntry& e) noexcept {
  TimerWheel* wheel = e.wheel;
  if (!wheel) return true;  // never armed
  wheel->lock().lock();
  std::uint8_t st = e.state.load(std::memory_order_relaxed);
  if (st == TimerEntry::kLinked) {
    wheel->unlink_locked(e);
    e.state.store(TimerEntry::kIdle, std::memory_order_relaxed);
    wheel->lock().unlock();
    return true;
  }
  wheel->lock().unlock();
  if (st == TimerEntry::kIdle) return true;
  // Acquire: pairs with fire()'s release store of kFired; its effects are visible after.
  while (e.state.load(std::memory_order_acquire) != TimerEntry::kFired) TaskHeader::spin_pause();
  return false;
}

}  // namespace weft::detail
