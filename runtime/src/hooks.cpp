// Test hooks and schedule fuzzing (detail/hooks.hpp).
#include "weft/runtime/detail/hooks.hpp"

#include <sched.h>

#include <atomic>
#include <cstdlib>

#include "weft/runtime/detail/task_header.hpp"

namespace weft::detail {

namespace {
// Acquire/release: a thread that runs the hook sees what the test wrote before installing it.
std::atomic<HookFn> g_hook{nullptr};

#ifdef WEFT_HOOKS
// 0: fuzzing off. Read once, before any worker runs (static initialisation).
const std::uint64_t g_fuzz_seed = [] {
  const char* s = std::getenv("WEFT_SCHEDULE_FUZZ");
  return s && *s ? std::strtoull(s, nullptr, 10) | 1 : 0;
}();
std::atomic<std::uint64_t> g_fuzz_threads{0};

// One stall or yield at roughly one point in eight: often enough to reorder every protocol
// many times per test, rarely enough that the suite still finishes.
void fuzz() noexcept {
  thread_local std::uint64_t x =
      g_fuzz_seed * 0x9E3779B97F4A7C15ull + g_fuzz_threads.fetch_add(1) * 0xBF58476D1CE4E5B9ull;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  switch (x % 64) {
    case 0:
      ::sched_yield();
      break;
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
      for (std::uint64_t i = (x >> 8) % 2048; i > 0; --i) TaskHeader::spin_pause();
      break;
    default:
      break;
  }
}
#endif
}  // namespace

#ifdef WEFT_HOOKS
void run_hook(HookPoint p) noexcept {
  if (HookFn fn = g_hook.load(std::memory_order_acquire)) fn(p);
  if (g_fuzz_seed) fuzz();
}
#endif

void set_hook(HookFn fn) noexcept {
  g_hook.store(fn, std::memory_order_release);
}

}  // namespace weft::detail
