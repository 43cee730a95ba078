// One I/O registration's reactor state (IoSlot) and the process-wide table that
// io_registration.cpp keeps them in (weft/runtime/io.hpp, "Lifetime").
//
// Slots are reused (a new generation each time) and never freed, so an event that an
// epoll_wait returned for a registration destroyed meanwhile can always lock the slot it names
// and see that the generation changed. That is all a free slot is read for: the rest of it,
// from `fd` on, is the dead state of the last registration, and in ASan builds it is poisoned
// while the slot is free (DESIGN invariant 5, detail/sanitizer.hpp), so code that touches a
// released registration's state is reported.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "weft/runtime/detail/sanitizer.hpp"
#include "weft/runtime/detail/spin_lock.hpp"
#include "weft/runtime/io.hpp"

namespace weft::detail {

/// One registration's reactor state (see the top of this file).
struct IoSlot {
  // What a stale event reads, whether the slot is in use or free.
  SpinLock lock;
  std::uint32_t gen = 0;  // guarded by lock; odd while in use
  // The registration's state: dead, and poisoned under ASan, while the slot is free.
  int fd = -1;    // guarded by lock
  int epfd = -1;  // the epoll it joined (-1: none yet); guarded by lock
  std::uint32_t index = 0;
  std::array<std::atomic<std::uint32_t>, 2> seq{};  // per Interest; bumped under lock
  // An event reported hang-up or an error (EPOLLRDHUP, EPOLLHUP, EPOLLERR): reading will
  // never block again, and no edge may follow. Sticky; set before the seq it came with.
  std::atomic<bool> read_closed{false};
  std::array<IoRegistration::WaitAwaiter*, 2> head{};  // waiter lists, guarded by lock
  std::array<IoRegistration::WaitAwaiter*, 2> tail{};

  void link(IoRegistration::WaitAwaiter* w, int dir) noexcept;
  void unlink(IoRegistration::WaitAwaiter* w, int dir) noexcept;
  std::size_t waiters() const noexcept;
  /// An epoll event for the registration of generation `event_gen` (dispatch_io_event):
  /// unless the slot has moved on to another generation, bumps the sequence of each direction
  /// `events` reports ready and resumes the tasks that wait in those directions. Any thread.
  /// Defined next to its one caller in io_registration.cpp and inlined there, so that an event
  /// costs one call.
  [[gnu::always_inline]] inline void deliver(std::uint32_t event_gen,
                                             std::uint32_t events) noexcept;
};

// The dead state is whole ASan granules, none shared with the lock or the generation, so
// poisoning it is exact and never races a stale event's look at them.
static_assert(offsetof(IoSlot, fd) % kPoisonGranule == 0);
static_assert(sizeof(IoSlot) % kPoisonGranule == 0 && alignof(IoSlot) >= kPoisonGranule);

/// A free slot for a new registration, its state accessible (and as the last one left it).
/// Throws std::system_error (ENOMEM) when 4 M registrations exist at once. Any thread.
IoSlot* acquire_io_slot();
/// Gives back a slot from acquire_io_slot, whose generation is already even (free) and whose
/// waiter lists are empty. Any thread.
void release_io_slot(IoSlot* s) noexcept;

}  // namespace weft::detail
