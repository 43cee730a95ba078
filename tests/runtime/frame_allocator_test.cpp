// The frame allocator (detail/frame_allocator.hpp) as the sanitizers see it: in an ASan
// build a frame it has freed is freed for ASan too, so a read of it is reported (DESIGN
// invariant 5). A cached frame would be reused silently, and the bug would reach users.
#include "weft/runtime/detail/frame_allocator.hpp"

#include <gtest/gtest.h>

#include <coroutine>
#include <cstddef>

#include "weft/runtime/detail/sanitizer.hpp"
#include "weft/runtime/task.hpp"

namespace {

constexpr const char* kNotAsan =
    "not an AddressSanitizer build: only ASan reports a read of freed memory";

/// Reads a byte of freed memory: the deliberate bug the tests below expect ASan to report.
[[gnu::noinline]] int read_freed(const void* p) {
  return *static_cast<const volatile unsigned char*>(p);
}

weft::Task<int> answer() {
  co_return 42;
}

TEST(FrameAllocatorDeathTest, AReadOfAFreedSixtyFourByteFrameIsReportedAsUseAfterFree) {
  if constexpr (!weft::detail::kAddressSanitized) GTEST_SKIP() << kNotAsan;
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        void* frame = weft::detail::allocate_frame(64);
        weft::detail::free_frame(frame, 64);
        read_freed(frame);
      },
      "heap-use-after-free");
}

TEST(FrameAllocatorDeathTest, AReadOfADestroyedTaskFrameIsReportedAsUseAfterFree) {
  if constexpr (!weft::detail::kAddressSanitized) GTEST_SKIP() << kNotAsan;
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        std::coroutine_handle<> h = answer().release();
        void* frame = h.address();
        h.destroy();  // the frame goes back through FrameAllocated::operator delete
        read_freed(frame);
      },
      "heap-use-after-free");
}

}  // namespace
