// Which sanitizer weft is built with, as compile-time constants, and ASan's poisoning calls.
//
// DESIGN invariant 5: every pool of weft's is visible to the sanitizers, so a use-after-free
// of pooled memory is found by the tests, not by users. The rule each pool follows:
//   - a pool of blocks (the frame allocator) hands every block straight back to operator
//     delete when kSanitized: ASan's quarantine then reports a use-after-free, and TSan sees
//     the free and the next allocation as it sees any other;
//   - storage that must stay allocated while it holds dead objects (weft::Queue's ring slots,
//     the reactor's free registration slots) is poisoned while dead when kAddressSanitized,
//     so a read of it is an ASan report ("use-after-poison").
// Pools test the constants with `if constexpr`, so in a build without sanitizers the
// sanitized path is discarded and the pool's fast path is all that is left.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_DETAIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_DETAIL_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define WEFT_DETAIL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_DETAIL_TSAN 1
#endif
#endif

#if defined(WEFT_DETAIL_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace weft::detail {

/// Built with AddressSanitizer.
#if defined(WEFT_DETAIL_ASAN)
inline constexpr bool kAddressSanitized = true;
#else
inline constexpr bool kAddressSanitized = false;
#endif

/// Built with ThreadSanitizer.
#if defined(WEFT_DETAIL_TSAN)
inline constexpr bool kThreadSanitized = true;
#else
inline constexpr bool kThreadSanitized = false;
#endif

/// Built with a sanitizer that must see every free: pools hand blocks back to the heap.
inline constexpr bool kSanitized = kAddressSanitized || kThreadSanitized;

/// ASan's shadow granule: poisoning is exact only for whole, aligned granules, and two
/// threads must never poison parts of one granule at once (its shadow byte is shared).
inline constexpr std::size_t kPoisonGranule = 8;

/// Marks `n` bytes at `p` as dead: ASan reports any access until unpoison_memory. Partial
/// granules at either end stay accessible. A no-op without ASan.
inline void poison_memory([[maybe_unused]] const volatile void* p,
                          [[maybe_unused]] std::size_t n) noexcept {
#if defined(WEFT_DETAIL_ASAN)
  __asan_poison_memory_region(p, n);
#endif
}

/// Marks `n` bytes at `p` as accessible again. A no-op without ASan.
inline void unpoison_memory([[maybe_unused]] const volatile void* p,
                            [[maybe_unused]] std::size_t n) noexcept {
#if defined(WEFT_DETAIL_ASAN)
  __asan_unpoison_memory_region(p, n);
#endif
}

}  // namespace weft::detail
