// The one fatal error of sync primitives: destroyed while something waits on them.
#pragma once

#include <cstddef>

namespace weft::detail {

/// Prints "<what> destroyed while <n> waiter(s) wait <doing>..." to stderr and aborts: the
/// waiters' nodes point into the dead primitive and could never be resumed. Never returns.
[[noreturn]] void fatal_destroyed_with_waiters(const char* what, std::size_t n,
                                               const char* doing) noexcept;

}  // namespace weft::detail
