// The reactor's registration slots (runtime/src/reactor/io_slot.hpp): a free slot keeps its
// lock and generation for stale events, and under ASan the rest of it is poisoned, so code that
// touches a released registration's state is reported (DESIGN invariant 5).
#include "reactor/io_slot.hpp"

#include <gtest/gtest.h>
#include <sys/epoll.h>

#include <cstdint>
#include <mutex>

#include "reactor/dispatch.hpp"
#include "weft/runtime/detail/sanitizer.hpp"
#include "weft/runtime/io.hpp"

namespace {

using weft::detail::IoSlot;

/// The epoll data of a registration in `s` (as io_registration.cpp encodes it), read while it
/// is in use.
std::uint64_t event_data(const IoSlot& s) {
  return (std::uint64_t{s.gen} << 32) | (std::uint64_t{s.index} + 1);
}

/// A slot as a registration leaves it: used once (odd generation), then released (even).
/// Returns the data an event for that registration carried.
std::uint64_t use_and_release(IoSlot* s) {
  std::uint64_t data;
  {
    std::lock_guard lk(s->lock);
    s->gen += 1;
    data = event_data(*s);
    s->gen += 1;
  }
  weft::detail::release_io_slot(s);
  return data;
}

/// Reads a free slot's fd: the deliberate bug the death test expects ASan to report.
[[gnu::noinline]] int read_fd(const IoSlot* s) {
  return *static_cast<const volatile int*>(&s->fd);
}

TEST(IoSlot, AStaleEventForAReleasedSlotIsDroppedWithoutTouchingItsState) {
  IoSlot* s = weft::detail::acquire_io_slot();
  const std::uint64_t data = use_and_release(s);
  // Under ASan this would report use-after-poison if the event looked past the generation.
  weft::detail::dispatch_io_event(data, EPOLLIN | EPOLLOUT | EPOLLHUP);
  IoSlot* again = weft::detail::acquire_io_slot();  // the free list is LIFO: the same slot
  ASSERT_EQ(again, s);
  EXPECT_EQ(again->seq[0].load(), 0u) << "a stale event bumped the readiness sequence";
  EXPECT_FALSE(again->read_closed.load()) << "a stale event marked the slot closed";
  use_and_release(again);
}

TEST(IoSlotDeathTest, AReadOfAReleasedSlotsStateIsReportedUnderAsan) {
  if constexpr (!weft::detail::kAddressSanitized) {
    GTEST_SKIP() << "not an AddressSanitizer build: only ASan poisons a free slot's state";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        IoSlot* s = weft::detail::acquire_io_slot();
        use_and_release(s);
        read_fd(s);
      },
      "use-after-poison");
}

}  // namespace
