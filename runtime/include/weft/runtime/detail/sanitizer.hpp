// Which sanitizer weft is built with, as compile-time constants.
//
// DESIGN invariant 5: every pool of weft's is visible to the sanitizers, so a use-after-free
// of pooled memory is found by the tests, not by users. A pool of blocks (the frame
// allocator) hands every block straight back to operator delete when kSanitized: ASan's
// quarantine then reports a use-after-free, and TSan sees the free and the next allocation
// as it sees any other. Pools test the constants with `if constexpr`, so in a build without
// sanitizers the sanitized path is discarded and the pool's fast path is all that is left.
#pragma once

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

}  // namespace weft::detail
